"""Load saved estimators, from a fixed list of classes. Never pickle.

A saved model is a directory holding ``config.json`` and the ``model-<hash>.safetensors``
file it names (see :mod:`aekit.core.storage` for the container and
:meth:`~aekit.estimators._base.SavableMixin.save` for what an estimator writes into it).
Loading instantiates only the classes listed here: a model file can never name code to run.
Every field is checked before it is used: parameters against the class's own constraints,
each fitted attribute against its expected type and shape (:data:`FITTED`), and only the
fitted attributes the class declares are set. Anything else is a ValueError naming the field.
The module is built from the parameters the model was fitted with: the fitted field
``fitted_params_`` when ``set_params`` changed some after fit (checked as ``params`` are),
else ``params``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable

import numpy as np
import torch

from .core.checks import resolve_device
from .data.schema import InputSchema, check_columns
from .core.storage import CONFIG, LOCATION_PARAMS, read_model_dir
from .estimators import AutoEncoder, BaseAutoEncoder, VariationalAutoEncoder, validate_params
from .core.fitted import as_fitted
from .semisupervised.classifier import EncoderClassifier
from .semisupervised.ladder import LadderClassifier
from .semisupervised.labels import classes_from_json
from .anomaly.detector import OutlierDetector

CLASSES = {cls.__name__: cls for cls in (AutoEncoder, VariationalAutoEncoder, EncoderClassifier,
                                         OutlierDetector, LadderClassifier)}
"""The only classes a config may name (no import-by-string, no code execution)."""


def load(path: str | os.PathLike, *, device: str = "auto"):
    """Load an estimator saved with ``save``; its ``transform`` output is identical.

    Parameters
    ----------
    path : str or path-like
        The directory given to ``save``.
    device : str, default="auto"
        Where to put the module: ``"auto"`` is CUDA when present, else the CPU.

    Raises
    ------
    FileNotFoundError
        When the directory or one of its files is missing.
    ValueError
        When a file is truncated, tampered with, malformed or not an aekit model; the
        message names the field.
    """
    config, tensors = read_model_dir(path)
    return _restore(config, tensors, resolve_device(device), where=f"{os.fspath(path)}/{CONFIG}")


def saved_class(path: str | os.PathLike) -> type:
    """The estimator class of the model saved in ``path`` (reads and checks its files)."""
    config, _ = read_model_dir(path)
    return _class(config.get("class"), f"{os.fspath(path)}/{CONFIG}")


def _class(name, where: str) -> type:
    cls = CLASSES.get(name) if isinstance(name, str) else None
    if cls is None:
        raise ValueError(f"{where}: field 'class' names an unknown class {name!r}; known: "
                         f"{sorted(CLASSES)}")
    return cls


# --------------------------------------------------------------------------- parameters
def _tuples(value):
    """JSON's lists as the tuples they were, nested ones too (``conv_layers``)."""
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


def _params_from_json(params, where: str, nested: bool = False) -> dict:
    """Constructor parameters from JSON: lists back to tuples (at every depth), nested
    estimators rebuilt.

    A nested estimator (``{"__estimator__": name, "params": ...}``) comes back unfitted,
    only from the fixed list of classes, and only one level deep (a classifier's
    autoencoder).
    """
    if not isinstance(params, dict):
        raise ValueError(f"{where}: field 'params' must be a JSON object, got "
                         f"{type(params).__name__}")
    out = {}
    for key, value in params.items():
        if key in LOCATION_PARAMS:
            value = None  # where a later fit writes is the caller's choice, not the file's
        elif isinstance(value, list):
            value = _tuples(value)
        elif isinstance(value, dict) and "__estimator__" in value:
            if nested:
                raise ValueError(f"{where}: parameter {key!r} nests estimators more than one "
                                 "level deep")
            value = _estimator(value["__estimator__"], value.get("params"),
                               f"{where} (parameter {key!r})", nested=True)
        out[key] = value
    return out


def _estimator(name, params, where: str, nested: bool = False):
    """An unfitted ``name(**params)``, its parameters checked by its own constraints."""
    cls = _class(name, where)
    if isinstance(params, dict):  # a file older than a parameter: fitted as it was then
        params = {**getattr(cls, "_params_added", {}), **params}
    try:
        estimator = cls(**_params_from_json(params, where, nested))
    except TypeError as err:
        raise ValueError(f"{where}: field 'params' has parameters this aekit does not know: "
                         f"{err}") from None
    try:
        validate_params(estimator)
    except (ValueError, TypeError) as err:  # InvalidParameterError names the parameter
        raise ValueError(f"{where}: field 'params': {err}") from None
    return estimator


# --------------------------------------------------------------------------- fitted state
def _fail(key: str, expected: str, value) -> ValueError:
    shown = repr(value)
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    return ValueError(f"field 'fitted.{key}' must be {expected}, got {shown}")


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _count(low: int) -> Callable:
    def check(key, value, fitted):
        if not _is_int(value) or value < low:
            raise _fail(key, f"an integer >= {low}", value)
        return value
    return check


def _loss(key, value, fitted):
    if value is not None and not (_is_number(value) and math.isfinite(value)):
        raise _fail(key, "a finite number or null", value)
    return value


def _choice(*options) -> Callable:
    def check(key, value, fitted):
        if value not in options:
            raise _fail(key, f"one of {list(options)}", value)
        return value
    return check


def _shape(lengths: tuple[int, ...]) -> Callable:
    def check(key, value, fitted):
        ok = (isinstance(value, list) and len(value) in lengths
              and all(_is_int(s) and s > 0 for s in value))
        if not ok or int(np.prod(value)) != fitted.get("n_features_in_"):
            raise _fail(key, f"{' or '.join(map(str, lengths))} positive integers whose product "
                        "is n_features_in_", value)
        return tuple(value)
    return check


def _feature_names(key, value, fitted):
    if value is None:
        return None
    if (not isinstance(value, list) or not all(isinstance(s, str) for s in value)
            or len(value) != fitted.get("n_features_in_")):
        raise _fail(key, "null or a list of n_features_in_ strings", value)
    return np.asarray(value, dtype=object)


def _history(key, value, fitted):
    scalar = (str, int, float, bool, type(None))
    if not isinstance(value, list) or not all(
        isinstance(r, dict) and isinstance(r.get("phase"), str) and _is_int(r.get("epoch"))
        and all(isinstance(v, scalar) for v in r.values())
        for r in value
    ):
        raise _fail(key, "a list of records {phase, epoch, losses...} of plain values", value)
    return value


def _classes(key, value, fitted):
    """A list of labels, or ``{"labels": [...], "dtype": ...}`` (:func:`classes_json`)."""
    dtype = None
    if isinstance(value, dict) and set(value) == {"labels", "dtype"}:
        labels, dtype = value["labels"], value["dtype"]
    else:
        labels = value
    ok = (isinstance(labels, list) and len(labels) >= 2 and isinstance(dtype, (str, type(None)))
          and all(isinstance(c, (str, int, float, bool)) for c in labels)
          and len({(type(c), c) for c in labels}) == len(labels))
    if not ok:
        raise _fail(key, "a list of at least 2 distinct labels, or {labels, dtype}", value)
    try:
        return classes_from_json(labels, dtype)
    except ValueError as err:
        raise _fail(key, str(err), value) from None


def _columns(key, value, fitted):
    """A table's column description (:func:`aekit.data.tables.describe_columns`)."""
    if value is None:
        return None
    try:
        check_columns(value, fitted.get("n_features_in_"))
    except ValueError:
        raise _fail(key, "null or a list of n_features_in_ column descriptions", value) \
            from None
    names = fitted.get("feature_names_in_")
    if names is not None and [c["name"] for c in value] != list(names):
        raise _fail(key, "columns named as feature_names_in_", value)
    return value


def _schema(key, value, fitted):
    """The fitted :class:`~aekit.data.schema.InputSchema`, consistent with
    ``n_features_in_`` and ``feature_names_in_``."""
    schema = InputSchema.from_config(value)
    names = fitted.get("feature_names_in_")
    if schema.n_features != fitted.get("n_features_in_") or (
            names is not None) != (schema.feature_names is not None) or (
            names is not None and list(names) != list(schema.feature_names)):
        raise _fail(key, "the schema of n_features_in_ features named as feature_names_in_",
                    value)
    return schema


def _fill_values(key, value, fitted):
    if (not isinstance(value, list) or len(value) != fitted.get("n_features_in_")
            or not all(_is_number(v) and math.isfinite(v) for v in value)):
        raise _fail(key, "a list of n_features_in_ finite numbers", value)
    return value


def _finite(key, value, fitted):
    if not (_is_number(value) and math.isfinite(value)):
        raise _fail(key, "a finite number", value)
    return float(value)


def _seconds(key, value, fitted):
    if value is not None and not (_is_number(value) and math.isfinite(value) and value >= 0):
        raise _fail(key, "a number of seconds >= 0 or null", value)
    return value


def _sizes(key, value, fitted):
    if not isinstance(value, list) or not all(_is_int(s) and s > 0 for s in value):
        raise _fail(key, "a list of positive integers", value)
    return tuple(value)


def _threshold_set(key, value, fitted):
    if not (isinstance(value, list) and len(value) == 2 and _is_number(value[0])
            and math.isfinite(value[0]) and isinstance(value[1], str) and len(value[1]) < 200):
        raise _fail(key, "[the offset set, how it was set (text)]", value)
    return float(value[0]), value[1]


FITTED: dict[str, Callable] = {
    "n_features_in_": _count(1),
    "feature_names_in_": _feature_names,
    "output_activation_": _choice("sigmoid", "linear"),
    "history_": _history,
    "loss_": _loss,
    "validation_loss_": _loss,
    "n_iter_": _count(0),
    "input_shape_": _shape((1, 2, 3)),
    "image_shape_": _shape((3,)),
    "classes_": _classes,
    "columns_": _columns,
    "fill_values_": _fill_values,
    "schema_": _schema,
    "autoencoder_": None,  # a nested fitted estimator: restored whole (see _restore)
    # EncoderClassifier
    "n_labelled_": _count(2),
    "n_unlabelled_": _count(0),
    # OutlierDetector
    "offset_": _finite,
    "threshold_set_": _threshold_set,
    "n_components_": _count(1),
    "hidden_layer_sizes_": _sizes,
    "n_reference_": _count(2),
    "n_neighbors_": _count(0),
    "isolation_nodes_": _count(0),
    "n_samples_fit_": _count(2),
    "fit_seconds_": _seconds,
}
"""The check of each fitted attribute a config may set: ``check(key, value, fitted) ->
value`` as the estimator holds it, or a ValueError. An attribute a class declares in
``_saved_attributes`` must have one here (a test asserts it)."""

REQUIRED = ("n_features_in_",)

LEGACY = ("input_shape_", "image_shape_", "columns_", "fill_values_")
"""Fitted fields of models saved before the input schema: read into ``schema_``."""


def _restore(config: dict, tensors: dict, device, where: str):
    """The estimator ``config`` describes, its module holding ``tensors``."""
    estimator = _estimator(config.get("class"), config.get("params"), where)
    cls = type(estimator)
    fitted = config.get("fitted")
    if not isinstance(fitted, dict):
        raise ValueError(f"{where}: field 'fitted' must be a JSON object")
    for key in REQUIRED:
        if key not in fitted:
            raise ValueError(f"{where}: field 'fitted.{key}' is missing; the file is damaged")
    own = dict(tensors)
    if hasattr(cls, "_upgrade_tensors"):  # tensors of a file from an older aekit
        own = cls._upgrade_tensors(own)
    legacy = {}
    for key, value in fitted.items():
        if key == "fitted_params_":  # saved only when set_params changed some after fit
            value = _estimator(cls.__name__, value, f"{where} (field 'fitted.{key}')")
            estimator.fitted_params_ = value.get_params(deep=False)
            continue
        if key in LEGACY and "schema_" in cls._saved_attributes and "schema_" not in fitted:
            try:
                legacy[key] = FITTED[key](key, value, fitted)
            except ValueError as err:
                raise ValueError(f"{where}: {err}") from None
            continue
        if key not in cls._saved_attributes or key not in FITTED:
            raise ValueError(
                f"{where}: 'fitted' sets {key!r}, which {cls.__name__} does not save; the "
                "file was modified or comes from another aekit"
            )
        if key == "autoencoder_":  # a fitted estimator, its tensors under "autoencoder_."
            name = value.get("__estimator__") if isinstance(value, dict) else None
            if (not issubclass(CLASSES.get(name, object), BaseAutoEncoder)
                    or value.get("class", name) != name):  # one level: no classifier inside
                raise _fail(key, "a saved AutoEncoder or VariationalAutoEncoder", value)
            prefix = f"{key}."
            nested = {k[len(prefix):]: own.pop(k) for k in list(own) if k.startswith(prefix)}
            value = _restore({**value, "class": name}, nested, device,
                             f"{where} (fitted {key!r})")
        else:
            try:
                value = FITTED[key](key, value, fitted)
            except ValueError as err:
                raise ValueError(f"{where}: {err}") from None
        setattr(estimator, key, value)
    if "schema_" in cls._saved_attributes and "schema_" not in fitted:
        estimator.schema_ = _legacy_schema(estimator, legacy, fitted)
    if not hasattr(estimator, "fitted_params_"):  # fitted with the parameters it has
        estimator.fitted_params_ = estimator.get_params(deep=False)
    estimator.device_ = device
    try:  # the module as it was fitted
        module = as_fitted(estimator)._build_module(estimator.n_features_in_)
    except (AttributeError, KeyError, TypeError, ValueError, RuntimeError) as err:
        raise ValueError(f"{where}: the fitted fields do not describe a model this aekit can "
                         f"build ({type(err).__name__}: {err}); the file is damaged") from None
    _check_tensors(own, module.state_dict(), where)
    try:
        module.load_state_dict(own, strict=True)
    except RuntimeError as err:
        raise ValueError(f"the weights do not fit the model in {where}: {err}") from None
    estimator.module_ = module.to(device).eval()
    return estimator


def _legacy_schema(estimator, legacy: dict, fitted: dict) -> InputSchema:
    """The input schema of a model saved before schemas were (aekit 0.x): from its
    separate fitted fields, or its autoencoder's (a classifier)."""
    nested = getattr(estimator, "autoencoder_", None)
    if nested is not None:
        return nested.schema_
    return InputSchema.from_fitted(
        estimator.n_features_in_, missing=getattr(estimator, "missing", "error"),
        feature_names=fitted.get("feature_names_in_"),
        input_shape=legacy.get("input_shape_"), image_shape=legacy.get("image_shape_"),
        columns=legacy.get("columns_"), fill_values=legacy.get("fill_values_"))


POSITIVE = ("scale", "spread", "limit", "temperature")
"""Tensors whose every entry must be > 0 (divisors and bounds): those whose name's last
part ends with one of these (``scaler.scale``, ``error_scale``, ``temperature``...)."""

SORTED = ("quantiles",)
"""Tensors whose rows must be non-decreasing (the quantile scaler's knots)."""


def _check_tensors(tensors: dict, expected: dict, where: str) -> None:
    """Refuse weights that would load but compute garbage: each tensor must be one the
    model has, of its shape and kind of dtype (floating point where the model's is),
    finite, positive where it divides (:data:`POSITIVE`) and sorted where it is a
    table of knots (:data:`SORTED`). A ValueError names the tensor."""
    weights = f"the weights named by {where}"
    missing = sorted(set(expected) - set(tensors))
    if missing:
        raise ValueError(f"the weights do not fit the model in {where}: tensor "
                         f"{missing[0]!r} is missing; the file is damaged")
    for key, value in tensors.items():
        if key not in expected:
            raise ValueError(f"the weights do not fit the model in {where}: it has no tensor "
                             f"{key!r}; the file was modified or comes from another aekit")
        want = expected[key]
        if tuple(value.shape) != tuple(want.shape):
            raise ValueError(f"{weights}: tensor {key!r} has shape {tuple(value.shape)}, the "
                             f"model needs {tuple(want.shape)}; the file is damaged")
        if want.is_floating_point() != value.is_floating_point() or (
                not want.is_floating_point() and value.dtype != want.dtype):
            raise ValueError(f"{weights}: tensor {key!r} has dtype {value.dtype}, the model "
                             f"needs {want.dtype}; the file is damaged")
        if not value.is_floating_point():
            continue
        if not bool(torch.isfinite(value).all()):
            raise ValueError(f"{weights}: tensor {key!r} holds NaN or infinite values; the "
                             "file is damaged or comes from a diverged fit")
        name = key.rsplit(".", 1)[-1]
        if name.endswith(POSITIVE) and not bool((value > 0).all()):
            raise ValueError(f"{weights}: tensor {key!r} must be > 0 everywhere (a scale), "
                             f"its smallest entry is {float(value.min()):g}; the file is "
                             "damaged")
        if name in SORTED and value.ndim >= 1 and not bool((value.diff(dim=-1) >= 0).all()):
            raise ValueError(f"{weights}: tensor {key!r} must be sorted along its last axis "
                             "(quantile knots); the file is damaged")
