// SPDX-License-Identifier: MIT
using Newtonsoft.Json;

namespace Trellis2.Editor
{
    /// <summary>
    /// What the user chose for one generation (window fields or team defaults). Stored with each
    /// job record so a reattached or regenerated job imports the same way.
    /// </summary>
    public sealed class GenerationSettings
    {
        public const string k_DefaultOutputRoot = "Assets/Generated";

        public GenerationSettings()
        {
            DisplayName = "asset";
            Resolution = PipelineType.Res1024Cascade;
            TextureSize = 1024;
            DecimationTarget = 100000;
            NormalMap = true;
            TextureFormat = TextureFormat.Png;
            Container = AssetContainer.Gltf;
            OutputRoot = k_DefaultOutputRoot;
            Backend = "";
        }

        /// <summary>Asset name: folder, file and prefab names derive from it.</summary>
        [JsonProperty("displayName")]
        public string DisplayName { get; set; }

        [JsonProperty("resolution")]
        public PipelineType Resolution { get; set; }

        /// <summary>Null lets the server draw one (it is reported back in JobSpec.seed).</summary>
        [JsonProperty("seed")]
        public long? Seed { get; set; }

        /// <summary>Edge of the square baked textures (power of two, 256..8192).</summary>
        [JsonProperty("textureSize")]
        public int TextureSize { get; set; }

        /// <summary>Target triangle count after decimation.</summary>
        [JsonProperty("decimationTarget")]
        public int DecimationTarget { get; set; }

        [JsonProperty("normalMap")]
        public bool NormalMap { get; set; }

        /// <summary>PNG or JPEG; the unity profile never uses WebP (glTFast cannot read it).</summary>
        [JsonProperty("textureFormat")]
        public TextureFormat TextureFormat { get; set; }

        /// <summary>
        /// glTF (the default) puts the textures beside the model as PNG/JPEG files, so Unity
        /// imports them as normal texture assets with per-platform compression.
        /// </summary>
        [JsonProperty("container")]
        public AssetContainer Container { get; set; }

        /// <summary>Project folder under which "&lt;name&gt;/" is created.</summary>
        [JsonProperty("outputRoot")]
        public string OutputRoot { get; set; }

        [JsonProperty("addMeshCollider")]
        public bool AddMeshCollider { get; set; }

        [JsonProperty("addLodGroup")]
        public bool AddLodGroup { get; set; }

        /// <summary>"preview", "trellis2" or empty for the server default.</summary>
        [JsonProperty("backend")]
        public string Backend { get; set; }

        [JsonProperty("priority")]
        public int Priority { get; set; }

        public GenerationSettings Clone()
        {
            return (GenerationSettings)MemberwiseClone();
        }
    }
}
