"""The isolation term of :class:`~aekit.OutlierDetector`: scikit-learn's
:class:`~sklearn.ensemble.IsolationForest` fitted on the detector's scaled rows and copied
into an :class:`~aekit.nn.isolation.IsolationTrees` (tensors, saved without pickle).

Why a forest beside the autoencoders: it isolates a row by random axis-aligned cuts, so it
sees the *global* anomalies, rows far out on a few columns, whatever the dependencies
between columns; the autoencoder terms see broken dependencies and may reconstruct such
rows well. On the development sets where the autoencoder terms lost to IsolationForest
(cardio, pendigits, shuttle's average precision) the rank average with this term loses
less (docs/decisions.md, "Anomaly detection").
"""

from __future__ import annotations

import numpy as np
import torch

from ..nn.ensemble import TERMS
from ..nn.isolation import LEAF, IsolationTrees

N_TREES = 100
"""Trees of the isolation term: scikit-learn's (and the original paper's) default."""


def average_path_length(n) -> np.ndarray:
    """The expected path length of an unsuccessful search among ``n`` rows of a binary
    search tree, ``c(n)`` of Liu et al. (2008): 0 for ``n <= 1``, 1 for 2, else
    ``2 (ln(n - 1) + Euler's gamma) - 2 (n - 1) / n``."""
    n = np.asarray(n, dtype=np.float64)
    safe = np.maximum(n, 3.0)
    c = 2.0 * (np.log(safe - 1.0) + np.euler_gamma) - 2.0 * (safe - 1.0) / safe
    return np.where(n <= 1, 0.0, np.where(n == 2, 1.0, c))


def tree_nodes(max_samples: int) -> int:
    """The most nodes a tree grown on ``max_samples`` rows can have (a binary tree whose
    leaves hold at least one row each): the size of :class:`IsolationTrees`' buffers."""
    return 2 * int(max_samples) - 1


def fit_isolation(trees: IsolationTrees, rows: np.ndarray, max_samples: int, seed: int
                  ) -> None:
    """Fit an :class:`~sklearn.ensemble.IsolationForest` of ``trees``' number of trees on
    ``rows`` (n, d), each tree on a subsample of ``min(max_samples, n)`` rows, seeded by
    ``seed``, and copy it into ``trees``' buffers (in place)."""
    from sklearn.ensemble import IsolationForest

    n_trees, n_nodes = trees.feature.shape
    forest = IsolationForest(n_estimators=n_trees, max_samples=min(int(max_samples), len(rows)),
                             random_state=seed).fit(np.asarray(rows, dtype=np.float32))
    # Every tree splits on the row's own columns: with max_features=1.0, scikit-learn
    # neither subsets nor permutes the columns a tree sees.
    norm = n_trees * float(average_path_length(forest.max_samples_))
    feature = np.full((n_trees, n_nodes), LEAF, dtype=np.int64)
    threshold = np.zeros((n_trees, n_nodes))
    branches = np.zeros((2, n_trees, n_nodes), dtype=np.int64)
    path = np.zeros((n_trees, n_nodes))
    for t, estimator in enumerate(forest.estimators_):
        tree = estimator.tree_
        k = tree.node_count
        if k > n_nodes:  # cannot happen for a binary tree of max_samples rows
            raise RuntimeError(f"an isolation tree has {k} nodes, more than {n_nodes}")
        left, right = tree.children_left, tree.children_right
        depth = np.zeros(k)
        for node in range(k):  # scikit-learn numbers a parent before its children
            if left[node] >= 0:
                depth[left[node]] = depth[right[node]] = depth[node] + 1
        leaf = left < 0
        feature[t, :k] = np.where(leaf, LEAF, tree.feature)
        threshold[t, :k] = np.where(leaf, 0.0, tree.threshold)
        branches[0, t, :k] = np.where(leaf, 0, left)
        branches[1, t, :k] = np.where(leaf, 0, right)
        path[t, :k] = (depth + average_path_length(tree.n_node_samples)) / norm
    device = trees.feature.device
    for name, value in (("feature", feature), ("threshold", threshold),
                        ("branches", branches), ("path", path)):
        getattr(trees, name).copy_(torch.as_tensor(value, device=device))


def add_isolation_calibration(tensors: dict) -> dict:
    """The saved tensors of a detector from before the isolation term, made loadable.

    Such a detector has the calibration (``term_location``, ``term_scale``,
    ``term_quantiles``) of four score terms; the fifth, the isolation term, gets a neutral
    one. It is never computed: :func:`aekit.load` also gives such a detector
    ``isolation_weight=0``, so it scores exactly as it did when saved. Tensors of a current
    detector come back unchanged.
    """
    location = tensors.get("term_location")
    if location is None or location.shape != (len(TERMS) - 1,):
        return tensors
    neutral = {"term_location": 0.0, "term_scale": 1.0, "term_quantiles": 0.0}
    return {**tensors, **{key: torch.cat([tensors[key], torch.full_like(tensors[key][:1], value)])
                          for key, value in neutral.items() if key in tensors}}
