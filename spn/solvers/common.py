"""Helpers the solvers share: assignment rows and scoring them with S'."""
from __future__ import annotations

import numpy as np

from spn.network import SPN
from spn.passes import log_value


def empty_row(spn: SPN) -> np.ndarray:
    return np.full(spn.n_vars, -1, np.int8)


def score(spn: SPN, rows: np.ndarray) -> np.ndarray:
    """log S'(row) for each row."""
    return log_value(spn, rows)
