"""scikit-learn estimators built on the torch modules and the one training loop."""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils import check_array, check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from . import losses
from .nn.dense import DenseAutoEncoder
from .nn.layers import ACTIVATIONS, SCALERS, Scaler
from .training import OPTIMIZERS, fit_loop, infer, make_optimizer

_INFER_BATCH = 8192

SAVABLE = ("AutoEncoder",)
"""Classes :mod:`aekit.persistence` may instantiate when loading."""


# --------------------------------------------------------------------------- validation
def check_finite(X: np.ndarray, what: str = "X") -> None:
    """Raise a ValueError naming the rows and columns that hold NaN or infinity."""
    bad = ~np.isfinite(X)
    if bad.any():
        rows = np.flatnonzero(bad.any(axis=tuple(range(1, X.ndim))))
        cols = np.flatnonzero(bad.reshape(len(X), -1).any(axis=0))
        raise ValueError(
            f"{what} contains NaN or infinity in {len(rows)} row(s) {_head(rows)} and "
            f"{len(cols)} column(s) {_head(cols)}; drop or impute them first "
            "(e.g. sklearn.impute.SimpleImputer in a Pipeline)."
        )


def _head(idx: np.ndarray, k: int = 10) -> str:
    shown = ", ".join(map(str, idx[:k].tolist()))
    return f"[{shown}{', ...' if len(idx) > k else ''}]"


def _check_positive(name: str, value, kind=numbers.Integral, allow_zero: bool = False) -> None:
    ok = isinstance(value, kind) and not isinstance(value, bool)
    if ok:
        ok = value >= 0 if allow_zero else value > 0
    if not ok:
        want = "an integer" if kind is numbers.Integral else "a number"
        sign = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be {want} {sign}, got {value!r}")


def _check_choice(name: str, value, choices: Sequence) -> None:
    if value not in choices:
        raise ValueError(f"{name}={value!r} is not supported; use one of {list(choices)}")


def resolve_device(device: str | torch.device) -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; anything else is passed to torch."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"device={device!r} is not a torch device ('auto', 'cpu', 'cuda')") from err
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device='cuda' was asked for but CUDA is not available; use device='auto'")
    return dev


# --------------------------------------------------------------------------- estimator
class AutoEncoder(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Dense autoencoder with scikit-learn's transformer API.

    The input scaler is part of the model: it is fitted in :meth:`fit`, applied before
    encoding, inverted after decoding and saved with the weights, so codes and
    reconstructions are always in the caller's units.

    Parameters
    ----------
    n_components : int, default=2
        Size of the code (bottleneck); the code layer is linear.
    hidden_layer_sizes : tuple of int or "auto", default="auto"
        Encoder hidden widths, from the input inwards; the decoder mirrors them.
        ``()`` gives the one-layer (shallow) autoencoder. ``"auto"`` is two layers,
        ``(max(256, 4 * n_components), max(128, 2 * n_components))``: never narrower than
        the code, so a large code is not throttled by a narrow hidden layer.
    activation : {"elu", "relu", "leaky_relu", "selu", "tanh", "sigmoid", "linear"}, default="elu"
        Hidden-layer activation. ELU does not die like ReLU units do.
    output_activation : {"auto", "sigmoid", "linear"}, default="auto"
        ``"auto"`` uses a sigmoid when the scaled training data lie in [0, 1], else linear.
    scaler : {"standard", "minmax", "sample", None}, default="standard"
        Scaling fitted in the model. ``"sample"`` standardises each row by its own mean and
        spread. ``None`` trains on raw values (rarely a good idea).
    loss : {"mse", "bce"}, default="mse"
        Reconstruction loss in scaled units; ``"bce"`` needs scaled data in [0, 1].
    optimizer : {"adam", "adamw", "sgd", "rmsprop", "adadelta"}, default="adam"
    learning_rate : float, default=1e-3
    weight_decay : float, default=0.0
    batch_size : int, default=128
        Rows per step; the last smaller batch is used too.
    max_epochs : int, default=200
    validation_fraction : float, default=0.1
        Share of the rows held out to watch for early stopping and to pick among restarts.
        Too few rows for both sides disables the hold-out.
    early_stopping : bool, default=True
        Stop when the validation loss has not improved for ``patience`` epochs and
        restore the best weights.
    patience : int, default=20
    tol : float, default=1e-4
        Relative improvement that counts for early stopping.
    n_init : int, default=1
        Independent restarts; the one with the lowest validation loss is kept.
    random_state : int, RandomState instance or None, default=None
        Seeds weights, shuffling and the hold-out. Fits with the same integer are
        bit-for-bit identical on CPU.
    device : str, default="auto"
        ``"auto"`` trains on CUDA when present, else on the CPU.
    verbose : int, default=0
        ``1`` shows a progress bar with loss and val_loss per epoch, and warns about what
        :func:`aekit.diagnose` finds once fitting ends (dead units, collapsed codes, ...).
    log_dir : str or path-like, default=None
        When set, TensorBoard logs go there: losses per epoch and sample reconstructions
        (needs ``pip install aekit[tensorboard]``). With ``n_init > 1`` each restart logs
        into its own ``restart-<i>`` subdirectory.

    Attributes
    ----------
    module_ : DenseAutoEncoder
        The fitted torch module, with ``.encoder``, ``.decoder`` and ``.scaler``.
    history_ : list of dict
        One record per epoch: ``phase``, ``epoch``, ``loss``, ``val_loss``, ``seconds``.
    loss_ : float
        Final training loss (scaled units). ``validation_loss_`` likewise, or None.
    n_iter_ : int
        Epochs run by the kept restart.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when ``X`` had string column names.
    device_ : torch.device

    Examples
    --------
    >>> from aekit import AutoEncoder
    >>> from aekit.datasets import load_digits
    >>> X_train, X_test, _, _ = load_digits(split=True)
    >>> ae = AutoEncoder(n_components=2, random_state=0).fit(X_train)
    >>> ae.transform(X_test).shape
    (450, 2)
    """

    # Fitted, non-tensor state written to config.json by save() (tensors go to safetensors).
    _saved_attributes = (
        "n_features_in_",
        "feature_names_in_",
        "output_activation_",
        "history_",
        "loss_",
        "validation_loss_",
        "n_iter_",
    )

    def __init__(
        self,
        n_components=2,
        *,
        hidden_layer_sizes="auto",
        activation="elu",
        output_activation="auto",
        scaler="standard",
        loss="mse",
        optimizer="adam",
        learning_rate=1e-3,
        weight_decay=0.0,
        batch_size=128,
        max_epochs=200,
        validation_fraction=0.1,
        early_stopping=True,
        patience=20,
        tol=1e-4,
        n_init=1,
        random_state=None,
        device="auto",
        verbose=0,
        log_dir=None,
    ):
        self.n_components = n_components
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.output_activation = output_activation
        self.scaler = scaler
        self.loss = loss
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.validation_fraction = validation_fraction
        self.early_stopping = early_stopping
        self.patience = patience
        self.tol = tol
        self.n_init = n_init
        self.random_state = random_state
        self.device = device
        self.verbose = verbose
        self.log_dir = log_dir

    # ------------------------------------------------------------------ parameters
    def _validate_params(self) -> None:
        _check_positive("n_components", self.n_components)
        sizes = self.hidden_layer_sizes
        if sizes == "auto":
            return
        if not isinstance(sizes, (tuple, list)) or not all(
            isinstance(s, numbers.Integral) and not isinstance(s, bool) and s > 0 for s in sizes
        ):
            raise ValueError(
                f"hidden_layer_sizes must be a tuple of positive integers (or () for a "
                f"one-layer autoencoder), got {sizes!r}"
            )
        _check_choice("activation", self.activation, list(ACTIVATIONS))
        _check_choice("output_activation", self.output_activation, ["auto", "sigmoid", "linear"])
        _check_choice("scaler", self.scaler, SCALERS)
        _check_choice("loss", self.loss, losses.RECONSTRUCTION_LOSSES)
        _check_choice("optimizer", self.optimizer, OPTIMIZERS)
        _check_positive("learning_rate", self.learning_rate, numbers.Real)
        _check_positive("weight_decay", self.weight_decay, numbers.Real, allow_zero=True)
        _check_positive("batch_size", self.batch_size)
        _check_positive("max_epochs", self.max_epochs)
        _check_positive("patience", self.patience)
        _check_positive("tol", self.tol, numbers.Real, allow_zero=True)
        _check_positive("n_init", self.n_init)
        vf = self.validation_fraction
        if not isinstance(vf, numbers.Real) or isinstance(vf, bool) or not 0 <= vf < 1:
            raise ValueError(f"validation_fraction must be in [0, 1), got {vf!r}")

    # ------------------------------------------------------------------ data
    def _check_X(self, X, *, reset: bool) -> np.ndarray:
        X = validate_data(
            self, X, reset=reset, dtype=[np.float64, np.float32], ensure_all_finite=False
        )
        check_finite(X)
        return X

    def _to_tensor(self, X: np.ndarray) -> torch.Tensor:
        # A copy in float32 on the device: the network computes in float32 whatever the input.
        return torch.tensor(X, dtype=torch.float32, device=self.device_)

    @staticmethod
    def _to_numpy(T: torch.Tensor, like: np.ndarray) -> np.ndarray:
        dtype = like.dtype if like.dtype in (np.float32, np.float64) else np.float64
        return T.detach().cpu().numpy().astype(dtype, copy=False)

    # ------------------------------------------------------------------ model
    def _hidden_sizes(self) -> tuple[int, ...]:
        if self.hidden_layer_sizes == "auto":
            k = self.n_components
            return (max(256, 4 * k), max(128, 2 * k))
        return tuple(self.hidden_layer_sizes)

    def _build_module(self, n_features: int) -> DenseAutoEncoder:
        """A fresh, unfitted module for ``n_features`` inputs (used by ``fit`` and ``load``)."""
        return DenseAutoEncoder(
            n_features,
            self.n_components,
            self._hidden_sizes(),
            self.activation,
            self.output_activation_,
            self.scaler,
        )

    def _resolve_output_activation(self, X_scaled: torch.Tensor) -> str:
        if self.output_activation != "auto":
            return self.output_activation
        in_unit = bool((X_scaled.min() >= 0) & (X_scaled.max() <= 1))
        return "sigmoid" if in_unit else "linear"

    def _objective(self, module, x_in, x):
        return {"loss": losses.reconstruction(module(x_in), x, self.loss)}

    # ------------------------------------------------------------------ fit
    def fit(self, X, y=None):
        """Fit the scaler and the network on ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : ignored

        Returns
        -------
        self : AutoEncoder
        """
        self._validate_params()
        X = self._check_X(X, reset=True)
        self.device_ = resolve_device(self.device)
        rng = check_random_state(self.random_state)
        X_all = self._to_tensor(X)

        # The hold-out is drawn once, so restarts are compared on the same rows.
        order = torch.from_numpy(rng.permutation(len(X))).to(self.device_)
        n_val = int(self.validation_fraction * len(X))
        if n_val < 1 or len(X) - n_val < 1:
            n_val = 0
        X_fit, X_val = X_all[order[n_val:]], X_all[order[:n_val]]

        best = None
        for i, seed in enumerate(rng.randint(np.iinfo(np.int32).max, size=self.n_init)):
            logger = self._tensorboard_logger(X_val if n_val else X_fit, i)
            try:
                run = self._fit_once(
                    X_fit, X_val if n_val else None, int(seed), on_epoch_end=logger
                )
            finally:
                if logger is not None:
                    logger.close()
            if best is None or run["score"] < best["score"]:
                best = run
        self.module_ = best["module"]
        self.history_ = best["history"]
        self.loss_ = self.history_[-1]["loss"] if self.history_ else None
        self.validation_loss_ = best["val_loss"]
        self.n_iter_ = sum(r["phase"] == "train" for r in self.history_)
        if self.verbose:
            # Lazy: diagnostics sits below estimators in the import order.
            from .diagnostics import warn_findings

            warn_findings(self, X)
        return self

    def _tensorboard_logger(self, X_sample: torch.Tensor, restart: int):
        """A TensorBoard ``on_epoch_end`` callback when ``log_dir`` is set, else None."""
        if self.log_dir is None:
            return None
        from pathlib import Path

        from ._tensorboard import TensorBoardLogger

        log_dir = Path(self.log_dir)
        if self.n_init > 1:
            log_dir = log_dir / f"restart-{restart}"
        return TensorBoardLogger(log_dir, X_sample[:8])

    def _fit_once(
        self, X_fit: torch.Tensor, X_val: torch.Tensor | None, seed: int, on_epoch_end=None
    ) -> dict:
        devices = [self.device_.index or 0] if self.device_.type == "cuda" else []
        # A forked RNG keeps fits reproducible without touching the caller's global seed.
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            scaler = Scaler(X_fit.shape[1], self.scaler).to(self.device_).fit(X_fit)
            X_fit_s = scaler(X_fit)
            self.output_activation_ = self._resolve_output_activation(X_fit_s)
            in_unit = bool((X_fit_s.min() >= 0) & (X_fit_s.max() <= 1))
            if self.loss == "bce" and (self.output_activation_ != "sigmoid" or not in_unit):
                raise ValueError(
                    "loss='bce' needs scaled data in [0, 1] and a sigmoid output; use "
                    "scaler='minmax' (or data already in [0, 1] with scaler=None) and "
                    "output_activation='auto' or 'sigmoid', or use loss='mse'."
                )
            module = self._build_module(X_fit.shape[1]).to(self.device_)
            module.scaler.load_state_dict(scaler.state_dict())
            X_val_s = module.scaler(X_val) if X_val is not None else None
            optimizer = make_optimizer(
                self.optimizer, module.parameters(), self.learning_rate, self.weight_decay
            )
            history = fit_loop(
                module,
                self._objective,
                X_fit_s,
                X_val_s,
                optimizer=optimizer,
                batch_size=self.batch_size,
                max_epochs=self.max_epochs,
                patience=self.patience if self.early_stopping else None,
                tol=self.tol,
                verbose=self.verbose,
                on_epoch_end=on_epoch_end,
            )
        val_losses = [r["val_loss"] for r in history if r["val_loss"] is not None]
        val_loss = min(val_losses) if self.early_stopping and val_losses else (
            val_losses[-1] if val_losses else None
        )
        score = val_loss if val_loss is not None else history[-1]["loss"]
        return {"module": module.eval(), "history": history, "val_loss": val_loss, "score": score}

    # ------------------------------------------------------------------ inference
    def transform(self, X):
        """Encode rows into codes.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        Z : ndarray of shape (n_samples, n_components)
        """
        check_is_fitted(self)
        X = self._check_X(X, reset=False)
        Z = infer(self.module_.encode, self._to_tensor(X), _INFER_BATCH)
        return self._to_numpy(Z, X)

    def inverse_transform(self, X):
        """Decode codes into rows in the caller's units (scaling inverted).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_components)
            Codes, as returned by :meth:`transform`.

        Returns
        -------
        X_original : ndarray of shape (n_samples, n_features_in_)
        """
        check_is_fitted(self)
        Z = check_array(X, dtype=[np.float64, np.float32], ensure_all_finite=False)
        check_finite(Z, "codes")
        if Z.shape[1] != self.n_components:
            raise ValueError(
                f"inverse_transform expects codes with {self.n_components} columns "
                f"(n_components), got {Z.shape[1]}; pass the output of transform()."
            )
        X_hat = infer(self.module_.decode, self._to_tensor(Z), _INFER_BATCH)
        return self._to_numpy(X_hat, Z)

    def _reconstruct_tensor(self, X: torch.Tensor) -> torch.Tensor:
        module = self.module_
        return infer(lambda x: module.decode(module.encode(x), like=x), X, _INFER_BATCH)

    def reconstruct(self, X):
        """``decode(encode(X))`` in the caller's units.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        X_hat : ndarray of shape (n_samples, n_features)
        """
        check_is_fitted(self)
        X = self._check_X(X, reset=False)
        return self._to_numpy(self._reconstruct_tensor(self._to_tensor(X)), X)

    def score_samples(self, X):
        """Per-row negative mean squared reconstruction error, in the caller's units.

        Higher is better, as everywhere in scikit-learn; ``-score_samples(X)`` is each
        row's reconstruction error (useful to rank anomalies).

        Returns
        -------
        scores : ndarray of shape (n_samples,)
        """
        check_is_fitted(self)
        X = self._check_X(X, reset=False)
        X_t = self._to_tensor(X)
        err = (self._reconstruct_tensor(X_t) - X_t).pow(2).mean(1)
        return -err.cpu().numpy().astype(np.float64)

    def score(self, X, y=None):
        """Negative mean squared reconstruction error (caller's units); higher is better.

        Equals ``score_samples(X).mean()``, so GridSearchCV picks the best reconstruction.
        """
        return float(np.mean(self.score_samples(X)))

    @property
    def _n_features_out(self) -> int:
        return self.n_components

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        tags.non_deterministic = False
        return tags

    # ------------------------------------------------------------------ persistence
    def save(self, path) -> None:
        """Save to directory ``path`` (safetensors weights + JSON); see :func:`aekit.load`."""
        from .persistence import save

        save(self, path)
