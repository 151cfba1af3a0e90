"""scikit-learn estimators built on the torch modules and the one training loop."""

from __future__ import annotations

import contextlib
import numbers
from collections.abc import Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    clone,
)
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import train_test_split
from sklearn.utils import check_array, check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from . import distributed, losses
from .nn.classifier import EncoderClassifierNet
from .nn.conv import ConvAutoEncoder
from .nn.dense import DenseAutoEncoder, mlp
from .nn.layers import ACTIVATIONS, NOISES, SCALERS, Scaler, make_corruption
from .nn.variational import DenseVAE, reparameterize
from .streaming import ChunkStream, default_chunk_rows, is_streamable, open_rows
from .training import (
    OPTIMIZERS,
    PRECISIONS,
    autocast_dtype,
    fit_loop,
    infer,
    kept_val_loss,
    make_optimizer,
    pretrain_greedy,
)

_INFER_BATCH = 8192

# sparsity_weight=None: the penalties differ in scale, so each kind has its own default.
_DEFAULT_SPARSITY_WEIGHT = {"l1": 0.1, "kl": 3.0}

SAVABLE = ("AutoEncoder", "VariationalAutoEncoder", "EncoderClassifier")
"""Classes :mod:`aekit.persistence` may instantiate when loading."""


# --------------------------------------------------------------------------- validation
def check_finite(X: np.ndarray, what: str = "X", first_row: int = 0) -> None:
    """Raise a ValueError naming the rows and columns that hold NaN or infinity.

    ``first_row``: the row number of ``X[0]`` in ``what`` (a chunk read from a file).
    """
    # Fast path (as scikit-learn's): a sum is finite when every entry is, and costs no
    # temporary array; only a non-finite sum (or an overflowing one) pays for the scan.
    # torch sums a (zero-copy) view of X on every intra-op thread; NumPy uses one.
    if X.dtype in (np.float32, np.float64):
        shareable = X.flags.c_contiguous and X.flags.writeable  # else torch warns or copies
        with np.errstate(over="ignore", invalid="ignore"):
            total = torch.from_numpy(X).sum() if shareable else torch.tensor(X.sum())
        if torch.isfinite(total):
            return
    bad = ~np.isfinite(X)
    if bad.any():
        rows = first_row + np.flatnonzero(bad.any(axis=tuple(range(1, X.ndim))))
        cols = np.flatnonzero(bad.reshape(len(X), -1).any(axis=0))
        raise ValueError(
            f"{what} contains NaN or infinity in {len(rows)} row(s) {_head(rows)} and "
            f"{len(cols)} column(s) {_head(cols)}; drop or impute them first "
            "(e.g. sklearn.impute.SimpleImputer in a Pipeline)."
        )


def to_tensor(X: np.ndarray, device: torch.device) -> torch.Tensor:
    """``X`` as float32 on ``device``, the dtype the networks compute in.

    A writable, C-contiguous float32 array on the CPU is shared, not copied: callers never
    write into the result (scaling, batch gathers and corruption all make new tensors).
    """
    if device.type == "cpu" and X.dtype == np.float32 and X.flags.writeable and X.flags.c_contiguous:
        return torch.from_numpy(X)
    return torch.tensor(X, dtype=torch.float32, device=device)


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


def _check_sizes(name: str, sizes, empty_means: str) -> None:
    if not isinstance(sizes, (tuple, list)) or not all(
        isinstance(s, numbers.Integral) and not isinstance(s, bool) and s > 0 for s in sizes
    ):
        raise ValueError(
            f"{name} must be a tuple of positive integers (or () for {empty_means}), "
            f"got {sizes!r}"
        )


def _check_training_params(est) -> None:
    """Validate the optimisation parameters every aekit estimator shares."""
    _check_choice("precision", est.precision, PRECISIONS)
    _check_choice("optimizer", est.optimizer, OPTIMIZERS)
    _check_positive("learning_rate", est.learning_rate, numbers.Real)
    _check_positive("weight_decay", est.weight_decay, numbers.Real, allow_zero=True)
    _check_positive("batch_size", est.batch_size)
    _check_positive("max_epochs", est.max_epochs)
    _check_positive("patience", est.patience)
    _check_positive("tol", est.tol, numbers.Real, allow_zero=True)
    vf = est.validation_fraction
    if not isinstance(vf, numbers.Real) or isinstance(vf, bool) or not 0 <= vf < 1:
        raise ValueError(f"validation_fraction must be in [0, 1), got {vf!r}")


@contextlib.contextmanager
def seeded_torch_rng(device: torch.device, seed: int) -> Iterator[None]:
    """Seed torch's RNG for the block, restoring the caller's RNG state afterwards.

    A forked RNG keeps fits reproducible without touching the caller's global seed.
    """
    devices = []
    if device.type == "cuda":  # "cuda" without an index: the current one (a rank's own GPU)
        devices = [device.index if device.index is not None else torch.cuda.current_device()]
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


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
    """Autoencoder (dense or convolutional) with scikit-learn's transformer API.

    The input scaler is part of the model: it is fitted in :meth:`fit`, applied before
    encoding, inverted after decoding and saved with the weights, so codes and
    reconstructions are always in the caller's units.

    The classic variants are parameters, and they combine: ``tied`` weights, denoising
    (``noise``), ``sparsity``, ``contractive``, weight penalties (``l1``, ``weight_decay``),
    ``dropout``, greedy layer-wise ``pretrain``-ing, ``init="identity"`` and
    ``architecture="conv"``. Their penalties are added to the reconstruction loss (all
    off by default); the history records each term.

    Parameters
    ----------
    n_components : int, default=2
        Size of the code (bottleneck); the code layer is linear (a sigmoid with
        ``sparsity="kl"``). It may exceed ``n_features`` (an over-complete code), which
        only makes sense with a regulariser such as ``sparsity`` or ``noise``.
    hidden_layer_sizes : tuple of int or "auto", default="auto"
        Dense: encoder hidden widths, from the input inwards; the decoder mirrors them.
        ``()`` gives the one-layer (shallow) autoencoder. ``"auto"`` is two layers,
        ``(max(256, 4 * n_components), max(128, 2 * n_components))``: never narrower than
        the code, so a large code is not throttled by a narrow hidden layer.
        Conv: the channel widths of the stride-2 convolutions, outermost first (each
        halves the height and width); ``"auto"`` is ``(32, 64)``.
    architecture : {"dense", "conv"}, default="dense"
        ``"conv"``: strided 3x3 convolutions down, a linear code, transposed convolutions
        up, for images. It takes images ``(n, H, W)`` or ``(n, C, H, W)``, or flat rows
        ``(n, C*H*W)`` with ``image_shape``; ``transform`` gives ``(n, n_components)``
        codes, ``reconstruct`` answers in the layout it was given and ``inverse_transform``
        returns images when ``fit`` saw images. Odd sizes (7x7 maps of 28x28 images) are
        restored exactly.
    image_shape : tuple of int, default=None
        ``(C, H, W)`` or ``(H, W)`` of flat rows given to ``architecture="conv"``; not
        needed when ``X`` holds images.
    activation : {"elu", "relu", "leaky_relu", "selu", "tanh", "sigmoid", "linear"}, default="elu"
        Hidden-layer activation. ELU does not die like ReLU units do.
    output_activation : {"auto", "sigmoid", "linear"}, default="auto"
        ``"auto"`` uses a sigmoid when the scaled training data lie in [0, 1], else linear.
    tied : bool, default=False
        Dense only. The decoder uses the transposed encoder weights (its biases are its
        own), halving the parameters; the tie survives ``save`` / ``load``.
    init : {"default", "identity"}, default="default"
        Dense only. ``"identity"`` sets every weight matrix to the identity (zero-padded
        when not square) and biases to zero: a square linear autoencoder then reconstructs
        before training, the usual check that a network can represent the identity.
    dropout : float, default=0.0
        Dropout probability after each hidden activation of encoder and decoder, in
        training only; ``transform`` and ``reconstruct`` are deterministic.
    scaler : {"standard", "minmax", "sample", None}, default="standard"
        Scaling fitted in the model. ``"sample"`` standardises each row by its own mean and
        spread. ``None`` trains on raw values (rarely a good idea).
    loss : {"mse", "bce"}, default="mse"
        Reconstruction loss in scaled units; ``"bce"`` needs scaled data in [0, 1].
    noise : {None, "gaussian", "masking", "salt_pepper"}, default=None
        Denoising autoencoder: training batches are corrupted, the loss compares with the
        clean rows; ``transform`` and ``reconstruct`` see the input as given. The corrupted
        values stay within the training data's range. ``"gaussian"`` adds noise of standard
        deviation ``noise_level`` times the range of the training data (max - min over all
        values, in the caller's units) and clips to that range: the convention for images,
        where ``noise_level=0.5`` on [0, 1] pixels is the usual "noise factor 0.5"; it
        assumes the features share units (for features on different scales use masking or
        salt-and-pepper, which work per feature). ``"masking"`` sets a fraction
        ``noise_level`` of the entries to their feature's minimum (0 for images);
        ``"salt_pepper"`` sets a fraction ``noise_level`` to their feature's minimum or
        maximum, each with probability 1/2.
    noise_level : float, default=0.1
        Strength of ``noise`` (see there); a fraction in [0, 1] for masking and salt-and-pepper.
    sparsity : {None, "l1", "kl"}, default=None
        Sparse autoencoder. ``"l1"`` adds ``sparsity_weight * mean(|code|)``. ``"kl"`` puts
        a sigmoid on the code layer, so activations are in (0, 1), and adds
        ``sparsity_weight`` times the mean over code units of
        ``KL(sparsity_target || mean activation of the unit)``.
    sparsity_weight : float, default=None
        Weight of the sparsity penalty; None is 0.1 for ``"l1"`` and 3.0 for ``"kl"``
        (Ng's value, which brings digits codes within 0.01 of the target). With
        ``tied=True`` the decoder cannot scale its weights up to undo smaller codes, so an
        L1 weight near 0.01 is the better start.
    sparsity_target : float, default=0.05
        Target mean activation of each code unit for ``sparsity="kl"``, in (0, 1).
    contractive : float, default=0.0
        Contractive autoencoder: weight of the mean squared Frobenius norm of the encoder's
        Jacobian ``dcode/dinput`` (network units). Exact for any encoder (one backward pass
        per code unit); a closed form for one-layer linear or sigmoid encoders.
    l1 : float, default=0.0
        Weight of the L1 penalty ``sum(|w|)`` on all weight matrices (not biases). For an
        L2 penalty use ``weight_decay``.
    optimizer : {"adam", "adamw", "sgd", "rmsprop", "adadelta"}, default="adam"
    learning_rate : float, default=1e-3
    weight_decay : float, default=0.0
        L2 weight penalty, applied by the optimizer (decoupled for ``"adamw"``).
    batch_size : int, default=128
        Rows per step; the last smaller batch is used too.
    chunk_rows : int, default=None
        Rows held in memory at once when ``X`` is read from disk (see Notes); ``None``: as
        many float32 rows as fill 64 MiB (21,399 rows of 784 features). Batches are drawn
        within a chunk, so keep it well above ``batch_size``. Unused for arrays in memory.
    max_epochs : int, default=200
        Epochs of (end-to-end) training; after pretraining, of fine-tuning.
    pretrain : {None, "greedy"}, default=None
        Dense only. ``"greedy"``: stacked layer-wise pretraining (Hinton & Salakhutdinov
        2006, Bengio et al. 2007) before the end-to-end training. Each encoder layer with
        its mirror decoder layer is trained as a shallow autoencoder of the previous
        layer's (fixed) codes, outermost first, for ``pretrain_epochs``; the stack is then
        fine-tuned. With ``noise`` each layer is a denoising autoencoder (stacked denoising
        autoencoders); the penalties apply to the fine-tuning only. The history phases
        are ``"pretrain-1"``, ``"pretrain-2"``, ..., then ``"train"``.
    pretrain_epochs : int, default=10
        Epochs per layer of greedy pretraining.
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
    precision : {"auto", "float32", "bfloat16"}, default="auto"
        Arithmetic of the training steps. ``"bfloat16"`` runs matrix products under
        ``torch.autocast`` (weights, optimizer state and losses stay float32); ``"auto"``
        does so where the hardware multiplies bfloat16 natively (CUDA from Ampere on, CPUs
        with AMX or AVX512-BF16), else float32. Inference is always float32.
    verbose : int, default=0
        ``1`` shows a progress bar with loss and val_loss per epoch, and warns about what
        :func:`aekit.diagnose` finds once fitting ends (dead units, collapsed codes, ...).
    log_dir : str or path-like, default=None
        When set, TensorBoard logs go there: losses per epoch and sample reconstructions
        (needs ``pip install aekit[tensorboard]``). With ``n_init > 1`` each restart logs
        into its own ``restart-<i>`` subdirectory.

    Attributes
    ----------
    module_ : DenseAutoEncoder or ConvAutoEncoder
        The fitted torch module, with ``.encoder``, ``.decoder`` and ``.scaler``; both
        take and return flat rows in network units.
    history_ : list of dict
        One record per epoch: ``phase``, ``epoch``, ``loss``, ``val_loss``, ``seconds``;
        with penalties also ``reconstruction`` and ``sparsity`` / ``contractive`` / ``l1``.
    input_shape_ : tuple of int
        Shape of one sample as ``fit`` saw it: ``(n_features,)``, ``(H, W)`` or ``(C, H, W)``.
    image_shape_ : tuple of int
        ``(C, H, W)``, with ``architecture="conv"`` only.
    loss_ : float
        Final training loss (scaled units). ``validation_loss_`` likewise, or None.
    n_iter_ : int
        Epochs run by the kept restart.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when ``X`` had string column names.
    device_ : torch.device

    Notes
    -----
    Data larger than memory: ``fit``, ``transform``, ``reconstruct`` and ``score_samples``
    also take a path to a ``.npy`` file, a :class:`numpy.memmap`, a directory of ``.npy``
    shards or Parquet file(s) (see :func:`aekit.streaming.open_rows`), and read it
    ``chunk_rows`` rows at a time, so memory is bounded by the chunk, not the data. ``fit``
    first reads it once in file order (checks, scaler statistics in float64, equal to those
    of the data in memory), then each epoch reads the chunks in a fresh random order and
    draws batches within each. The hold-out is a fixed random subset of
    ``min(validation_fraction * n_samples, chunk_rows)`` rows, kept in memory.
    ``pretrain="greedy"`` needs the data in memory. Results are reproducible for a fixed
    ``random_state`` but differ from a fit on the same rows in memory (other batches).

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
        "input_shape_",
        "image_shape_",
    )

    # Defaults of the variant parameters, read by the shared code paths (fit, transform...)
    # of subclasses whose __init__ does not take them: those get the plain dense model.
    architecture, image_shape, tied, init, dropout = "dense", None, False, "default", 0.0
    noise, noise_level, sparsity, sparsity_weight, sparsity_target = None, 0.1, None, None, 0.05
    contractive, l1, pretrain, pretrain_epochs = 0.0, 0.0, None, 10
    chunk_rows = None

    def __init__(
        self,
        n_components=2,
        *,
        hidden_layer_sizes="auto",
        architecture="dense",
        image_shape=None,
        activation="elu",
        output_activation="auto",
        tied=False,
        init="default",
        dropout=0.0,
        scaler="standard",
        loss="mse",
        noise=None,
        noise_level=0.1,
        sparsity=None,
        sparsity_weight=None,
        sparsity_target=0.05,
        contractive=0.0,
        l1=0.0,
        optimizer="adam",
        learning_rate=1e-3,
        weight_decay=0.0,
        batch_size=128,
        chunk_rows=None,
        max_epochs=200,
        pretrain=None,
        pretrain_epochs=10,
        validation_fraction=0.1,
        early_stopping=True,
        patience=20,
        tol=1e-4,
        n_init=1,
        random_state=None,
        device="auto",
        precision="auto",
        verbose=0,
        log_dir=None,
    ):
        self.n_components = n_components
        self.hidden_layer_sizes = hidden_layer_sizes
        self.architecture = architecture
        self.image_shape = image_shape
        self.activation = activation
        self.output_activation = output_activation
        self.tied = tied
        self.init = init
        self.dropout = dropout
        self.scaler = scaler
        self.loss = loss
        self.noise = noise
        self.noise_level = noise_level
        self.sparsity = sparsity
        self.sparsity_weight = sparsity_weight
        self.sparsity_target = sparsity_target
        self.contractive = contractive
        self.l1 = l1
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.chunk_rows = chunk_rows
        self.max_epochs = max_epochs
        self.pretrain = pretrain
        self.pretrain_epochs = pretrain_epochs
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

    # ------------------------------------------------------------------ parameters
    def _validate_params(self) -> None:
        _check_positive("n_components", self.n_components)
        if self.hidden_layer_sizes != "auto":
            _check_sizes("hidden_layer_sizes", self.hidden_layer_sizes, "a one-layer autoencoder")
        _check_choice("activation", self.activation, list(ACTIVATIONS))
        _check_choice("output_activation", self.output_activation, ["auto", "sigmoid", "linear"])
        _check_choice("scaler", self.scaler, SCALERS)
        _check_choice("loss", self.loss, losses.RECONSTRUCTION_LOSSES)
        _check_training_params(self)
        _check_positive("n_init", self.n_init)
        if self.chunk_rows is not None:
            _check_positive("chunk_rows", self.chunk_rows)
        self._validate_variant_params()

    def _validate_variant_params(self) -> None:
        # The variants are parameters of one estimator; these checks say which combine.
        _check_choice("architecture", self.architecture, ["dense", "conv"])
        conv = self.architecture == "conv"
        shape = self.image_shape
        if shape is not None:
            if not conv:
                raise ValueError(
                    f"image_shape={shape!r} is only used with architecture='conv'; leave it "
                    "None for the dense autoencoder, or set architecture='conv'."
                )
            if not (
                isinstance(shape, (tuple, list))
                and len(shape) in (2, 3)
                and all(isinstance(s, numbers.Integral) and not isinstance(s, bool) and s > 0
                        for s in shape)
            ):
                raise ValueError(
                    f"image_shape must be (channels, height, width) or (height, width) of "
                    f"positive integers, got {shape!r}"
                )
        if conv and self.hidden_layer_sizes != "auto" and len(self.hidden_layer_sizes) == 0:
            raise ValueError(
                "architecture='conv' needs at least one channel width in hidden_layer_sizes "
                "(e.g. (32, 64), or 'auto'); () is only the one-layer dense autoencoder."
            )
        if not isinstance(self.tied, (bool, np.bool_)):
            raise ValueError(f"tied must be True or False, got {self.tied!r}")
        _check_choice("init", self.init, ["default", "identity"])
        _check_choice("pretrain", self.pretrain, [None, "greedy"])
        for name, value in (("tied", self.tied), ("init", self.init != "default"),
                            ("pretrain", self.pretrain is not None)):
            if conv and value:
                raise ValueError(
                    f"{name}={getattr(self, name)!r} works with architecture='dense' only; "
                    f"use architecture='dense' or leave {name} at its default."
                )
        _check_positive("pretrain_epochs", self.pretrain_epochs)
        d = self.dropout
        if not isinstance(d, numbers.Real) or isinstance(d, bool) or not 0 <= d < 1:
            raise ValueError(f"dropout must be a probability in [0, 1), got {d!r}")
        _check_choice("noise", self.noise, NOISES)
        level = self.noise_level
        _check_positive("noise_level", level, numbers.Real, allow_zero=True)
        if self.noise in ("masking", "salt_pepper") and level > 1:
            raise ValueError(
                f"noise_level={level!r} is the fraction of entries corrupted by "
                f"noise={self.noise!r}, so it must be in [0, 1]"
            )
        _check_choice("sparsity", self.sparsity, losses.SPARSITIES)
        if self.sparsity_weight is not None:
            _check_positive("sparsity_weight", self.sparsity_weight, numbers.Real, allow_zero=True)
        t = self.sparsity_target
        if not isinstance(t, numbers.Real) or isinstance(t, bool) or not 0 < t < 1:
            raise ValueError(
                f"sparsity_target must be in (0, 1) (the mean activation of the sigmoid "
                f"codes), got {t!r}"
            )
        _check_positive("contractive", self.contractive, numbers.Real, allow_zero=True)
        _check_positive("l1", self.l1, numbers.Real, allow_zero=True)

    # ------------------------------------------------------------------ data
    def _check_X(self, X, *, reset: bool, return_shape: bool = False):
        """Validated rows (n, n_features); images (conv only) are flattened to rows.

        With ``return_shape``, also the shape of one sample as given ((n_features,) for
        rows, (H, W) or (C, H, W) for images), so outputs can take the input's layout.
        """
        # Only arrays can hold images; anything else goes to scikit-learn's checks as is.
        ndim = getattr(X, "ndim", 2)
        if ndim > 2:
            X, sample_shape = self._flatten_images(np.asarray(X), reset=reset)
        X = validate_data(
            self, X, reset=reset, dtype=[np.float64, np.float32], ensure_all_finite=False
        )
        check_finite(X)
        if ndim <= 2:
            sample_shape = X.shape[1:]
            if reset and self.architecture == "conv":
                self.image_shape_ = self._resolve_image_shape(sample_shape)
        if reset:
            self.input_shape_ = tuple(sample_shape)
        return (X, tuple(sample_shape)) if return_shape else X

    def _flatten_images(self, X: np.ndarray, *, reset: bool) -> tuple[np.ndarray, tuple]:
        if self.architecture != "conv":
            raise ValueError(
                f"X has dim {X.ndim} (shape {X.shape}), but architecture={self.architecture!r} "
                "takes rows (n_samples, n_features); flatten images with "
                "X.reshape(len(X), -1), or use architecture='conv' for images."
            )
        if X.ndim not in (3, 4):
            raise ValueError(
                f"X has shape {X.shape}; architecture='conv' takes images (n, H, W) or "
                "(n, C, H, W), or flat rows (n, C*H*W) with image_shape set."
            )
        sample_shape = X.shape[1:]
        if reset:
            self.image_shape_ = self._resolve_image_shape(sample_shape)
        else:
            check_is_fitted(self)
            image = (1, *sample_shape) if len(sample_shape) == 2 else tuple(sample_shape)
            if image != tuple(self.image_shape_):
                raise ValueError(
                    f"X holds images of shape {sample_shape}, but the model was fitted on "
                    f"images of shape {tuple(self.image_shape_)} (C, H, W)."
                )
        return X.reshape(len(X), -1), sample_shape

    def _resolve_image_shape(self, sample_shape: tuple) -> tuple[int, int, int]:
        """(C, H, W) of the images fit sees, from their shape and ``image_shape``."""
        given = None
        if self.image_shape is not None:
            given = tuple(int(s) for s in self.image_shape)
            given = (1, *given) if len(given) == 2 else given
        if len(sample_shape) == 1:
            if given is None:
                raise ValueError(
                    f"architecture='conv' got flat rows of {sample_shape[0]} features; pass "
                    "images (n, H, W) or (n, C, H, W), or set image_shape=(C, H, W) or (H, W) "
                    "(e.g. image_shape=(28, 28) for Fashion-MNIST rows)."
                )
            if int(np.prod(given)) != sample_shape[0]:
                raise ValueError(
                    f"image_shape={self.image_shape!r} has {int(np.prod(given))} pixels but "
                    f"the rows have {sample_shape[0]} features"
                )
            return given
        image = (1, *sample_shape) if len(sample_shape) == 2 else tuple(sample_shape)
        if given is not None and given != image:
            raise ValueError(
                f"image_shape={self.image_shape!r} does not match the images in X, of shape "
                f"{tuple(sample_shape)}; leave image_shape=None for images."
            )
        return tuple(int(s) for s in image)

    def _to_tensor(self, X: np.ndarray) -> torch.Tensor:
        return to_tensor(X, self.device_)

    @staticmethod
    def _to_numpy(T: torch.Tensor, like: np.ndarray) -> np.ndarray:
        dtype = like.dtype if like.dtype in (np.float32, np.float64) else np.float64
        return T.detach().cpu().numpy().astype(dtype, copy=False)

    # ------------------------------------------------------------------ model
    def _hidden_sizes(self) -> tuple[int, ...]:
        if self.hidden_layer_sizes == "auto":
            if self.architecture == "conv":
                return (32, 64)
            k = self.n_components
            return (max(256, 4 * k), max(128, 2 * k))
        return tuple(self.hidden_layer_sizes)

    def _build_module(self, n_features: int) -> DenseAutoEncoder | ConvAutoEncoder:
        """A fresh, unfitted module for ``n_features`` inputs (used by ``fit`` and ``load``)."""
        # KL sparsity needs codes in (0, 1): a sigmoid code layer.
        code_activation = "sigmoid" if self.sparsity == "kl" else "linear"
        if self.architecture == "conv":
            return ConvAutoEncoder(
                tuple(self.image_shape_),
                self.n_components,
                self._hidden_sizes(),
                self.activation,
                self.output_activation_,
                self.scaler,
                code_activation=code_activation,
                dropout=self.dropout,
                # channels_last: the layout oneDNN and cuDNN convolve fastest. Measured on
                # the 2-core Xeon (bench/conv_speed.py): 30% less time per epoch on the CPU.
                channels_last=True,
            )
        return DenseAutoEncoder(
            n_features,
            self.n_components,
            self._hidden_sizes(),
            self.activation,
            self.output_activation_,
            self.scaler,
            code_activation=code_activation,
            tied=self.tied,
            dropout=self.dropout,
            init=self.init,
        )

    def _resolve_output_activation(self, X_scaled: torch.Tensor) -> str:
        if self.output_activation != "auto":
            return self.output_activation
        in_unit = bool((X_scaled.min() >= 0) & (X_scaled.max() <= 1))
        return "sigmoid" if in_unit else "linear"

    def _set_output_activation(self, X_scaled: torch.Tensor) -> None:
        """Set ``output_activation_`` for training rows ``X_scaled`` (network units; any rows
        with the same minimum and maximum will do) and check that ``loss`` suits them."""
        self.output_activation_ = self._resolve_output_activation(X_scaled)
        if self.loss == "bce" and (
            self.output_activation_ != "sigmoid" or X_scaled.min() < 0 or X_scaled.max() > 1
        ):
            raise ValueError(
                "loss='bce' needs scaled data in [0, 1] and a sigmoid output; use "
                "scaler='minmax' (or data already in [0, 1] with scaler=None) and "
                "output_activation='auto' or 'sigmoid', or use loss='mse'."
            )

    def _objective(self, module, x_in, x):
        # Every variant is a term added here, outside forward, so they combine freely.
        if self.contractive > 0:
            z, jacobian = self._encode_with_jacobian(module, x_in)
        else:
            z = module.encoder(x_in)
        reconstruction = losses.reconstruction(module.decoder(z), x, self.loss)
        loss, terms = reconstruction, {}
        if self.sparsity == "l1":
            terms["sparsity"] = losses.l1_activity(z)
        elif self.sparsity == "kl":
            terms["sparsity"] = losses.kl_sparsity(z, self.sparsity_target)
        if "sparsity" in terms:
            weight = self.sparsity_weight
            if weight is None:
                weight = _DEFAULT_SPARSITY_WEIGHT[self.sparsity]
            loss = loss + weight * terms["sparsity"]
        if self.contractive > 0:
            terms["contractive"] = jacobian
            loss = loss + self.contractive * jacobian
        if self.l1 > 0:
            terms["l1"] = losses.l1_weights(p for p in module.parameters() if p.ndim > 1)
            loss = loss + self.l1 * terms["l1"]
        if terms:
            terms["reconstruction"] = reconstruction
        return {"loss": loss, **terms}

    def _encode_with_jacobian(self, module, x_in):
        """Codes and the mean squared Frobenius norm of the encoder Jacobian at ``x_in``.

        Also under ``no_grad`` (the validation loss), so early stopping watches the same
        objective; the graph is kept only when training.
        """
        encoder = module.encoder
        layers = [m for m in encoder if any(True for _ in m.parameters(recurse=False))]
        others = {type(m) for m in encoder if m not in layers}
        if len(layers) == 1 and isinstance(layers[0], torch.nn.Linear) and others <= {
            torch.nn.Sigmoid
        }:
            # One-layer linear or sigmoid encoder: closed form, no extra backward passes.
            z = encoder(x_in)
            kind = "sigmoid" if others else "linear"
            return z, losses.contractive_one_layer(z, layers[0].weight, kind)
        grad_enabled = torch.is_grad_enabled()
        with torch.enable_grad():
            x_req = x_in.detach().requires_grad_(True)
            z = encoder(x_req)
            penalty = losses.contractive(z, x_req, create_graph=grad_enabled)
        if not grad_enabled:
            z, penalty = z.detach(), penalty.detach()
        return z, penalty

    def _corruption(self, X_s: torch.Tensor, scaler: Scaler | None = None):
        """The denoising corruption for batches like ``X_s`` (network units), or None.

        ``scaler``: the in-model scaler when ``X_s`` are scaled input rows; None for hidden
        codes (greedy pretraining), whose units each keep their own range.
        """
        if self.noise is None:
            return None
        low, high = X_s.amin(0), X_s.amax(0)
        if self.noise == "gaussian" and scaler is not None:
            # Inputs are noised in one range shared by all features, as images are: the
            # min and max over all training values in the caller's units, mapped into each
            # feature's network units (a constant border pixel of 0 still gets noise).
            if scaler.kind == "sample":  # rows standardised: features already share units
                low, high = X_s.min().expand_as(low), X_s.max().expand_as(high)
            else:
                X = scaler.inverse(X_s)
                low, high = (scaler(torch.full_like(X[:1], v))[0] for v in (X.min(), X.max()))
        return make_corruption(self.noise, self.noise_level, low, high)

    def _on_epoch_start(self, epoch: int) -> None:
        """Called by the fit loop before each epoch (1-based); schedules override it."""

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
        if is_streamable(X):  # a file or a memory map: read in chunks, never whole
            return self._fit_stream(X)
        X = self._check_X(X, reset=True)
        self.device_ = resolve_device(self.device)
        # Several processes: random_state=None becomes one seed shared by every rank.
        rng = check_random_state(distributed.same_random_state(self.random_state))
        X_all = self._to_tensor(X)

        # The hold-out is drawn once, so restarts are compared on the same rows.
        order = torch.from_numpy(rng.permutation(len(X))).to(self.device_)
        n_val = int(self.validation_fraction * len(X))
        if n_val < 1 or len(X) - n_val < 1:
            n_val = 0
        # The scaler sees every row given to fit (the hold-out only watches for early
        # stopping), so it is the same for every restart and independent of the split.
        scaler = Scaler(X_all.shape[1], self.scaler).to(self.device_).fit(X_all)
        X_scaled = scaler(X_all)
        self._set_output_activation(X_scaled)
        X_fit, X_val = X_scaled[order[n_val:]], X_scaled[order[:n_val]]
        X_sample = X_all[order[:8]]
        del X_all, X_scaled  # training needs the gathered rows only: free the full copies
        return self._fit_restarts(X_fit, X_val if n_val else None, scaler, rng, X_sample, X)

    def _fit_stream(self, X) -> "AutoEncoder":
        """:meth:`fit` on rows read from disk, ``chunk_rows`` at a time (see Notes)."""
        source = open_rows(X)
        self._check_stream(source, reset=True)
        if self.pretrain is not None:
            raise ValueError(
                f"pretrain={self.pretrain!r} keeps every row's hidden codes in memory, so it "
                "cannot stream X from disk; load X into memory (np.load(path)) or leave "
                "pretrain=None."
            )
        self.device_ = resolve_device(self.device)
        rng = check_random_state(distributed.same_random_state(self.random_state))
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

        scaler = Scaler(source.n_features, self.scaler).to(self.device_)
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
        return self._fit_restarts(
            stream, X_val_s, scaler, rng, self._to_tensor(X_sample), X_check
        )

    def _check_stream(self, source, *, reset: bool) -> None:
        # A stand-in row is validated as an in-memory X would be (n_features_in_, image
        # shapes, the errors of a wrong width), without reading any data.
        self._check_X(np.zeros((1, *source.sample_shape), source.dtype), reset=reset)

    def _fit_restarts(self, X_fit, X_val, scaler, rng, X_sample, X_check) -> "AutoEncoder":
        """Train ``n_init`` restarts on scaled rows and keep the best.

        ``X_sample``: a few raw rows on the device, for TensorBoard; ``X_check``: raw rows
        (all of them, or a sample when streamed) for the diagnostics of ``verbose``.
        """
        best = None
        for i, seed in enumerate(rng.randint(np.iinfo(np.int32).max, size=self.n_init)):
            logger = self._tensorboard_logger(X_sample, i)
            try:
                run = self._fit_once(X_fit, X_val, scaler, int(seed), on_epoch_end=logger)
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

            warn_findings(self, X_check)
        return self

    def _tensorboard_logger(self, X_sample: torch.Tensor, restart: int):
        """A TensorBoard ``on_epoch_end`` callback when ``log_dir`` is set, else None."""
        if self.log_dir is None or not distributed.is_main():  # one writer per run
            return None
        from pathlib import Path

        from ._tensorboard import TensorBoardLogger

        log_dir = Path(self.log_dir)
        if self.n_init > 1:
            log_dir = log_dir / f"restart-{restart}"
        return TensorBoardLogger(log_dir, X_sample[:8])

    def _fit_once(
        self,
        X_fit_s: torch.Tensor | ChunkStream,
        X_val_s: torch.Tensor | None,
        scaler: Scaler,
        seed: int,
        on_epoch_end=None,
    ) -> dict:
        """One restart on already scaled rows (or a stream of them); returns its module,
        history and score."""
        patience = self.patience if self.early_stopping else None
        with seeded_torch_rng(self.device_, seed):
            module = self._build_module(self.n_features_in_).to(self.device_)
            module.scaler.load_state_dict(scaler.state_dict())
            history = []
            if self.pretrain == "greedy":
                history += pretrain_greedy(
                    module.encoder,
                    module.decoder,
                    X_fit_s,
                    X_val_s,
                    make_optimizer=lambda params: make_optimizer(
                        self.optimizer, params, self.learning_rate, self.weight_decay
                    ),
                    batch_size=self.batch_size,
                    max_epochs=self.pretrain_epochs,
                    loss=self.loss,
                    corrupt_for=lambda layer, H: self._corruption(
                        H, scaler if layer == 1 else None
                    ),
                    patience=patience,
                    tol=self.tol,
                    verbose=self.verbose,
                    # Callbacks see the deep model, whose layers the shallow ones are.
                    on_epoch_end=None if on_epoch_end is None else (
                        lambda record, _shallow: on_epoch_end(record, module)
                    ),
                    autocast=autocast_dtype(self.precision, self.device_),
                )
            optimizer = make_optimizer(
                self.optimizer, module.parameters(), self.learning_rate, self.weight_decay
            )
            history += fit_loop(
                module,
                self._objective,
                X_fit_s,
                X_val_s,
                optimizer=optimizer,
                batch_size=self.batch_size,
                max_epochs=self.max_epochs,
                patience=patience,
                tol=self.tol,
                # A stream's per-feature range stands in for its rows: all noise needs.
                corrupt=self._corruption(
                    X_fit_s.bounds if isinstance(X_fit_s, ChunkStream) else X_fit_s, scaler
                ),
                verbose=self.verbose,
                on_epoch_end=on_epoch_end,
                on_epoch_start=self._on_epoch_start,
                autocast=autocast_dtype(self.precision, self.device_),
            )
        val_loss = kept_val_loss(history, self.early_stopping)  # of the final phase only
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
        if is_streamable(X):  # a file or memory map, read chunk by chunk (see Notes)
            return np.concatenate(list(self._map_stream(X, self.transform)))
        check_is_fitted(self)
        X = self._check_X(X, reset=False)
        Z = infer(self.module_.encode, self._to_tensor(X), _INFER_BATCH)
        return self._to_numpy(Z, X)

    def _map_stream(self, X, method) -> Iterator[np.ndarray]:
        """``method`` (e.g. ``self.transform``) of the rows of file or memory map ``X``, one
        chunk of ``chunk_rows`` rows at a time, in file order."""
        check_is_fitted(self)
        source = open_rows(X)
        self._check_stream(source, reset=False)
        for c in source.scan(self.chunk_rows or default_chunk_rows(source.n_features)):
            check_finite(c.rows, c.file, first_row=c.file_row)  # names the row in the file
            yield method(c.rows.reshape(len(c.rows), *source.sample_shape))

    def inverse_transform(self, X):
        """Decode codes into rows in the caller's units (scaling inverted).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_components)
            Codes, as returned by :meth:`transform`.

        Returns
        -------
        X_original : ndarray of shape (n_samples, n_features_in_)
            Or images (n_samples, *input_shape_) when ``fit`` was given images.
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
        shape = getattr(self, "input_shape_", None) or (X_hat.shape[1],)
        return self._to_numpy(X_hat, Z).reshape(len(Z), *shape)

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
            In the layout of ``X``: images when given images (conv).
        """
        if is_streamable(X):  # read chunk by chunk; the result is as large as X
            return np.concatenate(list(self._map_stream(X, self.reconstruct)))
        check_is_fitted(self)
        X, sample_shape = self._check_X(X, reset=False, return_shape=True)
        X_hat = self._to_numpy(self._reconstruct_tensor(self._to_tensor(X)), X)
        return X_hat.reshape(len(X), *sample_shape)

    def score_samples(self, X):
        """Per-row negative mean squared reconstruction error, in the caller's units.

        Higher is better, as everywhere in scikit-learn; ``-score_samples(X)`` is each
        row's reconstruction error (useful to rank anomalies).

        Returns
        -------
        scores : ndarray of shape (n_samples,)
        """
        if is_streamable(X):  # a file or memory map, read chunk by chunk (see Notes)
            return np.concatenate(list(self._map_stream(X, self.score_samples)))
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


# --------------------------------------------------------------------------- variational
def kl_weight(epoch: int, beta: float, warmup_epochs: int) -> float:
    """Weight of the KL term in ``epoch`` (1-based) of a KL warm-up.

    0 in the first epoch, rising linearly to ``beta``, reached in epoch
    ``warmup_epochs + 1`` and kept from then on; ``warmup_epochs=0`` is ``beta`` throughout.
    """
    if warmup_epochs <= 0:
        return float(beta)
    return float(beta) * min(1.0, (epoch - 1) / warmup_epochs)


class VariationalAutoEncoder(AutoEncoder):
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
    n_components, hidden_layer_sizes, activation, output_activation, scaler, loss, \
optimizer, learning_rate, weight_decay, batch_size, max_epochs, validation_fraction, \
early_stopping, patience, tol, n_init, random_state, device, verbose, log_dir
        As for :class:`AutoEncoder`; ``n_components`` is the number of latent dimensions.
    beta : float, default=1.0
        Weight of the KL term (``beta > 1`` is the beta-VAE; ``0`` leaves a noisy
        autoencoder whose codes are not pulled to the prior).
    kl_warmup_epochs : int, default=0
        The KL weight rises linearly from 0 (first epoch) to ``beta`` over this many epochs
        (see :func:`kl_weight`), which helps against posterior collapse.

    Attributes
    ----------
    module_ : aekit.nn.variational.DenseVAE
        ``.encoder`` (a :class:`~aekit.nn.variational.GaussianEncoder`), ``.decoder``,
        ``.scaler``.
    history_ : list of dict
        Per epoch: ``loss`` (the negative ELBO with the epoch's KL weight, on posterior
        draws), ``reconstruction``, ``kl``, ``kl_weight`` (training averages), ``val_loss``
        (the negative ELBO with the full ``beta`` at the posterior mean, so early stopping
        compares epochs on one fixed objective), ``phase``, ``epoch``, ``seconds``.
    loss_, validation_loss_, n_iter_, n_features_in_, feature_names_in_, device_
        As for :class:`AutoEncoder`.

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
    >>> from aekit.datasets import load_digits
    >>> X_train, X_test, _, _ = load_digits(split=True)
    >>> vae = VariationalAutoEncoder(n_components=2, random_state=0).fit(X_train)
    >>> vae.transform(X_test).shape, vae.sample(5, random_state=0).shape
    ((450, 2), (5, 64))
    """

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
        precision="auto",
        verbose=0,
        log_dir=None,
        beta=1.0,
        kl_warmup_epochs=0,
    ):
        super().__init__(
            n_components,
            hidden_layer_sizes=hidden_layer_sizes,
            activation=activation,
            output_activation=output_activation,
            scaler=scaler,
            loss=loss,
            optimizer=optimizer,
            learning_rate=learning_rate,
            weight_decay=weight_decay,
            batch_size=batch_size,
            max_epochs=max_epochs,
            validation_fraction=validation_fraction,
            early_stopping=early_stopping,
            patience=patience,
            tol=tol,
            n_init=n_init,
            random_state=random_state,
            device=device,
            precision=precision,
            verbose=verbose,
            log_dir=log_dir,
        )
        self.beta = beta
        self.kl_warmup_epochs = kl_warmup_epochs

    def _validate_params(self) -> None:
        super()._validate_params()
        _check_positive("beta", self.beta, numbers.Real, allow_zero=True)
        _check_positive("kl_warmup_epochs", self.kl_warmup_epochs, allow_zero=True)

    def _build_module(self, n_features: int) -> DenseVAE:
        return DenseVAE(
            n_features,
            self.n_components,
            self._hidden_sizes(),
            self.activation,
            self.output_activation_,
            self.scaler,
        )

    # ------------------------------------------------------------------ objective
    def _on_epoch_start(self, epoch: int) -> None:
        self._kl_weight = kl_weight(epoch, self.beta, self.kl_warmup_epochs)

    def _elbo_terms(self, module, x_in, x, *, sample: bool):
        """Per-row reconstruction loss and KL, each (n,), scaled units.

        ``sample``: decode a reparameterised posterior draw (training), else the mean.
        """
        mean, log_var = module.encoder.distribution(x_in)
        z = reparameterize(mean, log_var) if sample else mean
        reconstruction = losses.reconstruction_per_row(module.decoder(z), x, self.loss)
        return reconstruction, losses.gaussian_kl(mean, log_var).sum(1)

    def _objective(self, module, x_in, x):
        # Training: a posterior draw and the warm-up's KL weight. Evaluation (eval mode, the
        # validation loss): the posterior mean and the full beta, a fixed yardstick.
        training = module.training
        reconstruction, kl = self._elbo_terms(module, x_in, x, sample=training)
        weight = getattr(self, "_kl_weight", self.beta) if training else float(self.beta)
        reconstruction, kl = reconstruction.mean(), kl.mean()
        return {
            "loss": reconstruction + weight * kl,
            "reconstruction": reconstruction,
            "kl": kl,
            "kl_weight": x.new_tensor(weight),
        }

    # ------------------------------------------------------------------ inference
    def score_samples(self, X):
        """Per-row evidence lower bound (ELBO), in scaled units; higher is better.

        ``-score_samples(X)`` is each row's negative ELBO, ``reconstruction + KL`` (with
        weight 1, whatever ``beta``, so scores compare across ``beta``), the reconstruction
        term evaluated at the posterior mean: a deterministic estimate. With ``loss="mse"``
        it omits the Gaussian constant, so compare it between models on the same data.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
        """
        if is_streamable(X):  # a file or memory map, read chunk by chunk
            return np.concatenate(list(self._map_stream(X, self.score_samples)))
        check_is_fitted(self)
        X = self._check_X(X, reset=False)
        module = self.module_

        def negative_elbo(x):
            x_s = module.scaler(x)
            reconstruction, kl = self._elbo_terms(module, x_s, x_s, sample=False)
            return reconstruction + kl

        neg = infer(negative_elbo, self._to_tensor(X), _INFER_BATCH)
        return -neg.cpu().numpy().astype(np.float64)

    def score(self, X, y=None):
        """Mean per-row ELBO, ``score_samples(X).mean()``; higher is better."""
        return float(np.mean(self.score_samples(X)))

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

        kl_rows = infer(kl, self._to_tensor(X), _INFER_BATCH)
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
        X : ndarray of shape (n_samples, n_features_in_)
        """
        check_is_fitted(self)
        _check_positive("n_samples", n_samples)
        Z = check_random_state(random_state).standard_normal((n_samples, self.n_components))
        X = infer(self.module_.decode, self._to_tensor(Z), _INFER_BATCH)
        return self._to_numpy(X, Z)


# --------------------------------------------------------------------------- classifier
def _cross_entropy(module, x_in, y):
    logits = module(x_in)
    return {
        "loss": F.cross_entropy(logits, y),
        "accuracy": (logits.argmax(1) == y).float().mean(),
    }


class EncoderClassifier(ClassifierMixin, BaseEstimator):
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
    learning_rate : float, default=1e-3
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
    precision : {"auto", "float32", "bfloat16"}, default="auto"
        Arithmetic of the training steps. ``"bfloat16"`` runs matrix products under
        ``torch.autocast`` (weights, optimizer state and losses stay float32); ``"auto"``
        does so where the hardware multiplies bfloat16 natively (CUDA from Ampere on, CPUs
        with AMX or AVX512-BF16), else float32. Inference is always float32.
    verbose : int, default=0

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    module_ : aekit.nn.classifier.EncoderClassifierNet
        ``.scaler``, ``.encoder`` (copies of the autoencoder's) and ``.head``.
    autoencoder_attributes_ : dict
        The fitted autoencoder's saved attributes (except its history) that its module's
        shape depends on, so :func:`aekit.load` can rebuild the network.
    history_ : list of dict
        Per epoch: ``loss`` (cross-entropy), ``accuracy`` (training), ``val_loss``, ...
    loss_, validation_loss_, n_iter_, n_features_in_, feature_names_in_, device_
        As for :class:`AutoEncoder`.

    Notes
    -----
    A saved and loaded classifier predicts identically; its ``autoencoder`` parameter comes
    back unfitted (same parameters), so refitting it refits the autoencoder on the new
    ``X``.

    Examples
    --------
    >>> from aekit import AutoEncoder, EncoderClassifier
    >>> from aekit.datasets import load_digits
    >>> X_train, X_test, y_train, y_test = load_digits(split=True)
    >>> ae = AutoEncoder(n_components=16, random_state=0).fit(X_train)
    >>> clf = EncoderClassifier(ae, random_state=0).fit(X_train[:200], y_train[:200])
    >>> clf.predict(X_test).shape
    (450,)
    """

    _saved_attributes = (
        "n_features_in_",
        "feature_names_in_",
        "classes_",
        "autoencoder_attributes_",
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
        learning_rate=1e-3,
        weight_decay=0.0,
        batch_size=128,
        max_epochs=200,
        validation_fraction=0.1,
        early_stopping=True,
        patience=20,
        tol=1e-4,
        random_state=None,
        device="auto",
        precision="auto",
        verbose=0,
    ):
        self.autoencoder = autoencoder
        self.head_hidden = head_hidden
        self.freeze = freeze
        self.optimizer = optimizer
        self.learning_rate = learning_rate
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

    def _check_X(self, X, *, reset: bool) -> np.ndarray:
        # Flat rows only: an autoencoder fitted on images takes them flattened here.
        X = validate_data(
            self, X, reset=reset, dtype=[np.float64, np.float32], ensure_all_finite=False
        )
        check_finite(X)
        return X

    def _to_tensor(self, X: np.ndarray) -> torch.Tensor:
        return to_tensor(X, self.device_)

    def _validate_params(self) -> None:
        if not isinstance(self.autoencoder, AutoEncoder):
            raise ValueError(
                "autoencoder must be an aekit AutoEncoder or VariationalAutoEncoder (fitted "
                f"or not), got {type(self.autoencoder).__name__}"
            )
        _check_sizes("head_hidden", self.head_hidden, "a linear head")
        if not isinstance(self.freeze, (bool, np.bool_)):
            raise ValueError(f"freeze must be True or False, got {self.freeze!r}")
        _check_training_params(self)

    def _fitted_autoencoder(self, X: np.ndarray) -> AutoEncoder:
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
        return autoencoder

    def _build_module(self, n_features: int) -> EncoderClassifierNet:
        """A fresh network for ``n_features`` inputs (used by ``fit`` and ``load``)."""
        skeleton = clone(self.autoencoder)
        for key, value in self.autoencoder_attributes_.items():
            setattr(skeleton, key, value)
        body = skeleton._build_module(n_features)
        sizes = [skeleton.n_components, *self.head_hidden, len(self.classes_)]
        head = mlp(sizes, skeleton.activation, "linear")
        return EncoderClassifierNet(body.scaler, body.encoder, head, freeze_encoder=self.freeze)

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
        """
        self._validate_params()
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
        autoencoder = self._fitted_autoencoder(X)
        self.autoencoder_attributes_ = {
            key: getattr(autoencoder, key)
            for key in autoencoder._saved_attributes
            if key not in ("history_", "feature_names_in_") and hasattr(autoencoder, key)
        }
        # Several processes: random_state=None becomes one seed shared by every rank.
        rng = check_random_state(distributed.same_random_state(self.random_state))
        fit_rows, val_rows = self._split(y_idx, rng)
        X_t = self._to_tensor(X)
        Y_t = torch.as_tensor(y_idx, dtype=torch.long, device=self.device_)
        with seeded_torch_rng(self.device_, int(rng.randint(np.iinfo(np.int32).max))):
            module = self._build_module(X.shape[1]).to(self.device_)
            # load_state_dict copies: the autoencoder's own weights are never trained.
            module.scaler.load_state_dict(autoencoder.module_.scaler.state_dict())
            module.encoder.load_state_dict(autoencoder.module_.encoder.state_dict())
            X_s = module.scaler(X_t)
            fit_rows, val_rows = (
                torch.as_tensor(r, device=self.device_) for r in (fit_rows, val_rows)
            )
            has_val = len(val_rows) > 0
            optimizer = make_optimizer(
                self.optimizer, module.parameters(), self.learning_rate, self.weight_decay
            )
            self.history_ = fit_loop(
                module,
                _cross_entropy,
                X_s[fit_rows],
                X_s[val_rows] if has_val else None,
                Y=Y_t[fit_rows],
                Y_val=Y_t[val_rows] if has_val else None,
                optimizer=optimizer,
                batch_size=self.batch_size,
                max_epochs=self.max_epochs,
                patience=self.patience if self.early_stopping else None,
                tol=self.tol,
                verbose=self.verbose,
                autocast=autocast_dtype(self.precision, self.device_),
            )
        self.module_ = module.eval()
        self.loss_ = self.history_[-1]["loss"]
        self.validation_loss_ = kept_val_loss(self.history_, self.early_stopping)
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
        logits = infer(self.module_.logits, self._to_tensor(X), _INFER_BATCH)
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

    save = AutoEncoder.save
