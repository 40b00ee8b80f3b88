// SPDX-License-Identifier: MIT
// Mirrors proto/trellis2/v1/asset_generation.proto; tests/clients/test_unity_proto_mirror.py
// checks every field name and type against the proto descriptor.
using Newtonsoft.Json;

namespace Trellis2.Editor
{
    /// <summary>A downloadable, content-addressed file.</summary>
    [ProtoMessage("trellis2.v1.Artifact")]
    public sealed class Artifact
    {
        /// <summary>SHA-256 of the bytes, lowercase hex.</summary>
        [JsonProperty("digest")]
        public string Digest { get; set; }

        [JsonProperty("sizeBytes")]
        public long SizeBytes { get; set; }

        /// <summary>e.g. "model/gltf-binary", "model/gltf+json", "image/png".</summary>
        [JsonProperty("mediaType")]
        public string MediaType { get; set; }

        /// <summary>File name; for glTF containers the relative URI the .gltf refers to.</summary>
        [JsonProperty("filename")]
        public string Filename { get; set; }

        [JsonProperty("kind")]
        public ArtifactKind Kind { get; set; }
    }
}
