"""A Hugging Face hub cache built by hand, laid out as ``huggingface_hub`` stores it, plus small
files in each benchmark's upstream schema (for ``tests/test_hub_datasets.py``).

    datasets--ORG--NAME/refs/main                  the commit the branch points at
    datasets--ORG--NAME/blobs/ETAG                 file contents (git SHA-1, or SHA-256 for LFS)
    datasets--ORG--NAME/snapshots/COMMIT/PATH  ->  relative symlink into blobs/
    datasets--ORG--NAME/trees/COMMIT.json          the tree listing the client caches
"""
from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import os
import pickle
import zlib
from pathlib import Path

LFS_SUFFIXES = (".parquet",)


def git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def add_snapshot(cache: Path, repo_id: str, files: dict[str, bytes], *, ref: str | None = "main",
                 commit: str | None = None) -> str:
    """Store ``files`` as one commit of dataset ``repo_id``; point ``ref`` at it; return the commit."""
    repo = cache / ("datasets--" + repo_id.replace("/", "--"))
    commit = commit or hashlib.sha1(json.dumps({k: git_blob_sha1(v) for k, v in sorted(files.items())}).encode()
                          + repo_id.encode()).hexdigest()
    tree = {}
    for path, data in files.items():
        lfs = path.endswith(LFS_SUFFIXES)
        etag = hashlib.sha256(data).hexdigest() if lfs else git_blob_sha1(data)
        blob = repo / "blobs" / etag
        blob.parent.mkdir(parents=True, exist_ok=True)
        blob.write_bytes(data)
        link = repo / "snapshots" / commit / path
        link.parent.mkdir(parents=True, exist_ok=True)
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(os.path.relpath(blob, link.parent))
        entry = {"size": len(data), "blob_id": git_blob_sha1(data)}
        if lfs:
            entry.update(lfs_sha256=etag, lfs_size=len(data))
        tree[path] = entry
    (repo / "trees").mkdir(parents=True, exist_ok=True)
    (repo / "trees" / f"{commit}.json").write_text(json.dumps({"format_version": 1, "files": tree}))
    if ref:
        (repo / "refs").mkdir(parents=True, exist_ok=True)
        (repo / "refs" / ref).write_text(commit)  # the client writes no trailing newline
    return commit


def lcb_private(tests: list[dict]) -> str:
    """LiveCodeBench's encoding of private tests: base64(zlib(pickle(json text)))."""
    return base64.b64encode(zlib.compress(pickle.dumps(json.dumps(tests)))).decode()


def lcb_row(qid: str, date: str, *, functional: bool = False) -> dict:
    """One ``code_generation_lite`` row with every upstream column."""
    kind = "functional" if functional else "stdin"
    public = [{"input": "2\n", "output": "4\n", "testtype": kind}]
    private = [{"input": "5\n", "output": "10\n", "testtype": kind},
               {"input": "0\n", "output": "0\n", "testtype": kind}]
    return {"question_title": f"Double {qid}", "question_content": f"Print twice the integer ({qid}).",
            "platform": "leetcode" if functional else "atcoder", "question_id": qid,
            "contest_id": f"contest-{qid}", "contest_date": f"{date}T00:00:00",
            "starter_code": "class Solution:\n    def double(self, x: int) -> int:\n        " if functional else "",
            "difficulty": "easy", "public_test_cases": json.dumps(public),
            "private_test_cases": lcb_private(private),
            "metadata": json.dumps({"func_name": "double"} if functional else {})}


def jsonl(rows: list[dict]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


def lcb_files() -> dict[str, bytes]:
    """test.jsonl (release_v1, 2023) and test2.jsonl (v2, 2024) of code_generation_lite."""
    return {"test.jsonl": jsonl([lcb_row("1001", "2023-05-07"), lcb_row("1002", "2023-06-10", functional=True)]),
            "test2.jsonl": jsonl([lcb_row("2001", "2024-01-13"), lcb_row("2002", "2024-02-03")]),
            "README.md": b"---\nlicense: cc\n---\n# code_generation_lite\n",
            "code_generation_lite.py": b"# the upstream loading script (not run by Ring Lab)\n"}


GPQA_COLUMNS = ["Pre-Revision Question", "Pre-Revision Correct Answer", "Pre-Revision Incorrect Answer 1",
                "Pre-Revision Incorrect Answer 2", "Pre-Revision Incorrect Answer 3", "Pre-Revision Explanation",
                "Self-reported question-writing time (minutes)", "Question", "Correct Answer",
                "Incorrect Answer 1", "Incorrect Answer 2", "Incorrect Answer 3", "Explanation",
                "Revision Comments (from Question Writer)", "Subdomain", "Writer's Difficulty Estimate",
                "Extra Revised Question", "Extra Revised Explanation", "Extra Revised Correct Answer",
                "Extra Revised Incorrect Answer 1", "Extra Revised Incorrect Answer 2",
                "Extra Revised Incorrect Answer 3", "Non-Expert Validator Accuracy",
                "Majority Non-Expert Vals Incorrect",
                "Expert Validator Accuracy", "Record ID", "High-level domain", "Question Writer", "Feedback_EV_1",
                "Validator Revision Suggestion_EV_1", "Is First Validation_EV_1", "Post hoc agreement_EV_1",
                "Sufficient Expertise?_EV_1", "Understand the question?_EV_1", "Question Difficulty_EV_1",
                "Validator Answered Correctly_EV_1", "Self-reported time (minutes)_EV_1", "Probability Correct_EV_1",
                "Manual Correctness Adjustment_EV_1", "Expert Validator_EV_1", "Canary String"]


def gpqa_files(n: int = 4) -> dict[str, bytes]:
    """gpqa_diamond.csv (plus the other configs' CSVs, which a diamond pull must not need)."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=GPQA_COLUMNS)
    w.writeheader()
    for i in range(n):
        w.writerow({"Question": f"Which particle {i} is lightest?", "Correct Answer": f"electron{i}",
                    "Incorrect Answer 1": f"proton{i}", "Incorrect Answer 2": f"neutron{i}",
                    "Incorrect Answer 3": f"muon{i}", "Record ID": f"rec{i:02d}", "High-level domain": "Physics",
                    "Subdomain": "Particle physics", "Canary String": "BENCHMARK DATA SHOULD NEVER APPEAR"})
    return {"gpqa_diamond.csv": buf.getvalue().encode(), "README.md": b"# GPQA (gated)\n"}


def aime24_files(answers=("42", "7", "42")) -> dict[str, bytes]:
    """HuggingFaceH4/aime_2024: one parquet shard with id/problem/solution/answer/url/year."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    n = len(answers)
    table = pa.table({"id": pa.array(range(60, 60 + n), pa.int64()),
                      "problem": [f"AIME 2024 problem {i}: compute it." for i in range(n)],
                      "solution": [f"Work for {i}." for i in range(n)], "answer": list(answers),
                      "url": [f"https://artofproblemsolving.com/wiki/2024_AIME_I/Problem_{i + 1}" for i in range(n)],
                      "year": pa.array([2024] * n, pa.int64())})
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return {"data/train-00000-of-00001.parquet": buf.getvalue(), "README.md": b"# AIME 2024\n"}


def aime25_files() -> dict[str, bytes]:
    """math-ai/aime25: test.jsonl with problem/answer/id."""
    return {"test.jsonl": jsonl([{"problem": f"AIME 2025 problem {i}.", "answer": str(100 + i), "id": str(i)}
                                 for i in range(3)])}


def math500_files() -> dict[str, bytes]:
    """HuggingFaceH4/MATH-500: test.jsonl with the PRM800K test-split fields."""
    rows = [{"problem": f"What is ${i}+{i}$?", "solution": f"It is $\\boxed{{{2 * i}}}$.", "answer": str(2 * i),
             "subject": "Prealgebra", "level": 1 + i % 5, "unique_id": f"test/prealgebra/{i}.json"}
            for i in range(5)]
    return {"test.jsonl": jsonl(rows)}


REPOS = {
    "livecodebench/code_generation_lite": lcb_files,
    "Idavidrein/gpqa": gpqa_files,
    "HuggingFaceH4/aime_2024": aime24_files,
    "math-ai/aime25": aime25_files,
    "HuggingFaceH4/MATH-500": math500_files,
}


def build(cache: Path, repos=None) -> dict[str, str]:
    """Every benchmark repo (or those in ``repos``) into ``cache``; repo id -> commit."""
    return {repo: add_snapshot(cache, repo, REPOS[repo]()) for repo in (repos or REPOS)}
