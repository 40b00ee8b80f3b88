// SPDX-License-Identifier: MIT
// Mirrors proto/trellis2/v1/asset_generation.proto; tests/clients/test_unity_proto_mirror.py
// checks every field name and type against the proto descriptor.
using Newtonsoft.Json;

namespace Trellis2.Editor
{
    [ProtoMessage("trellis2.v1.JobCanceled")]
    public sealed class JobCanceled
    {
        /// <summary>True if the job was running when canceled.</summary>
        [JsonProperty("wasRunning")]
        public bool WasRunning { get; set; }
    }
}
