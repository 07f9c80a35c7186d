"""Benchmark loaders. Each returns a :class:`Dataset` with a version and a content hash.

The hash covers the rendered prompts and references of the problems actually used, so a
different file, slice, date window or prompt template gives a different benchmark row (and so a
new run) instead of mixing into an old one. Suites from the Hugging Face hub (:mod:`.hub`) also
carry the dataset commit, in ``revision`` and in the version.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evaluators.runner import lcb_dataset, prompts, synthetic

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
LOADER_VERSION = "1"

SHIPPED = {"aime24": "aime_2024.jsonl", "aime25": "aime_2025.jsonl", "math500": "math500.jsonl"}
SUITES = ("aime24", "aime25", "math500", "gpqa_diamond", "livecodebench[:RELEASE]", "synthetic",
          "jsonl:PATH")
SOURCES = ("auto", "local", "hub")


@dataclass(frozen=True)
class Problem:
    id: str
    prompt: str
    reference: Any  # what the verifier's grade() takes
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class Dataset:
    name: str
    version: str
    verifier: str
    problems: list[Problem]
    source: str = ""
    hash: str = ""
    revision: str = ""  # the hub commit the files came from; "" for local files

    def __post_init__(self) -> None:
        if not self.problems:
            raise ValueError(f"benchmark {self.name!r} has no problems (check the file or filters)")
        ids = [p.id for p in self.problems]
        if len(set(ids)) != len(ids):
            raise ValueError(f"benchmark {self.name!r} has duplicate problem ids")
        if not self.hash:
            h = hashlib.sha256()
            for p in self.problems:
                h.update(json.dumps([p.id, p.prompt, p.reference], sort_keys=True, default=str).encode())
                h.update(b"\n")
            self.hash = h.hexdigest()


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    rows = []
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, start=1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except ValueError as exc:
                    raise ValueError(f"{path}:{n}: not JSON: {exc}") from None
    return rows


def _read_parquet(path: Path) -> list[dict[str, Any]]:
    import pyarrow.parquet as pq

    try:
        return pq.read_table(path).to_pylist()
    except Exception as exc:  # noqa: BLE001 - pyarrow raises several types for a bad file
        raise ValueError(f"{path}: not a readable parquet file: {exc}") from None


def read_rows(path: Path) -> list[dict[str, Any]]:
    """Rows of a ``.jsonl`` or ``.parquet`` file."""
    return _read_parquet(path) if path.suffix == ".parquet" else _read_jsonl(path)


def math_problems(name: str, rows: list[dict[str, Any]], where: str,
                  overrides: dict[str, str] | None = None) -> list[Problem]:
    """Math rows (``problem``, ``answer``, optional ``id``/``unique_id``) as problems."""
    problems = []
    for n, row in enumerate(rows, start=1):
        if "problem" not in row or "answer" not in row:
            raise ValueError(f"{where}:{n}: needs 'problem' and 'answer'")
        pid = row.get("id")
        pid = str(pid if pid is not None and pid != "" else row.get("unique_id") or f"{name}-{n}")
        meta = {k: row[k] for k in ("subject", "level", "source") if k in row}
        problems.append(Problem(pid, prompts.render("math", {"problem": row["problem"]}, overrides),
                                str(row["answer"]), meta))
    return problems


def load_math(name: str, path: Path | None = None, *, overrides: dict[str, str] | None = None
              ) -> Dataset:
    """AIME 2024/2025 or MATH-500 from the shipped copy (or ``path`` in the same format)."""
    path = Path(path) if path else DATA_DIR / SHIPPED[name]
    if not path.is_file():
        raise FileNotFoundError(f"{name}: data file not found: {path}")
    problems = math_problems(name, _read_jsonl(path), str(path), overrides)
    return Dataset(name, f"{LOADER_VERSION}+{file_sha256(path)[:12]}", "math", problems, str(path))


def load_gpqa(csv_path: str | Path | None, *, seed: int = 0,
              overrides: dict[str, str] | None = None) -> Dataset:
    """GPQA-Diamond from the user's own official CSV (never shipped), choices shuffled by seed."""
    csv_path = csv_path or os.environ.get("RING_GPQA_CSV")
    if not csv_path:
        raise ValueError("gpqa_diamond needs your copy of gpqa_diamond.csv: pass --gpqa-csv PATH or "
                         "set RING_GPQA_CSV (the dataset is gated; Ring Lab does not ship it)")
    path = Path(csv_path)
    if not path.is_file():
        raise FileNotFoundError(f"GPQA CSV not found: {path}")
    return Dataset("gpqa_diamond", f"{LOADER_VERSION}+seed{seed}", "gpqa",
                   gpqa_problems(path, seed, overrides), str(path))


def gpqa_problems(path: Path, seed: int, overrides: dict[str, str] | None) -> list[Problem]:
    """The official GPQA CSV's questions with choices shuffled by ``seed``."""
    from evaluators import gpqa

    items = gpqa.load_csv(path)
    problems = []
    for item, row in zip(items, gpqa.prompts_for(items, seed=seed)):
        shown = [([item.correct, *item.incorrect])[i].strip() for i in row["permutation"]]
        fields = {"question": item.question.strip(), **dict(zip("ABCD", shown))}
        problems.append(Problem(item.record_id, prompts.render("gpqa", fields, overrides), row["answer"],
                                {"permutation": row["permutation"]}))
    return problems


def load_livecodebench(path: str | Path | None, *, since: str | None = None, until: str | None = None,
                       overrides: dict[str, str] | None = None) -> Dataset:
    """LCB code_generation_lite JSONL (public + private tests) within a contest-date window."""
    path = path or os.environ.get("RING_LCB_JSONL")
    if not path:
        raise ValueError("livecodebench needs a code_generation_lite JSONL: pass --lcb-jsonl PATH or "
                         "set RING_LCB_JSONL (or use the hub: --suite livecodebench:release_v6)")
    return Dataset("livecodebench", f"{LOADER_VERSION}+{since or ''}..{until or ''}", "code",
                   lcb_problems([Path(path)], since, until, overrides), str(path))


def lcb_problems(paths: list[Path], since: str | None, until: str | None,
                 overrides: dict[str, str] | None) -> list[Problem]:
    """Problems of one or more LCB JSONL files whose contest date lies in [since, until]."""
    problems = []
    for path in paths:
        for row in lcb_dataset.load_jsonl(path, since=since, until=until):
            if not row["tests"]:
                raise ValueError(f"{path}: problem {row['question_id']} has no tests")
            kind = "code_functional" if row.get("starter_code") else "code_stdin"
            fields = {"question_content": row["question_content"],
                      "starter_code": row.get("starter_code") or "",
                      "question_title": row.get("question_title") or ""}
            ref = {"tests": row["tests"], "func_name": row["func_name"]}
            problems.append(Problem(str(row["question_id"]), prompts.render(kind, fields, overrides), ref,
                                    {"platform": row.get("platform"), "contest_date": row.get("contest_date"),
                                     "difficulty": row.get("difficulty"),
                                     "n_private": len(row["private_tests"])}))
    return problems


def load_hub(suite: str, *, since: str | None = None, until: str | None = None, seed: int = 0,
             overrides: dict[str, str] | None = None, local_only: bool | None = None) -> Dataset:
    """A suite from the Hugging Face hub (cached; see :mod:`evaluators.runner.hub`)."""
    from evaluators.runner import hub

    snap = hub.fetch(hub.resolve(suite), local_only=local_only)
    name, tag = snap.spec.name, f"{LOADER_VERSION}+hub@{snap.commit[:12]}"
    if name.startswith("livecodebench:"):
        ds = Dataset(name, f"{tag}+{since or ''}..{until or ''}", "code",
                     lcb_problems(list(snap.files), since, until, overrides), snap.source)
    elif name == "gpqa_diamond":
        ds = Dataset(name, f"{tag}+seed{seed}", "gpqa", gpqa_problems(snap.files[0], seed, overrides),
                     snap.source)
    else:
        rows = [row for path in snap.files for row in read_rows(path)]
        ds = Dataset(name, tag, "math", math_problems(name, rows, snap.source, overrides), snap.source)
    ds.revision = snap.commit
    return ds


def parse_synthetic_spec(spec: str) -> dict[str, Any]:
    """``synthetic[:n=8][:difficulty=2][:seed=0][:kinds=arith+code][:target=42]`` -> kwargs."""
    parts = spec.split(":")
    out: dict[str, Any] = {}
    for part in parts[1:]:
        key, sep, value = part.partition("=")
        if not sep:
            raise ValueError(f"synthetic option must be key=value, got {part!r}")
        try:
            if key in ("n", "difficulty", "seed", "target"):
                out[key] = int(value)
            elif key == "kinds":
                out[key] = tuple(value.split("+"))
            else:
                raise ValueError(f"unknown synthetic option {key!r} (n, difficulty, seed, kinds, target)")
        except ValueError as exc:
            raise ValueError(f"bad synthetic option {part!r}: {exc}") from None
    return out


def load_synthetic(spec: str = "synthetic", *, overrides: dict[str, str] | None = None) -> Dataset:
    """The generated suite (see :mod:`evaluators.runner.synthetic`); all problems one verifier."""
    opts = parse_synthetic_spec(spec)
    items = synthetic.generate(**opts)
    kinds = {p["kind"] for p in items}
    if len(kinds) > 1:
        raise ValueError("one synthetic suite grades with one verifier: use kinds=arith or kinds=code")
    problems = []
    for p in items:
        if p["kind"] == "arith":
            problems.append(Problem(p["id"], prompts.render("math", {"problem": p["problem"]}, overrides),
                                    p["answer"]))
        else:
            problems.append(Problem(p["id"], prompts.render("code_stdin", {"question_content": p["problem"]},
                                                            overrides), {"tests": p["tests"]}))
    name = "synthetic-" + kinds.pop()
    version = LOADER_VERSION + "+" + ",".join(
        f"{k}={'+'.join(v) if isinstance(v, tuple) else v}" for k, v in sorted(opts.items()))
    return Dataset(name, version, "math" if name.endswith("arith") else "code", problems, spec)


def _use_hub(base: str, tagged: bool, source: str, gpqa_csv: str | None, lcb_jsonl: str | None) -> bool:
    """Whether a suite comes from the hub: ``hub``/``local`` force it; ``auto`` prefers local data."""
    if source not in SOURCES:
        raise ValueError(f"source must be one of {', '.join(SOURCES)}, got {source!r}")
    if base not in (*SHIPPED, "gpqa_diamond", "livecodebench"):
        return False  # synthetic and jsonl:PATH are local whatever the source
    if source == "hub":
        if (base == "gpqa_diamond" and gpqa_csv) or (base == "livecodebench" and lcb_jsonl):
            raise ValueError(f"{base}: --source hub and a local file (--gpqa-csv/--lcb-jsonl or "
                             "RING_GPQA_CSV/RING_LCB_JSONL) contradict each other; drop one")
        return True
    if tagged:
        if source == "local":
            raise ValueError(f"{base}: a release tag or @revision names hub files; drop it or use "
                             "--source hub")
        return True
    if source == "local" or base in SHIPPED:
        return False
    return not (gpqa_csv or os.environ.get("RING_GPQA_CSV")) if base == "gpqa_diamond" \
        else not (lcb_jsonl or os.environ.get("RING_LCB_JSONL"))


def load_suite(name: str, *, gpqa_csv: str | None = None, lcb_jsonl: str | None = None,
               since: str | None = None, until: str | None = None, seed: int = 0,
               limit: int | None = None, overrides: dict[str, str] | None = None,
               source: str = "auto") -> Dataset:
    """Load one suite by name; ``limit`` keeps the first N problems (a new dataset hash).

    ``source``: ``local`` (shipped copies, your files), ``hub`` (the Hugging Face hub) or
    ``auto`` (shipped AIME/MATH-500, GPQA/LCB from your file if given, else the hub).
    """
    base = name.split(":")[0].split("@")[0]
    tagged = base in ("livecodebench", *SHIPPED, "gpqa_diamond") and (":" in name or "@" in name)
    if _use_hub(base, tagged, source, gpqa_csv, lcb_jsonl):
        ds = load_hub(name, since=since, until=until, seed=seed, overrides=overrides)
    elif base in SHIPPED:
        ds = load_math(base, overrides=overrides)
    elif base == "gpqa_diamond":
        ds = load_gpqa(gpqa_csv, seed=seed, overrides=overrides)
    elif base == "livecodebench":
        ds = load_livecodebench(lcb_jsonl, since=since, until=until, overrides=overrides)
    elif base == "synthetic":
        ds = load_synthetic(name, overrides=overrides)
    elif base == "jsonl":
        # your own math problems, one {"id", "problem", "answer"} object per line
        path = Path(name.partition(":")[2]).expanduser()
        ds = load_math(path.stem, path, overrides=overrides)
    else:
        raise ValueError(f"unknown suite {name!r}; known: {', '.join(SUITES)}")
    if limit is not None:
        if limit < 1:
            raise ValueError(f"limit must be >= 1, got {limit}")
        if limit < len(ds.problems):
            ds = Dataset(ds.name, ds.version, ds.verifier, ds.problems[:limit], ds.source,
                         revision=ds.revision)
    return ds
