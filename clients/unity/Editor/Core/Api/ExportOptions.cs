// SPDX-License-Identifier: MIT
// Mirrors proto/trellis2/v1/asset_generation.proto; tests/clients/test_unity_proto_mirror.py
// checks every field name and type against the proto descriptor.
using System.Collections.Generic;
using Newtonsoft.Json;

namespace Trellis2.Editor
{
    /// <summary>How the generated O-Voxel is turned into a file.</summary>
    [ProtoMessage("trellis2.v1.ExportOptions")]
    public sealed class ExportOptions
    {
        /// <summary>Target triangle count after decimation; 0 = server default.</summary>
        [JsonProperty("decimationTarget")]
        public int DecimationTarget { get; set; }

        /// <summary>
        /// Edge length of the square baked textures (256..8192, power of two); 0 = default.
        /// </summary>
        [JsonProperty("textureSize")]
        public int TextureSize { get; set; }

        [JsonProperty("textureFormat")]
        public TextureFormat TextureFormat { get; set; }

        [JsonProperty("profile")]
        public OutputProfile Profile { get; set; }

        [JsonProperty("container")]
        public AssetContainer Container { get; set; }

        /// <summary>Extra packed textures delivered beside the asset.</summary>
        [JsonProperty("extraTextures")]
        public List<ExtraTexture> ExtraTextures { get; set; } = new List<ExtraTexture>();

        /// <summary>Bake a tangent-space normal map from the dense surface.</summary>
        [JsonProperty("normalMap")]
        public bool? NormalMap { get; set; }
    }
}
