"""Query specs as users type them: variables "0,3,5-9" (or "rest") and evidence "2=1,4=0"."""
from __future__ import annotations

from spn.network import SPNError


def parse_vars(spec: str, n_vars: int, taken: set[int] = frozenset()) -> list[int]:
    """Variable indices from "0,3,5-9"; "rest" means every variable not in ``taken``."""
    spec = spec.strip()
    if spec == "rest":
        return [v for v in range(n_vars) if v not in taken]
    out: list[int] = []
    for part in filter(None, (p.strip() for p in spec.split(","))):
        lo, _, hi = part.partition("-")
        try:
            first, last = int(lo), int(hi) if hi else int(lo)
        except ValueError:
            raise SPNError(f"bad variable {part!r}: use numbers and ranges like 0,3,5-9") from None
        if first > last:
            raise SPNError(f"bad range {part!r}: start after end")
        out += range(first, last + 1)
    for v in out:
        if not 0 <= v < n_vars:
            raise SPNError(f"variable {v} is not in 0..{n_vars - 1}")
    if len(set(out)) != len(out):
        raise SPNError("a variable is listed twice")
    return out


def parse_evidence(spec: str, n_vars: int) -> dict[int, int]:
    """{var: value} from "2=1,4=0"."""
    out: dict[int, int] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        var, eq, value = part.partition("=")
        if not eq or value.strip() not in ("0", "1"):
            raise SPNError(f"bad evidence {part!r}: use VAR=0 or VAR=1")
        try:
            v = int(var)
        except ValueError:
            raise SPNError(f"bad evidence {part!r}: {var!r} is not a variable number") from None
        if not 0 <= v < n_vars:
            raise SPNError(f"evidence variable {v} is not in 0..{n_vars - 1}")
        if v in out:
            raise SPNError(f"evidence for variable {v} is given twice")
        out[v] = int(value)
    return out
