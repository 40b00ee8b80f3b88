// SPDX-License-Identifier: MIT
// Mirrors proto/trellis2/v1/asset_generation.proto; tests/clients/test_unity_proto_mirror.py
// checks every field name and type against the proto descriptor.
using System.Collections.Generic;
using Newtonsoft.Json;

namespace Trellis2.Editor
{
    [ProtoMessage("trellis2.v1.BackendInfo")]
    public sealed class BackendInfo
    {
        /// <summary>"preview" or "trellis2".</summary>
        [JsonProperty("name")]
        public string Name { get; set; }

        [JsonProperty("loaded")]
        public bool Loaded { get; set; }

        /// <summary>Model checkpoints loaded (e.g. "ckpts/ss_flow_img_dit_1_3B_64_bf16").</summary>
        [JsonProperty("models")]
        public List<string> Models { get; set; } = new List<string>();

        /// <summary>Identifies the weights (hub revision or a digest of the local files).</summary>
        [JsonProperty("modelRevision")]
        public string ModelRevision { get; set; }

        /// <summary>
        /// True if the networks use random weights (benchmarks only: outputs are noise).
        /// </summary>
        [JsonProperty("randomWeights")]
        public bool RandomWeights { get; set; }

        /// <summary>Pipeline types this backend accepts.</summary>
        [JsonProperty("pipelineTypes")]
        public List<PipelineType> PipelineTypes { get; set; } = new List<PipelineType>();
    }
}
