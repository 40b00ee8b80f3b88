# SPDX-License-Identifier: MIT
"""Compiles the Unity package's engine-free core and its NUnit tests with Debian's mono
(`mcs`, no Unity needed) and runs them with `nunit-console`. Installed by
scripts/install-tools.sh: mono-mcs, libmono-system-net-http4.0-cil, nunit-console,
libnunit-framework2.6.3-cil, libnewtonsoft-json5.0-cil."""

from __future__ import annotations

import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "clients" / "unity"
CORE_DIR = PACKAGE / "Editor" / "Core"
TESTS_DIR = PACKAGE / "Tests" / "Editor"
# mcs 6.8 accepts language versions up to 7.2, a subset of the C# 7.3 we promise Unity 2022.3.
LANGVERSION = "7.2"
NEWTONSOFT = Path("/usr/lib/cli/Newtonsoft.Json-5.0/Newtonsoft.Json.dll")
NUNIT_FRAMEWORK = Path("/usr/lib/cli/nunit.framework-2.6.3/nunit.framework.dll")
INSTALL_HINT = "run scripts/install-tools.sh (as root) to install mono, NUnit and Newtonsoft.Json"


def missing_tools() -> list[str]:
    missing = [tool for tool in ("mcs", "mono", "nunit-console") if shutil.which(tool) is None]
    missing += [str(p) for p in (NEWTONSOFT, NUNIT_FRAMEWORK) if not p.exists()]
    return missing


def sources(folder: Path) -> list[str]:
    return sorted(str(p) for p in folder.rglob("*.cs"))


def mcs(out: Path, srcs: list[str], refs: list[str]) -> subprocess.CompletedProcess[str]:
    args = ["mcs", f"-langversion:{LANGVERSION}", "-target:library", "-warn:4",
            f"-out:{out}", "-r:System.Net.Http.dll", *(f"-r:{r}" for r in refs), *srcs]  # fmt: skip
    return subprocess.run(args, capture_output=True, text=True, timeout=120)


def build(out_dir: Path) -> tuple[Path, Path, str]:
    """Compiles core and tests into `out_dir` (with the DLLs they need beside them).
    Returns (core dll, tests dll, compiler output)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(NEWTONSOFT, out_dir / NEWTONSOFT.name)
    shutil.copy(NUNIT_FRAMEWORK, out_dir / NUNIT_FRAMEWORK.name)
    core = out_dir / "Trellis2.Editor.Core.dll"
    result = mcs(core, sources(CORE_DIR), [str(out_dir / NEWTONSOFT.name)])
    if result.returncode != 0:
        raise AssertionError(f"the core does not compile:\n{result.stdout}{result.stderr}")
    tests = out_dir / "Trellis2.Editor.Tests.dll"
    result_tests = mcs(
        tests,
        sources(TESTS_DIR),
        [str(core), str(out_dir / NEWTONSOFT.name), str(out_dir / NUNIT_FRAMEWORK.name)],
    )
    if result_tests.returncode != 0:
        raise AssertionError(
            f"the NUnit tests do not compile:\n{result_tests.stdout}{result_tests.stderr}"
        )
    return core, tests, result.stdout + result.stderr


@dataclass
class NUnitResult:
    total: int
    failures: int
    errors: int
    not_run: int
    passed: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    output: str = ""


def run_nunit(
    tests_dll: Path, xml: Path, *, run: str | None = None, exclude_fixture: str | None = None,
    env: dict[str, str] | None = None, timeout: float = 240.0,
) -> NUnitResult:  # fmt: skip
    """Runs nunit-console (NUnit 2.6) on `tests_dll` and reads its XML report; cases of
    fixtures whose name ends in `exclude_fixture` are left out of `passed`/`problems`."""
    args = ["nunit-console", "-nologo", "-noshadow", str(tests_dll), f"-xml={xml}"]
    if run:
        args.append(f"-run:{run}")
    full_env = dict(os.environ, **(env or {}))
    proc = subprocess.run(
        args, capture_output=True, text=True, timeout=timeout, env=full_env, cwd=tests_dll.parent
    )
    if not xml.exists():
        raise AssertionError(f"nunit-console wrote no report:\n{proc.stdout}\n{proc.stderr}")
    root = ET.parse(xml).getroot()
    result = NUnitResult(
        total=int(root.get("total", "0")),
        failures=int(root.get("failures", "0")),
        errors=int(root.get("errors", "0")),
        not_run=int(root.get("not-run", "0")),
        output=proc.stdout[-8000:] + proc.stderr[-2000:],
    )
    for case in root.iter("test-case"):
        name = case.get("name", "")
        if exclude_fixture and f"{exclude_fixture}." in name:
            continue
        if case.get("executed") == "True" and case.get("result") == "Success":
            result.passed.append(name)
        else:
            message = case.find("./*/message")
            text = message.text if message is not None and message.text else case.get("result", "")
            result.problems.append(f"{name}: {text.strip()[:2000]}")
    return result
