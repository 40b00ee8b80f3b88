# SPDX-License-Identifier: MIT
"""Jobs over the Connect protocol: the same core, events and errors as gRPC."""

from __future__ import annotations

import base64
import hashlib
import json

import grpc
import httpx
import pytest
from google.protobuf import json_format
from http_helpers import (
    SERVICE,
    HttpServerProcess,
    create_job,
    envelope,
    event_kind,
    read_envelopes,
    stream_json,
    unary,
    watch_to_end,
)
from trellis2_server.api._gen.trellis2.v1 import asset_generation_pb2 as pb
from trellis2_server.api._gen.trellis2.v1 import asset_generation_pb2_grpc as pb_grpc

pytestmark = pytest.mark.timeout(180)


def test_watch_streams_every_event_with_increasing_seq_until_completed(
    http_server: HttpServerProcess, finished_job: dict
) -> None:
    events = watch_to_end(http_server.url, finished_job["name"])
    seqs = [int(e["seq"]) for e in events]
    assert seqs == list(range(1, len(seqs) + 1))
    kinds = [event_kind(e) for e in events]
    assert kinds[0] == "queued" and kinds[-1] == "completed"
    assert "started" in kinds and "progress" in kinds
    assert finished_job["state"] == "JOB_STATE_SUCCEEDED"
    assert finished_job["artifacts"][0]["mediaType"] == "model/gltf-binary"


def test_connect_and_grpc_deliver_identical_events(
    http_server: HttpServerProcess, finished_job: dict
) -> None:
    over_http = watch_to_end(http_server.url, finished_job["name"])
    with grpc.insecure_channel(f"127.0.0.1:{http_server.grpc_port}") as channel:
        stub = pb_grpc.AssetGenerationServiceStub(channel)
        request = pb.WatchJobRequest(name=finished_job["name"])
        over_grpc = [json_format.MessageToDict(e) for e in stub.WatchJob(request, timeout=30)]
    assert over_http == over_grpc


def test_binary_codec_carries_the_same_messages(
    http_server: HttpServerProcess, finished_job: dict
) -> None:
    request = pb.WatchJobRequest(name=finished_job["name"]).SerializeToString()
    response = httpx.post(
        http_server.url + SERVICE + "WatchJob",
        content=envelope(request),
        headers={"content-type": "application/connect+proto"},
    )
    assert response.headers["content-type"] == "application/connect+proto"
    frames = list(read_envelopes(iter([response.content])))
    assert frames[-1][0] == 0x02 and json.loads(frames[-1][1]) == {}
    events = [pb.JobEvent.FromString(payload) for _, payload in frames[:-1]]
    assert [json_format.MessageToDict(e) for e in events] == watch_to_end(
        http_server.url, finished_job["name"]
    )
    # Unary with application/proto.
    response = httpx.post(
        http_server.url + SERVICE + "GetJob",
        content=pb.GetJobRequest(name=finished_job["name"]).SerializeToString(),
        headers={"content-type": "application/proto"},
    )
    assert response.headers["content-type"] == "application/proto"
    assert pb.Job.FromString(response.content).job_id == finished_job["jobId"]


def test_watch_after_a_dropped_connection_resumes_from_the_last_seq_without_gaps(
    http_server: HttpServerProcess, apple_b64: str
) -> None:
    job = create_job(http_server.url, apple_b64, displayName="resume", seed="11")
    seen: list[dict] = []
    body = envelope(json.dumps({"name": job["name"]}).encode())
    headers = {"content-type": "application/connect+json"}
    with httpx.stream(
        "POST", http_server.url + SERVICE + "WatchJob", content=body, headers=headers
    ) as response:
        for _flags, payload in read_envelopes(response.iter_bytes()):
            event = json.loads(payload)
            if "heartbeat" not in event:
                seen.append(event)
            if len(seen) == 2:
                break  # Hang up mid-stream.
    rest = watch_to_end(http_server.url, job["name"], after_seq=int(seen[-1]["seq"]))
    seqs = [int(e["seq"]) for e in seen + rest]
    assert seqs == list(range(1, len(seqs) + 1))
    assert "completed" in rest[-1]


def test_generate_asset_streams_from_queued_to_completed(
    http_server: HttpServerProcess, apple_b64: str
) -> None:
    request = {
        "job": {
            "image": apple_b64,
            "pipelineType": "PIPELINE_TYPE_512",
            "exportOptions": {"textureSize": 256, "decimationTarget": 2000},
            "displayName": "generate",
        }
    }
    messages, end = stream_json(http_server.url, "GenerateAsset", request)
    assert end == {}
    events = [m for m in messages if "heartbeat" not in m]
    assert event_kind(events[0]) == "queued" and event_kind(events[-1]) == "completed"


def test_generate_asset_with_bad_input_ends_the_stream_with_invalid_argument(
    http_server: HttpServerProcess,
) -> None:
    junk = base64.b64encode(b"GIF89a not supported").decode()
    messages, end = stream_json(http_server.url, "GenerateAsset", {"job": {"image": junk}})
    assert messages == []
    assert end["error"]["code"] == "invalid_argument"


def test_cancel_ends_a_job_as_canceled(http_server: HttpServerProcess, apple_b64: str) -> None:
    # Two jobs on one worker: the second waits in the queue (or has just started).
    create_job(http_server.url, apple_b64, displayName="ahead", seed="21")
    job = create_job(http_server.url, apple_b64, displayName="cancel-me", seed="22")
    canceled = unary(http_server.url, "CancelJob", {"name": job["name"]})
    assert canceled.status_code == 200
    events = watch_to_end(http_server.url, job["name"])
    assert "canceled" in events[-1]
    final = unary(http_server.url, "GetJob", {"name": job["name"]}).json()
    assert final["state"] == "JOB_STATE_CANCELED"
    listed = unary(http_server.url, "ListJobs", {"states": ["JOB_STATE_CANCELED"]}).json()
    assert job["jobId"] in [j["jobId"] for j in listed["jobs"]]


def test_connect_timeout_ends_a_watch_with_deadline_exceeded(
    http_server: HttpServerProcess, apple_b64: str
) -> None:
    for seed in ("31", "32"):
        create_job(http_server.url, apple_b64, displayName="busy", seed=seed)
    job = create_job(http_server.url, apple_b64, displayName="waits", seed="33")
    messages, end = stream_json(
        http_server.url, "WatchJob", {"name": job["name"]}, headers={"connect-timeout-ms": "150"}
    )
    assert end["error"]["code"] == "deadline_exceeded"
    assert messages and "queued" in messages[0]


def test_fetch_artifact_stream_reassembles_the_asset(
    http_server: HttpServerProcess, finished_job: dict
) -> None:
    asset = finished_job["artifacts"][0]
    messages, end = stream_json(
        http_server.url, "FetchArtifact", {"digest": asset["digest"], "chunkSize": 65536}
    )
    assert end == {}
    data = b"".join(base64.b64decode(m.get("data", "")) for m in messages)
    assert hashlib.sha256(data).hexdigest() == asset["digest"]
    assert len(data) == int(asset["sizeBytes"]) == int(messages[0]["totalSize"])


def test_large_unary_replies_are_gzipped_when_the_client_accepts_it(
    http_server: HttpServerProcess, finished_job: dict
) -> None:
    body = {"pageSize": 50}
    plain = httpx.post(
        http_server.url + SERVICE + "ListJobs",
        json=body,
        headers={"accept-encoding": "identity"},
    )
    assert "content-encoding" not in plain.headers
    packed = httpx.post(
        http_server.url + SERVICE + "ListJobs", json=body, headers={"accept-encoding": "gzip"}
    )
    assert packed.headers["content-encoding"] == "gzip"
    assert int(packed.headers["content-length"]) < len(plain.content)
    # httpx inflates it (states may move on in between: compare the jobs listed).
    assert [j["jobId"] for j in packed.json()["jobs"]] == [j["jobId"] for j in plain.json()["jobs"]]
