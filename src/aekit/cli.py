"""The ``aekit`` command line: train, encode, compare, report, demo.

Every estimator option maps one-to-one onto an :class:`~aekit.AutoEncoder` constructor
parameter, and its default is read from ``AutoEncoder()``, so the two cannot drift. The
commands only load, call the library and write files; all the logic lives in the library.

A run directory (``--out`` of ``train`` and ``demo``) holds:

- ``model.safetensors``, ``config.json``: the model, loaded by :func:`aekit.load`;
- ``metrics.json``: ``dataset`` (name, train_shape, test_shape, image_shape),
  ``comparison`` (:meth:`aekit.PCAComparison.to_dict` on the test split, PCA fitted on the
  train split), ``train_score`` and ``test_score`` (negative MSE, scikit-learn's convention),
  ``fit_seconds``, ``n_iter``, ``aekit_version``;
- ``loss.png``: :func:`aekit.plotting.loss_curves` of the fit;
- ``report.html`` (written by ``demo``, and by ``aekit report RUN --data SPEC`` for any run):
  :func:`aekit.report.write_report`, one self-contained page.

Bad arguments and bad files end with one line on stderr, ``error: ...``, and exit code 2;
set ``AEKIT_DEBUG=1`` to see the traceback instead.

Under ``torchrun`` (``torchrun --nproc-per-node 2 -m aekit train ...``), ``train`` runs on
every process: each loads the whole dataset (so the scaler is fitted on the same rows
everywhere) and trains its share of every batch (:mod:`aekit.distributed`); only rank 0
prints and writes the run directory.
"""

from __future__ import annotations

import io
import json
import os
import sys
import time
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from typer.core import TyperGroup

from . import __version__, distributed
from ._io import atomic_write
from .datasets import DATASET_NAMES, Dataset, load_dataset, read_array
from .estimators import AutoEncoder
from .losses import RECONSTRUCTION_LOSSES
from .metrics import PCAComparison, compare_with_pca
from .nn.layers import ACTIVATIONS, SCALERS
from .persistence import load
from .plotting import loss_curves
from .report import write_report
from .streaming import STREAM_SUFFIXES, open_rows, save_npy
from .training import OPTIMIZERS, TrainingDivergedError

_DEFAULTS = AutoEncoder().get_params()
_CODE_SUFFIXES = (".npy", ".csv")
_DATA_HELP = (
    f"{', '.join(DATASET_NAMES)}, or a .npy/.npz/.csv file (split 80/20 with a fixed seed, "
    "the same split in every command)"
)


# --------------------------------------------------------------------------- errors
class _Group(TyperGroup):
    """Typer's group with every failure reported as one ``error: ...`` line.

    Usage errors (typer's own) and the library's ValueError, TypeError and OSError
    (FileNotFoundError...) exit with code 2; a diverged fit or a missing optional
    dependency with code 1.
    """

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
            code = rv if isinstance(rv, int) else 0  # an int here is a typer.Exit code
        except typer.TyperException as err:  # usage errors and the like
            if type(err).__name__ == "NoArgsIsHelpError":
                # The help is the message (already printed when rich formats it).
                if err.format_message():
                    typer.echo(err.format_message())
                code = err.exit_code
            else:
                ctx = getattr(err, "ctx", None)
                hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
                code = _fail(err.format_message() + hint, err.exit_code)
        except typer.Abort:
            code = _fail("aborted", 1)
        except (TrainingDivergedError, ImportError) as err:  # not the user's input: code 1
            code = _fail(err, 1)
        except (ValueError, TypeError, OSError) as err:
            code = _fail(err, 2)
        sys.exit(code)


def _fail(message, code: int) -> int:
    if os.environ.get("AEKIT_DEBUG"):
        raise  # noqa: PLE0704 -- re-raises the exception being handled, with its traceback
    typer.echo(f"error: {' '.join(str(message).split())}", err=True)
    return code


app = typer.Typer(
    name="aekit",
    cls=_Group,
    help="Autoencoders that train reliably and prove their worth against PCA.",
    pretty_exceptions_enable=False,
    no_args_is_help=True,
    add_completion=False,
)


def main() -> None:
    """Entry point of the ``aekit`` script and of ``python -m aekit``."""
    app()


# --------------------------------------------------------------------------- helpers
def _format_sizes(sizes) -> str:
    return sizes if isinstance(sizes, str) else ",".join(map(str, sizes))


def _parse_sizes(text: str, option: str = "--hidden") -> tuple[int, ...] | str:
    """``"512,128"`` -> ``(512, 128)``; ``""`` or ``"none"`` -> ``()``; ``"auto"`` stays."""
    text = text.strip()
    if text.lower() in ("", "none", "()"):
        return ()
    if text.lower() == "auto":
        return "auto"
    try:
        return tuple(int(s) for s in text.split(","))
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is not a comma-separated list of integers such as 512,128 "
            "(or auto, or '' / none for no hidden layer)",
            param_hint=f"'{option}'",
        ) from None


def _none_or(text: str | None) -> str | None:
    """``"none"`` (any case) -> None: how a choice that may be off is written on the CLI."""
    return None if text is None or text.lower() == "none" else text


def _check_out_dir(out: Path) -> None:
    # Checked before fitting, so a long fit is never lost to a bad path.
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} exists and is not a directory; pass a directory path")


def _fit_and_save(est: AutoEncoder, data: Dataset, out: Path) -> PCAComparison | None:
    """Fit on the train split, compare with PCA on the test split, write the run to ``out``.

    Under several processes all of them fit together; rank 0 alone prints and writes, the
    others return None.
    """
    _check_out_dir(out)
    if est.architecture == "conv" and est.image_shape is None and data.image_shape:
        est.set_params(image_shape=tuple(data.image_shape))  # digits, (fashion-)mnist
    n, d = data.X_train.shape
    world = distributed.rank_info()[1]
    on = f", {world} processes" if world > 1 else ""
    if distributed.is_main():
        typer.echo(f"fitting {est!r} on {data.name} ({n} rows x {d} features{on})...")
    start = time.perf_counter()
    est.fit(data.X_train)
    seconds = time.perf_counter() - start
    if not distributed.is_main():
        return None
    comparison = compare_with_pca(est, data.X_train, data.X_test, fit=False)

    est.save(out)
    metrics = {
        "dataset": {
            "name": data.name,
            "train_shape": list(data.X_train.shape),
            "test_shape": list(data.X_test.shape),
            "image_shape": list(data.image_shape) if data.image_shape else None,
        },
        "comparison": comparison.to_dict(),
        "train_score": est.score(data.X_train),
        "test_score": est.score(data.X_test),
        "fit_seconds": seconds,
        "n_iter": est.n_iter_,
        "aekit_version": __version__,
    }
    atomic_write(out / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    png = io.BytesIO()
    loss_curves(est.history_).savefig(png, format="png", dpi=100)
    atomic_write(out / "loss.png", png.getvalue())

    typer.echo(f"fitted in {seconds:.1f} s ({est.n_iter_} epochs)\n")
    typer.echo(f"test split of {data.name}, {len(data.X_test)} rows:")
    typer.echo(str(comparison))
    typer.echo(f"\nrun saved to {out}/: model (config.json, model.safetensors), "
               "metrics.json, loss.png")
    return comparison


def _write_codes(path: Path, Z: np.ndarray, names) -> None:
    if path.suffix.lower() == ".npy":
        buf = io.BytesIO()
        np.save(buf, Z, allow_pickle=False)
        atomic_write(path, buf.getvalue())
    else:
        buf = io.StringIO()
        fmt = "%.9g" if Z.dtype == np.float32 else "%.17g"  # round-trips the dtype exactly
        np.savetxt(buf, Z, fmt=fmt, delimiter=",", header=",".join(names), comments="")
        atomic_write(path, buf.getvalue())


# --------------------------------------------------------------------------- commands
_PANEL = "Estimator (AutoEncoder parameters)"


@app.command()
def train(
    data: Annotated[str, typer.Option("--data", help=_DATA_HELP, show_default=False)],
    out: Annotated[Path, typer.Option("--out", help="Run directory to write.")],
    n_components: Annotated[int, typer.Option(
        "--components", help="Code size (n_components).", rich_help_panel=_PANEL,
    )] = _DEFAULTS["n_components"],
    hidden_layer_sizes: Annotated[str, typer.Option(
        "--hidden", help="Encoder hidden widths, e.g. 512,128; auto; '' or none for none.",
        rich_help_panel=_PANEL,
    )] = _format_sizes(_DEFAULTS["hidden_layer_sizes"]),
    architecture: Annotated[str, typer.Option(
        help="dense or conv (conv: images; --hidden gives channel widths).",
        rich_help_panel=_PANEL,
    )] = _DEFAULTS["architecture"],
    image_shape: Annotated[str | None, typer.Option(
        help="C,H,W or H,W of flat rows for conv; default: the dataset's image shape.",
        rich_help_panel=_PANEL,
    )] = _DEFAULTS["image_shape"],
    activation: Annotated[str, typer.Option(
        help=f"Hidden activation: {', '.join(ACTIVATIONS)}.", rich_help_panel=_PANEL,
    )] = _DEFAULTS["activation"],
    tied: Annotated[bool, typer.Option(
        help="Decoder uses the transposed encoder weights (dense).", rich_help_panel=_PANEL,
    )] = _DEFAULTS["tied"],
    init: Annotated[str, typer.Option(
        help="default or identity (identity weights for square layers).",
        rich_help_panel=_PANEL,
    )] = _DEFAULTS["init"],
    dropout: Annotated[float, typer.Option(
        help="Dropout rate after hidden activations (training only).", rich_help_panel=_PANEL,
    )] = _DEFAULTS["dropout"],
    noise: Annotated[str, typer.Option(
        help="Denoising corruption: none, gaussian, masking or salt_pepper.",
        rich_help_panel=_PANEL,
    )] = str(_DEFAULTS["noise"]).lower(),
    noise_level: Annotated[float, typer.Option(rich_help_panel=_PANEL)] = (
        _DEFAULTS["noise_level"]),
    sparsity: Annotated[str, typer.Option(
        help="Code sparsity penalty: none, l1 or kl.", rich_help_panel=_PANEL,
    )] = str(_DEFAULTS["sparsity"]).lower(),
    sparsity_weight: Annotated[float | None, typer.Option(
        help="Weight of the sparsity penalty; default depends on --sparsity.",
        rich_help_panel=_PANEL,
    )] = _DEFAULTS["sparsity_weight"],
    sparsity_target: Annotated[float, typer.Option(
        help="Target mean code activation for --sparsity kl.", rich_help_panel=_PANEL,
    )] = _DEFAULTS["sparsity_target"],
    contractive: Annotated[float, typer.Option(
        help="Weight of the encoder-Jacobian penalty (contractive AE).", rich_help_panel=_PANEL,
    )] = _DEFAULTS["contractive"],
    l1: Annotated[float, typer.Option(
        help="L1 penalty on weights (--weight-decay is the L2).", rich_help_panel=_PANEL,
    )] = _DEFAULTS["l1"],
    pretrain: Annotated[str, typer.Option(
        help="none or greedy (stacked layer-wise pretraining, dense).", rich_help_panel=_PANEL,
    )] = str(_DEFAULTS["pretrain"]).lower(),
    pretrain_epochs: Annotated[int, typer.Option(rich_help_panel=_PANEL)] = (
        _DEFAULTS["pretrain_epochs"]),
    output_activation: Annotated[str, typer.Option(
        help="auto, sigmoid or linear; auto: sigmoid when the scaled data lie in [0, 1].",
        rich_help_panel=_PANEL,
    )] = _DEFAULTS["output_activation"],
    scaler: Annotated[str, typer.Option(
        help=f"In-model scaling: {', '.join(str(s).lower() for s in SCALERS)}.",
        rich_help_panel=_PANEL,
    )] = str(_DEFAULTS["scaler"]).lower(),
    loss: Annotated[str, typer.Option(
        help=f"Reconstruction loss: {', '.join(RECONSTRUCTION_LOSSES)}.", rich_help_panel=_PANEL,
    )] = _DEFAULTS["loss"],
    optimizer: Annotated[str, typer.Option(
        help=f"{', '.join(OPTIMIZERS)}.", rich_help_panel=_PANEL,
    )] = _DEFAULTS["optimizer"],
    learning_rate: Annotated[float, typer.Option(rich_help_panel=_PANEL)] = (
        _DEFAULTS["learning_rate"]),
    weight_decay: Annotated[float, typer.Option(rich_help_panel=_PANEL)] = (
        _DEFAULTS["weight_decay"]),
    batch_size: Annotated[int, typer.Option(rich_help_panel=_PANEL)] = _DEFAULTS["batch_size"],
    chunk_rows: Annotated[int | None, typer.Option(
        help="Rows read at once from data streamed from disk (e.g. by encode); default: "
        "64 MiB of rows.", rich_help_panel=_PANEL,
    )] = _DEFAULTS["chunk_rows"],
    max_epochs: Annotated[int, typer.Option(
        "--epochs", "--max-epochs", help="Most epochs (max_epochs).", rich_help_panel=_PANEL,
    )] = _DEFAULTS["max_epochs"],
    validation_fraction: Annotated[float, typer.Option(
        help="Share of the train rows held out for early stopping.", rich_help_panel=_PANEL,
    )] = _DEFAULTS["validation_fraction"],
    early_stopping: Annotated[bool, typer.Option(rich_help_panel=_PANEL)] = (
        _DEFAULTS["early_stopping"]),
    patience: Annotated[int, typer.Option(rich_help_panel=_PANEL)] = _DEFAULTS["patience"],
    tol: Annotated[float, typer.Option(rich_help_panel=_PANEL)] = _DEFAULTS["tol"],
    n_init: Annotated[int, typer.Option(
        help="Restarts; the best on the hold-out is kept.", rich_help_panel=_PANEL,
    )] = _DEFAULTS["n_init"],
    random_state: Annotated[int | None, typer.Option(
        "--seed", help="Seed (random_state); same seed, same model on CPU.",
        rich_help_panel=_PANEL,
    )] = _DEFAULTS["random_state"],
    device: Annotated[str, typer.Option(
        help="auto (CUDA when present), cpu or cuda.", rich_help_panel=_PANEL,
    )] = _DEFAULTS["device"],
    precision: Annotated[str, typer.Option(
        help="auto, float32 or bfloat16 training arithmetic; auto: bfloat16 where the "
        "hardware has it.", rich_help_panel=_PANEL,
    )] = _DEFAULTS["precision"],
    verbose: Annotated[int, typer.Option(
        "--verbose", "-v", count=True, help="Show a progress bar (-vv: keep it).",
        rich_help_panel=_PANEL,
    )] = _DEFAULTS["verbose"],
    log_dir: Annotated[str | None, typer.Option(
        help="TensorBoard log directory (needs aekit[tensorboard]).", rich_help_panel=_PANEL,
    )] = _DEFAULTS["log_dir"],
) -> None:
    """Fit an autoencoder on a dataset's train split; save it with metrics and a loss plot."""
    est = AutoEncoder(
        n_components=n_components,
        hidden_layer_sizes=_parse_sizes(hidden_layer_sizes),
        architecture=architecture,
        image_shape=_parse_sizes(image_shape, "--image-shape") if image_shape else None,
        activation=activation,
        tied=tied,
        init=init,
        dropout=dropout,
        noise=_none_or(noise),
        noise_level=noise_level,
        sparsity=_none_or(sparsity),
        sparsity_weight=sparsity_weight,
        sparsity_target=sparsity_target,
        contractive=contractive,
        l1=l1,
        pretrain=_none_or(pretrain),
        pretrain_epochs=pretrain_epochs,
        output_activation=output_activation,
        scaler=_none_or(scaler),
        loss=loss,
        optimizer=optimizer,
        learning_rate=learning_rate,
        weight_decay=weight_decay,
        batch_size=batch_size,
        chunk_rows=chunk_rows,
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
    est._validate_params()  # bad values fail now, before a dataset is loaded or downloaded
    distributed.init_from_env(device)  # under torchrun: one of several processes
    try:
        if not distributed.is_main():
            est.set_params(verbose=0)  # one progress bar: rank 0's
        _fit_and_save(est, load_dataset(data), out)
    finally:
        distributed.teardown()


@app.command()
def encode(
    run: Annotated[Path, typer.Argument(metavar="RUN", help="Directory of a saved model.")],
    input_path: Annotated[Path, typer.Argument(
        metavar="INPUT", show_default=False,
        help="Rows to encode: .npy, .npz, .csv, Parquet, or a directory of .npy or Parquet "
        "shards; .npy and Parquet are read chunk by chunk (larger than memory is fine).",
    )],
    out: Annotated[Path, typer.Option("--out", help="Codes file to write: .npy or .csv.")],
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
    chunk_rows: Annotated[int | None, typer.Option(
        help="Rows read at once from INPUT; default: the model's chunk_rows.",
        show_default=False,
    )] = None,
) -> None:
    """Encode the rows of INPUT with the model in RUN; write the codes to --out."""
    if out.suffix.lower() not in _CODE_SUFFIXES:
        raise ValueError(f"--out {out}: codes are written as .npy or .csv, "
                         f"not {out.suffix or '(no extension)'!r}")
    est = load(run, device=device)
    if chunk_rows is not None:
        est.set_params(chunk_rows=chunk_rows)._validate_params()
    if input_path.is_dir() or input_path.suffix.lower() in STREAM_SUFFIXES:
        # Streamed: one chunk of INPUT (and of a .npy OUT) in memory at a time. Images
        # (n, height, width) are flattened to rows, as load_dataset does.
        source = open_rows(input_path).flattened()
        codes = est._map_stream(source, est.transform)
        if out.suffix.lower() == ".npy":
            shape = save_npy(out, codes, source.n_rows)
        else:  # codes are small: a CSV is written whole
            Z = np.concatenate(list(codes))
            _write_codes(out, Z, est.get_feature_names_out())
            shape = Z.shape
    else:
        X = read_array(input_path).X
        if X.ndim > 2:  # images (n, height, width), flattened as load_dataset does
            X = X.reshape(len(X), -1)
        Z = est.transform(X)
        _write_codes(out, Z, est.get_feature_names_out())
        shape = Z.shape
    typer.echo(f"wrote codes of shape {tuple(shape)} to {out}")


@app.command()
def compare(
    run: Annotated[Path, typer.Argument(metavar="RUN", help="Directory of a saved model.")],
    data: Annotated[str, typer.Option("--data", help=_DATA_HELP, show_default=False)],
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
) -> None:
    """Compare the model in RUN with PCA (same k) on a dataset's test split."""
    est = load(run, device=device)
    ds = load_dataset(data)
    comparison = compare_with_pca(est, ds.X_train, ds.X_test, fit=False)
    typer.echo(f"test split of {ds.name}, {len(ds.X_test)} rows "
               f"(PCA fitted on the {len(ds.X_train)} train rows):")
    typer.echo(str(comparison))


@app.command()
def report(
    run: Annotated[Path, typer.Argument(metavar="RUN", help="Directory of a saved model.")],
    data: Annotated[str, typer.Option("--data", help=_DATA_HELP, show_default=False)],
    out: Annotated[Path | None, typer.Option(
        "--out", help="HTML file to write (default: RUN/report.html).", show_default=False,
    )] = None,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
) -> None:
    """Write one self-contained HTML page on the model in RUN: AE vs PCA, diagnostics, plots."""
    path = write_report(run, data, out, device=device)
    typer.echo(f"wrote {path} (self-contained; open it in any browser)")


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", help="Run directory to write.")] = Path(
        "runs/demo"),
    verbose: Annotated[int, typer.Option("--verbose", "-v", count=True,
                                         help="Show a progress bar.")] = 0,
) -> None:
    """Digits (embedded, no download) in 2-D: an autoencoder against PCA, in seconds."""
    est = AutoEncoder(n_components=2, random_state=0, verbose=verbose)
    ds = load_dataset("digits")
    c = _fit_and_save(est, ds, out)
    page = write_report(est, ds, out / "report.html", title=f"{out.name}: AutoEncoder on digits")
    if c.winner == "autoencoder":
        verdict = (f"the autoencoder wins: its test error is {1 - c.ratio:.0%} lower than "
                   "PCA's with the same 2 numbers per image")
    else:
        verdict = f"PCA wins: the autoencoder's test error is {c.ratio - 1:.0%} higher"
    typer.echo(f"\n{verdict} (MSE {c.ae_mse:.4f} vs {c.pca_mse:.4f}).")
    typer.echo(f"report: {page} (plots, diagnostics, AE vs PCA; opens offline)")
    typer.echo(f"next: aekit encode {out} rows.npy --out codes.npy")
