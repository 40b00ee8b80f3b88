# SPDX-License-Identifier: MIT
"""bench/networks_gpu.py runs end to end with --tiny on CPU (the GPU run happens on the device)."""

from __future__ import annotations

import importlib.util
import sys


def test_networks_bench_tiny_runs_and_reports_close_agreement(repo_dir, capsys, monkeypatch):
    spec = importlib.util.spec_from_file_location(
        "networks_gpu", repo_dir / "bench/networks_gpu.py"
    )
    bench = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "networks_gpu", bench)  # dataclasses look it up
    spec.loader.exec_module(bench)
    rows = bench.main(
        [
            "--tiny",
            "--device",
            "cpu",
            "--repeats",
            "0",
            "--only",
            "shape_flow_512,shape_dec",
            "--latent-tokens",
            "40",
        ]
    )
    assert [r["net"] for r in rows] == ["shape_flow_512", "shape_dec"]
    for r in rows:
        assert r["finite"] and r["cosine"] > 0.999, r
    assert "RANDOM WEIGHTS" in capsys.readouterr().out
