"""The autoencoder estimator: dense or convolutional, with the classic variants as parameters."""

from __future__ import annotations

import copy
from numbers import Integral, Real

import torch

from ..training import losses
from ..core.checks import Interval, SizeTuple, StrOptions
from ..core.fitted import changed_params
from ..nn.conv import ConvAutoEncoder
from ..nn.dense import DenseAutoEncoder
from ..nn.layers import ACTIVATIONS, NOISES, ModuleAutoEncoder, Scaler, make_corruption
from ..training.objectives import Reconstruction
from ..training.pretraining import pretrain_greedy
from ..training.loop import autocast_dtype, make_optimizer
from . import _tables
from ._base import BaseAutoEncoder
from ._params import TRAINING as _SHARED

TRAINING = _SHARED.override(
    max_epochs={"note": "After ``pretrain``, the epochs of the end-to-end fine-tuning."})
"""The training parameters as the autoencoder documents them."""


@TRAINING.document
class AutoEncoder(BaseAutoEncoder):
    """Autoencoder (dense or convolutional) with scikit-learn's transformer API.

    The input scaler is part of the model: it is fitted in :meth:`fit`, applied before
    encoding, inverted after decoding and saved with the weights, so codes and
    reconstructions are always in the caller's units.

    The classic variants are parameters, and they combine: ``tied`` weights, denoising
    (``noise``), ``sparsity``, ``contractive``, weight penalties (``l1``, ``weight_decay``),
    ``dropout``, greedy layer-wise ``pretrain``-ing, ``init="identity"`` and
    ``architecture="conv"``. Their penalties are added to the reconstruction loss (all
    off by default); the history records each term. A strength set without its switch
    changes nothing, and ``fit`` warns of it: ``noise_level`` without ``noise``,
    ``sparsity_weight`` without ``sparsity``, ``sparsity_target`` without
    ``sparsity="kl"``, ``pretrain_epochs`` without ``pretrain``, ``activation`` and
    ``dropout`` with ``hidden_layer_sizes=()`` (no hidden layer to act on).

    Parameters
    ----------
    n_components : int, default=2
        Size of the code (bottleneck); the code layer is linear (a sigmoid with
        ``sparsity="kl"``). It may exceed ``n_features`` (an over-complete code), which
        only makes sense with a regulariser such as ``sparsity`` or ``noise``.
    hidden_layer_sizes : tuple of int or "auto", default="auto"
        Dense: encoder hidden widths, from the input inwards; the decoder mirrors them.
        ``()`` gives the one-layer (shallow) autoencoder, whose code layer's activation
        is ``code_activation`` (there is no hidden one). ``"auto"`` is two layers,
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
    activation : str, default="elu"
        Hidden-layer activation (a torch.nn name in lower case). Any element-wise torch.nn
        activation: "elu", "relu", "leaky_relu", "gelu", "silu", "softplus", "mish",
        "tanh", "sigmoid", ... (``aekit.nn.layers.ACTIVATIONS``), or "linear". ELU does
        not die like ReLU units do.
    output_activation : {"auto", "sigmoid", "linear"}, default="auto"
        ``"auto"`` uses a sigmoid when the scaled training data lie in [0, 1], else linear.
    code_activation : str, default=None
        Activation of the code (bottleneck) layer, by name as ``activation`` (``"relu"``,
        ``"tanh"``, ``"sigmoid"``, ...); None is linear (PCA's kind of code). A ReLU or
        tanh code is the classic Keras network's. ``sparsity="kl"`` needs a sigmoid code
        (None gives it one).
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
    scaler : {"auto", "standard", "robust", "quantile", "log", "minmax", "sample", None}, \
default="auto"
        Scaling fitted in the model, per column; inverted exactly at the output.
        ``"auto"`` standardises each column, after a signed log
        (``sign(x - median) * log1p(|x - median| / s)``) for a heavy-tailed one: a column
        whose standard deviation is over 10 times its typical deviation from the median
        (a ratio, a byte count, a price), where plain standardising would squeeze the bulk
        of the rows into a sliver of the range; other columns (images, counts, rates) are
        standardised as by ``"standard"``; with ``output_activation="sigmoid"``, data
        that lie in [0, 1] are left as they are, where the sigmoid reaches them (the
        classic Keras recipe on pixels). ``"robust"``: median and interquartile range /
        1.349.
        ``"quantile"``: each column through its distribution function onto a normal.
        ``"log"``: the signed log on every column. ``"minmax"``: each column to [0, 1].
        ``"sample"`` standardises each row by its own mean and spread. ``None`` trains on
        raw values (rarely a good idea). See :class:`aekit.nn.layers.Scaler`.
    loss : {"mse", "bce"} or callable, default="mse"
        Reconstruction loss in scaled units; ``"bce"`` needs scaled data in [0, 1]. A
        table's categorical columns always get a cross-entropy (see Notes). A callable
        ``loss(x_hat, x)`` of two tensors (n, n_features) in network units returns the mean
        loss, or unreduced losses (``torch.nn.L1Loss(reduction="none")``), which
        ``sample_weight`` needs. A model with a callable loss cannot be saved, nor fit a
        table with categorical columns or ``missing="impute"`` (fitted per column type).
    missing : {"error", "impute"}, default="error"
        What ``NaN`` in ``X`` means. ``"error"``: a ValueError naming the rows and columns.
        ``"impute"``: a missing number, filled with its column's training median on the way
        in and left out of the loss; ``reconstruct`` gives the model's value for it. A
        target of its own, ``fit(X, y)``, holds every cell, so its loss counts the cells
        imputed in ``X`` (``fit(X_with_gaps, X_complete)`` learns to fill gaps). (A
        missing category is a category of its own either way.)
    encoder, decoder : torch.nn.Module, default=None
        Your own network parts (dense only): ``encoder`` maps scaled rows
        (n, n_features) to codes (n, n_components), ``decoder`` codes back to rows, in
        network units (the in-model scaler stays around them). Each fit trains a copy, as
        given (its initial weights are yours); a part left None is the built-in one.
        The parameters of the built-in parts are refused when the part they shape is
        yours: ``code_activation`` with your encoder, ``output_activation`` with your
        decoder, ``hidden_layer_sizes``, ``activation`` and ``dropout`` with both. With
        ``sparsity="kl"`` a sigmoid follows your encoder, as on the built-in code layer.
        Such a model cannot be saved with ``save`` (no pickle): save
        ``module_.state_dict()`` with torch.
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
        maximum, each with probability 1/2. The noise is added to the scaled rows the
        network sees, with these ranges mapped into its units: exactly the above for the
        per-feature scalers that are affine (``"standard"``, ``"robust"``, ``"minmax"``,
        None, ``"auto"`` without a logged column); one that bends the units
        (``"quantile"``, ``"log"``, ``"auto"`` on a heavy-tailed column) maps the ends of
        the range, so the Gaussian noise is ``noise_level`` times their distance in network
        units, of no one size in the caller's. With ``"sample"`` (each row in units of its
        own), the range and each feature's extremes are those of the scaled values.
    noise_level : float, default=0.1
        Strength of ``noise`` (see there); a fraction in [0, 1] for masking and salt-and-pepper.
    sparsity : {None, "l1", "kl"}, default=None
        Sparse autoencoder. ``"l1"`` adds ``sparsity_weight * mean(|code|)``. ``"kl"`` puts
        a sigmoid on the code layer, so activations are in (0, 1), and adds
        ``sparsity_weight`` times the mean over code units of
        ``KL(sparsity_target || mean activation of the unit)``, the mean taken over each
        batch (in the history's ``val_loss`` and ``val_sparsity``, over each chunk of 4,096
        hold-out rows: the mean of the chunks' KLs, not the whole hold-out's KL).
    sparsity_weight : float, default=None
        Weight of the sparsity penalty; None is 0.1 for ``"l1"`` and 3.0 for ``"kl"``
        (Ng's value; see ``docs/decisions.md``, "Training defaults"). With
        ``tied=True`` the decoder cannot scale its weights up to undo smaller codes, so an
        L1 weight near 0.01 is the better start.
    sparsity_target : float, default=0.05
        Target mean activation of each code unit for ``sparsity="kl"``, in (0, 1).
    contractive : float, default=0.0
        Contractive autoencoder: weight of the mean squared Frobenius norm of the encoder's
        Jacobian ``dcode/dinput`` (network units). Exact for any encoder (one backward pass
        per code unit); a closed form for one-layer linear or sigmoid encoders. On a
        table, only its numeric columns are contracted: a categorical column enters the
        encoder as an index into its embedding, which has no derivative.
    l1 : float, default=0.0
        Weight of the L1 penalty ``sum(|w|)`` on all weight matrices (not biases). For an
        L2 penalty use ``weight_decay``.
    chunk_rows : int, default=None
        Rows held in memory at once when ``X`` is read from disk; ``None``: as many float32
        rows as fill 64 MiB (21,399 rows of 784 features). Batches are drawn within a chunk,
        so keep it well above ``batch_size``. Unused for arrays in memory (see Notes).
    pretrain : {None, "greedy"}, default=None
        Dense only. ``"greedy"``: stacked layer-wise pretraining (Hinton & Salakhutdinov
        2006, Bengio et al. 2007) before the end-to-end training. Each encoder layer with
        its mirror decoder layer is trained as a shallow autoencoder of the previous
        layer's (fixed) codes, outermost first, for ``pretrain_epochs``; the stack is then
        fine-tuned. With ``noise`` each layer is a denoising autoencoder (stacked denoising
        autoencoders); the penalties apply to the fine-tuning only. Every layer weighs the
        rows by ``sample_weight``; the first leaves imputed cells (``missing="impute"``)
        out of its loss, as the fine-tuning does. The history phases
        are ``"pretrain-1"``, ``"pretrain-2"``, ..., then ``"train"``. A ``warm_start`` fit
        continuing a fitted network does not pretrain (it warns when ``pretrain`` was set
        since that fit).
    pretrain_epochs : int, default=10
        Epochs per layer of greedy pretraining.
    <training parameters>

    Attributes
    ----------
    module_ : DenseAutoEncoder or ConvAutoEncoder
        The fitted torch module, with ``.encoder``, ``.decoder`` and ``.scaler``; both
        take and return flat rows in network units.
    history_ : list of dict
        One record per epoch: ``phase``, ``epoch``, ``loss``, ``val_loss``, ``seconds``;
        ``lr`` with ``lr_schedule="plateau"``; ``caller_mse`` / ``val_caller_mse`` (the
        mean squared error per element in the caller's units, recorded, not minimised)
        where the scaler is affine per feature; with penalties also ``reconstruction`` and
        ``sparsity`` / ``contractive`` / ``l1``.
    schema_ : aekit.data.schema.InputSchema
        What the model takes as input, described once by ``fit`` and applied by every
        method (the columns and their kinds, image shape, fill values; saved with it).
    input_shape_ : tuple of int
        Shape of one sample as ``fit`` saw it: ``(n_features,)``, ``(H, W)`` or
        ``(C, H, W)`` (``schema_.sample_shape``).
    image_shape_ : tuple of int
        ``(C, H, W)``, with ``architecture="conv"`` only.
    loss_ : float
        Training loss (scaled units) of the kept epoch, the one whose weights the model
        holds: early stopping's best, else the last (``"kept"`` in ``history_``).
    validation_loss_ : float or None
        The kept epoch's loss on the hold-out; None without a hold-out.
    n_iter_ : int
        Epochs run by the kept restart (those after the kept epoch included).
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when ``X`` had string column names (all of them: integer names, as pandas'
        ``header=None`` gives, are positions; a mix is refused). A DataFrame given to a
        model fitted on an array, or the reverse, gets scikit-learn's warning and works;
        columns renamed, missing, added or reordered are a ValueError naming them.
    columns_ : list of dict or None
        When ``fit`` was given a DataFrame: each column's ``name``, ``kind`` (``"numeric"``
        or ``"categorical"``), ``dtype`` and ``categories`` (see
        :func:`aekit.data.tables.describe_columns`); else None (``schema_.columns``).
    fill_values_ : list of float
        With ``missing="impute"``: each column's training median, which fills its gaps
        (``schema_.fill_values``).
    device_ : torch.device
    fitted_params_ : dict
        The parameters as ``fit`` saw them (``get_params()`` then): the fitted model is
        what was fitted. Every method of the fitted model (``transform``,
        ``inverse_transform``, ``score_samples``, ``get_feature_names_out``, ``summary``,
        ``save``...) computes with these, so ``set_params`` takes effect at the next
        ``fit``, as in scikit-learn; ``save`` keeps both, and :func:`aekit.load` gives
        both back. A ``warm_start`` fit refuses a change to those that define the network.

    Notes
    -----
    Data larger than memory: ``fit``, ``transform``, ``reconstruct`` and ``score_samples``
    also take a path to a ``.npy`` file, a :class:`numpy.memmap`, a directory of ``.npy``
    shards or Parquet file(s) (see :func:`aekit.data.open_rows`), and read it
    ``chunk_rows`` rows at a time, so memory is bounded by the chunk, not the data. ``fit``
    first reads it once in file order (checks, scaler statistics in float64, equal to those
    of the data in memory), then each epoch reads the chunks in a fresh random order and
    draws batches within each. The hold-out is a fixed random subset of
    ``min(validation_fraction * n_samples, chunk_rows)`` rows, kept in memory.
    ``pretrain="greedy"`` needs the data in memory. Results are reproducible for a fixed
    ``random_state`` but differ from a fit on the same rows in memory (other batches).

    Tables: ``X`` may be a pandas DataFrame with numeric, boolean and categorical (string,
    object, category) columns, as it is. Numeric columns are scaled by ``scaler``;
    categorical ones are one-hot (embedded beyond 100 categories), a category unseen in
    ``fit`` counting as the column's average category (see :mod:`aekit.nn.tabular`). The
    decoder gives each categorical column a softmax with a cross-entropy loss; every
    column's loss is divided by what predicting its mean (or its frequencies) costs, so no
    column and no block dominates. ``reconstruct`` and ``inverse_transform`` then return a
    DataFrame with the original columns, dtypes and categories; ``columns_`` describes
    them (JSON, saved with the weights). A SciPy sparse ``X`` is made dense once.

    Examples
    --------
    >>> from aekit import AutoEncoder
    >>> from aekit.data import load_digits
    >>> X_train, X_test, _, _ = load_digits(split=True)
    >>> ae = AutoEncoder(n_components=2, random_state=0).fit(X_train)
    >>> ae.transform(X_test).shape
    (450, 2)
    """

    _parameter_constraints: dict = {
        **BaseAutoEncoder._parameter_constraints,
        "architecture": [StrOptions({"dense", "conv"})],
        "code_activation": [StrOptions(set(ACTIVATIONS)), None],
        "image_shape": [SizeTuple((2, 3)), None],
        "tied": ["boolean"],
        "init": [StrOptions({"default", "identity"})],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "noise": [StrOptions({n for n in NOISES if n is not None}), None],
        "noise_level": [Interval(Real, 0, None, closed="left")],
        "sparsity": [StrOptions({s for s in losses.SPARSITIES if s is not None}), None],
        "sparsity_weight": [Interval(Real, 0, None, closed="left"), None],
        "sparsity_target": [Interval(Real, 0, 1, closed="neither")],
        "contractive": [Interval(Real, 0, None, closed="left")],
        "l1": [Interval(Real, 0, None, closed="left")],
        "pretrain": [StrOptions({"greedy"}), None],
        "pretrain_epochs": [Interval(Integral, 1, None, closed="left")],
        "loss": [StrOptions(set(losses.RECONSTRUCTION_LOSSES)), callable],
        "encoder": [torch.nn.Module, None],
        "decoder": [torch.nn.Module, None],
    }

    _network_params = (*BaseAutoEncoder._network_params, "architecture", "image_shape",
                       "code_activation", "sparsity", "tied", "dropout", "encoder", "decoder")
    # init only draws the weights of a new network: a warm start keeps the fitted ones.
    _start_params = (*BaseAutoEncoder._start_params, "init", "pretrain", "pretrain_epochs")

    def __init__(
        self,
        n_components=2,
        *,
        hidden_layer_sizes="auto",
        architecture="dense",
        image_shape=None,
        activation="elu",
        output_activation="auto",
        code_activation=None,
        tied=False,
        init="default",
        dropout=0.0,
        scaler="auto",
        loss="mse",
        missing="error",
        encoder=None,
        decoder=None,
        noise=None,
        noise_level=0.1,
        sparsity=None,
        sparsity_weight=None,
        sparsity_target=0.05,
        contractive=0.0,
        l1=0.0,
        chunk_rows=None,
        pretrain=None,
        pretrain_epochs=10,
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
        self.architecture = architecture
        self.image_shape = image_shape
        self.activation = activation
        self.output_activation = output_activation
        self.code_activation = code_activation
        self.tied = tied
        self.init = init
        self.dropout = dropout
        self.scaler = scaler
        self.loss = loss
        self.missing = missing
        self.encoder = encoder
        self.decoder = decoder
        self.noise = noise
        self.noise_level = noise_level
        self.sparsity = sparsity
        self.sparsity_weight = sparsity_weight
        self.sparsity_target = sparsity_target
        self.contractive = contractive
        self.l1 = l1
        self.chunk_rows = chunk_rows
        self.pretrain = pretrain
        self.pretrain_epochs = pretrain_epochs
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

    # ------------------------------------------------------------------ parameters
    def _check_params(self) -> None:
        # Each parameter's own rule is a constraint; these say which variants combine.
        conv = self.architecture == "conv"
        if self.image_shape is not None and not conv:
            raise ValueError(
                f"image_shape={self.image_shape!r} is only used with architecture='conv'; "
                "leave it None for the dense autoencoder, or set architecture='conv'."
            )
        if conv and (self.encoder is not None or self.decoder is not None):
            raise ValueError(
                "encoder/decoder modules replace the dense network's parts; leave "
                "architecture='dense' (your modules may convolve inside)."
            )
        if conv and self.hidden_layer_sizes != "auto" and len(self.hidden_layer_sizes) == 0:
            raise ValueError(
                "architecture='conv' needs at least one channel width in hidden_layer_sizes "
                "(e.g. (32, 64), or 'auto'); () is only the one-layer dense autoencoder."
            )
        custom = self.encoder is not None or self.decoder is not None
        if custom:
            self._check_custom_parts()
        for name, value in (("tied", self.tied), ("init", self.init != "default"),
                            ("pretrain", self.pretrain is not None)):
            if custom and value:
                raise ValueError(
                    f"{name}={getattr(self, name)!r} works with the built-in dense network "
                    f"only, not with your own encoder/decoder; leave {name} at its default."
                )
            if conv and value:
                raise ValueError(
                    f"{name}={getattr(self, name)!r} works with architecture='dense' only; "
                    f"use architecture='dense' or leave {name} at its default."
                )
        if self.sparsity == "kl" and self.code_activation not in (None, "sigmoid"):
            raise ValueError(
                f"sparsity='kl' needs code activations in (0, 1), a sigmoid code; "
                f"code_activation={self.code_activation!r} does not give them: leave it None "
                "(or 'sigmoid'), or use sparsity='l1'."
            )
        if self.noise in ("masking", "salt_pepper") and self.noise_level > 1:
            raise ValueError(
                f"noise_level={self.noise_level!r} is the fraction of entries corrupted by "
                f"noise={self.noise!r}, so it must be in [0, 1]"
            )

    # A strength, and its switch with the values it acts with.
    _SWITCHES = {"sparsity_weight": ("sparsity", ("l1", "kl")),
                 "sparsity_target": ("sparsity", ("kl",)),
                 "noise_level": ("noise", tuple(n for n in NOISES if n is not None)),
                 "pretrain_epochs": ("pretrain", ("greedy",))}

    def _idle_params(self) -> dict[str, tuple[str, tuple | str]]:
        idle = super()._idle_params()
        if "activation" in idle:  # a shallow Keras port sets the code's with activation
            idle["activation"] = ("hidden_layer_sizes", "holding a hidden layer (the code "
                                  "layer's activation is code_activation)")
        return {**idle, **{name: (switch, values) for name, (switch, values)
                           in self._SWITCHES.items() if getattr(self, switch) not in values}}

    # The built-in parts each parameter of the dense network shapes.
    _SHAPES = {"hidden_layer_sizes": ("encoder", "decoder"), "activation": ("encoder", "decoder"),
               "dropout": ("encoder", "decoder"), "code_activation": ("encoder",),
               "output_activation": ("decoder",)}

    def _check_custom_parts(self) -> None:
        """Refuse the parameters that shape only built-in parts the caller's own modules
        replace (they would change nothing), and a sigmoid ``sparsity="kl"`` would repeat."""
        built = {"encoder": self.encoder is None, "decoder": self.decoder is None}
        idle = [name for name in changed_params(self, self._SHAPES)
                if not any(built[part] for part in self._SHAPES[name])]
        if idle:
            mine = " and ".join(part for part in built if not built[part])
            shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in idle)
            raise ValueError(
                f"with your own {mine}, these parameters would change nothing, as they shape "
                f"only the built-in parts yours replace: {shown}. Leave them at their "
                "defaults (and build what they do into your own modules)."
            )
        last = self.encoder[-1] if isinstance(self.encoder, torch.nn.Sequential) and len(
            self.encoder) else None
        if self.sparsity == "kl" and isinstance(last, torch.nn.Sigmoid):
            raise ValueError(
                "sparsity='kl' puts a sigmoid on your encoder's codes, as on the built-in "
                "code layer, and your encoder already ends with torch.nn.Sigmoid(): it would "
                "apply twice. Remove that last Sigmoid from your encoder."
            )

    # ------------------------------------------------------------------ images
    _images_advice = ", or use architecture='conv' for images"
    _images_param = "architecture='conv'"

    def _takes_images(self) -> bool:
        return self.architecture == "conv"

    # ------------------------------------------------------------------ model
    def _hidden_sizes(self) -> tuple[int, ...]:
        if self.hidden_layer_sizes == "auto" and self.architecture == "conv":
            return (32, 64)
        return super()._hidden_sizes()

    def _build_module(self, n_features: int) -> DenseAutoEncoder | ConvAutoEncoder:
        if _tables.has_categories(self) and (self.architecture == "conv" or self.pretrain):
            what = "architecture='conv'" if self.architecture == "conv" else \
                f"pretrain={self.pretrain!r}"
            raise ValueError(
                f"{what} does not take a table with categorical columns; use the dense "
                "autoencoder without pretraining, or encode the categories yourself"
            )
        shared = dict(
            activation=self.activation,
            output_activation=self.output_activation_,
            scaler=_tables.scaler_for_module(self, n_features),
            # KL sparsity needs codes in (0, 1): a sigmoid code layer.
            code_activation="sigmoid" if self.sparsity == "kl" else (
                self.code_activation or "linear"),
            dropout=self.dropout,
        )
        if self.encoder is not None or self.decoder is not None:
            return self._custom_module(n_features, shared)
        if self.architecture == "conv":
            # channels_last: the layout oneDNN and cuDNN convolve fastest. Measured on the
            # 2-core Xeon (bench/conv_speed.py): 30% less time per epoch on the CPU.
            return ConvAutoEncoder(tuple(self.image_shape_), self.n_components,
                                   self._hidden_sizes(), channels_last=True, **shared)
        return DenseAutoEncoder(n_features, self.n_components, self._hidden_sizes(),
                                tied=self.tied, init=self.init, **shared)

    def _custom_module(self, n_features: int, shared: dict) -> ModuleAutoEncoder:
        """The caller's encoder and/or decoder (copies) in the scaled shell, the missing
        part built as the dense one; checked on two rows of zeros."""
        built = None
        if self.encoder is None or self.decoder is None:
            built = DenseAutoEncoder(n_features, self.n_components, self._hidden_sizes(),
                                     **shared)
        encoder = copy.deepcopy(self.encoder) if self.encoder is not None else built.encoder
        decoder = copy.deepcopy(self.decoder) if self.decoder is not None else built.decoder
        if self.encoder is not None and self.sparsity == "kl":
            # KL sparsity needs codes in (0, 1): the sigmoid code layer of the built-in
            # encoder. A Sequential stays flat, so its layers stay layers (EncoderClassifier).
            layers = list(encoder) if isinstance(encoder, torch.nn.Sequential) else [encoder]
            encoder = torch.nn.Sequential(*layers, torch.nn.Sigmoid())
        module = ModuleAutoEncoder(n_features, self.scaler, encoder, decoder)
        device = next(module.parameters(), torch.empty(0)).device
        x = torch.zeros(2, n_features, device=device)
        module.eval()
        z = _try_part("encoder", module.encoder, x)
        if tuple(z.shape) != (2, self.n_components):
            raise ValueError(
                f"the encoder maps rows of {n_features} features to shape "
                f"{tuple(z.shape[1:])}, not to codes of n_components={self.n_components}; "
                "make its output (n, n_components) or set n_components to match."
            )
        x_hat = _try_part("decoder", module.decoder, z)
        module.train()
        if tuple(x_hat.shape) != (2, n_features):
            raise ValueError(
                f"the decoder maps codes to shape {tuple(x_hat.shape[1:])}, not to rows of "
                f"{n_features} features; make its output (n, n_features)."
            )
        return module

    def _objective(self) -> Reconstruction:
        return self._for_data(Reconstruction(
            loss=self.loss,
            sparsity=self.sparsity,
            sparsity_weight=self.sparsity_weight,
            sparsity_target=self.sparsity_target,
            contractive=self.contractive,
            l1=self.l1,
        ))

    def _corruption(self, X_s: torch.Tensor, scaler: Scaler | None = None):
        """The denoising corruption for batches like ``X_s`` (network units), or None.

        ``scaler``: the in-model scaler when ``X_s`` are scaled input rows; None for hidden
        codes (greedy pretraining), whose units each keep their own range.
        """
        if self.noise is None:
            return None
        low, high = X_s.amin(0), X_s.amax(0)
        table = scaler is not None and callable(getattr(scaler, "corruption", None))
        if self.noise == "gaussian" and scaler is not None and not table:
            # Inputs are noised in one range shared by all features, as images are: the
            # min and max over all training values in the caller's units, mapped into each
            # feature's network units (a constant border pixel of 0 still gets noise).
            if scaler.kind == "sample":  # rows standardised: features already share units
                low, high = X_s.min().expand_as(low), X_s.max().expand_as(high)
            else:
                X = scaler.inverse(X_s)
                low, high = (scaler(torch.full_like(X[:1], v))[0] for v in (X.min(), X.max()))
        corrupt = make_corruption(self.noise, self.noise_level, low, high)
        # A table: per-column noise on the numbers; categories dropped to "unknown".
        return scaler.corruption(corrupt, self.noise, self.noise_level) if table else corrupt

    def _fit_stream(self, X, resume: bool = False):
        if self.pretrain is not None:
            raise ValueError(
                f"pretrain={self.pretrain!r} keeps every row's hidden codes in memory, so it "
                "cannot stream X from disk; load X into memory (np.load(path)) or leave "
                "pretrain=None."
            )
        return super()._fit_stream(X, resume)

    def _pretrain(self, module, X_fit_s, X_val_s, scaler, callbacks_for) -> list[dict]:
        if self.pretrain != "greedy":
            return []
        return pretrain_greedy(
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
            corrupt_for=lambda layer, H: self._corruption(H, scaler if layer == 1 else None),
            callbacks_for=callbacks_for,
            autocast=autocast_dtype(self.precision, self.device_),
        )


@torch.no_grad()
def _try_part(name: str, part: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``part(x)``, with a failure reported as a ValueError naming the part and the input."""
    try:
        return part(x)
    except Exception as err:  # noqa: BLE001 -- any failure of the user's module is reported
        raise ValueError(
            f"the {name} module failed on a batch of shape {tuple(x.shape)}: "
            f"{type(err).__name__}: {err}"
        ) from err
