# SPDX-License-Identifier: MIT
"""Trilinear sampling of a sparse voxel attribute volume (FlexGEMM's `grid_sample_3d`).

Queries are points in voxel units: voxel i spans [i, i + 1) and its centre is i + 0.5. For a
query q the 8 corner voxels are base + {0, 1}^3 with base = floor(q - 0.5), and a corner c gets
the weight prod_axes (1 - |q - c - 0.5|). Corners that are not active voxels are skipped and the
remaining weights are renormalised by their sum (clamped >= 1e-12), so a query whose 8 corners
are all empty returns 0 (reference §14.2).

Lookup without a hash table: active voxels get the padded int64 keys of `neighbor_map.py`, sorted
once; the kernel finds each corner key with a branchless binary search (log2 N probes, the
same in every lane) and gathers the attribute row through the sort order.

Layouts: feats [N, C] any float dtype; coords [N, 4] int (b, x, y, z); grid [B, L, 3] float
(x, y, z) in voxel units of batch item b. Output [B, L, C] fp32 math, feats' dtype.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from ._launch import check_runnable, next_pow2
from .neighbor_map import padded_dims, voxel_keys


@triton.jit
def _grid_sample_trilinear_kernel(
    # pointers
    feats_ptr,  # [N, C]
    keys_ptr,  # int64 [N], sorted
    order_ptr,  # int64 [N], row of feats for each sorted key
    grid_ptr,  # fp32 [B * L, 3]
    out_ptr,  # [B * L, C]
    # sizes
    N,
    C,
    L,  # queries per batch item
    Q,  # B * L
    MAX_X,  # largest valid voxel index per axis
    MAX_Y,
    MAX_Z,
    WX,  # padded extents (MAX + 3) used by the keys
    WY,
    WZ,
    TOP,  # power of two >= N: first binary-search step
    NSTEPS,  # log2(TOP) + 1 probes
    # meta-parameters
    BLOCK_Q: tl.constexpr,
    BLOCK_C: tl.constexpr,
):
    pid_q = tl.program_id(0)
    pid_c = tl.program_id(1)
    offs_q = pid_q.to(tl.int64) * BLOCK_Q + tl.arange(0, BLOCK_Q)
    q_mask = offs_q < Q
    offs_c = pid_c * BLOCK_C + tl.arange(0, BLOCK_C)
    c_mask = offs_c < C
    b = offs_q // L
    qx = tl.load(grid_ptr + offs_q * 3 + 0, mask=q_mask, other=0.0)
    qy = tl.load(grid_ptr + offs_q * 3 + 1, mask=q_mask, other=0.0)
    qz = tl.load(grid_ptr + offs_q * 3 + 2, mask=q_mask, other=0.0)
    bx = tl.floor(qx - 0.5).to(tl.int64)
    by = tl.floor(qy - 0.5).to(tl.int64)
    bz = tl.floor(qz - 0.5).to(tl.int64)

    acc = tl.zeros((BLOCK_Q, BLOCK_C), dtype=tl.float32)
    wsum = tl.zeros((BLOCK_Q,), dtype=tl.float32)
    for corner in tl.static_range(8):
        cx = bx + (corner & 1)
        cy = by + ((corner >> 1) & 1)
        cz = bz + ((corner >> 2) & 1)
        w = (
            (1.0 - tl.abs(qx - cx.to(tl.float32) - 0.5))
            * (1.0 - tl.abs(qy - cy.to(tl.float32) - 0.5))
            * (1.0 - tl.abs(qz - cz.to(tl.float32) - 0.5))
        )
        inside = (cx >= 0) & (cx <= MAX_X) & (cy >= 0) & (cy <= MAX_Y) & (cz >= 0) & (cz <= MAX_Z)
        inside = inside & q_mask
        key = ((b * WX + (cx + 1)) * WY + (cy + 1)) * WZ + (cz + 1)
        # Branchless lower bound: pos ends as the last index whose key < key (or -1).
        pos = tl.full((BLOCK_Q,), -1, dtype=tl.int64)
        step = TOP
        for _ in range(NSTEPS):
            cand = pos + step
            probe = inside & (cand < N)
            k = tl.load(keys_ptr + cand, mask=probe, other=0)
            pos = tl.where(probe & (k < key), cand, pos)
            step = step // 2
        idx = pos + 1
        hit = inside & (idx < N)
        hit = hit & (tl.load(keys_ptr + idx, mask=hit, other=-1) == key)
        row = tl.load(order_ptr + idx, mask=hit, other=0)
        vals = tl.load(
            feats_ptr + row[:, None] * C + offs_c[None, :],
            mask=hit[:, None] & c_mask[None, :],
            other=0.0,
        ).to(tl.float32)
        w = tl.where(hit, w, 0.0)
        acc += w[:, None] * vals
        wsum += w
    out = acc / tl.maximum(wsum, 1e-12)[:, None]
    tl.store(
        out_ptr + offs_q[:, None] * C + offs_c[None, :],
        out.to(out_ptr.dtype.element_ty),
        mask=q_mask[:, None] & c_mask[None, :],
    )


class SortedVoxels:
    """Sorted voxel keys of one sparse volume; build once, sample many times.

    coords: [N, 4] int (b, x, y, z). Holds keys int64 [N] ascending, order int64 [N] (feats row
    of each key), the max index per axis and the padded extents of the key space.
    """

    def __init__(self, coords: torch.Tensor) -> None:
        self.n = coords.shape[0]
        self.dims = padded_dims(coords)
        self.max_xyz = tuple(d - 3 for d in self.dims)
        self.keys, self.order = torch.sort(voxel_keys(coords, self.dims))

    def lookup(self, b: torch.Tensor, xyz: torch.Tensor) -> torch.Tensor:
        """Row of feats for integer voxel (b, x, y, z) queries ([...], [..., 3]); -1 if absent."""
        mx = torch.tensor(self.max_xyz, device=xyz.device)
        inside = ((xyz >= 0) & (xyz <= mx)).all(dim=-1)
        c = torch.cat([b[..., None], xyz.clamp(min=-1).minimum(mx + 1)], dim=-1).reshape(-1, 4)
        key = voxel_keys(c, self.dims).reshape(b.shape)
        if self.n == 0:
            return torch.full_like(key, -1)
        pos = torch.searchsorted(self.keys, key).clamp_(max=self.n - 1)
        hit = inside & (self.keys[pos] == key)
        return torch.where(hit, self.order[pos], -1)


def grid_sample_trilinear(
    feats: torch.Tensor,
    coords: torch.Tensor | SortedVoxels,
    grid: torch.Tensor,
) -> torch.Tensor:
    """Trilinear sample of sparse feats [N, C] at grid [B, L, 3] (voxel units) -> [B, L, C]."""
    volume = coords if isinstance(coords, SortedVoxels) else SortedVoxels(coords)
    # 1. check
    check_runnable(feats, grid)
    if grid.dim() != 3 or grid.shape[-1] != 3:
        raise ValueError(f"grid must be [B, L, 3] in voxel units; got {tuple(grid.shape)}")
    bsz, length, _ = grid.shape
    c = feats.shape[1]
    feats = feats.contiguous()
    # 2. allocate
    out = torch.empty((bsz, length, c), dtype=feats.dtype, device=feats.device)
    q = bsz * length
    if q == 0 or c == 0:
        return out
    if volume.n == 0:
        return out.zero_()
    # 3. grid and launch
    top = next_pow2(volume.n)
    block_c = min(64, max(2, next_pow2(c)))
    block_q = 64 if block_c <= 16 else 32
    launch_grid = (triton.cdiv(q, block_q), triton.cdiv(c, block_c))
    _grid_sample_trilinear_kernel[launch_grid](
        feats,
        volume.keys,
        volume.order,
        grid.to(torch.float32).contiguous(),
        out,
        volume.n,
        c,
        length,
        q,
        *volume.max_xyz,
        *volume.dims,
        top,
        top.bit_length(),
        BLOCK_Q=block_q,
        BLOCK_C=block_c,
    )
    return out


def grid_sample_trilinear_ref(
    feats: torch.Tensor,
    coords: torch.Tensor | SortedVoxels,
    grid: torch.Tensor,
) -> torch.Tensor:
    """Torch reference of `grid_sample_trilinear` (searchsorted lookup, fp32 math)."""
    volume = coords if isinstance(coords, SortedVoxels) else SortedVoxels(coords)
    bsz, length, _ = grid.shape
    q = grid.to(torch.float32)
    base = torch.floor(q - 0.5).to(torch.int64)  # [B, L, 3]
    b = torch.arange(bsz, device=grid.device)[:, None].expand(bsz, length)
    acc = torch.zeros((bsz, length, feats.shape[1]), dtype=torch.float32, device=feats.device)
    wsum = torch.zeros((bsz, length), dtype=torch.float32, device=feats.device)
    f32 = feats.to(torch.float32)
    for corner in range(8):
        off = torch.tensor([corner & 1, (corner >> 1) & 1, (corner >> 2) & 1], device=grid.device)
        c = base + off
        w = (1.0 - (q - c.to(torch.float32) - 0.5).abs()).prod(dim=-1)
        row = volume.lookup(b, c)
        hit = row >= 0
        w = torch.where(hit, w, 0.0)
        acc += w[..., None] * f32[row.clamp(min=0)]
        wsum += w
    return (acc / wsum.clamp(min=1e-12)[..., None]).to(feats.dtype)
