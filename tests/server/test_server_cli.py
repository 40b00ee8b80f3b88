# SPDX-License-Identifier: MIT
"""The `trellis2` command beyond `generate --server` (covered in test_server_e2e.py), and the
configuration it builds."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from server_helpers import ServerProcess, make_png
from trellis2_server.config import ServerConfig, parse_sequence

CLI = [sys.executable, "-m", "trellis2_server.cli"]


def _run(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout)


def test_generate_without_a_server_runs_an_embedded_one(tmp_path: Path) -> None:
    image = tmp_path / "disc.png"
    image.write_bytes(make_png(80))
    out = tmp_path / "out"
    result = _run(
        "generate", str(image), "-o", str(out), "--backend", "preview",
        "--resolution", "512", "--texture-size", "256", "--decimation", "2000",
        "--data-dir", str(tmp_path / "data"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "embedded server, backend preview" in result.stderr
    assert (out / "disc.glb").read_bytes()[:4] == b"glTF"


def test_jobs_subcommands_list_get_watch_and_cancel(preview_server, tmp_path: Path) -> None:
    image = tmp_path / "cli_jobs.png"
    image.write_bytes(make_png(72, "green"))
    server = ("--server", preview_server.address)
    gen = _run("generate", str(image), "-o", str(tmp_path), *server, "--texture-size", "256",
               "--decimation", "2000", "--resolution", "512")  # fmt: skip
    assert gen.returncode == 0, gen.stderr
    name = gen.stdout.rsplit("[", 1)[1].split("]", 1)[0]
    listed = _run("jobs", "list", "--state", "succeeded", *server)
    assert listed.returncode == 0 and name in listed.stdout and "succeeded" in listed.stdout
    got = _run("jobs", "get", name, *server)
    assert got.returncode == 0 and "JOB_STATE_SUCCEEDED" in got.stdout
    watched = _run("jobs", "watch", name.removeprefix("jobs/"), "--after-seq", "1", *server)
    assert watched.returncode == 0
    lines = watched.stdout.splitlines()
    assert lines[0].split()[:2] == ["2", "started"] and lines[-1].split()[1] == "completed"
    canceled = _run("jobs", "cancel", name, *server)  # finished: a no-op that shows the job
    assert canceled.returncode == 0 and "succeeded" in canceled.stdout
    missing = _run("jobs", "get", "jobs/0000", *server)
    assert missing.returncode == 1 and "NOT_FOUND" in missing.stderr


def test_sigterm_stops_the_server_gracefully(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data").start()
    server.wait_serving()
    server.stop()  # SIGTERM
    assert server.proc is not None and server.proc.returncode == 0
    assert "stopping" in server.log()


def test_flags_win_over_environment_and_defaults_fill_the_rest() -> None:
    import argparse

    parser = argparse.ArgumentParser()
    ServerConfig.add_arguments(parser)
    args = parser.parse_args(["--grpc-port", "6000", "--chunk-size", "65536"])
    env = {"TRELLIS2_GRPC_PORT": "7000", "TRELLIS2_MAX_QUEUE_DEPTH": "9", "TRELLIS2_DATA_DIR": "/x"}
    config = ServerConfig.from_env_and_args(args, environ=env)
    assert config.grpc_port == 6000 and config.chunk_size == 65536
    assert config.max_queue_depth == 9 and config.data_dir == Path("/x")
    assert config.max_upload_bytes == 20 * 1024 * 1024 and config.http_port == 8080
    assert config.gpu_memory == "auto"
    assert parse_sequence(["--gpu-memory", "low_vram"]).gpu_memory == "low_vram"
    assert config.pipeline_type_list == []  # all types
    picked = parse_sequence(["--pipeline-types", "512, 1024_cascade"]).pipeline_type_list
    assert picked == ["512", "1024_cascade"]


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        (["--chunk-size", str(8 * 1024 * 1024)], "chunk_size"),
        (["--backend", "gpu"], "backend"),
        (["--gpu-memory", "lots"], "gpu_memory"),
        (["--pipeline-types", "512,2048"], "pipeline_types: unknown 2048"),
        (["--max-queue-depth", "0"], "max_queue_depth"),
        (["--grpc-port", "notanumber"], "--grpc-port"),
    ],
)
def test_invalid_configuration_is_refused_naming_the_setting(flags: list[str], words: str) -> None:
    with pytest.raises(ValueError, match=words):
        parse_sequence(flags)
