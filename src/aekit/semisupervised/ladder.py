"""The ladder network as a scikit-learn semi-supervised classifier: ``fit(X, y)`` with
``y == -1`` for the unlabelled rows (Rasmus et al. 2015; the network is
:class:`aekit.nn.ladder.LadderNet`, its cost :class:`aekit.training.objectives.LadderCost`)."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_consistent_length, column_or_1d

from ..core import distributed
from ..data.agreement import check_same_data
from ..core.checks import (
    Interval,
    LayerTriples,
    NumberTuple,
    SizeTuple,
    StrOptions,
    format_indices,
    resolve_device,
    seeded_torch_rng,
    to_tensor,
)
from ..estimators._base import INFER_BATCH, SavableMixin, validate_params
from ..estimators._params import TRAINING, Declared
from ..estimators._recovery import fit_atomically
from ..estimators._tables import InputMixin, has_categories
from ..nn.histograms import HistogramFeatures
from ..nn.ladder import LadderNet
from ..nn.layers import Scaler
from ..training.callbacks import Callback, ProgressBar, RunHooks, check_callbacks, fit_hooks
from ..training.loop import (FitInterrupted, epochs_for_steps, fit_loop, infer, init_state,
                             make_optimizer)
from ..training.objectives import LadderCost
from ..training.sanity import check_kept_model
from .labels import LabelledPredictionsMixin, check_labels

PAPER_COSTS = (1000.0, 10.0, 0.1)
"""The full ladder's denoising weights ``lambda(l)`` for MNIST in the paper (layers 0, 1,
then 0.1 for every layer above)."""

GAMMA_COST = 1.0
"""``lambda(L)`` of the Gamma model (only the top layer is denoised)."""

AUTO_STEPS = 12000
"""Training steps of ``max_epochs="auto"``: 20 epochs of 60,000 rows in batches of 100
(chosen on validation rows within the time budget: docs/decisions.md, "LadderClassifier")."""

AUTO_EPOCHS = 300
"""The most epochs of ``max_epochs="auto"``: on small data (under 4,000 rows in batches of
100) more passes bought no accuracy, only minutes (docs/decisions.md, "LadderClassifier")."""


class LinearDecay(Callback):
    """Learning rate constant, then stepped down linearly towards 0 over the last
    ``fraction`` of the epochs (the paper's schedule: 100 epochs, then 50 decaying).

    With ``n_decay = round(max_epochs * fraction)`` decaying epochs, the ``k``-th of them
    (1-based) runs at ``(n_decay - k + 1) / (n_decay + 1)`` of the rate: the last at
    ``1 / (n_decay + 1)`` of it, one step short of 0 (1/8 for 20 epochs)."""

    def __init__(self, learning_rate: float, fraction: float):
        self.learning_rate, self.fraction = learning_rate, fraction

    def on_epoch_begin(self, state: dict, epoch: int) -> None:
        n = state["max_epochs"]
        n_decay = round(n * self.fraction)
        factor = 1.0 if epoch <= n - n_decay else (n - epoch + 1) / (n_decay + 1)
        for group in state["optimizer"].param_groups:
            group["lr"] = self.learning_rate * factor


# The training parameters the ladder shares with every estimator (its optimizer, rate,
# schedule and epochs are the paper's and its own, documented above).
LADDER_TRAINING = Declared({name: TRAINING.params[name]
                            for name in ("random_state", "device", "verbose", "callbacks")})


@LADDER_TRAINING.document
class LadderClassifier(InputMixin, SavableMixin, LabelledPredictionsMixin, ClassifierMixin,
                       BaseEstimator):
    """Ladder network (Rasmus et al. 2015): semi-supervised classification by denoising
    every layer of the classifier.

    A clean and a corrupted encoder share their weights; a decoder with lateral connections
    reconstructs each layer of the clean encoder from the corrupted one, and the denoising
    errors of the unlabelled rows are trained jointly with the cross-entropy of the labelled
    ones, each step on a batch of each (see :mod:`aekit.nn.ladder`). Unlabelled rows are
    those with ``y == -1``, as in :mod:`sklearn.semi_supervised`; every row of ``X``,
    labelled or not, is an unlabelled row for the denoising cost, as in the paper.

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default=(500, 250, 250)
        Widths of the hidden layers; the top layer has one unit per class. The paper's
        MNIST network, (1000, 500, 250, 250, 250), costs three times as much per step
        (docs/decisions.md, "LadderClassifier").
    ladder : {"auto", "full", "gamma"}, default="auto"
        Which layers are denoised. ``"full"``: every layer (decoder down to the input);
        ``"gamma"``: only the top layer (the paper's Gamma model: no decoder weights, about
        as fast as the plain classifier). ``"auto"``: ``"full"`` for a dense encoder,
        ``"gamma"`` with ``conv_layers`` (whose layers are not decoded).
    denoising_costs : "auto" or tuple of float, default="auto"
        ``lambda(l)`` of layers 0 (the input) to L (the classes): ``len(conv_layers) +
        len(hidden_layer_sizes) + 2`` values. ``"auto"``: the paper's MNIST values (1000,
        10, then 0.1) for the full ladder, (0, ..., 0, 1) for the Gamma model, whose lower
        values must be 0 (as must those of the input and the convolutional layers).
    conv_layers : tuple of (int, int, int) or None, default=None
        A convolutional encoder below ``hidden_layer_sizes``, one ``(filters, kernel,
        pool)`` per convolutional layer. Each is a ``kernel`` x ``kernel`` convolution (odd,
        padded to keep the image's size), batch normalisation per channel, noise, ReLU,
        then a ``pool`` x ``pool`` max-pool (1 for none); the last layer's channels are
        averaged over the image into the dense layers. The paper's Conv-Small for 28x28 digits:
        ``conv_layers=((32, 5, 2), (64, 3, 1), (64, 3, 2), (128, 3, 1), (10, 1, 1)),
        hidden_layer_sizes=()``, with ``ladder="gamma"``. X holds images ``(n, H, W)`` or
        ``(n, C, H, W)``, or flat rows with ``image_shape``. Much slower than the dense
        default on a CPU: meant for a GPU (``device="auto"``).
    image_features : {None, "histograms"}, default=None
        ``"histograms"``: the network reads images' pixels followed by their histograms of
        oriented gradients (:class:`aekit.data.OrientationHistograms` with its defaults).
        X holds images, ``(n, H, W)`` or ``(n, C, H, W)``, or flat rows with
        ``image_shape``, of at least 6 x 6 pixels: 6 x 6 cells 3 pixels apart, 9 bins,
        576 more inputs for a 28x28 image. The same model as that transformer before the
        classifier in a Pipeline, but saved and exported with it and available to
        ``aekit train-ladder``. Not with ``conv_layers``.
    image_shape : tuple of int or None, default=None
        ``(H, W)`` or ``(C, H, W)`` of the images that flat rows of X hold, with
        ``conv_layers`` or ``image_features`` (e.g. ``(28, 28)`` for MNIST rows).
    noise_std : float, default=0.3
        Standard deviation of the Gaussian noise on the corrupted encoder's input (scaled
        by ``scaler``) and on each of its normalised pre-activations.
    scaler : {"minmax", "standard"}, default="minmax"
        Scaling of the input features, fitted on every row: ``"minmax"`` to [0, 1] (the
        paper's pixels, against which ``noise_std`` is set), ``"standard"`` to unit variance.
    batch_size : int, default=100
        Unlabelled rows per step (an epoch is one pass over all rows of ``X``).
    labelled_batch_size : int, default=100
        Labelled rows per step (all of them when there are fewer), cycling over them; at
        least 2 with ``batch_statistics="split"``, which normalises them on their own.
    max_epochs : int or "auto", default="auto"
        Epochs of training; ``"auto"``: enough for about 12,000 steps (20 epochs of 60,000
        rows), but at most 300 epochs (4,200 steps on 1,347 rows).
    learning_rate : float, default=0.002
        Adam's step size (the paper's).
    decay_fraction : float, default=1/3
        The last share of the epochs in which the learning rate decays linearly towards 0
        (the paper: 50 of 150), one step an epoch: of ``n = round(max_epochs *
        decay_fraction)`` decaying epochs the last runs at ``1 / (n + 1)`` of
        ``learning_rate`` (:class:`LinearDecay`).
    label_smoothing : float, default=0.0
        Label smoothing of the labelled rows' cross-entropy, as torch's ``cross_entropy``
        takes it: each target puts ``1 - label_smoothing`` on its class and spreads the
        rest evenly over all classes. It lowers the confidence of :meth:`predict_proba`:
        a remedy where the plain network, fitted to its few labels, is far more confident
        than it is accurate, and a harm where it is not (docs/decisions.md, "Label
        smoothing"); check the calibration on held-out labels. 0: the paper's cost.
    batch_statistics : {"split", "joint"}, default="split"
        How the corrupted encoder normalises a training batch's pre-activations.
        ``"split"`` (the reference code's): the labelled rows and the unlabelled rows each
        with their own batch statistics. ``"joint"``: all rows of the batch together, so
        the labelled rows are classified in training with statistics like the population
        statistics the fitted classifier predicts with (docs/decisions.md, "Batch
        statistics"). The clean pass, the denoising targets, is unchanged.
    <training parameters>

    Attributes
    ----------
    schema_ : aekit.data.schema.InputSchema
        The inputs the classifier takes (arrays, DataFrames of numeric columns,
        sparse matrices, images), fitted in ``fit`` and applied by every method.
    image_shape_ : tuple of int
        ``(C, H, W)`` of the images, with ``conv_layers`` or ``image_features``.
    classes_ : ndarray of shape (n_classes,)
        The labels seen, without ``-1``.
    module_ : aekit.nn.ladder.LadderNet
    n_labelled_, n_unlabelled_ : int
        Rows of ``X`` with a label and with ``-1``.
    history_ : list of dict
        Per epoch: ``loss``, ``supervised`` (cross-entropy), ``denoising`` (weighted sum of
        the layers' errors), ``accuracy`` (corrupted encoder, labelled batches), ``seconds``.
    loss_ : float
        The last epoch's mean training loss.
    n_iter_ : int
        Epochs trained.
    n_features_in_, feature_names_in_, device_
        As for :class:`~aekit.AutoEncoder`.
    fitted_params_ : dict
        The parameters as ``fit`` saw them, which the fitted network is built from (``save``
        and :func:`aekit.load` too); ``set_params`` takes effect at the next ``fit``. See
        :class:`~aekit.AutoEncoder`.

    Notes
    -----
    Each step runs the corrupted encoder on the labelled and unlabelled batches, the clean
    encoder and the decoder on the unlabelled batch: about three times the work of a plain
    classifier's step on twice the rows. Predictions come from the clean encoder with the
    running batch statistics. The paper's MNIST errors with 100 labels: 1.06% (full), 1.53%
    (Gamma); README.md ("Few labels") has those measured here.

    :meth:`predict_proba` is not calibrated: trained until it fits its few labelled rows,
    the network can be far more confident than it is accurate where classes overlap
    (README.md's table gives the expected calibration error). Where labelled rows can be
    spared, hold some out of ``fit`` and calibrate on them:
    ``CalibratedClassifierCV(FrozenEstimator(clf)).fit(X_held, y_held)``
    (:mod:`sklearn.calibration`, :class:`sklearn.frozen.FrozenEstimator`).

    Examples
    --------
    >>> import numpy as np
    >>> from aekit import LadderClassifier
    >>> from aekit.data import load_digits
    >>> X_train, X_test, y_train, y_test = load_digits(split=True)
    >>> y_few = np.full_like(y_train, -1)
    >>> y_few[:100] = y_train[:100]  # 100 labels, 1,247 unlabelled rows
    >>> clf = LadderClassifier(hidden_layer_sizes=(64,), max_epochs=5, random_state=0)
    >>> clf.fit(X_train, y_few).predict(X_test).shape
    (450,)
    """

    _parameter_constraints: dict = {
        "hidden_layer_sizes": [SizeTuple()],
        "ladder": [StrOptions({"auto", "full", "gamma"})],
        "conv_layers": [LayerTriples(), None],
        "image_features": [StrOptions({"histograms"}), None],
        "image_shape": [SizeTuple(lengths=(2, 3)), None],
        "denoising_costs": [StrOptions({"auto"}), NumberTuple()],
        "noise_std": [Interval(Real, 0, None, closed="left")],
        "scaler": [StrOptions({"minmax", "standard"})],
        "batch_size": [Interval(Integral, 2, None, closed="left")],
        "labelled_batch_size": [Interval(Integral, 1, None, closed="left")],
        "max_epochs": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "decay_fraction": [Interval(Real, 0, 1, closed="both")],
        "label_smoothing": [Interval(Real, 0, 1, closed="left")],
        "batch_statistics": [StrOptions({"split", "joint"})],
    }

    missing = "error"  # InputMixin: a missing number is an error (no imputation here)
    # Continues the schema's "flatten images with X.reshape(len(X), -1)", as the
    # autoencoder's does.
    _images_advice = (", or set image_features='histograms' or conv_layers (a "
                      "convolutional encoder) for images")
    _images_param = "conv_layers or image_features"

    _saved_attributes = (
        "schema_",
        "n_features_in_",
        "feature_names_in_",
        "classes_",
        "n_labelled_",
        "n_unlabelled_",
        "history_",
        "loss_",
        "n_iter_",
    )

    def __init__(
        self,
        hidden_layer_sizes=(500, 250, 250),
        *,
        ladder="auto",
        denoising_costs="auto",
        conv_layers=None,
        image_features=None,
        image_shape=None,
        noise_std=0.3,
        scaler="minmax",
        batch_size=100,
        labelled_batch_size=100,
        max_epochs="auto",
        learning_rate=0.002,
        decay_fraction=1 / 3,
        label_smoothing=0.0,
        batch_statistics="split",
        random_state=TRAINING.random_state,
        device=TRAINING.device,
        verbose=TRAINING.verbose,
        callbacks=TRAINING.callbacks,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.ladder = ladder
        self.denoising_costs = denoising_costs
        self.conv_layers = conv_layers
        self.image_features = image_features
        self.image_shape = image_shape
        self.noise_std = noise_std
        self.scaler = scaler
        self.batch_size = batch_size
        self.labelled_batch_size = labelled_batch_size
        self.max_epochs = max_epochs
        self.learning_rate = learning_rate
        self.decay_fraction = decay_fraction
        self.label_smoothing = label_smoothing
        self.batch_statistics = batch_statistics
        self.random_state = random_state
        self.device = device
        self.verbose = verbose
        self.callbacks = callbacks

    # ------------------------------------------------------------------ parameters
    def _conv(self) -> tuple:
        return tuple(tuple(layer) for layer in (self.conv_layers or ()))

    def _kind(self) -> str:
        """``ladder``, with ``"auto"`` resolved."""
        if self.ladder == "auto":
            return "gamma" if self.conv_layers else "full"
        return self.ladder

    def _n_costs(self) -> int:
        return len(self._conv()) + len(self.hidden_layer_sizes) + 2

    def _costs(self) -> tuple[float, ...]:
        """``lambda(l)`` of layers 0..L (see ``denoising_costs``)."""
        n = self._n_costs()
        if self.denoising_costs == "auto":
            if self._kind() == "gamma":
                return (0.0,) * (n - 1) + (GAMMA_COST,)
            return tuple(PAPER_COSTS[min(l, len(PAPER_COSTS) - 1)] for l in range(n))
        return tuple(float(c) for c in self.denoising_costs)

    def _check_params(self) -> None:
        # The constraints checked each value's form; these are the rules between them.
        conv = self.conv_layers
        if conv and self.ladder == "full" and self.denoising_costs == "auto":
            raise ValueError(
                "ladder='full' with conv_layers: the convolutional layers are not decoded "
                "here (the paper's convolutional results are Gamma models); use "
                "ladder='gamma' (or 'auto'), or give denoising_costs that are 0 up to the "
                "last convolutional layer.")
        if conv and self.image_features is not None:
            raise ValueError(
                f"image_features={self.image_features!r} with conv_layers: a convolutional "
                "encoder reads the images themselves; set one of the two.")
        if self.labelled_batch_size < 2 and self.batch_statistics == "split":
            raise ValueError(
                f"labelled_batch_size={self.labelled_batch_size} with batch_statistics="
                "'split': a labelled batch of one row, normalised by its own statistics, "
                "is all zeros, so the network would learn nothing from the labels; use "
                "labelled_batch_size >= 2, or batch_statistics='joint' (the labelled rows "
                "normalised with the whole batch).")
        if self.image_shape is not None and not self._takes_images():
            raise ValueError("image_shape describes the images for conv_layers or "
                             "image_features: set one of them too, or leave image_shape=None.")
        if self.denoising_costs == "auto":
            return
        n = self._n_costs()
        costs = self.denoising_costs
        if len(costs) != n:
            raise ValueError(
                f"denoising_costs={costs!r}: give {n} finite numbers >= 0, one per layer "
                f"(the input, {len(self._conv())} convolutional and "
                f"{len(self.hidden_layer_sizes)} hidden layers, the classes), or 'auto'."
            )
        if self._kind() == "gamma" and any(c > 0 for c in costs[:-1]):
            raise ValueError(
                f"denoising_costs={costs!r} with ladder='gamma': the Gamma model denoises the "
                "top layer only; set the other costs to 0, or use ladder='full'."
            )
        if conv and any(c > 0 for c in costs[:len(conv) + 1]):
            raise ValueError(
                f"denoising_costs={costs!r}: the input and the {len(conv)} convolutional "
                "layers are not decoded; set their costs to 0.")

    def _lowest(self) -> int:
        """The lowest layer the decoder reconstructs (the top for the Gamma model)."""
        costs = self._costs()
        if self._kind() == "gamma":
            return len(costs) - 1
        return next((l for l, c in enumerate(costs) if c > 0), len(costs) - 1)

    def _takes_images(self) -> bool:
        return bool(self.conv_layers) or self.image_features is not None

    def _build_module(self, n_features: int) -> LadderNet:
        """The network for ``n_features`` inputs (the caller's) and ``classes_`` (used by
        fit and load)."""
        conv = self._conv()
        features = None
        if self.image_features == "histograms":
            features = HistogramFeatures(self.schema_.image_shape)
            n_features = features.n_features
        sizes = [n_features, *(c[0] for c in conv), *self.hidden_layer_sizes,
                 len(self.classes_)]
        return LadderNet(Scaler(n_features, self.scaler), sizes, self._lowest(), conv=conv,
                         image_shape=self.schema_.image_shape if conv else None,
                         features=features)

    def _epochs(self, n_rows: int) -> int:
        epochs = epochs_for_steps(self.max_epochs, AUTO_STEPS, n_rows, self.batch_size)
        return min(epochs, AUTO_EPOCHS) if self.max_epochs == "auto" else epochs

    # ------------------------------------------------------------------ fit
    def fit(self, X, y):
        """Fit on every row of ``X``; rows with ``y == -1`` are unlabelled.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Class labels; ``-1`` marks an unlabelled row.

        Returns
        -------
        self : LadderClassifier

        Raises
        ------
        aekit.training.loop.FitInterrupted
            On Ctrl-C (SIGINT) or SIGTERM, at the end of the step under way. The classifier
            is left as it was; the exception's ``estimator`` is a fitted copy holding the
            weights of the last finished epoch (None when no epoch finished).
        """
        validate_params(self)
        check_same_data(X=X, y=y)  # under torchrun: every process was given the same
        return fit_atomically(self, LadderClassifier._fit, X, y)

    def _fit(self, X, y):
        """:meth:`fit`, on the working copy :func:`fit_atomically` gives."""
        y = column_or_1d(y, warn=True)
        check_consistent_length(X, y)
        X = self._check_X(X, reset=True)  # (n, n_features): images flattened
        if has_categories(self):
            names = [repr(c["name"]) for c in self.schema_.columns
                     if c["kind"] == "categorical"]
            raise ValueError(
                f"LadderClassifier takes numeric columns only; X has categorical (text, "
                f"category or boolean) columns {format_indices(names)}: one-hot encode them "
                "first (e.g. OneHotEncoder in a Pipeline; a boolean column: "
                "X[col].astype(int)).")
        labelled, y_idx = check_labels(self, y)
        self.device_ = resolve_device(self.device)
        rng = check_random_state(distributed.same_random_state(self.random_state))
        user = check_callbacks(self.callbacks)
        with fit_hooks(user, self), \
                seeded_torch_rng(self.device_, int(rng.randint(np.iinfo(np.int32).max))):
            module = self._build_module(X.shape[1])
            X_t = to_tensor(X, torch.device("cpu"))
            if module.features is not None:  # every row's features, once: (n, sizes[0])
                X_t = module.features.fit(X_t).transform(X_t)
            module.scaler.fit(X_t)
            module = module.to(self.device_)
            X_s = module.scaler(X_t.to(self.device_))  # (n, d), network units
            paired = {"x": X_s[torch.as_tensor(labelled, device=self.device_)],
                      "y": torch.as_tensor(y_idx, dtype=torch.long, device=self.device_)}
            optimizer = make_optimizer("adam", module.parameters(), self.learning_rate)
            state = init_state(module, optimizer)
            callbacks = [LinearDecay(self.learning_rate, self.decay_fraction)]
            if self.verbose > 0:
                callbacks.append(ProgressBar(leave=self.verbose > 1))
            objective = LadderCost(self.noise_std, self._costs(), self.label_smoothing,
                                   joint_statistics=self.batch_statistics == "joint")
            try:
                with RunHooks(user, self, 0, module) as hooks:
                    fit_loop(state, objective, X_s, batch_size=self.batch_size,
                             max_epochs=self._epochs(len(X_s)), callbacks=callbacks + user,
                             paired=paired, paired_batch_size=self.labelled_batch_size)
                    # The final weights' statistics for prediction, not a running average
                    # that remembers the early steps (short fits, small datasets).
                    module.set_population_statistics(X_s, self.batch_size)
                    hooks.result = {"module": module, "history": state["history"],
                                    "score": None}
            except FitInterrupted as err:
                if state["history"]:
                    self._keep(module, state["history"])
                    err.estimator = self
                raise
            self._keep(module, state["history"])
            X_labelled = X[labelled]
            return check_kept_model(self, X_labelled, y_idx,
                                    hint=lambda: self._statistics_hint(X_labelled, y_idx))

    @torch.no_grad()
    def _statistics_hint(self, X, y_idx) -> str | None:
        """Why a fit learned nothing, when the cause is the one the split batch statistics
        allow: the network names its labelled rows ``X`` (classes ``y_idx``) right when
        they are normalised on their own, in batches of ``labelled_batch_size`` as in
        training, but not with the population statistics it predicts with."""
        if self.batch_statistics != "split":
            return None
        module = self.module_
        h = module.network_units(to_tensor(X, self.device_))  # (n, sizes[0])
        y = torch.as_tensor(y_idx, device=self.device_)
        right = counted = 0
        for start in range(0, len(h), self.labelled_batch_size):
            batch = h[start:start + self.labelled_batch_size]
            if len(batch) < 2:  # one row has no batch statistics
                continue
            _, _, logits = module.encode(batch, len(batch), 0.0)  # (b, n_classes)
            right += int((logits.argmax(1) == y[start:start + len(batch)]).sum())
            counted += len(batch)
        majority = float(torch.bincount(y).max()) / len(y)
        if not counted or right / counted < (1 + majority) / 2:  # not clearly better
            return None
        return (f"with the batch statistics it trained them with (labelled rows normalised "
                f"on their own, batch_statistics='split') it labels {right / counted:.1%} of "
                "them right, so it classifies only with statistics unlike the population "
                "statistics it predicts with; refit with batch_statistics='joint', which "
                "trains it with statistics like those.")

    def _keep(self, module: LadderNet, history: list[dict]):
        self.module_ = module.eval()
        self.history_ = history
        self.loss_ = history[-1]["loss"]
        self.n_iter_ = len(history)
        return self

    # ------------------------------------------------------------------ predict
    def _logits(self, X) -> torch.Tensor:
        X = self._check_X(X, reset=False)
        logits = infer(self.module_, to_tensor(X, self.device_), INFER_BATCH)
        return logits.double()  # probabilities sum to 1 to double precision

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        tags.input_tags.sparse = True  # the input schema makes a sparse matrix dense once
        return tags


__all__ = ["LadderClassifier"]
