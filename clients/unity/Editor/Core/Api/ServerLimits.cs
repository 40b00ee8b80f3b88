// SPDX-License-Identifier: MIT
// Mirrors proto/trellis2/v1/asset_generation.proto; tests/clients/test_unity_proto_mirror.py
// checks every field name and type against the proto descriptor.
using Newtonsoft.Json;

namespace Trellis2.Editor
{
    [ProtoMessage("trellis2.v1.ServerLimits")]
    public sealed class ServerLimits
    {
        [JsonProperty("maxUploadBytes")]
        public long MaxUploadBytes { get; set; }

        [JsonProperty("maxImagePixels")]
        public long MaxImagePixels { get; set; }

        [JsonProperty("maxQueueDepth")]
        public int MaxQueueDepth { get; set; }

        [JsonProperty("chunkSizeBytes")]
        public int ChunkSizeBytes { get; set; }

        [JsonProperty("maxTextureSize")]
        public int MaxTextureSize { get; set; }

        [JsonProperty("maxDecimationTarget")]
        public int MaxDecimationTarget { get; set; }

        [JsonProperty("jobTimeoutSeconds")]
        public float JobTimeoutSeconds { get; set; }
    }
}
