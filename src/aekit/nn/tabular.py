"""A table's in-model preprocessing: numeric columns scaled, categorical columns one-hot
(or embedded), and the way back.

Coded rows (:mod:`aekit.data.tables`) hold one float per column: a number, or a category's
index (``-1``: a category unknown at fit time). :class:`TabularScaler` stands where the
:class:`~aekit.nn.layers.Scaler` stands for arrays, in front of the encoder and behind the
decoder, with the same ``forward`` / ``inverse`` contract:

- ``forward``: coded rows (n, n_columns) -> network units (n, n_columns), numeric columns
  first (scaled by a per-column :class:`~aekit.nn.layers.Scaler`), then the category
  indices as they are: compact, whatever the number of categories;
- :class:`TabularInput`, the encoder's first module, expands the indices per batch: one-hot
  for columns with at most :data:`MAX_ONE_HOT` categories, a learned embedding beyond. A
  category unknown at fit time (``-1``) becomes the column's *average* one-hot (its
  training frequencies; for an embedding, the frequency-weighted mean vector): the model's
  expectation over the categories it knows, so an unseen value moves the code as little as
  possible, and never raises;
- the decoder outputs the numeric columns (network units) and one block of logits per
  categorical column; ``inverse`` turns them into numbers in the caller's units and the
  most probable category's index.

What the loss does with that layout (squared error on numbers, cross-entropy per category
block, weighted so that every column counts alike) is :func:`aekit.training.losses.table_per_row`,
called by :class:`aekit.training.objectives.TabularReconstruction`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .layers import Scaler

MAX_ONE_HOT = 100
"""Categorical columns with more categories than this are embedded rather than one-hot."""

ENTROPY_CAP = 3.0
"""A categorical column's loss is its cross-entropy in nats, divided by ``entropy / 3``
where its training entropy exceeds 3 nats: it then counts like a column of 20 equally
frequent categories (e**3), however many it has."""


def embedding_dim(n_categories: int) -> int:
    """Width of the learned embedding of a column with ``n_categories`` categories (the
    rule of thumb ``1.6 * n ** 0.56`` of fast.ai, at most 32)."""
    return int(min(32, max(2, round(1.6 * n_categories ** 0.56))))


class TabularScaler(nn.Module):
    """Scaling of a table with categorical columns, in the model (see the module's notes).

    Parameters
    ----------
    kinds : sequence of {"numeric", "categorical"}
        Each column's kind, in the table's order.
    n_categories : sequence of int
        The number of categories of each categorical column, in order.
    kind : str or None
        The :class:`~aekit.nn.layers.Scaler` kind of the numeric columns.

    Attributes
    ----------
    n_numeric, n_categorical : int
    width_in : int
        Width of :class:`TabularInput`'s output: the encoder's first layer's input.
    width_out : int
        Width of the decoder's output: numeric columns then every category's logit.
    """

    def __init__(self, kinds: Sequence[str], n_categories: Sequence[int], kind: str | None):
        super().__init__()
        kinds = list(kinds)
        bad = sorted(set(kinds) - {"numeric", "categorical"})
        if bad or kinds.count("categorical") != len(n_categories):
            raise ValueError(f"kinds {bad or kinds} do not match {len(n_categories)} "
                             "categorical columns")
        numeric = [j for j, k in enumerate(kinds) if k == "numeric"]
        categorical = [j for j, k in enumerate(kinds) if k == "categorical"]
        self.n_features, self.n_numeric, self.n_categorical = len(kinds), len(numeric), \
            len(categorical)
        self.sizes = [int(n) for n in n_categories]
        if any(n < 1 for n in self.sizes):
            raise ValueError(f"every categorical column needs a category, got {self.sizes}")
        self.embedded = [n > MAX_ONE_HOT for n in self.sizes]
        self.width_out = self.n_numeric + sum(self.sizes)
        self.width_in = self.n_numeric + sum(
            embedding_dim(n) if e else n for n, e in zip(self.sizes, self.embedded))
        self.numeric = Scaler(self.n_numeric, kind)
        # Structure (rebuilt from the column description, never saved): where each column
        # goes, and each category block's slots padded to the longest block.
        index = dict(persistent=False)
        self.register_buffer("numeric_columns", torch.tensor(numeric, dtype=torch.long), **index)
        self.register_buffer("categorical_columns", torch.tensor(categorical, dtype=torch.long),
                             **index)
        self.register_buffer("order", torch.tensor(numeric + categorical, dtype=torch.long),
                             **index)
        # Where each of the table's columns is in network order: inverse's gather.
        self.register_buffer("position", torch.argsort(self.order), **index)
        starts = [self.n_numeric + sum(self.sizes[:c]) for c in range(len(self.sizes))]
        longest = max(self.sizes, default=0)
        # Slot width_out is a padding logit of -inf; pad[c, i] is block c's i-th slot.
        pad = [[s + i if i < n else self.width_out for i in range(longest)]
               for s, n in zip(starts, self.sizes)]
        self.register_buffer("pad_index", torch.tensor(pad, dtype=torch.long).reshape(
            len(self.sizes), longest), **index)
        self.uniform = len(set(self.sizes)) <= 1  # blocks of one size: a reshape, no padding
        # Fitted: each category's training frequency (in the logit layout) and each column's
        # loss weight (numeric columns first, then categorical ones).
        self.register_buffer("frequencies", torch.zeros(sum(self.sizes)))
        self.register_buffer("weights", torch.ones(self.n_numeric + self.n_categorical))

    @property
    def kind(self) -> str | None:
        """The numeric columns' scaler kind."""
        return self.numeric.kind

    # ------------------------------------------------------------------ fit
    @torch.no_grad()
    def fit(self, X: torch.Tensor) -> "TabularScaler":
        """Fit on coded rows ``X`` (n_samples, n_columns), in the caller's units."""
        X = X.to(self.frequencies.dtype)
        numeric = X.index_select(1, self.numeric_columns)
        if self.n_numeric:
            self.numeric.fit(numeric)
            var = self.numeric(numeric).double().var(0, correction=0)
            self.weights[: self.n_numeric] = torch.where(var > 1e-12, 1 / var, 1.0).float()
        codes = X.index_select(1, self.categorical_columns).long()
        start = 0
        for c, n in enumerate(self.sizes):
            col = codes[:, c]
            counts = torch.bincount(col[(col >= 0) & (col < n)], minlength=n)
            p = counts.double() / max(int(counts.sum()), 1)
            self.frequencies[start : start + n] = p.float()
            entropy = -(p[p > 0] * p[p > 0].log()).sum().item()
            self.weights[self.n_numeric + c] = 1.0 / max(1.0, entropy / ENTROPY_CAP)
            start += n
        return self

    def fit_chunks(self, chunks):
        raise ValueError("a table is fitted in memory (a DataFrame), not streamed from disk")

    # ------------------------------------------------------------------ maps
    # The maps take their row count from the tensors' shapes, never from len(): the ONNX
    # export traces them, and a traced len() is a constant (the graph would take only the
    # trace's number of rows).
    def forward(self, X: torch.Tensor) -> torch.Tensor:
        """Coded rows (n, n_columns) -> network units (n, n_columns): the numeric columns
        scaled, then the category indices."""
        numeric = self.numeric(X.index_select(1, self.numeric_columns))
        return torch.cat([numeric, X.index_select(1, self.categorical_columns)], 1)

    def _blocks(self, Y: torch.Tensor) -> torch.Tensor:
        """The logits of ``Y`` (n, width_out) as (n, n_categorical, longest block)."""
        logits = Y[:, self.n_numeric :]
        if self.uniform:
            return logits.reshape(-1, self.n_categorical, self.sizes[0])
        padded = torch.cat([Y, torch.full_like(Y[:, :1], float("-inf"))], 1)
        return padded[:, self.pad_index]

    def inverse(self, Y: torch.Tensor, like: torch.Tensor | None = None) -> torch.Tensor:
        """Decoder outputs (n, width_out) -> coded rows (n, n_columns) in the caller's
        units: numbers unscaled, each category block's most probable index."""
        numeric_like = None if like is None else like.index_select(1, self.numeric_columns)
        numeric = self.numeric.inverse(Y[:, : self.n_numeric], numeric_like)
        codes = self._blocks(Y).argmax(2) if self.n_categorical else Y[:, :0]
        return torch.cat([numeric, codes.to(numeric.dtype)], 1).index_select(1, self.position)

    def one_hot(self, X_net: torch.Tensor) -> torch.Tensor:
        """Network units (n, n_columns) -> (n, width_out): the numeric columns, then every
        category block one-hot (zeros for a category unknown at fit time)."""
        codes = X_net[:, self.n_numeric :].long()
        out = X_net.new_zeros(len(X_net), sum(self.sizes))
        starts = torch.tensor([sum(self.sizes[:c]) for c in range(self.n_categorical)],
                              dtype=torch.long, device=X_net.device)
        valid = codes >= 0
        out.scatter_add_(1, codes.clamp(min=0) + starts, valid.to(out.dtype))
        return torch.cat([X_net[:, : self.n_numeric], out], 1)

    def probabilities(self, Y: torch.Tensor) -> torch.Tensor:
        """Decoder outputs (n, width_out) -> the same with each logit block softmaxed."""
        parts, start = [Y[:, : self.n_numeric]], self.n_numeric
        for n in self.sizes:
            parts.append(torch.softmax(Y[:, start : start + n].float(), 1).to(Y.dtype))
            start += n
        return torch.cat(parts, 1)

    def corruption(self, corrupt, noise: str, level: float):
        """``corrupt`` (built for every network column) with the category indices kept
        out of it: masking and salt-and-pepper noise turn a fraction ``level`` of them into
        "unknown" (``-1``) instead, Gaussian noise leaves them."""
        n = self.n_numeric

        def corrupt_table(x: torch.Tensor) -> torch.Tensor:
            codes = x[:, n:]
            if noise in ("masking", "salt_pepper"):
                codes = torch.where(torch.rand_like(codes) < level, -1.0, codes)
            return torch.cat([corrupt(x)[:, :n], codes], 1)

        return corrupt_table

    def input_layer(self) -> "TabularInput":
        """A fresh :class:`TabularInput` for this table (the encoder's first module)."""
        return TabularInput(self)


class TabularInput(nn.Module):
    """Network units (n, n_columns) -> the encoder's input (n, width_in): numeric columns,
    then each categorical column one-hot (or embedded, beyond :data:`MAX_ONE_HOT`
    categories); see :mod:`aekit.nn.tabular`.

    Holds its :class:`TabularScaler` by reference (for the fitted frequencies), not as a
    submodule: the scaler is saved once, under the autoencoder's ``scaler``.
    """

    def __init__(self, scaler: TabularScaler):
        super().__init__()
        self._scaler = (scaler,)
        one_hot = [c for c, e in enumerate(scaler.embedded) if not e]
        self.one_hot = one_hot
        self.embedded = [c for c, e in enumerate(scaler.embedded) if e]
        sizes = [scaler.sizes[c] for c in one_hot]
        self.width = sum(sizes)
        index = dict(persistent=False)
        # Row (code + start) of the lookup table for a known code, width + i for column i's
        # unknown one.
        self.register_buffer("starts", torch.tensor(
            [sum(sizes[:i]) for i in range(len(sizes))], dtype=torch.long), **index)
        self.register_buffer("unknown", self.width + torch.arange(len(sizes)), **index)
        self.register_buffer("columns", torch.tensor(one_hot, dtype=torch.long), **index)
        self.register_buffer("sizes", torch.tensor(sizes, dtype=torch.long), **index)
        self.embeddings = nn.ModuleList(
            nn.Embedding(scaler.sizes[c], embedding_dim(scaler.sizes[c])) for c in self.embedded)
        self._logit_starts = [sum(scaler.sizes[:c]) for c in range(len(scaler.sizes))]
        self._table, self._frequencies = None, None

    def __getstate__(self):
        # The lookup table is a cache on the device it was built on, no buffer: a pickle of
        # a model fitted on a GPU (its module copied to the CPU, estimators._saving) carried
        # it as a CUDA tensor, which a machine without CUDA cannot unpickle. Copies and
        # pickles rebuild it on first use.
        return {**super().__getstate__(), "_table": None, "_frequencies": None}

    def _lookup(self) -> torch.Tensor:
        """(width + n one-hot columns, width): the identity, then each one-hot column's
        training frequencies in its block (the encoding of its unknown category). Rebuilt
        when the scaler's frequencies change (fit, load_state_dict, a device move)."""
        frequencies = self._scaler[0].frequencies
        key = (id(frequencies), frequencies._version, frequencies.device)  # in-place writes too
        if self._table is None or self._frequencies != key:
            scaler = self._scaler[0]
            table = torch.zeros(self.width + len(self.one_hot), self.width,
                                device=frequencies.device)
            table[: self.width] = torch.eye(self.width, device=frequencies.device)
            start = 0
            for i, c in enumerate(self.one_hot):
                n, first = scaler.sizes[c], self._logit_starts[c]
                table[self.width + i, start : start + n] = frequencies[first : first + n]
                start += n
            self._table, self._frequencies = table, key
        return self._table

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scaler = self._scaler[0]
        n_num = scaler.n_numeric
        parts = [x[:, :n_num]]
        codes = x[:, n_num:].long()  # (n, n_categorical); -1: unknown
        if self.width:
            oh = codes if len(self.one_hot) == codes.shape[1] else codes.index_select(
                1, self.columns)
            # One lookup sums the one-hot rows of a row's categories (its frequencies for
            # an unknown one): one kernel, however many columns.
            # A code outside [0, size) is unknown too: one past a column's last category
            # would otherwise read the next column's block.
            known = (oh >= 0) & (oh < self.sizes)
            rows = torch.where(known, oh + self.starts, self.unknown)
            parts.append(nn.functional.embedding_bag(rows, self._lookup(), mode="sum")
                         .to(x.dtype))
        for c, embedding in zip(self.embedded, self.embeddings):
            code = codes[:, c]
            n = scaler.sizes[c]
            p = scaler.frequencies[self._logit_starts[c] : self._logit_starts[c] + n]
            mean = p.to(embedding.weight.dtype) @ embedding.weight  # broadcast over the rows
            vectors = embedding(code.clamp(0, n - 1))
            known = (code >= 0) & (code < n)  # out of range: unknown, as for one-hot columns
            parts.append(torch.where(known.unsqueeze(1), vectors, mean))
        return torch.cat(parts, 1)

    def extra_repr(self) -> str:
        s = self._scaler[0]
        return (f"numeric={s.n_numeric}, one_hot={len(self.one_hot)} ({self.width} slots), "
                f"embedded={len(self.embedded)}")


def has_table(module: nn.Module) -> bool:
    """Whether ``module`` (an autoencoder) preprocesses a table with categorical columns."""
    return isinstance(getattr(module, "scaler", None), TabularScaler)
