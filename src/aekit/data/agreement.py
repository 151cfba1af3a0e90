"""Whether every process of a ``torchrun`` fit holds the same data.

Under several processes each rank trains on its share of every batch of *its own copy* of
the rows, and the gradients are summed as if the copies were one (see
:mod:`aekit.core.distributed`). Copies that differ (each machine with its own, older, copy
of a file) would train one model on a mix of them without an error, and copies with other
row counts would send the ranks into collectives of other sizes, which gloo answers with an
abort on one rank and a timeout on the others. :func:`check_same_data` compares, at the
start of a fit, what each rank was given, and fails on every rank naming what differs.

What is compared is cheap to take (:func:`describe`): the rows, the columns, their layout
(a row's shape, the dtype, the column names) and a digest of sampled content, never a pass
over all the rows: a file's sampled blocks
(:meth:`~aekit.data.files.RowSource.sampled_identity`, without modification times or
inodes, which differ between two copies of one file), an array's sampled rows
(:func:`~aekit.data.fingerprints.sampled_rows_digest`), a sparse matrix's sampled rows by
their values whatever its sparse format. Copies that differ only in rows between the
samples are not told apart.
"""

from __future__ import annotations

import hashlib
from typing import NamedTuple

import numpy as np
import torch

from ..core import distributed
from .fingerprints import SAMPLED_BYTES, sampled_rows, sampled_rows_digest
from .files import is_streamable, open_rows

__all__ = ["Description", "check_same_data", "describe"]

NOT_GIVEN, UNREADABLE = -2, -1
"""``rows`` of a :class:`Description` of None, and of data that could not be read."""


class Description(NamedTuple):
    """What :func:`check_same_data` compares of one of a fit's inputs."""

    rows: int
    """Rows (the first axis), or :data:`NOT_GIVEN` / :data:`UNREADABLE`."""
    columns: int
    """Values per row (1 for a vector of labels)."""
    layout: str
    """A row's shape, the dtype(s) and the column names."""
    content: str
    """A digest of sampled content, or the error that reading it raised."""


def describe(X) -> Description:
    """:class:`Description` of ``X``: an array or anything NumPy makes one of, a tensor, a
    DataFrame or Series, a sparse matrix, a path, memmap or RowSource (read as a fit
    streams it), a tuple of those (``validation_data``), or None. Never raises: what cannot
    be read is described by its error, so that every rank still joins the comparison."""
    try:
        return _describe(X)
    except Exception as err:  # noqa: BLE001 - reported, on every rank, by check_same_data
        return Description(UNREADABLE, UNREADABLE, "", f"{type(err).__name__}: {err}")


def _describe(X) -> Description:
    if X is None:
        return Description(NOT_GIVEN, NOT_GIVEN, "", "")
    if isinstance(X, tuple):
        parts = [_describe(x) for x in X]
        first = parts[0] if parts else Description(0, 0, "", "")
        return Description(first.rows, first.columns, repr([p[1:3] for p in parts]),
                           _sha256(*(p.content for p in parts)))
    if is_streamable(X):
        source = open_rows(X)
        layout = (source.sample_shape, source.dtype.str, source.columns)
        return Description(source.n_rows, source.n_features, repr(layout),
                           _sha256(repr(source.sampled_identity())))
    if hasattr(X, "iloc") and hasattr(X, "dtypes"):  # a pandas DataFrame or Series
        import pandas as pd

        frame = X.to_frame() if X.ndim == 1 else X
        rows = frame.iloc[sampled_rows(len(frame), 8 * max(1, frame.shape[1]))]
        hashed = pd.util.hash_pandas_object(rows, index=False).to_numpy()
        layout = (list(map(str, frame.columns)), list(map(str, frame.dtypes)), X.ndim)
        return Description(len(frame), frame.shape[1], repr(layout), _sha256(hashed.tobytes()))
    if hasattr(X, "tocsr") and hasattr(X, "nnz"):  # a SciPy sparse matrix or array
        # Described by its values, not by how they are stored: COO on one rank and CSR on
        # another (entries in another order, split into duplicates, stored zeros) is the
        # same data. Only sampled rows are brought to one form and hashed; how many is told
        # by the entries of ~1,000 of them in that form, not by nnz, which counts stored
        # zeros and duplicates.
        csr = X.tocsr()
        pilot = _canonical_rows(csr, sampled_rows(csr.shape[0], SAMPLED_BYTES // 1024))
        per_row = pilot.nnz / max(1, pilot.shape[0])
        rows = _canonical_rows(csr, sampled_rows(csr.shape[0], int(8 * max(1, per_row))))
        content = _sha256(rows.data.tobytes(), *(a.astype(np.int64).tobytes()
                                                 for a in (rows.indices, rows.indptr)))
        return Description(X.shape[0], X.shape[1], repr(("sparse", X.dtype.str)), content)
    if isinstance(X, torch.Tensor):  # only the sampled rows leave its device
        X = X.detach().reshape(-1) if X.ndim == 0 else X.detach()
        picked = sampled_rows(len(X), X[:1].numel() * X.element_size())
        rows = X.index_select(0, torch.as_tensor(picked, device=X.device)).cpu().numpy()
        layout = (tuple(X.shape[1:]), rows.dtype.str)
        return Description(len(X), int(np.prod(X.shape[1:])), repr(layout),
                           _sha256(str(len(X)), sampled_rows_digest(rows)))
    X = np.asarray(X)
    shape = X.shape if X.ndim else (1,)
    return Description(shape[0], int(np.prod(shape[1:])), repr((shape[1:], X.dtype.str)),
                       sampled_rows_digest(X, SAMPLED_BYTES))


def _canonical_rows(csr, picked: np.ndarray):
    """A copy of the rows ``picked`` of the CSR matrix ``csr`` in one form for one content:
    duplicates summed, indices sorted, no stored zeros."""
    rows = csr[picked]  # a copy: brought to that form in place without touching csr
    rows.sum_duplicates()  # also sorts each row's indices
    rows.eliminate_zeros()
    return rows


def _sha256(*parts) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part if isinstance(part, bytes) else str(part).encode())
        digest.update(b"\x1f")
    return digest.hexdigest()


def _code(text: str) -> int:
    """``text`` as a signed 64-bit number, which a collective can carry."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big", signed=True)


def check_same_data(**inputs) -> None:
    """Fail on every rank when the ranks were not given the same data (no-op alone).

    Every rank calls this at the start of a fit with the same names (``X=X, y=y``, in the
    same order), before any other collective of the fit. One ``all_gather`` of four
    numbers per input.

    Parameters
    ----------
    **inputs
        The fit's inputs by the names ``fit`` takes them (see :func:`describe`).

    Raises
    ------
    ValueError
        On every rank, when an input's rows, columns, layout or sampled content differ
        between ranks (or it could not be read on some of them), naming what differs and
        on which ranks.
    """
    rank, world = distributed.rank_info()
    if world == 1:
        return
    here = {name: describe(value) for name, value in inputs.items()}
    codes = torch.tensor([[d.rows, d.columns, _code(d.layout), _code(d.content)]
                          for d in here.values()], dtype=torch.int64)
    gathered = torch.stack(distributed.all_gather(codes))  # (world, inputs, 4)
    problems = []
    for i, name in enumerate(here):
        if bool((gathered[:, i] == gathered[0, i]).all()):
            continue
        if bool((gathered[:, i, 0] == UNREADABLE).all()):
            continue  # unreadable everywhere: the fit itself says why, on every rank
        problems.append(f"{name} {_difference(gathered[:, i].tolist())}")
        if here[name].rows == UNREADABLE:
            problems[-1] += f" (here, on rank {rank}: {here[name].content})"
    if problems:
        raise ValueError(
            f"the {world} torchrun processes were not given the same data: "
            f"{'; '.join(problems)}. Each trains on its share of every batch of its own copy: "
            "every process must read the same data (the same file on a shared file system, "
            "or copies that are byte for byte the same on every machine: compare their "
            "sha256sum) and pass fit the same arguments.")


def _difference(values: list[list[int]]) -> str:
    """In words, how one input's ``[rows, columns, layout, content]`` differ by rank."""
    rows, columns, layout, content = (list(v) for v in zip(*values))

    def by_rank(numbers) -> str:
        groups: dict[int, list[int]] = {}
        for r, v in enumerate(numbers):
            groups.setdefault(v, []).append(r)
        return ", ".join(f"{_count(v)} on rank{'s' * (len(g) > 1)} "
                         f"{', '.join(map(str, g))}" for v, g in groups.items())

    if len(set(rows)) > 1:
        return f"differs in rows: {by_rank(rows)}"
    if len(set(columns)) > 1:
        return f"differs in columns: {by_rank(columns)}"
    if len(set(layout)) > 1:
        return "differs in its column names, row shape or dtype"
    others = [str(r) for r, c in enumerate(content) if c != content[0]]
    return (f"differs in content: the rows sampled on rank{'s' * (len(others) > 1)} "
            f"{', '.join(others)} are not rank 0's (with the same rows and columns)")


def _count(value: int) -> str:
    if value == NOT_GIVEN:
        return "not given"
    if value == UNREADABLE:
        return "could not be read"
    return str(value)
