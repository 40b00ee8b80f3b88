// SPDX-License-Identifier: MIT
// Mirrors proto/trellis2/v1/asset_generation.proto; tests/clients/test_unity_proto_mirror.py
// checks every field name and type against the proto descriptor.
using System.Collections.Generic;
using Newtonsoft.Json;

namespace Trellis2.Editor
{
    [ProtoMessage("trellis2.v1.JobCompleted")]
    public sealed class JobCompleted
    {
        /// <summary>The main asset first, then companion files and extra textures.</summary>
        [JsonProperty("artifacts")]
        public List<Artifact> Artifacts { get; set; } = new List<Artifact>();

        [JsonProperty("stats")]
        public AssetStats Stats { get; set; }
    }
}
