# SPDX-License-Identifier: MIT
"""Minimal glTF 2.0 writer (GLB or .gltf + .bin + images) for one textured PBR primitive.

We write the JSON ourselves so the output is fully controlled and validator-clean: 4-byte aligned
buffer views, POSITION min/max, unit normals, TANGENT only with a normal map, metallic-roughness
packing (G roughness, B metallic, linear) and sRGB base colour as glTF defines them. Input
geometry is already in glTF's Y-up frame.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field

import numpy as np

_ARRAY_BUFFER = 34962
_ELEMENT_ARRAY_BUFFER = 34963
_FLOAT = 5126
_UINT16 = 5123
_UINT32 = 5125


@dataclass(frozen=True)
class EncodedImage:
    """An encoded texture image: name without extension, bytes, MIME type (image/png|jpeg|webp)."""

    name: str
    data: bytes
    mime: str

    @property
    def extension(self) -> str:
        return {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}[self.mime]


@dataclass(frozen=True)
class GltfPrimitive:
    """Geometry in glTF frame: positions [V, 3] f32, normals [V, 3] f32 unit, uvs [V, 2] f32,
    tangents [V, 4] f32 or None, indices [F, 3] int."""

    positions: np.ndarray
    normals: np.ndarray
    uvs: np.ndarray
    indices: np.ndarray
    tangents: np.ndarray | None = None


@dataclass(frozen=True)
class GltfMaterial:
    base_color: EncodedImage
    metallic_roughness: EncodedImage
    normal: EncodedImage | None = None
    # The metallic-roughness image carries ambient occlusion in R (ORM): reference it as the
    # occlusion texture too.
    occlusion_in_mr: bool = False
    alpha_mode: str = "OPAQUE"
    alpha_cutoff: float = 0.5
    double_sided: bool = False
    name: str = "material"


@dataclass
class _Builder:
    chunks: list[bytes] = field(default_factory=list)
    views: list[dict] = field(default_factory=list)
    accessors: list[dict] = field(default_factory=list)
    offset: int = 0

    def view(self, data: bytes, target: int | None = None) -> int:
        pad = (-self.offset) % 4
        if pad:
            self.chunks.append(b"\x00" * pad)
            self.offset += pad
        v: dict = {"buffer": 0, "byteOffset": self.offset, "byteLength": len(data)}
        if target is not None:
            v["target"] = target
        self.chunks.append(data)
        self.offset += len(data)
        self.views.append(v)
        return len(self.views) - 1

    def accessor(self, arr: np.ndarray, kind: str, comp: int, target: int, minmax: bool = False):
        view = self.view(np.ascontiguousarray(arr).tobytes(), target)
        acc: dict = {
            "bufferView": view,
            "componentType": comp,
            "count": int(arr.shape[0]),
            "type": kind,
        }
        if minmax:
            acc["min"] = [float(x) for x in arr.min(0)]
            acc["max"] = [float(x) for x in arr.max(0)]
        self.accessors.append(acc)
        return len(self.accessors) - 1

    def blob(self) -> bytes:
        data = b"".join(self.chunks)
        return data + b"\x00" * ((-len(data)) % 4)


def build_gltf(
    prim: GltfPrimitive,
    material: GltfMaterial,
    container: str,
    name: str = "asset",
    webp_extension: bool = False,
    extras: dict | None = None,
    generator: str = "trellis2",
) -> list[tuple[str, bytes, str]]:
    """Serialise to files [(name, bytes, media type)], the main file first.

    container "glb": one binary file. "gltf": name.gltf + name.bin + one file per image.
    webp_extension: images in WebP are referenced through EXT_texture_webp (required, no fallback).
    """
    if container not in ("glb", "gltf"):
        raise ValueError(f"container must be glb or gltf, got {container!r}")
    b = _Builder()
    attrs = {
        "POSITION": b.accessor(
            prim.positions.astype(np.float32), "VEC3", _FLOAT, _ARRAY_BUFFER, True
        ),
        "NORMAL": b.accessor(prim.normals.astype(np.float32), "VEC3", _FLOAT, _ARRAY_BUFFER),
        "TEXCOORD_0": b.accessor(prim.uvs.astype(np.float32), "VEC2", _FLOAT, _ARRAY_BUFFER),
    }
    if prim.tangents is not None and material.normal is not None:
        attrs["TANGENT"] = b.accessor(
            prim.tangents.astype(np.float32), "VEC4", _FLOAT, _ARRAY_BUFFER
        )
    n_vert = prim.positions.shape[0]
    idx_dtype, idx_comp = (np.uint16, _UINT16) if n_vert < 65535 else (np.uint32, _UINT32)
    indices = b.accessor(
        prim.indices.reshape(-1, 1).astype(idx_dtype), "SCALAR", idx_comp, _ELEMENT_ARRAY_BUFFER
    )

    images_in = [material.base_color, material.metallic_roughness]
    if material.normal is not None:
        images_in.append(material.normal)
    images: list[dict] = []
    textures: list[dict] = []
    side_files: list[tuple[str, bytes, str]] = []
    uses_webp = False
    for img in images_in:
        if container == "glb":
            images.append({"bufferView": b.view(img.data), "mimeType": img.mime, "name": img.name})
        else:
            fname = f"{name}_{img.name}.{img.extension}"
            images.append({"uri": fname, "name": img.name})
            side_files.append((fname, img.data, img.mime))
        if img.mime == "image/webp":
            if not webp_extension:
                raise ValueError("WebP images need webp_extension=True (EXT_texture_webp)")
            uses_webp = True
            textures.append(
                {"sampler": 0, "extensions": {"EXT_texture_webp": {"source": len(images) - 1}}}
            )
        else:
            textures.append({"sampler": 0, "source": len(images) - 1})

    pbr = {
        "baseColorTexture": {"index": 0},
        "metallicRoughnessTexture": {"index": 1},
        "metallicFactor": 1.0,
        "roughnessFactor": 1.0,
    }
    mat: dict = {"name": material.name, "pbrMetallicRoughness": pbr}
    if material.normal is not None:
        mat["normalTexture"] = {"index": 2}
    if material.occlusion_in_mr:
        mat["occlusionTexture"] = {"index": 1}
    if material.alpha_mode != "OPAQUE":
        mat["alphaMode"] = material.alpha_mode
        if material.alpha_mode == "MASK":
            mat["alphaCutoff"] = float(material.alpha_cutoff)
    if material.double_sided:
        mat["doubleSided"] = True

    blob = b.blob()
    asset: dict = {"version": "2.0", "generator": generator}
    if extras:
        asset["extras"] = extras
    doc: dict = {
        "asset": asset,
        "scene": 0,
        "scenes": [{"name": name, "nodes": [0]}],
        "nodes": [{"name": name, "mesh": 0}],
        "meshes": [
            {
                "name": name,
                "primitives": [{"attributes": attrs, "indices": indices, "material": 0, "mode": 4}],
            }
        ],
        "materials": [mat],
        "textures": textures,
        "images": images,
        "samplers": [{"magFilter": 9729, "minFilter": 9987, "wrapS": 10497, "wrapT": 10497}],
        "accessors": b.accessors,
        "bufferViews": b.views,
        "buffers": [{"byteLength": len(blob)}],
    }
    if uses_webp:
        doc["extensionsUsed"] = ["EXT_texture_webp"]
        doc["extensionsRequired"] = ["EXT_texture_webp"]

    if container == "glb":
        body = json.dumps(doc, separators=(",", ":")).encode("utf-8")
        body += b" " * ((-len(body)) % 4)
        total = 12 + 8 + len(body) + 8 + len(blob)
        glb = b"".join(
            [
                struct.pack("<4sII", b"glTF", 2, total),
                struct.pack("<I4s", len(body), b"JSON"),
                body,
                struct.pack("<I4s", len(blob), b"BIN\x00"),
                blob,
            ]
        )
        return [(f"{name}.glb", glb, "model/gltf-binary")]
    doc["buffers"][0]["uri"] = f"{name}.bin"
    text = json.dumps(doc, indent=1).encode("utf-8")
    return [
        (f"{name}.gltf", text, "model/gltf+json"),
        (f"{name}.bin", blob, "application/octet-stream"),
        *side_files,
    ]


def build_simple_glb(
    positions: np.ndarray, indices: np.ndarray, colors: np.ndarray | None = None
) -> bytes:
    """Small untextured GLB for previews: positions [V, 3] f32 (glTF frame), indices [F, 3],
    optional vertex colours [V, 3] in [0, 1] (linear), flat shaded by the viewer."""
    b = _Builder()
    attrs = {
        "POSITION": b.accessor(positions.astype(np.float32), "VEC3", _FLOAT, _ARRAY_BUFFER, True)
    }
    if colors is not None:
        attrs["COLOR_0"] = b.accessor(colors.astype(np.float32), "VEC3", _FLOAT, _ARRAY_BUFFER)
    idx_dtype, comp = (np.uint16, _UINT16) if len(positions) < 65535 else (np.uint32, _UINT32)
    ind = b.accessor(
        indices.reshape(-1, 1).astype(idx_dtype), "SCALAR", comp, _ELEMENT_ARRAY_BUFFER
    )
    blob = b.blob()
    doc = {
        "asset": {"version": "2.0", "generator": "trellis2 preview"},
        "scene": 0,
        "scenes": [{"nodes": [0]}],
        "nodes": [{"mesh": 0}],
        "meshes": [{"primitives": [{"attributes": attrs, "indices": ind, "material": 0}]}],
        "materials": [
            {
                "pbrMetallicRoughness": {"metallicFactor": 0.0, "roughnessFactor": 0.8},
                "doubleSided": True,
            }
        ],
        "accessors": b.accessors,
        "bufferViews": b.views,
        "buffers": [{"byteLength": len(blob)}],
    }
    body = json.dumps(doc, separators=(",", ":")).encode("utf-8")
    body += b" " * ((-len(body)) % 4)
    total = 12 + 8 + len(body) + 8 + len(blob)
    return b"".join(
        [
            struct.pack("<4sII", b"glTF", 2, total),
            struct.pack("<I4s", len(body), b"JSON"),
            body,
            struct.pack("<I4s", len(blob), b"BIN\x00"),
            blob,
        ]
    )
