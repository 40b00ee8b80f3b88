// SPDX-License-Identifier: MIT
// Mirrors proto/trellis2/v1/asset_generation.proto; tests/clients/test_unity_proto_mirror.py
// checks every field name and type against the proto descriptor.
using Newtonsoft.Json;

namespace Trellis2.Editor
{
    [ProtoMessage("trellis2.v1.JobQueued")]
    public sealed class JobQueued
    {
        /// <summary>1-based place in the queue.</summary>
        [JsonProperty("position")]
        public int Position { get; set; }
    }
}
