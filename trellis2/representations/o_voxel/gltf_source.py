# SPDX-License-Identifier: MIT
"""A textured glTF asset as flat arrays, with its PBR material evaluated at surface points.

Frame: the loaded scene is flattened (node transforms applied), turned from glTF's Y-up into
TRELLIS.2's Z-up ((X, Y, Z) → (X, -Z, Y)) and, by `normalize`, centred and scaled into the aabb
[-0.5, 0.5]^3 (largest extent = `extent`). UVs follow trimesh's convention (v up, row 0 of the
image at v = 1). Colours are sRGB values in [0, 1], metallic/roughness/alpha linear.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import trimesh
from PIL import Image


@dataclass
class SourceMaterial:
    base_color_texture: np.ndarray | None  # [H, W, 4] float sRGB + alpha
    base_color_factor: np.ndarray  # [4] linear factors (RGB multiply linear colour)
    mr_texture: np.ndarray | None  # [H, W, 3] float (G roughness, B metallic)
    metallic_factor: float
    roughness_factor: float
    alpha_mode: str
    alpha_cutoff: float


@dataclass
class SourceMesh:
    """vertices [V, 3] f32 (Z-up), faces [F, 3] int64, uvs [V, 2] f32 or None,
    face_material [F] int64 into materials."""

    vertices: np.ndarray
    faces: np.ndarray
    uvs: np.ndarray | None
    face_material: np.ndarray
    materials: list[SourceMaterial]

    def normalize(self, extent: float = 0.9) -> tuple[float, np.ndarray]:
        """Centre and scale into the unit aabb in place; returns (scale, offset) with
        new = (old - offset) * scale."""
        lo, hi = self.vertices.min(0), self.vertices.max(0)
        offset = (lo + hi) / 2
        scale = extent / float((hi - lo).max())
        self.vertices = ((self.vertices - offset) * scale).astype(np.float32)
        return scale, offset

    def sample(self, face: np.ndarray, bary: np.ndarray) -> np.ndarray:
        """PBR attributes [L, 6] (base_color 0:3 sRGB, metallic, roughness, alpha) at points given
        by face ids [L] and barycentrics [L, 3]."""
        out = np.zeros((len(face), 6), np.float32)
        uv = None
        if self.uvs is not None:
            uv = (self.uvs[self.faces[face]] * bary[:, :, None]).sum(1)
        mats = self.face_material[face]
        for m_id in np.unique(mats):
            sel = mats == m_id
            out[sel] = _evaluate(self.materials[m_id], None if uv is None else uv[sel], sel.sum())
        return out


def _srgb_to_linear(c: np.ndarray) -> np.ndarray:
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def _linear_to_srgb(c: np.ndarray) -> np.ndarray:
    c = np.clip(c, 0.0, 1.0)
    return np.where(c <= 0.0031308, c * 12.92, 1.055 * c ** (1 / 2.4) - 0.055)


def bilinear(img: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """Sample [H, W, C] at trimesh-convention UVs [L, 2] with REPEAT wrapping."""
    h, w = img.shape[:2]
    x = (uv[:, 0] % 1.0) * w - 0.5
    y = ((1.0 - uv[:, 1]) % 1.0) * h - 0.5
    x0, y0 = np.floor(x).astype(np.int64), np.floor(y).astype(np.int64)
    fx, fy = (x - x0)[:, None], (y - y0)[:, None]
    x1, y1 = (x0 + 1) % w, (y0 + 1) % h
    x0, y0 = x0 % w, y0 % h
    return (
        img[y0, x0] * (1 - fx) * (1 - fy)
        + img[y0, x1] * fx * (1 - fy)
        + img[y1, x0] * (1 - fx) * fy
        + img[y1, x1] * fx * fy
    )


def _evaluate(m: SourceMaterial, uv: np.ndarray | None, n: int) -> np.ndarray:
    base = np.ones((n, 4))
    if m.base_color_texture is not None and uv is not None:
        base = bilinear(m.base_color_texture, uv)
    rgb = _linear_to_srgb(_srgb_to_linear(base[:, :3]) * m.base_color_factor[:3])
    alpha = base[:, 3] * m.base_color_factor[3]
    if m.alpha_mode == "OPAQUE":
        alpha = np.ones_like(alpha)
    elif m.alpha_mode == "MASK":
        alpha = (alpha >= m.alpha_cutoff).astype(np.float64)
    metallic = np.full(n, m.metallic_factor)
    roughness = np.full(n, m.roughness_factor)
    if m.mr_texture is not None and uv is not None:
        mr = bilinear(m.mr_texture, uv)
        roughness = roughness * mr[:, 1]
        metallic = metallic * mr[:, 2]
    return np.concatenate([rgb, metallic[:, None], roughness[:, None], alpha[:, None]], 1).astype(
        np.float32
    )


def _image(img: Image.Image | None, mode: str) -> np.ndarray | None:
    if img is None:
        return None
    return np.asarray(img.convert(mode), dtype=np.float32) / 255.0


def _material(visual: object) -> SourceMaterial:
    mat = getattr(visual, "material", None)
    if isinstance(mat, trimesh.visual.material.SimpleMaterial):
        mat = mat.to_pbr()
    if not isinstance(mat, trimesh.visual.material.PBRMaterial):
        return SourceMaterial(None, np.ones(4), None, 0.0, 1.0, "OPAQUE", 0.5)
    factor = mat.baseColorFactor
    factor = np.ones(4) if factor is None else np.asarray(factor, np.float64) / 255.0
    return SourceMaterial(
        base_color_texture=_image(mat.baseColorTexture, "RGBA"),
        base_color_factor=factor,
        mr_texture=_image(mat.metallicRoughnessTexture, "RGB"),
        metallic_factor=1.0 if mat.metallicFactor is None else float(mat.metallicFactor),
        roughness_factor=1.0 if mat.roughnessFactor is None else float(mat.roughnessFactor),
        alpha_mode=mat.alphaMode or "OPAQUE",
        alpha_cutoff=0.5 if mat.alphaCutoff is None else float(mat.alphaCutoff),
    )


def load_gltf(path: str | Path) -> SourceMesh:
    """Load a .glb/.gltf (every node instance, transforms applied) into one SourceMesh."""
    scene = trimesh.load(str(path), force="scene")
    verts, faces, uvs, fmat, mats = [], [], [], [], []
    offset = 0
    has_uv = True
    for geom in scene.dump():
        if not isinstance(geom, trimesh.Trimesh) or len(geom.faces) == 0:
            continue
        uv = getattr(geom.visual, "uv", None)
        has_uv &= uv is not None
        verts.append(np.asarray(geom.vertices, np.float64))
        faces.append(np.asarray(geom.faces, np.int64) + offset)
        uvs.append(np.zeros((len(geom.vertices), 2)) if uv is None else np.asarray(uv))
        fmat.append(np.full(len(geom.faces), len(mats), np.int64))
        mats.append(_material(geom.visual))
        offset += len(geom.vertices)
    if not verts:
        raise ValueError(f"{path}: no triangle meshes found; convert needs a textured mesh")
    v = np.concatenate(verts)
    v = np.stack([v[:, 0], -v[:, 2], v[:, 1]], 1)  # glTF Y-up → Z-up
    return SourceMesh(
        vertices=v.astype(np.float32),
        faces=np.concatenate(faces),
        uvs=np.concatenate(uvs).astype(np.float32) if has_uv else None,
        face_material=np.concatenate(fmat),
        materials=mats,
    )
