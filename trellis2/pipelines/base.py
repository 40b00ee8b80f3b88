# SPDX-License-Identifier: MIT
"""Device placement shared by the pipelines: `.to()/.cuda()/.cpu()` and low-VRAM offload.

With `low_vram` on (the official default), `.to(device)` only records the target device; each
stage moves the model it needs there just before use and back to the CPU right after (§17).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch


class PipelineBase:
    """Holds `models` (name → module), auxiliary models and the execution device."""

    def __init__(self, models: dict[str, torch.nn.Module], low_vram: bool = True) -> None:
        self.models = models
        self.low_vram = low_vram
        self._device = torch.device("cpu")
        for m in self.models.values():
            m.eval()

    # Auxiliary models that follow the device like `models` (image conditioning, rembg).
    def _aux_models(self) -> list[Any]:
        return []

    @property
    def device(self) -> torch.device:
        return self._device

    def to(self, device: torch.device | str) -> PipelineBase:
        self._device = torch.device(device)
        if self.low_vram and self._device.type != "cpu":
            # Models stay on the CPU; stages move them in and out.
            target = torch.device("cpu")
        else:
            target = self._device
        for m in self.models.values():
            m.to(target)
        for aux in self._aux_models():
            if aux is not None:
                aux.to(target)
        return self

    def cuda(self) -> PipelineBase:
        return self.to("cuda")

    def cpu(self) -> PipelineBase:
        return self.to("cpu")

    @contextmanager
    def _on_device(self, *objs: Any) -> Iterator[None]:
        """Place `objs` (modules or wrappers with `.to`) on the pipeline device for the block;
        in low-VRAM mode move them back to the CPU afterwards."""
        offload = self.low_vram and self._device.type != "cpu"
        if offload:
            for o in objs:
                o.to(self._device)
        try:
            yield
        finally:
            if offload:
                for o in objs:
                    o.to("cpu")
                if self._device.type == "cuda":
                    torch.cuda.empty_cache()
