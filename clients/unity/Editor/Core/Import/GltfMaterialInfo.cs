// SPDX-License-Identifier: MIT
using System;
using System.IO;
using System.Text;
using Newtonsoft.Json.Linq;

namespace Trellis2.Editor
{
    /// <summary>
    /// The first material of a glTF file, read from its JSON: which image file holds which map,
    /// the factors, alpha mode and cutoff. Image URIs are null for images embedded in a GLB.
    /// Our assets have one material (TRELLIS.2 bakes a single texture set).
    /// </summary>
    public sealed class GltfMaterialInfo
    {
        public GltfMaterialInfo()
        {
            BaseColorFactor = new[] { 1f, 1f, 1f, 1f };
            MetallicFactor = 1f;
            RoughnessFactor = 1f;
            NormalScale = 1f;
            AlphaMode = "OPAQUE";
            AlphaCutoff = 0.5f;
        }

        public string BaseColorUri { get; set; }

        public string MetallicRoughnessUri { get; set; }

        public string NormalUri { get; set; }

        public string OcclusionUri { get; set; }

        public string EmissiveUri { get; set; }

        /// <summary>Linear RGBA.</summary>
        public float[] BaseColorFactor { get; set; }

        public float MetallicFactor { get; set; }

        public float RoughnessFactor { get; set; }

        public float NormalScale { get; set; }

        /// <summary>"OPAQUE", "MASK" or "BLEND".</summary>
        public string AlphaMode { get; set; }

        public float AlphaCutoff { get; set; }

        public bool DoubleSided { get; set; }

        /// <summary>Reads the first material of a .gltf JSON document.</summary>
        public static GltfMaterialInfo FromGltfJson(string json)
        {
            JObject root;
            try
            {
                root = JObject.Parse(json);
            }
            catch (Newtonsoft.Json.JsonException e)
            {
                throw new Trellis2Exception(Trellis2ErrorCode.ImportFailed,
                    "the .gltf file is not valid JSON: " + e.Message, null, 0, e);
            }
            var info = new GltfMaterialInfo();
            var materials = root["materials"] as JArray;
            if (materials == null || materials.Count == 0)
                return info;
            var material = (JObject)materials[0];
            var pbr = material["pbrMetallicRoughness"] as JObject;
            if (pbr != null)
            {
                var factor = pbr["baseColorFactor"] as JArray;
                if (factor != null && factor.Count == 4)
                    info.BaseColorFactor = new[]
                    {
                        (float)factor[0], (float)factor[1], (float)factor[2], (float)factor[3],
                    };
                info.MetallicFactor = Number(pbr["metallicFactor"], 1f);
                info.RoughnessFactor = Number(pbr["roughnessFactor"], 1f);
                info.BaseColorUri = ImageUri(root, pbr["baseColorTexture"]);
                info.MetallicRoughnessUri = ImageUri(root, pbr["metallicRoughnessTexture"]);
            }
            var normal = material["normalTexture"] as JObject;
            if (normal != null)
            {
                info.NormalUri = ImageUri(root, normal);
                info.NormalScale = Number(normal["scale"], 1f);
            }
            info.OcclusionUri = ImageUri(root, material["occlusionTexture"]);
            info.EmissiveUri = ImageUri(root, material["emissiveTexture"]);
            var alphaMode = material["alphaMode"];
            if (alphaMode != null)
                info.AlphaMode = (string)alphaMode;
            info.AlphaCutoff = Number(material["alphaCutoff"], 0.5f);
            var doubleSided = material["doubleSided"];
            info.DoubleSided = doubleSided != null && (bool)doubleSided;
            return info;
        }

        /// <summary>Reads the JSON chunk of a binary glTF (.glb) and parses it.</summary>
        public static GltfMaterialInfo FromGlb(byte[] glb)
        {
            return FromGltfJson(GlbJson(glb));
        }

        /// <summary>The JSON chunk of a GLB: 12-byte header, then chunk length, type "JSON".</summary>
        public static string GlbJson(byte[] glb)
        {
            if (glb == null || glb.Length < 20 || glb[0] != (byte)'g' || glb[1] != (byte)'l'
                || glb[2] != (byte)'T' || glb[3] != (byte)'F')
                throw new Trellis2Exception(Trellis2ErrorCode.ImportFailed,
                    "the .glb file has no glTF header");
            var length = BitConverter.ToInt32(glb, 12);
            var type = BitConverter.ToUInt32(glb, 16);
            if (type != 0x4E4F534A || length < 0 || 20 + length > glb.Length)
                throw new Trellis2Exception(Trellis2ErrorCode.ImportFailed,
                    "the .glb file's first chunk is not JSON");
            return Encoding.UTF8.GetString(glb, 20, length);
        }

        /// <summary>Reads either kind of file from disk.</summary>
        public static GltfMaterialInfo FromFile(string path)
        {
            if (path.EndsWith(".glb", StringComparison.OrdinalIgnoreCase))
                return FromGlb(File.ReadAllBytes(path));
            return FromGltfJson(File.ReadAllText(path, Encoding.UTF8));
        }

        static string ImageUri(JObject root, JToken textureInfo)
        {
            var info = textureInfo as JObject;
            if (info == null || info["index"] == null)
                return null;
            var textures = root["textures"] as JArray;
            var index = (int)info["index"];
            if (textures == null || index < 0 || index >= textures.Count)
                return null;
            var source = textures[index]["source"];
            var images = root["images"] as JArray;
            if (source == null || images == null)
                return null;
            var imageIndex = (int)source;
            if (imageIndex < 0 || imageIndex >= images.Count)
                return null;
            var uri = images[imageIndex]["uri"];
            if (uri == null)
                return null;
            var text = (string)uri;
            // data: URIs are embedded, not files.
            return text.StartsWith("data:", StringComparison.Ordinal) ? null : Uri.UnescapeDataString(text);
        }

        static float Number(JToken token, float fallback)
        {
            return token == null ? fallback : (float)token;
        }
    }
}
