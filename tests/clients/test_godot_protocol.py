# SPDX-License-Identifier: MIT
"""Pins the byte-level protocol the Godot addon speaks (clients/godot/addons/trellis2).

The addon's requests are recorded in clients/godot/test/fixtures/protocol/*.http exactly as
Godot's HTTPClient writes them (Trellis2Requests builds them; test_requests.gd checks the builder
against these files when Godot is available). Here they are

* checked offline: the bodies are valid proto JSON for their method, and every JSON field name
  job_model.gd reads exists in the proto;
* replayed over a plain socket against a real server (preview backend, HTTP/1.1 listener), and
  the answers are parsed the way client.gd/envelope.gd/job_model.gd parse them.

A server change that would break the addon fails here.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import importlib.util
import json
import re
import socket
import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import json_format
from trellis2_server.api._gen.trellis2.v1 import asset_generation_pb2 as pb

# --------------------------------------------------------------------------- raw HTTP/1.1 helpers


@dataclass
class RawRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class ReplayResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict:
        assert self.headers.get("content-type", "").startswith("application/json"), self.headers
        return json.loads(self.body)


def parse_request(data: bytes) -> RawRequest:
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    method, path, version = lines[0].split(" ")
    assert version == "HTTP/1.1"
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(": ")
        assert name and value and name.lower() not in headers, f"bad header line {line!r}"
        headers[name.lower()] = value
    return RawRequest(method, path, headers, body)


def parse_envelopes(body: bytes) -> list[tuple[int, bytes]]:
    """Splits a Connect stream into (flags, payload), as envelope.gd does."""
    frames, at = [], 0
    while at < len(body):
        assert len(body) - at >= 5, "truncated envelope header"
        flags, size = struct.unpack_from(">BI", body, at)
        assert flags in (0, 2), f"flags 0x{flags:02x}: the addon reads only plain and end frames"
        frames.append((flags, body[at + 5 : at + 5 + size]))
        assert len(frames[-1][1]) == size, "truncated envelope payload"
        at += 5 + size
    return frames


def render(data: bytes, values: dict[str, str]) -> bytes:
    """Substitutes placeholders; recomputes the lengths they change (Content-Length, envelope)."""
    request = parse_request(data)
    streaming = request.headers.get("content-type") == "application/connect+json"
    body = parse_envelopes(request.body)[0][1] if streaming else request.body
    path = request.path
    for key, value in values.items():
        body, path = body.replace(key.encode(), value.encode()), path.replace(key, value)
    if streaming:
        body = struct.pack(">BI", 0, len(body)) + body
    head = f"{request.method} {path} HTTP/1.1\r\n"
    for name, value in _original_header_lines(data):
        if name.lower() == "content-length":
            value = str(len(body))
        head += f"{name}: {value}\r\n"
    return head.encode() + b"\r\n" + body


def _original_header_lines(data: bytes) -> list[tuple[str, str]]:
    lines = data.partition(b"\r\n\r\n")[0].decode().split("\r\n")[1:]
    return [(line.partition(": ")[0], line.partition(": ")[2]) for line in lines]


def read_response(sock: socket.socket, timeout: float) -> ReplayResponse:
    """Reads one HTTP/1.1 response: Content-Length or chunked body, as Godot's HTTPClient does."""
    sock.settimeout(timeout)
    reader = sock.makefile("rb")
    status_line = reader.readline().decode()
    assert status_line.startswith("HTTP/1.1 "), status_line
    status = int(status_line.split(" ")[1])
    headers: dict[str, str] = {}
    while (line := reader.readline().decode().rstrip("\r\n")) != "":
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = b""
        while (size := int(reader.readline().split(b";")[0], 16)) > 0:
            body += reader.read(size)
            assert reader.read(2) == b"\r\n"
            assert size <= 1 << 24, "Godot's HTTPClient refuses chunks over 16 MiB"
        while reader.readline() not in (b"\r\n", b""):
            pass
    else:
        assert "content-length" in headers, "Godot needs Content-Length or chunked encoding"
        body = reader.read(int(headers["content-length"]))
    return ReplayResponse(status, headers, body)


@dataclass
class GodotReplay:
    """Sends the recorded .http files to a running server, one connection per request."""

    port: int
    fixtures: Path
    values: dict[str, str] = field(default_factory=dict)

    @classmethod
    @contextlib.contextmanager
    def start(cls, data_dir: Path, fixtures: Path, **config: Any) -> Iterator[GodotReplay]:
        """Runs the real server (preview backend, gRPC + HTTP listeners on free ports) on an
        event loop in a background thread, so the replay can use plain blocking sockets."""
        from trellis2_server.config import ServerConfig
        from trellis2_server.server import _default_http_starter, start_server

        async def http_starter(service: Any, config: ServerConfig) -> tuple[int, Any]:
            from trellis2_server.http import start_http_server

            http = await start_http_server(
                service,
                host=config.host,
                port=config.http_port,
                max_upload_bytes=config.max_upload_bytes,
            )
            return http.port, http.stop

        server_config = ServerConfig(
            data_dir=data_dir,
            host="127.0.0.1",
            grpc_port=0,
            http_port=0,
            backend="preview",
            workers=1,
            worker_threads=1,
            **config,
        )
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="godot-replay-server", daemon=True)
        thread.start()
        starter = _default_http_starter() or http_starter
        running = asyncio.run_coroutine_threadsafe(
            start_server(server_config, http_starter=starter), loop
        ).result(120)
        try:
            assert running.http_port, "the server started without its HTTP/1.1 listener"
            if hasattr(running.service, "wait_ready"):  # the preview worker process has loaded
                asyncio.run_coroutine_threadsafe(running.service.wait_ready(120.0), loop).result()
            yield cls(running.http_port, fixtures)
        finally:
            asyncio.run_coroutine_threadsafe(running.stop(5.0), loop).result(60)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)
            loop.close()

    def send(self, name: str, timeout: float = 30.0) -> ReplayResponse:
        data = render((self.fixtures / name).read_bytes(), self.values)
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as sock:
            sock.sendall(data)
            return read_response(sock, timeout)


REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "clients/godot/test/fixtures/protocol"
ADDON = REPO / "clients/godot/addons/trellis2"
MANIFEST = json.loads((FIXTURES / "manifest.json").read_text())
ENTRIES = {entry["file"]: entry for entry in MANIFEST["requests"]}

REQUEST_TYPES = {
    "CreateJob": pb.CreateJobRequest,
    "WatchJob": pb.WatchJobRequest,
    "GetJob": pb.GetJobRequest,
    "CancelJob": pb.CancelJobRequest,
    "ListJobs": pb.ListJobsRequest,
    "GetServerInfo": pb.GetServerInfoRequest,
}


def _recorder():
    spec = importlib.util.spec_from_file_location(
        "record_fixtures", FIXTURES / "record_fixtures.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --------------------------------------------------------------------------- offline checks


@pytest.mark.parametrize("name", sorted(ENTRIES))
def test_recorded_request_matches_the_builder_mirror(name: str) -> None:
    assert (FIXTURES / name).read_bytes() == _recorder().build(ENTRIES[name]), (
        f"{name} differs from what requests.gd builds; rerun record_fixtures.py"
    )


@pytest.mark.parametrize("name", sorted(ENTRIES))
def test_recorded_request_is_well_formed_http_with_a_valid_proto_json_body(name: str) -> None:
    request = parse_request((FIXTURES / name).read_bytes())
    assert request.headers["content-length" if request.body else "host"]
    if request.method == "GET":
        assert request.path.startswith("/v1/artifacts/")
        assert request.body == b""
        return
    method = request.path.rsplit("/", 1)[-1]
    assert request.path == f"/trellis2.v1.AssetGenerationService/{method}"
    assert int(request.headers["content-length"]) == len(request.body)
    assert request.headers["connect-protocol-version"] == "1"
    if request.headers["content-type"] == "application/connect+json":
        frames = parse_envelopes(request.body)
        assert [flags for flags, _ in frames] == [0]
        payload = frames[0][1]
    else:
        assert request.headers["content-type"] == "application/json"
        payload = request.body
    message = REQUEST_TYPES[method]()
    json_format.Parse(payload.decode(), message, ignore_unknown_fields=False)
    if method == "CreateJob":
        export = message.export_options
        assert export.profile == pb.OUTPUT_PROFILE_GODOT
        assert pb.EXTRA_TEXTURE_ORM in export.extra_textures
        assert export.texture_format in (pb.TEXTURE_FORMAT_WEBP, pb.TEXTURE_FORMAT_PNG)


def test_recorded_server_answer_used_by_the_gdscript_tests_is_valid_proto_json() -> None:
    recorded = FIXTURES.parent / "server_preview/completed_event.json"
    event = json_format.Parse(recorded.read_text(), pb.JobEvent(), ignore_unknown_fields=False)
    assert event.WhichOneof("event") == "completed"
    assert event.completed.artifacts[0].kind == pb.ARTIFACT_KIND_ASSET


def _proto_json_names() -> set[str]:
    names: set[str] = set()
    for message in pb.DESCRIPTOR.message_types_by_name.values():
        names.update(field.json_name for field in message.fields)
    return names


def test_job_model_reads_only_field_names_the_proto_defines() -> None:
    source = (ADDON / "job_model.gd").read_text()
    read = set(re.findall(r'_(?:str|int|float|dict)\(\w+, "(\w+)"', source))
    read |= set(re.findall(r'\.get\("(\w+)"', source))
    read |= set(re.findall(r'"(\w+)",', source.split("const EVENT_KINDS")[1].split("]")[0]))
    assert len(read) > 30, "the regexes no longer find job_model.gd's field reads"
    unknown = read - _proto_json_names()
    assert not unknown, f"job_model.gd reads JSON fields the proto does not define: {unknown}"


# --------------------------------------------------------------------------- live replay


@pytest.fixture(scope="module")
def replay(tmp_path_factory: pytest.TempPathFactory):
    """A real server (preview backend) with its HTTP/1.1 listener, and a raw-socket replayer."""
    with GodotReplay.start(tmp_path_factory.mktemp("godot-server"), FIXTURES) as session:
        yield session


@pytest.fixture(scope="module")
def finished_job(replay: GodotReplay) -> dict:
    created = replay.send("create_job.http")
    job = created.json()
    replay.values["@@JOB_NAME@@"] = job["name"]
    stream = replay.send("watch_job.http", timeout=90)
    events = _events(stream)
    completed = events[-1]["completed"]
    replay.values["@@DIGEST@@"] = completed["artifacts"][0]["digest"]
    return {"created": created, "job": job, "events": events, "completed": completed}


def _events(response: ReplayResponse) -> list[dict]:
    """Reads a WatchJob answer the way client.gd does and returns its events."""
    assert response.status == 200, response.body[:300]
    assert response.headers["content-type"] == "application/connect+json"
    frames = parse_envelopes(response.body)
    assert frames, "empty stream"
    *messages, (last_flags, trailer) = frames
    assert last_flags == 0x02, "the stream must end with an end-of-stream envelope"
    assert all(flags == 0 for flags, _ in messages), "only the trailer may set flags"
    end = json.loads(trailer or b"{}")
    assert "error" not in end, end
    events = [json.loads(payload) for _, payload in messages]
    for event in events:
        json_format.Parse(json.dumps(event), pb.JobEvent(), ignore_unknown_fields=False)
    return [e for e in events if "heartbeat" not in e]


def test_server_info_answers_the_addons_unary_json_request(replay: GodotReplay) -> None:
    response = replay.send("server_info.http")
    assert response.status == 200
    assert response.headers["content-type"].startswith("application/json")
    info = response.json()
    assert info["version"] and info["defaultBackend"]
    # job_model.gd's accepted_pipeline_types finds the default backend's entry by name and
    # reads its pipelineTypes as enum names (the preview backend accepts every type).
    default = [b for b in info["backends"] if b["name"] == info["defaultBackend"]]
    assert len(default) == 1
    every_type = {v.name for v in pb.PipelineType.DESCRIPTOR.values}
    assert set(default[0]["pipelineTypes"]) == every_type - {"PIPELINE_TYPE_UNSPECIFIED"}


def test_create_job_answers_a_job_the_addon_can_store(finished_job: dict) -> None:
    created, job = finished_job["created"], finished_job["job"]
    assert created.status == 200
    assert created.headers["content-type"].startswith("application/json")
    assert job["name"] == f"jobs/{job['jobId']}"
    assert job["state"] in ("JOB_STATE_QUEUED", "JOB_STATE_RUNNING", "JOB_STATE_SUCCEEDED")


def test_watch_streams_enveloped_events_in_seq_order_until_completed(finished_job: dict) -> None:
    events = finished_job["events"]
    seqs = [int(e["seq"]) for e in events]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs) and seqs[0] >= 1
    assert all(e["job"] == finished_job["job"]["name"] for e in events)
    kinds = [next(k for k in e if k not in ("job", "seq", "time")) for e in events]
    assert kinds[-1] == "completed"
    for event in events:
        if "progress" in event:
            assert 0.0 <= float(event["progress"].get("fraction", 0.0)) <= 1.0
            assert event["progress"].get("stage")
        if "preview" in event:
            thumb = event["preview"].get("thumbnail", {})
            assert not thumb or thumb["mediaType"] == "image/png"


def test_completed_assets_follow_the_godot_profile_the_importer_expects(
    finished_job: dict,
) -> None:
    artifacts = finished_job["completed"]["artifacts"]
    main = artifacts[0]
    assert main["kind"] == "ARTIFACT_KIND_ASSET"
    assert main["filename"].endswith(".gltf") and main["mediaType"] == "model/gltf+json"
    kinds = {a["kind"] for a in artifacts}
    assert "ARTIFACT_KIND_EXTRA_TEXTURE" in kinds, "EXTRA_TEXTURE_ORM was requested"
    for artifact in artifacts:
        assert re.fullmatch(r"[0-9a-f]{64}", artifact["digest"])
        assert int(artifact["sizeBytes"]) > 0
        assert "/" not in artifact["filename"] and ".." not in artifact["filename"]


def test_gltf_refers_only_to_delivered_files_and_no_draco_or_meshopt(
    replay: GodotReplay, finished_job: dict
) -> None:
    artifacts = finished_job["completed"]["artifacts"]
    body = replay.send("download.http").body
    gltf = json.loads(body)
    names = {a["filename"] for a in artifacts}
    uris = [b["uri"] for b in gltf.get("buffers", [])] + [i["uri"] for i in gltf.get("images", [])]
    assert uris and all(uri in names for uri in uris), (uris, names)
    used = set(gltf.get("extensionsUsed", []))
    assert not used & {"KHR_draco_mesh_compression", "EXT_meshopt_compression"}


def test_resumed_watch_replays_only_events_after_the_given_seq(
    replay: GodotReplay, finished_job: dict
) -> None:
    events = _events(replay.send("watch_job_resume.http", timeout=30))
    assert (
        events
        and min(int(e["seq"]) for e in events)
        >= ENTRIES["watch_job_resume.http"]["expect"]["min_seq"]
    )
    assert "completed" in events[-1]


def test_get_job_returns_the_artifacts_for_reimport(
    replay: GodotReplay, finished_job: dict
) -> None:
    job = replay.send("get_job.http").json()
    assert job["state"] == "JOB_STATE_SUCCEEDED"
    assert [a["digest"] for a in job["artifacts"]] == [
        a["digest"] for a in finished_job["completed"]["artifacts"]
    ]
    assert int(job["lastSeq"]) == int(finished_job["events"][-1]["seq"])


def test_download_returns_the_exact_bytes_of_the_digest_with_validators(
    replay: GodotReplay, finished_job: dict
) -> None:
    response = replay.send("download.http")
    digest = replay.values["@@DIGEST@@"]
    assert response.status == 200
    assert hashlib.sha256(response.body).hexdigest() == digest
    assert int(response.headers["content-length"]) == len(response.body)
    assert digest in response.headers.get("etag", "")


def test_download_with_range_resumes_from_the_offset(
    replay: GodotReplay, finished_job: dict
) -> None:
    full = replay.send("download.http").body
    response = replay.send("download_resume.http")
    assert response.status == 206
    assert response.headers["content-range"] == f"bytes 100-{len(full) - 1}/{len(full)}"
    assert response.body == full[100:]


def test_cancel_of_a_finished_job_returns_it_unchanged(
    replay: GodotReplay, finished_job: dict
) -> None:
    job = replay.send("cancel_job.http").json()
    assert job["state"] == "JOB_STATE_SUCCEEDED"


def test_list_jobs_includes_the_job_for_the_team_history(
    replay: GodotReplay, finished_job: dict
) -> None:
    jobs = replay.send("list_jobs.http").json()["jobs"]
    assert finished_job["job"]["name"] in [j["name"] for j in jobs]


@pytest.mark.parametrize("name", ["get_job_unknown.http", "create_job_bad_image.http"])
def test_errors_arrive_as_connect_error_json_the_dock_can_explain(
    replay: GodotReplay, name: str
) -> None:
    expect = ENTRIES[name]["expect"]
    response = replay.send(name)
    assert response.status == expect["status"]
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()
    assert error["code"] == expect["code"] and error.get("message")


def test_glb_png_request_delivers_a_glb_with_png_textures(replay: GodotReplay) -> None:
    job = replay.send("create_job_glb_png.http").json()
    saved = dict(replay.values)
    try:
        replay.values["@@JOB_NAME@@"] = job["name"]
        events = _events(replay.send("watch_job.http", timeout=90))
        main = events[-1]["completed"]["artifacts"][0]
        assert main["filename"].endswith(".glb") and main["mediaType"] == "model/gltf-binary"
        replay.values["@@DIGEST@@"] = main["digest"]
        glb = replay.send("download.http").body
    finally:
        replay.values.update(saved)
    magic, _version, _length, json_length, json_type = struct.unpack_from("<4sIIII", glb)
    assert magic == b"glTF" and json_type == 0x4E4F534A
    gltf = json.loads(glb[20 : 20 + json_length])
    used = set(gltf.get("extensionsUsed", []))
    assert not used & {"KHR_draco_mesh_compression", "EXT_meshopt_compression", "EXT_texture_webp"}
    assert {image["mimeType"] for image in gltf.get("images", [])} <= {"image/png"}


@pytest.fixture(scope="module")
def auth_replay(tmp_path_factory: pytest.TempPathFactory):
    """A second server that requires API keys ('godot-fixture-key' belongs to team 'godot')."""
    data_dir = tmp_path_factory.mktemp("godot-auth-server")
    keys = data_dir / "api_keys.txt"
    keys.write_text("godot-fixture-key godot\n")
    with GodotReplay.start(data_dir, FIXTURES, api_keys_file=keys) as session:
        yield session


def test_the_addons_bearer_header_authenticates_with_an_api_key(auth_replay: GodotReplay) -> None:
    info = auth_replay.send("server_info_with_key.http").json()
    assert info["authRequired"] is True
    listed = auth_replay.send("list_jobs_with_key.http")
    assert listed.status == 200 and isinstance(listed.json().get("jobs", []), list)


def test_without_a_key_the_dock_gets_unauthenticated(auth_replay: GodotReplay) -> None:
    response = auth_replay.send("list_jobs.http")
    assert response.status == 401
    assert response.json()["code"] == "unauthenticated"


def test_watch_of_an_unknown_job_ends_with_an_error_the_addon_reads(replay: GodotReplay) -> None:
    """Connect streams report errors in the end-of-stream frame (or as a unary-style error
    before the stream starts); client.gd reads both."""
    response = replay.send("watch_job_unknown.http")
    if response.status == 200:
        assert response.headers["content-type"] == "application/connect+json"
        frames = parse_envelopes(response.body)
        assert frames[-1][0] == 0x02
        error = json.loads(frames[-1][1])["error"]
    else:
        error = response.json()
    assert error["code"] == ENTRIES["watch_job_unknown.http"]["expect"]["code"]
    assert error.get("message")


def test_download_of_an_unknown_digest_is_a_404(replay: GodotReplay) -> None:
    response = replay.send("download_unknown.http")
    assert response.status == 404
