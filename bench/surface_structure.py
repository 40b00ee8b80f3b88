# SPDX-License-Identifier: MIT
"""A real asset's surface as the voxel structure of a benchmark generation.

Random weights give random occupancy and random subdivisions, so `bench/pipeline.py` drives the
structure from a real surface instead: the sparse structure is the set of voxels the surface
passes through, and every decoder subdivision (C2S level) keeps exactly the children that the
surface passes through at the next resolution.

Frame: the glTF scene is flattened and turned Z-up by `load_gltf`, then centred on its bbox
centre and scaled so its largest extent is `extent` (TRELLIS's unit-cube normalisation), inside
the aabb [-0.5, 0.5]^3. Voxel (x, y, z) at resolution r spans [-0.5 + x / r, -0.5 + (x + 1) / r)
on each axis, like every grid in this package.

How: dense area sampling at the finest resolution of a chain (1024 for 32..1024, 1536 for
96..1536): triangles are split 1-to-4 until every edge is at most `split_voxels` voxels, then
each piece is sampled on a barycentric lattice of `lattice` steps per edge (point spacing <= 1/3
voxel). A coarser level is the fine set divided by 2 per level, which is exactly how the shape
encoder's Spatial2Channel defines the latent structure of a real asset, so the levels nest.
"""

from __future__ import annotations

from pathlib import Path

import torch

from trellis2.modules.sparse import SparseTensor

# Children of voxel p: 2p + (dx, dy, dz) with slot k = dx + 2 dy + 4 dz (see
# trellis2/modules/sparse/spatial.py), so a guide's column k talks about that child.
CHILD_OFFSETS = torch.tensor([[k & 1, (k >> 1) & 1, (k >> 2) & 1] for k in range(8)])
_CHUNK_POINTS = 1 << 24


def load_triangles(path: str | Path, extent: float = 0.99999) -> torch.Tensor:
    """Triangles [F, 3, 3] float32 of a glTF/GLB (Z-up, centred, largest extent `extent`)."""
    from trellis2.representations.o_voxel.gltf_source import load_gltf

    src = load_gltf(path)
    src.normalize(extent)
    return torch.from_numpy(src.vertices)[torch.from_numpy(src.faces)]


def _split_until(tri: torch.Tensor, max_edge: float) -> torch.Tensor:
    """Split [F, 3, 3] triangles 1-to-4 at edge midpoints until every edge <= max_edge."""
    done = []
    while tri.shape[0]:
        e = torch.stack([tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 1], tri[:, 0] - tri[:, 2]], 1)
        big = e.norm(dim=2).amax(1) > max_edge
        done.append(tri[~big])
        t = tri[big]
        a, b, c = t[:, 0], t[:, 1], t[:, 2]
        ab, bc, ca = (a + b) / 2, (b + c) / 2, (c + a) / 2
        tri = torch.cat(
            [
                torch.stack([a, ab, ca], 1),
                torch.stack([ab, b, bc], 1),
                torch.stack([ca, bc, c], 1),
                torch.stack([ab, bc, ca], 1),
            ]
        )
    return torch.cat(done)


def _lattice_weights(n: int, device: torch.device) -> torch.Tensor:
    """Barycentric weights [(n+1)(n+2)/2, 3] of the lattice i/n, j/n (i + j <= n)."""
    i, j = torch.meshgrid(torch.arange(n + 1), torch.arange(n + 1), indexing="ij")
    keep = (i + j) <= n
    u, v = i[keep].float() / n, j[keep].float() / n
    return torch.stack([1 - u - v, u, v], 1).to(device)


def surface_voxels(
    tri: torch.Tensor, res: int, split_voxels: float = 4.0, lattice: int = 12
) -> torch.Tensor:
    """Voxels [M, 3] int32 (x, y, z), sorted x-major, that the triangles pass through at `res`."""
    tri = tri.float() * res + res / 2  # voxel units, grid [0, res)^3
    pieces = _split_until(tri, split_voxels)
    w = _lattice_weights(lattice, tri.device)
    step = max(1, _CHUNK_POINTS // w.shape[0])
    keys = []
    for s in range(0, pieces.shape[0], step):
        p = torch.einsum("sk,fkd->fsd", w, pieces[s : s + step]).reshape(-1, 3)
        c = p.floor().long().clamp_(0, res - 1)
        keys.append(torch.unique((c[:, 0] * res + c[:, 1]) * res + c[:, 2]))
    k = torch.unique(torch.cat(keys))
    return torch.stack([k // (res * res), (k // res) % res, k % res], 1).int()


class SurfaceLevels:
    """The surface voxel set at every resolution of a chain res_fine / 2^i.

    sets[r]: sorted int64 keys (x * r + y) * r + z; `coords(r)` gives [M, 4] int32 (0, x, y, z).
    """

    def __init__(self, fine: torch.Tensor, res_fine: int, res_coarse: int) -> None:
        self.sets: dict[int, torch.Tensor] = {}
        c, r = fine.long(), res_fine
        while r >= res_coarse:
            self.sets[r] = torch.unique((c[:, 0] * r + c[:, 1]) * r + c[:, 2])
            if r % 2:
                break
            c, r = torch.unique(c // 2, dim=0), r // 2

    @classmethod
    def from_triangles(
        cls, tri: torch.Tensor, res_fine: int, res_coarse: int, **kw: float
    ) -> SurfaceLevels:
        return cls(surface_voxels(tri, res_fine, **kw), res_fine, res_coarse)

    def count(self, res: int) -> int:
        return int(self.sets[res].numel())

    def coords(self, res: int) -> torch.Tensor:
        k = self.sets[res]
        xyz = torch.stack([k // (res * res), (k // res) % res, k % res], 1)
        return torch.cat([torch.zeros_like(xyz[:, :1]), xyz], 1).int()

    def contains(self, res: int, xyz: torch.Tensor) -> torch.Tensor:
        """Bool [...] for int coords [..., 3] at `res` (outside the grid = False)."""
        keys = self.sets[res]
        xyz = xyz.long()
        inside = ((xyz >= 0) & (xyz < res)).all(-1)
        q = (xyz[..., 0] * res + xyz[..., 1]) * res + xyz[..., 2]
        pos = torch.searchsorted(keys, q).clamp_(max=max(keys.numel() - 1, 0))
        return inside & (keys.numel() > 0) & (keys[pos] == q)


def guide_subs(
    coords: torch.Tensor, res: int, levels: int, surface: SurfaceLevels
) -> tuple[list[SparseTensor], torch.Tensor]:
    """Subdivision guides for `levels` C2S levels starting at `coords` [N, 4] (b, x, y, z) at
    `res`: per level a SparseTensor [N_i, 8] of logits on that level's voxels (+1 where child k
    is a surface voxel at 2 res, else -1), rows in the decoder's order (parent-major, ascending
    slot, as channel2spatial_map lays them out). Returns (guides, final coords [M, 4] int32)."""
    guides = []
    offsets = CHILD_OFFSETS.to(coords.device)
    for _ in range(levels):
        child = coords[:, None, 1:].long() * 2 + offsets[None]  # [N, 8, 3]
        keep = surface.contains(res * 2, child)
        guides.append(SparseTensor(keep.float() * 2 - 1, coords))
        parent, slot = keep.nonzero(as_tuple=True)
        coords = torch.cat([coords[parent, :1].long(), child[parent, slot]], 1).int()
        res *= 2
    return guides, coords


def main() -> None:
    """Surface voxel counts of every asset in a folder (pick the benchmark asset by its count
    at 64^3, the 1024 pipeline's latent grid; the paper reports ~9.6K tokens on average)."""
    import argparse
    import os

    ap = argparse.ArgumentParser(description=main.__doc__.splitlines()[0])
    shared = os.environ.get("TRELLIS2_SHARED", str(Path(__file__).resolve().parents[2] / "shared"))
    ap.add_argument("folder", nargs="?", default=str(Path(shared) / "assets" / "gltf"))
    ap.add_argument("--res", type=int, default=256, help="finest sampled grid (32..res counted)")
    args = ap.parse_args()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    for path in sorted(Path(args.folder).glob("*.gl*")):
        tri = load_triangles(path).to(device)
        levels = SurfaceLevels.from_triangles(tri, args.res, 32)
        counts = ", ".join(f"{r}^3: {levels.count(r)}" for r in sorted(levels.sets))
        print(f"{path.name}: {len(tri)} triangles; {counts}", flush=True)


if __name__ == "__main__":
    main()
