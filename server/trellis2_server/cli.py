# SPDX-License-Identifier: MIT
"""The `trellis2` command: `serve`, `generate IMAGE... -o DIR`, `jobs list|get|watch|cancel`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import grpc

from trellis2_server.api._gen.trellis2.v1 import asset_generation_pb2 as pb
from trellis2_server.client import Client
from trellis2_server.config import ServerConfig
from trellis2_server.core.errors import Trellis2Error
from trellis2_server.progress import ProgressBoard

# Enum values are plain ints here (proto enums accept them).
PIPELINES: dict[str, Any] = {
    "512": pb.PIPELINE_TYPE_512,
    "1024": pb.PIPELINE_TYPE_1024,
    "1024_cascade": pb.PIPELINE_TYPE_1024_CASCADE,
    "1536_cascade": pb.PIPELINE_TYPE_1536_CASCADE,
}
RESOLUTIONS = {"512": "512", "1024": "1024_cascade", "1536": "1536_cascade"}
TEXTURE_FORMATS: dict[str, Any] = {"png": 1, "jpeg": 2, "webp": 3}
PROFILES: dict[str, Any] = {"generic": 1, "unity": 2, "godot": 3}
CONTAINERS: dict[str, Any] = {"glb": 1, "gltf": 2}
EXTRA_TEXTURES: dict[str, Any] = {"metallic_smoothness": 1, "mask_map": 2, "orm": 3}
STATES = {n.removeprefix("JOB_STATE_").lower(): v for n, v in pb.JobState.items() if v}
STATE_NAMES = {v: k for k, v in STATES.items()}


class CliError(Exception):
    """A failure with a message for the user; exit code 1."""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="trellis2", description="TRELLIS.2 image-to-3D server")
    sub = p.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the gRPC (and HTTP) server")
    ServerConfig.add_arguments(serve)
    serve.add_argument("--log-level", default="INFO")

    gen = sub.add_parser("generate", help="turn images into 3D assets")
    gen.add_argument("images", nargs="+", type=Path, metavar="IMAGE")
    gen.add_argument("-o", "--output", type=Path, required=True, metavar="DIR")
    _add_remote(gen, required=False)
    gen.add_argument("--resolution", choices=sorted(RESOLUTIONS), default=None)
    gen.add_argument("--pipeline-type", choices=sorted(PIPELINES), default=None)
    gen.add_argument("--seed", type=int, default=42, help="-1 lets the server draw one")
    gen.add_argument("--steps", type=int, default=None, help="sampler steps for every stage")
    gen.add_argument(
        "--guidance", type=float, default=None, help="guidance strength for every stage"
    )
    gen.add_argument("--texture-size", type=int, default=0)
    gen.add_argument("--texture-format", choices=sorted(TEXTURE_FORMATS), default=None)
    gen.add_argument("--profile", choices=sorted(PROFILES), default=None)
    gen.add_argument("--container", choices=sorted(CONTAINERS), default=None)
    gen.add_argument("--decimation", type=int, default=0, help="target triangle count")
    gen.add_argument(
        "--extra-texture",
        choices=sorted(EXTRA_TEXTURES),
        action="append",
        default=[],
        help="also deliver this packed texture (repeatable)",
    )
    gen.add_argument("--backend", choices=["preview", "trellis2"], default=None)
    gen.add_argument("--priority", type=int, default=0)
    gen.add_argument("--data-dir", type=Path, help="embedded server's data (default: temporary)")

    # Listed for --help only; main() hands "convert" to trellis2.postprocess.convert.main.
    sub.add_parser("convert", help="textured glTF/GLB -> O-Voxel -> clean re-baked asset")

    jobs = sub.add_parser("jobs", help="list, inspect, follow or cancel jobs")
    jsub = jobs.add_subparsers(dest="jobs_command", required=True)
    lst = jsub.add_parser("list")
    _add_remote(lst)
    lst.add_argument("--state", choices=sorted(STATES), action="append", default=[])
    lst.add_argument("--page-size", type=int, default=50)
    for name in ("get", "watch", "cancel"):
        cmd = jsub.add_parser(name)
        _add_remote(cmd)
        cmd.add_argument("job", help="job name (jobs/<id>) or id")
        if name == "watch":
            cmd.add_argument("--after-seq", type=int, default=0)
    return p


def _add_remote(p: argparse.ArgumentParser, required: bool = True) -> None:
    default = "127.0.0.1:50051" if required else None
    p.add_argument(
        "--server",
        default=default,
        metavar="HOST:PORT",
        help="server address" + ("" if required else " (default: an embedded server)"),
    )
    p.add_argument("--api-key", default=None, help="API key (default: $TRELLIS2_API_KEY)")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["convert"]:
        from trellis2.postprocess.convert import main as convert_main

        return convert_main(argv[1:])
    args = _parser().parse_args(argv)
    if args.command == "serve":
        return _serve(args)
    if getattr(args, "api_key", None) is None:
        args.api_key = os.environ.get("TRELLIS2_API_KEY")
    try:
        if args.command == "generate":
            return asyncio.run(_generate(args))
        return asyncio.run(_jobs(args))
    except CliError as exc:
        print(f"trellis2: {exc}", file=sys.stderr)
        return 1
    except grpc.aio.AioRpcError as err:
        print(f"trellis2: {_rpc_message(err, args.server)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _rpc_message(err: grpc.aio.AioRpcError, server: str | None) -> str:
    if err.code() == grpc.StatusCode.UNAVAILABLE:
        return f"cannot reach the server at {server}: {err.details()} (start one: trellis2 serve)"
    return f"{err.code().name}: {err.details()}"


def _serve(args: argparse.Namespace) -> int:
    from trellis2_server.server import serve

    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        config = ServerConfig.from_env_and_args(args)
    except ValueError as exc:
        print(f"trellis2 serve: {exc}", file=sys.stderr)
        return 2
    try:
        serve(config)
    except OSError as exc:
        print(f"trellis2 serve: {exc}", file=sys.stderr)
        return 2
    return 0


def _job_name(text: str) -> str:
    return text if text.startswith("jobs/") else f"jobs/{text}"


# -- generate -------------------------------------------------------------------------------------


def _request(args: argparse.Namespace, image: Path) -> pb.CreateJobRequest:
    try:
        data = image.read_bytes()
    except OSError as exc:
        raise CliError(f"cannot read {image}: {exc.strerror}") from None
    pipeline = args.pipeline_type or RESOLUTIONS.get(args.resolution or "", "")
    export = pb.ExportOptions(
        decimation_target=args.decimation,
        texture_size=args.texture_size,
        texture_format=TEXTURE_FORMATS.get(args.texture_format or "", 0),
        profile=PROFILES.get(args.profile or "", 0),
        container=CONTAINERS.get(args.container or "", 0),
        extra_textures=[EXTRA_TEXTURES[x] for x in args.extra_texture],
    )
    sampler = pb.SamplerParams()
    if args.steps is not None:
        sampler.steps = args.steps
    if args.guidance is not None:
        sampler.guidance_strength = args.guidance
    req = pb.CreateJobRequest(
        image=data,
        sparse_structure_sampler=sampler,
        shape_slat_sampler=sampler,
        tex_slat_sampler=sampler,
        pipeline_type=PIPELINES.get(pipeline, 0),
        export_options=export,
        priority=args.priority,
        display_name=image.stem,
        backend=args.backend or "",
    )
    if args.seed >= 0:
        req.seed = args.seed
    return req


async def _generate(args: argparse.Namespace) -> int:
    requests = [(img, _request(args, img)) for img in args.images]
    args.output.mkdir(parents=True, exist_ok=True)
    embedded = None
    tmp = None
    if args.server is None:
        from trellis2_server.server import start_server

        if args.data_dir is None:
            tmp = tempfile.TemporaryDirectory(prefix="trellis2-")
        data_dir = args.data_dir or Path(tmp.name)  # type: ignore[union-attr]
        logging.basicConfig(level=logging.WARNING)
        config = ServerConfig.from_env_and_args(
            {
                "data_dir": data_dir,
                "host": "127.0.0.1",
                "grpc_port": 0,
                "http_port": -1,
                "backend": args.backend or None,
            },
        )
        embedded = await start_server(config)
        try:
            await embedded.service.wait_ready(config.worker_start_timeout)
        except Trellis2Error as exc:
            await embedded.stop(grace=0)
            raise CliError(exc.message) from None
        args.server = f"127.0.0.1:{embedded.grpc_port}"
        print(
            f"trellis2: embedded server, backend {embedded.service.backend_name}", file=sys.stderr
        )
    client = Client(args.server, args.api_key)
    labels = [_label(img, requests) for img, _ in requests]
    board = ProgressBoard(labels)
    try:
        results = await asyncio.gather(
            *(
                _generate_one(client, board, label, req, args.output, embedded)
                for label, (_, req) in zip(labels, requests, strict=True)
            )
        )
    finally:
        board.finish()
        await client.close()
        if embedded is not None:
            await embedded.stop(grace=0)
        if tmp is not None:
            tmp.cleanup()
    failed = 0
    for label, (ok, message) in zip(labels, results, strict=True):
        print(f"{label}: {message}", file=sys.stdout if ok else sys.stderr)
        failed += not ok
    return 1 if failed else 0


def _label(img: Path, requests: list[tuple[Path, pb.CreateJobRequest]]) -> str:
    same = [p for p, _ in requests if p.name == img.name]
    return str(img) if len(same) > 1 else img.name


async def _generate_one(
    client: Client,
    board: ProgressBoard,
    label: str,
    req: pb.CreateJobRequest,
    out_dir: Path,
    embedded: object | None,
) -> tuple[bool, str]:
    try:
        job = await client.create_job(req)
    except grpc.aio.AioRpcError as err:
        board.update(label, state="failed", note=err.details() or "")
        return False, f"rejected: {_rpc_message(err, client.target)}"
    completed = None
    async for ev in client.watch(job.name):
        kind = ev.WhichOneof("event")
        if kind == "queued":
            board.update(label, state="queued", note=f"#{ev.queued.position}")
        elif kind == "started":
            board.update(label, state="running", stage="started", note="")
        elif kind == "progress":
            p = ev.progress
            board.update(
                label, state="running", stage=p.stage, fraction=p.fraction, eta=p.eta_seconds
            )
        elif kind == "completed":
            completed = ev.completed
        elif kind == "failed":
            board.update(label, state="failed")
            error = ev.failed.error
            code = grpc.StatusCode.INTERNAL
            for c in grpc.StatusCode:
                if c.value[0] == error.code:
                    code = c
            return False, f"{job.name} failed ({code.name}): {error.message}"
        elif kind == "canceled":
            board.update(label, state="canceled")
            return False, f"{job.name} was canceled"
    if completed is None:
        return False, f"{job.name}: the event stream ended without a result"
    board.update(label, state="running", stage="download", fraction=1.0, eta=0)
    paths = await _save(client, completed, job.spec.display_name or "asset", out_dir)
    board.update(label, state="done", fraction=1.0)
    s = completed.stats
    extra = ", from cache" if s.cache_hit else ""
    return True, (
        f"wrote {paths[0]} ({s.triangle_count} triangles, {s.texture_count} textures "
        f"{s.texture_size}px{extra}) [{job.name}]"
    )


async def _save(client: Client, done: pb.JobCompleted, name: str, out_dir: Path) -> list[Path]:
    """GLB: DIR/<name>.glb (+ companions beside it). glTF: DIR/<name>/ with the URIs it uses."""
    main = done.artifacts[0]
    is_gltf = main.media_type == "model/gltf+json" or main.filename.endswith(".gltf")
    paths = []
    for i, art in enumerate(done.artifacts):
        if is_gltf:
            folder = out_dir / name
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / Path(art.filename).name
        elif i == 0:
            path = out_dir / (name + (Path(art.filename).suffix or ".glb"))
        else:
            path = out_dir / f"{name}_{Path(art.filename).name}"
        await client.download(art, path)
        paths.append(path)
    return paths


# -- jobs -----------------------------------------------------------------------------------------


def _job_line(job: pb.Job) -> str:
    state = STATE_NAMES.get(job.state, "?")
    extra = ""
    if job.state == pb.JOB_STATE_QUEUED:
        extra = f" position {job.queue_position}"
    elif job.state == pb.JOB_STATE_RUNNING:
        extra = f" {job.progress_fraction * 100:.0f}%"
    elif job.state == pb.JOB_STATE_SUCCEEDED and job.artifacts:
        extra = f" {job.artifacts[0].filename} {job.artifacts[0].digest[:12]}"
    elif job.state == pb.JOB_STATE_FAILED:
        extra = f" {job.error.message}"
    created = job.create_time.ToDatetime().strftime("%Y-%m-%d %H:%M:%S")
    return f"{job.name}  {state:<9} {created}  {job.spec.display_name}{extra}"


def _event_line(ev: pb.JobEvent) -> str:
    kind = ev.WhichOneof("event")
    body = getattr(ev, kind) if kind else None
    text = str(body).replace("\n", " ").strip() if body is not None else ""
    return f"{ev.seq:>4} {kind} {text}".rstrip()


async def _jobs(args: argparse.Namespace) -> int:
    client = Client(args.server, args.api_key)
    try:
        if args.jobs_command == "list":
            req = pb.ListJobsRequest(
                page_size=args.page_size, states=[STATES[s] for s in args.state]
            )
            resp = await client.stub.ListJobs(req, metadata=client.metadata, timeout=30)
            for job in resp.jobs:
                print(_job_line(job))
            return 0
        name = _job_name(args.job)
        if args.jobs_command == "get":
            job = await client.stub.GetJob(
                pb.GetJobRequest(name=name), metadata=client.metadata, timeout=30
            )
            print(job)
            return 0
        if args.jobs_command == "cancel":
            job = await client.stub.CancelJob(
                pb.CancelJobRequest(name=name), metadata=client.metadata, timeout=30
            )
            print(_job_line(job))
            return 0
        final = "?"
        async for ev in client.watch(name, after_seq=args.after_seq):
            print(_event_line(ev), flush=True)
            final = ev.WhichOneof("event") or "?"
        return 0 if final == "completed" else 1
    finally:
        await client.close()


if __name__ == "__main__":
    sys.exit(main())
