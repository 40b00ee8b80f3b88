# SPDX-License-Identifier: MIT
"""Checks a CreateJobRequest before anything is queued, and resolves it into a JobSpec.

Everything wrong with the input becomes `InvalidArgument` naming the field and the problem;
nothing here may raise anything else for bad input. Image decoding is blocking: call
`check_image` from a thread.
"""

from __future__ import annotations

import hashlib
import io
import re
import secrets
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from PIL import Image, UnidentifiedImageError

from trellis2_server.api._gen.trellis2.v1 import asset_generation_pb2 as pb
from trellis2_server.config import ServerConfig
from trellis2_server.core.convert import (
    CONTAINER_NAMES,
    EXTRA_TEXTURE_NAMES,
    PIPELINE_NAMES,
    PROFILE_NAMES,
    TEXTURE_FORMAT_NAMES,
)
from trellis2_server.core.errors import InvalidArgument

# Defaults that fill an unset export option (the same as trellis2.generation.ExportSettings).
DEFAULT_DECIMATION_TARGET = 100_000
DEFAULT_TEXTURE_SIZE = 1024
MIN_DECIMATION_TARGET = 100
MIN_TEXTURE_SIZE = 256
_FORMATS = {"PNG": "png", "JPEG": "jpeg", "WEBP": "webp"}
# Pillow opens some JPEGs (camera multi-picture files) as MPO.
_FORMAT_NAMES = {**_FORMATS, "MPO": "jpeg"}
_REQUEST_ID = re.compile(r"^[\x21-\x7e]{1,128}$")
_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9._ -]+")
JOB_NAME = re.compile(r"^jobs/([a-z0-9][a-z0-9-]{0,62})$")

# (field, low, high) of each sampler override.
_SAMPLER_RANGES = (
    ("steps", 1, 100),
    ("guidance_strength", 0.0, 20.0),
    ("guidance_rescale", 0.0, 1.0),
    ("rescale_t", 1.0, 10.0),
    ("guidance_interval_start", 0.0, 1.0),
    ("guidance_interval_end", 0.0, 1.0),
)


@dataclass(frozen=True)
class CheckedImage:
    digest: str
    format: str  # png | jpeg | webp
    width: int
    height: int


def check_image(data: bytes, config: ServerConfig) -> CheckedImage:
    """Decodes the whole image (truncated files fail here) under the size and pixel limits."""
    if not data:
        raise InvalidArgument("image is empty; send PNG, JPEG or WebP bytes", field="image")
    if len(data) > config.max_upload_bytes:
        raise InvalidArgument(
            f"image is too large: {len(data)} bytes > max_upload_bytes {config.max_upload_bytes}; "
            "send a smaller file",
            field="image",
        )
    try:
        with warnings.catch_warnings():
            # Pillow warns (then errors at 2x) above MAX_IMAGE_PIXELS: treat both as bombs.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=list(_FORMATS)) as im:
                fmt = _FORMAT_NAMES.get(im.format or "", "")
                width, height = im.size
                _check_size(width, height, config)
                im.load()
    except InvalidArgument:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InvalidArgument(
            f"image has too many pixels (decompression bomb); the limit is "
            f"{config.max_image_pixels} pixels",
            field="image",
        ) from None
    except UnidentifiedImageError:
        raise InvalidArgument(
            "image is not a PNG, JPEG or WebP file (unsupported or unrecognised format)",
            field="image",
        ) from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise InvalidArgument(
            f"image could not be decoded (truncated or corrupt): {exc}", field="image"
        ) from None
    if not fmt:
        raise InvalidArgument("image format is not PNG, JPEG or WebP", field="image")
    return CheckedImage(hashlib.sha256(data).hexdigest(), fmt, width, height)


def _check_size(width: int, height: int, config: ServerConfig) -> None:
    if width < 1 or height < 1:
        raise InvalidArgument(f"image has no pixels ({width}x{height})", field="image")
    if width * height > config.max_image_pixels:
        raise InvalidArgument(
            f"image has too many pixels: {width}x{height} = {width * height} > max_image_pixels "
            f"{config.max_image_pixels}; downscale it",
            field="image",
        )
    if max(width, height) > config.max_image_side:
        raise InvalidArgument(
            f"image side too long: {width}x{height}, max_image_side is {config.max_image_side}",
            field="image",
        )


def _check_sampler(name: str, s: pb.SamplerParams) -> None:
    for field, low, high in _SAMPLER_RANGES:
        if s.HasField(field):  # type: ignore[arg-type]
            value = getattr(s, field)
            if not low <= value <= high:  # NaN fails here too
                raise InvalidArgument(
                    f"{name}.{field} = {value} is out of range [{low}, {high}]",
                    field=f"{name}.{field}",
                )
    has_start, has_end = s.HasField("guidance_interval_start"), s.HasField("guidance_interval_end")
    if has_start != has_end:
        raise InvalidArgument(
            f"{name}: set guidance_interval_start and guidance_interval_end together",
            field=f"{name}.guidance_interval_start",
        )
    if has_start and s.guidance_interval_start > s.guidance_interval_end:
        raise InvalidArgument(
            f"{name}: guidance_interval_start must not exceed guidance_interval_end",
            field=f"{name}.guidance_interval_start",
        )


def sanitize_display_name(name: str) -> str:
    cleaned = _NAME_UNSAFE.sub("_", name).strip(" ._")[:64]
    return cleaned or "asset"


def _enum(value: int, names: Mapping[Any, str], field: str, default: int) -> Any:
    """A defined enum value (proto enums are ints), `default` for 0, else InvalidArgument."""
    if value == 0:
        return default
    if value not in names:
        raise InvalidArgument(f"{field} has unknown value {value}", field=field)
    return value


def resolve_spec(
    req: pb.CreateJobRequest, image: CheckedImage, config: ServerConfig, backend: str
) -> pb.JobSpec:
    """Checks the parameters and fills every default, so equal requests give equal specs."""
    if req.request_id and not _REQUEST_ID.match(req.request_id):
        raise InvalidArgument(
            "request_id must be 1..128 printable ASCII characters without spaces",
            field="request_id",
        )
    if not -10 <= req.priority <= 10:
        raise InvalidArgument(
            f"priority {req.priority} is out of range [-10, 10]", field="priority"
        )
    if req.HasField("seed") and not 0 <= req.seed < 2**63:
        raise InvalidArgument(f"seed {req.seed} must be >= 0", field="seed")
    for name in ("sparse_structure_sampler", "shape_slat_sampler", "tex_slat_sampler"):
        _check_sampler(name, getattr(req, name))
    e = req.export_options
    texture_size = e.texture_size or DEFAULT_TEXTURE_SIZE
    if not (
        MIN_TEXTURE_SIZE <= texture_size <= config.max_texture_size
        and texture_size & (texture_size - 1) == 0
    ):
        raise InvalidArgument(
            f"export_options.texture_size {e.texture_size} must be a power of two in "
            f"[{MIN_TEXTURE_SIZE}, {config.max_texture_size}]",
            field="export_options.texture_size",
        )
    decimation = e.decimation_target or DEFAULT_DECIMATION_TARGET
    if not MIN_DECIMATION_TARGET <= decimation <= config.max_decimation_target:
        raise InvalidArgument(
            f"export_options.decimation_target {e.decimation_target} is out of range "
            f"[{MIN_DECIMATION_TARGET}, {config.max_decimation_target}]",
            field="export_options.decimation_target",
        )
    pipeline = _enum(req.pipeline_type, PIPELINE_NAMES, "pipeline_type", 3)
    fmt = _enum(e.texture_format, TEXTURE_FORMAT_NAMES, "export_options.texture_format", 1)
    profile = _enum(e.profile, PROFILE_NAMES, "export_options.profile", 1)
    container = _enum(e.container, CONTAINER_NAMES, "export_options.container", 1)
    if fmt == pb.TEXTURE_FORMAT_WEBP and profile == pb.OUTPUT_PROFILE_UNITY:
        raise InvalidArgument(
            "texture_format WEBP is not supported by the unity profile (glTFast cannot read "
            "it); use PNG or JPEG",
            field="export_options.texture_format",
        )
    extras = []
    for x in e.extra_textures:
        if x not in EXTRA_TEXTURE_NAMES:
            raise InvalidArgument(
                f"export_options.extra_textures has unknown value {x}",
                field="export_options.extra_textures",
            )
        if x not in extras:
            extras.append(x)
    export = pb.ExportOptions(
        decimation_target=decimation,
        texture_size=texture_size,
        texture_format=fmt,
        profile=profile,
        container=container,
        extra_textures=sorted(extras),
        normal_map=e.normal_map if e.HasField("normal_map") else True,
    )
    return pb.JobSpec(
        image_digest=image.digest,
        image_format=image.format,
        image_width=image.width,
        image_height=image.height,
        pipeline_type=pipeline,
        seed=req.seed if req.HasField("seed") else secrets.randbelow(2**31),
        sparse_structure_sampler=req.sparse_structure_sampler,
        shape_slat_sampler=req.shape_slat_sampler,
        tex_slat_sampler=req.tex_slat_sampler,
        export_options=export,
        priority=req.priority,
        display_name=sanitize_display_name(req.display_name),
        backend=backend,
    )


def parse_job_name(name: str) -> str:
    """'jobs/{job_id}' → job_id, or InvalidArgument."""
    m = JOB_NAME.match(name)
    if m is None:
        raise InvalidArgument(
            f"malformed job name {name!r}; expected 'jobs/<id>' as returned by CreateJob",
            field="name",
        )
    return m.group(1)
