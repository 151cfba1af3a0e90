"""M1+M2, the semi-supervised VAE (Kingma, Rezende, Mohamed & Welling 2014), as a
scikit-learn semi-supervised classifier: ``fit(X, y)`` with ``y == -1`` for the unlabelled
rows (the networks: :mod:`aekit.nn.m2`; the cost: :class:`aekit.training.objectives.M2Cost`)."""

from __future__ import annotations

import copy
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.exceptions import NotFittedError
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_consistent_length, check_is_fitted, column_or_1d

from ..core import distributed
from ..core.checks import (
    Interval,
    SizeTuple,
    StrOptions,
    resolve_device,
    seeded_torch_rng,
    to_tensor,
)
from ..estimators._base import INFER_BATCH, SavableMixin
from ..estimators._params import TRAINING, Declared, validate_params
from ..estimators._recovery import fit_atomically
from ..estimators._tables import InputMixin
from ..estimators.variational import VariationalAutoEncoder
from ..nn.layers import ACTIVATIONS
from ..nn.m2 import M1M2Net, M2Net
from ..training.callbacks import ProgressBar, RunHooks, check_callbacks, fit_hooks
from ..training.loop import (FitInterrupted, epochs_for_steps, fit_loop, infer, init_state,
                             make_optimizer)
from ..training.objectives import M2Cost
from ..training.sanity import check_kept_model
from .labels import LabelledPredictionsMixin, check_labels

ACTIVE_STD = 0.1
"""M1's latent dimensions whose posterior means vary less than this over the rows are
left out of M2's features: the prior's unused dimensions, pure noise (the reference code's
rule)."""

AUTO_STEPS = 6000
"""M2's training steps with ``max_epochs="auto"``: 10 epochs of 60,000 rows in batches of
100, as the ladder's (see docs/decisions.md, "M1+M2")."""

M1_EPOCHS = 30
"""Epochs of the default M1 (``autoencoder=None``) (see docs/decisions.md, "M1+M2")."""

M1M2_TRAINING = Declared({name: TRAINING.params[name]
                          for name in ("optimizer", "random_state", "device", "verbose",
                                       "callbacks")})
"""The training parameters M1+M2 shares with every estimator."""


def default_m1(random_state=None, device="auto") -> VariationalAutoEncoder:
    """The M1 that ``autoencoder=None`` fits: the paper's MNIST VAE (two hidden layers of
    600 softplus units, 50 latent dimensions, a Bernoulli decoder on features scaled to
    [0, 1]), for a fixed number of epochs."""
    return VariationalAutoEncoder(
        n_components=50, hidden_layer_sizes=(600, 600), activation="softplus",
        loss="bce", scaler="minmax",
        max_epochs=M1_EPOCHS, early_stopping=False, validation_fraction=0.0,
        lr_schedule="constant", batch_size=100, random_state=random_state, device=device)


@M1M2_TRAINING.document
class M1M2Classifier(InputMixin, SavableMixin, LabelledPredictionsMixin, ClassifierMixin,
                     BaseEstimator):
    """M1+M2 (Kingma et al. 2014): semi-supervised classification with a stack of two
    variational autoencoders.

    M1, a :class:`~aekit.VariationalAutoEncoder`, is fitted on every row (labels unused);
    its posterior ``q(z1|x)`` gives the features. M2 models them as generated from the class
    ``y`` and a latent ``z2``: ``p(y) p(z2) p(z1|y, z2)`` (uniform, standard normal, diagonal
    Gaussian), with inference networks ``q(z2|z1, y)`` and ``q(y|z1)``, the classifier. M2
    is trained on the labelled rows' negative ELBO plus ``alpha`` times their
    cross-entropy, and on the unlabelled rows' negative ELBO with the class summed out
    under ``q(y|z1)`` (every row decoded once per class), each step on a batch of each. As
    in the paper's code, ``z1`` is drawn from ``q(z1|x)`` anew at each step and M1's unused
    latent dimensions are left out. Unlabelled rows are those with ``y == -1``, as in
    :mod:`sklearn.semi_supervised`; every row of ``X`` also serves as an unlabelled row.

    Parameters
    ----------
    autoencoder : VariationalAutoEncoder or None, default=None
        M1. Fitted: used as it is (a copy); unfitted: a copy is fitted on ``X`` with its
        own parameters; None: :func:`default_m1` (the paper's MNIST M1, 600-600 softplus,
        50 latent dimensions, Bernoulli decoder on min-max scaled features, 30 epochs),
        seeded by ``random_state``.
    hidden_layer_sizes : tuple of int, default=(500,)
        Hidden widths of each of M2's three networks (the paper's: 500).
    n_latent : int, default=50
        Dimensions of ``z2`` (the paper's: 50).
    alpha : float, default=1.0
        Weight of the labelled rows' cross-entropy, per row of the data set. The paper's
        ``0.1 * N`` on a sum over the ``N`` rows is ``alpha=0.1``; with the few epochs
        here 1.0 did better on the development data (docs/decisions.md, "M1+M2").
    activation : str, default="softplus"
        M2's activation (the paper's).
    batch_size : int, default=100
        Unlabelled rows per step (an epoch is one pass over all rows of ``X``).
    labelled_batch_size : int, default=100
        Labelled rows per step (all of them when there are fewer), cycling over them.
    max_epochs : int or "auto", default="auto"
        Epochs of M2's training; ``"auto"``: about 6,000 steps (10 epochs of 60,000 rows).
    learning_rate : float, default=1e-3
        Step size of M2's optimizer.
    <training parameters>

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The labels seen, without ``-1``.
    autoencoder_ : VariationalAutoEncoder
        The fitted M1.
    latent_dims_ : list of int
        M1's latent dimensions M2 models (those whose posterior mean varies, see
        :data:`ACTIVE_STD`).
    module_ : aekit.nn.m2.M1M2Net
        M1's scaler and encoder and M2 (``.m2``), for prediction.
    n_labelled_, n_unlabelled_ : int
        Rows of ``X`` with a label and with ``-1``.
    history_ : list of dict
        Per epoch of M2: ``loss``, ``unlabelled`` and ``labelled`` (negative ELBOs),
        ``supervised`` (cross-entropy), ``accuracy`` (labelled batches), ``seconds``.
    loss_ : float
        The last epoch's mean training loss.
    n_iter_ : int
        Epochs of M2 trained.
    n_features_in_, feature_names_in_, schema_, device_
        As for :class:`~aekit.EncoderClassifier` (the input schema is M1's).

    Notes
    -----
    Each step decodes each unlabelled row once per class, so a step costs about
    ``n_classes`` times a plain VAE's on the small features. The paper's MNIST error with
    100 labels is 3.33% (after thousands of epochs); README.md ("Few labels") has the
    measured figures and how it compares with :class:`~aekit.LadderClassifier`.

    Examples
    --------
    >>> from aekit import VariationalAutoEncoder
    >>> from aekit.data import load_digits
    >>> from aekit.semisupervised import M1M2Classifier, hide_labels
    >>> X_train, X_test, y_train, y_test = load_digits(split=True)
    >>> m1 = VariationalAutoEncoder(n_components=16, max_epochs=5, random_state=0)
    >>> clf = M1M2Classifier(m1, hidden_layer_sizes=(32,), max_epochs=2, random_state=0)
    >>> clf.fit(X_train, hide_labels(y_train, 10, random_state=0)).predict(X_test).shape
    (450,)
    """

    _parameter_constraints: dict = {
        "autoencoder": [VariationalAutoEncoder, None],
        "hidden_layer_sizes": [SizeTuple()],
        "n_latent": [Interval(Integral, 1, None, closed="left")],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "labelled_batch_size": [Interval(Integral, 1, None, closed="left")],
        "max_epochs": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
    }

    _saved_attributes = (
        "n_features_in_",
        "feature_names_in_",
        "classes_",
        "autoencoder_",
        "latent_dims_",
        "n_labelled_",
        "n_unlabelled_",
        "history_",
        "loss_",
        "n_iter_",
        "schema_",
    )

    def __init__(
        self,
        autoencoder=None,
        *,
        hidden_layer_sizes=(500,),
        n_latent=50,
        alpha=1.0,
        activation="softplus",
        batch_size=100,
        labelled_batch_size=100,
        max_epochs="auto",
        learning_rate=1e-3,
        optimizer=TRAINING.optimizer,
        random_state=TRAINING.random_state,
        device=TRAINING.device,
        verbose=TRAINING.verbose,
        callbacks=TRAINING.callbacks,
    ):
        self.autoencoder = autoencoder
        self.hidden_layer_sizes = hidden_layer_sizes
        self.n_latent = n_latent
        self.alpha = alpha
        self.activation = activation
        self.batch_size = batch_size
        self.labelled_batch_size = labelled_batch_size
        self.max_epochs = max_epochs
        self.learning_rate = learning_rate
        self.optimizer = optimizer
        self.random_state = random_state
        self.device = device
        self.verbose = verbose
        self.callbacks = callbacks

    def _check_params(self) -> None:
        """Every parameter has its own constraint; none combine."""

    # ------------------------------------------------------------------ M1
    def _fitted_m1(self, X, seed: int) -> VariationalAutoEncoder:
        """A fitted M1 of this classifier's own (a copy, never the object given)."""
        m1 = self.autoencoder
        if m1 is None:
            m1 = default_m1(seed, self.device)
        try:
            check_is_fitted(m1)
        except NotFittedError:
            try:
                return clone(m1).fit(X)
            except FitInterrupted as err:  # stopped before M2 trained at all
                err.estimator = None
                raise
        return copy.deepcopy(m1)

    def _m1_net(self) -> M1M2Net:
        """Copies of M1's scaler and encoder, the kept dimensions, a fresh M2."""
        m1 = self.autoencoder_.module_
        m2 = M2Net(len(self.latent_dims_), len(self.classes_), self.n_latent,
                   self.hidden_layer_sizes, self.activation)
        return M1M2Net(copy.deepcopy(m1.scaler), copy.deepcopy(m1.encoder), self.latent_dims_,
                       m2)

    def _build_module(self, n_features: int) -> M1M2Net:
        """The network for ``autoencoder_``, ``latent_dims_`` and ``classes_`` (used by
        fit and load)."""
        return self._m1_net()

    def _active_dims(self, means: torch.Tensor) -> list[int]:
        """M1's latent dimensions whose posterior means vary over the rows."""
        kept = torch.nonzero(means.std(0) > ACTIVE_STD).flatten().tolist()
        if not kept:
            raise ValueError(
                f"M1's posterior means vary by less than {ACTIVE_STD} in every latent "
                "dimension (the VAE's posterior collapsed onto its prior): its codes carry "
                "nothing for M2. Fit M1 longer, or with kl_warmup_epochs or a smaller beta."
            )
        return kept

    def _epochs(self, n_rows: int) -> int:
        return epochs_for_steps(self.max_epochs, AUTO_STEPS, n_rows, self.batch_size)

    # ------------------------------------------------------------------ fit
    def fit(self, X, y):
        """Fit M1 on every row of ``X`` (unless it is fitted), then M2; rows with
        ``y == -1`` are unlabelled.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Whatever M1 takes.
        y : array-like of shape (n_samples,)
            Class labels; ``-1`` marks an unlabelled row.

        Returns
        -------
        self : M1M2Classifier

        Raises
        ------
        aekit.training.loop.FitInterrupted
            On Ctrl-C (SIGINT) or SIGTERM, at the end of the step under way. The classifier
            is left as it was; the exception's ``estimator`` is a fitted copy holding the
            weights of M2's last finished epoch (None when none finished).
        """
        validate_params(self)
        return fit_atomically(self, M1M2Classifier._fit, X, y)

    def _fit(self, X, y):
        """:meth:`fit`, on the working copy :func:`fit_atomically` gives."""
        y = column_or_1d(y, warn=True)
        check_consistent_length(X, y)
        labelled, y_idx = check_labels(self, y)
        self.device_ = resolve_device(self.device)
        rng = check_random_state(distributed.same_random_state(self.random_state))
        self.autoencoder_ = self._fitted_m1(X, int(rng.randint(np.iinfo(np.int32).max)))
        self._use_schema(self.autoencoder_.schema_)  # the classifier takes what M1 takes
        X = self._check_X(X, reset=False)
        user = check_callbacks(self.callbacks)
        with fit_hooks(user, self), \
                seeded_torch_rng(self.device_, int(rng.randint(np.iinfo(np.int32).max))):
            m1 = self.autoencoder_.module_.to(self.device_).eval()
            stats = infer(lambda x: torch.cat(m1.encoder.distribution(m1.scaler(x)), 1),
                          to_tensor(X, self.device_), INFER_BATCH)  # (n, 2k)
            k = stats.shape[1] // 2
            self.latent_dims_ = self._active_dims(stats[:, :k])
            keep = torch.as_tensor(self.latent_dims_, device=stats.device)
            stats = torch.cat([stats[:, keep], stats[:, k + keep]], 1)  # (n, 2d): mean, log_var
            module = self._build_module(X.shape[1]).to(self.device_)
            rows = torch.as_tensor(labelled, device=self.device_)
            paired = {"x": stats[rows],
                      "y": torch.as_tensor(y_idx, dtype=torch.long, device=self.device_)}
            optimizer = make_optimizer(self.optimizer, module.m2.parameters(),
                                       self.learning_rate)
            state = init_state(module.m2, optimizer)
            callbacks = [ProgressBar(leave=self.verbose > 1)] if self.verbose > 0 else []
            objective = M2Cost(self.alpha, len(labelled) / len(X))
            try:
                with RunHooks(user, self, 0, module) as hooks:
                    fit_loop(state, objective, stats, batch_size=self.batch_size,
                             max_epochs=self._epochs(len(stats)), callbacks=callbacks + user,
                             paired=paired, paired_batch_size=self.labelled_batch_size)
                    hooks.result = {"module": module, "history": state["history"],
                                    "score": None}
            except FitInterrupted as err:
                if state["history"]:
                    self._keep(module, state["history"])
                    err.estimator = self
                raise
        return check_kept_model(self._keep(module, state["history"]), X[labelled], y_idx)

    def _keep(self, module: M1M2Net, history: list[dict]):
        self.module_ = module.eval()
        self.history_ = history
        self.loss_ = history[-1]["loss"]
        self.n_iter_ = len(history)
        return self

    # ------------------------------------------------------------------ predict
    def _logits(self, X) -> torch.Tensor:
        check_is_fitted(self)
        X = self._check_X(X, reset=False)
        logits = infer(self.module_.logits, to_tensor(X, self.device_), INFER_BATCH)
        return logits.double()  # probabilities sum to 1 to double precision

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True  # M1's schema makes it dense once
        tags.non_deterministic = False
        return tags


__all__ = ["M1M2Classifier", "default_m1"]
