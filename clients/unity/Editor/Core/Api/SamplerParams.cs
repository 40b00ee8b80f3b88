// SPDX-License-Identifier: MIT
// Mirrors proto/trellis2/v1/asset_generation.proto; tests/clients/test_unity_proto_mirror.py
// checks every field name and type against the proto descriptor.
using Newtonsoft.Json;

namespace Trellis2.Editor
{
    /// <summary>
    /// Per-stage overrides of the flow sampler; unset fields keep the pipeline defaults.
    /// </summary>
    [ProtoMessage("trellis2.v1.SamplerParams")]
    public sealed class SamplerParams
    {
        /// <summary>Euler steps (1..100).</summary>
        [JsonProperty("steps")]
        public int? Steps { get; set; }

        /// <summary>Classifier-free guidance strength (0..20).</summary>
        [JsonProperty("guidanceStrength")]
        public float? GuidanceStrength { get; set; }

        /// <summary>Guidance rescale phi (0..1).</summary>
        [JsonProperty("guidanceRescale")]
        public float? GuidanceRescale { get; set; }

        /// <summary>Time rescale s (1..10).</summary>
        [JsonProperty("rescaleT")]
        public float? RescaleT { get; set; }

        /// <summary>Guidance interval start, in flow time t in [0, 1].</summary>
        [JsonProperty("guidanceIntervalStart")]
        public float? GuidanceIntervalStart { get; set; }

        /// <summary>Guidance interval end, in flow time t in [0, 1].</summary>
        [JsonProperty("guidanceIntervalEnd")]
        public float? GuidanceIntervalEnd { get; set; }
    }
}
