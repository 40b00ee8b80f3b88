# SPDX-License-Identifier: MIT
"""Conversions between proto messages and the plain data that crosses the worker pipe.

The gateway never imports the `trellis2` library (its package init may pull in torch), so the
worker receives plain dicts shaped like `trellis2.generation.types.GenerationParams` and builds
the dataclasses itself.
"""

from __future__ import annotations

import hashlib
from typing import Any

from trellis2_server.api._gen.trellis2.v1 import asset_generation_pb2 as pb

PIPELINE_NAMES = {
    pb.PIPELINE_TYPE_512: "512",
    pb.PIPELINE_TYPE_1024: "1024",
    pb.PIPELINE_TYPE_1024_CASCADE: "1024_cascade",
    pb.PIPELINE_TYPE_1536_CASCADE: "1536_cascade",
}
TEXTURE_FORMAT_NAMES = {
    pb.TEXTURE_FORMAT_PNG: "png",
    pb.TEXTURE_FORMAT_JPEG: "jpeg",
    pb.TEXTURE_FORMAT_WEBP: "webp",
}
PROFILE_NAMES = {
    pb.OUTPUT_PROFILE_GENERIC: "generic",
    pb.OUTPUT_PROFILE_UNITY: "unity",
    pb.OUTPUT_PROFILE_GODOT: "godot",
}
CONTAINER_NAMES = {pb.ASSET_CONTAINER_GLB: "glb", pb.ASSET_CONTAINER_GLTF: "gltf"}
EXTRA_TEXTURE_NAMES = {
    pb.EXTRA_TEXTURE_METALLIC_SMOOTHNESS: "metallic_smoothness",
    pb.EXTRA_TEXTURE_MASK_MAP: "mask_map",
    pb.EXTRA_TEXTURE_ORM: "orm",
}
PREVIEW_KINDS = {"voxels": pb.PREVIEW_KIND_VOXELS, "mesh": pb.PREVIEW_KIND_MESH}
ARTIFACT_KINDS = {
    "asset": pb.ARTIFACT_KIND_ASSET,
    "asset_part": pb.ARTIFACT_KIND_ASSET_PART,
    "extra_texture": pb.ARTIFACT_KIND_EXTRA_TEXTURE,
}


def sampler_dict(s: pb.SamplerParams) -> dict[str, object]:
    """Only the fields the client set, under the reference's keys."""
    out: dict[str, object] = {}
    for name in ("steps", "guidance_strength", "guidance_rescale", "rescale_t"):
        if s.HasField(name):
            out[name] = getattr(s, name)
    if s.HasField("guidance_interval_start") and s.HasField("guidance_interval_end"):
        out["guidance_interval"] = (s.guidance_interval_start, s.guidance_interval_end)
    return out


def spec_to_params(spec: pb.JobSpec, job_id: str, attempt: int) -> dict[str, Any]:
    """A resolved JobSpec → keyword arguments of GenerationParams (export as a dict)."""
    e = spec.export_options
    return {
        "pipeline_type": PIPELINE_NAMES[spec.pipeline_type],
        "seed": spec.seed,
        "sparse_structure_sampler": sampler_dict(spec.sparse_structure_sampler),
        "shape_slat_sampler": sampler_dict(spec.shape_slat_sampler),
        "tex_slat_sampler": sampler_dict(spec.tex_slat_sampler),
        "export": {
            "decimation_target": e.decimation_target,
            "texture_size": e.texture_size,
            "texture_format": TEXTURE_FORMAT_NAMES[e.texture_format],
            "profile": PROFILE_NAMES[e.profile],
            "container": CONTAINER_NAMES[e.container],
            "extra_textures": tuple(EXTRA_TEXTURE_NAMES[x] for x in e.extra_textures),
            "normal_map": e.normal_map,
        },
        "display_name": spec.display_name,
        "provenance": {
            "input_sha256": spec.image_digest,
            "job": f"jobs/{job_id}",
            "attempt": attempt,
            "backend": spec.backend,
            "seed": spec.seed,
        },
    }


def cache_key(spec: pb.JobSpec, model_revision: str) -> str:
    """SHA-256 over the canonical spec (image digest included), backend and model revision.
    Priority does not change the result, so it is left out."""
    canonical = pb.JobSpec()
    canonical.CopyFrom(spec)
    canonical.priority = 0
    h = hashlib.sha256()
    h.update(b"trellis2-cache-v1\0")
    h.update(canonical.SerializeToString(deterministic=True))
    h.update(b"\0" + spec.backend.encode() + b"\0" + model_revision.encode())
    return h.hexdigest()


def _artifact(d: dict[str, Any], kind: Any) -> pb.Artifact:
    return pb.Artifact(
        digest=d["digest"],
        size_bytes=d["size"],
        media_type=d["media_type"],
        filename=d["filename"],
        kind=kind,
    )


def preview_event(kind: str, model: dict[str, Any], thumb: dict[str, Any] | None) -> pb.JobPreview:
    preview = pb.JobPreview(
        kind=PREVIEW_KINDS.get(kind, pb.PREVIEW_KIND_UNSPECIFIED),
        artifact=_artifact(model, pb.ARTIFACT_KIND_PREVIEW),
    )
    if thumb is not None:
        preview.thumbnail.CopyFrom(_artifact(thumb, pb.ARTIFACT_KIND_THUMBNAIL))
    return preview


def completed_event(result: dict[str, Any], spec: pb.JobSpec) -> pb.JobCompleted:
    formats = {v: k for k, v in TEXTURE_FORMAT_NAMES.items()}
    stats = pb.AssetStats(
        triangle_count=result["triangle_count"],
        vertex_count=result["vertex_count"],
        texture_count=result["texture_count"],
        texture_size=result["texture_size"],
        texture_format=formats.get(result["texture_format"], pb.TEXTURE_FORMAT_UNSPECIFIED),
        alpha_mode=result["alpha_mode"],
        extent=result["extent"],
        random_weights=result["random_weights"],
    )
    files = [
        _artifact(f, ARTIFACT_KINDS.get(f["kind"], pb.ARTIFACT_KIND_ASSET_PART))
        for f in result["files"]
    ]
    return pb.JobCompleted(artifacts=files, stats=stats)
