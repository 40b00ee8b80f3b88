// SPDX-License-Identifier: MIT
// Mirrors proto/trellis2/v1/asset_generation.proto; tests/clients/test_unity_proto_mirror.py
// checks every field name and type against the proto descriptor.
using System.Collections.Generic;
using Newtonsoft.Json;

namespace Trellis2.Editor
{
    /// <summary>Numbers about a finished asset.</summary>
    [ProtoMessage("trellis2.v1.AssetStats")]
    public sealed class AssetStats
    {
        [JsonProperty("triangleCount")]
        public long TriangleCount { get; set; }

        [JsonProperty("vertexCount")]
        public long VertexCount { get; set; }

        [JsonProperty("textureCount")]
        public int TextureCount { get; set; }

        [JsonProperty("textureSize")]
        public int TextureSize { get; set; }

        [JsonProperty("textureFormat")]
        public TextureFormat TextureFormat { get; set; }

        /// <summary>glTF alpha mode chosen from the data: "OPAQUE", "MASK" or "BLEND".</summary>
        [JsonProperty("alphaMode")]
        public string AlphaMode { get; set; }

        /// <summary>Bounding box size in metres, glTF axes (Y up).</summary>
        [JsonProperty("extent")]
        public List<float> Extent { get; set; } = new List<float>();

        /// <summary>True when the asset came from the result cache.</summary>
        [JsonProperty("cacheHit")]
        public bool CacheHit { get; set; }

        /// <summary>True when the networks ran with random weights (benchmarks only).</summary>
        [JsonProperty("randomWeights")]
        public bool RandomWeights { get; set; }
    }
}
