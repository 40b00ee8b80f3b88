# SPDX-License-Identifier: MIT
"""`GET /v1/artifacts/{sha256}`: Range resume, strong ETag, 304, 416, immutable caching."""

from __future__ import annotations

import hashlib
import io
import zipfile

import httpx
import pytest
from http_helpers import HttpServerProcess

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def asset(finished_job: dict) -> dict:
    return finished_job["artifacts"][0]


def _url(server: HttpServerProcess, asset: dict, suffix: str = ".glb") -> str:
    return f"{server.url}/v1/artifacts/{asset['digest']}{suffix}"


def test_full_download_has_digest_etag_and_immutable_caching(
    http_server: HttpServerProcess, asset: dict
) -> None:
    response = httpx.get(_url(http_server, asset))
    assert response.status_code == 200
    assert hashlib.sha256(response.content).hexdigest() == asset["digest"]
    assert response.headers["etag"] == f'"{asset["digest"]}"'
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert response.headers["accept-ranges"] == "bytes"
    assert response.headers["content-type"] == asset["mediaType"]
    assert int(response.headers["content-length"]) == int(asset["sizeBytes"])
    # The bare digest works too, and HEAD sends the headers only.
    head = httpx.head(_url(http_server, asset, ""))
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == response.headers["content-length"]


def test_cut_download_resumes_with_range_and_if_range(
    http_server: HttpServerProcess, asset: dict
) -> None:
    url = _url(http_server, asset)
    size = int(asset["sizeBytes"])
    cut = size // 3
    received = b""
    # Read the first third, then drop the connection mid-body.
    with httpx.stream("GET", url) as response:
        for chunk in response.iter_raw(chunk_size=1024):
            received += chunk
            if len(received) >= cut:
                break
    received = received[:cut]
    resumed = httpx.get(
        url, headers={"range": f"bytes={len(received)}-", "if-range": f'"{asset["digest"]}"'}
    )
    assert resumed.status_code == 206
    assert resumed.headers["content-range"] == f"bytes {cut}-{size - 1}/{size}"
    whole = received + resumed.content
    assert hashlib.sha256(whole).hexdigest() == asset["digest"]


def test_range_forms_and_bounds(http_server: HttpServerProcess, asset: dict) -> None:
    url = _url(http_server, asset)
    size = int(asset["sizeBytes"])
    whole = httpx.get(url).content
    first = httpx.get(url, headers={"range": "bytes=0-9"})
    assert first.status_code == 206 and first.content == whole[:10]
    suffix = httpx.get(url, headers={"range": "bytes=-16"})
    assert suffix.status_code == 206 and suffix.content == whole[-16:]
    past_end = httpx.get(url, headers={"range": f"bytes={size}-"})
    assert past_end.status_code == 416
    assert past_end.headers["content-range"] == f"bytes */{size}"
    clipped = httpx.get(url, headers={"range": f"bytes={size - 4}-{size + 100}"})
    assert clipped.status_code == 206 and clipped.content == whole[-4:]
    # Several ranges, or a stale If-Range: the whole file instead.
    several = httpx.get(url, headers={"range": "bytes=0-1,4-5"})
    assert several.status_code == 200 and several.content == whole
    stale = httpx.get(url, headers={"range": "bytes=0-9", "if-range": '"other"'})
    assert stale.status_code == 200 and stale.content == whole


def test_matching_if_none_match_answers_304(http_server: HttpServerProcess, asset: dict) -> None:
    url = _url(http_server, asset)
    response = httpx.get(url, headers={"if-none-match": f'"{asset["digest"]}"'})
    assert response.status_code == 304
    assert response.content == b""
    assert response.headers["etag"] == f'"{asset["digest"]}"'
    assert httpx.get(url, headers={"if-none-match": '"something-else"'}).status_code == 200


def test_filename_query_sets_content_disposition(
    http_server: HttpServerProcess, asset: dict
) -> None:
    response = httpx.head(_url(http_server, asset) + "?filename=apple.glb")
    assert response.headers["content-disposition"].startswith('attachment; filename="apple.glb"')


def test_unknown_or_malformed_digests_are_404(http_server: HttpServerProcess) -> None:
    assert httpx.get(f"{http_server.url}/v1/artifacts/{'0' * 64}.glb").status_code == 404
    assert httpx.get(f"{http_server.url}/v1/artifacts/../../etc/passwd").status_code == 404
    assert httpx.get(f"{http_server.url}/v1/artifacts/ABC").status_code == 404
    assert httpx.post(f"{http_server.url}/v1/artifacts/{'0' * 64}").status_code == 405


def test_a_finished_jobs_files_come_as_one_zip(
    http_server: HttpServerProcess, finished_job: dict
) -> None:
    response = httpx.get(f"{http_server.url}/v1/jobs/{finished_job['jobId']}/files.zip")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/zip"
    assert response.headers["content-disposition"] == 'attachment; filename="apple.zip"'
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        digests = {hashlib.sha256(archive.read(n)).hexdigest() for n in archive.namelist()}
    assert digests == {a["digest"] for a in finished_job["artifacts"]}
    assert httpx.get(f"{http_server.url}/v1/jobs/nope/files.zip").status_code == 404
