// SPDX-License-Identifier: MIT
// Mirrors proto/trellis2/v1/asset_generation.proto; tests/clients/test_unity_proto_mirror.py
// checks every field name and type against the proto descriptor.
using Newtonsoft.Json;

namespace Trellis2.Editor
{
    [ProtoMessage("trellis2.v1.CreateJobRequest")]
    public sealed class CreateJobRequest
    {
        /// <summary>
        /// The input image: PNG, JPEG or WebP bytes. Images with alpha skip background removal.
        /// </summary>
        [JsonProperty("image")]
        public byte[] Image { get; set; }

        [JsonProperty("pipelineType")]
        public PipelineType PipelineType { get; set; }

        /// <summary>Unset: the server draws one and records it in JobSpec.seed.</summary>
        [JsonProperty("seed")]
        public long? Seed { get; set; }

        [JsonProperty("sparseStructureSampler")]
        public SamplerParams SparseStructureSampler { get; set; }

        [JsonProperty("shapeSlatSampler")]
        public SamplerParams ShapeSlatSampler { get; set; }

        [JsonProperty("texSlatSampler")]
        public SamplerParams TexSlatSampler { get; set; }

        [JsonProperty("exportOptions")]
        public ExportOptions ExportOptions { get; set; }

        /// <summary>
        /// Client-chosen idempotency key (&lt;= 128 chars); repeating it returns the original job.
        /// </summary>
        [JsonProperty("requestId")]
        public string RequestId { get; set; }

        /// <summary>Higher runs sooner (-10..10) among jobs of the same team.</summary>
        [JsonProperty("priority")]
        public int Priority { get; set; }

        /// <summary>Human name for the asset (file names, history); defaults to "asset".</summary>
        [JsonProperty("displayName")]
        public string DisplayName { get; set; }

        /// <summary>"preview", "trellis2", or empty for the server default.</summary>
        [JsonProperty("backend")]
        public string Backend { get; set; }
    }
}
