# SPDX-License-Identifier: MIT
"""Mesh clean-up: the CuMesh operations the reference export uses, vectorised in numpy/scipy,
with torch twins (any device, CUDA for the GPU export) picked when the faces are a tensor.

All functions take and return (vertices float32 [V, 3], faces int64 [F, 3]) and keep face order
where they only remove faces.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy import sparse
from scipy.sparse import csgraph

from trellis2.postprocess.non_manifold import split_non_manifold_edges
from trellis2.postprocess.topology import (
    components_torch,
    directed_edges,
    face_areas,
    face_areas_torch,
    manifold_face_pairs,
    manifold_face_pairs_torch,
    remove_unreferenced_vertices,
    remove_unreferenced_vertices_torch,
    unique_edges,
    unique_edges_torch,
    vertex_components,
    vertex_components_torch,
)


def remove_degenerate_faces(
    vertices: np.ndarray, faces: np.ndarray, min_area: float = 1e-12
) -> tuple[np.ndarray, np.ndarray]:
    """Drop faces with a repeated index or (near) zero area."""
    if isinstance(faces, torch.Tensor):
        return _remove_degenerate_torch(vertices, faces, min_area)
    distinct = (
        (faces[:, 0] != faces[:, 1]) & (faces[:, 1] != faces[:, 2]) & (faces[:, 0] != faces[:, 2])
    )
    keep = distinct & (face_areas(vertices, faces) > min_area)
    return vertices, faces[keep]


def remove_duplicate_faces(
    vertices: np.ndarray, faces: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Keep the first of faces that use the same three vertices (any order or orientation)."""
    if isinstance(faces, torch.Tensor):
        return vertices, _remove_duplicates_torch(faces, len(vertices))
    key = np.sort(faces, axis=1)
    _, first = np.unique(key, axis=0, return_index=True)
    return vertices, faces[np.sort(first)]


def repair_non_manifold_edges(
    vertices: np.ndarray, faces: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Make every edge used by at most two faces without removing any: touching parts are split
    apart by duplicating vertices (see `non_manifold`). Face count and order are kept; new
    vertices (copies) are appended."""
    return split_non_manifold_edges(vertices, faces)


def remove_small_connected_components(
    vertices: np.ndarray, faces: np.ndarray, min_area: float
) -> tuple[np.ndarray, np.ndarray]:
    """Drop connected components (through shared vertices) whose total area is below min_area."""
    if isinstance(faces, torch.Tensor):
        n, labels = vertex_components_torch(faces, len(vertices))
        if n <= 1:
            return vertices, faces
        area = torch.zeros(n, dtype=torch.float64, device=faces.device)
        area.index_add_(0, labels, face_areas_torch(vertices, faces))
        return vertices, faces[area[labels] >= min_area]
    n, labels = vertex_components(faces, len(vertices))
    if n <= 1:
        return vertices, faces
    area = np.bincount(labels, face_areas(vertices, faces), minlength=n)
    return vertices, faces[area[labels] >= min_area]


def fill_holes(
    vertices: np.ndarray, faces: np.ndarray, max_hole_perimeter: float
) -> tuple[np.ndarray, np.ndarray]:
    """Close boundary loops with perimeter <= max_hole_perimeter by a fan around their centroid.

    Boundary edges are those used by one face; each loop is a connected component of them. The
    new triangles run each boundary edge backwards so they continue the neighbour's orientation.
    """
    if isinstance(faces, torch.Tensor):
        return _fill_holes_torch(vertices, faces, max_hole_perimeter)
    e, inv, counts = unique_edges(faces, len(vertices))
    bnd = e[counts[inv] == 1]
    if len(bnd) == 0:
        return vertices, faces
    nv = len(vertices)
    g = sparse.coo_matrix((np.ones(len(bnd), np.int8), (bnd[:, 0], bnd[:, 1])), shape=(nv, nv))
    _, vlabel = csgraph.connected_components(g, directed=False)
    loop = vlabel[bnd[:, 0]]
    uniq, loop = np.unique(loop, return_inverse=True)
    seg = np.linalg.norm(vertices[bnd[:, 1]] - vertices[bnd[:, 0]], axis=1)
    perimeter = np.bincount(loop, seg, minlength=len(uniq))
    n_edges = np.bincount(loop, minlength=len(uniq))
    small = (perimeter <= max_hole_perimeter) & (n_edges >= 3)
    if not small.any():
        return vertices, faces
    sel = small[loop]
    bnd, loop = bnd[sel], loop[sel]
    remap = np.full(len(uniq), -1, dtype=np.int64)
    remap[np.flatnonzero(small)] = np.arange(int(small.sum()))
    loop = remap[loop]
    cnt = np.bincount(loop).astype(np.float64)
    centroid = (
        np.stack(
            [np.bincount(loop, vertices[bnd[:, 0], c], minlength=len(cnt)) for c in range(3)], 1
        )
        / cnt[:, None]
    )
    new_v = np.concatenate([vertices, centroid.astype(vertices.dtype)], 0)
    new_f = np.stack([bnd[:, 1], bnd[:, 0], nv + loop], axis=1)
    return new_v, np.concatenate([faces, new_f], 0)


def unify_face_orientations(
    vertices: np.ndarray, faces: np.ndarray, outward: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Make neighbouring faces agree on orientation, then (outward=True) flip each component so
    its signed volume is positive (normals out for closed shells).

    Orientation is a 2-colouring: faces f, g across a manifold edge need equal flips when they
    run the edge in opposite directions and different flips otherwise. In the doubled graph
    (f, s) -- (g, s xor parity), a face is flipped when its "flipped" copy has the smaller label.
    """
    nf = len(faces)
    if nf == 0:
        return vertices, faces
    if isinstance(faces, torch.Tensor):
        return vertices, _unify_torch(vertices, faces, outward)
    pairs, same = manifold_face_pairs(faces, len(vertices))
    a = pairs[:, 0]
    b = pairs[:, 1]
    p = same.astype(np.int64)
    rows = np.concatenate([a, a + nf])
    cols = np.concatenate([b + nf * p, b + nf * (1 - p)])
    g = sparse.coo_matrix((np.ones(len(rows), np.int8), (rows, cols)), shape=(2 * nf, 2 * nf))
    _, lab = csgraph.connected_components(g, directed=False)
    flip = lab[nf:] < lab[:nf]
    faces = np.where(flip[:, None], faces[:, ::-1], faces)
    if outward:
        n, comp = vertex_components(faces, len(vertices))
        pv = vertices[faces].astype(np.float64)
        vol = np.einsum("ij,ij->i", pv[:, 0], np.cross(pv[:, 1], pv[:, 2]))
        comp_vol = np.bincount(comp, vol, minlength=n)
        faces = np.where((comp_vol[comp] < 0)[:, None], faces[:, ::-1], faces)
    return vertices, np.ascontiguousarray(faces)


def clean_mesh(
    vertices: np.ndarray,
    faces: np.ndarray,
    min_component_area: float = 1e-5,
    max_hole_perimeter: float = 3e-2,
) -> tuple[np.ndarray, np.ndarray]:
    """The reference's clean-up sequence: duplicates, non-manifold edges, small components,
    small holes, degenerate faces, unused vertices."""
    v, f = remove_degenerate_faces(vertices, faces)
    v, f = remove_duplicate_faces(v, f)
    v, f = repair_non_manifold_edges(v, f)
    v, f = remove_small_connected_components(v, f, min_component_area)
    v, f = fill_holes(v, f, max_hole_perimeter)
    v, f = remove_degenerate_faces(v, f)
    if isinstance(f, torch.Tensor):
        v, f, _ = remove_unreferenced_vertices_torch(v, f)
    else:
        v, f, _ = remove_unreferenced_vertices(v, f)
    return v, f


# -- torch implementations (numpy or torch in, the same type out; used on CUDA) ----------------


def _remove_degenerate_torch(v: torch.Tensor, f: torch.Tensor, min_area: float):
    distinct = (f[:, 0] != f[:, 1]) & (f[:, 1] != f[:, 2]) & (f[:, 0] != f[:, 2])
    return v, f[distinct & (face_areas_torch(v, f) > min_area)]


def _remove_duplicates_torch(f: torch.Tensor, nv: int) -> torch.Tensor:
    s = torch.sort(f, dim=1).values
    if nv < (1 << 21):
        key = (s[:, 0] * nv + s[:, 1]) * nv + s[:, 2]
        _, inv = torch.unique(key, return_inverse=True)
    else:
        _, inv = torch.unique(s, dim=0, return_inverse=True)
    first = torch.full((int(inv.max()) + 1,), len(f), dtype=torch.int64, device=f.device)
    first.scatter_reduce_(0, inv, torch.arange(len(f), device=f.device), reduce="amin")
    return f[torch.sort(first).values]


def _fill_holes_torch(v: torch.Tensor, f: torch.Tensor, max_perimeter: float):
    nv = len(v)
    e, inv, counts = unique_edges_torch(f, nv)
    bnd = e[counts[inv] == 1]
    del e, inv, counts  # [3F] tables: free them before the loop search
    if len(bnd) == 0:
        return v, f
    vlabel = components_torch(nv, bnd[:, 0], bnd[:, 1])
    uniq, loop = torch.unique(vlabel[bnd[:, 0]], return_inverse=True)
    seg = (v[bnd[:, 1]].double() - v[bnd[:, 0]].double()).norm(dim=1)
    perimeter = torch.zeros(len(uniq), dtype=torch.float64, device=v.device)
    perimeter.index_add_(0, loop, seg)
    n_edges = torch.bincount(loop, minlength=len(uniq))
    small = (perimeter <= max_perimeter) & (n_edges >= 3)
    if not bool(small.any()):
        return v, f
    sel = small[loop]
    bnd, loop = bnd[sel], loop[sel]
    remap = torch.cumsum(small.long(), 0) - 1
    loop = remap[loop]
    k = int(small.sum())
    cnt = torch.bincount(loop, minlength=k).double()
    centroid = torch.zeros(k, 3, dtype=torch.float64, device=v.device)
    centroid.index_add_(0, loop, v[bnd[:, 0]].double())
    centroid /= cnt[:, None]
    new_f = torch.stack([bnd[:, 1], bnd[:, 0], nv + loop], 1)
    return torch.cat([v, centroid.to(v.dtype)]), torch.cat([f, new_f])


def _unify_torch(v: torch.Tensor, f: torch.Tensor, outward: bool) -> torch.Tensor:
    nf = len(f)
    pairs, same = manifold_face_pairs_torch(f, len(v))
    a, b, p = pairs[:, 0], pairs[:, 1], same.long()
    lab = components_torch(
        2 * nf, torch.cat([a, a + nf]), torch.cat([b + nf * p, b + nf * (1 - p)])
    )
    del pairs, same, a, b, p
    flip = lab[nf:] < lab[:nf]
    del lab
    f = torch.where(flip[:, None], f.flip(1), f)
    if outward:
        n, comp = vertex_components_torch(f, len(v))
        pv = v.double()[f]
        vol = (pv[:, 0] * torch.linalg.cross(pv[:, 1], pv[:, 2])).sum(1)
        comp_vol = torch.zeros(n, dtype=torch.float64, device=f.device)
        comp_vol.index_add_(0, comp, vol)
        f = torch.where((comp_vol[comp] < 0)[:, None], f.flip(1), f)
    return f.contiguous()


__all__ = [
    "clean_mesh",
    "directed_edges",
    "fill_holes",
    "remove_degenerate_faces",
    "remove_duplicate_faces",
    "remove_small_connected_components",
    "repair_non_manifold_edges",
    "unify_face_orientations",
]
