"""The training parameters, declared once: each one's constraint, default and docstring text.

Every estimator that trains (:class:`~aekit.AutoEncoder`, :class:`~aekit.VariationalAutoEncoder`,
:class:`~aekit.EncoderClassifier`, :class:`~aekit.OutlierDetector`) takes the parameters of
:data:`TRAINING` it supports. scikit-learn wants an explicit ``__init__`` signature, so each
class still lists them, but takes each default from here (``batch_size=TRAINING.batch_size``)
and gets their "Parameters" entries from here too (:meth:`Declared.document` fills the line
``<training parameters>`` of the class docstring). An estimator that needs another default
declares it with :meth:`Declared.override`, with a one-line reason that its docstring shows.
The command line (:mod:`aekit.cli.options`) reads the constraints, the signature's defaults and
the docstring, so it follows.
"""

from __future__ import annotations

import inspect
import os
import re
from dataclasses import dataclass, replace
from numbers import Integral, Real

import torch

from ..core.checks import Interval, StrOptions, user_warning
from ..core.fitted import changed_params
from ..training.callbacks import (
    Callback,
    EarlyStopping,
    ProgressBar,
    ReduceLROnPlateau,
    check_callbacks,
)
from ..training.loop import OPTIMIZERS, PRECISIONS

MARKER = re.compile(r"^([ \t]*)<training parameters>\n", re.M)
"""The docstring line that :meth:`Declared.document` replaces with the entries."""


@dataclass(frozen=True)
class Param:
    """One training parameter: its constraint (scikit-learn's ``_parameter_constraints``
    format), default, numpydoc type and description (indented by :meth:`entry`)."""

    constraint: list
    default: object
    type: str
    doc: str
    why: str = ""  # set by an override: why this estimator's default differs
    note: str = ""  # set by an override: what is particular to this estimator

    def entry(self, name: str, indent: str = "    ") -> str:
        """The numpydoc "Parameters" entry, its first line indented by ``indent``."""
        lines = [f"{indent}{name} : {self.type}, default={_shown(self.default)}"]
        for text in (self.doc, self.note, self.why):
            lines += [f"{indent}    {line}" for line in text.strip().splitlines()]
        return "\n".join(lines) + "\n"


def _shown(value) -> str:
    """A default as numpydoc shows it: ``"adam"``, ``1e-4``, ``0.1``, ``None``."""
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, float) and value and abs(value) < 1e-3:
        return re.sub(r"e-0*", "e-", f"{value:.0e}")
    return repr(value)


_SAME = object()


class Declared:
    """A set of declared parameters; ``declared.name`` is ``name``'s default."""

    def __init__(self, params: dict[str, Param]):
        self.params = params

    def __getattr__(self, name: str):
        try:
            return self.__dict__["params"][name].default
        except KeyError:
            raise AttributeError(name) from None

    def override(self, **changes: dict) -> Declared:
        """Another estimator's variant: ``name={"default": value, "why": "one line"}`` (a
        default that differs needs its reason) and/or ``{"note": "..."}`` (text of its own
        appended to the shared description)."""
        params = dict(self.params)
        for name, change in changes.items():
            default = change.get("default", _SAME)
            if default is not _SAME and not change.get("why"):
                raise ValueError(f"{name}: a default that differs needs its one-line 'why'")
            params[name] = replace(
                params[name], note=change.get("note", ""),
                **({} if default is _SAME else {"default": default, "why": change["why"]}))
        return Declared(params)

    def constraints(self, *names: str) -> dict:
        return {name: self.params[name].constraint for name in names}

    def document(self, cls):
        """Class decorator: the training parameters of ``cls``'s ``__init__`` (those declared
        here, in the signature's order) get their constraints in ``_parameter_constraints``
        and their "Parameters" entries at the docstring's ``<training parameters>`` line.
        The class keeps the declaration as ``_training`` (for tests and the CLI)."""
        names = [n for n in inspect.signature(cls.__init__).parameters if n in self.params]
        found = MARKER.search(cls.__doc__ or "")
        if found is None:
            raise ValueError(f"{cls.__name__}'s docstring has no '<training parameters>' line")
        entries = "".join(self.params[n].entry(n, found.group(1)) for n in names)
        cls.__doc__ = cls.__doc__[:found.start()] + entries + cls.__doc__[found.end():]
        cls._parameter_constraints = {**cls._parameter_constraints, **self.constraints(*names)}
        cls._training = self
        return cls


_PRECISION_DOC = """\
Arithmetic of the training steps. The default, float32, gives the same result for the
same seed on every machine. ``"bfloat16"`` (opt-in) runs matrix products under
``torch.autocast`` (weights, optimizer state and losses stay float32); it is fast on CPUs
with AMX or AVX512-BF16 and on Ampere or newer GPUs (``bench/fit_speed.py``), emulated and
slower elsewhere. Avoid it where exactness matters (``init="identity"`` checks,
tiny-variance data with ``scaler=None``). ``"auto"`` is bfloat16 where the hardware has it
natively, else float32. Inference is always float32."""

TRAINING = Declared({
    "optimizer": Param(
        [StrOptions(set(OPTIMIZERS))], "adam",
        '{"adam", "adamw", "sgd", "rmsprop", "adadelta"}',
        'The torch optimizer; "sgd" uses Nesterov momentum 0.9.'),
    "learning_rate": Param(
        [Interval(Real, 0, None, closed="neither"), None], None, "float",
        "Step size of the optimizer, or None for its own (PyTorch's) default: 1e-3 for\n"
        "adam, adamw and sgd, 1e-2 for rmsprop, 1.0 for adadelta."),
    "lr_schedule": Param(
        [StrOptions({"plateau", "constant"})], "plateau", '{"plateau", "constant"}',
        '``"plateau"`` divides the learning rate by 5 when the validation loss has not\n'
        "improved for ``max(2, patience // 2)`` epochs (Keras' ReduceLROnPlateau), so the\n"
        'last epochs take small, precise steps; ``"constant"`` keeps it.'),
    "weight_decay": Param(
        [Interval(Real, 0, None, closed="left")], 0.0, "float",
        'L2 weight penalty, applied by the optimizer (decoupled for ``"adamw"``).'),
    "batch_size": Param(
        [Interval(Integral, 1, None, closed="left")], 128, "int",
        "Rows per step; the last smaller batch is used too."),
    "max_epochs": Param(
        [Interval(Integral, 1, None, closed="left")], 200, "int",
        "Epochs of training, at most (early stopping may end it sooner)."),
    "validation_fraction": Param(
        [Interval(Real, 0, 1, closed="left")], 0.1, "float",
        "Share of the rows held out, whose loss early stopping watches (restarts too).\n"
        "Too few rows for both sides disables the hold-out."),
    "early_stopping": Param(
        ["boolean"], True, "bool",
        "Stop when the validation loss (else the training loss) has not improved for\n"
        "``patience`` epochs and restore the best weights."),
    "patience": Param(
        [Interval(Integral, 1, None, closed="left")], 20, "int",
        "Epochs without improvement before early stopping ends the fit."),
    "tol": Param(
        [Interval(Real, 0, None, closed="left")], 1e-4, "float",
        "Relative improvement that counts for early stopping."),
    "n_init": Param(
        [Interval(Integral, 1, None, closed="left")], 1, "int",
        "Independent restarts; the one with the lowest validation loss is kept."),
    "random_state": Param(
        ["random_state"], None, "int, RandomState instance or None",
        "Seeds weights, shuffling and the hold-out. Fits with the same integer are\n"
        "bit-for-bit identical on CPU."),
    "device": Param(
        [str, torch.device], "auto", "str",
        '``"auto"`` trains on CUDA when present, else on the CPU.'),
    "precision": Param(
        [StrOptions(set(PRECISIONS))], "float32", '{"float32", "bfloat16", "auto"}',
        _PRECISION_DOC),
    "verbose": Param(
        ["verbose"], 0, "int",
        "``1`` shows a progress bar with loss and val_loss per epoch (and, for the\n"
        "autoencoders, warns about what :func:`aekit.diagnose` finds once fitting ends)."),
    "log_dir": Param(
        [str, os.PathLike, None], None, "str or path-like",
        "When set, TensorBoard logs go there: losses per epoch and sample reconstructions\n"
        "(needs ``pip install aekit[tensorboard]``). With ``n_init > 1`` each restart logs\n"
        "into its own ``restart-<i>`` subdirectory."),
    "checkpoint_dir": Param(
        [str, os.PathLike, None], None, "str or path-like",
        "When set, a checkpoint is written there after every epoch (atomically: weights,\n"
        "optimizer and RNG states, history, early stopping's memory, restart index), and\n"
        "``fit(X, resume=True)`` continues an interrupted fit from it, ending exactly where\n"
        "an uninterrupted fit ends. The last checkpoint stays after ``fit``; a fit without\n"
        '``resume`` replaces it. See "Faults, checkpoints and resume" in the README.'),
    "warm_start": Param(
        ["boolean"], False, "bool",
        "When fitted, ``fit`` continues training the fitted network (its scaler too) for\n"
        "``max_epochs`` more epochs instead of starting afresh, as scikit-learn's MLP does;\n"
        "``history_`` and ``n_iter_`` count on. One run, no pretraining: ``n_init`` or\n"
        "``pretrain`` set since the fit have no effect, and ``fit`` warns of them. The\n"
        "parameters that define the network (sizes, activations, dropout, ``scaler``,\n"
        "``missing``...) stay as fitted: changing one is a ValueError naming it; training\n"
        "parameters (``learning_rate``, ``max_epochs``, the loss and its weights...) may\n"
        "change."),
    "callbacks": Param(
        [list, tuple, None], None, "list of aekit.training.callbacks.Callback",
        "Your own callbacks, called after the built-in ones at every hook of the fit (see\n"
        ":class:`~aekit.training.callbacks.Callback` for the hooks and their arguments).\n"
        "``fit`` uses the instances given; ``sklearn.base.clone`` deep-copies them, as it\n"
        "does every parameter that is not an estimator. They are not saved: a loaded\n"
        "model has ``callbacks=None``."),
})
"""Every training parameter of aekit's estimators, declared once."""


def warn_idle_params(estimator) -> None:
    """Warn of each parameter set away from its default that cannot act with the present
    value of its switch (``estimator._idle_params()``: ``{name: (switch, acting)}``, where
    ``acting`` is the tuple of the switch's values it acts with, or a condition on the
    switch as text, such as ``"> 0"``), with the fix.

    A warning, not an error (as ``image_shape`` without ``architecture="conv"`` is): a grid
    search crossing a switch with its strength (``noise`` with ``noise_level``) would lose
    every candidate with the switch off, and scikit-learn warns of its own such parameters
    (LogisticRegression's ``l1_ratio``). Called by ``fit``, not by :func:`validate_params`,
    so that loading a saved model does not warn.
    """
    idle = estimator._idle_params()
    for name, default in changed_params(estimator, idle).items():
        switch, values = idle[name]
        now = getattr(estimator, switch)
        # A switch that acts over a range (beta > 0) names it; one of a few values lists
        # them; a condition starting with "=" follows the name ("=True (or ...)").
        acting = (f"{switch}{'' if values.startswith('=') else ' '}{values}"
                  if isinstance(values, str)
                  else f"{switch}=" + " or ".join(map(repr, values)))
        user_warning(
            f"{name}={getattr(estimator, name)!r} has no effect with {switch}={now!r}: it "
            f"acts only with {acting}. Set {switch}, or leave {name} at its default "
            f"({default!r}); a grid search can keep the candidates with {switch}={now!r} in a "
            f"grid of their own, without {name}: param_grid=[{{'{switch}': [{now!r}]}}, "
            f"{{'{switch}': [...], '{name}': [...]}}].")


def stopping_idle_params(estimator) -> dict[str, tuple[str, str]]:
    """``patience`` and ``tol`` in :meth:`_idle_params`' form when nothing reads them: no
    early stopping and a constant learning rate (they are the only callbacks that do,
    :func:`loop_callbacks`)."""
    if estimator.early_stopping or getattr(estimator, "lr_schedule", "constant") == "plateau":
        return {}
    return {name: ("early_stopping", "=True (or with lr_schedule='plateau')")
            for name in ("patience", "tol")}


def validate_params(estimator) -> None:
    """Check ``estimator``'s parameters as ``fit`` does, without fitting: each parameter's
    constraint, then the rules that combine several. Raises a ValueError naming the
    parameter and what it accepts."""
    estimator._validate_params()
    check_callbacks(getattr(estimator, "callbacks", None))
    estimator._check_params()


PLATEAU_FACTOR = 0.2
"""The rate's multiplier at a plateau (sklearn's ``learning_rate="adaptive"``: 1/5 too)."""


def loop_callbacks(estimator, *, early_stopping: bool = True,
                   warmup: int = 0) -> list[Callback]:
    """Fresh built-in callbacks for one loop of ``estimator``, as its training parameters
    ask: early stopping (``early_stopping``, ``patience``, ``tol``; left out with
    ``early_stopping=False`` here), the learning-rate schedule (``lr_schedule``; estimators
    without it train at a constant rate) and progress (``verbose``). A fit adds its
    fit-wide callbacks (TensorBoard, the user's, checkpoints) after them.

    ``warmup``: the loop's first epochs in which the objective is still ramping up (the
    VAE's KL warm-up), which early stopping and the schedule ignore: the loss rises with
    the ramp, so they would stop or slow the fit before it reaches the objective asked for,
    and keep weights trained on another one."""
    callbacks: list[Callback] = []
    if estimator.early_stopping and early_stopping:
        callbacks.append(EarlyStopping(estimator.patience, estimator.tol,
                                       start_from_epoch=warmup))
    if getattr(estimator, "lr_schedule", "constant") == "plateau":
        # Half of early stopping's patience: a plateau cuts the rate once, and a fit that
        # then improves no more stops (docs/decisions.md, "Training defaults").
        callbacks.append(ReduceLROnPlateau(PLATEAU_FACTOR, max(2, estimator.patience // 2),
                                           estimator.tol, start_from_epoch=warmup))
    if estimator.verbose > 0:
        callbacks.append(ProgressBar(leave=estimator.verbose > 1))
    return callbacks
