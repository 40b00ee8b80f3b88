# SPDX-License-Identifier: MIT
"""O-Voxel → mesh: the flexible-dual-grid extraction of TRELLIS.2 (reference §12.3).

Frame: integer voxel coords index a grid of `grid_size` cells spanning `aabb` ([2, 3], min row then
max row); TRELLIS.2 uses aabb [-0.5, 0.5]^3, Z-up. Each active voxel owns one dual vertex, given in
voxel-local units (0..1 inside the voxel; decoder outputs may reach -0.5..1.5).

The reference inserts voxels into a CUDA hash map; here the hash is a sorted key array queried with
`torch.searchsorted`, which gives identical results on CPU and GPU without an extension.
"""

from __future__ import annotations

import torch

# For a set flag on axis a of voxel c, the 4 voxels sharing that edge, in the reference's order.
# The edge lies on the lattice line through (c + 1) in the two other axes.
QUAD_OFFSETS = torch.tensor(
    [
        [[0, 0, 0], [0, 0, 1], [0, 1, 1], [0, 1, 0]],  # x edges
        [[0, 0, 0], [1, 0, 0], [1, 0, 1], [0, 0, 1]],  # y edges
        [[0, 0, 0], [0, 1, 0], [1, 1, 0], [1, 0, 0]],  # z edges
    ],
    dtype=torch.int64,
)
_LOOKUP_CHUNK = 1 << 18  # voxels per neighbour lookup pass


def _grid_shape(
    aabb: torch.Tensor, voxel_size: object | None, grid_size: object | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return (voxel_size [3] float, grid_size [3] int64) from whichever was given."""
    extent = aabb[1] - aabb[0]
    if voxel_size is not None:
        vs = torch.as_tensor(voxel_size, dtype=aabb.dtype, device=aabb.device).expand(3).clone()
        gs = torch.round(extent / vs).to(torch.int64)
    elif grid_size is not None:
        gs = torch.as_tensor(grid_size, dtype=torch.int64, device=aabb.device).expand(3).clone()
        vs = extent / gs.to(aabb.dtype)
    else:
        raise ValueError("pass voxel_size or grid_size (e.g. grid_size=resolution)")
    return vs, gs


def as_aabb(aabb: object, device: torch.device | str = "cpu") -> torch.Tensor:
    """[2, 3] float32 tensor from a nested list / array / tensor."""
    t = torch.as_tensor(aabb, dtype=torch.float32, device=device)
    if t.shape != (2, 3):
        raise ValueError(
            f"aabb must be [[xmin, ymin, zmin], [xmax, ymax, zmax]], got {tuple(t.shape)}"
        )
    return t


class VoxelHash:
    """Integer voxel coords → row index (-1 when absent).

    coords: [N, 3] int (x, y, z) in [0, grid). Keys are built with a one-voxel margin so
    neighbour queries just outside the grid (-1 or grid) never alias. Small grids (at most
    DENSE_MAX_CELLS keys) use a dense int32 table (one gather per query); larger ones a sorted key
    array queried with `torch.searchsorted`.
    """

    DENSE_MAX_CELLS = 1 << 25

    def __init__(self, coords: torch.Tensor, grid_size: torch.Tensor | int) -> None:
        gs = torch.as_tensor(grid_size, dtype=torch.int64).expand(3).to(coords.device) + 2
        self.dims = gs
        self._d1, self._d2 = int(gs[1]), int(gs[2])
        keys = self.key(coords.to(torch.int64))
        cells = int(gs.prod())
        self.dense: torch.Tensor | None = None
        if cells <= self.DENSE_MAX_CELLS:
            self.dense = torch.full((cells,), -1, dtype=torch.int32, device=coords.device)
            self.dense[keys] = torch.arange(keys.numel(), dtype=torch.int32, device=coords.device)
        else:
            self.sorted_keys, self.order = torch.sort(keys)

    def key(self, c: torch.Tensor) -> torch.Tensor:
        """Flat key of coords [..., 3] (int64)."""
        return ((c[..., 0] + 1) * self._d1 + (c[..., 1] + 1)) * self._d2 + (c[..., 2] + 1)

    def lookup_keys(self, k: torch.Tensor) -> torch.Tensor:
        """Flat keys (from `key`) → index int64, -1 where absent."""
        if self.dense is not None:
            return self.dense[k].to(torch.int64)
        n = self.sorted_keys.numel()
        if n == 0:
            return torch.full(k.shape, -1, dtype=torch.int64, device=k.device)
        pos = torch.searchsorted(self.sorted_keys, k).clamp_(max=n - 1)
        found = self.sorted_keys[pos] == k
        return torch.where(found, self.order[pos], torch.full_like(pos, -1))

    def lookup(self, coords: torch.Tensor) -> torch.Tensor:
        """coords [..., 3] int → index [...] int64 into the original coords, -1 where absent."""
        return self.lookup_keys(self.key(coords.to(torch.int64)))


def flexible_dual_grid_to_mesh(
    coords: torch.Tensor,
    dual_vertices: torch.Tensor,
    intersected_flag: torch.Tensor,
    split_weight: torch.Tensor | None,
    aabb: object,
    voxel_size: object | None = None,
    grid_size: object | None = None,
    train: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Extract the triangle mesh of one O-Voxel.

    Args:
        coords: [N, 3] int voxel coords (x, y, z).
        dual_vertices: [N, 3] float, dual vertex inside each voxel in voxel-local units.
        intersected_flag: [N, 3] bool, per axis: the voxel's max-corner edge crosses the surface.
        split_weight: [N, 1] (or [N]) float > 0 quad split weights, or None (normal-alignment rule).
        aabb: [2, 3] box the grid spans. voxel_size or grid_size: one is required.
        train: split each quad into 4 triangles around a weighted midpoint (training path).

    Returns:
        vertices [N (+M in train mode), 3] float32 in the aabb frame (one per voxel, same order),
        faces [F, 3] int64. Faces are not consistently oriented (reference behaviour).
    """
    device = coords.device
    aabb_t = as_aabb(aabb, device)
    vs, gs = _grid_shape(aabb_t, voxel_size, grid_size)
    coords = coords.to(torch.int64)
    vertices = (coords.to(torch.float32) + dual_vertices.to(torch.float32)) * vs + aabb_t[0]

    table = VoxelHash(coords, gs)
    # [N, 3 axes, 4 corners] indices of the voxels around each voxel's three max-corner edges.
    # In voxel chunks: the int64 query temporaries are ~2 GiB at once for 2.9M voxels (1024^3).
    offsets = QUAD_OFFSETS.to(device)[None]
    nbr = torch.empty(coords.shape[0], 3, 4, dtype=torch.int64, device=device)
    for s in range(0, coords.shape[0], _LOOKUP_CHUNK):
        nbr[s : s + _LOOKUP_CHUNK] = table.lookup(
            coords[s : s + _LOOKUP_CHUNK, None, None] + offsets
        )
    valid = intersected_flag.to(torch.bool) & (nbr >= 0).all(dim=-1)
    quads = nbr[valid]  # [M, 4], voxel-major then axis (row-major boolean mask order)

    if train:
        return _split_train(vertices, quads, split_weight)

    if split_weight is not None:
        w = split_weight.reshape(-1).to(torch.float32)[quads]  # [M, 4]
        use_02 = w[:, 0] * w[:, 2] > w[:, 1] * w[:, 3]
    else:
        use_02 = _normal_alignment_prefers_02(vertices, quads)
    tri_02 = torch.stack([quads[:, [0, 1, 2]], quads[:, [0, 2, 3]]], dim=1)
    tri_13 = torch.stack([quads[:, [0, 1, 3]], quads[:, [3, 1, 2]]], dim=1)
    faces = torch.where(use_02[:, None, None], tri_02, tri_13).reshape(-1, 3)
    return vertices, faces


def _unit(v: torch.Tensor) -> torch.Tensor:
    return v / v.norm(dim=-1, keepdim=True).clamp_min(1e-12)


def _normal_alignment_prefers_02(vertices: torch.Tensor, quads: torch.Tensor) -> torch.Tensor:
    """True where diagonal 0-2 gives two triangles whose normals agree better than diagonal 1-3."""
    p = vertices[quads]  # [M, 4, 3]
    n_a0 = _unit(torch.linalg.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0]))
    n_a1 = _unit(torch.linalg.cross(p[:, 2] - p[:, 0], p[:, 3] - p[:, 0]))
    n_b0 = _unit(torch.linalg.cross(p[:, 1] - p[:, 0], p[:, 3] - p[:, 0]))
    n_b1 = _unit(torch.linalg.cross(p[:, 1] - p[:, 3], p[:, 2] - p[:, 3]))
    align_02 = (n_a0 * n_a1).sum(-1).abs()
    align_13 = (n_b0 * n_b1).sum(-1).abs()
    return align_02 > align_13


def _split_train(
    vertices: torch.Tensor, quads: torch.Tensor, split_weight: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Training path: a weighted midpoint per quad and 4 triangles around it."""
    if split_weight is None:
        w = torch.ones(quads.shape, dtype=vertices.dtype, device=vertices.device)
    else:
        w = split_weight.reshape(-1).to(vertices.dtype)[quads]
    mid = (vertices[quads] * w[..., None]).sum(1) / w.sum(1, keepdim=True).clamp_min(1e-12)
    mid_idx = torch.arange(quads.shape[0], device=quads.device) + vertices.shape[0]
    faces = torch.stack(
        [torch.stack([quads[:, i], quads[:, (i + 1) % 4], mid_idx], dim=1) for i in range(4)], 1
    ).reshape(-1, 3)
    return torch.cat([vertices, mid], 0), faces
