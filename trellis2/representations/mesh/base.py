# SPDX-License-Identifier: MIT
"""Mesh objects the pipeline returns (reference §8.3, §16.2).

Frame: TRELLIS.2's, vertices in the aabb [-0.5, 0.5]^3, Z-up. Tensors stay on their device: on
CUDA the mesh operations (hole filling, decimation) run there in torch; on CPU they run in numpy
(scipy's graph routines and fast-simplification are faster there) and move the result back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch

from trellis2.postprocess.cleanup import fill_holes
from trellis2.postprocess.decimate import simplify
from trellis2.representations.o_voxel.grid_sample import sample_attrs


class Mesh:
    """Triangle mesh: vertices [V, 3] float32, faces [F, 3] int (torch, any device)."""

    def __init__(self, vertices: torch.Tensor, faces: torch.Tensor) -> None:
        self.vertices = vertices
        self.faces = faces

    @property
    def device(self) -> torch.device:
        return self.vertices.device

    def _set_numpy(self, v: np.ndarray, f: np.ndarray) -> None:
        self.vertices = torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32)).to(self.device)
        self.faces = torch.from_numpy(np.ascontiguousarray(f)).to(self.faces.dtype).to(self.device)

    def _numpy(self) -> tuple[np.ndarray, np.ndarray]:
        v = self.vertices.detach().cpu().numpy().astype(np.float32)
        return v, self.faces.detach().cpu().numpy().astype(np.int64)

    def fill_holes(self, max_hole_perimeter: float = 3e-2) -> None:
        """Close boundary loops up to this perimeter (in place, like the reference)."""
        if self.device.type == "cuda":
            self.vertices, faces = fill_holes(self.vertices, self.faces.long(), max_hole_perimeter)
            self.faces = faces.to(self.faces.dtype)
            return
        self._set_numpy(*fill_holes(*self._numpy(), max_hole_perimeter))

    def simplify(self, target: int = 1000000, verbose: bool = False, options=None) -> None:
        """Decimate to about `target` faces (in place)."""
        n_before = int(self.faces.shape[0])
        if self.device.type == "cuda":  # the GPU decimator (decimate.simplify dispatches on it)
            v, f = simplify(self.vertices.float(), self.faces.long(), int(target))
            self.vertices, self.faces = v, f.to(self.faces.dtype)
        else:
            self._set_numpy(*simplify(*self._numpy(), int(target)))
        if verbose:
            print(f"simplify: {n_before} → {self.faces.shape[0]} faces")

    def remove_faces(self, mask: torch.Tensor) -> None:
        """Drop the faces where mask [F] is True."""
        self.faces = self.faces[~mask.to(self.faces.device)]

    def to(self, device: torch.device | str) -> Mesh:
        self.vertices = self.vertices.to(device)
        self.faces = self.faces.to(device)
        return self

    def cuda(self) -> Mesh:
        return self.to("cuda")

    def cpu(self) -> Mesh:
        return self.to("cpu")


class MeshWithVoxel(Mesh):
    """A mesh plus the attribute voxels it is textured from.

    coords [N, 3] int (x, y, z) voxel indices; attrs [N, C] float; voxel i spans
    origin + [i, i + 1) * voxel_size; layout maps attribute names to channel slices
    (base_color 0:3, metallic 3:4, roughness 4:5, alpha 5:6 for TRELLIS.2).
    """

    def __init__(
        self,
        vertices: torch.Tensor,
        faces: torch.Tensor,
        origin: Sequence[float],
        voxel_size: float,
        coords: torch.Tensor,
        attrs: torch.Tensor,
        voxel_shape: torch.Size | Sequence[int],
        layout: Mapping[str, slice],
    ) -> None:
        super().__init__(vertices, faces)
        self.origin = torch.as_tensor(origin, dtype=torch.float32)
        self.voxel_size = float(voxel_size)
        self.coords = coords
        self.attrs = attrs
        self.voxel_shape = torch.Size(voxel_shape)
        self.layout = dict(layout)

    def query_attrs(self, xyz: torch.Tensor) -> torch.Tensor:
        """Trilinear attributes [L, C] at world points xyz [L, 3] (FlexGEMM semantics)."""
        out = sample_attrs(
            self.attrs.float(),
            self.coords.to(xyz.device),
            xyz,
            self.origin.tolist(),
            self.voxel_size,
        )
        return out.to(self.attrs.dtype)

    def query_vertex_attrs(self) -> torch.Tensor:
        return self.query_attrs(self.vertices)

    def to(self, device: torch.device | str) -> MeshWithVoxel:
        super().to(device)
        self.coords = self.coords.to(device)
        self.attrs = self.attrs.to(device)
        return self
