# SPDX-License-Identifier: MIT
"""Shared inputs for the kernel tests: device, per-dtype tolerances, voxel sets."""

from __future__ import annotations

import torch

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"

# Per-dtype (atol, rtol) against the torch references.
TOLERANCES = {
    torch.float32: (1e-5, 1e-5),
    torch.float16: (2e-2, 2e-2),
    torch.bfloat16: (2e-2, 2e-2),
}


def random_voxels(n: int, extent: int, batches: int = 2, seed: int = 0) -> torch.Tensor:
    """n distinct voxels (b, x, y, z) int32, drawn from `batches` cubes of side `extent`."""
    g = torch.Generator().manual_seed(seed)
    total = batches * extent**3
    flat = torch.randperm(total, generator=g)[:n].sort().values
    b, r = flat // extent**3, flat % extent**3
    x, y, z = r // extent**2, (r // extent) % extent, r % extent
    return torch.stack([b, x, y, z], dim=1).to(torch.int32)


def sphere_shell(res: int, batches: int = 1) -> torch.Tensor:
    """Voxels (b, x, y, z) int32 within half a voxel of a sphere of radius 0.4 res: a surface
    shell like the ones TRELLIS.2 decodes (~2 res^2 voxels per item)."""
    ax = torch.arange(res, dtype=torch.float32) + 0.5 - res / 2
    x, y, z = torch.meshgrid(ax, ax, ax, indexing="ij")
    r = (x * x + y * y + z * z).sqrt()
    xyz = ((r - 0.4 * res).abs() <= 0.5).nonzero().to(torch.int32)
    parts = [
        torch.cat([torch.full((len(xyz), 1), b, dtype=torch.int32), xyz], 1) for b in range(batches)
    ]
    return torch.cat(parts)
