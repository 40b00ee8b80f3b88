# SPDX-License-Identifier: MIT
"""`GET /v1/jobs/{job_id}/files.zip`: every file of a finished job in one download.

A glTF container is a .gltf plus a .bin and textures, each its own artifact; browsers (the
dashboard) would otherwise save them one by one. The zip is stored (not deflated: GLB buffers
and textures are compressed already), built in a thread, with the names the .gltf refers to.
"""

from __future__ import annotations

import asyncio
import io
import re
import zipfile
from pathlib import Path
from typing import Any

from trellis2_server.api._gen.trellis2.v1 import asset_generation_pb2 as pb
from trellis2_server.core.errors import Trellis2Error
from trellis2_server.http.asgi import Receive, Scope, Send, bearer_token, respond

PREFIX = "/v1/jobs/"
_PATH = re.compile(r"^([0-9A-Za-z_-]{1,64})/files\.zip$")
_STATUS = {16: 401, 7: 403, 5: 404, 3: 400, 9: 409}


async def serve_bundle(service: Any, scope: Scope, receive: Receive, send: Send) -> None:
    match = _PATH.match(scope["path"][len(PREFIX) :])
    if match is None or scope["method"] not in ("GET", "HEAD"):
        await _text(send, 404, "not found; use GET /v1/jobs/<job id>/files.zip")
        return
    try:
        caller = await service.authenticate(bearer_token(scope))
        job = await service.get_job(pb.GetJobRequest(name=f"jobs/{match.group(1)}"), caller)
        if job.state != pb.JOB_STATE_SUCCEEDED:
            await _text(send, 409, f"job {job.job_id} has no files yet (it is not succeeded)")
            return
        files = [(a.filename, service.artifact_path(a.digest)[0]) for a in job.artifacts]
    except Trellis2Error as exc:
        await _text(send, _STATUS.get(exc.code.value[0], 400), exc.message)
        return
    body = await asyncio.to_thread(_zip, files)
    name = re.sub(r"[^A-Za-z0-9._-]", "_", job.spec.display_name or "asset")[:100] or "asset"
    headers = [
        (b"content-disposition", f'attachment; filename="{name}.zip"'.encode()),
        (b"cache-control", b"private, max-age=3600"),
    ]
    await respond(send, 200, body, "application/zip", headers)


def _zip(files: list[tuple[str, Path]]) -> bytes:
    out = io.BytesIO()
    seen: set[str] = set()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as archive:
        for filename, path in files:
            # Names come from the server; still, keep them flat and unique inside the zip.
            arcname = Path(filename).name or path.name
            if arcname in seen:
                continue
            seen.add(arcname)
            archive.write(path, arcname)
    return out.getvalue()


async def _text(send: Send, status: int, message: str) -> None:
    await respond(send, status, (message + "\n").encode(), "text/plain; charset=utf-8")
