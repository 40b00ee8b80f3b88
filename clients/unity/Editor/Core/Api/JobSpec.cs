// SPDX-License-Identifier: MIT
// Mirrors proto/trellis2/v1/asset_generation.proto; tests/clients/test_unity_proto_mirror.py
// checks every field name and type against the proto descriptor.
using Newtonsoft.Json;

namespace Trellis2.Editor
{
    /// <summary>The parameters of a job, everything but the image bytes.</summary>
    [ProtoMessage("trellis2.v1.JobSpec")]
    public sealed class JobSpec
    {
        /// <summary>SHA-256 of the input image bytes, lowercase hex.</summary>
        [JsonProperty("imageDigest")]
        public string ImageDigest { get; set; }

        /// <summary>Image encoding detected by the server: "png", "jpeg" or "webp".</summary>
        [JsonProperty("imageFormat")]
        public string ImageFormat { get; set; }

        [JsonProperty("imageWidth")]
        public int ImageWidth { get; set; }

        [JsonProperty("imageHeight")]
        public int ImageHeight { get; set; }

        [JsonProperty("pipelineType")]
        public PipelineType PipelineType { get; set; }

        /// <summary>
        /// The seed actually used (drawn by the server when the request left it unset).
        /// </summary>
        [JsonProperty("seed")]
        public long Seed { get; set; }

        [JsonProperty("sparseStructureSampler")]
        public SamplerParams SparseStructureSampler { get; set; }

        [JsonProperty("shapeSlatSampler")]
        public SamplerParams ShapeSlatSampler { get; set; }

        [JsonProperty("texSlatSampler")]
        public SamplerParams TexSlatSampler { get; set; }

        [JsonProperty("exportOptions")]
        public ExportOptions ExportOptions { get; set; }

        [JsonProperty("priority")]
        public int Priority { get; set; }

        [JsonProperty("displayName")]
        public string DisplayName { get; set; }

        /// <summary>Backend that runs (or ran) the job: "preview" or "trellis2".</summary>
        [JsonProperty("backend")]
        public string Backend { get; set; }
    }
}
