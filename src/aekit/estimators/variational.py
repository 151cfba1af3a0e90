"""The variational autoencoder estimator: a Gaussian posterior, the ELBO, sampling."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from ..training import losses
from ..core.checks import Interval, to_numpy, user_warning
from ..core.fitted import as_fitted
from ..nn.variational import DenseVAE
from ..training.objectives import ELBO
from ..training.loop import infer
from . import _tables
from ._base import INFER_BATCH, BaseAutoEncoder
from ._targets import trained_epochs
from ._params import TRAINING


@TRAINING.document
class VariationalAutoEncoder(BaseAutoEncoder):
    """Variational autoencoder (VAE) with scikit-learn's transformer API.

    The encoder gives a diagonal Gaussian posterior ``q(z|x) = N(mean, exp(log_var))`` (two
    linear heads on the encoder trunk; the log-variance is clamped to [-10, 10] so ``exp``
    of it stays finite); the decoder is the :class:`AutoEncoder`'s; the prior is N(0, I).
    Training minimises the negative ELBO ``reconstruction + beta * KL``, both terms summed
    over features or latent dimensions per row and averaged over rows, in scaled units:

    - ``loss="mse"``: reconstruction is the squared error summed over the features, the
      negative log-likelihood of a Gaussian decoder with variance 1/2 up to a constant;
    - ``loss="bce"``: the negative Bernoulli log-likelihood (data scaled into [0, 1]).

    Parameters
    ----------
    n_components, hidden_layer_sizes, activation, output_activation, scaler, loss, missing, \
chunk_rows
        As for :class:`AutoEncoder`; ``n_components`` is the number of latent dimensions.
    beta : float, default=1.0
        Weight of the KL term (``beta > 1`` is the beta-VAE, and ``0`` leaves a noisy
        autoencoder whose codes are not pulled to the prior).
    kl_warmup_epochs : int, default=0
        The KL weight rises linearly from 0 (first epoch) to ``beta`` over this many epochs
        (see :func:`aekit.training.objectives.kl_weight`), which helps against posterior collapse.
        A ``warm_start`` fit goes on from the epochs already trained; it does not restart.
        Early stopping and ``lr_schedule`` watch the epochs after the warm-up only, so the
        fit reaches ``beta`` (given ``max_epochs > kl_warmup_epochs``; a fit that ends
        in the warm-up warns, ``ConvergenceWarning``) and keeps weights trained with it.
        With ``beta=0`` there is no weight to ramp, and ``fit`` warns that it is idle.
    <training parameters>

    Attributes
    ----------
    module_ : aekit.nn.variational.DenseVAE
        ``.encoder`` (a :class:`~aekit.nn.variational.GaussianEncoder`), ``.decoder``,
        ``.scaler``.
    history_ : list of dict
        Per epoch: ``loss`` (the negative ELBO with the epoch's KL weight, on posterior
        draws), ``reconstruction``, ``kl``, ``kl_weight`` (training averages), ``val_loss``
        (the negative ELBO with the full ``beta`` at the posterior mean, so early stopping
        compares epochs on one fixed objective) and its terms ``val_reconstruction``,
        ``val_kl``, ``val_kl_weight`` (with a hold-out); ``caller_mse`` /
        ``val_caller_mse`` (the mean squared error per element in the caller's units,
        recorded, not minimised; only for scalers affine per feature), ``lr`` (with
        ``lr_schedule="plateau"``), ``phase``, ``epoch``, ``seconds``.
    loss_, validation_loss_, n_iter_, n_features_in_, feature_names_in_, device_
        As for :class:`AutoEncoder`.
    fitted_params_ : dict
        The parameters as ``fit`` saw them, which the fitted model computes with
        (``score_samples`` with the fitted ``loss``...); see :class:`AutoEncoder`.

    Notes
    -----
    ``transform`` gives the posterior mean (deterministic), ``inverse_transform`` decodes
    latent codes and :meth:`sample` draws new rows from the prior. ``score_samples`` is the
    per-row ELBO (higher is better), not the negative MSE of :class:`AutoEncoder`.

    The :class:`AutoEncoder`'s variant parameters (``architecture``, ``tied``, ``noise``,
    ``sparsity``, ``contractive``, ``l1``, ``dropout``, ``pretrain``, ``init``, ...) are not
    taken: the VAE is the dense model, regularised by its KL term.

    Examples
    --------
    >>> from aekit import VariationalAutoEncoder
    >>> from aekit.data import load_digits
    >>> X_train, X_test, _, _ = load_digits(split=True)
    >>> vae = VariationalAutoEncoder(n_components=2, random_state=0).fit(X_train)
    >>> vae.transform(X_test).shape, vae.sample(5, random_state=0).shape
    ((450, 2), (5, 64))
    """

    _parameter_constraints: dict = {
        **BaseAutoEncoder._parameter_constraints,
        "beta": [Interval(Real, 0, None, closed="left")],
        "kl_warmup_epochs": [Interval(Integral, 0, None, closed="left")],
    }

    def __init__(
        self,
        n_components=2,
        *,
        hidden_layer_sizes="auto",
        activation="elu",
        output_activation="auto",
        scaler="auto",
        loss="mse",
        missing="error",
        chunk_rows=None,
        beta=1.0,
        kl_warmup_epochs=0,
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
        n_init=TRAINING.n_init,
        random_state=TRAINING.random_state,
        device=TRAINING.device,
        precision=TRAINING.precision,
        verbose=TRAINING.verbose,
        log_dir=TRAINING.log_dir,
        checkpoint_dir=TRAINING.checkpoint_dir,
        warm_start=TRAINING.warm_start,
        callbacks=TRAINING.callbacks,
    ):
        self.n_components = n_components
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.output_activation = output_activation
        self.scaler = scaler
        self.loss = loss
        self.missing = missing
        self.chunk_rows = chunk_rows
        self.beta = beta
        self.kl_warmup_epochs = kl_warmup_epochs
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
        self.n_init = n_init
        self.random_state = random_state
        self.device = device
        self.precision = precision
        self.verbose = verbose
        self.log_dir = log_dir
        self.checkpoint_dir = checkpoint_dir
        self.warm_start = warm_start
        self.callbacks = callbacks

    def _build_module(self, n_features: int) -> DenseVAE:
        return DenseVAE(
            n_features,
            self.n_components,
            self._hidden_sizes(),
            self.activation,
            self.output_activation_,
            _tables.scaler_for_module(self, n_features),
        )

    def _objective(self) -> ELBO:
        return self._for_data(
            ELBO(loss=self.loss, beta=self.beta, warmup_epochs=self.kl_warmup_epochs))

    def _warmup_epochs(self) -> int:
        # While the KL weight rises the loss rises with it (even at the full beta, on the
        # hold-out, as the codes are pulled to the prior): early stopping stopped such fits
        # in mid warm-up and kept weights trained with a fraction of beta.
        return self.kl_warmup_epochs if self.beta > 0 else 0

    def _train_loop(self, state: dict, fit, rows) -> None:
        # A fit that ends in the warm-up never trains with beta: its model is another one.
        done = trained_epochs(fit.warm.history) if fit.warm is not None else 0
        left = self._warmup_epochs() - done
        if left >= self.max_epochs:
            user_warning(
                f"max_epochs={self.max_epochs} ends this fit inside the KL warm-up "
                f"(kl_warmup_epochs={self.kl_warmup_epochs}"
                f"{f', {done} epochs trained before' if done else ''}): the KL weight never "
                f"reaches beta={self.beta} (the last epoch trains with "
                f"{(done + self.max_epochs - 1) / self.kl_warmup_epochs:.0%} of it) and early "
                f"stopping never acts. Set max_epochs above {left}, or a shorter "
                "kl_warmup_epochs.", ConvergenceWarning)
        super()._train_loop(state, fit, rows)

    def _idle_params(self) -> dict[str, tuple[str, tuple | str]]:
        # The warm-up scales the KL weight from 0 up to beta: with beta=0 it scales nothing.
        return {**super()._idle_params(),
                **({"kl_warmup_epochs": ("beta", "> 0")} if self.beta == 0 else {})}

    # ------------------------------------------------------------------ inference
    def score_samples(self, X):
        """Per-row evidence lower bound (ELBO), in scaled units; higher is better.

        ``-score_samples(X)`` is each row's negative ELBO, ``reconstruction + KL`` (with
        weight 1, whatever ``beta``, so scores compare across ``beta``), the reconstruction
        term evaluated at the posterior mean: a deterministic estimate. With ``loss="mse"``
        it omits the Gaussian constant, so compare it between models on the same data.
        The ``loss`` is the one the model was fitted with (``fitted_params_``).
        Cells imputed with ``missing="impute"`` count at their imputed value.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
        """
        return super().score_samples(X)

    def score(self, X, y=None, sample_weight=None):
        """Mean per-row ELBO (:meth:`score_samples`), weighted by ``sample_weight``, in scaled
        units; higher is better.

        Not the negative MSE of :class:`AutoEncoder`: minus the mean of ``reconstruction +
        KL`` (weight 1, whatever ``beta``), so GridSearchCV picks the best bound among
        models with the same ``scaler`` and ``loss``. A ``y`` of ``X``'s shape is the target
        of ``fit(X, y)`` (GridSearchCV passes it): the reconstruction term is measured
        against it (with ``loss="bce"`` only the target needs to lie in [0, 1] once
        scaled); labels are ignored. ``sample_weight`` follows ``fit``'s rules.

        Returns
        -------
        score : float
        """
        return super().score(X, y, sample_weight)

    def _scores(self, X, y=None) -> np.ndarray:
        # The ELBO of each row, its reconstruction term against its row of a target y when
        # given (score's: the y of fit(X, y)).
        X_t, Y_t, _ = _tables.scored_rows(self, X, y)
        fitted = as_fitted(self)
        module, elbo = self.module_, fitted._objective()  # the fitted loss
        if fitted.loss == "bce":  # torch's error names no row
            # The Bernoulli likelihood is of the target only (y when given, else X): fit(X,
            # y) and its validation_data take inputs outside [0, 1], so score does too.
            name, rows = ("X", X_t) if Y_t is None else ("y", Y_t)
            _tables.check_unit_range(
                infer(lambda x: _tables.row_extremes(module.scaler(x)), rows, INFER_BATCH),
                name, "clip new rows into the range the training data spanned (with "
                "scaler=None: [0, 1]), or fit with loss='mse' to score any value.")

        def negative_elbo(x, target):
            x_s = module.scaler(x)
            t_s = x_s if target is None else module.scaler(target)
            reconstruction, kl = elbo.per_row(module, x_s, t_s, sample=False)
            return reconstruction + kl

        neg = _tables.infer_pairs(negative_elbo, X_t, Y_t)
        return -neg.cpu().numpy().astype(np.float64)

    def kl_per_dimension(self, X):
        """Mean KL divergence of each latent dimension's posterior from the prior, in nats.

        A dimension near 0 carries no information about the rows (posterior collapse);
        :func:`aekit.diagnose` reports those.

        Returns
        -------
        kl : ndarray of shape (n_components,)
        """
        check_is_fitted(self)
        X = self._check_X(X, reset=False)
        module = self.module_

        def kl(x):
            return losses.gaussian_kl(*module.encoder.distribution(module.scaler(x)))

        kl_rows = infer(kl, self._to_tensor(X), INFER_BATCH)
        return kl_rows.mean(0).cpu().numpy().astype(np.float64)

    def sample(self, n_samples=1, random_state=None):
        """Generate rows: decode draws from the prior N(0, I), in the caller's units.

        Each row is the decoder's output (its mean), without observation noise.

        Parameters
        ----------
        n_samples : int, default=1
        random_state : int, RandomState instance or None, default=None
            Seeds the latent draws.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features_in_), or a DataFrame
            A DataFrame of the fitted table's columns when ``fit`` was given one.
        """
        check_is_fitted(self)
        if isinstance(n_samples, bool) or not isinstance(n_samples, Integral) or n_samples < 1:
            raise ValueError(f"n_samples must be an integer > 0, got {n_samples!r}")
        Z = check_random_state(random_state).standard_normal((n_samples, self._n_features_out))
        X = infer(self.module_.decode, self._to_tensor(Z), INFER_BATCH)
        return self._output(to_numpy(X, Z))
