# SPDX-License-Identifier: MIT
"""Finding pipeline files in a local folder or on the Hugging Face hub (reference §9.1).

A *location* is either a local folder (the official layout: `pipeline.json`, `ckpts/*.json` +
`*.safetensors`) or a hub id `owner/name` optionally followed by a path inside the repo
(`microsoft/TRELLIS-image-large/ckpts/ss_dec_conv3d_16l8_fp16`). Every failure raises an
error that names the file and says what to do (token for gated repos, cache for offline use).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


class WeightsNotFoundError(FileNotFoundError):
    """A pipeline or checkpoint file does not exist where it was looked for."""


class HubAccessError(RuntimeError):
    """The hub refused or could not serve a file (gated, offline, unknown repo)."""


def _split_hub_path(path: str) -> tuple[str, str]:
    """`owner/name/sub/file` → (`owner/name`, `sub/file`)."""
    parts = path.strip("/").split("/")
    if len(parts) < 3:
        raise WeightsNotFoundError(
            f"{path!r} is neither an existing local file nor a hub path 'owner/repo/file'"
        )
    return "/".join(parts[:2]), "/".join(parts[2:])


def hub_download(repo_id: str, filename: str) -> Path:
    """Download (or take from the cache) one file of a hub repo, with actionable errors."""
    try:
        from huggingface_hub import hf_hub_download
        from huggingface_hub.errors import (
            EntryNotFoundError,
            GatedRepoError,
            LocalEntryNotFoundError,
            RepositoryNotFoundError,
        )
    except ImportError as exc:  # pragma: no cover - declared dependency
        raise ImportError(
            f"loading {repo_id}/{filename} from the hub needs `pip install huggingface_hub`"
        ) from exc
    try:
        return Path(hf_hub_download(repo_id=repo_id, filename=filename))
    except LocalEntryNotFoundError as exc:
        offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes", "on"}
        why = "HF_HUB_OFFLINE is set" if offline else "the hub could not be reached"
        raise HubAccessError(
            f"cannot fetch {filename!r} from {repo_id}: {why} and the file is not in the local "
            f"Hugging Face cache. Download it on a machine with access "
            f"(`huggingface-cli download {repo_id}`), copy the folder here and pass its path, "
            "or unset HF_HUB_OFFLINE."
        ) from exc
    except GatedRepoError as exc:
        raise HubAccessError(
            f"{repo_id} is a gated repository: accept its license on "
            f"https://huggingface.co/{repo_id} and give a token with access, either with "
            "`export HF_TOKEN=hf_...` or `huggingface-cli login` (needed for "
            f"{filename!r})."
        ) from exc
    except RepositoryNotFoundError as exc:
        raise HubAccessError(
            f"hub repository {repo_id!r} was not found (or is private: set HF_TOKEN or run "
            f"`huggingface-cli login`); needed for {filename!r}"
        ) from exc
    except EntryNotFoundError as exc:
        raise WeightsNotFoundError(f"{repo_id} has no file {filename!r}") from exc


def is_local(location: str) -> bool:
    return Path(location).exists()


def resolve_file(location: str, relpath: str) -> Path:
    """Path of `relpath` inside `location` (local folder or hub repo id), downloading if needed."""
    if is_local(location):
        path = Path(location) / relpath
        if not path.is_file():
            raise WeightsNotFoundError(f"missing file {path}")
        return path
    if location.count("/") != 1:
        raise WeightsNotFoundError(
            f"{location!r} is not a local folder and not a hub id 'owner/name'; "
            "pass the folder that holds pipeline.json or a hub id like microsoft/TRELLIS.2-4B"
        )
    return hub_download(location, relpath)


def read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON ({exc}); re-download it") from exc


def resolve_checkpoint(path: str) -> Path:
    """Local stem of a checkpoint `path` (`<path>.json` + `<path>.safetensors` side by side).

    `path` is a local stem or a hub path `owner/name/sub/stem`. Raises WeightsNotFoundError
    naming the missing file.
    """
    stem = Path(path)
    json_file = stem.with_name(stem.name + ".json")
    st_file = stem.with_name(stem.name + ".safetensors")
    if json_file.exists() or st_file.exists():
        for f in (json_file, st_file):
            if not f.is_file():
                raise WeightsNotFoundError(f"missing checkpoint file {f}")
        return stem
    repo_id, sub = _split_hub_path(path)
    local_json = hub_download(repo_id, sub + ".json")
    hub_download(repo_id, sub + ".safetensors")  # lands beside the JSON in the snapshot
    return local_json.with_suffix("")


def _local_checkpoint(stem: Path) -> Path:
    for f in (stem.with_name(stem.name + ".json"), stem.with_name(stem.name + ".safetensors")):
        if not f.is_file():
            raise WeightsNotFoundError(f"missing checkpoint file {f}")
    return stem


def resolve_pipeline_model(location: str, value: str) -> Path:
    """Resolve a `models` entry the way the reference does: `{location}/{value}` first, then
    `value` on its own (how the TRELLIS-image-large decoder path works).

    For a local `location` the first try is local only; a checkpoint that is half there (one of
    its two files) is reported instead of looked for elsewhere.
    """
    if is_local(location):
        stem = Path(location) / value
        present = [stem.with_name(stem.name + e).is_file() for e in (".json", ".safetensors")]
        if any(present):
            return _local_checkpoint(stem)
        first_error = f"no {stem}.json / .safetensors"
    else:
        try:
            return resolve_checkpoint(f"{location.rstrip('/')}/{value}")
        except (WeightsNotFoundError, HubAccessError) as exc:
            first_error = str(exc)
    try:
        return resolve_checkpoint(value)
    except (WeightsNotFoundError, HubAccessError) as exc:
        hint = (
            f" Put the checkpoint at {Path(location) / value}.json/.safetensors."
            if is_local(location)
            else ""
        )
        raise type(exc)(
            f"checkpoint {value!r} not found in {location!r} ({first_error}) nor on its own "
            f"({exc}).{hint}"
        ) from exc
