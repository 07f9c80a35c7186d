"""Benchmarks on the Hugging Face hub: suite name -> dataset repo, files and revision, and the fetch.

Files land in the standard hub cache layout (``datasets--ORG--NAME/{refs,snapshots,blobs}``) under
``$HF_HUB_CACHE`` or ``$HF_HOME/hub`` when either is set, else ``$RING_HOME/hf-hub``. With
``HF_HUB_OFFLINE=1`` only that cache is read. Every failure is a :class:`HubError` naming the
dataset and how to get it.
"""
from __future__ import annotations

import fnmatch
import os
import re
from dataclasses import dataclass, replace
from pathlib import Path

from ring_core.paths import ring_home

LCB_REPO = "livecodebench/code_generation_lite"
LCB_LATEST = 6  # release_latest in upstream's loader = test.jsonl .. test6.jsonl
_COMMIT = re.compile(r"[0-9a-f]{40}")


class HubError(ValueError):
    """A hub dataset that cannot be had right now (offline, gated, missing); the message says why."""


@dataclass(frozen=True)
class HubSpec:
    """Where one suite lives on the hub; ``files`` are exact paths or globs inside the repo."""

    name: str
    repo_id: str
    files: tuple[str, ...]
    config: str = "default"
    split: str = "test"
    gated: bool = False
    revision: str = "main"
    local_option: str = ""  # the `ring eval` option that takes your own copy instead

    @property
    def url(self) -> str:
        return f"https://huggingface.co/datasets/{self.repo_id}"


_SPECS = {
    "aime24": HubSpec("aime24", "HuggingFaceH4/aime_2024", ("data/*.parquet",), split="train"),
    "aime25": HubSpec("aime25", "math-ai/aime25", ("test.jsonl",)),
    "math500": HubSpec("math500", "HuggingFaceH4/MATH-500", ("test.jsonl",)),
    "gpqa_diamond": HubSpec("gpqa_diamond", "Idavidrein/gpqa", ("gpqa_diamond.csv",),
                            config="gpqa_diamond", split="train", gated=True, local_option="--gpqa-csv PATH"),
}


def _lcb_file(n: int) -> str:
    return "test.jsonl" if n == 1 else f"test{n}.jsonl"


def lcb_files(tag: str) -> tuple[str, ...]:
    """Upstream's release tags: ``release_vN`` (test..testN), ``vN`` (one file), ``vA_vB`` (a range)."""
    if tag == "release_latest":
        return tuple(_lcb_file(i) for i in range(1, LCB_LATEST + 1))
    if m := re.fullmatch(r"release_v([1-9]\d*)", tag):
        return tuple(_lcb_file(i) for i in range(1, int(m.group(1)) + 1))
    if m := re.fullmatch(r"v([1-9]\d*)", tag):
        return (_lcb_file(int(m.group(1))),)
    if (m := re.fullmatch(r"v([1-9]\d*)_v([1-9]\d*)", tag)) and int(m.group(1)) < int(m.group(2)):
        return tuple(_lcb_file(i) for i in range(int(m.group(1)), int(m.group(2)) + 1))
    raise HubError(f"unknown LiveCodeBench release {tag!r}: use release_latest, release_vN, vN or vA_vB "
                   "(e.g. livecodebench:release_v6)")


def split_revision(suite: str) -> tuple[str, str | None]:
    """``aime24@abc123`` -> (``aime24``, ``abc123``); no ``@`` -> (suite, None)."""
    name, sep, rev = suite.partition("@")
    if sep and not rev.strip():
        raise HubError(f"{suite!r}: empty revision after '@'")
    return name, (rev.strip() if sep else None)


def resolve(suite: str) -> HubSpec:
    """The hub spec of a suite name (``aime24``, ``livecodebench:release_v6``, ``NAME@REVISION``)."""
    name, rev = split_revision(suite.strip())
    base, _, tag = name.partition(":")
    if base == "livecodebench":
        tag = tag or "release_latest"
        spec = HubSpec(f"livecodebench:{tag}", LCB_REPO, lcb_files(tag), config=tag,
                       local_option="--lcb-jsonl PATH")
    elif base in _SPECS and not tag:
        spec = _SPECS[base]
    else:
        raise HubError(f"{suite!r} is not a hub suite; known: {', '.join(known_names())}")
    return replace(spec, revision=rev) if rev else spec


def known_names() -> list[str]:
    return [*_SPECS, "livecodebench:release_latest", "livecodebench:release_vN", "livecodebench:vN",
            "livecodebench:vA_vB"]


def listed() -> list[HubSpec]:
    """The specs ``ring datasets list`` shows (LiveCodeBench as its latest release)."""
    return [*_SPECS.values(), resolve("livecodebench:release_latest")]


def cache_dir() -> Path:
    """``$HF_HUB_CACHE``, else ``$HF_HOME/hub``, else ``$RING_HOME/hf-hub``."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    return ring_home() / "hf-hub"


def offline() -> bool:
    """``HF_HUB_OFFLINE`` read now (huggingface_hub itself reads it once, at import)."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def _token() -> str | None:
    from huggingface_hub import get_token

    return os.environ.get("HF_TOKEN") or get_token()


@dataclass(frozen=True)
class Snapshot:
    """One dataset at one commit in the local cache."""

    spec: HubSpec
    commit: str
    path: Path
    files: tuple[Path, ...]

    @property
    def source(self) -> str:
        return f"hf://datasets/{self.spec.repo_id}@{self.commit}"


def _how_to_get(spec: HubSpec) -> str:
    how = f"run `ring datasets pull {spec.name}` once with network access"
    if spec.gated:
        how += (f" and HF_TOKEN set to a token that has accepted the dataset's terms at {spec.url} "
                "(it is gated)")
    if spec.local_option:
        how += f", or pass your own copy with {spec.local_option}"
    return how


def _matched(spec: HubSpec, folder: Path) -> tuple[Path, ...] | None:
    """The snapshot's files for ``spec.files`` in order, or None if any pattern has no file."""
    if not folder.is_dir():
        return None
    present = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    out: list[Path] = []
    for pattern in spec.files:
        hits = [f for f in present if fnmatch.fnmatchcase(f, pattern)]
        if not hits:
            return None
        out += [folder / f for f in hits]
    return tuple(out)


def fetch(spec: HubSpec, *, local_only: bool | None = None) -> Snapshot:
    """The spec's files at its revision: from the cache offline (or ``local_only``), else the hub."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import (GatedRepoError, LocalEntryNotFoundError, RepositoryNotFoundError,
                                        RevisionNotFoundError)

    local = offline() if local_only is None else local_only
    where = f"{spec.name} ({spec.repo_id}@{spec.revision})"
    token = _token()
    if spec.gated and not token and not local:
        try:  # a complete cached copy needs no token
            return fetch(spec, local_only=True)
        except HubError:
            own = f", or pass your own copy with {spec.local_option}" if spec.local_option else ""
            raise HubError(f"{where} is gated and no Hugging Face token is set: set HF_TOKEN to a token "
                           f"that has accepted its terms at {spec.url}, then run `ring datasets pull "
                           f"{spec.name}`{own}") from None
    try:
        folder = snapshot_download(spec.repo_id, repo_type="dataset", revision=spec.revision,
                                   cache_dir=str(cache_dir()), allow_patterns=list(spec.files),
                                   local_files_only=local, token=token or None)
    except GatedRepoError:
        raise HubError(f"{where} is gated and this token has no access: accept its terms at {spec.url} "
                       "with the account of HF_TOKEN") from None
    except RevisionNotFoundError:
        raise HubError(f"{where}: no such revision on the hub") from None
    except RepositoryNotFoundError:
        raise HubError(f"{where}: dataset not found on the hub (or private to another account)") from None
    except LocalEntryNotFoundError:
        state = ("HF_HUB_OFFLINE=1 is set" if offline() else "only the cache was read") if local \
            else "the hub cannot be reached"
        raise HubError(f"{where} is not in the local cache {cache_dir()} and {state}: {_how_to_get(spec)}"
                       ) from None
    except Exception as exc:  # noqa: BLE001 - HTTP, proxy, disk: one line, never a traceback
        raise HubError(f"{where}: download failed ({type(exc).__name__}: {str(exc)[:300]}); "
                       f"{_how_to_get(spec)}") from None
    folder = Path(folder)
    files = _matched(spec, folder)
    if files is None:
        hint = _how_to_get(spec) if local else "the repository has no such file at this revision"
        raise HubError(f"{where}: the cached snapshot {folder} lacks some of {list(spec.files)}: {hint}")
    commit = folder.name
    if not _COMMIT.fullmatch(commit):
        raise HubError(f"{where}: unexpected cache folder {folder} (not a commit snapshot)")
    return Snapshot(spec, commit, folder, files)
