# SPDX-License-Identifier: MIT
"""The Unity client's request/event DTOs follow proto/trellis2/v1/asset_generation.proto: every
field's JSON name (protobuf JSON mapping), scalar type, optional-ness, repetition, enum and
message type, and every enum value name and number, compared with the generated descriptor."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import descriptor as d
from trellis2_server.api._gen.trellis2.v1 import asset_generation_pb2 as pb
from unity_build import INSTALL_HINT, build, missing_tools

HERE = Path(__file__).resolve().parent
# Downloads use `GET /v1/artifacts/{digest}` (Range resume) instead of this streaming RPC.
NOT_MIRRORED = {"trellis2.v1.FetchArtifactRequest", "trellis2.v1.FetchArtifactResponse"}
SCALARS = {
    d.FieldDescriptor.TYPE_STRING: "string",
    d.FieldDescriptor.TYPE_INT32: "int32",
    d.FieldDescriptor.TYPE_INT64: "int64",
    d.FieldDescriptor.TYPE_FLOAT: "float",
    d.FieldDescriptor.TYPE_BOOL: "bool",
    d.FieldDescriptor.TYPE_BYTES: "bytes",
}


def _kind(field: d.FieldDescriptor) -> str:
    if field.type == d.FieldDescriptor.TYPE_MESSAGE:
        name = field.message_type.full_name
        # Timestamps are RFC 3339 strings in the JSON mapping.
        base = "string" if name == "google.protobuf.Timestamp" else f"message {name}"
    elif field.type == d.FieldDescriptor.TYPE_ENUM:
        base = f"enum {field.enum_type.full_name}"
    else:
        base = SCALARS[field.type]
    repeated = getattr(field, "is_repeated", None)
    if repeated is None:
        repeated = field.label == d.FieldDescriptor.LABEL_REPEATED
    if repeated:
        return f"repeated {base}"
    scalar_presence = field.has_presence and field.type != d.FieldDescriptor.TYPE_MESSAGE
    if scalar_presence and field.containing_oneof is not None and base not in ("string", "bytes"):
        # proto3 `optional` scalars map to C# nullables (strings/bytes are nullable already).
        return f"optional {base}"
    return base


@pytest.fixture(scope="module")
def dump(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    missing = missing_tools()
    if missing:
        pytest.fail(f"missing {', '.join(missing)}; {INSTALL_HINT}")
    out = tmp_path_factory.mktemp("unity-schema")
    core, _, _ = build(out)
    exe = out / "SchemaDump.exe"
    newtonsoft = out / "Newtonsoft.Json.dll"
    args = ["mcs", "-langversion:7.2", f"-out:{exe}", f"-r:{core}", f"-r:{newtonsoft}"]
    args.append(str(HERE / "unity_schema_dump.cs"))
    compiled = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr
    ran = subprocess.run(["mono", str(exe)], capture_output=True, text=True, timeout=60, cwd=out)
    assert ran.returncode == 0, ran.stderr
    return json.loads(ran.stdout)


def test_every_proto_message_is_mirrored_field_by_field(dump: dict[str, Any]) -> None:
    problems = []
    for message in pb.DESCRIPTOR.message_types_by_name.values():
        if message.full_name in NOT_MIRRORED:
            assert message.full_name not in dump["messages"]
            continue
        mirrored = dump["messages"].get(message.full_name)
        if mirrored is None:
            problems.append(f"{message.full_name}: no C# DTO")
            continue
        expected = {f.json_name: _kind(f) for f in message.fields}
        if mirrored != expected:
            problems.append(f"{message.full_name}: C# {mirrored} != proto {expected}")
    assert problems == [], "\n".join(problems)


def test_no_dto_claims_a_message_the_proto_lacks(dump: dict[str, Any]) -> None:
    known = {m.full_name for m in pb.DESCRIPTOR.message_types_by_name.values()}
    assert set(dump["messages"]) <= known


def test_every_proto_enum_is_mirrored_with_names_and_numbers(dump: dict[str, Any]) -> None:
    assert set(dump["enums"]) == {e.full_name for e in pb.DESCRIPTOR.enum_types_by_name.values()}
    for enum in pb.DESCRIPTOR.enum_types_by_name.values():
        expected = {v.name: v.number for v in enum.values}
        assert dump["enums"][enum.full_name] == expected, enum.full_name
