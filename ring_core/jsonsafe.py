"""Turn any value into plain JSON types, so it always encodes (results DB, reward responses)."""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any


def jsonable(value: Any) -> Any:
    """``value`` as JSON types: NaN/inf become None (JSON has neither), tuples lists, keys strings.

    numpy/torch scalars and arrays become numbers and lists; any other object its ``str``.
    """
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (dict, Mapping)):  # dict first: the common case skips the ABC check
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if hasattr(value, "tolist"):  # numpy scalars/arrays, torch tensors
        return jsonable(value.tolist())
    return str(value)
