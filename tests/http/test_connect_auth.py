# SPDX-License-Identifier: MIT
"""API keys over HTTP: `Authorization: Bearer <key>` maps to the core's authentication, for
Connect calls (unary and streaming) and artifact downloads alike; teams see only their jobs."""

from __future__ import annotations

import httpx
import pytest
from http_helpers import ALPHA_KEY, BETA_KEY, HttpServerProcess, stream_json, unary

pytestmark = pytest.mark.timeout(120)
ALPHA = {"authorization": f"Bearer {ALPHA_KEY}"}
BETA = {"authorization": f"Bearer {BETA_KEY}"}


def test_calls_without_or_with_a_wrong_key_are_unauthenticated(
    keyed_server: HttpServerProcess,
) -> None:
    for headers in ({}, {"authorization": "Bearer nope"}, {"authorization": "Basic abc"}):
        response = unary(keyed_server.url, "GetServerInfo", {}, headers=headers)
        assert response.status_code == 401, response.text
        assert response.json()["code"] == "unauthenticated"
    messages, end = stream_json(keyed_server.url, "WatchJob", {"name": "jobs/x"})
    assert messages == [] and end["error"]["code"] == "unauthenticated"
    info = unary(keyed_server.url, "GetServerInfo", {}, headers=ALPHA)
    assert info.status_code == 200 and info.json()["authRequired"] is True


def test_teams_see_only_their_jobs_and_downloads_need_a_key(
    keyed_server: HttpServerProcess, apple_b64: str
) -> None:
    created = unary(
        keyed_server.url, "CreateJob", {"image": apple_b64, "displayName": "a"}, headers=ALPHA
    )
    assert created.status_code == 200, created.text
    job = created.json()
    assert job["team"] == "alpha"
    other = unary(keyed_server.url, "GetJob", {"name": job["name"]}, headers=BETA)
    assert other.status_code == 404 and other.json()["code"] == "not_found"
    # The uploaded image is itself a content-addressed artifact.
    url = f"{keyed_server.url}/v1/artifacts/{job['spec']['imageDigest']}.png"
    assert httpx.get(url).status_code == 401
    assert httpx.get(url, headers=ALPHA).status_code == 200
    bundle = f"{keyed_server.url}/v1/jobs/{job['jobId']}/files.zip"
    assert httpx.get(bundle).status_code == 401
    assert httpx.get(bundle, headers=BETA).status_code == 404  # another team's job
    unary(keyed_server.url, "CancelJob", {"name": job["name"]}, headers=ALPHA)
