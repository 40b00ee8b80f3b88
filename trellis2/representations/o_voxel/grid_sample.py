# SPDX-License-Identifier: MIT
"""Sparse 3D grid sampling of voxel attributes (FlexGEMM `grid_sample_3d` semantics, ref. §14.2).

Torch reference used for texture baking and `MeshWithVoxel.query_attrs`; a Triton kernel may replace
it on CUDA and must equal this function.

Query frame: voxel units, voxel i spans [i, i+1) so its centre is i + 0.5.
Trilinear: base = floor(q - 0.5); the 8 corners base + {0,1}^3 weigh prod(1 - |q - corner - 0.5|);
corners that are not active voxels are skipped and the remaining weights renormalised by their sum
(clamped >= 1e-12). A query with no active corner returns 0.
Nearest: the voxel trunc(q) (C integer cast, so -1 < q < 0 maps to voxel 0) if active, else 0.
"""

from __future__ import annotations

import torch

from trellis2.representations.o_voxel.flexible_dual_grid import VoxelHash

# Cells whose corner indices are looked up at once (bounds the table build's memory).
CORNER_CHUNK = 1 << 20
_CORNERS = torch.tensor(
    [[i, j, k] for i in (0, 1) for j in (0, 1) for k in (0, 1)], dtype=torch.int64
)  # [8, 3]


class CellTable:
    """Trilinear lookup structure: for every cell (the cube between 8 voxel centres, named by its
    lowest corner voxel) that touches an active voxel, the indices of its 8 corner voxels
    ([M, 8], -1 where inactive; corner c = 4i + 2j + k for offset (i, j, k)). A query then needs
    one hash lookup instead of eight.

    coords [N, 3] int64 in [0, dims) per axis; dims (W, H, D).
    """

    def __init__(self, coords: torch.Tensor, dims: tuple[int, int, int]) -> None:
        self.dims = dims
        corners = _CORNERS.to(coords.device)
        vox = VoxelHash(coords, torch.tensor(dims))
        cells = (coords[:, None, :] - corners[None]).reshape(-1, 3)  # cells having this corner
        keys = vox.key(cells)
        del cells
        if vox.dense is not None:  # dedupe by marking (much faster than sorting)
            mark = torch.zeros(vox.dense.numel(), dtype=torch.bool, device=coords.device)
            mark[keys] = True
            keys = torch.nonzero(mark).squeeze(1)
        else:
            keys = torch.unique(keys)
        d1, d2 = vox._d1, vox._d2
        cz = keys % d2 - 1
        cy = torch.div(keys, d2, rounding_mode="floor") % d1 - 1
        cx = torch.div(keys, d1 * d2, rounding_mode="floor") - 1
        cell_coords = torch.stack([cx, cy, cz], 1)
        self.cells = VoxelHash(cell_coords, torch.tensor(dims))
        # [M, 8], looked up in row slices: the key temporaries of all M x 8 corners at once
        # are ~1 GiB for 1.5M voxels (the export's peak on the GPU).
        self.corner_index = torch.empty(len(cell_coords), 8, dtype=torch.int64, device=keys.device)
        for s in range(0, len(cell_coords), CORNER_CHUNK):
            part = cell_coords[s : s + CORNER_CHUNK, None, :] + corners[None]
            self.corner_index[s : s + CORNER_CHUNK] = vox.lookup(part)

    def lookup(self, base: torch.Tensor) -> torch.Tensor:
        """base cell coords [L, 3] → corner indices [L, 8] (-1 where inactive / outside)."""
        dims = torch.tensor(self.dims, device=base.device)
        ok = ((base >= -1) & (base < dims)).all(-1)
        cell = self.cells.lookup(torch.minimum(base.clamp_min(-1), dims - 1))
        ok &= cell >= 0
        idx = self.corner_index[cell.clamp_min(0)]
        return torch.where(ok[:, None], idx, -1)


def grid_sample_3d(
    feats: torch.Tensor,
    coords: torch.Tensor,
    shape: object,
    grid: torch.Tensor,
    mode: str = "trilinear",
    chunk: int = 1 << 18,
) -> torch.Tensor:
    """Sample sparse voxel features at continuous points.

    Args:
        feats: [N, C] float features of the active voxels.
        coords: [N, 4] int (batch, x, y, z).
        shape: (B, C, W, H, D) of the dense volume these voxels live in.
        grid: [B, L, 3] float query points in voxel units (x, y, z).
        mode: "trilinear" or "nearest".

    Returns:
        [B, L, C] float (feats dtype).
    """
    if mode not in ("trilinear", "nearest"):
        raise ValueError(f"mode must be 'trilinear' or 'nearest', got {mode!r}")
    b_count, _, w, h, d = (int(s) for s in shape)
    coords = coords.to(torch.int64)
    out = torch.zeros(
        grid.shape[0], grid.shape[1], feats.shape[1], dtype=feats.dtype, device=feats.device
    )
    for b in range(min(grid.shape[0], b_count)):
        sel = coords[:, 0] == b
        idx_b = torch.nonzero(sel).squeeze(1)
        f_b = feats[idx_b]
        if mode == "trilinear":
            table = CellTable(coords[idx_b, 1:], (w, h, d))
        else:
            table = VoxelHash(coords[idx_b, 1:], torch.tensor([w, h, d]))
        for s in range(0, grid.shape[1], chunk):
            q = grid[b, s : s + chunk].to(torch.float32)
            if mode == "trilinear":
                out[b, s : s + chunk] = _trilinear(f_b, table, q)
            else:
                out[b, s : s + chunk] = _nearest(f_b, table, q, (w, h, d))
    return out


def _nearest(feats, table, q, dims):
    dims_t = torch.tensor(dims, device=q.device)
    cell = torch.trunc(q).to(torch.int64)
    inside = ((cell >= 0) & (cell < dims_t)).all(-1)
    idx = torch.where(inside, table.lookup(torch.minimum(cell.clamp_min(-1), dims_t)), -1)
    res = feats[idx.clamp_min(0)]
    return torch.where((idx >= 0)[:, None], res, torch.zeros_like(res))


def _trilinear(feats, table: CellTable, q):
    qs = q - 0.5
    base = torch.floor(qs)
    frac = qs - base  # [L, 3]; weight of the +1 corner per axis
    idx = table.lookup(base.to(torch.int64))  # [L, 8]
    wx = torch.stack([1.0 - frac[:, 0], frac[:, 0]], 1)
    wy = torch.stack([1.0 - frac[:, 1], frac[:, 1]], 1)
    wz = torch.stack([1.0 - frac[:, 2], frac[:, 2]], 1)
    wgt = (wx[:, :, None, None] * wy[:, None, :, None] * wz[:, None, None, :]).reshape(-1, 8)
    wgt = torch.where(idx >= 0, wgt, 0.0)
    wgt = wgt / wgt.sum(-1, keepdim=True).clamp_min(1e-12)
    # Weighted sum of gathered rows in one fused kernel (no [L, 8, C] intermediate).
    res = torch.nn.functional.embedding_bag(
        idx.clamp_min(0), feats.to(torch.float32), per_sample_weights=wgt, mode="sum"
    )
    return res.to(feats.dtype)


def sample_attrs(
    feats: torch.Tensor,
    coords: torch.Tensor,
    points: torch.Tensor,
    origin: object,
    voxel_size: float,
    mode: str = "trilinear",
) -> torch.Tensor:
    """Single-volume convenience: feats [N, C] at coords [N, 3] (x, y, z), world points [L, 3]
    (voxel grid starting at `origin`, cells of `voxel_size`) → [L, C]."""
    o = torch.as_tensor(origin, dtype=torch.float32, device=points.device)
    q = (points.to(torch.float32) - o) / voxel_size
    hi = coords.max(0).values.to(torch.int64) + 1 if coords.shape[0] else torch.ones(3)
    hi = torch.maximum(hi, torch.ceil(q.max(0).values).to(torch.int64) + 1) if q.numel() else hi
    c4 = torch.cat([torch.zeros_like(coords[:, :1]), coords], 1)
    shape = (1, feats.shape[1], *hi.tolist())
    return grid_sample_3d(feats, c4, shape, q[None], mode=mode)[0]
