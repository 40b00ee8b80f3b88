# SPDX-License-Identifier: MIT
"""The Unity package's engine-free core (clients/unity/Editor/Core), compiled with mono and
tested with its own NUnit tests: the pure logic, and end to end against a real server with the
preview backend (submit, stream, disconnect and reattach, cancel, resumable verified download)."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from unity_build import INSTALL_HINT, LANGVERSION, PACKAGE, build, missing_tools, run_nunit
from unity_server import UnityTestServer

E2E_FIXTURE = "Trellis2.Editor.Tests.EndToEndTests"
AUTH_FIXTURE = "Trellis2.Editor.Tests.AuthEndToEndTests"
API_KEY = "unity-test-key-0123456789"


@pytest.fixture(scope="module")
def unity_build(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    missing = missing_tools()
    if missing:
        pytest.fail(f"missing {', '.join(missing)}; {INSTALL_HINT}")
    return build(tmp_path_factory.mktemp("unity-build"))


@pytest.fixture(scope="module")
def preview_http_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UnityTestServer]:
    server = UnityTestServer(tmp_path_factory.mktemp("unity-server") / "data").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def auth_http_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UnityTestServer]:
    root = tmp_path_factory.mktemp("unity-auth-server")
    keys = root / "api_keys.txt"
    keys.write_text(f"{API_KEY} unity\n")
    # Keys required and room for one queued job, so quota refusals can be provoked.
    server = UnityTestServer(root / "data", api_keys_file=keys, max_queue_depth=1).start()
    try:
        yield server
    finally:
        server.stop()


def test_core_compiles_with_mono_without_unity_and_without_warnings(
    unity_build: tuple[Path, Path, str],
) -> None:
    core, _, output = unity_build
    assert core.stat().st_size > 0
    assert "warning" not in output, output


def test_pure_logic_nunit_tests_pass(unity_build: tuple[Path, Path, str], tmp_path: Path) -> None:
    _, tests, _ = unity_build
    # Without the server variables the end-to-end fixtures are ignored; count only the others.
    env = {"TRELLIS2_TEST_SERVER_URL": "", "TRELLIS2_TEST_AUTH_SERVER_URL": ""}
    result = run_nunit(tests, tmp_path / "logic.xml", exclude_fixture="EndToEndTests", env=env)
    assert result.problems == [], result.output
    assert result.failures == 0 and result.errors == 0, result.output
    assert len(result.passed) >= 40, result.output


@pytest.mark.slow
def test_end_to_end_nunit_tests_pass_against_a_real_preview_server(
    unity_build: tuple[Path, Path, str],
    preview_http_server: UnityTestServer,
    shared_dir: Path,
    tmp_path: Path,
) -> None:
    _, tests, _ = unity_build
    env = {
        "TRELLIS2_TEST_SERVER_URL": preview_http_server.url,
        "TRELLIS2_TEST_IMAGE": str(shared_dir / "images" / "apple.png"),
        # The preview backend writes real glTF assets: the import plan must find their maps.
        "TRELLIS2_TEST_REQUIRE_GLTF": "1",
    }
    result = run_nunit(tests, tmp_path / "e2e.xml", run=E2E_FIXTURE, env=env)
    detail = f"{result.output}\nserver log:\n{preview_http_server.log()}"
    assert result.problems == [], "\n".join(result.problems) + detail
    assert len(result.passed) == 12, detail


def test_api_key_and_quota_nunit_tests_pass_against_a_restricted_real_server(
    unity_build: tuple[Path, Path, str],
    auth_http_server: UnityTestServer,
    shared_dir: Path,
    tmp_path: Path,
) -> None:
    _, tests, _ = unity_build
    env = {
        "TRELLIS2_TEST_AUTH_SERVER_URL": auth_http_server.url,
        "TRELLIS2_TEST_API_KEY": API_KEY,
        "TRELLIS2_TEST_IMAGE": str(shared_dir / "images" / "banana.png"),
    }
    result = run_nunit(tests, tmp_path / "auth.xml", run=AUTH_FIXTURE, env=env)
    detail = f"{result.output}\nserver log:\n{auth_http_server.log()}"
    assert result.problems == [], "\n".join(result.problems) + detail
    assert len(result.passed) == 3, detail


@pytest.mark.parametrize("defines", ["", "TRELLIS2_URP,TRELLIS2_HDRP,TRELLIS2_GLTFAST"])
def test_editor_glue_parses_as_csharp_7(defines: str) -> None:
    """Syntax only (`mcs --parse`): the glue needs UnityEditor to compile, which CI lacks, but its
    syntax must stay within what Unity 2022.3 accepts, with and without the optional packages."""
    if missing_tools():
        pytest.fail(f"missing {', '.join(missing_tools())}; {INSTALL_HINT}")
    glue = sorted(str(p) for p in (PACKAGE / "Editor").glob("*.cs"))
    assert len(glue) >= 10
    args = ["mcs", "--parse", f"-langversion:{LANGVERSION}", *glue]
    if defines:
        args.insert(2, f"-define:{defines}")
    parsed = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert parsed.returncode == 0, parsed.stdout + parsed.stderr


def test_every_core_member_the_glue_names_exists(unity_build: tuple[Path, Path, str]) -> None:
    """The glue cannot be compiled in CI; at least each `CoreType.Member` it names (static calls,
    enum values, constants) must exist in the compiled core, so core changes cannot silently
    break it."""
    core, _, _ = unity_build
    exe = core.parent / "ApiDump.exe"
    here = Path(__file__).resolve().parent
    args = ["mcs", f"-langversion:{LANGVERSION}", f"-out:{exe}", f"-r:{core}"]
    args.append(str(here / "unity_api_dump.cs"))
    compiled = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr
    dumped = subprocess.run(
        ["mono", str(exe)], capture_output=True, text=True, cwd=core.parent, timeout=60
    )
    assert dumped.returncode == 0, dumped.stderr
    api = set(dumped.stdout.split())
    types = {line for line in api if "." not in line}
    # Glue variables whose core type is unambiguous from their name.
    variables = {
        "record": "JobRecord",
        "running": "JobRecord",
        "plan": "ImportPlan",
        "planned": "PlannedTexture",
        "slot": "MaterialTextureSlot",
        "job": "Job",
        "spec": "JobSpec",
        "info": "ServerInfo",
        "response": "ListJobsResponse",
    }
    used = set()
    for path in (PACKAGE / "Editor").glob("*.cs"):
        text = path.read_text()
        for match in re.finditer(r"\b([A-Za-z]\w+)\.([A-Z]\w*|k_\w+)\b", text):
            owner = variables.get(match.group(1), match.group(1))
            if owner in types:
                used.add(f"{owner}.{match.group(2)}")
        # Object initializers: new CoreType { Name = ..., Other = ... }
        for match in re.finditer(r"new (\w+)\s*\{([^{}]*)\}", text):
            if match.group(1) in types:
                for name in re.findall(r"(\w+) =[^=]", match.group(2)):
                    used.add(f"{match.group(1)}.{name}")
    assert len(used) > 60, sorted(used)
    assert sorted(used - api) == []
