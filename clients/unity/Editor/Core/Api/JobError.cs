// SPDX-License-Identifier: MIT
// Mirrors proto/trellis2/v1/asset_generation.proto; tests/clients/test_unity_proto_mirror.py
// checks every field name and type against the proto descriptor.
using Newtonsoft.Json;

namespace Trellis2.Editor
{
    /// <summary>Why a job failed.</summary>
    [ProtoMessage("trellis2.v1.JobError")]
    public sealed class JobError
    {
        /// <summary>
        /// gRPC status code number (google.rpc.Code), e.g. 3 INVALID_ARGUMENT, 13 INTERNAL.
        /// </summary>
        [JsonProperty("code")]
        public int Code { get; set; }

        [JsonProperty("message")]
        public string Message { get; set; }
    }
}
