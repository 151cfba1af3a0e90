"""A classifier on an autoencoder's encoder: pretrain without labels, then classify; with
unlabelled rows (``y == -1``), semi-supervised by label propagation in the encoder's space."""

from __future__ import annotations

import copy
import math
from numbers import Integral, Real

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_consistent_length, check_is_fitted, column_or_1d

from ..core import distributed
from ..data.agreement import check_same_data
from ..core.checks import (
    Interval,
    SizeTuple,
    StrOptions,
    resolve_device,
    seeded_torch_rng,
    to_tensor,
    user_warning,
)
from ..training.callbacks import RunHooks, check_callbacks, fit_hooks
from ..training.sanity import check_kept_model
from ..nn.classifier import EncoderClassifierNet, encoder_layers, feature_width
from ..nn.dense import mlp
from ..training.objectives import CrossEntropy
from .propagation import knn_graph, pseudo_labels, spread_labels, whiten
from .labels import UNLABELLED, LabelledPredictionsMixin, check_labels
from .recipe import warn_if_raw_inputs_win
from ..training.loop import (
    FitInterrupted,
    autocast_dtype,
    fit_loop,
    infer,
    init_state,
    kept_record,
    make_optimizer,
    resolve_learning_rate,
)
from ..estimators._base import INFER_BATCH, BaseAutoEncoder, SavableMixin
from ..core.fitted import as_fitted, changed, changed_params
from ..estimators._params import TRAINING as _SHARED
from ..estimators._params import (loop_callbacks, stopping_idle_params, validate_params,
                                  warn_idle_params)
from ..estimators._recovery import IGNORED, fit_atomically
from ..estimators._tables import InputMixin
from ..estimators._summary import SummaryMixin

PROPAGATION_STEPS = 2000
"""Batches per propagation round with ``propagation_epochs="auto"``."""

NEARLY_CONSTANT = 1e-3
"""A unit whose spread (standard deviation) over the rows is at most this share of its
largest magnitude counts as nearly constant in the learned-nothing diagnosis: a saturated
or dead unit, whose differences a head trained at a normal rate does not pick up."""

PSEUDO_LABEL_SMOOTHING = 0.1
"""Label smoothing (Müller, Kornblith & Hinton 2019) of the propagation rounds' targets:
better calibrated probabilities when a small hold-out fits the temperature badly
(docs/decisions.md, "Few labels")."""

EARLY_STOPPING_ROWS = 50
"""Fewest held-out labelled rows whose loss may choose the epoch (see ``early_stopping``)."""

class UnreadInThisFitWarning(UserWarning):
    """A parameter set away from its default that this fit's labels leave unread:
    ``max_epochs`` when rows labelled ``-1`` are propagated to, the propagation's parameters
    when no row is. :func:`~aekit.semisupervised.comparison.compare_few_labels` fits one
    classifier both ways and ignores it."""


TRAINING = _SHARED.override(
    max_epochs={"note": "Here: of training on the labelled rows alone (no unlabelled rows, or\n"
                        "``semi_supervised=None``)."},
    validation_fraction={"note": "Here: a share of the labelled rows (stratified when every "
                                 "class has 2 rows\nor more), which also fits the "
                                 "temperature."},
    early_stopping={"note": f"Not with a hold-out of fewer than {EARLY_STOPPING_ROWS} "
                            "labelled rows, whose loss is\ntoo noisy to choose an epoch by: "
                            "the last epoch is kept (docs/decisions.md)."},
    random_state={"note": "An unfitted ``autoencoder`` is fitted with its own "
                          "``random_state``."},
)
"""The training parameters as the classifier documents them."""

@TRAINING.document
class EncoderClassifier(InputMixin, SummaryMixin, SavableMixin, LabelledPredictionsMixin,
                        ClassifierMixin, BaseEstimator):
    """A classifier on an autoencoder's encoder; semi-supervised when some rows have no label.

    The network is ``head(layers(scaler(x)))``: the autoencoder's in-model scaler, its
    encoder's lowest layers up to ``layer`` (copies, never changed in place) and a small MLP
    head, trained with cross-entropy by the same fit loop as the autoencoders.

    **Few labels, many rows** (scikit-learn's convention of :mod:`sklearn.semi_supervised`):
    rows whose label is ``-1`` are unlabelled. Every row of ``X`` trains the autoencoder
    (when it is fitted here); with ``semi_supervised="propagation"`` they also train the
    classifier, by label propagation in the encoder's space (Iscen, Tolias, Avrithis & Chum
    2019, "Label propagation for deep semi-supervised learning", CVPR; the spreading is Zhou
    et al. 2004's). Each of ``propagation_rounds`` rounds (see
    :mod:`aekit.semisupervised.propagation`):

    1. encode every row up to ``layer``, whiten the representations and link each row to
       its ``n_neighbors`` most cosine-similar rows;
    2. spread the known labels over that graph: every row gets a pseudo-label, weighted by
       its certainty (1 - normalised entropy of its spread scores) and a class balance;
    3. train layers and head for ``propagation_epochs`` epochs on all rows: known labels
       with weight 1, pseudo-labels with their weights (:class:`~aekit.training.objectives.
       CrossEntropy` with row weights and label smoothing 0.1).

    The next round builds its graph on the fine-tuned layers (why this method, and the
    alternatives measured against it: ``docs/decisions.md``, "Few labels", and
    ``bench/few_labels.py``). :meth:`predict_proba` is calibrated by temperature scaling
    (Guo et al. 2017) on the labelled hold-out.

    Parameters
    ----------
    autoencoder : AutoEncoder or VariationalAutoEncoder
        Fitted: its scaler and encoder weights are the starting point (``X`` passed to
        :meth:`fit` must have its ``n_features_in_``). Unfitted: a clone of it is first fitted
        on every row of the ``X`` passed to :meth:`fit` (labels unused, unlabelled rows
        included), then used the same way. The object passed is never modified; a fitted
        one stays fitted through :func:`sklearn.base.clone`, so ``GridSearchCV`` and
        ``cross_val_score`` reuse its pretraining in every fold. A fitted one whose
        parameters were changed since its fit (``set_params(autoencoder__n_components=2)``,
        a grid over ``autoencoder__*``) is treated as unfitted: a clone of it, with the new
        parameters, is fitted on ``X`` (``set_params`` takes effect at the next ``fit``, as
        in scikit-learn). A :class:`VariationalAutoEncoder` contributes its posterior mean.
    layer : int or "code", default=1
        Which representation the head reads: ``j``, the output of the encoder's ``j``-th
        layer (1 is the first hidden layer), reusing only the layers up to it, or
        ``"code"``, the code (all of the encoder).
    head_hidden : tuple of int, default=()
        Hidden widths of the head; ``()`` is a linear (softmax-regression) head. Hidden
        layers use the autoencoder's ``activation``.
    freeze : bool or int, default=False
        Which reused encoder layers stay fixed (no gradients, eval mode, so they compute
        exactly what they computed before): ``True`` all of them (only the head trains),
        ``False`` none (fine-tuning), ``k`` the lowest ``k``.
    encoder_lr_ratio : float, default=0.1
        Learning rate of the fine-tuned encoder layers, as a fraction of ``learning_rate``
        (the head's): pretrained layers move slowly, so the few labels refine what the
        autoencoder learned from all rows instead of overwriting it.
    semi_supervised : {"propagation", None}, default="propagation"
        What rows labelled ``-1`` do for the classifier (they always train an autoencoder
        fitted here): ``"propagation"`` spreads the labels to them over a nearest-neighbour
        graph and trains on them; ``None`` leaves them out of the classifier's fit.
    n_neighbors : int, default=5
        Neighbours of each row in the propagation graph.
    propagation_rounds : int, default=2
        Rounds of propagation and training; one when every reused layer is frozen (the
        graph would not change).
    propagation_epochs : int or "auto", default="auto"
        Epochs over all rows in each round, without early stopping (a hold-out of a few
        labels is too small to choose among epochs, so the last epoch is kept).
        ``"auto"``: enough epochs for about 2,000 batches (5 epochs of 60,000 rows in
        batches of 128; 180 of 1,347 rows), so that small and large data train alike.
    calibrate : bool, default=True
        Fit a temperature for :meth:`predict_proba` on the labelled hold-out
        (``validation_fraction``); the predicted classes do not change. Without a hold-out
        the temperature is 1.
    <training parameters>

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The labels seen, without ``-1``.
    module_ : aekit.nn.classifier.EncoderClassifierNet
        ``.scaler``, ``.encoder`` (copies of the autoencoder's reused layers) and ``.head``.
    autoencoder_ : AutoEncoder or VariationalAutoEncoder
        The fitted autoencoder the encoder comes from: a copy of ``autoencoder`` when it
        was given fitted (and unchanged since), else the clone fitted on ``X``. Saved and
        loaded with the classifier.
    temperature_ : float
        The logits are divided by it in :meth:`predict_proba` (1: uncalibrated); held by
        ``module_.temperature``, so an exported model (:func:`aekit.export_onnx`) gives the
        same probabilities.
    n_labelled_, n_unlabelled_ : int
        Rows of ``X`` with a label and with ``-1``.
    history_ : list of dict
        Per epoch: ``phase`` (``"train"``, or ``"propagation-1"``, ...), ``loss``,
        ``accuracy`` (training), ``val_loss``, ...
    schema_ : aekit.data.schema.InputSchema
        ``autoencoder_``'s input schema: the classifier takes what its autoencoder takes
        (arrays, sparse matrices, DataFrames with numeric, boolean, text and categorical
        columns, missing numbers as the autoencoder's ``missing`` says).
    loss_, validation_loss_, n_iter_, n_features_in_, feature_names_in_, device_
        As for :class:`AutoEncoder`.
    fitted_params_ : dict
        The parameters as ``fit`` saw them, which the fitted model is built from (``save``
        and :func:`aekit.load` too); ``set_params`` takes effect at the next ``fit``. See
        :class:`AutoEncoder`.

    Notes
    -----
    The propagation graph costs O(n^2 d) for n rows of d dimensions (d <= 256 after
    whitening): tens of seconds per round for 60,000 rows on 2 CPU cores, in bounded
    memory. A saved and loaded classifier predicts
    identically; its ``autoencoder`` parameter comes back unfitted (same parameters), so
    refitting it refits the autoencoder on the new ``X``, while ``autoencoder_`` comes back
    fitted. :meth:`score` leaves out rows labelled ``-1``, so cross-validation
    (``GridSearchCV``) on semi-supervised data scores each fold on its labelled rows.

    Examples
    --------
    >>> import numpy as np
    >>> from aekit import AutoEncoder, EncoderClassifier
    >>> from aekit.data import load_digits
    >>> X_train, X_test, y_train, y_test = load_digits(split=True)
    >>> y_few = np.full_like(y_train, -1)
    >>> y_few[:100] = y_train[:100]  # 100 labels, 1,247 unlabelled rows
    >>> clf = EncoderClassifier(AutoEncoder(n_components=16, random_state=0), random_state=0)
    >>> clf.fit(X_train, y_few).predict(X_test).shape
    (450,)
    """

    _parameter_constraints: dict = {
        "autoencoder": [BaseAutoEncoder],
        "layer": [StrOptions({"code"}), Interval(Integral, 1, None, closed="left")],
        "head_hidden": [SizeTuple()],
        "freeze": ["boolean", Interval(Integral, 0, None, closed="left")],
        "encoder_lr_ratio": [Interval(Real, 0, None, closed="neither")],
        "semi_supervised": [StrOptions({"propagation"}), None],
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "propagation_rounds": [Interval(Integral, 1, None, closed="left")],
        "propagation_epochs": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "calibrate": ["boolean"],
    }

    _saved_attributes = (
        "n_features_in_",
        "feature_names_in_",
        "classes_",
        "autoencoder_",
        "n_labelled_",
        "n_unlabelled_",
        "history_",
        "loss_",
        "validation_loss_",
        "n_iter_",
        "schema_",
    )

    def __init__(
        self,
        autoencoder,
        *,
        layer=1,
        head_hidden=(),
        freeze=False,
        encoder_lr_ratio=0.1,
        semi_supervised="propagation",
        n_neighbors=5,
        propagation_rounds=2,
        propagation_epochs="auto",
        calibrate=True,
        optimizer=TRAINING.optimizer,
        learning_rate=TRAINING.learning_rate,
        lr_schedule=TRAINING.lr_schedule,
        weight_decay=TRAINING.weight_decay,
        batch_size=TRAINING.batch_size,
        max_epochs=TRAINING.max_epochs,
        validation_fraction=TRAINING.validation_fraction,
        early_stopping=TRAINING.early_stopping,
        patience=TRAINING.patience,
        tol=TRAINING.tol,
        random_state=TRAINING.random_state,
        device=TRAINING.device,
        precision=TRAINING.precision,
        verbose=TRAINING.verbose,
        callbacks=TRAINING.callbacks,
    ):
        self.autoencoder = autoencoder
        self.layer = layer
        self.head_hidden = head_hidden
        self.freeze = freeze
        self.encoder_lr_ratio = encoder_lr_ratio
        self.semi_supervised = semi_supervised
        self.n_neighbors = n_neighbors
        self.propagation_rounds = propagation_rounds
        self.propagation_epochs = propagation_epochs
        self.calibrate = calibrate
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
        self.callbacks = callbacks

    def _check_params(self) -> None:
        """``layer`` and ``freeze`` are checked against the encoder in ``_build_module``."""

    def __sklearn_clone__(self):
        """scikit-learn's clone, except that a fitted ``autoencoder`` stays fitted (a copy
        with its weights): its pretraining is a parameter here, not a fit of this
        classifier, and a clone that dropped it would refit it on each fold's rows."""
        # scikit-learn's own clone first: it also carries the metadata requests
        # (set_score_request) and the set_output configuration, which a clone built from
        # the parameters alone dropped (cross_validate then failed on every fold).
        new = super().__sklearn_clone__()
        try:
            check_is_fitted(self.autoencoder)
        except (NotFittedError, TypeError):
            return new
        new.autoencoder = copy.deepcopy(self.autoencoder)  # the grid's set_params stays here
        return new

    def _fitted_autoencoder(self, X) -> BaseAutoEncoder:
        """A fitted autoencoder of this classifier's own (a copy, never the object given),
        fitted on ``X`` as the caller gave it when it is not fitted, or when its parameters
        changed since its fit (``set_params``, a grid over ``autoencoder__*``)."""
        autoencoder = self.autoencoder
        try:
            check_is_fitted(autoencoder)
            fitted = getattr(autoencoder, "fitted_params_", None)
            # scikit-learn's rule: set_params acts at the next fit. Weights built with other
            # parameters would be reused under the new ones (every grid point the same).
            now = {k: v for k, v in autoencoder.get_params(deep=False).items()
                   if k not in IGNORED}  # verbose, log_dir, ...: the same weights
            refit = fitted is not None and bool(changed(fitted, now))
        except NotFittedError:
            refit = True
        if not refit:
            return copy.deepcopy(autoencoder)
        try:
            return clone(autoencoder).fit(X)
        except FitInterrupted as err:  # stopped before the classifier trained at all
            err.estimator = None
            raise

    def _reused_layers(self) -> tuple[list[torch.nn.Module], int]:
        """Copies of the encoder layers the head sits on, and how many of them are frozen."""
        layers = encoder_layers(copy.deepcopy(self.autoencoder_.module_.encoder))
        n = len(layers)
        if self.layer != "code":
            if self.layer > n:
                raise ValueError(
                    f"layer={self.layer} but the encoder has {n} layers ({n - 1} hidden, then "
                    f"the code); use 1 to {n}, or 'code'."
                )
            layers = layers[: self.layer]
        if isinstance(self.freeze, bool):
            n_frozen = len(layers) if self.freeze else 0
        elif self.freeze > len(layers):
            raise ValueError(
                f"freeze={self.freeze} but the head reuses {len(layers)} encoder layers; "
                f"freeze at most {len(layers)} (or True for all of them)."
            )
        else:
            n_frozen = int(self.freeze)
        return layers, n_frozen

    def _build_module(self, n_features: int) -> EncoderClassifierNet:
        """The network on copies of ``autoencoder_``'s scaler and lower encoder layers and a
        fresh head (used by ``fit`` and ``load``)."""
        layers, n_frozen = self._reused_layers()
        width = feature_width(layers, n_features)
        head = mlp([width, *self.head_hidden, len(self.classes_)],
                   as_fitted(self.autoencoder_).activation, "linear")
        scaler = copy.deepcopy(self.autoencoder_.module_.scaler)
        return EncoderClassifierNet(scaler, layers, head, n_frozen=n_frozen)

    def _split(self, y_idx: np.ndarray, rng) -> tuple[np.ndarray, np.ndarray]:
        """(fit rows, validation rows); stratified when every class can be on both sides;
        every class keeps at least one fitted row."""
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
        # A class whose rows all fell into the hold-out would never be trained on (a class
        # of one labelled row, say): its rows go back to the fitted ones.
        lost = np.setdiff1d(np.unique(y_idx), y_idx[fit_rows])
        if len(lost):
            back = np.isin(y_idx[val_rows], lost)
            fit_rows, val_rows = np.concatenate([fit_rows, val_rows[back]]), val_rows[~back]
        return fit_rows, val_rows

    def fit(self, X, y):
        """Fit the autoencoder if it is not fitted, then the head (and encoder) on (X, y).

        Parameters
        ----------
        X : array-like, sparse matrix or DataFrame of shape (n_samples, n_features)
            Whatever the autoencoder takes (a DataFrame's text and categorical columns
            included); an unfitted autoencoder is first fitted on it as given.
        y : array-like of shape (n_samples,)
            Class labels; ``-1`` marks an unlabelled row (see the class docstring).

        Returns
        -------
        self : EncoderClassifier

        Raises
        ------
        aekit.training.loop.FitInterrupted
            On Ctrl-C (SIGINT) or SIGTERM, at the end of the step under way. The classifier
            is left as it was; the exception's ``estimator`` is a fitted copy holding the
            best weights trained so far (None when no epoch finished).
        """
        validate_params(self)
        warn_idle_params(self)
        check_same_data(X=X, y=y)  # under torchrun: every process was given the same
        return fit_atomically(self, EncoderClassifier._fit, X, y)

    # What only label propagation reads (semi_supervised="propagation").
    _PROPAGATION_PARAMS = ("n_neighbors", "propagation_rounds", "propagation_epochs")

    def _idle_params(self) -> dict[str, tuple[str, tuple | str]]:
        """The parameters nothing reads with the present switches (:func:`warn_idle_params`):
        ``patience`` and ``tol`` without early stopping, the propagation's without
        propagation, and what acts on fine-tuned encoder layers when every one is frozen."""
        idle: dict[str, tuple[str, tuple | str]] = dict(stopping_idle_params(self))
        if isinstance(self.freeze, (bool, np.bool_)) and self.freeze:
            acting = "=False or a number of frozen layers"
            idle["encoder_lr_ratio"] = ("freeze", f"{acting} (freeze=True trains the head "
                                                  "alone)")
            idle["propagation_rounds"] = ("freeze", f"{acting} (the graph of a frozen "
                                                    "encoder never changes: one round)")
        if self.semi_supervised is None:
            idle.update({name: ("semi_supervised", ("propagation",))
                         for name in self._PROPAGATION_PARAMS})
        return idle

    def _warn_idle_in_this_fit(self, semi: bool) -> None:
        """Warn of each parameter set away from its default that this fit's labels leave
        unread (:meth:`_idle_params` covers those the parameters alone leave unread):
        label propagation trains ``propagation_epochs`` per round, never ``max_epochs``, and
        without early stopping; without unlabelled rows nothing propagates."""
        if semi:
            names = ["max_epochs"]
            if self.early_stopping and self.lr_schedule != "plateau":
                names += ["patience", "tol"]  # a plateau schedule reads them in every round
            why = (f"y has {self.n_unlabelled_:,} unlabelled rows (-1), so "
                   "semi_supervised='propagation' trains propagation_rounds rounds of "
                   "propagation_epochs epochs each, without early stopping")
            fix = ("set propagation_epochs instead, or semi_supervised=None to train on the "
                   "labelled rows alone with them")
        elif self.semi_supervised is not None:
            names = list(self._PROPAGATION_PARAMS)
            why = ("y has no unlabelled rows (-1), so nothing is propagated: the classifier "
                   "trains on the labelled rows for max_epochs")
            fix = "mark the rows without a label -1, or leave them at their defaults"
        else:
            return
        idle = self._idle_params()
        names = [n for n in changed_params(self, names) if n not in idle]  # warned already
        if names:
            shown = ", ".join(f"{n}={getattr(self, n)!r}" for n in names)
            has = "have" if len(names) > 1 else "has"
            user_warning(f"{shown} {has} no effect in this fit: {why}; {fix}.",
                         UnreadInThisFitWarning)

    def _fit(self, X, y):
        """:meth:`fit`, on the working copy :func:`fit_atomically` gives."""
        y = column_or_1d(y, warn=True)
        check_consistent_length(X, y)
        labelled, y_idx = check_labels(self, y)
        self.device_ = resolve_device(self.device)
        self.autoencoder_ = self._fitted_autoencoder(X)
        self._use_schema(self.autoencoder_.schema_)  # the classifier takes what it takes
        X = self._check_X(X, reset=False)  # coded as the autoencoder codes its rows
        # Several processes: random_state=None becomes one seed shared by every rank.
        rng = check_random_state(distributed.same_random_state(self.random_state))
        fit_rows, val_rows = self._split(y_idx, rng)
        seeds, val = (torch.as_tensor(labelled[r], device=self.device_)
                      for r in (fit_rows, val_rows))
        labels = torch.full((len(X),), UNLABELLED, dtype=torch.long, device=self.device_)
        labels[torch.as_tensor(labelled, device=self.device_)] = torch.as_tensor(
            y_idx, dtype=torch.long, device=self.device_)
        semi = self.semi_supervised is not None and self.n_unlabelled_ > 0
        self._warn_idle_in_this_fit(semi)
        self._fit_wide = check_callbacks(self.callbacks)  # this working copy's only
        with fit_hooks(self._fit_wide, self):
            with seeded_torch_rng(self.device_, int(rng.randint(np.iinfo(np.int32).max))):
                module = self._build_module(X.shape[1]).to(self.device_)
                X_s = module.scaler(to_tensor(X, self.device_))  # every row, network units
                if not semi:  # the book recipe: warn when the raw inputs would do better
                    self._check_recipe(X, X_s, module, labelled, y_idx)
                val_data = {"x": X_s[val], "y": labels[val]} if len(val) else None
                history: list[dict] = []  # every phase's records, also when interrupted
                with RunHooks(self._fit_wide, self, 0, module) as hooks:
                    try:
                        if semi:
                            self._fit_propagation(module, X_s, labels, seeds, val, val_data,
                                                  history)
                        else:
                            train = {"x": X_s[seeds], "y": labels[seeds]}
                            self._train(module, CrossEntropy(), train, val_data,
                                        self.max_epochs, "train", history,
                                        stop_early=len(val) >= EARLY_STOPPING_ROWS)
                    except FitInterrupted as err:  # the best epoch so far, in this copy
                        if any(record.get("kept") for record in history):
                            self._keep(module, history, val_data)
                            err.estimator = self
                        raise
                    hooks.result = {"module": module, "history": history, "score": None}
            X_labelled = X[labelled]
            return check_kept_model(self._keep(module, history, val_data), X_labelled,
                                    y_idx, hint=lambda: self._constant_features_hint(X_labelled))

    def _where(self) -> str:
        """The layer the head reads, in words."""
        return "code" if self.layer == "code" else f"encoder layer {self.layer}"

    def _check_recipe(self, X, X_s, module, labelled, y_idx) -> None:
        """:func:`aekit.semisupervised.recipe.warn_if_raw_inputs_win` on the labelled rows:
        raw inputs against the pretrained layers the head reads."""
        rows = torch.as_tensor(labelled, device=X_s.device)
        features = infer(module.features, X_s[rows], INFER_BATCH).cpu().numpy()
        warn_if_raw_inputs_win(X[labelled], features, y_idx, self._where(),
                               n_unlabelled=self.n_unlabelled_)

    @torch.no_grad()
    def _constant_features_hint(self, X) -> str | None:
        """Why a fit learned nothing, when the cause is the reused encoder: every labelled
        row of ``X`` reaches the head as (nearly) the same features, so no head can tell
        the rows apart, whatever it is trained with."""
        module = self.module_
        features = infer(module.features, module.scaler(to_tensor(X, self.device_)),
                         INFER_BATCH).double()  # (n, width)
        spread = features.std(0)  # (width,): each unit's spread over the rows
        size = features.abs().amax(0)  # (width,)
        if len(features) < 2 or bool((spread > NEARLY_CONSTANT * (size + 1e-30)).any()):
            return None
        return (f"every labelled row reaches its head as nearly the same features (the "
                f"autoencoder's {self._where()}: {features.shape[1]} units, none of which varies "
                f"over the rows by more than {NEARLY_CONSTANT:.1%} of its size; largest "
                f"spread {float(spread.max()):.2g}), so the head cannot tell them apart. The "
                "autoencoder's units there are dead or saturated: refit it (another "
                "random_state, a lower learning_rate) or read another layer (layer=...).")

    def _keep(self, module, history: list[dict], val_data: dict | None):
        """Take the trained module and its history as the fitted model, with the losses of
        the kept epoch (whose weights the module holds); fit the temperature on the
        hold-out."""
        self.module_ = module.eval()
        if self.calibrate and val_data is not None:
            module.temperature.fill_(fit_temperature(infer(module, val_data["x"]),
                                                     val_data["y"]))
        self.history_ = history
        kept = kept_record(history, history[-1]["phase"])
        self.loss_, self.validation_loss_ = kept["loss"], kept["val_loss"]
        self.n_iter_ = len(history)
        return self

    def _train(self, module, objective, train: dict, val: dict | None, max_epochs: int,
               phase: str, history: list[dict], *, stop_early: bool = True) -> None:
        """One fit loop, its records appended to ``history`` (also when it raises); the
        fine-tuned encoder layers learn at ``encoder_lr_ratio`` times the head's rate."""
        lr = resolve_learning_rate(self.optimizer, self.learning_rate)
        groups = [{"params": list(module.head.parameters())},
                  {"params": list(module.encoder.parameters()), "lr": lr * self.encoder_lr_ratio}]
        optimizer = make_optimizer(self.optimizer, groups, lr, self.weight_decay)
        state = init_state(module, optimizer, phase=phase)
        callbacks = loop_callbacks(self, early_stopping=stop_early) + self._fit_wide
        try:
            fit_loop(state, objective, train, val, batch_size=self.batch_size,
                     max_epochs=max_epochs,
                     autocast=autocast_dtype(self.precision, self.device_), callbacks=callbacks)
        finally:
            history += state["history"]

    def _fit_propagation(self, module, X_s, labels, seeds, val, val_data,
                         history: list[dict]) -> None:
        """Rounds of label propagation in the reused layers' space, each followed by
        training on the known and propagated labels (see the class docstring)."""
        train_rows = torch.ones(len(X_s), dtype=torch.bool, device=X_s.device)
        train_rows[val] = False  # the labelled hold-out stays out of training
        trainable = module.n_frozen < len(module.encoder)
        for r in range(1, (self.propagation_rounds if trainable else 1) + 1):
            module.eval()
            H = infer(module.features, X_s, INFER_BATCH)  # (n, width)
            neighbors, similarities = knn_graph(whiten(H), self.n_neighbors)
            del H
            scores = spread_labels(neighbors, similarities, seeds, labels[seeds],
                                   len(self.classes_))
            targets, weights = pseudo_labels(scores)
            targets[seeds], weights[seeds] = labels[seeds], 1.0
            train = {"x": X_s[train_rows], "y": targets[train_rows],
                     "w": weights[train_rows]}
            objective = CrossEntropy(label_smoothing=PSEUDO_LABEL_SMOOTHING)
            self._train(module, objective, train, val_data,
                        self._propagation_epochs(len(train["x"])), f"propagation-{r}",
                        history, stop_early=False)

    def _propagation_epochs(self, n_rows: int) -> int:
        if self.propagation_epochs != "auto":
            return self.propagation_epochs
        return max(1, math.ceil(PROPAGATION_STEPS / math.ceil(n_rows / self.batch_size)))

    def _logits(self, X) -> torch.Tensor:
        check_is_fitted(self)
        X = self._check_X(X, reset=False)
        logits = infer(self.module_.logits, to_tensor(X, self.device_), INFER_BATCH)
        # float64 from here: probabilities sum to 1 to double precision.
        return logits.double()

    @property
    def temperature_(self) -> float:
        """The temperature that divides the logits (see ``calibrate``)."""
        check_is_fitted(self)
        return float(self.module_.temperature)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True  # the autoencoder's schema makes it dense once
        tags.non_deterministic = False
        return tags


TEMPERATURE_PRIOR = 0.5
"""Standard deviation of the Gaussian prior on ``log(temperature)``, centred on 0 (chosen in
docs/decisions.md, "Few labels")."""


def fit_temperature(logits: torch.Tensor, y: torch.Tensor) -> float:
    """The temperature that calibrates ``logits`` on labelled rows (Guo et al. 2017).

    The maximum a posteriori ``T`` of ``softmax(logits / T)`` under a log-normal prior
    (:data:`TEMPERATURE_PRIOR`): with a hold-out of 10 rows all classified right, the
    likelihood alone would push ``T`` to 0 (certainty); the prior keeps it near 1 until
    enough rows say otherwise. Searched on a grid of ``log T`` in [-3, 3].

    Parameters
    ----------
    logits : torch.Tensor of shape (n, n_classes)
    y : torch.LongTensor of shape (n,)

    Returns
    -------
    temperature : float
    """
    logits, y = logits.double(), y.to(logits.device)
    log_t = torch.linspace(-3.0, 3.0, 601, dtype=torch.float64, device=logits.device)
    nll = torch.stack([F.cross_entropy(logits / math.exp(v), y, reduction="sum")
                       for v in log_t.tolist()])
    posterior = nll + 0.5 * (log_t / TEMPERATURE_PRIOR) ** 2
    return float(math.exp(log_t[int(posterior.argmin())]))
