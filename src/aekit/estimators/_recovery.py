"""How an estimator's fit survives faults: fits that change nothing unless they succeed,
and checkpoints a fit resumes from.

:func:`fit_atomically` runs a fit on a working copy and hands its fitted attributes over
only at the end, so a fit that fails (bad data, divergence, Ctrl-C) leaves the estimator as
it was.

A fit with ``checkpoint_dir`` writes a checkpoint after every epoch of its main loop
(:class:`FitCheckpoint`, a :class:`aekit.training.callbacks.Checkpoint` among the fit's
callbacks): the loop state, plus what is needed around the loop,
the *context*: the fit's fingerprint (class, parameters, data), the NumPy RNG state the fit
started from (it decides the hold-out, the restarts' seeds and the shuffles of a stream),
the restart under way with its pretraining history, and the best finished restart.

``fit(X, resume=True)`` reads it back: a checkpoint of the same fingerprint continues from
its last finished epoch and ends exactly where an uninterrupted fit ends (same seed, same
device: every random draw comes from restored RNG states); another fit's checkpoint is a
ValueError that names what differs; no checkpoint starts afresh. The data are hashed
(:func:`array_fingerprint`) only then: a fit without ``checkpoint_dir`` never reads them for it.
"""

from __future__ import annotations

import copy
import json
import numbers
import os
from dataclasses import dataclass

import numpy as np
import torch

from ..core.storage import jsonable
from ..data.fingerprints import sha256_rows
from ..core.fitted import record
from ..training.callbacks import Checkpoint, read_checkpoint, remove_checkpoint
from ..training.loop import autocast_dtype


class RestartDivergedWarning(UserWarning):
    """One of ``n_init`` restarts diverged and was skipped; the fit kept the others."""


def fitted_attributes(estimator) -> list[str]:
    """Names of ``estimator``'s fitted attributes (scikit-learn's convention: a trailing
    underscore)."""
    return [k for k in vars(estimator) if k.endswith("_") and not k.startswith("__")]


def fit_atomically(estimator, fit, *args, **kwargs):
    """Run ``fit(work, *args, **kwargs)`` on a working copy of ``estimator`` and give
    ``estimator`` the copy's fitted attributes only when it returns.

    A fit that raises (bad data, divergence, Ctrl-C) therefore leaves a fitted estimator
    exactly as it was and a fresh one unfitted. The copy is shallow: parameters (a
    RandomState given as ``random_state``) are shared, as in a plain fit. A
    :class:`~aekit.training.loop.FitInterrupted` goes on with the copy's partial fit as its
    ``estimator`` (set by the fit). The copy records the parameters it is fitted with
    (``fitted_params_``), which the fitted estimator then computes with
    (:func:`aekit.core.fitted.as_fitted`) whatever ``set_params`` changes later.
    """
    work = copy.copy(estimator)
    for key in fitted_attributes(work):
        delattr(work, key)
    record(work)
    fit(work, *args, **kwargs)
    for key in fitted_attributes(estimator):
        delattr(estimator, key)
    for key in fitted_attributes(work):
        setattr(estimator, key, getattr(work, key))
    return estimator


IGNORED = ("verbose", "log_dir", "checkpoint_dir", "callbacks")
"""Parameters that do not change what a fit computes, left out of its fingerprint."""


def array_fingerprint(X: np.ndarray) -> dict:
    """Shape, dtype and SHA-256 of the rows a fit is given."""
    return {"shape": list(X.shape), "dtype": str(X.dtype), "sha256": sha256_rows(X)}


def stream_fingerprint(source) -> dict:
    """Rows, shape and what tells each part of a :class:`~aekit.data.files.RowSource`
    from other rows (:meth:`~aekit.data.files.RowSource.identities`): the stamp (size,
    modification time, inode) of a file and a digest of blocks sampled from it, as reading
    it all again would cost a pass, with the place of a memory map's rows in it; the
    SHA-256 of rows in memory."""
    return {"rows": source.n_rows, "sample_shape": list(source.sample_shape),
            "files": source.identities()}


def fingerprint(estimator, data: dict) -> dict:
    """What a checkpoint must share with a fit to be resumed by it (JSON types)."""
    params = {k: v for k, v in estimator.get_params(deep=False).items() if k not in IGNORED}
    if not isinstance(params.get("random_state"), numbers.Integral):
        params["random_state"] = None  # unseeded: the checkpoint's RNG state decides
    # precision="auto" resolves by device (bfloat16 only where native): the arithmetic
    # the loop runs in, not the parameter, decides where the fit ends.
    arithmetic = autocast_dtype(estimator.precision, estimator.device_) or torch.float32
    found = {"class": type(estimator).__name__, "params": jsonable(params), "data": data,
             "device": estimator.device_.type, "arithmetic": str(arithmetic)[len("torch."):]}
    return json.loads(json.dumps(found))


DATA_NAMES = {"y": "y", "w": "sample_weight", "validation_data": "validation_data",
              "warm_start": "the fitted model warm_start continues"}
"""The fingerprint's data fields named as ``fit`` takes them; any other field is of ``X``."""


def _data_differences(saved, current: dict) -> str:
    """``"the data (X, sample_weight)"``: which of what ``fit`` was given changed."""
    saved = saved if isinstance(saved, dict) else {}
    keys = sorted(set(saved) | set(current))
    names = {DATA_NAMES.get(k, "X") for k in keys if saved.get(k) != current.get(k)}
    order = ["X", *DATA_NAMES.values()]
    return f"the data ({', '.join(n for n in order if n in names)})"


def _differences(saved, current: dict) -> list[str]:
    if not isinstance(saved, dict):
        return ["it has no fingerprint"]
    out = []
    for part in ("class", "device", "arithmetic"):
        if saved.get(part) != current[part]:
            out.append(f"{part} {saved.get(part)!r} (now {current[part]!r})")
    if out and out[-1].startswith("arithmetic") and current["params"].get(
            "precision") == "auto":
        out[-1] += (": precision='auto' takes bfloat16 only where this hardware has it "
                    "natively; resume where the fit began")
    if saved.get("data") != current["data"]:
        out.append(_data_differences(saved.get("data"), current["data"]))
    params = saved.get("params") if isinstance(saved.get("params"), dict) else {}
    for key, value in current["params"].items():
        if params.get(key, "<absent>") != value:
            out.append(f"{key}={params.get(key, '<absent>')!r} (now {value!r})")
    return out


def _rng_to_json(state) -> list:
    name, keys, pos, has_gauss, cached = state
    return [name, np.asarray(keys).tolist(), int(pos), int(has_gauss), float(cached)]


def _rng_from_json(saved) -> np.random.RandomState:
    name, keys, pos, has_gauss, cached = saved
    rng = np.random.RandomState()
    rng.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
    return rng


@dataclass
class ResumePoint:
    """Where a resumed fit starts: restart ``restart``, its loop state after its last
    finished epoch, its pretraining history, and the best finished restart before it
    (``best``: ``history``, ``score``, ``state`` (module tensors)) if any."""

    restart: int
    loop_meta: dict
    loop_tensors: dict
    pretrain_history: list
    best: dict | None


class FitCheckpoint(Checkpoint):
    """The checkpoints of one estimator fit, a callback: after every epoch of a run's main
    loop (phase ``"train"``) it writes the loop state and the fit's context (fingerprint,
    RNG state, run under way, its pretraining history, the best finished run).

    Made by :meth:`start`, which also reads the point a resumed fit starts from.
    """

    def __init__(self, directory, fingerprint: dict, rng_state: list):
        super().__init__(directory, phases=("train",))  # pretraining is redone on resume
        self.fingerprint = fingerprint
        self.rng_state = rng_state
        self.point: ResumePoint | None = None
        self.run = 0
        self.best: dict | None = None  # the best finished run: history, score, state

    @classmethod
    def start(cls, estimator, data, rng: np.random.RandomState, resume: bool):
        """``(checkpoint or None, rng)`` for a fit of ``estimator``; ``data()`` gives the
        fingerprint of its data (:func:`array_fingerprint` or :func:`stream_fingerprint`),
        called only when ``checkpoint_dir`` is set.

        ``rng`` is the fit's NumPy RNG before any draw; resuming returns one in the
        checkpoint's saved state instead. A fresh fit removes a checkpoint left in the
        directory, so it can never be resumed by mistake later.
        """
        directory = estimator.checkpoint_dir
        if directory is None:
            if resume:
                raise ValueError("fit(resume=True) needs checkpoint_dir: the directory the "
                                 "interrupted fit wrote its checkpoints to")
            return None, rng
        current = fingerprint(estimator, data())
        found = read_checkpoint(directory) if resume else None
        if found is None:
            remove_checkpoint(directory)  # rank 0 only
            return cls(directory, current, _rng_to_json(rng.get_state())), rng
        meta, tensors = found
        where = os.path.join(os.fspath(directory), "checkpoint.json")
        differs = _differences(meta.get("fingerprint"), current)
        if differs:
            raise ValueError(
                f"{where} is the checkpoint of another fit (it differs in "
                f"{', '.join(differs)}); resume with the same parameters and data, or fit "
                "without resume to start afresh (the checkpoint is then replaced)"
            )
        try:
            rng = _rng_from_json(meta["rng"])
            point = ResumePoint(
                restart=int(meta["restart"]), loop_meta=meta["loop"],
                loop_tensors={k: v for k, v in tensors.items() if not k.startswith("restart.")},
                pretrain_history=list(meta["pretrain_history"]),
                best=None if meta["best"] is None else {
                    "history": meta["best"]["history"], "score": float(meta["best"]["score"]),
                    "state": {k[len("restart."):]: v for k, v in tensors.items()
                              if k.startswith("restart.")}},
            )
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(f"{where} is damaged ({type(err).__name__}: {err}); fit "
                             "without resume to start afresh") from None
        if not 0 <= point.restart < estimator.n_init:
            raise ValueError(f"{where}: field 'restart' is {point.restart}, not a restart of "
                             f"n_init={estimator.n_init}")
        checkpoint = cls(directory, current, meta["rng"])
        checkpoint.point = point
        checkpoint.best = point.best
        return checkpoint, rng

    def on_run_begin(self, estimator, run: int, module) -> None:
        self.run = run

    def on_run_end(self, estimator, run: int, result: dict | None) -> None:
        if result is not None and (self.best is None or result["score"] < self.best["score"]):
            self.best = {"history": result["history"], "score": result["score"],
                         "state": result["module"].state_dict()}

    def context(self, state: dict) -> tuple[dict, dict]:
        """``(JSON fields, tensors)`` written with each checkpoint of the run under way."""
        best = self.best
        meta = {"fingerprint": self.fingerprint, "rng": self.rng_state, "restart": self.run,
                "pretrain_history": state.get("pretrain_history", []),
                "best": None if best is None else {"history": best["history"],
                                                   "score": best["score"]}}
        tensors = {} if best is None else {f"restart.{k}": v for k, v in best["state"].items()}
        return meta, tensors

    def resume_point(self, restart: int) -> ResumePoint | None:
        """The saved point if the fit resumes within restart ``restart``, else None."""
        return self.point if self.point is not None and self.point.restart == restart else None

    @property
    def first_restart(self) -> int:
        return self.point.restart if self.point is not None else 0

