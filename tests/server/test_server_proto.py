# SPDX-License-Identifier: MIT
"""The API schema and its generated code."""

from __future__ import annotations

import filecmp
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

GEN = Path("server/trellis2_server/api/_gen")


def test_generated_python_is_not_stale(repo_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "gen"
    subprocess.run(
        ["scripts/gen-proto.sh", str(out)],
        cwd=repo_dir,
        check=True,
        capture_output=True,
        env={"PATH": "/usr/bin:/bin", "PYTHON": sys.executable},
    )
    committed = repo_dir / GEN
    fresh = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    have = sorted(
        p.relative_to(committed)
        for p in committed.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    )
    assert fresh == have, "generated file set differs; run scripts/gen-proto.sh"
    stale = [str(p) for p in fresh if not filecmp.cmp(out / p, committed / p, shallow=False)]
    assert not stale, f"stale generated code {stale}; run scripts/gen-proto.sh and commit"


@pytest.mark.npm
def test_buf_lint_is_clean(repo_dir: Path) -> None:
    buf = repo_dir / "tools/node/node_modules/.bin/buf"
    if not buf.exists():
        buf = Path(shutil.which("buf") or buf)
    result = subprocess.run(
        [str(buf), "lint", "proto"], cwd=repo_dir, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_generated_module_imports_as_a_package_path() -> None:
    from trellis2_server.api._gen.trellis2.v1 import asset_generation_pb2 as pb
    from trellis2_server.api._gen.trellis2.v1 import asset_generation_pb2_grpc as pb_grpc

    assert pb.DESCRIPTOR.package == "trellis2.v1"
    assert hasattr(pb_grpc, "AssetGenerationServiceServicer")
