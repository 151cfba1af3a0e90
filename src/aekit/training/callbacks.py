"""What a fit may do besides training: early stopping, a learning-rate schedule, a progress
bar, TensorBoard, checkpoints, and the user's own callbacks (an estimator's ``callbacks=``).

A callback is a :class:`Callback` subclass; its hooks are listed in that class's docstring.
The loop (:func:`aekit.training.loop.fit_loop`) calls the four loop hooks; an estimator's fit
calls the fit and run hooks around its loops. Callbacks are called in the order given, after
the fit's own work for that moment. A callback must leave the module's weights and mode as it
found them, except :class:`EarlyStopping`, whose kept weights the loop restores at the end.
"""

from __future__ import annotations

import json
import math
import os
from contextlib import contextmanager
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import torch
from torch import nn
from tqdm.auto import tqdm

from ..core import distributed
from ..core.storage import FORMAT_VERSION, read_container, remove_container, write_container


class Callback:
    """Base class of every callback: each hook does nothing until a subclass overrides it.

    Hooks, in the order a fit calls them (``*``: may repeat)::

        on_fit_begin(estimator)
        on_run_begin(estimator, run, module)          *  (one per restart)
            on_train_begin(state)                     *  (one per loop)
                on_epoch_begin(state, epoch)          *
                on_epoch_end(state, record)           *
            on_train_end(state)
        on_run_end(estimator, run, result)
        on_fit_end(estimator)

    - ``on_fit_begin(estimator)``: once per ``fit``, after the data are checked and before
      anything trains. ``estimator`` is the working copy being fitted (``fit`` hands its
      fitted attributes to the object it was called on only when it succeeds); it already
      has ``n_features_in_`` and ``device_``. (An :class:`~aekit.EncoderClassifier` given
      an unfitted autoencoder fits that first, with the autoencoder's own callbacks.)
    - ``on_run_begin(estimator, run, module)``: before each run: run ``run`` (0-based) of
      the ``n_init`` restarts of an autoencoder; estimators without restarts
      (:class:`~aekit.EncoderClassifier`, :class:`~aekit.OutlierDetector`) have one run, 0.
      ``module``: the torch module the run trains.
    - ``on_train_begin(state)``: before the first epoch of each loop of the run: greedy
      pretraining phases, the main training, propagation rounds. ``state`` is the loop's
      state dict (:func:`aekit.training.loop.init_state`): ``state["phase"]`` names the
      loop (``"train"``, ``"pretrain-1"``, ``"propagation-1"``...), ``state["epoch"]`` is the
      epochs done (more than 0 when a fit resumes from a checkpoint), ``state["module"]``
      the module the loop trains (a part of the run's module in pretraining) and
      ``state["optimizer"]`` its optimizer. Setting ``state["stop"] = True`` here, before
      the loop's first epoch, is a RuntimeError: no epoch would train, leaving no model.
    - ``on_epoch_begin(state, epoch)``: before epoch ``epoch`` (1-based) of the loop.
    - ``on_epoch_end(state, record)``: after the epoch, once its record is
      ``state["history"][-1]``: ``phase``, ``epoch``, ``loss``, ``val_loss`` (None without a
      hold-out), ``seconds`` and the objective's other terms. Setting ``state["stop"] =
      True`` ends the loop after this epoch.
    - ``on_train_end(state)``: when the loop ends, also when it raises.
    - ``on_run_end(estimator, run, result)``: when the run ends, also when it raises.
      ``result``: a dict with the run's ``module``, ``history`` (its records, every phase)
      and ``score`` (what restarts are ranked by: the kept epoch's validation loss, else its
      training loss; None where runs are not ranked), or None when the run failed.
    - ``on_fit_end(estimator)``: once, when the fit ends, also when it raises; after a
      successful fit, ``estimator`` holds the fitted attributes (``history_``, ...).

    Under several processes (:mod:`aekit.core.distributed`) every rank calls every hook.
    """

    def on_fit_begin(self, estimator) -> None:
        """Once per fit, before anything trains."""

    def on_run_begin(self, estimator, run: int, module: nn.Module) -> None:
        """Before run ``run`` (0-based) trains ``module``."""

    def on_train_begin(self, state: dict) -> None:
        """Before the first epoch of a loop."""

    def on_epoch_begin(self, state: dict, epoch: int) -> None:
        """Before epoch ``epoch`` (1-based)."""

    def on_epoch_end(self, state: dict, record: dict) -> None:
        """After each epoch; ``record`` is ``state["history"][-1]``."""

    def on_train_end(self, state: dict) -> None:
        """When the loop ends (also on an error)."""

    def on_run_end(self, estimator, run: int, result: dict | None) -> None:
        """When run ``run`` ends (also on an error: ``result`` is then None)."""

    def on_fit_end(self, estimator) -> None:
        """Once, when the fit ends (also on an error)."""


def check_callbacks(callbacks, owner: str = "callbacks") -> list[Callback]:
    """``callbacks`` (None, or a list or tuple of :class:`Callback` instances) as a list;
    anything else is a TypeError naming the entry and what to pass."""
    if callbacks is None:
        return []
    if not isinstance(callbacks, (list, tuple)):
        raise TypeError(f"{owner} must be a list of aekit.training.callbacks.Callback "
                        f"instances or None, got {type(callbacks).__name__}")
    for i, cb in enumerate(callbacks):
        if not isinstance(cb, Callback):
            raise TypeError(
                f"{owner}[{i}] is a {type(cb).__name__}, not a Callback; subclass "
                "aekit.training.callbacks.Callback and pass an instance")
    return list(callbacks)


@contextmanager
def fit_hooks(callbacks, estimator):
    """``on_fit_begin`` now, ``on_fit_end`` when the block ends (also when it raises)."""
    for cb in callbacks:
        cb.on_fit_begin(estimator)
    try:
        yield
    finally:
        for cb in callbacks:
            cb.on_fit_end(estimator)


class RunHooks:
    """``on_run_begin`` on entry; ``on_run_end`` with :attr:`result` on exit (None when
    the block raises)."""

    def __init__(self, callbacks, estimator, run: int, module: nn.Module):
        self.callbacks, self.estimator, self.run, self.module = callbacks, estimator, run, module
        self.result: dict | None = None

    def __enter__(self) -> RunHooks:
        for cb in self.callbacks:
            cb.on_run_begin(self.estimator, self.run, self.module)
        return self

    def __exit__(self, kind, *exc) -> None:
        result = self.result if kind is None else None
        for cb in self.callbacks:
            cb.on_run_end(self.estimator, self.run, result)


def _memory(callback: Callback, state: dict, kind: str, fresh: dict) -> None:
    """Give ``callback`` its own entry of ``state["memory"]``, ``<kind>.<n>`` for the n-th
    callback of that kind in the loop (0-based, in the callbacks' order), so that a user's
    :class:`EarlyStopping` beside the built-in one counts its own patience. The names are
    the same in every process that builds the same callbacks, so a checkpoint's memory
    resumes each one's; ``fresh`` starts an entry the state does not hold yet."""
    claims = state.setdefault("claims", {})  # never saved: the loop resets it as it begins
    index = claims[kind] = claims.get(kind, -1) + 1
    callback.memory_key = f"{kind}.{index}"
    state.setdefault("memory", {}).setdefault(callback.memory_key, fresh)


def _watched(record: dict, start_from_epoch: int) -> float | None:
    """The loss :class:`EarlyStopping` and :class:`ReduceLROnPlateau` watch in an epoch's
    ``record``: the validation loss, else the training loss; None in the loop's first
    ``start_from_epoch`` epochs (a warm-up), which they neither keep nor count."""
    if record["epoch"] <= start_from_epoch:
        return None
    return record["val_loss"] if record["val_loss"] is not None else record["loss"]


def _improved(own: dict, monitored: float, tol: float) -> bool:
    """Whether ``monitored`` is a relative improvement of ``tol`` on ``own["best"]`` (or
    the first loss: no finite best yet); it becomes the best, else ``own["stale"]`` counts
    one more epoch without improvement. (The loop refuses a non-finite loss before the
    callbacks see it, so a best is never NaN or infinite once set.)"""
    best = own["best"]
    if best is None or not math.isfinite(best) or monitored < best - tol * abs(best):
        own.update(best=monitored, stale=0)
        return True
    own["stale"] += 1
    return False


class EarlyStopping(Callback):
    """Stop after ``patience`` epochs without a relative improvement of ``tol``.

    Watches the validation loss, else the training loss. Each instance counts its own
    patience (``state["memory"]``, see :func:`_memory`); the best weights and their epoch
    are the loop's (``best_state``, ``best_epoch``, ``best_monitor``): those of the lowest
    loss that any early stopping counted as an improvement. The loop restores them at the end,
    and a saved state resumes exactly.

    ``start_from_epoch`` (Keras' name): the loop's first epochs it ignores, neither kept
    nor counted against ``patience``, while the objective still changes (a warm-up).
    """

    def __init__(self, patience: int, tol: float = 1e-4, start_from_epoch: int = 0):
        self.patience = patience
        self.tol = tol
        self.start_from_epoch = start_from_epoch

    def on_train_begin(self, state: dict) -> None:
        _memory(self, state, "early_stopping", {"best": None, "stale": 0})

    def on_epoch_end(self, state: dict, record: dict) -> None:
        monitored = _watched(record, self.start_from_epoch)
        if monitored is None:
            return
        own = state["memory"][self.memory_key]
        if _improved(own, monitored, self.tol):
            if state["best_state"] is None or monitored < state["best_monitor"]:
                state.update(best_monitor=monitored, best_state=state["last_state"],
                             best_epoch=record["epoch"])
        elif own["stale"] >= self.patience:
            state["stop"] = True


class ReduceLROnPlateau(Callback):
    """Divide the learning rate by ``1 / factor`` after ``patience`` epochs without a
    relative improvement of ``tol`` in the monitored loss (the validation loss, else the
    training loss); never below ``min_lr`` times the starting rate.

    Keras' and PyTorch's ``ReduceLROnPlateau`` as a loop callback. Each instance's memory
    (best loss, stale epochs, starting rates) lives in the loop's ``state["memory"]`` (see
    :func:`_memory`), so a saved state resumes exactly. Each reduction is recorded in the
    epoch's history record as ``"lr"``; every record carries the rate the epoch trained with.

    Parameters
    ----------
    factor : float, default=0.2
        Multiplier of the rate at each reduction, in (0, 1).
    patience : int, default=5
        Epochs without improvement before a reduction; the count restarts after one.
    tol : float, default=1e-4
        Relative improvement that counts.
    min_lr : float, default=1e-3
        Floor, relative to the starting rate.
    start_from_epoch : int, default=0
        The loop's first epochs it ignores (no reduction, no count), while the objective
        still changes (a warm-up), as :class:`EarlyStopping`'s.
    """

    def __init__(self, factor: float = 0.2, patience: int = 5, tol: float = 1e-4,
                 min_lr: float = 1e-3, start_from_epoch: int = 0):
        if not 0 < factor < 1:
            raise ValueError(f"factor={factor!r} must be in (0, 1)")
        self.factor, self.patience, self.tol, self.min_lr = factor, patience, tol, min_lr
        self.start_from_epoch = start_from_epoch

    def on_train_begin(self, state: dict) -> None:
        groups = state["optimizer"].param_groups
        _memory(self, state, "plateau",
                {"start": [g["lr"] for g in groups], "best": math.inf, "stale": 0})

    def on_epoch_end(self, state: dict, record: dict) -> None:
        groups = state["optimizer"].param_groups
        # The rate this epoch trained with (set before any schedule of this epoch cuts it).
        record.setdefault("lr", groups[0]["lr"])
        monitored = _watched(record, self.start_from_epoch)
        if monitored is None:
            return
        own = state["memory"][self.memory_key]
        if not _improved(own, monitored, self.tol) and own["stale"] >= self.patience:
            own["stale"] = 0
            for g, start in zip(groups, own["start"]):
                g["lr"] = max(g["lr"] * self.factor, start * self.min_lr)


class ProgressBar(Callback):
    """A tqdm bar over the epochs with the last loss and val_loss (``leave``: keep it)."""

    def __init__(self, leave: bool = False):
        self.leave = leave
        self.bar = None

    def on_train_begin(self, state: dict) -> None:
        self.bar = tqdm(total=state["max_epochs"], initial=state["epoch"], desc=state["phase"],
                        leave=self.leave)

    def on_epoch_end(self, state: dict, record: dict) -> None:
        self.bar.update(1)
        self.bar.set_postfix({k: record[k] for k in ("loss", "val_loss")
                              if record[k] is not None})

    def on_train_end(self, state: dict) -> None:
        if self.bar is not None:
            self.bar.close()


# --------------------------------------------------------------------------- TensorBoard
_SKIP = ("phase", "epoch", "seconds", "kept")


def _summary_writer(log_dir):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as err:  # torch's module imports the tensorboard package itself
        raise ImportError(
            f"log_dir={str(log_dir)!r} asks for TensorBoard logging, but the 'tensorboard' "
            "package is not installed; install it with `pip install aekit[tensorboard]` "
            "(or `pip install tensorboard`), or leave log_dir=None."
        ) from err
    return SummaryWriter(log_dir=str(log_dir))


def guess_image_shape(n_features: int) -> tuple[int, int] | None:
    """(s, s) when the rows look like flattened square images (16 features or more)."""
    side = math.isqrt(n_features)
    return (side, side) if side >= 4 and side * side == n_features else None


class TensorBoard(Callback):
    """Log losses every epoch and sample reconstructions every few epochs.

    TensorBoard is an optional extra, imported only when this callback is made. Scalars:
    ``loss/train`` and ``loss/validation`` for the main phase, ``<phase>/<term>`` for other
    phases (greedy pretraining) and extra objective terms. Images: ``reconstructions``
    (originals on top, reconstructions below) when rows look like square images, else a
    heat map of the rows (one per line, features across). One instance may serve several
    loops (pretraining phases, then training): its step counts on; :meth:`close` it once.

    Parameters
    ----------
    log_dir : path-like
        TensorBoard run directory (created if needed).
    samples : torch.Tensor of shape (n, n_features)
        A few rows in the caller's units, on the training device.
    module : torch.nn.Module, optional
        The model whose ``encode`` / ``decode`` reconstruct the samples; by default the
        loop's module (give the deep model when the loop trains a part of it).
    image_shape : tuple of int, optional
        (height, width) of each row; guessed for square images.
    image_every : int, default=5
        Epochs between two image logs (the first and the final epoch are always logged).
    """

    def __init__(self, log_dir: str | os.PathLike, samples: torch.Tensor | None = None, *,
                 module: nn.Module | None = None, image_shape=None, image_every: int = 5):
        self.writer = _summary_writer(log_dir)
        self.samples = samples
        if samples is not None and image_shape is None:
            image_shape = guess_image_shape(samples[0].numel())
        self.image_shape = image_shape
        self.image_every = image_every
        self.step = 0
        self.module = module

    def on_epoch_end(self, state: dict, record: dict) -> None:
        self.step += 1
        if self.module is None:
            self.module = state["module"]
        main = record.get("phase", "train") == "train"
        for key, value in record.items():
            if key in _SKIP or value is None:
                continue
            if main and key in ("loss", "val_loss"):
                tag = "loss/train" if key == "loss" else "loss/validation"
            else:
                tag = f"{record.get('phase', 'train')}/{key}"
            self.writer.add_scalar(tag, float(value), self.step)
        if record.get("epoch", 1) == 1 or record.get("epoch", 0) % self.image_every == 0:
            self.log_reconstructions(self.module)

    @torch.no_grad()
    def log_reconstructions(self, module: nn.Module) -> None:
        """Add one image of the samples and their reconstructions at the current step."""
        if self.samples is None or not len(self.samples):
            return
        was_training = module.training
        module.eval()
        try:
            x = self.samples
            x_hat = module.decode(module.encode(x), like=x)
        finally:
            module.train(was_training)
        lo, hi = x.min(), x.max()
        scale = (hi - lo) if hi > lo else torch.ones_like(hi)
        x, x_hat = ((t.float() - lo) / scale for t in (x, x_hat.reshape(x.shape)))
        if self.image_shape is not None:
            h, w = self.image_shape
            top = torch.cat(list(x.reshape(-1, h, w)), dim=1)  # (h, n*w)
            bottom = torch.cat(list(x_hat.reshape(-1, h, w)), dim=1)
            gap = torch.ones(1, top.shape[1], device=top.device)
            image = torch.cat([top, gap, bottom], dim=0)
        else:
            gap = torch.ones(1, x.shape[1], device=x.device)
            image = torch.cat([x, gap, x_hat], dim=0)  # rows, features across
        self.writer.add_image("reconstructions", image.clamp(0, 1).cpu()[None], self.step)

    def close(self, final: bool = True) -> None:
        """Log the final reconstructions (unless ``final=False``) and close the writer."""
        if final and self.module is not None:
            self.log_reconstructions(self.module)
        self.writer.close()


class TensorBoardRuns(Callback):
    """An estimator's TensorBoard logging: a :class:`TensorBoard` run per fit run (restart),
    in ``log_dir``, or in ``log_dir/restart-<i>`` when the fit has several.

    Rank 0 only logs under several processes (the estimator adds it there alone).

    Parameters
    ----------
    log_dir : path-like
    samples : torch.Tensor of shape (n, n_features)
    n_runs : int, default=1
    image_shape : (C, H, W), optional
        The images a model that takes images reads its rows as; their C planes are drawn
        one above the other. None: the rows are drawn as square images when they look
        like ones (:class:`TensorBoard`).
    """

    def __init__(self, log_dir: str | os.PathLike, samples: torch.Tensor, n_runs: int = 1,
                 image_shape=None):
        self.log_dir, self.samples, self.n_runs = os.fspath(log_dir), samples, n_runs
        # Flat rows (C*H*W) in C, H, W order are C planes of H x W stacked: (C*H, W). The
        # square guess drew a conv model's 4 x 16 images as scrambled 8 x 8 ones.
        self.image_shape = None if image_shape is None else (
            int(image_shape[0]) * int(image_shape[1]), int(image_shape[2]))
        self.board: TensorBoard | None = None

    def on_run_begin(self, estimator, run: int, module: nn.Module) -> None:
        log_dir = self.log_dir
        if self.n_runs > 1:
            log_dir = os.path.join(log_dir, f"restart-{run}")
        # The run's whole module reconstructs the samples, also while pretraining trains
        # a part of it.
        self.board = TensorBoard(log_dir, self.samples, module=module,
                                 image_shape=self.image_shape)

    def on_train_begin(self, state: dict) -> None:
        # A resumed loop counts on from its epochs and the pretraining before them.
        earlier = len(state.get("pretrain_history", ()))
        self.board.step = max(self.board.step, earlier + state["epoch"])

    def on_epoch_end(self, state: dict, record: dict) -> None:
        self.board.on_epoch_end(state, record)

    def on_run_end(self, estimator, run: int, result: dict | None) -> None:
        if self.board is not None:
            self.board.close()
            self.board = None


# --------------------------------------------------------------------------- checkpoints
_SAVED_KEYS = ("phase", "epoch", "history", "best_epoch", "best_monitor", "memory", "stop")
"""The loop-state keys a checkpoint keeps as JSON."""

CHECKPOINT = "checkpoint.json"
"""The manifest of a checkpoint directory; it names ``checkpoint-<hash>.safetensors``."""
CHECKPOINT_FORMAT = "aekit-checkpoint"
_STEM = "checkpoint"


def loop_state_files(state: dict) -> tuple[dict, dict[str, torch.Tensor]]:
    """The loop state as ``(JSON fields, tensors)``: all a resumed loop needs.

    Tensors: the module's (``module.*``, the weights after the last finished epoch), early
    stopping's best weights when they are another epoch's (``best.*``), the optimizer's
    state (``optimizer.<param>.<key>``) and torch's RNG state (``rng.torch``, ``rng.cuda``;
    under several processes, :func:`rank_rng_states` adds the other ranks').
    JSON: ``phase``, ``epoch``, ``history``, ``best_epoch``, ``best_monitor``, ``memory``
    (the callbacks' own), ``stop``, ``best_is_last``, ``world_size``, and the optimizer's
    non-tensor state.
    """
    module = state["module"]
    last = state["last_state"] if state["last_state"] is not None else module.state_dict()
    tensors = {f"module.{k}": v for k, v in last.items()}
    best_is_last = state["best_state"] is None or state["best_state"] is state["last_state"]
    if not best_is_last:
        tensors.update({f"best.{k}": v for k, v in state["best_state"].items()})
    scalars = {}
    for index, entry in state["optimizer"].state_dict()["state"].items():
        for key, value in entry.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optimizer.{index}.{key}"] = value
            else:
                scalars[f"{index}.{key}"] = value
    device = next(iter(last.values())).device if last else torch.device("cpu")
    # Copies on the CPU: the next steps change the optimizer's tensors in place.
    tensors = {k: v.detach().to("cpu", copy=True) for k, v in tensors.items()}
    tensors["rng.torch"] = torch.get_rng_state()
    if device.type == "cuda":
        tensors["rng.cuda"] = torch.cuda.get_rng_state(device)
    meta = {key: state[key] for key in _SAVED_KEYS}
    meta.update(best_is_last=best_is_last, optimizer_scalars=scalars,
                world_size=distributed.rank_info()[1],
                # The rates now (a schedule may have cut them).
                learning_rates=[g["lr"] for g in state["optimizer"].param_groups])
    # A copy as JSON types: the history goes on growing while the copy is written.
    return json.loads(json.dumps(meta, allow_nan=True)), tensors


def rank_rng_states(device: torch.device) -> dict[str, torch.Tensor]:
    """The torch RNG states of the ranks other than 0, ``rng.torch.<rank>`` (and
    ``rng.cuda.<rank>`` on a GPU), gathered from every rank: a collective, which every rank
    calls; {} in one process. Each rank draws its own noise and dropout masks, so a resumed
    loop is exact only when every rank's stream goes on where it was."""
    rank, world = distributed.rank_info()
    if world == 1:
        return {}
    own = {"rng.torch": torch.get_rng_state()}
    if device.type == "cuda":
        own["rng.cuda"] = torch.cuda.get_rng_state(device)
    # On the module's device: NCCL gathers CUDA tensors only (gloo, CPU ones).
    return {f"{key}.{r}": v.cpu() for key, value in own.items()
            for r, v in enumerate(distributed.all_gather(value.to(device))) if r > 0}


def _restore_rng(meta: dict, tensors: dict[str, torch.Tensor], device) -> None:
    """This rank's torch RNG state from a checkpoint (see :func:`rank_rng_states`)."""
    rank, world = distributed.rank_info()
    saved = meta.get("world_size", 1)
    if saved != world:
        raise ValueError(
            f"the checkpoint was written by {saved} process(es) and is resumed by {world}: "
            "each rank draws its own noise and dropout masks, so the resumed fit would not "
            f"end where the interrupted one would have; resume with {saved} process(es) "
            "(torchrun --nproc-per-node), or fit without resume to start afresh")
    suffix = f".{rank}" if rank else ""
    torch.set_rng_state(tensors[f"rng.torch{suffix}"].cpu())
    if f"rng.cuda{suffix}" in tensors and device.type == "cuda":
        torch.cuda.set_rng_state(tensors[f"rng.cuda{suffix}"].cpu(), device)


def _lay_out_like_params(optimizer: torch.optim.Optimizer) -> None:
    """Give each restored state tensor of a parameter's shape (Adam's moments) the
    parameter's strides.

    The checkpoint stores them contiguous, and ``load_state_dict`` keeps that; but the
    fused Adam kernel walks a parameter and its moments in memory order, so for a
    non-contiguous parameter (the transposed convolutions' weights) it paired each weight
    with another weight's moments, and a resumed fit went elsewhere than the uninterrupted one.
    """
    for group in optimizer.param_groups:
        for param in group["params"]:
            entry = optimizer.state.get(param, {})
            for key, value in entry.items():
                if (isinstance(value, torch.Tensor) and value.shape == param.shape
                        and value.stride() != param.stride()):
                    entry[key] = torch.empty_like(param, dtype=value.dtype).copy_(value)


def restore_loop_state(state: dict, meta: dict, tensors: dict[str, torch.Tensor]) -> None:
    """Put what :func:`loop_state_files` saved back into a fresh ``state`` (from
    :func:`~aekit.training.loop.init_state`, same module and optimizer kind): weights, optimizer
    state, epoch, history, early stopping's memory and torch's RNG state, so the next
    epoch runs exactly as it would have."""
    module, optimizer = state["module"], state["optimizer"]
    device = next(module.parameters()).device

    def part(prefix):
        return {k[len(prefix):]: v.to(device) for k, v in tensors.items() if k.startswith(prefix)}

    module.load_state_dict(part("module."))
    own = {}
    for key, value in [*part("optimizer.").items(), *meta["optimizer_scalars"].items()]:
        index, name = key.split(".", 1)
        own.setdefault(int(index), {})[name] = value
    optimizer.load_state_dict({"state": own,
                               "param_groups": optimizer.state_dict()["param_groups"]})
    _lay_out_like_params(optimizer)
    for group, lr in zip(optimizer.param_groups, meta.get("learning_rates", ())):
        group["lr"] = lr
    last = {k: v.detach().clone() for k, v in module.state_dict().items()}
    # (A checkpoint from before "memory" resumes with the callbacks' memory afresh.)
    state.update({key: meta[key] for key in _SAVED_KEYS if key in meta})
    state["history"] = [dict(r) for r in state["history"]]
    state["last_state"] = last
    state["best_state"] = (None if meta["best_epoch"] is None
                           else last if meta["best_is_last"] else part("best."))
    _restore_rng(meta, tensors, device)


class Checkpoint(Callback):
    """Write the loop's state to ``directory`` after every epoch, atomically; resume with
    :func:`read_checkpoint` and :func:`restore_loop_state`.

    The files (``checkpoint.json`` naming ``checkpoint-<hash>.safetensors``) are a
    container of :mod:`aekit.core.storage`: a kill at any moment leaves the previous checkpoint or
    the new one, and loading never unpickles. The state is copied at the end of the epoch
    and written (flushed to disk) by a background thread while the next epoch trains, one
    write at a time; the loop's end waits for the last one, and a failed write fails the
    fit at the next epoch's end. Under several processes only rank 0 writes. A subclass
    saves what it needs around the loop by overriding :meth:`context` (the estimators':
    :class:`aekit.estimators._recovery.FitCheckpoint`).

    Parameters
    ----------
    directory : path-like
        Created if needed; other files in it are left alone.
    background : bool, default=True
        Write in a background thread (False: before the next epoch starts).
    phases : str or tuple of str, optional
        Checkpoint the epochs of loops of these phases only (``state["phase"]``); by
        default every loop's.
    """

    def __init__(self, directory: str | os.PathLike, *, background: bool = True,
                 phases: str | tuple[str, ...] | None = None):
        self.directory = Path(directory)
        # One name is one phase: "train" in "pretrain-1" would be true of a bare string.
        self.phases = (phases,) if isinstance(phases, str) else phases
        self.background = background
        self._executor: ThreadPoolExecutor | None = None
        self._pending: Future | None = None

    def context(self, state: dict) -> tuple[dict, dict]:
        """``(JSON fields, tensors)`` saved beside the loop state ``state``: none here.
        Tensor names must not start with ``module.``, ``best.``, ``optimizer.`` or
        ``rng.``."""
        return {}, {}

    def on_epoch_end(self, state: dict, record: dict) -> None:
        if self.phases is None or state["phase"] in self.phases:
            self.write(state)

    def on_train_end(self, state: dict) -> None:
        try:
            self.wait()
        finally:
            if self._executor is not None:
                self._executor.shutdown(wait=True)
                self._executor = None

    def write(self, state: dict) -> None:
        """Checkpoint ``state`` as it is now (rank 0 writes; every rank calls it, as it
        gathers every rank's RNG state)."""
        others = rank_rng_states(next(state["module"].parameters()).device)
        if not distributed.is_main():
            return
        meta, tensors = loop_state_files(state)
        tensors.update(others)
        extra, extra_tensors = self.context(state)
        config = json.loads(json.dumps(
            {"format": CHECKPOINT_FORMAT, "format_version": FORMAT_VERSION, **extra,
             "loop": meta}, allow_nan=True))
        tensors.update({k: v.detach().to("cpu", copy=True) for k, v in extra_tensors.items()})
        self.wait()  # one write at a time, in order
        args = (self.directory, tensors, config)
        kwargs = {"manifest": CHECKPOINT, "stem": _STEM}
        if not self.background:
            write_container(*args, **kwargs)
            return
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="aekit-checkpoint")
        self._pending = self._executor.submit(write_container, *args, **kwargs)

    def wait(self) -> None:
        """Wait for the write under way, if any; raise its error."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()


def read_checkpoint(directory: str | os.PathLike) -> tuple[dict, dict] | None:
    """``(JSON fields, tensors)`` of the checkpoint in ``directory``, or None when it has
    none; a damaged or edited checkpoint is a ValueError."""
    if not (Path(directory) / CHECKPOINT).is_file():
        return None
    return read_container(directory, manifest=CHECKPOINT, stem=_STEM, kind=CHECKPOINT_FORMAT,
                          remedy="fit without resume to start afresh (the checkpoint is "
                          "then replaced)")


def checkpoint_info(directory: str | os.PathLike) -> dict | None:
    """The JSON fields of the checkpoint in ``directory`` without reading its tensors (for
    messages), or None when there is no readable one."""
    try:
        meta = json.loads((Path(directory) / CHECKPOINT).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return None
    return meta if isinstance(meta, dict) else None


def remove_checkpoint(directory: str | os.PathLike) -> bool:
    """Delete the checkpoint in ``directory`` (rank 0 only); True when there was one."""
    if not distributed.is_main():
        return False
    return remove_container(directory, manifest=CHECKPOINT, stem=_STEM)
