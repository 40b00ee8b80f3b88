# SPDX-License-Identifier: MIT
"""Fixtures shared by every test folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parent.parent
# CI lays ../shared beside the clone; TRELLIS2_SHARED overrides for other layouts.
SHARED = Path(os.environ.get("TRELLIS2_SHARED", REPO.parent / "shared")).resolve()

# Two cores here; more threads only thrash.
torch.set_num_threads(min(2, os.cpu_count() or 1))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if torch.cuda.is_available():
        return
    skip_gpu = pytest.mark.skip(reason="needs CUDA (run on the device)")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip_gpu)


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.fail(f"shared data not found at {SHARED}; set TRELLIS2_SHARED")
    return SHARED


@pytest.fixture(scope="session")
def repo_dir() -> Path:
    return REPO
