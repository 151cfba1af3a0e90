"""A classifier on an autoencoder's encoder: pretrain without labels, then classify."""

from __future__ import annotations

import copy

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from .. import distributed
from .._checks import SizeTuple, check_finite, resolve_device, seeded_torch_rng, to_tensor
from ..nn.classifier import EncoderClassifierNet
from ..nn.dense import mlp
from ..objectives import CrossEntropy
from ..training import (
    FitInterrupted,
    autocast_dtype,
    fit_loop,
    infer,
    init_state,
    kept_record,
    make_optimizer,
)
from ._base import (
    INFER_BATCH,
    SCHEDULE_CONSTRAINT,
    TRAINING_CONSTRAINTS,
    BaseAutoEncoder,
    SavableMixin,
    loop_callbacks,
    validate_params,
)
from ._recovery import fit_atomically
from ._summary import SummaryMixin


class EncoderClassifier(SummaryMixin, SavableMixin, ClassifierMixin, BaseEstimator):
    """A classifier head on an autoencoder's encoder: pretrain without labels, then classify.

    The network is ``head(encoder(scaler(x)))``: the autoencoder's in-model scaler and
    encoder (copied, never changed in place) and a small MLP head, trained with
    cross-entropy by the same fit loop as the autoencoders.

    Parameters
    ----------
    autoencoder : AutoEncoder or VariationalAutoEncoder
        Fitted: its scaler and encoder weights are the starting point (``X`` passed to
        :meth:`fit` must have its ``n_features_in_``). Unfitted: a clone of it is first fitted
        on the ``X`` passed to :meth:`fit` (labels unused), then used the same way. The
        object passed is never modified. A :class:`VariationalAutoEncoder` contributes its
        posterior mean.
    head_hidden : tuple of int, default=()
        Hidden widths of the head; ``()`` is a linear (softmax-regression) head. Hidden
        layers use the autoencoder's ``activation``.
    freeze : bool, default=True
        True trains the head only: the encoder's weights stay fixed (and it runs in eval
        mode). False fine-tunes encoder and head together.
    optimizer : {"adam", "adamw", "sgd", "rmsprop", "adadelta"}, default="adam"
    learning_rate : float, default=None
        Step size of the optimizer, or None for its own default (1e-3 for adam, see
        :class:`AutoEncoder`).
    lr_schedule : {"plateau", "constant"}, default="plateau"
    weight_decay : float, default=0.0
    batch_size : int, default=128
    max_epochs : int, default=200
    validation_fraction : float, default=0.1
        Share of the rows held out (stratified when every class has 2 rows or more) to
        watch for early stopping; too few rows for both sides disables the hold-out.
    early_stopping : bool, default=True
        Stop when the validation loss (else the training loss) has not improved for
        ``patience`` epochs and restore the best weights.
    patience : int, default=20
    tol : float, default=1e-4
    random_state : int, RandomState instance or None, default=None
        Seeds the head's weights, shuffling and the hold-out. An unfitted ``autoencoder``
        is fitted with its own ``random_state``.
    device : str, default="auto"
    precision : {"float32", "bfloat16", "auto"}, default="float32"
        Arithmetic of the training steps. The default, float32, gives the same result for
        the same seed on every machine. ``"bfloat16"`` (opt-in) runs matrix products under
        ``torch.autocast`` (weights, optimizer state and losses stay float32): on CPUs with
        AMX or AVX512-BF16 and on Ampere or newer GPUs an epoch takes about half the time
        (``bench/fit_speed.py``) for a test error within 1% of float32's; elsewhere it is
        emulated and slower. It is safe for reconstruction of data scaled to O(1); avoid it
        where exactness matters (``init="identity"`` checks, tiny-variance data with
        ``scaler=None``). ``"auto"`` is bfloat16 where the hardware has it natively, else
        float32. Inference is always float32.
    verbose : int, default=0

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    module_ : aekit.nn.classifier.EncoderClassifierNet
        ``.scaler``, ``.encoder`` (copies of the autoencoder's) and ``.head``.
    autoencoder_ : AutoEncoder or VariationalAutoEncoder
        The fitted autoencoder the encoder comes from: a copy of ``autoencoder`` when it
        was given fitted, else the clone fitted on ``X``. Saved and loaded with the
        classifier.
    history_ : list of dict
        Per epoch: ``loss`` (cross-entropy), ``accuracy`` (training), ``val_loss``, ...
    loss_, validation_loss_, n_iter_, n_features_in_, feature_names_in_, device_
        As for :class:`AutoEncoder`.

    Notes
    -----
    A saved and loaded classifier predicts identically; its ``autoencoder`` parameter comes
    back unfitted (same parameters), so refitting it refits the autoencoder on the new
    ``X``, while ``autoencoder_`` comes back fitted.

    Examples
    --------
    >>> from aekit import AutoEncoder, EncoderClassifier
    >>> from aekit.data import load_digits
    >>> X_train, X_test, y_train, y_test = load_digits(split=True)
    >>> ae = AutoEncoder(n_components=16, random_state=0).fit(X_train)
    >>> clf = EncoderClassifier(ae, random_state=0).fit(X_train[:200], y_train[:200])
    >>> clf.predict(X_test).shape
    (450,)
    """

    _parameter_constraints: dict = {
        "autoencoder": [BaseAutoEncoder],
        "head_hidden": [SizeTuple()],
        "freeze": ["boolean"],
        **SCHEDULE_CONSTRAINT,
        **TRAINING_CONSTRAINTS,
    }

    _saved_attributes = (
        "n_features_in_",
        "feature_names_in_",
        "classes_",
        "autoencoder_",
        "history_",
        "loss_",
        "validation_loss_",
        "n_iter_",
    )

    def __init__(
        self,
        autoencoder,
        *,
        head_hidden=(),
        freeze=True,
        optimizer="adam",
        learning_rate=None,
        lr_schedule="plateau",
        weight_decay=0.0,
        batch_size=128,
        max_epochs=200,
        validation_fraction=0.1,
        early_stopping=True,
        patience=20,
        tol=1e-4,
        random_state=None,
        device="auto",
        precision="float32",
        verbose=0,
    ):
        self.autoencoder = autoencoder
        self.head_hidden = head_hidden
        self.freeze = freeze
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.lr_schedule = lr_schedule
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.validation_fraction = validation_fraction
        self.early_stopping = early_stopping
        self.patience = patience
        self.tol = tol
        self.random_state = random_state
        self.device = device
        self.precision = precision
        self.verbose = verbose

    def _check_params(self) -> None:
        """No rule combines this estimator's parameters; each has its constraint."""

    def _check_X(self, X, *, reset: bool) -> np.ndarray:
        # Flat rows only: an autoencoder fitted on images takes them flattened here.
        X = validate_data(
            self, X, reset=reset, dtype=[np.float64, np.float32], ensure_all_finite=False
        )
        check_finite(X)
        return X

    def _fitted_autoencoder(self, X: np.ndarray) -> BaseAutoEncoder:
        """A fitted autoencoder of this classifier's own: a copy, never the object given."""
        autoencoder = self.autoencoder
        try:
            check_is_fitted(autoencoder)
        except NotFittedError:
            return clone(autoencoder).fit(X)
        if autoencoder.n_features_in_ != X.shape[1]:
            raise ValueError(
                f"X has {X.shape[1]} features but the fitted autoencoder was fitted on "
                f"{autoencoder.n_features_in_}; pass rows like those it was fitted on, or an "
                "unfitted autoencoder to fit on X."
            )
        return copy.deepcopy(autoencoder)

    def _build_module(self, n_features: int) -> EncoderClassifierNet:
        """The network on ``autoencoder_``'s scaler and encoder (copies) and a fresh head
        (used by ``fit`` and ``load``)."""
        body = self.autoencoder_.module_
        sizes = [self.autoencoder_.n_components, *self.head_hidden, len(self.classes_)]
        head = mlp(sizes, self.autoencoder_.activation, "linear")
        return EncoderClassifierNet(copy.deepcopy(body.scaler), copy.deepcopy(body.encoder),
                                    head, freeze_encoder=self.freeze)

    def _split(self, y_idx: np.ndarray, rng) -> tuple[np.ndarray, np.ndarray]:
        """(fit rows, validation rows); stratified when every class can be on both sides."""
        n = len(y_idx)
        n_val = int(self.validation_fraction * n)
        if n_val < 1 or n - n_val < 1:
            return np.arange(n), np.arange(0)
        counts = np.bincount(y_idx)
        n_classes = len(counts)
        stratify = y_idx if counts.min() >= 2 and min(n_val, n - n_val) >= n_classes else None
        fit_rows, val_rows = train_test_split(
            np.arange(n), test_size=n_val, stratify=stratify, random_state=rng
        )
        return fit_rows, val_rows

    def fit(self, X, y):
        """Fit the autoencoder if it is not fitted, then the head (and encoder) on (X, y).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)

        Returns
        -------
        self : EncoderClassifier

        Raises
        ------
        aekit.training.FitInterrupted
            On Ctrl-C (SIGINT) or SIGTERM, at the end of the step under way. The classifier
            is left as it was; the exception's ``estimator`` is a fitted copy holding the
            best weights trained so far (None when no epoch finished).
        """
        validate_params(self)
        return fit_atomically(self, EncoderClassifier._fit, X, y)

    def _fit(self, X, y):
        """:meth:`fit`, on the working copy :func:`fit_atomically` gives."""
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32], ensure_all_finite=False)
        check_finite(X)
        check_classification_targets(y)
        self.classes_, y_idx = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(
                f"EncoderClassifier needs at least 2 classes in y, got 1 class "
                f"({self.classes_[0]!r}); there is nothing to classify."
            )
        self.device_ = resolve_device(self.device)
        self.autoencoder_ = self._fitted_autoencoder(X)
        # Several processes: random_state=None becomes one seed shared by every rank.
        rng = check_random_state(distributed.same_random_state(self.random_state))
        fit_rows, val_rows = self._split(y_idx, rng)
        X_t = to_tensor(X, self.device_)
        Y_t = torch.as_tensor(y_idx, dtype=torch.long, device=self.device_)
        with seeded_torch_rng(self.device_, int(rng.randint(np.iinfo(np.int32).max))):
            module = self._build_module(X.shape[1]).to(self.device_)
            X_s = module.scaler(X_t)
            fit_rows, val_rows = (
                torch.as_tensor(r, device=self.device_) for r in (fit_rows, val_rows)
            )
            state = init_state(module, make_optimizer(
                self.optimizer, module.parameters(), self.learning_rate, self.weight_decay))
            try:
                fit_loop(
                    state,
                    CrossEntropy(),
                    {"x": X_s[fit_rows], "y": Y_t[fit_rows]},
                    {"x": X_s[val_rows], "y": Y_t[val_rows]} if len(val_rows) else None,
                    batch_size=self.batch_size,
                    max_epochs=self.max_epochs,
                    autocast=autocast_dtype(self.precision, self.device_),
                    callbacks=loop_callbacks(self),
                )
            except FitInterrupted as err:  # the best epoch so far, in this working copy
                if kept_record(state["history"]) is not None:
                    self._keep(module, state["history"])
                    err.estimator = self
                raise
        return self._keep(module, state["history"])

    def _keep(self, module, history: list[dict]):
        """Take the trained module and its history as the fitted model."""
        self.module_ = module.eval()
        self.history_ = history
        self.loss_ = self.history_[-1]["loss"]
        self.validation_loss_ = kept_record(self.history_)["val_loss"]
        self.n_iter_ = len(self.history_)
        return self

    def predict_proba(self, X):
        """Class probabilities.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Columns in the order of ``classes_``; rows sum to 1.
        """
        return torch.softmax(self._logits(X), dim=1).cpu().numpy()

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`, shape (n_samples, n_classes)."""
        return torch.log_softmax(self._logits(X), dim=1).cpu().numpy()

    def _logits(self, X) -> torch.Tensor:
        check_is_fitted(self)
        X = self._check_X(X, reset=False)
        logits = infer(self.module_.logits, to_tensor(X, self.device_), INFER_BATCH)
        # float64 from here: probabilities sum to 1 to double precision.
        return logits.double()

    def predict(self, X):
        """Most probable class of each row, shape (n_samples,)."""
        check_is_fitted(self)
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags
