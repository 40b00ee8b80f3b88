# SPDX-License-Identifier: MIT
"""TRELLIS.2 networks under the reference's class names, and their loaders.

`from_pretrained(path)` reads `{path}.json` + `{path}.safetensors`; `build_random(name, args,
device)` builds a full-size network with random weights (benchmarks only); `PRESETS` holds the
published configs keyed by checkpoint name.
"""

from __future__ import annotations

from torch import nn

from .loading import (
    CheckpointError,
    build_meta,
    build_random,
    from_pretrained,
    load_state_dict_checked,
)
from .presets import PRESETS, fp32_args, preset
from .sc_vaes.fdg_vae import FlexiDualGridVaeDecoder, FlexiDualGridVaeEncoder
from .sc_vaes.sparse_unet_vae import SparseUnetVaeDecoder, SparseUnetVaeEncoder
from .sparse_structure_flow import SparseStructureFlowModel
from .sparse_structure_vae import SparseStructureDecoder
from .structured_latent_flow import SLatFlowModel

# The training code names the shape/texture flow ElasticSLatFlowModel (same state dict).
ElasticSLatFlowModel = SLatFlowModel

MODEL_CLASSES: dict[str, type[nn.Module]] = {
    "SparseStructureFlowModel": SparseStructureFlowModel,
    "SLatFlowModel": SLatFlowModel,
    "ElasticSLatFlowModel": SLatFlowModel,
    "SparseStructureDecoder": SparseStructureDecoder,
    "SparseUnetVaeDecoder": SparseUnetVaeDecoder,
    "SparseUnetVaeEncoder": SparseUnetVaeEncoder,
    "FlexiDualGridVaeDecoder": FlexiDualGridVaeDecoder,
    "FlexiDualGridVaeEncoder": FlexiDualGridVaeEncoder,
}

__all__ = [
    "MODEL_CLASSES",
    "PRESETS",
    "CheckpointError",
    "ElasticSLatFlowModel",
    "FlexiDualGridVaeDecoder",
    "FlexiDualGridVaeEncoder",
    "SLatFlowModel",
    "SparseStructureDecoder",
    "SparseStructureFlowModel",
    "SparseUnetVaeDecoder",
    "SparseUnetVaeEncoder",
    "build_meta",
    "build_random",
    "fp32_args",
    "from_pretrained",
    "load_state_dict_checked",
    "preset",
]
