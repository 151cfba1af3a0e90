"""Load saved estimators, from a fixed list of classes. Never pickle.

A saved model is a directory holding ``model.safetensors`` and ``config.json`` (see
:mod:`aekit._io` for the container and :meth:`~aekit.estimators._base.SavableMixin.save`
for what an estimator writes into it). Loading instantiates only the classes listed here:
a model file can never name code to run, and it sets only the fitted attributes the class
declares.
"""

from __future__ import annotations

import os

import numpy as np

from ._checks import resolve_device
from ._io import CONFIG, WEIGHTS, read_model_dir
from .estimators import AutoEncoder, EncoderClassifier, OutlierDetector, VariationalAutoEncoder

CLASSES = {cls.__name__: cls for cls in (AutoEncoder, VariationalAutoEncoder, EncoderClassifier,
                                         OutlierDetector)}
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
        When a file is truncated, tampered with, or not an aekit model.
    """
    config, tensors = read_model_dir(path)
    return _restore(config, tensors, resolve_device(device), where=f"{os.fspath(path)}/{CONFIG}")


def _class(name, where: str) -> type:
    cls = CLASSES.get(name) if isinstance(name, str) else None
    if cls is None:
        raise ValueError(f"{where} names an unknown class {name!r}; known: {sorted(CLASSES)}")
    return cls


def _params_from_json(params: dict, where: str) -> dict:
    """Constructor parameters from JSON: lists back to tuples, nested estimators rebuilt.

    A nested estimator (``{"__estimator__": name, "params": ...}``) comes back unfitted,
    and only from the fixed list of classes.
    """
    out = {}
    for key, value in params.items():
        if isinstance(value, list):
            value = tuple(value)
        elif isinstance(value, dict) and "__estimator__" in value:
            nested = _class(value["__estimator__"], where)
            value = nested(**_params_from_json(value.get("params", {}), where))
        out[key] = value
    return out


def _restore(config: dict, tensors: dict, device, where: str):
    """The estimator ``config`` describes, its module holding ``tensors``."""
    cls = _class(config.get("class"), where)
    try:
        estimator = cls(**_params_from_json(config["params"], where))
    except TypeError as err:
        raise ValueError(f"{where} has parameters this aekit does not know: {err}") from None
    own = dict(tensors)
    for key, value in config.get("fitted", {}).items():
        if key not in cls._saved_attributes:
            raise ValueError(
                f"{where}: 'fitted' sets {key!r}, which {cls.__name__} does not save; the "
                "file was modified or comes from another aekit"
            )
        if isinstance(value, dict) and "__estimator__" in value:  # a fitted estimator
            prefix = f"{key}."
            nested = {k[len(prefix):]: own.pop(k) for k in list(own) if k.startswith(prefix)}
            value = _restore({"class": value["__estimator__"], **value}, nested, device, where)
        elif key == "feature_names_in_" and value is not None:
            value = np.asarray(value, dtype=object)
        elif key == "classes_":
            value = np.asarray(value)
        setattr(estimator, key, value)
    estimator.device_ = device
    module = estimator._build_module(estimator.n_features_in_)
    try:
        module.load_state_dict(own, strict=True)
    except RuntimeError as err:
        raise ValueError(f"{WEIGHTS} does not fit the model in {where}: {err}") from None
    estimator.module_ = module.to(device).eval()
    return estimator
