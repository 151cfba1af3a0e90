"""The one fit loop: draw batch, corrupt, forward and loss, backward, step, log, evaluate, stop.

Everything a family needs reaches the loop as an ``objective`` (:mod:`aekit.training.objectives`)
and a ``corrupt`` callable, and every optional behaviour (early stopping, a progress bar,
TensorBoard) as a callback (:mod:`aekit.training.callbacks`), so the loop never branches on model
kinds. Its whole state is one plain dict (:func:`init_state`): module, optimizer, epoch,
history, the best weights and the epoch they come from.

Data arrive preloaded as tensors on the training device, or, when larger than memory, as a
:class:`ChunkedRows` stream of such tensors one chunk at a time; either way a batch is an
index gather, never a NumPy conversion.
"""

from __future__ import annotations

import contextlib
import math
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Protocol

import torch
from torch import nn

from ..core import compat, distributed
from ..nn.invariant import ALIGN

Objective = Callable[[nn.Module, dict, "int | None"], Mapping[str, torch.Tensor]]
"""``objective(module, batch, epoch) -> {"loss": scalar, other named scalars...}``; see
:mod:`aekit.training.objectives`."""

Corruption = Callable[[torch.Tensor], torch.Tensor]


class ChunkedRows(Protocol):
    """Training rows too large for memory, handed to :func:`fit_loop` one chunk at a time.

    Implemented by :class:`aekit.data.stream.ChunkStream`.
    """

    def epoch_chunks(self, epoch: int) -> Iterator[torch.Tensor]:
        """The chunks of epoch ``epoch`` (1-based), each (n_i, ...) in network units on the
        training device; together every training row once, in an order of the epoch's."""
        ...


OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop", "adadelta")


PRECISIONS = ("auto", "float32", "bfloat16")


def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` multiplies bfloat16 matrices in hardware.

    CUDA GPUs from Ampere on (compute capability 8.0); CPUs with AMX tiles or AVX512-BF16
    (oneDNN uses them). On other CPUs and older GPUs bfloat16 is emulated and slower than
    float32.
    """
    if device.type == "cuda":
        if torch.version.hip:  # ROCm: torch's own answer (its capability is no CUDA one)
            return torch.cuda.is_bf16_supported()
        # Not torch.cuda.is_bf16_supported(): it also says True where CUDA only emulates
        # bfloat16 (a T4 or V100), and asks the current GPU, not necessarily ``device``.
        return torch.cuda.get_device_capability(device)[0] >= 8
    if device.type == "cpu":
        return compat.cpu_has_native_bf16()  # torch's probes are private
    return False


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The dtype training autocasts matrix products to, or None for plain float32.

    ``"auto"`` is bfloat16 where the hardware has it (see :func:`native_bf16`), else
    float32; weights, optimizer state and losses stay float32 either way.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision={precision!r} is not supported; use one of {PRECISIONS}")
    if precision == "bfloat16" or (precision == "auto" and native_bf16(device)):
        return torch.bfloat16
    return None


class TrainingDivergedError(FloatingPointError):
    """The loss became NaN or infinite; the model was restored to its last good state."""


DEFAULT_LEARNING_RATES = {"adam": 1e-3, "adamw": 1e-3, "sgd": 1e-3, "rmsprop": 1e-2,
                          "adadelta": 1.0}
"""The step size ``learning_rate=None`` gives each optimizer: PyTorch's own default (Keras'
too, for Adam and the classic Adadelta), so a port of a script that left it unset trains
as the original did. Adadelta's 1.0 is no typo: its steps are rescaled by running RMS
ratios, and 1e-3 would leave a network untrained."""


def resolve_learning_rate(name: str, learning_rate: float | None) -> float:
    """``learning_rate``, or optimizer ``name``'s default (:data:`DEFAULT_LEARNING_RATES`)
    when it is None."""
    if name not in DEFAULT_LEARNING_RATES:
        raise ValueError(f"optimizer={name!r} is not supported; use one of {OPTIMIZERS}")
    return DEFAULT_LEARNING_RATES[name] if learning_rate is None else float(learning_rate)


class FitInterrupted(KeyboardInterrupt):
    """Training was stopped by SIGINT (Ctrl-C) or SIGTERM, at the end of a step.

    A :class:`KeyboardInterrupt`, so code that does not know it stops as on Ctrl-C. When
    raised by :func:`fit_loop`, the module already holds the kept weights (early stopping's
    best, else those of the last finished epoch). An estimator's ``fit`` re-raises it with
    :attr:`estimator` set.

    Attributes
    ----------
    signum : int
        The signal received (``signal.SIGINT`` or ``signal.SIGTERM``).
    estimator : object or None
        Set by the estimators: a fitted copy holding the best weights trained so far (the
        estimator ``fit`` was called on is left as it was), or None when no epoch finished.
    """

    def __init__(self, signum: int, message: str = ""):
        super().__init__(message or f"training stopped by {signal.Signals(signum).name}")
        self.signum = signum
        self.estimator = None


STOP_SIGNALS = ("SIGINT", "SIGTERM")
"""Signals that :func:`fit_loop` defers to the end of the current step (then raises
:class:`FitInterrupted`), while their handler is Python's default."""


class _StopRequests:
    """Catch :data:`STOP_SIGNALS` while a loop runs; the loop reads :attr:`signum`.

    Only in the main thread (where Python delivers signals), and only for signals whose
    handler is the default one: a handler someone else installed stays in charge. A second
    Ctrl-C while one is pending raises KeyboardInterrupt at once.
    """

    def __init__(self):
        self.signum: int | None = None
        self._previous: dict = {}

    def _handle(self, signum, frame) -> None:
        if self.signum == signal.SIGINT and signum == signal.SIGINT:
            raise KeyboardInterrupt  # asked twice: stop now, not at the end of the step
        self.signum = signum

    def __enter__(self) -> _StopRequests:
        if threading.current_thread() is not threading.main_thread():
            return self
        defaults = {"SIGINT": signal.default_int_handler, "SIGTERM": signal.SIG_DFL}
        for name in STOP_SIGNALS:
            sig = getattr(signal, name, None)
            if sig is not None and signal.getsignal(sig) is defaults[name]:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()


def epochs_for_steps(max_epochs, steps: int, n_rows: int, batch_size: int) -> int:
    """``max_epochs`` itself, or for ``"auto"`` the epochs of ``batch_size`` rows that make
    at least ``steps`` optimizer steps over ``n_rows`` rows (at least one): how the
    semi-supervised estimators size a fit by its steps, whatever the number of rows."""
    if max_epochs != "auto":
        return max_epochs
    return max(1, math.ceil(steps / math.ceil(n_rows / batch_size)))


def make_optimizer(
    name: str, params, learning_rate: float | None = None, weight_decay: float = 0.0
) -> torch.optim.Optimizer:
    """Build the optimizer ``name`` (one of :data:`OPTIMIZERS`).

    ``learning_rate=None`` takes the optimizer's default (:data:`DEFAULT_LEARNING_RATES`).
    ``params``: tensors, or torch's parameter groups (dicts with ``"params"`` and their own
    ``"lr"``, ...); tensors that need no gradient are left out either way.
    """
    params = list(params)
    if params and isinstance(params[0], dict):
        groups = [{**g, "params": [p for p in g["params"] if p.requires_grad]} for g in params]
        params = [g for g in groups if g["params"]]
    else:
        params = [p for p in params if p.requires_grad]
    lr = resolve_learning_rate(name, learning_rate)
    if name == "adam":
        # fused: one kernel for the whole update instead of several passes per tensor;
        # the update is a third of a small dense step on CPU.
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, fused=True)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, fused=True)
    if name == "sgd":
        return torch.optim.SGD(
            params, lr=lr, momentum=0.9, nesterov=True, weight_decay=weight_decay
        )
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, weight_decay=weight_decay)
    return torch.optim.Adadelta(params, lr=lr, weight_decay=weight_decay)


def init_state(module: nn.Module, optimizer: torch.optim.Optimizer, *,
               phase: str = "train") -> dict:
    """A fresh loop state, the one plain dict :func:`fit_loop` reads and updates.

    Keys: ``module``, ``optimizer``, ``phase`` (the label of the history records),
    ``epoch`` (epochs done), ``history`` (one record per epoch), ``last_state`` (weights
    after the last finished epoch), ``best_state`` / ``best_epoch`` / ``best_monitor`` (kept
    by :class:`aekit.training.callbacks.EarlyStopping`), ``memory`` (each callback's own, by
    name: see :func:`aekit.training.callbacks._memory`), ``kept_epoch`` (the epoch whose
    weights the module holds once the loop ends) and ``stop``.
    """
    return {
        "module": module,
        "optimizer": optimizer,
        "phase": phase,
        "epoch": 0,
        "history": [],
        "last_state": None,
        "best_state": None,
        "best_epoch": None,
        "best_monitor": math.inf,
        "memory": {},
        "kept_epoch": None,
        "stop": False,
    }


def _columns(rows) -> dict[str, torch.Tensor]:
    """Rows as a dict of aligned tensors: a bare tensor is the rows ``"x"``."""
    return {"x": rows} if isinstance(rows, torch.Tensor) else dict(rows)


def fit_loop(
    state: dict,
    objective: Objective,
    train: torch.Tensor | Mapping[str, torch.Tensor] | ChunkedRows,
    val: torch.Tensor | Mapping[str, torch.Tensor] | None = None,
    *,
    batch_size: int,
    max_epochs: int,
    corrupt: Corruption | None = None,
    autocast: torch.dtype | None = None,
    callbacks: Sequence = (),
    paired: Mapping[str, torch.Tensor] | None = None, paired_batch_size: int | None = None,
) -> dict:
    """Train ``state["module"]`` in place, from ``state["epoch"]`` to ``max_epochs``.

    Parameters
    ----------
    state : dict
        From :func:`init_state` (or a state a previous call left).
    objective : callable
        ``objective(module, batch, epoch)``; see :mod:`aekit.training.objectives`.
    train : torch.Tensor of shape (n_samples, ...), dict of such tensors, or ChunkedRows
        Training rows in network units on the training device (``"x"``), with any aligned
        extras gathered with the same batch indices (``"y"``: class targets; ``"x_in"``: an
        input distinct from the reconstruction target ``"x"``; ``"w"``: row weights); or a
        stream of chunks (:class:`ChunkedRows`, data larger than memory), whose batches
        are drawn within each chunk, in a fresh random order per chunk.
    val : torch.Tensor or dict of tensors, optional
        Validation rows (and targets); early stopping watches their loss (else the
        training loss).
    batch_size : int
        Rows per step; the last, smaller batch of an epoch is kept, never dropped.
    max_epochs : int
    corrupt : callable, optional
        Applied to each training batch's input (``"x_in"`` when given, else ``"x"``) only
        (denoising), giving the ``"x_in"`` the objective sees.
    autocast : torch.dtype, optional
        Run the training forward pass and loss under ``torch.autocast`` with this dtype
        (mixed precision: see :func:`autocast_dtype`). Validation stays float32.
    callbacks : sequence of aekit.training.callbacks.Callback
        Early stopping, progress, logging; called in order.
    paired, paired_batch_size : dict of tensors, int, optional
        A second stream of rows (the labelled rows of semi-supervised training): each step
        also draws ``paired_batch_size`` (default ``batch_size``) of them as ``"paired_x"``,
        ``"paired_y"``, ...: see :class:`_PairedRows`. Not corrupted; not in validation.

    Under several processes (an initialised ``torch.distributed`` group, e.g. ``torchrun``;
    see :mod:`aekit.core.distributed`) every rank holds the same rows (the estimators check:
    :func:`aekit.data.agreement.check_same_data`) and calls this with the same arguments:
    each global batch of ``batch_size`` rows is split between the ranks, their gradients are
    combined into the global batch's, and the history's losses are reduced, so every rank
    returns the same history and stops in the same epoch. For losses that are means over
    rows the result matches one process up to float rounding; batch statistics
    (``sparsity="kl"``'s mean activation, the ladder network's batch normalisation) are
    taken per rank's share.

    Returns
    -------
    state : dict
        The same dict: ``history`` gained one record per epoch (``phase``, ``epoch``,
        ``loss``, ``val_loss`` (None without validation), ``seconds``, the objective's
        other terms, and each of them on the validation rows as ``val_<term>``), the record
        of the epoch whose weights the module keeps has ``"kept": True``, and
        ``kept_epoch`` names it. The module is left in eval mode.

    Raises
    ------
    TrainingDivergedError
        When a loss, or a weight after an epoch's last step, is NaN or infinite; the module
        is first restored to its last good state.
    RuntimeError
        When a callback sets ``state["stop"]`` before the first epoch (nothing to keep).
    FitInterrupted
        On SIGINT (Ctrl-C) or SIGTERM, at the end of the step under way (see
        :data:`STOP_SIGNALS`); the module is first left at the kept epoch, and ``state`` is
        that of the last finished epoch (what a checkpoint holds).
    """
    streamed = callable(getattr(train, "epoch_chunks", None))
    train = train if streamed else _columns(train)
    val = _columns(val) if val is not None else None
    _prepare(state, max_epochs)
    step = compat.optimizer_step(state["optimizer"])  # optimizer.step, or its fused twin
    paired = None if paired is None else _PairedRows(_columns(paired),
                                                     paired_batch_size or batch_size)
    with _training(state, callbacks) as stops:
        while state["epoch"] < max_epochs and not state["stop"]:
            _run_epoch(state, objective, train, val, streamed, step, batch_size, corrupt,
                       autocast, callbacks, stops, paired)
    return state


@contextlib.contextmanager
def _training(state: dict, callbacks) -> Iterator[_StopRequests]:
    """Around the epochs of one :func:`fit_loop` call: stop signals deferred, the callbacks'
    ``on_train_begin`` (:func:`_begin`) and ``on_train_end`` (however the epochs end), and
    the module left at the kept epoch (:func:`_keep`) on the way out, also when stopped.

    Yields the :class:`_StopRequests` the steps read. A stop signal that arrived after the
    last step's check is raised as :class:`FitInterrupted` once the weights are kept.
    """
    with _StopRequests() as stops:
        try:
            _begin(state, callbacks)
            yield stops
        except FitInterrupted:
            _keep(state)  # the best (or last finished) epoch's weights, not a half epoch's
            raise
        finally:
            for cb in callbacks:
                cb.on_train_end(state)
    _keep(state)
    # A signal after the last step's check: the fit is whole, but the caller asked to stop.
    # (Several processes finish instead: the others never saw it, and must not wait.)
    if stops.signum is not None and distributed.rank_info()[1] == 1:
        raise FitInterrupted(stops.signum)


def _begin(state: dict, callbacks) -> None:
    """Every callback's ``on_train_begin``; a RuntimeError when one of them stops the loop
    before its first epoch, which would leave no model to keep."""
    state["claims"] = {}  # the callbacks claim their memory's names afresh (callbacks._memory)
    for cb in callbacks:
        cb.on_train_begin(state)
    if state["stop"] and state["epoch"] == 0:
        raise RuntimeError(
            f"{state['phase']}: a callback set state['stop'] before the first epoch (in "
            "on_train_begin), so no epoch would train and there would be no model to keep; "
            "set it in on_epoch_end, which ends the loop after that epoch.")


def _run_epoch(state, objective, train, val, streamed, step, batch_size, corrupt, autocast,
               callbacks, stops, paired=None) -> None:
    """One epoch: callbacks' ``on_epoch_begin``, the training steps, then :func:`_end_epoch`."""
    epoch = state["epoch"] + 1
    for cb in callbacks:
        cb.on_epoch_begin(state, epoch)
    start = time.perf_counter()
    chunks = train.epoch_chunks(epoch) if streamed else (train,)
    record = {"phase": state["phase"], "epoch": epoch,
              **_train_epoch(state, objective, chunks, epoch, step, batch_size, corrupt,
                             autocast, stops, paired)}
    _end_epoch(state, record, objective, val, callbacks, start)


def _end_epoch(state: dict, record: dict, objective: Objective, val, callbacks,
               start: float) -> None:
    """The bookkeeping after an epoch's last step: evaluate on ``val``, time the epoch
    (since ``start``, validation included), refuse a diverged one, append ``record`` to
    the history, count the epoch done, snapshot its weights (the last good state), and
    hand the record to each callback's ``on_epoch_end`` (early stopping, checkpoints...)."""
    module = state["module"]
    has_val = val is not None and len(val["x"]) > 0
    record["val_loss"] = None
    if has_val:  # "val_loss", then each other term of the objective as "val_<term>"
        for key, value in evaluate_terms(module, objective, val).items():
            name = "val_loss" if key == "loss" else f"val_{key}"
            record[name] = distributed.all_reduce_mean(value)
    record["seconds"] = time.perf_counter() - start
    _check_diverged(state, record)
    state["history"].append(record)
    state["epoch"] = record["epoch"]
    state["last_state"] = _snapshot(module)
    for cb in callbacks:
        cb.on_epoch_end(state, record)


def _prepare(state: dict, max_epochs: int) -> None:
    """Before the first epoch of a call: ranks in step, a first good state. (The process's
    allocator is left alone: see :func:`aekit.core.compat.keep_freed_blocks`, opt-in.)"""
    # Several processes: same start, own noise per rank (kept, not reseeded, by a loop
    # that goes on: a resumed one restored each rank's stream).
    distributed.prepare(state["module"], reseed=state["epoch"] == 0)
    if state["last_state"] is None:
        state["last_state"] = _snapshot(state["module"])
    state["max_epochs"] = max_epochs


def _keep(state: dict) -> None:
    """Leave the module at the kept epoch: the best one when a callback kept one (early
    stopping), else the last; mark its record ``"kept"`` and name it in the state."""
    if state["best_state"] is not None:
        state["module"].load_state_dict(state["best_state"])
        state["kept_epoch"] = state["best_epoch"]
    else:
        state["kept_epoch"] = state["epoch"]
    for record in state["history"]:
        if record["epoch"] == state["kept_epoch"]:
            record["kept"] = True
    state["module"].eval()


class _PairedRows:
    """The ``paired`` stream of :func:`fit_loop`: batches drawn without replacement,
    reshuffled each time every row has been drawn (the same order on every rank)."""

    def __init__(self, columns: dict[str, torch.Tensor], batch_size: int):
        self.columns = columns
        self.n = len(columns["x"])
        if self.n == 0:
            raise ValueError("paired: no rows; pass at least one, or paired=None")
        self.batch_size = min(batch_size, self.n)
        self.perm = torch.empty(0, dtype=torch.long)
        self.at = 0

    def next(self) -> dict[str, torch.Tensor]:
        """The next batch, its keys prefixed ``"paired_"``, this rank's share of it."""
        if self.at + self.batch_size > self.n or len(self.perm) == 0:
            device = self.columns["x"].device
            self.perm = distributed.broadcast(torch.randperm(self.n, device=device))
            self.at = 0
        drawn = self.perm[self.at : self.at + self.batch_size]
        self.at += self.batch_size
        idx, _ = distributed.shard(drawn)
        return {f"paired_{k}": v.index_select(0, idx) for k, v in self.columns.items()}


def _train_epoch(state, objective, chunks, epoch, step, batch_size, corrupt, autocast,
                 stops=None, paired=None) -> dict:
    """One epoch of steps over ``chunks``; returns the epoch's mean of each term.

    Raises :class:`FitInterrupted` at the end of the first step after a stop signal (every
    rank at the same step: the request travels with the gradients).
    """
    module, optimizer = state["module"], state["optimizer"]
    module.train()
    sums: dict[str, torch.Tensor] = {}
    n = 0
    # Rows in memory are one chunk; a stream reads (and scales) one chunk at a time.
    for chunk in chunks:
        chunk = _columns(chunk)
        x_all = chunk["x"]
        perm = distributed.broadcast(torch.randperm(len(x_all), device=x_all.device))
        for i in range(0, len(x_all), batch_size):
            # draw batch -> corrupt -> forward + loss -> backward -> step
            drawn = perm[i : i + batch_size]
            idx, rows = distributed.shard(drawn)  # this process's share (all of it alone)
            batch = {key: value.index_select(0, idx) for key, value in chunk.items()}
            # An explicit input (fit(X, y): "x_in" is X, "x" the target y) is kept;
            # otherwise the input is the target itself. Denoising corrupts the input.
            x_in = batch.get("x_in", batch["x"])
            batch["x_in"] = corrupt(x_in) if corrupt is not None else x_in
            if paired is not None:
                batch.update(paired.next())
            with torch.autocast(x_all.device.type, autocast, enabled=autocast is not None):
                terms = objective(module, batch, epoch)
            optimizer.zero_grad(set_to_none=True)
            terms["loss"].backward()
            signum = stops.signum if stops is not None else None
            stop = distributed.sum_gradients(module.parameters(), rows / len(drawn),
                                             stop=signum or 0)
            step()
            if stop:
                # A rank without a signal of its own stops because a peer was told to.
                raise FitInterrupted(signum or signal.SIGTERM)
            # log: running sums stay on the device; one sync per epoch, not per batch.
            for key, value in terms.items():
                sums[key] = sums.get(key, 0.0) + value.detach() * rows
        n += len(x_all)
        del chunk, x_all  # a streamed chunk is freed before the next one is read
    if n == 0:
        raise ValueError(f"{state['phase']}: no training rows in epoch {epoch}")
    # Summed over processes too, so every rank logs and stops on the same numbers.
    return {k: float(v) / n for k, v in distributed.all_reduce_sum(sums).items()}


def _check_diverged(state: dict, record: dict) -> None:
    """Restore the last good weights and raise when the epoch's losses, or the weights its
    last steps left (a blow-up no later loss has seen), are not finite."""
    monitored = record["val_loss"] if record["val_loss"] is not None else record["loss"]
    weights_ok = _finite(state["module"])
    if math.isfinite(record["loss"]) and math.isfinite(monitored) and weights_ok:
        return
    state["module"].load_state_dict(state["last_state"])
    epoch = record["epoch"]
    what = (f"the loss became {record['loss']}" if not math.isfinite(record["loss"])
            else f"the validation loss became {monitored}" if not math.isfinite(monitored)
            else "the weights became NaN or infinite in its last steps")
    raise TrainingDivergedError(
        f"{state['phase']}: {what} in epoch {epoch}; the model was "
        f"restored to its state after epoch {epoch - 1}. Lower learning_rate (now "
        f"{state['optimizer'].param_groups[0]['lr']:g}), keep a scaler on (scaler='standard') "
        "so inputs are O(1), or use a bounded activation."
    )


def _finite(module: nn.Module) -> bool:
    """Whether every parameter and buffer of ``module`` is finite (one device sync)."""
    tensors = [t for t in module.state_dict().values() if t.is_floating_point()]
    if not tensors:
        return True
    return bool(torch.stack([torch.isfinite(t).all() for t in tensors]).all())


def kept_record(history: Sequence[dict], phase: str = "train") -> dict | None:
    """The history record of the epoch whose weights :func:`fit_loop` kept in ``phase``."""
    for record in history:
        if record["phase"] == phase and record.get("kept"):
            return record
    return None


def evaluate(module: nn.Module, objective: Objective, rows, batch_size: int = 4096) -> float:
    """Mean ``objective`` loss over ``rows`` (a tensor, or a dict with targets) in eval mode.

    Eval mode: no corruption, no dropout; ``epoch`` is None (schedules at their end).
    """
    return evaluate_terms(module, objective, rows, batch_size)["loss"]


@torch.no_grad()
def evaluate_terms(module: nn.Module, objective: Objective, rows,
                   batch_size: int = 4096) -> dict[str, float]:
    """Mean of every term ``objective`` returns (``"loss"`` and the others) over ``rows``,
    in eval mode, as :func:`evaluate`.

    The objective is called on chunks of ``batch_size`` rows, and each term is the mean of
    the chunks' values weighted by their rows: exact for the terms that are means over rows
    (reconstruction, contractive, a VAE's KL). ``sparsity="kl"``'s term is not: it is the
    KL of each chunk's mean activation, so over more than ``batch_size`` rows it is the
    rows-weighted mean of per-chunk KLs, not the KL of the whole hold-out's mean activation
    (equal when every chunk's mean activations are; a shuffled hold-out's differ little).
    Pooling the means across chunks would need each objective to return its statistics;
    the training loss measures the term on each batch alike."""
    was_training = module.training
    module.eval()
    rows = _columns(rows)
    n = len(rows["x"])
    totals: dict[str, torch.Tensor] = {}
    for i in range(0, n, batch_size):
        batch = {key: value[i : i + batch_size] for key, value in rows.items()}
        batch.setdefault("x_in", batch["x"])  # an explicit input (fit(X, y)) is kept
        for key, value in objective(module, batch, None).items():
            totals[key] = totals.get(key, 0.0) + value.detach().float() * len(batch["x"])
    module.train(was_training)
    return {key: float(value) / n for key, value in totals.items()}


def _snapshot(module: nn.Module) -> dict[str, torch.Tensor]:
    # Detached clones: a later optimizer step must not change a saved state.
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def infer(fn: Callable[[torch.Tensor], torch.Tensor], X: torch.Tensor, batch_size: int = 4096,
          *, per_row: bool = True):
    """Apply ``fn`` to ``X`` in batches under ``no_grad``; returns the concatenation.

    With ``per_row`` (``fn`` maps each row to one row of its output), each row's result has
    the same bits whatever other rows share its call: a batch of fewer than ``batch_size``
    rows (a multiple of :data:`~aekit.nn.invariant.ALIGN`) is padded with copies of its last
    row to a multiple of ``ALIGN`` rows, whose outputs are dropped. Unpadded, a row's result
    depended on the batch's size in its last bits: the last ``numel % 32`` elements of an
    element-wise op (``sigmoid``, ``elu``, ``log``, ...) take a scalar loop that rounds
    otherwise than the vector loop (:mod:`aekit.nn.invariant`), and MKL multiplies a batch
    of 1 to 3 rows by another kernel than a larger one. Without ``per_row`` (``fn`` reduces
    its batch) the batches are passed as they are.
    """
    with torch.no_grad():
        return torch.cat([_apply(fn, X[i : i + batch_size], per_row)
                          for i in range(0, X.shape[0], batch_size)])


def _apply(fn: Callable[[torch.Tensor], torch.Tensor], batch: torch.Tensor, per_row: bool):
    """``fn(batch)``, on a batch padded to a multiple of ``ALIGN`` rows with ``per_row``."""
    pad = -len(batch) % ALIGN if per_row else 0
    if not pad:
        return fn(batch)
    padded = torch.cat([batch, batch[-1:].expand(pad, *batch.shape[1:])])
    return fn(padded)[: len(batch)]
