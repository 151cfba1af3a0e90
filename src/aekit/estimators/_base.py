"""The shared abstract base of the autoencoder estimators.

:class:`BaseAutoEncoder` owns everything the families share: input checks, the fit, chunked
inference and the transformer API (``transform``, ``inverse_transform``, ``reconstruct``,
``score_samples``). The fit is a short spine of small pieces: check the rows, start (the
fit's RNG and its :class:`~._recovery.FitCheckpoint`), prepare the data once
(:class:`FitData`: network-unit rows or a stream, hold-out, targets, weights, scaler), run
the restarts (``_fit_runs``), each one run and one loop (``_fit_run``). Checkpoints,
TensorBoard, early stopping, the schedule and the user's ``callbacks`` are callbacks
(:mod:`aekit.training.callbacks`) with fit, run and loop hooks. A family fills in a few hooks: the
module it trains (``_build_module``), what it minimises (``_objective``), and optionally a denoising
corruption (``_corruption``), a pretraining stage (``_pretrain``), rules that combine
parameters (``_check_params``) and a way to take images (``_takes_images``,
``_image_shape_of``). What the estimator takes as input is its fitted
:class:`~aekit.data.schema.InputSchema` (``schema_``, :class:`~._tables.InputMixin`).

:class:`SavableMixin` gives every estimator ``save``: the estimator describes itself (its
parameters, the fitted attributes it declares, its module's tensors) and :mod:`aekit.core.storage`
writes the files; :func:`aekit.load` rebuilds it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from numbers import Integral

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils import check_array, check_random_state
from sklearn.utils.validation import check_is_fitted

from ..core import distributed
from ..core.fitted import as_fitted
from ..training import losses
from ..core.checks import (
    Interval,
    SizeTuple,
    StrOptions,
    check_finite,
    check_weight,
    resolve_device,
    seeded_torch_rng,
    to_numpy,
    to_tensor,
    user_warning,
)
from ..training.callbacks import (
    Callback,
    RunHooks,
    TensorBoardRuns,
    check_callbacks,
    fit_hooks,
    restore_loop_state,
)
from ..data.agreement import check_same_data
from ..data.files import is_streamable, open_rows
from ..data.stream import ChunkStream, default_chunk_rows
from ..data.tables import is_table
from ..evaluation.diagnostics import warn_findings
from ..nn.layers import ACTIVATIONS, SCALERS, Scaler
from ..training.objectives import ContinuedEpochs, for_table
from ..training.sanity import check_kept_model
from . import _tables, _targets
from ._tables import INFER_BATCH
from ..training.loop import (
    FitInterrupted,
    TrainingDivergedError,
    autocast_dtype,
    fit_loop,
    infer,
    init_state,
    kept_record,
    make_optimizer,
)
from ._params import (loop_callbacks, stopping_idle_params, validate_params,
                      warn_idle_params)
from ._recovery import (
    FitCheckpoint,
    RestartDivergedWarning,
    array_fingerprint,
    fit_atomically,
    stream_fingerprint,
)
from ._saving import SavableMixin
from ._summary import SummaryMixin
from ._targets import (
    check_target,
    columns,
    continued_history,
    select,
    trained_epochs,
    warm_start_point,
    warn_unreachable_output,
)


@dataclass
class FitData:
    """What every run of one fit trains on, prepared once.

    ``train``: the training columns in network units on the device (``"x"``, and
    ``"x_in"``, ``"w"``, ``"mask"`` when given; see :func:`aekit.training.loop.fit_loop`), or
    a :class:`~aekit.data.stream.ChunkStream` of them; ``val``: the hold-out's columns (or
    rows), or None; ``scaler``: the fitted in-model scaler; ``samples``: a few raw rows on
    the device (TensorBoard); ``check``: raw rows for the diagnostics of ``verbose``.
    """

    train: dict | ChunkStream
    val: dict | torch.Tensor | None
    scaler: Scaler
    samples: torch.Tensor
    check: np.ndarray

    def inputs(self):
        """The input rows of ``train`` and ``val`` (what pretraining and noise look at)."""
        return tuple(c.get("x_in", c["x"]) if isinstance(c, dict) else c
                     for c in (self.train, self.val))

    def input_columns(self):
        """``train`` and ``val`` with their input rows as ``"x"``, the rows' weights and
        the mask of the input's imputed cells (``"mask"``, or ``"mask_in"`` beside a target
        of its own: see :func:`~._targets.columns`) kept: what pretraining reconstructs (a
        stream or bare rows as they are)."""
        return tuple({"x": c.get("x_in", c["x"]),
                      **{k: c[k] for k in ("w",) if k in c},
                      **{"mask": c[k] for k in ("mask_in", "mask") if k in c}}
                     if isinstance(c, dict) else c for c in (self.train, self.val))


@dataclass
class _Fit:
    """One fit's runs share this: the data, the fit-wide callbacks, the checkpoint (or
    None) and the ``warm_start`` model (or None)."""

    data: FitData
    callbacks: list
    checkpoint: FitCheckpoint | None
    warm: object

    def loop_callbacks(self, estimator, warmup: int = 0) -> list:
        """Fresh built-in callbacks for one loop (``warmup``: see
        :func:`._params.loop_callbacks`), then the fit-wide ones."""
        return loop_callbacks(estimator, warmup=warmup) + self.callbacks


class BaseAutoEncoder(
    SummaryMixin, _tables.InputMixin, _tables.ScaledUnitsMixin, SavableMixin,
    ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator, ABC
):
    """Shared base of :class:`~aekit.AutoEncoder` and :class:`~aekit.VariationalAutoEncoder`.

    Not for direct use: subclasses define ``__init__`` (every parameter below, plus their
    own) and the hooks. See :class:`~aekit.AutoEncoder` for the parameters' meaning.
    """

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "hidden_layer_sizes": [StrOptions({"auto"}), SizeTuple()],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "output_activation": [StrOptions({"auto", "sigmoid", "linear"})],
        "scaler": [StrOptions({s for s in SCALERS if s is not None}), None],
        "loss": [StrOptions(set(losses.RECONSTRUCTION_LOSSES))],
        "missing": [StrOptions({"error", "impute"})],
        "chunk_rows": [Interval(Integral, 1, None, closed="left"), None],
        # The training parameters' constraints come from their declaration (_params).
    }

    _network_params: tuple[str, ...] = (
        "n_components", "hidden_layer_sizes", "activation", "output_activation", "scaler",
        "missing",
    )
    """The parameters that define the fitted network: its layers, its in-model scaler and
    the inputs it takes. A ``warm_start`` fit continues that network, so it refuses a
    change to one of them (:class:`._targets.WarmStart`)."""

    _start_params: tuple[str, ...] = ("n_init",)
    """The parameters that act only on a network started from scratch (restarts, the
    initial weights, pretraining): a ``warm_start`` fit continuing a fitted one warns of
    those set since it was fitted (:class:`._targets.WarmStart`)."""

    # Fitted, non-tensor state written to config.json by save() (tensors go to safetensors).
    _saved_attributes = (
        "n_features_in_",
        "feature_names_in_",
        "output_activation_",
        "history_",
        "loss_",
        "validation_loss_",
        "n_iter_",
        "schema_",
    )

    # ------------------------------------------------------------------ hooks
    @abstractmethod
    def _build_module(self, n_features: int) -> torch.nn.Module:
        """A fresh, unfitted module for ``n_features`` inputs (used by ``fit`` and ``load``):
        a :class:`~aekit.nn.layers.ScaledAutoEncoder`."""

    @abstractmethod
    def _objective(self):
        """The objective the loop minimises (see :mod:`aekit.training.objectives`)."""

    def _check_params(self) -> None:
        """Rules that combine parameters (each parameter's own rule is a constraint)."""

    def _idle_params(self) -> dict[str, tuple[str, tuple | str]]:
        """The parameters that cannot act with the present value of another (their switch),
        each with the switch's name and the values it acts with (a tuple, or a condition as
        text: ``"> 0"``); ``fit`` warns of those set away from their default
        (:func:`._params.warn_idle_params`).

        Here: without a hidden layer (``hidden_layer_sizes=()``) there is no hidden
        activation, nor the dropout that follows it (a family without ``dropout`` is not
        warned of it: only parameters of the signature are). ``activation="linear"`` asks
        for the linear network it gets, so it is not warned of. Without early stopping and
        with a constant learning rate, ``patience`` and ``tol`` are read by nothing."""
        idle = stopping_idle_params(self)
        if self.hidden_layer_sizes == "auto" or len(self.hidden_layer_sizes):
            return idle
        names = ("dropout",) if self.activation == "linear" else ("activation", "dropout")
        return {**idle, **{name: ("hidden_layer_sizes", "holding a hidden layer")
                           for name in names}}

    def _for_data(self, objective):
        """``objective`` as the data fitted need it: per column type for a table with
        categorical columns, imputed cells left out with ``missing="impute"``
        (:func:`aekit.training.objectives.for_table`)."""
        if _tables.has_categories(self) or self.missing == "impute":
            return for_table(objective)
        return objective

    def _corruption(self, X_s: torch.Tensor, scaler: Scaler | None = None):
        """The denoising corruption of training batches like ``X_s``, or None."""
        return None

    def _warmup_epochs(self) -> int:
        """The first training epochs in which the objective is still ramping up to the one
        asked for (the VAE's KL warm-up): early stopping and the learning-rate schedule
        watch the epochs after them only."""
        return 0

    def _pretrain(self, module, X_fit_s, X_val_s, scaler, callbacks_for) -> list[dict]:
        """Train parts of ``module`` before the end-to-end loop; returns their history.
        ``X_fit_s``, ``X_val_s``: the training and hold-out input rows in network units, as
        columns (:meth:`FitData.input_columns`: with their weights and mask)."""
        return []

    def _hidden_sizes(self) -> tuple[int, ...]:
        if self.hidden_layer_sizes == "auto":
            k = self.n_components
            return (max(256, 4 * k), max(128, 2 * k))
        return tuple(self.hidden_layer_sizes)

    # ------------------------------------------------------------------ data
    def _to_tensor(self, X: np.ndarray) -> torch.Tensor:
        return to_tensor(X, self.device_)

    def _target(self, y, X: np.ndarray, sample_shape: tuple) -> np.ndarray | None:
        """The target ``y`` of validated rows ``X`` (:func:`._targets.check_target`)."""
        return check_target(y, (len(X), *sample_shape), X.shape[1], self.schema_)

    def _resolve_output_activation(self, X_scaled: torch.Tensor) -> str:
        if _tables.has_categories(self):  # category blocks are logits
            if self.output_activation == "sigmoid":
                raise ValueError(
                    "output_activation='sigmoid' cannot give a table's categorical columns "
                    "their logits; use output_activation='auto' (linear for tables with "
                    "categorical columns) or 'linear'."
                )
            return "linear"
        if self.output_activation != "auto":
            return self.output_activation
        in_unit = bool((X_scaled.min() >= 0) & (X_scaled.max() <= 1))
        return "sigmoid" if in_unit else "linear"

    def _set_output_activation(self, X_scaled: torch.Tensor, *, keep: bool = False) -> None:
        """Set ``output_activation_`` for training targets ``X_scaled`` (network units; any
        rows with the same minimum and maximum will do), check that ``loss`` suits them, and
        warn when a sigmoid output cannot reach them. ``keep``: a continued fit keeps the
        fitted one. Values the scaler cannot bring into float32's working range are a
        ValueError naming the columns (:func:`._tables.check_scaled`)."""
        _tables.check_scaled(X_scaled, self.scaler)
        if not keep:
            self.output_activation_ = self._resolve_output_activation(X_scaled)
        _tables.check_loss_fits_table(self)
        if self.loss == "bce" and (
            self.output_activation_ != "sigmoid" or X_scaled.min() < 0 or X_scaled.max() > 1
        ):
            raise ValueError(
                "loss='bce' needs scaled data in [0, 1] and a sigmoid output; use "
                "scaler='minmax' (or data already in [0, 1] with scaler=None) and "
                "output_activation='auto' or 'sigmoid', or use loss='mse'."
            )
        warn_unreachable_output(self, X_scaled)

    # ------------------------------------------------------------------ fit
    def fit(self, X, y=None, *, sample_weight=None, validation_data=None, resume=False):
        """Fit the scaler and the network on ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or a path / memmap (see Notes)
        y : None, 1-D labels (ignored, as a Pipeline passes them on), or X's shape
            A ``y`` of ``X``'s shape is the reconstruction target (denoising pairs:
            ``fit(X_noisy, X_clean)``; a DataFrame with ``X``'s columns in ``X``'s order;
            not for a table with categorical columns); otherwise the network
            reconstructs ``X``.
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights >= 0: the loss is the weighted mean over rows (the hold-out's too).
            The hold-out (``validation_fraction``) is drawn among the rows of positive
            weight: a row of weight 0 always trains, where it weighs nothing.
        validation_data : array-like, or tuple, default=None
            The caller's own hold-out, as Keras takes it: ``X_val``, ``(X_val, y_val)`` or
            ``(X_val, y_val, sample_weight_val)``; every row of ``X`` then trains.
        resume : bool, default=False
            Continue from the checkpoint in ``checkpoint_dir`` (see Notes) when there is
            one; the result is the one an uninterrupted fit gives. A checkpoint of other
            parameters or data is a ValueError; without one the fit starts afresh.

        Returns
        -------
        self : object

        Raises
        ------
        aekit.training.loop.FitInterrupted
            On Ctrl-C (SIGINT) or SIGTERM, at the end of the step under way. The estimator
            is left as it was; the exception's ``estimator`` is a fitted copy holding the
            best weights trained so far (None when no epoch finished).
        """
        validate_params(self)
        warn_idle_params(self)
        given = {"y": y, "sample_weight": sample_weight, "validation_data": validation_data}
        check_same_data(X=X, **given)  # under torchrun: every process was given the same
        return fit_atomically(self, BaseAutoEncoder._fit, X, given, resume,
                              warm_start_point(self))

    # The fit's spine: check the rows, start (RNG, checkpoint), prepare the data once
    # (FitData), then the runs (_fit_runs), each one loop (_fit_run).
    def _fit(self, X, given: dict, resume: bool, warm=None):
        """:meth:`fit`, on the working copy :func:`fit_atomically` gives; ``given``: the
        ``y``, ``sample_weight`` and ``validation_data`` passed to ``fit``; ``warm``: the
        fitted module, history and output activation a ``warm_start`` fit continues."""
        if is_streamable(X):  # a file or a memory map: read in chunks, never whole
            _targets.refuse_for_streams(given["y"], given["sample_weight"],
                                        given["validation_data"], warm)
            return self._fit_stream(X, resume)
        if warm is not None:  # before the rows: a changed parameter, not the data, is named
            warm.check(self)
        X, sample_shape, missing = self._check_rows(X, reset=True, warm=warm)
        Y = self._target(given["y"], X, sample_shape)
        w = check_weight(given["sample_weight"], X)
        # Checked before the checkpoint is read: its fingerprint holds the hold-out's hash.
        val = (None if given["validation_data"] is None
               else _targets.validation_rows(self, given["validation_data"]))
        self.device_ = resolve_device(self.device)
        # The data are hashed for a checkpoint's fingerprint only (checkpoint_dir set).
        rng, checkpoint = self._start(
            lambda: {**array_fingerprint(X), **_targets.fingerprints(Y, w, val),
                     **_targets.warm_fingerprint(warm)}, resume)
        rows = {"X": X, "Y": Y, "w": w, "missing": missing}
        data = self._prepare(rows, rng, val, warm)
        return self._fit_runs(data, rng, checkpoint, warm)

    def _start(self, data_fingerprint, resume: bool):
        """``(rng, checkpoint)``: the fit's NumPy RNG (one seed shared by every rank) and
        its :class:`FitCheckpoint` (None without ``checkpoint_dir``); resuming, the RNG
        is the checkpoint's."""
        rng = check_random_state(distributed.same_random_state(self.random_state))
        checkpoint, rng = FitCheckpoint.start(self, data_fingerprint, rng, resume)
        return rng, checkpoint

    def _prepare(self, rows: dict, rng, validation, warm) -> FitData:
        """The rows in memory (``rows``: ``X``, target ``Y``, weights ``w``, ``missing``
        cells) as the runs train on them: scaler, hold-out, network units; ``validation``:
        the checked ``validation_data`` (:func:`~._targets.validation_rows`) or None."""
        X = rows["X"]
        X_all = self._to_tensor(X)
        # The hold-out is drawn once, so restarts are compared on the same rows.
        order = rng.permutation(len(X))
        fraction = self.validation_fraction if validation is None else 0.0
        fit_rows, val_rows = (torch.from_numpy(r).to(self.device_)
                              for r in _targets.hold_out(order, rows["w"], fraction))
        # The scaler sees every row given to fit (the hold-out only watches for early
        # stopping), so it is the same for every restart and independent of the split.
        # A continued fit keeps its scaler: the weights work in its units.
        scaler = warm.module.scaler if warm is not None else (
            _tables.new_scaler(self, X_all.shape[1]).to(self.device_).fit(X_all))
        X_scaled = scaler(X_all)
        target = scaler(self._to_tensor(rows["Y"])) if rows["Y"] is not None else None
        self._set_output_activation(X_scaled if target is None else target,
                                    keep=warm is not None)
        # Imputed cells: masked out of the loss (objectives) where X is its own target.
        mask = (None if rows["missing"] is None
                else _tables.network_mask(scaler, rows["missing"], self.device_))
        cols = columns(X_scaled, target, rows["w"], mask)
        X_fit, X_val = select(cols, fit_rows), select(cols, val_rows)
        if validation is not None:
            X_val = _targets.validation_columns(self, validation, scaler)
        return FitData(X_fit, X_val if len(X_val["x"]) else None, scaler,
                       samples=X_all[torch.from_numpy(order[:8]).to(self.device_)], check=X)

    def _fit_stream(self, X, resume: bool = False):
        """:meth:`fit` on rows read from disk, ``chunk_rows`` at a time (see Notes)."""
        source = open_rows(X)
        self._check_stream(source, reset=True)
        self.device_ = resolve_device(self.device)
        rng, checkpoint = self._start(lambda: stream_fingerprint(source), resume)
        return self._fit_runs(self._prepare_stream(source, rng), rng, checkpoint, None)

    def _prepare_stream(self, source, rng) -> FitData:
        """A file's rows as the runs train on them: the scaler and hold-out from one pass
        in file order, then a :class:`ChunkStream` that reads and scales each epoch."""
        n, chunk_rows = source.n_rows, self.chunk_rows or default_chunk_rows(source.n_features)
        # The hold-out: a fixed random subset of at most chunk_rows rows, kept in memory.
        n_val = min(int(self.validation_fraction * n), chunk_rows)
        if n_val < 1 or n - n_val < 1:
            n_val = 0
        draw = np.random.default_rng(rng.randint(np.iinfo(np.int32).max))
        val_rows = np.sort(draw.choice(n, n_val, replace=False))  # O(n_val), not O(n)
        held, head = [], []

        def checked_chunks():
            # One pass in file order: finiteness, scaler statistics, the hold-out rows.
            for c in source.scan(chunk_rows):
                check_finite(c.rows, c.file, first_row=c.file_row)
                lo, hi = np.searchsorted(val_rows, (c.start, c.start + len(c.rows)))
                held.append(c.rows[val_rows[lo:hi] - c.start])
                if sum(map(len, head)) < 8:  # a copy: a view would keep the chunk alive
                    head.append(c.rows[: 8 - sum(map(len, head))].copy())
                yield torch.from_numpy(c.rows).to(self.device_)
                del c  # freed before the next chunk is read

        scaler = _tables.column_scaler(self, source.n_features).to(self.device_)
        bounds = scaler.fit_chunks(checked_chunks())
        self._set_output_activation(bounds)
        X_val, X_sample = np.concatenate(held), np.concatenate(head)
        del held[:]
        X_val_s = scaler(self._to_tensor(X_val)) if n_val else None
        # Under several processes every rank reads every chunk (rank and world_size stay
        # 0 and 1): fit_loop splits each batch between the ranks, as for rows in memory.
        stream = ChunkStream(
            source, chunk_rows, transform=scaler, device=self.device_, exclude=val_rows,
            seed=int(rng.randint(np.iinfo(np.int32).max)), bounds=bounds,
        )
        # Diagnostics (verbose) look at the hold-out: the rows in memory.
        X_check = X_val if n_val and self.verbose else X_sample
        del X_val
        return FitData(stream, X_val_s, scaler, samples=self._to_tensor(X_sample),
                       check=X_check)

    def _fit_runs(self, data: FitData, rng, checkpoint, warm):
        """Train ``n_init`` runs (restarts) on ``data`` and keep the best; ``warm``: the
        fitted model a ``warm_start`` fit continues (one run). A run that diverges is
        reported (:class:`RestartDivergedWarning`) and skipped; the fit fails only when
        every run diverges."""
        n_init = 1 if warm is not None else self.n_init
        seeds = rng.randint(np.iinfo(np.int32).max, size=n_init)
        fit = _Fit(data, self._fit_callbacks(data, checkpoint), checkpoint, warm)
        best, diverged, first = None, [], 0
        if checkpoint is not None and checkpoint.point is not None:
            first, best = checkpoint.first_restart, self._saved_best(checkpoint.point)
        with fit_hooks(fit.callbacks, self):
            for i in range(first, n_init):
                try:
                    run = self._fit_run(fit, i, int(seeds[i]))
                except TrainingDivergedError as err:
                    # n_init, not self.n_init: a warm_start fit is one run, whatever n_init
                    # says, and its divergence is that run's own error, not "all restarts".
                    if n_init == 1:
                        raise
                    diverged.append(err)
                    user_warning(f"restart {i + 1} of {n_init} diverged and is "
                                 f"skipped: {err}", RestartDivergedWarning)
                    continue
                except FitInterrupted as err:
                    runs = [r for r in (best, getattr(err, "run", None)) if r is not None]
                    if runs:  # the best weights trained so far, in this working copy
                        self._keep_run(min(runs, key=lambda r: r["score"]))
                        err.estimator = self
                    raise
                if best is None or run["score"] < best["score"]:
                    best = run
            if best is None:
                raise TrainingDivergedError(f"all {n_init} restarts diverged; the "
                                            f"first: {diverged[0]}") from diverged[0]
            if warm is not None:  # the earlier epochs come first, the new ones counted on
                best["history"] = continued_history(warm.history, best["history"])
            self._keep_run(best)
            check_kept_model(self, data.check)  # finite garbage: diverged all the same
            if self.verbose:
                warn_findings(self, data.check)
        return self

    def _fit_callbacks(self, data: FitData, checkpoint) -> list[Callback]:
        """The callbacks of the whole fit, called after each loop's own (early stopping,
        schedule, progress): TensorBoard (``log_dir``), the user's, the checkpoint."""
        callbacks: list[Callback] = []
        if self.log_dir is not None and distributed.is_main():  # one writer per run
            callbacks.append(TensorBoardRuns(self.log_dir, data.samples, self.n_init,
                                             image_shape=self.schema_.image_shape))
        callbacks += check_callbacks(self.callbacks)
        return callbacks + ([checkpoint] if checkpoint is not None else [])

    def _fit_run(self, fit: _Fit, run: int, seed: int) -> dict:
        """Run ``run``: build (or take the warm) module, pretrain, train one loop; returns
        its module, history, kept record and score. Resuming within this run, it starts
        from the checkpoint's loop state instead of pretraining."""
        point = fit.checkpoint.resume_point(run) if fit.checkpoint is not None else None
        with seeded_torch_rng(self.device_, seed):
            if fit.warm is not None:
                module = fit.warm.module.to(self.device_)
            else:
                module = self._build_module(self.n_features_in_).to(self.device_)
                module.scaler.load_state_dict(fit.data.scaler.state_dict())
            with RunHooks(fit.callbacks, self, run, module) as hooks:
                rows, _ = fit.data.inputs()  # noise looks at them
                if fit.warm is not None:
                    history = []
                elif point is None:
                    history = self._pretrain(module, *fit.data.input_columns(),
                                             fit.data.scaler,
                                             lambda phase: fit.loop_callbacks(self))
                else:  # pretrained weights are in the checkpoint's module
                    history = list(point.pretrain_history)
                state = init_state(module, make_optimizer(
                    self.optimizer, module.parameters(), self.learning_rate,
                    self.weight_decay))
                state["pretrain_history"] = history  # for TensorBoard and checkpoints
                if point is not None:
                    restore_loop_state(state, point.loop_meta, point.loop_tensors)
                try:
                    self._train_loop(state, fit, rows)
                except FitInterrupted as err:  # what the run kept so far: a partial model
                    err.run = self._run(module, history + state["history"])
                    raise
                hooks.result = self._run(module, history + state["history"])
        return hooks.result

    def _train_loop(self, state: dict, fit: _Fit, rows) -> None:
        """The run's main loop on ``fit``'s data (``rows``: its input rows, for noise)."""
        # A stream's per-feature range stands in for its rows: all noise needs.
        train = fit.data.train
        noise_rows = train.bounds if isinstance(train, ChunkStream) else rows
        objective, done = self._objective(), 0
        if fit.warm is not None:  # a schedule (the KL warm-up) goes on from the epochs done
            done = trained_epochs(fit.warm.history)
            objective = ContinuedEpochs(objective, done)
        fit_loop(state, objective, train, fit.data.val,
                 batch_size=self.batch_size, max_epochs=self.max_epochs,
                 corrupt=self._corruption(noise_rows, fit.data.scaler),
                 autocast=autocast_dtype(self.precision, self.device_),
                 callbacks=fit.loop_callbacks(self, max(0, self._warmup_epochs() - done)))

    def _keep_run(self, run: dict) -> None:
        """Take a restart's module and history as the fitted model; its losses are those
        of the kept epoch, whose weights the module holds."""
        self.module_ = run["module"]
        self.history_ = run["history"]
        self.loss_ = run["kept"]["loss"]
        self.validation_loss_ = run["kept"]["val_loss"]
        self.n_iter_ = sum(r["phase"] == "train" for r in self.history_)

    def _saved_best(self, point) -> dict | None:
        """The best finished restart a checkpoint holds, as a run dict, or None."""
        if point.best is None:
            return None
        with seeded_torch_rng(self.device_, 0):  # building draws weights: not the caller's RNG
            module = self._build_module(self.n_features_in_).to(self.device_)
        module.load_state_dict({k: v.to(self.device_) for k, v in point.best["state"].items()})
        history = point.best["history"]
        return {"module": module.eval(), "history": history, "kept": kept_record(history),
                "score": point.best["score"]}

    @staticmethod
    def _run(module, history: list[dict]) -> dict | None:
        """A restart's result: module, history, kept record, score (None: nothing kept)."""
        kept = kept_record(history)
        if kept is None:
            return None
        score = kept["val_loss"] if kept["val_loss"] is not None else kept["loss"]
        return {"module": module.eval(), "history": history, "kept": kept, "score": score}

    # ------------------------------------------------------------------ inference
    def transform(self, X):
        """Encode rows into codes.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or a path / memmap

        Returns
        -------
        Z : ndarray of shape (n_samples, n_components)
        """
        if is_streamable(X):  # a file or memory map, read chunk by chunk (see Notes)
            return np.concatenate(list(self.map_chunks(X, self.transform)))
        check_is_fitted(self)
        X = self._check_X(X, reset=False)
        Z = infer(self.module_.encode, self._to_tensor(X), INFER_BATCH)
        return to_numpy(Z, X)

    def map_chunks(self, X, method, chunk_rows: int | None = None) -> Iterator[np.ndarray]:
        """``method`` (e.g. ``self.transform``) of the rows of a file, memmap or RowSource
        ``X``, one chunk of ``chunk_rows`` rows at a time (default: ``self.chunk_rows``),
        in file order."""
        check_is_fitted(self)
        source = open_rows(X)
        self._check_stream(source, reset=False)
        chunk_rows = chunk_rows or self.chunk_rows or default_chunk_rows(source.n_features)
        for c in source.scan(chunk_rows):
            check_finite(c.rows, c.file, first_row=c.file_row)  # names the row in the file
            yield method(self.schema_.stream_chunk(c.rows, source, c.start))

    def inverse_transform(self, X):
        """Decode codes into rows in the caller's units (scaling inverted).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_components)
            Codes, as returned by :meth:`transform`.

        Returns
        -------
        X_original : ndarray of shape (n_samples, n_features_in_)
            Or images (n_samples, *input_shape_) when ``fit`` was given images, or a
            DataFrame with the columns, dtypes and categories of the one ``fit`` was given.
        """
        check_is_fitted(self)
        Z = check_array(X, dtype=[np.float64, np.float32], ensure_all_finite=False)
        check_finite(Z, "codes")
        k = self._n_features_out
        if Z.shape[1] != k:
            raise ValueError(
                f"inverse_transform expects codes with {k} columns (n_components as "
                f"fitted), got {Z.shape[1]}; pass the output of transform()."
            )
        X_hat = infer(self.module_.decode, self._to_tensor(Z), INFER_BATCH)
        return self._output(to_numpy(X_hat, Z), getattr(X, "index", None))

    def _output(self, X_hat: np.ndarray, index=None):
        """Rows in the caller's units, as the caller gave them to ``fit``: images, rows, or a
        DataFrame of the fitted table's columns, dtypes and categories."""
        return self.schema_.output(X_hat, index)

    def _reconstruct_tensor(self, X: torch.Tensor) -> torch.Tensor:
        module = self.module_
        return infer(lambda x: module.decode(module.encode(x), like=x), X, INFER_BATCH)

    def reconstruct(self, X):
        """``decode(encode(X))`` in the caller's units.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or a path / memmap

        Returns
        -------
        X_hat : ndarray of shape (n_samples, n_features), or DataFrame
            In the layout of ``X``: images when given images (conv). When ``fit`` was given
            a DataFrame: a DataFrame with its columns and dtypes (``X``'s index), each
            categorical column holding its most probable category and each imputed number
            (``missing="impute"``) the model's value for it.
        """
        if is_streamable(X):  # read chunk by chunk; the result is as large as X
            return np.concatenate(list(self.map_chunks(X, self.reconstruct)))
        check_is_fitted(self)
        index = getattr(X, "index", None) if is_table(X) else None
        X, sample_shape = self._check_X(X, reset=False, return_shape=True)
        X_hat = to_numpy(self._reconstruct_tensor(self._to_tensor(X)), X)
        return self.schema_.output(X_hat, index, sample_shape)

    @property
    def _n_features_out(self) -> int:
        # The codes' width is the fitted model's, whatever set_params changed since.
        return as_fitted(self).n_components

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        tags.input_tags.sparse = True  # made dense once (see _tables)
        tags.non_deterministic = False
        return tags
