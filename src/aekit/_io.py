"""Files written atomically, and the on-disk container of a saved model.

A reader sees the old file or the complete new one, never half of one. A saved model is a
directory holding ``model.safetensors`` (the tensors) and ``config.json`` (what the
estimator says about itself, plus the format's own fields: a format tag and version, the
SHA-256 of the weights, library versions). This module knows the container, not the
estimators: :mod:`aekit.persistence` decides which classes a config may name.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import safetensors.torch
import sklearn
import torch

from ._version import __version__

WEIGHTS, CONFIG = "model.safetensors", "config.json"
FORMAT = "aekit-model"
FORMAT_VERSION = 1


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path`` atomically.

    On an exception the temporary file is removed and ``path`` is left untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        # mkstemp creates 0600 files; give the result the mode a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write(path: str | os.PathLike, data: bytes | str) -> Path:
    """Write ``data`` (bytes, or text as UTF-8) to ``path`` atomically; returns the path."""
    with atomic_path(path) as tmp:
        if isinstance(data, str):
            tmp.write_text(data, encoding="utf-8")
        else:
            tmp.write_bytes(data)
    return Path(path)


# --------------------------------------------------------------------------- JSON
def jsonable(value):
    """``value`` as plain JSON types: NumPy scalars and arrays, tuples, devices, and nested
    estimators (``{"__estimator__": class name, "params": ...}``, parameters only).

    Anything else (e.g. a RandomState instance as random_state, which JSON cannot
    reproduce anyway) becomes None.
    """
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (tuple, list)):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, torch.device):
        return str(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if callable(getattr(value, "get_params", None)):
        return {"__estimator__": type(value).__name__,
                "params": jsonable(value.get_params(deep=False))}
    return None


# --------------------------------------------------------------------------- model files
def write_model_dir(path: str | os.PathLike, tensors: dict[str, torch.Tensor],
                    config: dict) -> Path:
    """Write a model directory: ``tensors`` to safetensors, ``config`` (JSON types) beside.

    The format's fields (``format``, ``format_version``, ``weights_sha256``, ``versions``)
    are added to ``config``. Each file is written atomically; the weights go first and the
    config, which holds their checksum, last, so an interrupted save is detected on load.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ValueError(f"{path} exists and is not a directory; pass a directory path")
    blob = safetensors.torch.save(
        {k: v.detach().cpu().contiguous() for k, v in tensors.items()})
    config = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        **config,
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


def read_model_dir(path: str | os.PathLike) -> tuple[dict, dict[str, torch.Tensor]]:
    """``(config, tensors)`` of a model directory, checked against its checksum.

    Raises
    ------
    FileNotFoundError
        When the directory or one of its files is missing.
    ValueError
        When a file is truncated, tampered with, or not an aekit model.
    """
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
    return config, tensors
