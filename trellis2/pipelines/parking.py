# SPDX-License-Identifier: MIT
"""Keep a module's weights in pinned host memory and on the device only while it runs.

For the image encoder (DINOv3 ViT-L, 1.13 GiB of fp32 weights) that runs once or twice at the
start of a job: uploading it from pinned memory takes ~0.02 s on an H100, and dropping the
device copy afterwards is free because inference never changes weights. The rest of the job
(flows, decoders, export) then has those 1.13 GiB to itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


def _named_tensors(module: torch.nn.Module) -> list[tuple[str, torch.Tensor]]:
    return [*module.named_parameters(), *module.named_buffers()]


class PinnedParking:
    """`module`'s parameters and buffers live in pinned host memory (their `.data` points at it)
    except inside `on_device()`, where they are uploaded to `device` (non-blocking copies on the
    current stream) and dropped again on exit."""

    def __init__(self, module: torch.nn.Module, device: torch.device | str) -> None:
        self.module = module
        self.device = torch.device(device)
        pin = self.device.type == "cuda"
        self._host: dict[str, torch.Tensor] = {}
        for name, t in _named_tensors(module):
            host = t.detach().to("cpu")
            self._host[name] = host.pin_memory() if pin else host
        self.park()

    def park(self) -> None:
        """Point every tensor at its host copy (the device copies are freed)."""
        for name, t in _named_tensors(self.module):
            t.data = self._host[name]

    @contextmanager
    def on_device(self) -> Iterator[torch.nn.Module]:
        for name, t in _named_tensors(self.module):
            t.data = self._host[name].to(self.device, non_blocking=True)
        try:
            yield self.module
        finally:
            self.park()
