# SPDX-License-Identifier: MIT
"""DINOv3 image conditioning (reference §3).

Features = every token (CLS, registers, patches) after the last transformer block, BEFORE the
model's own final norm, through a parameter-free LayerNorm (eps 1e-5). For ViT-L/16 with 4
registers: S = 512 gives [B, 1029, 1024], S = 1024 gives [B, 4101, 1024]. The negative
(unconditional) context is all zeros of the same shape.

The weights (`facebook/dinov3-vitl16-pretrain-lvd1689m`) are gated under Meta's DINOv3 License.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F

if TYPE_CHECKING:
    from PIL import Image

DEFAULT_DINOV3 = "facebook/dinov3-vitl16-pretrain-lvd1689m"
_MEAN = (0.485, 0.456, 0.406)
_STD = (0.229, 0.224, 0.225)


def dinov3_layers(model: Any) -> Sequence[torch.nn.Module]:
    """The transformer blocks: `model.layer` (transformers 4.x) or `model.model.layer` (5.x)."""
    layers = getattr(model, "layer", None)
    if layers is None:
        inner = getattr(model, "model", None)
        layers = getattr(inner, "layer", None)
    if layers is None:
        raise AttributeError(
            "cannot find the DINOv3 transformer blocks (neither .layer nor .model.layer); "
            "this transformers version is not supported, try transformers>=4.56"
        )
    return layers


class DinoV3FeatureExtractor:
    """`__call__(images) -> [B, 1 + R + (S/16)^2, hidden]` fp32 features on the model's device.

    `image_size` (S) is set by the pipeline per call (512 or 1024). `model` may be passed in
    (e.g. a `DINOv3ViTModel` built from a config); otherwise `model_name` is loaded with
    `DINOv3ViTModel.from_pretrained` in fp32, eval mode.
    """

    def __init__(self, model_name: str = DEFAULT_DINOV3, image_size: int = 512, model: Any = None):
        self.model_name = model_name
        self.image_size = image_size
        if model is None:
            from transformers import DINOv3ViTModel

            model = DINOv3ViTModel.from_pretrained(model_name)
        self.model = model.float().eval()

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def to(self, device: torch.device | str) -> DinoV3FeatureExtractor:
        self.model.to(device)
        return self

    def cuda(self) -> DinoV3FeatureExtractor:
        return self.to("cuda")

    def cpu(self) -> DinoV3FeatureExtractor:
        return self.to("cpu")

    def pixel_values(self, images: Sequence[Image.Image]) -> torch.Tensor:
        """LANCZOS resize to (S, S), RGB / 255, ImageNet normalisation → [B, 3, S, S] fp32."""
        import numpy as np
        from PIL import Image

        s = self.image_size
        arrs = [
            np.asarray(im.resize((s, s), Image.Resampling.LANCZOS).convert("RGB"), np.float32) / 255
            for im in images
        ]
        x = torch.from_numpy(np.stack(arrs)).permute(0, 3, 1, 2).to(self.device)
        mean = torch.tensor(_MEAN, device=x.device).view(1, 3, 1, 1)
        std = torch.tensor(_STD, device=x.device).view(1, 3, 1, 1)
        return (x - mean) / std

    @torch.no_grad()
    def extract_features(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """[B, 3, S, S] normalised pixels → [B, 1 + R + P, hidden] (param-free LN, eps 1e-5)."""
        model = self.model
        h = model.embeddings(pixel_values, bool_masked_pos=None)
        rope = model.rope_embeddings(pixel_values)
        for layer in dinov3_layers(model):
            out = layer(h, position_embeddings=rope)
            h = out[0] if isinstance(out, tuple) else out
        return F.layer_norm(h, h.shape[-1:], eps=1e-5)

    @torch.no_grad()
    def __call__(self, images: Sequence[Image.Image] | torch.Tensor) -> torch.Tensor:
        if isinstance(images, torch.Tensor):
            x = images.to(self.device, torch.float32)
        else:
            x = self.pixel_values(list(images))
        return self.extract_features(x)
