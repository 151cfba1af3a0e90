"""The :class:`Finding` that every check of :func:`aekit.diagnose` returns, the
:class:`Diagnosis` that holds them, and the small formatting helpers the checks share. A
leaf of evaluation: the checks (:mod:`aekit.evaluation.quality`, :mod:`aekit.evaluation.units`,
:mod:`aekit.evaluation.diagnostics`) import it."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..training.loop import DEFAULT_LEARNING_RATES

SEVERITIES = ("info", "warning", "error")
"""From least to most serious. ``fit(verbose=...)`` warns about ``warning`` and ``error``."""


@dataclass(frozen=True)
class Finding:
    """One problem seen in a fitted model or its data.

    Attributes
    ----------
    kind : str
        ``"dead_units"``, ``"saturated_units"``, ``"collapsed_code"``,
        ``"posterior_collapse"``, ``"badly_scaled_input"``, ``"overfitting"`` or
        ``"not_converged"``.
    severity : {"info", "warning", "error"}
    what_was_seen : str
        The evidence, with numbers.
    what_to_do : str
        The remedy, naming the parameters to change.
    details : dict
        The numbers behind the sentence (fractions, layer names, indices), for programs.
    """

    kind: str
    severity: str
    what_was_seen: str
    what_to_do: str
    details: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "severity": self.severity,
            "what_was_seen": self.what_was_seen,
            "what_to_do": self.what_to_do,
            "details": _plain(self.details),
        }

    def __str__(self) -> str:
        return f"[{self.severity}] {self.kind}: {self.what_was_seen}\n    -> {self.what_to_do}"


def _list(idx, k: int = 8) -> str:
    idx = list(map(int, idx))
    return ", ".join(map(str, idx[:k])) + (", ..." if len(idx) > k else "")


def _learning_rate(estimator) -> str:
    """The step size the estimator trained with, as text (``learning_rate=None`` is the
    optimizer's default)."""
    lr = getattr(estimator, "learning_rate", None)
    if lr is None:
        lr = DEFAULT_LEARNING_RATES.get(getattr(estimator, "optimizer", None))
    return "?" if lr is None else f"{lr:g}"


def json_ready(value):
    """``value`` with NumPy scalars made Python numbers and NaN or infinite floats made
    None, so that ``json.dumps(..., allow_nan=False)`` writes JSON (which has no NaN)."""
    return _plain(value)


def _plain(value):
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class DiagnosticWarning(UserWarning):
    """Issued by ``fit`` (with ``verbose``) for each serious :class:`Finding`."""


class Diagnosis(Sequence):
    """The findings of :func:`diagnose`, most serious first; a sequence of :class:`Finding`.

    Prints as a readable list; empty (and falsy) when nothing was found.
    """

    def __init__(self, findings: Sequence[Finding], n_rows: int):
        rank = {s: i for i, s in enumerate(SEVERITIES)}
        self.findings = sorted(findings, key=lambda f: -rank[f.severity])
        self.n_rows = n_rows

    def __getitem__(self, i):
        return self.findings[i]

    def __len__(self) -> int:
        return len(self.findings)

    def __iter__(self) -> Iterator[Finding]:
        return iter(self.findings)

    @property
    def kinds(self) -> list[str]:
        """The ``kind`` of each finding, in order."""
        return [f.kind for f in self.findings]

    def get(self, kind: str) -> Finding | None:
        """The finding of ``kind``, or None."""
        return next((f for f in self.findings if f.kind == kind), None)

    def to_dict(self) -> dict:
        return {"n_rows": self.n_rows, "findings": [f.to_dict() for f in self.findings]}

    def __str__(self) -> str:
        if not self.findings:
            return f"No problems found (checked on {self.n_rows} rows)."
        head = f"{len(self.findings)} finding(s) on {self.n_rows} rows:"
        return "\n".join([head, *(str(f) for f in self.findings)])

    def __repr__(self) -> str:
        return f"Diagnosis({self.kinds!r}, n_rows={self.n_rows})"
