"""Export fitted models to ONNX, to run them without Python or PyTorch (onnxruntime, ...).

An autoencoder becomes two graphs, ``encoder.onnx`` (rows -> codes, as ``transform``) and
``decoder.onnx`` (codes -> rows, as ``inverse_transform``), each with the in-model scaling
inside: they take and give the caller's units, like the estimator. A classifier becomes
``classifier.onnx`` (rows -> class probabilities, as ``predict_proba``). Inputs and outputs
are float32 with a dynamic batch axis; each file carries metadata (``aekit_version``,
``n_features_in``, ``n_components``, ``feature_names``, ``classes``...). A model fitted with
``missing="impute"`` fills a NaN cell inside the graph, with the values its metadata's
``fill_values`` lists (each column's training median), as ``transform`` does.

A graph is traced on :data:`TRACE_ROWS` rows, and a trace records any row count the code
takes as a plain number as a constant: so every graph is run again on
:data:`CHECK_ROWS` rows (by onnxruntime, else onnx's reference evaluator) and must give
PyTorch's outputs, or the export fails before it writes anything.

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

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted
from torch import nn

from .core.fitted import as_fitted
from .core.storage import atomic_write, read_regular
from .core.version import __version__

ENCODER, DECODER, CLASSIFIER = "encoder.onnx", "decoder.onnx", "classifier.onnx"

TRACE_ROWS, CHECK_ROWS = 2, 3
"""Rows the graphs are traced on, and the other number of rows each is checked on."""

OPSETS = range(11, 21)
"""The ONNX opsets ``export_onnx`` writes: from 11 (below it torch cannot export a table's
category lookup, ``index_put``, and the orientation histograms of
``LadderClassifier(image_features="histograms")`` give an invalid graph) to 20 (the newest
torch's TorchScript-based exporter declares). Measured with torch 2.13 and onnxruntime
1.32, and tested at both ends (``tests/test_export.py``): every exportable model (dense,
convolutional, variational, a table with categories, EncoderClassifier, LadderClassifier
dense, convolutional or on histograms) gives onnxruntime the estimator's outputs at each of
them. Others are refused before anything is traced."""


class _Graph(nn.Module):
    """``fn(model, input)`` as a module to trace: the graph of one of the model's methods.

    ``fill``, (n_features,): each column's value for a missing (NaN) cell, filled before
    ``fn`` as ``missing="impute"`` fills it before the network (the schema's ``_fill``):
    without it the graph would give NaN codes for any row with a NaN cell.
    """

    def __init__(self, model: nn.Module, fn, fill: torch.Tensor | None = None):
        super().__init__()
        self.model, self.fn, self.fill = model, fn, fill
        # Eval mode for the whole tree: torch.onnx.export puts a module back in the mode it
        # found it in, and a new module is in training mode (dropout on for the check).
        self.eval()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.fill is not None:
            x = torch.where(torch.isnan(x), self.fill, x)
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


def _to_onnx(graph: nn.Module, file: str, names: tuple[str, str], metadata: dict,
             opset: int, rows: torch.Tensor) -> bytes:
    """The ONNX bytes of ``graph`` traced on (:data:`TRACE_ROWS`, width) float32 rows,
    checked by onnx's checker and on ``rows`` (:data:`CHECK_ROWS` of them, the ONNX file
    ``file``'s input) against PyTorch."""
    onnx = _import_onnx()
    buf = io.BytesIO()
    dummy = torch.zeros(TRACE_ROWS, rows.shape[1])
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
    blob = model.SerializeToString()
    _check_rows(blob, graph, file, names[0], rows)
    return blob


def _check_rows(blob: bytes, graph: nn.Module, file: str, name: str, rows: torch.Tensor
                ) -> None:
    """A ValueError unless the ONNX graph ``blob`` gives ``graph``'s outputs for ``rows``."""
    with torch.no_grad():
        expected = graph(rows).numpy()
    x = rows.numpy()
    try:
        got = _run_graph(blob, name, x)
    except Exception as err:  # noqa: BLE001 -- any runtime's failure is the export's
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        problem = f"fails on {len(x)} rows ({first[:200]})"
    else:
        if got.shape == expected.shape:
            # Float32 rounding, in the outputs' own units (NaN where PyTorch gives NaN).
            scale = 1.0 + float(np.max(np.abs(expected[np.isfinite(expected)]), initial=0.0))
            if np.allclose(got, expected, rtol=0, atol=1e-4 * scale, equal_nan=True):
                return
            gap = float(np.nanmax(np.abs(got - expected)))
            problem = f"gives other outputs than PyTorch on {len(x)} rows (by up to {gap:.3g})"
        else:
            problem = (f"gives outputs of shape {got.shape} for {len(x)} rows, not "
                       f"{expected.shape}")
    raise ValueError(
        f"this model cannot be exported to ONNX: its {file} graph, traced on {TRACE_ROWS} "
        f"rows, {problem}; nothing was written. This is a fault of aekit's export, not of "
        "your model: use it through aekit (aekit encode, or the estimator's methods) and "
        "report it with the model's config.json")


def _run_graph(blob: bytes, name: str, x: np.ndarray) -> np.ndarray:
    """The first output of ONNX graph ``blob`` for input ``name`` = ``x``: by onnxruntime
    when it is installed, else by onnx's reference evaluator (pure Python, slower)."""
    try:
        import onnxruntime
    except ImportError:
        from onnx.reference import ReferenceEvaluator

        return np.asarray(ReferenceEvaluator(blob).run(None, {name: x})[0])
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 4  # its failure is reported in our error, not logged too
    session = onnxruntime.InferenceSession(blob, options, providers=["CPUExecutionProvider"])
    return session.run(None, {name: x})[0]


def export_onnx(estimator, out: str | os.PathLike, *, opset: int = 17) -> dict[str, Path]:
    """Write ``estimator`` as ONNX graphs into directory ``out`` (created if needed).

    Parameters
    ----------
    estimator : fitted AutoEncoder, VariationalAutoEncoder, EncoderClassifier or
        LadderClassifier, or a path
        A path is loaded with :func:`aekit.load` (on the CPU).
    out : path-like
        Directory; the files are written atomically. ``.onnx`` files of the same names
        are replaced only when aekit wrote them (or they sit in an aekit run directory).
    opset : int, default=17
        ONNX opset version, one of :data:`OPSETS` (11 to 20).

    Raises
    ------
    ValueError
        For an opset outside :data:`OPSETS`, an :class:`~aekit.OutlierDetector` (its
        scores need the training codes and statistics, not one graph: score rows with
        aekit), a model with an operation ONNX lacks (``scaler="quantile"``, or a scaler that
        log-scales a column, ``"auto"`` included on heavy-tailed data), or a
        graph that does not give PyTorch's outputs on :data:`CHECK_ROWS` rows (nothing is
        written then). Also for an ``out`` that holds ``.onnx`` files of these names that
        aekit did not write (:func:`aekit.runs.check_out_dir`).

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
                         f"{OPSETS.start} to {OPSETS.stop - 1} (those every aekit model exports "
                         "at and onnxruntime runs); the default, 17, suits most runtimes")
    check_is_fitted(estimator)
    estimator = as_fitted(estimator)  # its n_components as fitted, whatever set_params did
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
    fill = _fill_values(estimator)
    if fill is not None:  # the values as the schema saved them, not float32-rounded
        metadata["fill_values"] = fill
        fill = torch.tensor(fill, dtype=torch.float32)
    if hasattr(estimator, "classes_"):
        metadata["classes"] = [c.item() if hasattr(c, "item") else c for c in estimator.classes_]
        # Zeros: valid rows of any model, a table's included (category 0 of each column).
        blob = _to_onnx(_Graph(model, _probabilities, fill), CLASSIFIER,
                        ("x", "probabilities"), metadata, opset,
                        _with_missing(torch.zeros(CHECK_ROWS, width), fill))
        return {"classifier": atomic_write(out / CLASSIFIER, blob)}
    metadata["n_components"] = estimator.n_components
    # Random codes, and the rows they decode to: valid inputs of each graph (a table's
    # category indices among them), different from row to row.
    codes = torch.randn(CHECK_ROWS, estimator.n_components,
                        generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        rows = _decode(model, codes).reshape(CHECK_ROWS, -1)
    encoder = _to_onnx(_Graph(model, _encode, fill), ENCODER, ("x", "codes"), metadata, opset,
                       _with_missing(rows, fill))
    decoder = _to_onnx(_Graph(model, _decode), DECODER, ("z", "x_hat"), metadata, opset,
                       codes)
    return {"encoder": atomic_write(out / ENCODER, encoder),
            "decoder": atomic_write(out / DECODER, decoder)}


def _fill_values(estimator) -> list[float] | None:
    """Each column's value for a NaN cell in a model fitted with ``missing="impute"`` (what
    its schema fills: :meth:`~aekit.data.schema.InputSchema.fills`), or None for a model
    that refuses missing numbers."""
    schema = getattr(estimator, "schema_", None)
    if schema is None or schema.missing != "impute":
        return None
    return schema.fills(estimator.n_features_in_)


def _with_missing(rows: torch.Tensor, fill: torch.Tensor | None) -> torch.Tensor:
    """``rows`` with a NaN cell in the first row when the graph fills them (``fill``): the
    check then covers the filling, as ``transform`` sees such rows."""
    if fill is None:
        return rows
    rows = rows.clone()
    rows[0, 0] = float("nan")
    return rows


def _exported(path: Path) -> bool:
    """Whether ``path`` is an ONNX file that :func:`export_onnx` wrote (its metadata holds
    ``aekit_version``): one an export may replace outside a run directory. Read as a
    regular file only: a FIFO (which ``onnx.load`` would wait on forever), a device or a
    socket is not aekit's."""
    onnx = _import_onnx()
    try:
        model = onnx.load_from_string(read_regular(path))
    except Exception:  # not regular, not ONNX (protobuf's own error types), unreadable
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
