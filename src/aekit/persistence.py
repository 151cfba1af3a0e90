"""Save and load fitted estimators: safetensors weights plus a JSON file. Never pickle.

A saved model is a directory holding ``model.safetensors`` and ``config.json``. The JSON
holds the constructor parameters, the fitted non-tensor state (history, feature names...),
library versions and the SHA-256 of the weights, so a truncated or tampered file is
reported as such. Loading instantiates only classes from a fixed list: a model file can
never name code to run.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
from pathlib import Path

import numpy as np
import safetensors.torch
import sklearn
import torch

from . import __version__
from ._io import atomic_write

WEIGHTS, CONFIG = "model.safetensors", "config.json"
FORMAT = "aekit-model"
FORMAT_VERSION = 1


def _registry() -> dict[str, type]:
    # The only classes a config may name (no import-by-string, no code execution).
    from . import estimators

    return {name: getattr(estimators, name) for name in estimators.SAVABLE}


def _jsonable(value):
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (tuple, list)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, torch.device):
        return str(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    name = type(value).__name__
    if _registry().get(name) is type(value):
        # A nested aekit estimator (EncoderClassifier's autoencoder): its parameters only.
        return {"__estimator__": name, "params": _jsonable(value.get_params(deep=False))}
    # e.g. a RandomState instance as random_state: not reproducible from JSON anyway.
    return None


def _params_from_json(params: dict) -> dict:
    """Constructor parameters from JSON: lists back to tuples, nested estimators rebuilt.

    A nested estimator (``{"__estimator__": name, "params": ...}``) comes back unfitted,
    and only from the fixed list of classes.
    """
    out = {}
    for key, value in params.items():
        if isinstance(value, list):
            value = tuple(value)
        elif isinstance(value, dict) and "__estimator__" in value:
            nested = _registry().get(value["__estimator__"])
            if nested is None:
                raise TypeError(f"{key} names an unknown class {value['__estimator__']!r}")
            value = nested(**_params_from_json(value["params"]))
        out[key] = value
    return out


def save(estimator, path: str | os.PathLike) -> Path:
    """Save a fitted estimator into directory ``path`` (created if needed).

    Each file is written atomically; the weights go first and the config, which holds
    their checksum, last, so an interrupted save is detected on load.

    Returns
    -------
    path : pathlib.Path
    """
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(estimator)
    name = type(estimator).__name__
    if name not in _registry():
        raise TypeError(f"cannot save {name}; savable classes: {sorted(_registry())}")
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ValueError(f"{path} exists and is not a directory; pass a directory path")
    tensors = {k: v.detach().cpu().contiguous() for k, v in estimator.module_.state_dict().items()}
    blob = safetensors.torch.save(tensors)
    config = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "class": name,
        "params": _jsonable(estimator.get_params(deep=False)),
        "fitted": {
            k: _jsonable(getattr(estimator, k))
            for k in estimator._saved_attributes
            if hasattr(estimator, k)
        },
        "weights_sha256": hashlib.sha256(blob).hexdigest(),
        "versions": {
            "aekit": __version__,
            "torch": torch.__version__,
            "numpy": np.__version__,
            "scikit-learn": sklearn.__version__,
            "python": platform.python_version(),
        },
    }
    atomic_write(path / WEIGHTS, blob)
    atomic_write(path / CONFIG, json.dumps(config, indent=2, allow_nan=True))
    return path


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
    from .estimators import resolve_device

    path = Path(path)
    if not (path / CONFIG).is_file() or not (path / WEIGHTS).is_file():
        raise FileNotFoundError(
            f"{path} is not a saved aekit model: expected {CONFIG} and {WEIGHTS} in it"
        )
    try:
        config = json.loads((path / CONFIG).read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path / CONFIG} is not valid JSON ({err}); the file is damaged") from None
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise ValueError(f"{path / CONFIG} is not an aekit model config")
    if not isinstance(config.get("params"), dict) or not isinstance(config.get("fitted", {}), dict):
        raise ValueError(f"{path / CONFIG} lacks the 'params' or 'fitted' sections; the file is damaged")
    if config.get("format_version", 0) > FORMAT_VERSION:
        raise ValueError(
            f"{path} was saved by a newer aekit (format {config['format_version']}); upgrade aekit"
        )
    cls = _registry().get(config.get("class"))
    if cls is None:
        raise ValueError(f"{path / CONFIG} names an unknown class {config.get('class')!r}")
    blob = (path / WEIGHTS).read_bytes()
    if hashlib.sha256(blob).hexdigest() != config.get("weights_sha256"):
        raise ValueError(
            f"{path / WEIGHTS} does not match the checksum in {CONFIG}: the file was truncated, "
            "modified or comes from another save; save the model again"
        )
    try:
        tensors = safetensors.torch.load(blob)
    except Exception as err:  # safetensors raises its own error types for bad headers
        raise ValueError(f"{path / WEIGHTS} cannot be read as safetensors: {err}") from None

    try:
        estimator = cls(**_params_from_json(config["params"]))
    except TypeError as err:
        raise ValueError(f"{path / CONFIG} has parameters this aekit does not know: {err}") from None
    for key, value in config.get("fitted", {}).items():
        if key == "feature_names_in_" and value is not None:
            value = np.asarray(value, dtype=object)
        elif key == "classes_":
            value = np.asarray(value)
        setattr(estimator, key, value)
    estimator.device_ = resolve_device(device)
    module = estimator._build_module(estimator.n_features_in_)
    try:
        module.load_state_dict(tensors, strict=True)
    except RuntimeError as err:
        raise ValueError(f"{path / WEIGHTS} does not fit the model in {CONFIG}: {err}") from None
    estimator.module_ = module.to(estimator.device_).eval()
    return estimator
