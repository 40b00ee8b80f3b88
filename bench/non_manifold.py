# SPDX-License-Identifier: MIT
"""Time the non-manifold edge repair and clean_mesh on ~1M-face CPU meshes (numpy and torch).

Meshes: the boundary of a random voxel set (many blobs touching along edges: non-manifold edges
as in an O-Voxel mesh) and a clean icosphere. Usage (repo root or any checkout on PYTHONPATH):
    OMP_NUM_THREADS=2 python bench/non_manifold.py
"""

from __future__ import annotations

import time

import numpy as np
import torch
import trimesh
from scipy import ndimage

from trellis2.postprocess.cleanup import clean_mesh, repair_non_manifold_edges


def voxel_boundary(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Outward boundary (2 triangles per exposed voxel face, welded grid vertices) of smoothed
    random noise thresholded on an n^3 grid."""
    rng = np.random.default_rng(seed)
    occ = ndimage.gaussian_filter(rng.random((n, n, n)), 1.2) > 0.5
    occ = np.pad(occ, 1)
    tris = []
    for a in range(3):
        b, c = (a + 1) % 3, (a + 2) % 3
        d = np.diff(occ.astype(np.int8), axis=a)  # +1: empty -> full (face looks -a)
        for s in (1, -1):
            idx = np.argwhere(d == s).astype(np.int64)  # face at coordinate idx[a] + 1
            base = idx.copy()
            base[:, a] += 1
            eb, ec = np.eye(3, dtype=np.int64)[b], np.eye(3, dtype=np.int64)[c]
            p = [base, base + eb, base + eb + ec, base + ec]
            quad = [(p[0], p[1], p[2]), (p[0], p[2], p[3])]
            if s == 1:  # solid on +a side: normal -a, reverse
                quad = [t[::-1] for t in quad]
            tris += [np.stack(t, 1) for t in quad]
    pts = np.concatenate(tris).reshape(-1, 3)
    key = (pts[:, 0] * (n + 3) + pts[:, 1]) * (n + 3) + pts[:, 2]
    uk, inv = np.unique(key, return_inverse=True)
    v = np.stack([uk // (n + 3) ** 2, (uk // (n + 3)) % (n + 3), uk % (n + 3)], 1) / n
    return v.astype(np.float32), inv.reshape(-1, 3).astype(np.int64)


def best_of(fn, reps: int = 3) -> float:
    t = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        t.append(time.perf_counter() - t0)
    return min(t)


def main() -> None:
    ico = trimesh.creation.icosphere(8)  # 1.3M faces, manifold
    meshes = {
        "voxel_noise_96": voxel_boundary(96),
        "icosphere_8": (ico.vertices.astype(np.float32), ico.faces.astype(np.int64)),
    }
    for name, (v, f) in meshes.items():
        e = np.sort(np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]]), axis=1)
        _, c = np.unique(e[:, 0] * len(v) + e[:, 1], return_counts=True)
        print(f"{name}: {len(f)} faces, {(c > 2).sum()} edges with > 2 faces")
        vt, ft = torch.from_numpy(v), torch.from_numpy(f)
        for label, args in [("numpy", (v, f)), ("torch", (vt, ft))]:
            for op in (repair_non_manifold_edges, clean_mesh):
                out = op(*args)
                dt = best_of(lambda op=op, args=args: op(*args))
                print(f"  {label} {op.__name__}: {dt:.3f} s -> {len(out[1])} faces")


if __name__ == "__main__":
    main()
