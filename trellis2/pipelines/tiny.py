# SPDX-License-Identifier: MIT
"""A tiny random TRELLIS.2 checkpoint in the official layout, for CPU smoke tests and benches.

Same classes and file layout as microsoft/TRELLIS.2-4B (pipeline.json, ckpts/*.json +
*.safetensors, the external TRELLIS-image-large decoder path, a DINOv3 folder written with
`save_pretrained`), with widths small enough for a CPU. Everything is random; a few parameters
are set so token counts stay small and deterministic:

- the SS flow's output layer is scaled by 0.01, so the sampled SS latent is close to its
  initial noise, and the SS decoder's output bias is shifted so that about
  `ss_target_voxels` voxels of that latent's 64^3 logits are positive;
- the shape decoder's subdivision heads ignore their input and keep the four children of the
  lower z layer (k = 0..3), i.e. x4 voxels per level.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

from trellis2.pipelines.defaults import OFFICIAL_PIPELINE_CONFIG

_FLOW = {
    "model_channels": 64,
    "cond_channels": 32,
    "num_blocks": 1,
    "num_heads": 2,
    "mlp_ratio": 2,
    "pe_mode": "rope",
    "share_mod": True,
    "initialization": "scaled",
    "qk_rms_norm": True,
    "qk_rms_norm_cross": True,
    "dtype": "float32",
}
_DEC = {
    "model_channels": [16, 8, 8, 8, 8],
    "latent_channels": 32,
    "num_blocks": [1, 1, 1, 1, 0],
    "block_type": ["SparseConvNeXtBlock3d"] * 5,
    "up_block_type": ["SparseResBlockC2S3d"] * 4,
    "block_args": [{"use_checkpoint": False}] * 5,
    "use_fp16": False,
}


def _flow(cls: str, resolution: int, cin: int) -> dict[str, Any]:
    return {
        "name": cls,
        "args": {"resolution": resolution, "in_channels": cin, "out_channels": cin, **_FLOW},
    }


TINY_MODEL_CONFIGS: dict[str, dict[str, Any]] = {
    "sparse_structure_flow_model": _flow("SparseStructureFlowModel", 16, 8),
    "sparse_structure_decoder": {
        "name": "SparseStructureDecoder",
        "args": {
            "out_channels": 1,
            "latent_channels": 8,
            "num_res_blocks": 1,
            "num_res_blocks_middle": 1,
            "channels": [16, 8, 8],
            "use_fp16": False,
        },
    },
    "shape_slat_flow_model_512": _flow("SLatFlowModel", 32, 32),
    "shape_slat_flow_model_1024": _flow("SLatFlowModel", 64, 32),
    "shape_slat_decoder": {"name": "FlexiDualGridVaeDecoder", "args": {"resolution": 64, **_DEC}},
    "tex_slat_flow_model_512": _flow("SLatFlowModel", 32, 64),
    "tex_slat_flow_model_1024": _flow("SLatFlowModel", 64, 64),
    "tex_slat_decoder": {
        "name": "SparseUnetVaeDecoder",
        "args": {"out_channels": 6, **_DEC, "pred_subdiv": False},
    },
}
TINY_MODEL_CONFIGS["tex_slat_flow_model_512"]["args"]["out_channels"] = 32
TINY_MODEL_CONFIGS["tex_slat_flow_model_1024"]["args"]["out_channels"] = 32

TINY_DINOV3_CONFIG: dict[str, Any] = {
    "hidden_size": 32,
    "num_hidden_layers": 1,
    "num_attention_heads": 2,
    "intermediate_size": 64,
    "patch_size": 16,
    "num_register_tokens": 4,
    "layer_norm_eps": 1e-5,
    "key_bias": False,
}


def tiny_models(seed: int = 0, ss_target_voxels: int = 24, sample_seed: int = 42):
    """Build the tiny networks (fp32, CPU) with the adjustments in the module docstring."""
    from trellis2.models import build_random

    models = {
        name: build_random(spec["name"], spec["args"], device="cpu", seed=seed + i)
        for i, (name, spec) in enumerate(TINY_MODEL_CONFIGS.items())
    }
    with torch.no_grad():
        ss_flow = models["sparse_structure_flow_model"]
        ss_flow.out_layer.weight.mul_(0.01)
        ss_flow.out_layer.bias.mul_(0.01)
        # Calibrate on the first noise a run with `sample_seed` draws (the SS noise).
        gen = torch.Generator().manual_seed(sample_seed)
        z = torch.randn(1, 8, 16, 16, 16, generator=gen)
        dec = models["sparse_structure_decoder"]
        logits = dec(z).flatten()
        top = logits.topk(ss_target_voxels + 1).values
        dec.out_layer[2].bias.sub_((top[-2] + top[-1]) / 2)
        keep = torch.tensor([4.0, 4.0, 4.0, 4.0, -4.0, -4.0, -4.0, -4.0])
        for level in models["shape_slat_decoder"].blocks:
            for block in level:
                if hasattr(block, "to_subdiv"):
                    block.to_subdiv.weight.zero_()
                    block.to_subdiv.bias.copy_(keep)
    return models


def _save_checkpoint(model: torch.nn.Module, spec: dict[str, Any], stem: Path) -> None:
    stem.parent.mkdir(parents=True, exist_ok=True)
    stem.with_name(stem.name + ".json").write_text(json.dumps(spec, indent=2))
    state = {
        k: v.detach().contiguous()
        for k, v in model.state_dict().items()
        if not v.is_complex()  # computed buffers (rope_phases) are never stored
    }
    save_file(state, str(stem.with_name(stem.name + ".safetensors")))


def write_tiny_checkpoint(
    root: Path, seed: int = 0, ss_target_voxels: int = 24, sample_seed: int = 42
) -> Path:
    """Write the tiny pipeline under `root` in the official layout; returns `root`."""
    from transformers import DINOv3ViTConfig, DINOv3ViTModel

    root = Path(root)
    config = copy.deepcopy(OFFICIAL_PIPELINE_CONFIG)
    args = config["args"]
    models = tiny_models(seed, ss_target_voxels, sample_seed)
    for name, model in models.items():
        # The external decoder path resolves as {root}/{value}, like the reference's first try.
        _save_checkpoint(model, TINY_MODEL_CONFIGS[name], root / args["models"][name])
    args["image_cond_model"]["args"]["model_name"] = "dinov3"
    args["low_vram"] = False
    torch.manual_seed(seed)
    DINOv3ViTModel(DINOv3ViTConfig(**TINY_DINOV3_CONFIG)).save_pretrained(root / "dinov3")
    (root / "pipeline.json").write_text(json.dumps(config, indent=2))
    return root
