"""LearnSPN: valid networks, better likelihood than independence on dependent data, data errors."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from spn.learn import LearnOptions, components, dependent_pairs, learn_spn, mean_log_likelihood, read_data
from spn.network import SPNError
from spn.passes import log_value

NLTCS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "spn" / "nltcs"


def correlated(rows: int, seed: int) -> np.ndarray:
    """Vars 0-2 copy one coin with 10% noise; vars 3-4 are independent fair coins."""
    rng = np.random.default_rng(seed)
    coin = rng.integers(0, 2, rows)
    noisy = [(coin ^ (rng.random(rows) < 0.1)) for _ in range(3)]
    return np.stack(noisy + [rng.integers(0, 2, rows), rng.integers(0, 2, rows)], axis=1).astype(np.uint8)


def test_independence_test_and_components_find_the_blocks():
    dep = dependent_pairs(correlated(3000, 0), LearnOptions().g_threshold)
    assert dep[0, 1] and dep[1, 2] and not dep[3, 4] and not dep[0, 3]
    assert [c.tolist() for c in components(dep)] == [[0, 1, 2], [3], [4]]


def test_learned_spn_is_normalised_and_beats_independence():
    train, test = correlated(3000, 1), correlated(1000, 2)
    spn = learn_spn(train, LearnOptions(min_rows=50))
    assert np.isclose(np.exp(log_value(spn, -np.ones(5, int)))[0], 1.0)
    independent = learn_spn(train, LearnOptions(min_rows=10 ** 9))  # factorised only
    assert mean_log_likelihood(spn, test) > mean_log_likelihood(independent, test) + 0.3


def test_learning_is_seeded():
    data = correlated(800, 3)
    a, b = learn_spn(data, LearnOptions(min_rows=50, seed=4)), learn_spn(data, LearnOptions(min_rows=50, seed=4))
    assert np.array_equal(a.child, b.child) and np.allclose(a.log_weight, b.log_weight)


@pytest.mark.skipif(not NLTCS.exists(), reason="shared SPN datasets not present")
def test_nltcs_learns_a_sensible_model():
    train = read_data(NLTCS / "nltcs.train.data")[:3000]
    test = read_data(NLTCS / "nltcs.test.data")[:1000]
    assert train.shape[1] == 16
    assert mean_log_likelihood(learn_spn(train), test) > -7.0  # independence gives about -9.1


def test_bad_data_is_rejected(tmp_path):
    (tmp_path / "a.data").write_text("0,1\n1,2\n")
    with pytest.raises(SPNError, match="values must be 0 or 1"):
        read_data(tmp_path / "a.data")
    (tmp_path / "b.data").write_text("0,1\n1\n")
    with pytest.raises(SPNError, match="different lengths"):
        read_data(tmp_path / "b.data")
    with pytest.raises(SPNError, match="cannot read data file"):
        read_data(tmp_path / "missing.data")
    with pytest.raises(SPNError, match="0 or 1"):
        learn_spn(np.array([[0, 3]]))
    with pytest.raises(SPNError, match="min_rows"):
        learn_spn(np.zeros((4, 2)), LearnOptions(min_rows=0))
