# SPDX-License-Identifier: MIT
"""Submanifold 3x3x3 neighbour map from sorted voxel keys, with no CUDA extension.

FlexGEMM builds this map with a GPU hash table (a compiled extension). Here the same map comes
from torch ops that run on CPU and CUDA alike:

1. Each voxel (b, x, y, z) gets an int64 key in a grid padded by one voxel on every side, so a
   neighbour offset (dx, dy, dz) in {-1, 0, 1}^3 is a constant added to the key and never wraps
   into another row, column or batch item.
2. Keys are sorted once; `torch.searchsorted` finds every neighbour key, and a hit is checked by
   comparing the key found with the key asked for.
3. Submanifold symmetry halves the searches: if j is the neighbour of i at offset v, then i is
   the neighbour of j at offset 26 - v. Only offsets 0..12 are searched; 13 is the voxel itself.

Layout: `neighbor_map[i, v]` is the row of the voxel at coords[i] + (kx - 1, ky - 1, kz - 1) with
v = 9 kx + 3 ky + kz (kx on x = coords[:, 1], ky on y, kz on z), or -1 when that voxel is absent
or belongs to another batch item. This is FlexGEMM's `subm_neighbor_map` order, so a weight
[Co, Kx, Ky, Kz, Ci] reshaped to [Co, 27, Ci] pairs tap v with `neighbor_map[:, v]`.
"""

from __future__ import annotations

import torch

KERNEL_VOLUME = 27


def voxel_keys(coords: torch.Tensor, dims: tuple[int, int, int]) -> torch.Tensor:
    """Int64 keys of integer voxel coordinates in a grid padded by one on every side.

    coords: [N, 4] integer (b, x, y, z) with 0 <= x < dims[0] - 2 (and so on).
    dims: the padded extents (X + 2, Y + 2, Z + 2).
    """
    c = coords.to(torch.int64)
    wx, wy, wz = dims
    return ((c[:, 0] * wx + (c[:, 1] + 1)) * wy + (c[:, 2] + 1)) * wz + (c[:, 3] + 1)


def padded_dims(coords: torch.Tensor) -> tuple[int, int, int]:
    """Padded grid extents (X + 2, Y + 2, Z + 2) that hold every voxel of `coords` [N, 4]."""
    if coords.shape[0] == 0:
        return (3, 3, 3)
    hi = coords[:, 1:].amax(dim=0).tolist()  # one host sync per map, not per conv
    return (int(hi[0]) + 3, int(hi[1]) + 3, int(hi[2]) + 3)


def build_neighbor_map(coords: torch.Tensor) -> torch.Tensor:
    """Submanifold 3x3x3 neighbour map of `coords`.

    coords: [N, 4] int32/int64 (b, x, y, z), non-negative voxel indices, any row order, no
    duplicates. Returns int32 [N, 27] on coords' device; -1 marks a missing neighbour.
    """
    if coords.dim() != 2 or coords.shape[1] != 4:
        raise ValueError(f"coords must be [N, 4] (b, x, y, z); got {tuple(coords.shape)}")
    if coords.dtype.is_floating_point:
        raise TypeError("coords must be an integer tensor; cast voxel indices with .int() first")
    n = coords.shape[0]
    out = torch.full((n, KERNEL_VOLUME), -1, dtype=torch.int32, device=coords.device)
    if n == 0:
        return out
    dims = padded_dims(coords)
    keys = voxel_keys(coords, dims)
    sorted_keys, order = torch.sort(keys)
    order = order.to(torch.int32)
    rows = torch.arange(n, dtype=torch.int32, device=coords.device)
    out[:, 13] = rows
    _, wy, wz = dims
    for v in range(13):
        kx, ky, kz = v // 9, (v // 3) % 3, v % 3
        query = keys + ((kx - 1) * wy + (ky - 1)) * wz + (kz - 1)
        pos = torch.searchsorted(sorted_keys, query).clamp_(max=n - 1)
        hit = sorted_keys[pos] == query
        nbr = torch.where(hit, order[pos], -1)
        out[:, v] = nbr
        # j = nbr[i] at offset v  =>  i is j's neighbour at the mirrored offset 26 - v.
        out[nbr[hit].long(), KERNEL_VOLUME - 1 - v] = rows[hit]
    return out


def build_neighbor_map_ref(coords: torch.Tensor) -> torch.Tensor:
    """Plain-Python reference (a dict of voxel -> row); slow, for tests only."""
    rows = {tuple(c): i for i, c in enumerate(coords.tolist())}
    out = torch.full((len(rows), KERNEL_VOLUME), -1, dtype=torch.int32)
    for i, (b, x, y, z) in enumerate(coords.tolist()):
        for v in range(KERNEL_VOLUME):
            key = (b, x + v // 9 - 1, y + (v // 3) % 3 - 1, z + v % 3 - 1)
            out[i, v] = rows.get(key, -1)
    return out.to(coords.device)


def neighbor_order(neighbor_map: torch.Tensor) -> torch.Tensor:
    """Row order that groups voxels with similar neighbour patterns (FlexGEMM's gray-code sort).

    Each row's 27-bit presence mask is read as a Gray code and decoded to binary; sorting by the
    decoded value visits masks in Gray order, so consecutive rows differ in few taps and a tile of
    rows shares most of its absent taps, which the conv kernel then skips. Returns int32 [N].
    """
    # Tap by tap: an int64 [N, 27] temporary would be 0.6 GiB at 2.9M voxels.
    present = neighbor_map >= 0
    binary = torch.zeros(neighbor_map.shape[0], dtype=torch.int64, device=neighbor_map.device)
    for v in range(KERNEL_VOLUME):
        binary |= present[:, v].to(torch.int64) << v
    shift = 1
    while shift < 32:
        binary ^= binary >> shift
        shift *= 2
    return torch.argsort(binary, stable=True).to(torch.int32)
