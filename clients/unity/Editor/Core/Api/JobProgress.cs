// SPDX-License-Identifier: MIT
// Mirrors proto/trellis2/v1/asset_generation.proto; tests/clients/test_unity_proto_mirror.py
// checks every field name and type against the proto descriptor.
using Newtonsoft.Json;

namespace Trellis2.Editor
{
    [ProtoMessage("trellis2.v1.JobProgress")]
    public sealed class JobProgress
    {
        /// <summary>
        /// Pipeline stage, e.g. "sparse_structure", "shape_slat", "tex_slat", "decode", "export".
        /// </summary>
        [JsonProperty("stage")]
        public string Stage { get; set; }

        [JsonProperty("step")]
        public int Step { get; set; }

        [JsonProperty("total")]
        public int Total { get; set; }

        /// <summary>Whole-job progress in [0, 1].</summary>
        [JsonProperty("fraction")]
        public float Fraction { get; set; }

        /// <summary>
        /// Estimated seconds left, from elapsed time and fraction; &lt; 0 when unknown.
        /// </summary>
        [JsonProperty("etaSeconds")]
        public float EtaSeconds { get; set; }
    }
}
