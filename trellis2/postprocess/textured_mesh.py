# SPDX-License-Identifier: MIT
"""The exported asset before serialisation, and its writers (GLB / glTF, per profile)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from trellis2.postprocess.gltf_writer import GltfMaterial, GltfPrimitive, build_gltf
from trellis2.postprocess.textures import encode, extra_texture, formats_for_profile, to_u8


def z_up_to_y_up(v: np.ndarray) -> np.ndarray:
    """(x, y, z) in TRELLIS.2's Z-up frame → glTF's Y-up (x, z, -y)."""
    return np.stack([v[:, 0], v[:, 2], -v[:, 1]], axis=1)


def compute_tangents(
    positions: np.ndarray, normals: np.ndarray, uvs: np.ndarray, faces: np.ndarray
) -> np.ndarray:
    """Per-vertex tangents [V, 4] (xyz unit, w = ±1 handedness) from UV gradients, Gram-Schmidt
    orthogonalised against the normals. uvs use glTF's convention (v down the image)."""
    p = positions[faces].astype(np.float64)
    t = uvs[faces].astype(np.float64)
    e1, e2 = p[:, 1] - p[:, 0], p[:, 2] - p[:, 0]
    d1, d2 = t[:, 1] - t[:, 0], t[:, 2] - t[:, 0]
    det = d1[:, 0] * d2[:, 1] - d2[:, 0] * d1[:, 1]
    r = np.where(np.abs(det) > 1e-20, 1.0 / np.where(det == 0, 1.0, det), 0.0)[:, None]
    sdir = (e1 * d2[:, 1:2] - e2 * d1[:, 1:2]) * r
    tdir = (e2 * d1[:, 0:1] - e1 * d2[:, 0:1]) * r
    nv = len(positions)
    flat = faces.reshape(-1)

    def accumulate(x: np.ndarray) -> np.ndarray:
        return np.stack(
            [np.bincount(flat, np.repeat(x[:, c], 3), minlength=nv) for c in range(3)], 1
        )

    tan, bit = accumulate(sdir), accumulate(tdir)
    n = normals.astype(np.float64)
    tan = tan - n * (n * tan).sum(1, keepdims=True)
    ln = np.linalg.norm(tan, axis=1, keepdims=True)
    # Fallback for vertices without a UV gradient: any unit vector perpendicular to the normal.
    helper = np.where(np.abs(n[:, :1]) < 0.9, [[1.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]])
    alt = np.cross(n, helper)
    alt /= np.maximum(np.linalg.norm(alt, axis=1, keepdims=True), 1e-20)
    tan = np.where(ln > 1e-12, tan / np.maximum(ln, 1e-20), alt)
    # glTF: bitangent = cross(normal, tangent.xyz) * w; v grows downward in the image.
    w = np.where((np.cross(n, tan) * bit).sum(1) < 0.0, -1.0, 1.0)
    return np.concatenate([tan, w[:, None]], 1).astype(np.float32)


def unit_rows(v: np.ndarray) -> np.ndarray:
    v = v.astype(np.float64)
    ln = np.linalg.norm(v, axis=1, keepdims=True)
    out = np.where(ln > 1e-12, v / np.maximum(ln, 1e-20), np.array([0.0, 1.0, 0.0]))
    return out.astype(np.float32)


@dataclass
class TexturedMesh:
    """A baked, UV-mapped mesh in TRELLIS.2's Z-up frame.

    vertices [V, 3] f32, faces [F, 3] int64, uvs [V, 2] f32 (glTF convention), normals [V, 3] f32,
    maps float32 [S, S, C] in [0, 1]: base_color (3, sRGB values), metallic (1), roughness (1),
    alpha (1), normal (3, tangent space encoded 0..1) or None, occlusion (1, 1 = open) or None.
    """

    vertices: np.ndarray
    faces: np.ndarray
    uvs: np.ndarray
    normals: np.ndarray
    base_color: np.ndarray
    metallic: np.ndarray
    roughness: np.ndarray
    alpha: np.ndarray
    normal_map: np.ndarray | None
    occlusion: np.ndarray | None = None
    alpha_mode: str = "OPAQUE"
    double_sided: bool = False
    extras: dict = field(default_factory=dict)
    name: str = "asset"

    @property
    def texture_size(self) -> int:
        return int(self.base_color.shape[0])

    def to_files(
        self,
        container: str = "glb",
        profile: str = "generic",
        texture_format: str = "png",
        extra_textures: tuple[str, ...] = (),
        generator: str = "trellis2",
    ) -> list[tuple[str, bytes, str, str]]:
        """Serialise: [(file name, bytes, media type, kind)] with the main file first; kind is
        "asset", "asset_part" (.bin and images of a .gltf) or "extra_texture"."""
        fmts = formats_for_profile(profile, texture_format, self.alpha_mode != "OPAQUE")
        rgba = to_u8(np.concatenate([self.base_color, self.alpha], axis=-1))
        if self.alpha_mode == "OPAQUE":
            rgba = rgba[..., :3]
        # ORM packing: R occlusion (when baked; glTF ignores R for metallic-roughness), G
        # roughness, B metallic. The same image then serves as the occlusion texture.
        occ_r = self.occlusion if self.occlusion is not None else np.zeros_like(self.roughness)
        mr = to_u8(np.concatenate([occ_r, self.roughness, self.metallic], axis=-1))
        jobs = [
            (rgba, fmts["base_color"], "basecolor", False),
            (mr, fmts["metallic_roughness"], "metallic_roughness", False),
        ]
        if self.normal_map is not None:
            jobs.append((to_u8(self.normal_map), fmts["normal"], "normal", True))
        for kind in extra_textures:
            occ = None if self.occlusion is None else self.occlusion[..., 0]
            jobs.append(
                (extra_texture(kind, self.metallic, self.roughness, occ), "png", kind, False)
            )
        # PNG/JPEG/WebP encoders release the GIL: encode all images at once.
        with ThreadPoolExecutor(len(jobs)) as pool:
            images = list(pool.map(lambda j: encode(*j), jobs))
        base, mr_img = images[0], images[1]
        normal_img = images[2] if self.normal_map is not None else None
        extra_imgs = images[3 if self.normal_map is not None else 2 :]
        pos = z_up_to_y_up(self.vertices)
        nrm = unit_rows(z_up_to_y_up(self.normals))
        tangents = compute_tangents(pos, nrm, self.uvs, self.faces) if normal_img else None
        files = build_gltf(
            GltfPrimitive(pos, nrm, self.uvs, self.faces, tangents),
            GltfMaterial(
                base_color=base,
                metallic_roughness=mr_img,
                normal=normal_img,
                occlusion_in_mr=self.occlusion is not None,
                alpha_mode=self.alpha_mode,
                double_sided=self.double_sided,
            ),
            container=container,
            name=self.name,
            webp_extension=profile != "unity",
            extras=self.extras,
            generator=generator,
        )
        out = [(n, d, m, "asset" if i == 0 else "asset_part") for i, (n, d, m) in enumerate(files)]
        for kind, img in zip(extra_textures, extra_imgs, strict=True):
            out.append((f"{self.name}_{kind}.png", img.data, img.mime, "extra_texture"))
        return out

    def export(
        self,
        path: str | Path,
        extension_webp: bool = False,
        profile: str = "generic",
        texture_format: str | None = None,
    ) -> list[Path]:
        """Write to `path` (.glb or .gltf, sibling files beside a .gltf). extension_webp=True
        stores textures as WebP through EXT_texture_webp (the reference's call). Returns the
        paths written."""
        path = Path(path)
        container = path.suffix.lower().lstrip(".")
        if container not in ("glb", "gltf"):
            raise ValueError(f"export path must end in .glb or .gltf, got {path.name!r}")
        fmt = texture_format or ("webp" if extension_webp else "png")
        old_name, self.name = self.name, path.stem
        try:
            files = self.to_files(container, profile, fmt)
        finally:
            self.name = old_name
        written = []
        for name, data, _, _ in files:
            target = path.with_name(name)
            target.write_bytes(data)
            written.append(target)
        return written
