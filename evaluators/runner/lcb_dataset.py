"""LiveCodeBench ``code_generation_lite`` JSONL loader with a restricted unpickler.

LCB stores ``private_test_cases`` as base64(zlib(pickle(json text))). Pickle can run arbitrary
code through its global lookups, so the unpickler here refuses every global: only the opcodes
that build str, list and dict (and the numbers/None/bool inside them) can succeed.
"""
from __future__ import annotations

import base64
import binascii
import io
import json
import pickle
import zlib
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

_ALLOWED = (str, list, dict, int, float, bool, type(None))


class UnsafePickle(ValueError):
    """The pickle tried to load a global (class, function) or built a forbidden type."""


class _DataOnly(pickle.Unpickler):
    def find_class(self, module: str, name: str):  # every callable goes through here
        raise UnsafePickle(f"refusing to load global {module}.{name} from a test-case pickle")

    def persistent_load(self, pid):
        raise UnsafePickle("refusing persistent ids in a test-case pickle")


def _check_types(obj: Any, depth: int = 0) -> None:
    if depth > 50:
        raise UnsafePickle("test-case pickle nests too deeply")
    if not isinstance(obj, _ALLOWED):
        raise UnsafePickle(f"test-case pickle built a {type(obj).__name__}; only str/list/dict allowed")
    if isinstance(obj, list):
        for x in obj:
            _check_types(x, depth + 1)
    elif isinstance(obj, dict):
        for key, v in obj.items():
            if not isinstance(key, str):
                raise UnsafePickle("test-case pickle has a non-string dict key")
            _check_types(v, depth + 1)


def restricted_loads(data: bytes) -> Any:
    """Unpickle ``data`` allowing only plain data (str, list, dict, numbers); never runs code."""
    try:
        obj = _DataOnly(io.BytesIO(data)).load()
    except UnsafePickle:
        raise
    except Exception as exc:  # truncated or corrupt stream
        raise ValueError(f"corrupt test-case pickle: {exc}") from exc
    _check_types(obj)
    return obj


def decode_tests(raw: Any) -> list[dict[str, str]]:
    """Test cases from a list, a JSON string, or LCB's base64+zlib+pickle string."""
    if raw is None or raw == "":
        return []
    if isinstance(raw, list):
        tests = raw
    elif isinstance(raw, str):
        try:
            tests = json.loads(raw)
        except ValueError:
            try:
                blob = zlib.decompress(base64.b64decode(raw, validate=False))
            except (binascii.Error, zlib.error) as exc:
                raise ValueError("test cases are neither JSON nor base64+zlib+pickle") from exc
            tests = restricted_loads(blob)
            if isinstance(tests, str):
                tests = json.loads(tests)
    else:
        raise ValueError(f"test cases must be a list or a string, got {type(raw).__name__}")
    if not isinstance(tests, list) or not all(isinstance(t, dict) for t in tests):
        raise ValueError("test cases must decode to a list of objects")
    for i, t in enumerate(tests):
        if not isinstance(t.get("input"), str) or not isinstance(t.get("output"), str):
            raise ValueError(f"test {i} needs 'input' and 'output' strings")
    return tests


def parse_bound(text: str | None, *, upper: bool) -> datetime | None:
    """``YYYY-MM`` or ``YYYY-MM-DD``; an upper bound covers the whole month or day (exclusive end)."""
    if not text:
        return None
    try:
        if len(text) == 7:
            d = datetime.strptime(text, "%Y-%m")
            if upper:
                d = (d.replace(day=28) + timedelta(days=4)).replace(day=1)
            return d
        d = datetime.combine(date.fromisoformat(text), datetime.min.time())
        return d + timedelta(days=1) if upper else d
    except ValueError:
        raise ValueError(f"date bound must be YYYY-MM or YYYY-MM-DD, got {text!r}") from None


def load_jsonl(path: str | Path, *, since: str | None = None, until: str | None = None
               ) -> list[dict[str, Any]]:
    """LCB rows whose ``contest_date`` lies in [since, until], with tests decoded.

    Each returned row gets ``tests`` (public + private) and ``func_name`` (functional problems).
    """
    lo, hi = parse_bound(since, upper=False), parse_bound(until, upper=True)
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"LiveCodeBench file not found: {path}")
    out = []
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as exc:
                raise ValueError(f"{path}:{n}: not JSON: {exc}") from None
            for key in ("question_id", "question_content"):
                if key not in row:
                    raise ValueError(f"{path}:{n}: missing LCB field {key!r}")
            when = row.get("contest_date")
            if (lo or hi) and when:
                d = datetime.fromisoformat(str(when)[:19])
                if (lo and d < lo) or (hi and d >= hi):
                    continue
            elif (lo or hi) and not when:
                continue
            meta = row.get("metadata") or {}
            if isinstance(meta, str):
                meta = json.loads(meta) if meta.strip() else {}
            try:
                public = decode_tests(row.get("public_test_cases"))
                private = decode_tests(row.get("private_test_cases"))
            except ValueError as exc:
                raise ValueError(f"{path}:{n} ({row['question_id']}): {exc}") from exc
            row = dict(row, metadata=meta, public_tests=public, private_tests=private,
                       tests=public + private, func_name=meta.get("func_name"))
            out.append(row)
    return out
