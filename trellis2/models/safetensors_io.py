# SPDX-License-Identifier: MIT
"""Read `.safetensors` files: the `safetensors` package when installed, else a small reader.

The format is an 8-byte little-endian header length, a JSON header {name: {dtype, shape,
data_offsets: [begin, end]}} (plus an optional "__metadata__"), then the raw little-endian
tensor bytes. The fallback memory-maps the file and wraps each tensor without copying (bare
GPU images without the package can still load checkpoints and the parity fixtures).
"""

from __future__ import annotations

import json
import mmap
import struct
from pathlib import Path

import torch

_DTYPES = {
    "F64": torch.float64,
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "I64": torch.int64,
    "I32": torch.int32,
    "I16": torch.int16,
    "I8": torch.int8,
    "U8": torch.uint8,
    "BOOL": torch.bool,
}


def read_safetensors(
    path: str | Path, device: str | torch.device = "cpu"
) -> dict[str, torch.Tensor]:
    """All tensors of a safetensors file, on ``device``."""
    try:
        from safetensors import safe_open
    except ImportError:
        return _read_fallback(Path(path), torch.device(device))
    with safe_open(str(path), framework="pt", device=str(device)) as f:
        return {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 - no iteration protocol


def _read_fallback(path: Path, device: torch.device) -> dict[str, torch.Tensor]:
    with path.open("rb") as fh:
        buf = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_COPY)  # private, writable view
    (n,) = struct.unpack("<Q", buf[:8])
    header = json.loads(buf[8 : 8 + n])
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype = _DTYPES[info["dtype"]]
        except KeyError:
            raise ValueError(
                f"{path}: tensor {name} has unsupported dtype {info['dtype']}"
            ) from None
        begin, end = info["data_offsets"]
        shape = info["shape"]
        if end == begin:
            t = torch.empty(shape, dtype=dtype)
        else:
            t = torch.frombuffer(
                buf, dtype=dtype, count=(end - begin) // dtype.itemsize, offset=base + begin
            ).reshape(shape)
        out[name] = t.to(device) if device.type != "cpu" else t
    return out
