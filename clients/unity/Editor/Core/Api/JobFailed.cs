// SPDX-License-Identifier: MIT
// Mirrors proto/trellis2/v1/asset_generation.proto; tests/clients/test_unity_proto_mirror.py
// checks every field name and type against the proto descriptor.
using Newtonsoft.Json;

namespace Trellis2.Editor
{
    [ProtoMessage("trellis2.v1.JobFailed")]
    public sealed class JobFailed
    {
        [JsonProperty("error")]
        public JobError Error { get; set; }
    }
}
