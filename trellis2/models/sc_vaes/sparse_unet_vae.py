# SPDX-License-Identifier: MIT
"""Sparse U-Net SC-VAE: `SparseUnetVaeEncoder` and `SparseUnetVaeDecoder`.

Decoder: from_latent -> per level i: num_blocks[i] blocks, then (i < last) a C2S up block
(x2 resolution) -> fp32 -> LayerNorm (no affine, eps 1e-5) -> output_layer. With use_fp16 the
`blocks` run in fp16 (linears and convs; norms fp32). Voxel order after each C2S is parent-major.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ...modules.sparse.tensor import SparseTensor
from ...modules.utils import convert_module_to
from .blocks import ROW_CHUNK, block_class


def _per_level(value: Any, n: int) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value] * n


class _FP16Mixin:
    blocks: nn.ModuleList

    def convert_to_fp16(self) -> None:
        self.use_fp16, self.dtype = True, torch.float16
        self.blocks.apply(lambda m: convert_module_to(m, torch.float16))

    def convert_to_fp32(self) -> None:
        self.use_fp16, self.dtype = False, torch.float32
        self.blocks.apply(lambda m: convert_module_to(m, torch.float32))


class SparseUnetVaeEncoder(_FP16Mixin, nn.Module):
    """x: SparseTensor [N, in_channels] at full resolution -> latent SparseTensor [P, latent].

    Levels go from fine to coarse: num_blocks[i] blocks at model_channels[i], then (i < last) an
    S2C down block to model_channels[i+1]. Output is the posterior mean (or a sample).
    """

    def __init__(
        self,
        in_channels: int,
        model_channels: list[int],
        latent_channels: int,
        num_blocks: list[int],
        block_type: list[str] | str,
        down_block_type: list[str] | str,
        block_args: list[dict[str, Any]] | dict[str, Any] | None = None,
        use_fp16: bool = False,
    ) -> None:
        super().__init__()
        n = len(num_blocks)
        self.in_channels = in_channels
        self.model_channels = list(model_channels)
        self.latent_channels = latent_channels
        self.num_blocks = list(num_blocks)
        self.dtype = torch.float16 if use_fp16 else torch.float32
        block_type = _per_level(block_type, n)
        down_block_type = _per_level(down_block_type, n - 1)
        block_args = _per_level(block_args or {}, n)

        self.input_layer = nn.Linear(in_channels, model_channels[0])
        self.to_latent = nn.Linear(model_channels[-1], 2 * latent_channels)
        self.blocks = nn.ModuleList()
        for i in range(n):
            level = nn.ModuleList(
                block_class(block_type[i])(model_channels[i], **block_args[i])
                for _ in range(num_blocks[i])
            )
            if i < n - 1:
                level.append(
                    block_class(down_block_type[i])(
                        model_channels[i], model_channels[i + 1], **block_args[i]
                    )
                )
            self.blocks.append(level)
        self.use_fp16 = use_fp16
        if use_fp16:
            self.convert_to_fp16()

    def forward(
        self, x: SparseTensor, sample_posterior: bool = False, return_raw: bool = False
    ) -> Any:
        h = x.replace(self.input_layer(x.feats)).type(self.dtype)
        for level in self.blocks:
            for block in level:
                h = block(h)
        f = h.feats.type(x.dtype)
        f = self.to_latent(F.layer_norm(f, f.shape[-1:]))
        mean, logvar = f.chunk(2, dim=-1)
        z = mean + torch.exp(0.5 * logvar) * torch.randn_like(mean) if sample_posterior else mean
        z = h.replace(z)
        return (z, mean, logvar) if return_raw else z


class SparseUnetVaeDecoder(_FP16Mixin, nn.Module):
    """Latent SparseTensor [N, latent_channels] -> SparseTensor [M, out_channels] at 16x res.

    forward(x, guide_subs=None, return_subs=False): ``guide_subs`` is a list of SparseTensors of
    subdivision logits, one per C2S level (needed when pred_subdiv is False, unless the voxel sets
    carry an encoder's cached maps; with pred_subdiv they override the predictions);
    ``return_subs`` also returns the predicted logits.
    """

    def __init__(
        self,
        out_channels: int,
        model_channels: list[int],
        latent_channels: int,
        num_blocks: list[int],
        block_type: list[str] | str,
        up_block_type: list[str] | str,
        block_args: list[dict[str, Any]] | dict[str, Any] | None = None,
        use_fp16: bool = False,
        pred_subdiv: bool = True,
    ) -> None:
        super().__init__()
        n = len(num_blocks)
        self.out_channels = out_channels
        self.model_channels = list(model_channels)
        self.latent_channels = latent_channels
        self.num_blocks = list(num_blocks)
        self.pred_subdiv = pred_subdiv
        self.dtype = torch.float16 if use_fp16 else torch.float32
        self.low_vram = False
        block_type = _per_level(block_type, n)
        up_block_type = _per_level(up_block_type, n - 1)
        block_args = _per_level(block_args or {}, n)

        self.output_layer = nn.Linear(model_channels[-1], out_channels)
        self.from_latent = nn.Linear(latent_channels, model_channels[0])
        self.blocks = nn.ModuleList()
        for i in range(n):
            level = nn.ModuleList(
                block_class(block_type[i])(model_channels[i], **block_args[i])
                for _ in range(num_blocks[i])
            )
            if i < n - 1:
                level.append(
                    block_class(up_block_type[i])(
                        model_channels[i],
                        model_channels[i + 1],
                        pred_subdiv=pred_subdiv,
                        **block_args[i],
                    )
                )
            self.blocks.append(level)
        self.use_fp16 = use_fp16
        if use_fp16:
            self.convert_to_fp16()

    def _run_levels(
        self,
        x: SparseTensor,
        guide_subs: list[SparseTensor] | None,
        stop_at: int | None = None,
    ) -> tuple[SparseTensor, list[SparseTensor]]:
        h = x.replace(self.from_latent(x.feats)).type(self.dtype)
        subs: list[SparseTensor] = []
        last = len(self.blocks) - 1
        for i, level in enumerate(self.blocks):
            if i == stop_at:
                break
            for j, block in enumerate(level):
                if i < last and j == len(level) - 1:  # the C2S up block of level i
                    guide = None if guide_subs is None else guide_subs[i]
                    if self.pred_subdiv:
                        h, sub = block(h, subdiv=guide)
                        subs.append(sub)
                    else:
                        h = block(h, subdiv=guide)
                else:
                    h = block(h)
        return h, subs

    def forward(
        self,
        x: SparseTensor,
        guide_subs: list[SparseTensor] | None = None,
        return_subs: bool = False,
    ) -> Any:
        h, subs = self._run_levels(x, guide_subs)
        n = h.feats.shape[0]
        if n <= ROW_CHUNK:
            f = h.feats.type(x.dtype)
            f = self.output_layer(F.layer_norm(f, f.shape[-1:]))
        else:  # row chunks: the fp32 copy + norm of [2.9M, 64] would be 1.4 GiB at 1024^3
            f = h.feats.new_empty(n, self.out_channels, dtype=x.dtype)
            for s in range(0, n, ROW_CHUNK):
                c = h.feats[s : s + ROW_CHUNK].type(x.dtype)
                f[s : s + ROW_CHUNK] = self.output_layer(F.layer_norm(c, c.shape[-1:]))
        # A fresh cache: the finest level's neighbour map must not live on with the output.
        out = SparseTensor(f, h.coords, scale=h.scale)
        counts = h.get_spatial_cache("batch_counts")
        if counts is not None:
            out.register_spatial_cache("batch_counts", counts)
        del h
        return (out, subs) if return_subs else out

    @torch.no_grad()
    def upsample(
        self,
        x: SparseTensor,
        upsample_times: int,
        guide_subs: list[SparseTensor] | None = None,
    ) -> torch.Tensor:
        """Coords int32 [M, 4] after from_latent and the first ``upsample_times`` levels.

        ``guide_subs`` (one [N_i, 8] logit tensor per level, as in ``forward``) overrides the
        predicted subdivisions; benchmarks use it to follow a real asset's structure."""
        if not self.pred_subdiv:
            raise ValueError("upsample needs a decoder that predicts its subdivisions")
        h, _ = self._run_levels(x, guide_subs, stop_at=upsample_times)
        return h.coords
