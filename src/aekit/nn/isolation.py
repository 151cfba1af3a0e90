"""A fitted isolation forest held as tensors: :class:`IsolationTrees`.

The outlier detector's isolation term is scikit-learn's :class:`~sklearn.ensemble.
IsolationForest` fitted on the detector's scaled rows. A fitted forest is a set of binary
trees, and a tree is a few arrays (split column, split value, children, and the path length
its leaves stand for); held as buffers they are saved with the rest of the model in
safetensors (no pickle), and scoring is a walk down the trees, every tree and row at once.
Filling the buffers from a fitted scikit-learn forest is the estimator's job
(:mod:`aekit.anomaly.isolation`): this module does not import scikit-learn.
"""

from __future__ import annotations

import torch
from torch import nn

LEAF = -2
"""The split column of a leaf (scikit-learn's ``TREE_LEAF``), also of the padding nodes."""


class IsolationTrees(nn.Module):
    """``n_trees`` binary trees of at most ``n_nodes`` nodes each, padded with leaves.

    Buffers (node 0 is each tree's root)
    -------------------------------------
    feature : (n_trees, n_nodes) int64
        The column a node splits on; :data:`LEAF` at a leaf.
    threshold : (n_trees, n_nodes) float64
        A row goes left where its value is ``<= threshold`` (as scikit-learn's trees).
    branches : (2, n_trees, n_nodes) int64
        Left and right child of each node (0 at a leaf).
    path : (n_trees, n_nodes) float64
        At a leaf: the isolation path length it stands for (its depth plus the expected
        path length of the training rows that reached it), over ``n_trees`` times the
        expected path length of the subsample: the per-tree share of the forest's score.
    """

    def __init__(self, n_trees: int, n_nodes: int):
        super().__init__()
        self.register_buffer("feature", torch.full((n_trees, n_nodes), LEAF, dtype=torch.long))
        self.register_buffer("threshold", torch.zeros(n_trees, n_nodes, dtype=torch.float64))
        self.register_buffer("branches", torch.zeros(2, n_trees, n_nodes, dtype=torch.long))
        self.register_buffer("path", torch.zeros(n_trees, n_nodes, dtype=torch.float64))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The forest's anomaly score of rows ``x`` (n, d): ``2 ** -(mean path length /
        expected path length)``, in (0, 1], higher is more anomalous (scikit-learn's
        ``-score_samples``). Values are compared as float32 numbers, as scikit-learn does."""
        x = x.float().double().t()  # (d, n): float32 values, compared in float64
        n_trees, n = self.feature.shape[0], x.shape[1]
        node = torch.zeros(n_trees, n, dtype=torch.long, device=x.device)  # (T, n)
        rows = torch.arange(n, device=x.device)
        for _ in range(self.feature.shape[1]):  # at most one step per level
            column = self.feature.gather(1, node)  # (T, n)
            inner = column != LEAF
            if not bool(inner.any()):
                break
            left = x[column.clamp(min=0), rows] <= self.threshold.gather(1, node)
            child = torch.where(left, self.branches[0].gather(1, node),
                                self.branches[1].gather(1, node))
            node = torch.where(inner, child, node)
        return torch.exp2(-self.path.gather(1, node).sum(0))
