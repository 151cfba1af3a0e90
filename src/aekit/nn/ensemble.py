"""An ensemble of small dense autoencoders trained and evaluated together, for anomaly scores.

``M`` members with the same layer sizes are held as stacked weights (one ``(M, in, out)``
tensor per layer) and run with batched matrix products: one kernel call per layer for the
whole ensemble, instead of ``M`` small ones. Each member sees its own rows: the ensemble's
input is ``(M, n, d)``, member ``m`` reading ``x[m]``.

A table with categorical columns (:mod:`aekit.nn.tabular`) is seen by the members as its
numbers and each category one-hot, every one of these columns scaled like a number (a rare
category's column thus has a small spread, and a row that holds it a large error), and its
errors are summed back per table column.

Besides the networks, :class:`EnsembleAutoEncoder` holds everything anomaly scores need as
buffers (so they are saved with the weights): each member's *reference codes* (the codes of
the rows it kept in training, for a nearest-neighbour density in code space) and the
medians and spreads that put each member's error and code distance on a common scale.
It also holds the state of the three input-space terms of the score (:data:`TERMS`): each
column's training quantiles (an empirical distribution function, for tail probabilities
as ECOD's), a sample of training rows (for a nearest-neighbour distance among rows) and an
isolation forest's trees (:class:`~aekit.nn.isolation.IsolationTrees`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from .isolation import IsolationTrees
from .layers import Scaler, make_activation
from .tabular import TabularScaler

SCORE_QUANTILES = 1001
"""Quantiles of the training scores kept (0%, 0.1%, ..., 100%): a threshold can be moved to
any share of the training rows after fit, without the rows."""

SCORE_BATCH = 512
"""Rows per forward pass when scoring: small enough that a batch's code distances to every
member's reference codes stay in the CPU's cache (twice as fast as 2,048 rows)."""

TAIL_QUANTILES = 1001
"""Quantiles kept per input column for its tail probabilities (0%, 0.1%, ..., 100%)."""

TERMS = ("reconstruction", "code_density", "tail", "input_density", "isolation")
"""The terms of the anomaly score, in the order of :meth:`EnsembleAutoEncoder.term_scores`."""


class BatchedLinear(nn.Module):
    """``M`` independent linear layers: (M, n, in_features) -> (M, n, out_features).

    Initialised as ``M`` separate ``nn.Linear`` layers would be (uniform in
    ``±1/sqrt(in_features)``), each from the global torch generator in turn.
    """

    def __init__(self, n_members: int, in_features: int, out_features: int):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = nn.Parameter(torch.empty(n_members, in_features, out_features))
        self.bias = nn.Parameter(torch.empty(n_members, 1, out_features))
        bound = 1 / math.sqrt(in_features)
        with torch.no_grad():
            self.weight.uniform_(-bound, bound)
            self.bias.uniform_(-bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.baddbmm(self.bias, x, self.weight)

    def extra_repr(self) -> str:
        return (f"n_members={self.weight.shape[0]}, in_features={self.in_features}, "
                f"out_features={self.out_features}")


def batched_mlp(n_members: int, sizes: Sequence[int], activation: str) -> nn.Sequential:
    """``sizes[0] -> ... -> sizes[-1]`` for each member, ``activation`` between the layers
    and none after the last (a linear code, a linear output)."""
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(BatchedLinear(n_members, n_in, n_out))
        if i < len(sizes) - 2 and activation != "linear":
            layers.append(make_activation(activation))
    return nn.Sequential(*layers)


SELF_MATCH = 1e-4
"""A reference code closer than this fraction of the ``n_neighbors + 1``-th nearest one is
the row itself (or a copy of it), and is not counted as its neighbour."""


def knn_distance(codes: torch.Tensor, reference: torch.Tensor, keep: torch.Tensor,
                 n_neighbors: int) -> torch.Tensor:
    """Mean distance of each code to its ``n_neighbors`` nearest kept reference codes,
    not counting one match with the row itself.

    A training row is among the reference codes; a new row is not. So that both are
    measured alike (and a threshold set on the training rows holds for new ones), one
    reference code at distance ~0 (:data:`SELF_MATCH`) is dropped before the
    ``n_neighbors`` nearest are averaged: a training row's own code, or for a new row a
    copy of it among the training rows.

    Parameters
    ----------
    codes : torch.Tensor of shape (M, n, k)
    reference : torch.Tensor of shape (M, R, k)
    keep : torch.Tensor of shape (M, R)
        1 for the reference codes that count, 0 for the others.
    n_neighbors : int
        At most the number of kept reference codes minus one.

    Returns
    -------
    distances : torch.Tensor of shape (M, n)
    """
    # Squared distances |a|^2 + |b|^2 - 2 a.b, in float64: a row's distance to its own code
    # comes out ~1e-8 of its norm (float32 leaves ~1e-3, as much as a near neighbour's).
    # The (n, R) matrix is written once, by one batched product whose added term |b|^2 is
    # +inf for the codes not kept; |a|^2 (the same for a whole row) is added after topk.
    a, b = codes.double(), reference.double()
    b2 = b.square().sum(2).masked_fill(keep <= 0, math.inf).unsqueeze(1)  # (M, 1, R)
    partial = torch.baddbmm(b2, a, b.mT, alpha=-2)  # (M, n, R)
    near = partial.topk(n_neighbors + 1, dim=2, largest=False).values  # ascending
    near = (near + a.square().sum(2, keepdim=True)).clamp_min_(0).sqrt_()
    itself = near[..., :1] <= SELF_MATCH * near[..., -1:]
    return torch.where(itself, near[..., 1:], near[..., :-1]).mean(2).to(codes.dtype)


def tail_surprise(x: torch.Tensor, quantiles: torch.Tensor, skew: torch.Tensor
                  ) -> torch.Tensor:
    """ECOD's outlyingness (Li et al., TKDE 2022) of rows ``x`` (n, d) from each column's
    training quantiles ``quantiles`` (Q, d), ascending: ``-log`` of the empirical
    probability of a value at least as extreme, summed over the columns, for the left
    tails, the right tails, and each column's tail on the side of its skew (``skew`` (d,),
    its sign); the largest of the three sums, (n,).

    A value beyond the training range is given the smallest probability ``1/Q`` times
    ``exp(-distance to the range)``, in the column's units: rows far outside stay ranked
    by how far. A near-discrete column's rare values get the probabilities of their rarity.
    """
    n_q = quantiles.shape[0]
    q = quantiles.t().contiguous()  # (d, Q)
    xt = x.t().contiguous()  # (d, n)
    n_le = torch.searchsorted(q, xt, right=True).t().to(x.dtype)  # quantiles <= x: (n, d)
    n_ge = n_q - torch.searchsorted(q, xt, right=False).t().to(x.dtype)  # >= x
    log_q = math.log(n_q)
    left = log_q - n_le.clamp_min(1).log() + (quantiles[0] - x).clamp_min(0)
    right = log_q - n_ge.clamp_min(1).log() + (x - quantiles[-1]).clamp_min(0)
    skewed = torch.where(skew < 0, left, right)
    return torch.stack([left.sum(1), right.sum(1), skewed.sum(1)]).amax(0)


class EnsembleAutoEncoder(nn.Module):
    """``M`` dense autoencoders behind one in-model scaler, with the state of their scores.

    Parameters
    ----------
    n_members : int
    n_features : int
    hidden_layer_sizes : sequence of int
        Encoder hidden widths, outermost first; the decoder mirrors them.
    n_components : int
        Code size of each member.
    activation : str
    n_reference : int
        Rows per member whose codes are kept for the code-space density (also the rows
        kept for the input-space density).

    Attributes (buffers, set by the estimator after training)
    ----------------------------------------------------------
    reference : (M, n_reference, n_components)
        Codes of each member's training rows.
    keep : (M, n_reference)
        1 for the reference rows that were kept (not trimmed as too poorly reconstructed).
    error_location, error_scale, distance_location, distance_scale : (M,)
        Median and spread of each member's training errors and code distances.
    tail_quantiles : (:data:`TAIL_QUANTILES`, width), tail_skew : (width,)
        Each scaled input column's training quantiles and the sign of its skew.
    neighbors : (n_reference, width)
        Scaled training rows of the input-space density.
    term_location, term_scale : (len(TERMS),); term_quantiles : (len(TERMS), SCORE_QUANTILES)
        Median, spread and quantiles of each term over the training rows.
    score_quantiles : (:data:`SCORE_QUANTILES`,)
        Quantiles of the anomaly scores of the training rows.
    isolation : IsolationTrees or None
        The isolation term's trees (``isolation_trees`` trees of at most
        ``isolation_nodes`` nodes), None when ``isolation_nodes`` is 0 (no such term).
    """

    def __init__(self, n_members: int, n_features: int, hidden_layer_sizes: Sequence[int],
                 n_components: int, activation: str = "elu", n_reference: int = 1,
                 table: TabularScaler | None = None, isolation_trees: int = 100,
                 isolation_nodes: int = 0):
        super().__init__()
        self.n_members = n_members
        # A table's coded rows are first expanded (numbers, then each category one-hot);
        # the scaler (statistics set by the estimator) scales the expanded columns.
        self.table = table
        width = n_features if table is None else table.n_numeric + sum(table.sizes)
        self.scaler = Scaler(width, "standard")
        sizes = [width, *hidden_layer_sizes, n_components]
        self.encoder = batched_mlp(n_members, sizes, activation)
        self.decoder = batched_mlp(n_members, sizes[::-1], activation)
        if table is not None:  # expanded column -> the table's column it belongs to
            slots = table.numeric_columns.tolist() + [
                j for j, n in zip(table.categorical_columns.tolist(), table.sizes)
                for _ in range(n)]
            self.register_buffer("slot_column", torch.tensor(slots, dtype=torch.long),
                                 persistent=False)
        self.register_buffer("reference", torch.zeros(n_members, n_reference, n_components))
        self.register_buffer("keep", torch.ones(n_members, n_reference))
        for name in ("error_location", "distance_location"):
            self.register_buffer(name, torch.zeros(n_members))
        for name in ("error_scale", "distance_scale"):
            self.register_buffer(name, torch.ones(n_members))
        self.register_buffer("score_quantiles", torch.zeros(SCORE_QUANTILES))
        self.register_buffer("tail_quantiles", torch.zeros(TAIL_QUANTILES, width))
        self.register_buffer("tail_skew", torch.ones(width))
        self.register_buffer("neighbors", torch.zeros(n_reference, width))
        self.register_buffer("term_location", torch.zeros(len(TERMS)))
        self.register_buffer("term_scale", torch.ones(len(TERMS)))
        self.register_buffer("term_quantiles", torch.zeros(len(TERMS), SCORE_QUANTILES))
        self.isolation = (IsolationTrees(isolation_trees, isolation_nodes)
                          if isolation_nodes else None)

    def expand(self, x: torch.Tensor) -> torch.Tensor:
        """Rows in the caller's units (n, d) -> the columns the members see, unscaled:
        for a table, its numbers then each category one-hot (all zeros for a category
        unknown at fit time), (n, width); other rows as they are."""
        return x if self.table is None else self.table.one_hot(self.table(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Reconstruct scaled rows: (M, n, d) -> (M, n, d), network units."""
        return self.decoder(self.encoder(x))

    def column_errors(self, x_in: torch.Tensor, x: torch.Tensor
                      ) -> tuple[torch.Tensor, torch.Tensor]:
        """Each member's error per column of its rows, and their codes.

        Parameters
        ----------
        x_in : torch.Tensor of shape (M, n, d)
            What the members see, in network units (clipped rows in training).
        x : torch.Tensor of shape (M, n, d)
            The rows the reconstructions are compared with.

        Returns
        -------
        errors : torch.Tensor of shape (M, n, d)
            Squared errors in network units (the training loss is their mean per row).
        codes : torch.Tensor of shape (M, n, n_components)
        """
        z = self.encoder(x_in)
        return (self.decoder(z) - x).square(), z

    def members_input(self, x: torch.Tensor) -> torch.Tensor:
        """Rows in the caller's units (n, d) -> every member's input (M, n, width), scaled."""
        return self.scaler(self.expand(x)).unsqueeze(0).expand(self.n_members, -1, -1)

    def feature_errors(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`column_errors` of rows ``x`` in the caller's units (n, d), per column of
        ``x`` (a table's categorical column: the sum over its categories): (M, n, d); and
        the codes (M, n, k)."""
        s = self.members_input(x)
        errors, z = self.column_errors(s, s)
        if self.table is not None:
            errors = errors.new_zeros(*errors.shape[:2], x.shape[1]).index_add_(
                2, self.slot_column, errors)
        return errors, z

    def term_scores(self, x: torch.Tensor, n_neighbors: int, weights: Sequence[float]
                    ) -> torch.Tensor:
        """The raw terms of the anomaly score (:data:`TERMS`) of rows ``x`` in the caller's
        units (n, d): (n, len(TERMS)); a term of weight 0 is not computed (0).

        - reconstruction: each member's reconstruction error (summed over the columns),
          centred and scaled by the member's training median and spread, averaged;
        - code_density: the same of each member's code's mean distance to its
          ``n_neighbors`` nearest kept reference codes;
        - tail: :func:`tail_surprise` of the scaled row (plus ``log Q`` for each
          categorical column holding a category unseen in fit);
        - input_density: the scaled row's mean distance to its ``n_neighbors`` nearest
          rows of :attr:`neighbors`;
        - isolation: the isolation forest's score of the scaled row (:attr:`isolation`).
        """
        e = self.expand(x)
        s = self.scaler(e)  # (n, width)
        out = s.new_zeros(len(s), len(TERMS))
        if weights[0] > 0 or weights[1] > 0:
            m_in = s.unsqueeze(0).expand(self.n_members, -1, -1)
            errors, z = self.column_errors(m_in, m_in)
            err = (errors.sum(2) - self.error_location[:, None]) / self.error_scale[:, None]
            out[:, 0] = err.mean(0)
            if weights[1] > 0 and n_neighbors > 0:
                dist = knn_distance(z, self.reference, self.keep, n_neighbors)
                dist = (dist - self.distance_location[:, None]) / self.distance_scale[:, None]
                out[:, 1] = dist.mean(0)
        if weights[2] > 0:
            out[:, 2] = tail_surprise(s, self.tail_quantiles, self.tail_skew)
            if self.table is not None and self.table.sizes:
                # A category unseen in fit (all its one-hot columns 0) is as surprising as
                # a value beyond every training row: log Q per such column.
                sizes = torch.tensor(self.table.sizes, device=s.device)
                block = torch.repeat_interleave(torch.arange(len(sizes), device=s.device), sizes)
                hot = e[:, self.table.n_numeric:]
                seen = hot.new_zeros(len(e), len(sizes)).index_add_(1, block, hot)
                out[:, 2] += math.log(TAIL_QUANTILES) * (seen <= 0).sum(1)
        if weights[3] > 0 and n_neighbors > 0:
            keep = torch.ones(1, len(self.neighbors), device=s.device)
            out[:, 3] = knn_distance(s[None], self.neighbors[None], keep, n_neighbors)[0]
        if weights[4] > 0 and self.isolation is not None:
            out[:, 4] = self.isolation(s).to(out.dtype)
        return out
