# SPDX-License-Identifier: MIT
"""BiRefNet background removal through `transformers` (reference §2 step 3).

Licensing: the default `ZhengPeng7/BiRefNet` weights are MIT. `briaai/RMBG-2.0` (what the
official pipeline.json names) uses the same architecture but its weights are gated and licensed
for NON-COMMERCIAL use only; it is used only when asked for explicitly
(`BiRefNet("briaai/RMBG-2.0")` or `rembg_model=` on the pipeline).

Works on CPU and CUDA: the input goes to whatever device the model is on.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from PIL import Image

_LOGGER = logging.getLogger(__name__)

DEFAULT_BIREFNET = "ZhengPeng7/BiRefNet"
RMBG_2_0 = "briaai/RMBG-2.0"
_MEAN = (0.485, 0.456, 0.406)
_STD = (0.229, 0.224, 0.225)
INPUT_SIZE = 1024


class BiRefNet:
    """Matting model: `__call__(rgb PIL) -> RGBA PIL` with the predicted mask as alpha.

    `model` may be given directly (any module whose output's last element is the [B, 1, H, W]
    mask logits); otherwise `model_name` is loaded with
    `AutoModelForImageSegmentation.from_pretrained(model_name, trust_remote_code=True)`.
    """

    def __init__(self, model_name: str = DEFAULT_BIREFNET, model: Any = None) -> None:
        self.model_name = model_name
        if model is None:
            model = self._load(model_name)
        self.model = model.float().eval()

    @staticmethod
    def _load(model_name: str) -> Any:
        if model_name == RMBG_2_0:
            _LOGGER.warning(
                "loading %s: its weights are licensed for non-commercial use only", model_name
            )
        try:
            from transformers import AutoModelForImageSegmentation
        except ImportError as exc:  # pragma: no cover - transformers is a declared dependency
            raise ImportError("background removal needs `pip install transformers`") from exc
        try:
            return AutoModelForImageSegmentation.from_pretrained(model_name, trust_remote_code=True)
        except ImportError as exc:
            raise ImportError(
                f"{model_name} ships remote code that needs extra packages ({exc}); "
                "install them with `pip install timm kornia einops`"
            ) from exc

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def to(self, device: torch.device | str) -> BiRefNet:
        self.model.to(device)
        return self

    def cuda(self) -> BiRefNet:
        return self.to("cuda")

    def cpu(self) -> BiRefNet:
        return self.to("cpu")

    def _input(self, image: Image.Image) -> torch.Tensor:
        import numpy as np
        from PIL import Image

        # Resize((1024, 1024)) + ToTensor + Normalize, as the torchvision pipeline does on PIL.
        resized = image.resize((INPUT_SIZE, INPUT_SIZE), Image.Resampling.BILINEAR)
        x = torch.from_numpy(np.asarray(resized, dtype=np.float32) / 255).permute(2, 0, 1)
        mean = torch.tensor(_MEAN).view(3, 1, 1)
        std = torch.tensor(_STD).view(3, 1, 1)
        return ((x - mean) / std).unsqueeze(0)  # [1, 3, 1024, 1024] fp32

    @torch.no_grad()
    def __call__(self, image: Image.Image) -> Image.Image:
        from PIL import Image

        image = image.convert("RGB")
        x = self._input(image).to(self.device)
        pred = self.model(x)[-1].sigmoid().float().cpu()[0].squeeze()  # [1024, 1024] in [0, 1]
        # ToPILImage on a float tensor: mul(255) then truncate to uint8.
        mask = Image.fromarray(pred.mul(255).byte().numpy()).resize(image.size)
        out = image.copy()
        out.putalpha(mask)
        return out
