"""The plain-text SPN format: round trip and clear errors with line numbers."""
from __future__ import annotations

import numpy as np
import pytest

from spn import textformat
from spn.generate import random_spn
from spn.network import SPNError
from spn.passes import log_value

SMALL = """# a mixture over one variable
spn 1
leaf 10 0 0
leaf 11 0 1
sum 3 10:1.5 11:0.5
"""


def test_round_trip_keeps_structure_and_values(tmp_path):
    spn = random_spn(12, 600, seed=2)
    textformat.write(spn, tmp_path / "a.spn")
    back = textformat.read(tmp_path / "a.spn")
    assert (back.n_nodes, back.n_edges, back.n_vars) == (spn.n_nodes, spn.n_edges, spn.n_vars)
    assert np.array_equal(back.child, spn.child) and np.allclose(back.log_weight, spn.log_weight)
    rows = np.random.default_rng(0).integers(-1, 2, (5, 12))
    assert np.allclose(log_value(back, rows), log_value(spn, rows))
    assert textformat.format_spn(back) == textformat.format_spn(spn)


def test_parse_reads_ids_comments_and_weights():
    spn = textformat.parse(SMALL)
    assert np.allclose(np.exp(log_value(spn, [[0], [1]])), [1.5, 0.5])


@pytest.mark.parametrize("text, message", [
    ("", "empty SPN file"),
    ("leaf 0 0 0\n", "line 1: the first line must be 'spn N_VARS'"),
    ("spn 1\nleaf 0 0\n", "line 2: a leaf is 'leaf ID VAR VALUE'"),
    ("spn 1\nleaf 0 0 0\nleaf 0 0 1\n", "line 3: id 0 is used twice"),
    ("spn 1\nleaf 0 0 0\nsum 1 0:x\n", "line 3: weight 'x' is not a number"),
    ("spn 1\nleaf 0 0 0\nsum 1 0\n", "line 3: sum edge '0' is not CHILD:WEIGHT"),
    ("spn 1\nleaf 0 0 0\nsum 1 7:1\n", "line 3: child 7 is not defined"),
    ("spn 1\nleaf 0 0 0\nleaf 1 0 1\nsum 2 0:1 1:-2\n", "line 4: weight -2.0 is not a finite number > 0"),
    ("spn 2\nleaf 0 0 0\nleaf 1 0 1\nprod 2 0 1\n", "line 4: product is not decomposable"),
    ("spn 1\nleaf 0 0 0\nmax 1 0\n", "line 3: unknown line kind 'max'"),
    ("spn x\n", "line 1: N_VARS 'x' is not an integer"),
])
def test_bad_files_name_the_line(text, message):
    with pytest.raises(SPNError, match=message):
        textformat.parse(text)


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(SPNError, match="cannot read SPN file"):
        textformat.read(tmp_path / "nope.spn")
