// SPDX-License-Identifier: MIT
// Mirrors proto/trellis2/v1/asset_generation.proto; tests/clients/test_unity_proto_mirror.py
// checks every field name and type against the proto descriptor.
using Newtonsoft.Json;

namespace Trellis2.Editor
{
    [ProtoMessage("trellis2.v1.JobPreview")]
    public sealed class JobPreview
    {
        [JsonProperty("kind")]
        public PreviewKind Kind { get; set; }

        /// <summary>A .glb of the preview.</summary>
        [JsonProperty("artifact")]
        public Artifact Artifact { get; set; }

        /// <summary>A small PNG rendering of it.</summary>
        [JsonProperty("thumbnail")]
        public Artifact Thumbnail { get; set; }
    }
}
