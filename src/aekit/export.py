"""Export fitted models to ONNX, to run them without Python or PyTorch (onnxruntime, ...).

An autoencoder becomes two graphs, ``encoder.onnx`` (rows -> codes, as ``transform``) and
``decoder.onnx`` (codes -> rows, as ``inverse_transform``), each with the in-model scaling
inside: they take and give the caller's units, like the estimator. A classifier becomes
``classifier.onnx`` (rows -> class probabilities, as ``predict_proba``). Inputs and outputs
are float32 with a dynamic batch axis; each file carries metadata (``aekit_version``,
``n_features_in``, ``n_components``, ``feature_names``, ``classes``...).

Exporting needs the ``onnx`` package (``pip install aekit[onnx]``, which also brings
``onnxruntime`` to run the graphs). The graphs are traced with torch's TorchScript-based
exporter (``dynamo=False``): it needs nothing beyond torch and ``onnx``, works offline, and
handles every aekit module (dense, convolutional, variational).
"""

from __future__ import annotations

import copy
import io
import json
import os
import warnings
from pathlib import Path

import torch
from sklearn.utils.validation import check_is_fitted
from torch import nn

from .core.storage import atomic_write
from .core.version import __version__

ENCODER, DECODER, CLASSIFIER = "encoder.onnx", "decoder.onnx", "classifier.onnx"

OPSETS = range(9, 21)
"""The ONNX opsets ``export_onnx`` writes: from 9 (below it torch cannot export the
per-row scaler's ``where``, and onnxruntime runs no graph below opset 7) to 20 (the newest
torch's TorchScript-based exporter declares). Measured with torch 2.13 and onnxruntime
1.32: every exportable model gives onnxruntime the estimator's outputs at each of them."""


class _Graph(nn.Module):
    """``fn(model, input)`` as a module to trace: the graph of one of the model's methods."""

    def __init__(self, model: nn.Module, fn):
        super().__init__()
        self.model, self.fn = model, fn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(self.model, x)


def _encode(model, x):  # (n, n_features) -> codes (n, k), the caller's units in
    return model.encode(x)


def _decode(model, z):  # codes (n, k) -> rows (n, n_features), the caller's units out
    return model.decode(z)


def _probabilities(model, x):  # (n, n_features) -> (n, n_classes)
    return torch.softmax(model.logits(x), dim=1)


def _import_onnx():
    try:
        import onnx
    except ImportError as err:
        raise ImportError("exporting to ONNX needs the onnx package: pip install aekit[onnx]"
                          ) from err
    return onnx


def _to_onnx(graph: nn.Module, width: int, names: tuple[str, str], metadata: dict,
             opset: int) -> bytes:
    """The ONNX bytes of ``graph`` traced on (2, ``width``) float32 rows, checked."""
    onnx = _import_onnx()
    buf = io.BytesIO()
    dummy = torch.zeros(2, width)
    with warnings.catch_warnings():
        # The TorchScript-based exporter announces its deprecation and tracer notes.
        warnings.simplefilter("ignore")
        try:
            torch.onnx.export(
                graph, (dummy,), buf, dynamo=False, opset_version=opset,
                input_names=[names[0]], output_names=[names[1]],
                dynamic_axes={names[0]: {0: "n"}, names[1]: {0: "n"}},
            )
        except torch.onnx.errors.OnnxExporterError as err:  # an operation ONNX lacks
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise ValueError(f"this model cannot be exported to ONNX: {first}") from None
    model = onnx.load_from_string(buf.getvalue())
    for key, value in metadata.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value if isinstance(value, str) else json.dumps(value)
    onnx.checker.check_model(model)
    return model.SerializeToString()


def export_onnx(estimator, out: str | os.PathLike, *, opset: int = 17) -> dict[str, Path]:
    """Write ``estimator`` as ONNX graphs into directory ``out`` (created if needed).

    Parameters
    ----------
    estimator : fitted AutoEncoder, VariationalAutoEncoder or EncoderClassifier, or a path
        A path is loaded with :func:`aekit.load` (on the CPU).
    out : path-like
        Directory; the files are written atomically. ``.onnx`` files of the same names
        are replaced only when aekit wrote them (or they sit in an aekit run directory).
    opset : int, default=17
        ONNX opset version, one of :data:`OPSETS` (9 to 20).

    Raises
    ------
    ValueError
        For an opset outside :data:`OPSETS`, an :class:`~aekit.OutlierDetector` (its
        scores need the training codes and statistics, not one graph: score rows with
        aekit), or a model with an operation ONNX lacks (the quantile and log scalers).
        Also for an ``out`` that holds ``.onnx`` files of these names that aekit did not
        write (:func:`aekit.runs.check_out_dir`).

    Returns
    -------
    paths : dict
        ``{"encoder": .../encoder.onnx, "decoder": .../decoder.onnx}`` for an autoencoder
        (input ``x`` -> output ``codes``; input ``z`` -> output ``x_hat``, flat rows), the
        VAE's encoder giving its posterior mean; ``{"classifier": .../classifier.onnx}``
        (input ``x`` -> output ``probabilities``) for an EncoderClassifier.
    """
    if isinstance(estimator, (str, os.PathLike)):
        from .persistence import load

        estimator = load(estimator, device="cpu")
    if isinstance(opset, bool) or not isinstance(opset, int) or opset not in OPSETS:
        raise ValueError(f"opset={opset!r} is not supported: ONNX export writes opsets "
                         f"{OPSETS.start} to {OPSETS.stop - 1} (what torch's exporter writes "
                         "and onnxruntime runs); the default, 17, suits most runtimes")
    check_is_fitted(estimator)
    if not hasattr(estimator, "classes_") and not callable(
            getattr(estimator.module_, "encode", None)):
        raise ValueError(
            f"a {type(estimator).__name__} cannot be exported to ONNX: export_onnx writes "
            "autoencoders (AutoEncoder, VariationalAutoEncoder) and EncoderClassifier models. "
            "A detector's scores need its training codes and statistics; score rows with "
            "OutlierDetector.score_samples or 'aekit score RUN FILE --out scores.csv'")
    from .runs import check_out_dir

    _check_exportable(estimator.module_)
    out = check_out_dir(out, (ENCODER, DECODER, CLASSIFIER), ours=_exported)
    model = _cpu_copy(estimator.module_)
    names = getattr(estimator, "feature_names_in_", None)
    metadata = {"aekit_version": __version__, "estimator": type(estimator).__name__,
                "n_features_in": estimator.n_features_in_,
                "feature_names": None if names is None else [str(n) for n in names]}
    width = estimator.n_features_in_
    if hasattr(estimator, "classes_"):
        metadata["classes"] = [c.item() if hasattr(c, "item") else c for c in estimator.classes_]
        blob = _to_onnx(_Graph(model, _probabilities), width, ("x", "probabilities"),
                        metadata, opset)
        return {"classifier": atomic_write(out / CLASSIFIER, blob)}
    metadata["n_components"] = estimator.n_components
    encoder = _to_onnx(_Graph(model, _encode), width, ("x", "codes"), metadata, opset)
    decoder = _to_onnx(_Graph(model, _decode), estimator.n_components, ("z", "x_hat"),
                       metadata, opset)
    return {"encoder": atomic_write(out / ENCODER, encoder),
            "decoder": atomic_write(out / DECODER, decoder)}


def _exported(path: Path) -> bool:
    """Whether ``path`` is an ONNX file that :func:`export_onnx` wrote (its metadata holds
    ``aekit_version``): one an export may replace outside a run directory."""
    onnx = _import_onnx()
    try:
        model = onnx.load(os.fspath(path), load_external_data=False)
    except Exception:  # not ONNX (protobuf's own error types), or unreadable: not aekit's
        return False
    return any(entry.key == "aekit_version" for entry in model.metadata_props)


def _check_exportable(module: nn.Module) -> None:
    """Refuse, before tracing, the scalers whose operations ONNX lacks (``searchsorted``,
    ``expm1``): the exporter would fail after dumping its graph on stderr."""
    scaler = getattr(module, "scaler", None)
    kind = getattr(scaler, "kind", None)
    logged = getattr(scaler, "logged", None)
    if kind == "quantile" or (logged is not None and bool(logged.any())):
        what = ("scaler='quantile'" if kind == "quantile"
                else f"scaler={kind!r} with log-scaled columns")
        raise ValueError(
            f"this model cannot be exported to ONNX: its {what} needs operations ONNX "
            "lacks (searchsorted, expm1); fit with scaler='standard', 'robust', 'minmax', "
            "'sample' or None to export it")


def _cpu_copy(module: nn.Module) -> nn.Module:
    """An eval-mode float32 copy of ``module`` on the CPU (the fitted one is not touched)."""
    return copy.deepcopy(module).to("cpu", torch.float32).eval()
