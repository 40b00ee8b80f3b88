# SPDX-License-Identifier: MIT
"""Full-size TRELLIS.2-4B network configs, keyed by checkpoint name (the one place for numbers).

Each entry is the checkpoint's `{"name", "args"}` JSON content (reference spec §9.4).
"""

from __future__ import annotations

import copy
from typing import Any

_FLOW = {
    "model_channels": 1536,
    "cond_channels": 1024,
    "num_blocks": 30,
    "num_heads": 12,
    "mlp_ratio": 5.3334,
    "pe_mode": "rope",
    "share_mod": True,
    "initialization": "scaled",
    "qk_rms_norm": True,
    "qk_rms_norm_cross": True,
    "dtype": "bfloat16",
}

_SC_VAE = {
    "latent_channels": 32,
    "block_type": ["SparseConvNeXtBlock3d"] * 5,
    "block_args": [{"use_checkpoint": False}] * 5,
    "use_fp16": True,
}
_DEC = {
    **_SC_VAE,
    "model_channels": [1024, 512, 256, 128, 64],
    "num_blocks": [4, 16, 8, 4, 0],
    "up_block_type": ["SparseResBlockC2S3d"] * 4,
}
_ENC = {
    **_SC_VAE,
    "model_channels": [64, 128, 256, 512, 1024],
    "num_blocks": [0, 4, 8, 16, 4],
    "down_block_type": ["SparseResBlockS2C3d"] * 4,
}


def _flow(cls: str, resolution: int, cin: int, cout: int) -> dict[str, Any]:
    args = {"resolution": resolution, "in_channels": cin, "out_channels": cout, **_FLOW}
    return {"name": cls, "args": args}


PRESETS: dict[str, dict[str, Any]] = {
    "ss_flow_img_dit_1_3B_64_bf16": _flow("SparseStructureFlowModel", 16, 8, 8),
    "slat_flow_img2shape_dit_1_3B_512_bf16": _flow("SLatFlowModel", 32, 32, 32),
    "slat_flow_img2shape_dit_1_3B_1024_bf16": _flow("SLatFlowModel", 64, 32, 32),
    "slat_flow_imgshape2tex_dit_1_3B_512_bf16": _flow("SLatFlowModel", 32, 64, 32),
    "slat_flow_imgshape2tex_dit_1_3B_1024_bf16": _flow("SLatFlowModel", 64, 64, 32),
    "shape_dec_next_dc_f16c32_fp16": {
        "name": "FlexiDualGridVaeDecoder",
        "args": {"resolution": 256, **_DEC},
    },
    "tex_dec_next_dc_f16c32_fp16": {
        "name": "SparseUnetVaeDecoder",
        "args": {"out_channels": 6, **_DEC, "pred_subdiv": False},
    },
    "shape_enc_next_dc_f16c32_fp16": {"name": "FlexiDualGridVaeEncoder", "args": dict(_ENC)},
    "tex_enc_next_dc_f16c32_fp16": {
        "name": "SparseUnetVaeEncoder",
        "args": {"in_channels": 6, **_ENC},
    },
    "ss_dec_conv3d_16l8_fp16": {
        "name": "SparseStructureDecoder",
        "args": {
            "out_channels": 1,
            "latent_channels": 8,
            "num_res_blocks": 2,
            "num_res_blocks_middle": 2,
            "channels": [512, 128, 32],
            "use_fp16": True,
        },
    },
}


def preset(name: str) -> dict[str, Any]:
    """A deep copy of the {"name", "args"} config of checkpoint ``name``."""
    try:
        return copy.deepcopy(PRESETS[name])
    except KeyError:
        raise KeyError(f"no preset {name!r}; known: {sorted(PRESETS)}") from None


def fp32_args(config: dict[str, Any]) -> dict[str, Any]:
    """The same network's args with an fp32 trunk (dtype float32 / use_fp16 false)."""
    args = copy.deepcopy(config["args"])
    if "dtype" in args:
        args["dtype"] = "float32"
    if "use_fp16" in args:
        args["use_fp16"] = False
    return args
