"""Our SPNs as SPFlow 1.x modules, and SPFlow's MPE on a MAP query (for benchmarks/spn_map.py).

SPFlow is optional and not a dependency: install it apart from the project's venv, e.g.
``pip install --no-deps --target DIR spflow fast_pytorch_kmeans pydot`` (torch, scipy and einops
come from the venv) and put DIR on PYTHONPATH. Only SPNs whose indicators all sit under
two-indicator sums (what ``spn.learn`` and ``spn.generate`` make) convert: those sums become
Bernoulli leaves. SPFlow's ``sample_with_evidence(is_mpe=True)`` runs a marginal upward pass
with the evidence and then walks down taking, at each sum, the child with the largest
weight * likelihood, and the mode at each leaf; it fills in every missing variable, so for MAP
we keep the query columns and score them with S' like every other solver.
"""
from __future__ import annotations

import numpy as np

from spn.network import LEAF, PRODUCT, SPN, SPNError


def available() -> str | None:
    """None when SPFlow imports, else why not."""
    try:
        import spflow  # noqa: F401
        import torch  # noqa: F401
    except Exception as exc:  # any import failure means "not comparable here"
        return f"{type(exc).__name__}: {exc}"
    return None


def to_spflow(spn: SPN):
    """The SPFlow module tree of ``spn`` (shared sub-networks become shared modules)."""
    import torch
    from spflow.meta import Scope
    from spflow.modules.leaves import Bernoulli
    from spflow.modules.products import Product
    from spflow.modules.sums import Sum

    start = spn.children_start
    made: dict[int, object] = {}
    for n in range(spn.n_leaves, spn.n_nodes):
        kids = spn.child[start[n]:start[n + 1]]
        w = np.exp(spn.log_weight[start[n]:start[n + 1]])
        if spn.kind[n] == PRODUCT:
            made[n] = Product([_module(made, c, n) for c in kids])
        elif (spn.kind[kids] == LEAF).all():
            var = int(spn.leaf_var[kids[0]])
            if len(kids) != 2 or (spn.leaf_var[kids] != var).any():
                raise SPNError(f"node {n}: only two-indicator sums over one variable convert to SPFlow")
            p_one = float(w[spn.leaf_val[kids] == 1][0] / w.sum())
            made[n] = Bernoulli(scope=Scope([var]), probs=torch.tensor(p_one).reshape(1, 1, 1))
        else:
            weights = torch.tensor(w / w.sum(), dtype=torch.get_default_dtype()).reshape(1, len(kids), 1, 1)
            made[n] = Sum([_module(made, c, n) for c in kids], weights=weights)
    return made[spn.root]


def _module(made: dict, child: int, parent: int):
    if child not in made:
        raise SPNError(f"node {parent}: an indicator outside a two-indicator sum does not convert to SPFlow")
    return made[child]


def mpe_row(model, n_vars: int, evidence: dict[int, int]) -> np.ndarray:
    """SPFlow's MPE completion of ``evidence`` as a row of 0/1, and -1 where SPFlow left NaN."""
    import torch

    data = torch.full((1, n_vars), float("nan"))
    for v, x in evidence.items():
        data[0, v] = float(x)
    with torch.no_grad():
        filled = model.sample_with_evidence(evidence=data, is_mpe=True)
    values = filled[0].numpy()
    return np.where(np.isnan(values), -1, np.nan_to_num(values).round()).astype(np.int8)
