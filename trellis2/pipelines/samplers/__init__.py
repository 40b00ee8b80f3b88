# SPDX-License-Identifier: MIT
"""Flow-matching samplers used by every TRELLIS.2 stage."""

from trellis2.pipelines.samplers.flow_euler import (
    SAMPLERS,
    FlowEulerCfgSampler,
    FlowEulerGuidanceIntervalSampler,
    FlowEulerSampler,
    SamplerOutput,
    build_sampler,
    per_sample_std,
    rescale_time_sequence,
)

__all__ = [
    "SAMPLERS",
    "FlowEulerCfgSampler",
    "FlowEulerGuidanceIntervalSampler",
    "FlowEulerSampler",
    "SamplerOutput",
    "build_sampler",
    "per_sample_std",
    "rescale_time_sequence",
]
