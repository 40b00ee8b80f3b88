# SPDX-License-Identifier: MIT
"""Fixtures for the network tests: the parity set, loaded models, fp32 without TF32."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from trellis2.models.safetensors_io import read_safetensors


@pytest.fixture(scope="session")
def parity_dir(shared_dir: Path) -> Path:
    return shared_dir / "fixtures" / "parity"


@pytest.fixture(scope="session")
def parity_io(parity_dir: Path):
    """Loader of `<case>_io.safetensors` (cached per case)."""
    cache: dict[str, dict[str, torch.Tensor]] = {}

    def get(case: str) -> dict[str, torch.Tensor]:
        if case not in cache:
            cache[case] = read_safetensors(parity_dir / f"{case}_io.safetensors")
        return cache[case]

    return get


@pytest.fixture(autouse=True)
def _fp32_no_tf32() -> Iterator[None]:
    """Parity is defined in IEEE fp32 (the fixtures were made with TF32 off)."""
    old = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    with torch.no_grad():
        yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = old
