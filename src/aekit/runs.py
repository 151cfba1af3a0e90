"""The run directory: what ``aekit train`` and ``aekit demo`` write, and ``aekit report``
reads back. Its format is defined here, once.

A run directory holds:

- ``config.json`` and the ``model-<hash>.safetensors`` it names: the model, loaded by
  :func:`aekit.load`;
- ``metrics.json`` (:data:`METRICS`): ``dataset`` (name, train_shape, test_shape,
  image_shape, options: how a file was read and split, so ``compare`` and ``report`` read
  it the same way, and file_sha256: the SHA-256 of the file's bytes, null for a named
  dataset), ``comparison`` (:meth:`aekit.PCAComparison.to_dict` on the test split, PCA
  fitted on the train split in the model's scaled units), ``train_score`` and
  ``test_score`` (``score``: the negative error in the model's scaled units, higher is
  better), ``fit_seconds``, ``n_iter``, ``aekit_version``, and ``model_sha256``: the
  checksum of the model they describe (:func:`read_metrics` refuses metrics of another
  model);
- ``loss.png`` (:data:`LOSS_PLOT`): :func:`aekit.plotting.loss_curves` of the fit;
- ``report.html`` (:data:`REPORT`), written by ``aekit demo`` and ``aekit report``;
- while training, ``checkpoint.json`` and the ``checkpoint-<hash>.safetensors`` it names
  (:class:`aekit.training.callbacks.Checkpoint`): removed once the run is written whole.
- while a command writes it, ``.aekit-run.lock`` (:data:`RUN_LOCK`, :func:`writing_run`):
  the lock that keeps a second command from writing the same directory at once; it names
  the process holding it and is removed when the command ends (one killed with ``kill -9``
  leaves it, unlocked: the next command takes it over). It is no file of a run (not among
  :data:`RUN_FILES`): a leftover one makes no directory a run's, or the caller's.

The model is written before its metrics, and stale metrics are removed first, so a run
killed at any moment never shows one model's metrics beside another model.

Only files of an aekit run directory (one holding an aekit model or checkpoint) are ever
removed or replaced: :func:`check_out_dir` refuses, before the fit, a directory of the
caller's files that holds names a run writes, and one aekit cannot write to.

``aekit detect`` writes a detector's run (:func:`fit_detector_run`): the model, ``loss.png``,
``metrics.json`` with ``dataset`` (name, shape), ``fit_seconds``, ``n_iter``, ``threshold``,
``n_flagged``, ``share_flagged`` and, when labels were given, ``labels`` (``n_anomalies``,
``roc_auc``, ``average_precision``); ``scores.csv`` (:data:`SCORES`, :func:`write_scores`);
and its ``report.html``.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import os
import socket
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .core import distributed
from .core.storage import (
    CONFIG,
    FORMAT,
    LOCATION_PARAMS,
    LockHeld,
    atomic_path,
    atomic_write,
    held_lock,
    is_manifest,
    jsonable,
    model_checksum,
    read_regular,
    remove_stale_temps,
)
from .core.version import __version__
from .training.callbacks import CHECKPOINT, CHECKPOINT_FORMAT, remove_checkpoint
from .data.catalog import Dataset
from .evaluation.metrics import PCAComparison, compare_with_pca
from .anomaly.metrics import anomaly_labels, detection_metrics
from .evaluation.findings import json_ready
from .plotting import loss_curves
from .semisupervised.comparison import hide_labels
from .semisupervised.labels import blanks_unlabelled, unlabelled_rows

METRICS, LOSS_PLOT, REPORT = "metrics.json", "loss.png", "report.html"
SCORES = "scores.csv"
RUN_FILES = (CONFIG, CHECKPOINT, METRICS, LOSS_PLOT, REPORT, SCORES)
"""The files a run directory holds by these names (the weights files are named by hash)."""
_MANIFESTS = {CONFIG: FORMAT, CHECKPOINT: CHECKPOINT_FORMAT}  # name: its format tag
RUN_LOCK = ".aekit-run.lock"
"""The lock file of a directory a command is writing (:func:`writing_run`)."""


class RunBusyError(OSError):
    """Another live aekit process is writing the directory (:func:`writing_run`)."""


@contextlib.contextmanager
def writing_run(out: str | os.PathLike, *, option: str = "--out",
                command: str = "aekit") -> Iterator[None]:
    """Hold directory ``out`` for this process while a command writes it: from before the
    fit (and its checkpoints) until the run is written whole.

    A second command that would write ``out`` meanwhile fails at once, before any work,
    instead of mixing its files (model, metrics, checkpoints) with this one's. The lock is
    :data:`RUN_LOCK` in ``out`` (:func:`aekit.core.storage.held_lock`): released by the
    operating system however the process ends, so a killed command never blocks the next
    one or ``--resume``; ``out`` is created for it, and removed again when the command
    leaves nothing in it. Under several processes (torchrun) only the one that writes
    (rank 0) may hold it. Where the OS has no ``flock`` (Windows) nothing is locked.

    Parameters
    ----------
    out : path-like
        The directory the command writes.
    option : str, default="--out"
        How the command names ``out``, for the message (``"--checkpoint-dir"``); empty: a
        directory the caller cannot choose (a run's own).
    command : str, default="aekit"
        What holds it (``"aekit train"``), for the message of a refused command.

    Raises
    ------
    RunBusyError
        When another process holds ``out``; the message names it (pid, host, command).
    """
    note = (f"pid {os.getpid()} on host {socket.gethostname()}, {command}, since "
            f"{time.strftime('%Y-%m-%d %H:%M:%S')}")
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(held_lock(out, RUN_LOCK, note))
        except LockHeld as err:
            holder = err.holder or "it has not said which yet"
            named, other = (f"{option} {out}", f", or pass another {option}") if option \
                else (str(out), "")
            raise RunBusyError(
                f"{named} is being written by another aekit process ({holder}; its lock: "
                f"{err.path}); two commands writing one directory at once would mix their "
                f"files: wait for that one to end{other}") from None
        yield


@dataclass(frozen=True)
class Run:
    """A fitted run: where it was written, and what ``metrics.json`` holds."""

    path: Path
    estimator: object
    comparison: PCAComparison | None  # None for a classifier's or a detector's run
    metrics: dict


def check_out_dir(out: str | os.PathLike, names: tuple[str, ...] = RUN_FILES, *,
                  ours=None) -> Path:
    """``out``, the directory a command is about to write ``names`` into, checked before
    any long work (a fit): it, or the directory it would be created in, must be writable.

    aekit replaces files only in its own run directory, one holding an aekit model or
    checkpoint (``config.json``, ``checkpoint.json``), and there only the files a run
    writes (:data:`RUN_FILES`); a directory of the caller's files that holds one of
    ``names`` is refused, and so is one whose ``config.json`` or ``checkpoint.json`` (when
    among ``names``) aekit did not write. Any other file of ``names`` already there is
    replaced only when ``ours`` says aekit wrote it, in a run directory too.

    Parameters
    ----------
    out : path-like
        The directory.
    names : tuple of str, default=RUN_FILES
        The files that will be written into ``out``.
    ours : callable, optional
        ``ours(path)``: whether the existing file ``path`` is aekit's all the same (an ONNX
        file carrying the metadata aekit writes).

    Returns
    -------
    out : pathlib.Path

    Raises
    ------
    ValueError
        When ``out`` is a file, or holds files aekit did not write that it would replace.
    OSError
        When ``out`` cannot be created or written to; the message names ``out``.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} exists and is not a directory; pass a directory path")
    if out.is_dir():
        held = [n for n in names if os.path.lexists(out / n)]
        for name in held:
            kind = _MANIFESTS.get(name)
            if kind is not None and not is_manifest(out / name, kind):
                raise ValueError(
                    f"--out {out}: {out / name} is not an aekit {kind.split('-')[-1]} file; "
                    "aekit does not overwrite files it did not write: pass another --out "
                    "(or move that file)")
        in_run = any(is_manifest(out / n, kind) for n, kind in _MANIFESTS.items())
        # A run directory vouches for the files a run writes, not for others of the
        # caller's beside them (their own encoder.onnx was replaced by an export).
        theirs = [n for n in held if not (in_run and n in RUN_FILES)
                  and not (ours is not None and ours(out / n))]
        if theirs:
            why = "" if in_run else f" (no aekit model, {CONFIG}, beside them)"
            raise ValueError(
                f"--out {out} holds {', '.join(theirs)}, which aekit did not write{why} and "
                "would replace: pass a new or empty directory (or move those files)")
    _check_writable(out, out)
    return out


def _check_writable(out: Path, directory: Path) -> None:
    """Refuse ``--out out`` when ``directory``, or the one it would be created in, takes no
    new files (read-only, no permission)."""
    # Nothing is created here: a command that then fails on its input leaves no trace.
    where = next((p for p in (directory, *directory.parents) if p.exists()), directory)
    if where.exists() and not where.is_dir():
        raise ValueError(f"--out {out}: {where} is a file, not a directory; pass a directory "
                         "path")
    try:
        with tempfile.TemporaryFile(dir=where):  # fail now, not after the work
            pass
    except OSError as err:
        place = "written" if where == out else f"created in {where}"
        raise type(err)(f"--out {out} cannot be {place} ({err.strerror or err}); pass a "
                        "path you can write to") from None


def check_out_file(out: str | os.PathLike, what: str, suffixes: tuple[str, ...], *,
                   inputs=(), run: str | os.PathLike | None = None, ours=None,
                   overwrite: bool = False) -> Path:
    """``out``, the file a command is about to write ``what`` to, checked before any work:
    its directory, or the one it would be created in, must be writable.

    aekit does not overwrite files it did not write: an existing ``out`` is replaced only
    when aekit recognisably wrote it (``ours`` says so, or it is the ``report.html`` of
    ``run``) or when the caller asks for it at call time (``overwrite``, the
    command line's ``--overwrite``). Nothing permits writing over an input, or over a
    file of ``run`` but its report.

    Paths are compared resolved, so another spelling of a path, or a link, is caught too
    (the file is written through a link, to its target).

    Parameters
    ----------
    out : path-like
        The file to write.
    what : str
        What it holds, for the messages (``"codes"``, ``"the report"``).
    suffixes : tuple of str
        The suffixes it may have (lower case); a link's target must have one too.
    inputs : iterable of str or path-like
        What the command reads: ``out`` must not be one of them or lie inside one (a
        directory of shards). One that names nothing here (a dataset's name) is skipped.
    run : path-like, optional
        The run directory the command reads: ``out`` must not be one of its model, checkpoint,
        metrics, plot or scores files (its report it may be).
    ours : callable, optional
        ``ours(path)``: whether the existing file ``path`` is one aekit wrote (a report
        carrying aekit's mark); without it no existing file counts as aekit's (codes and
        scores files carry no mark) but the ``report.html`` of ``run``.
    overwrite : bool, default=False
        Replace an existing ``out`` aekit did not write: the caller's choice.

    Returns
    -------
    out : pathlib.Path

    Raises
    ------
    ValueError
        When ``out`` is a directory, lacks one of ``suffixes``, is (or is inside) one of
        ``inputs`` or a file of ``run``, or (without ``overwrite``) exists and aekit did not
        write it.
    OSError
        When ``out`` cannot be written; the message names ``out``.
    """
    out = Path(out)
    allowed = " or ".join(suffixes)
    if out.is_dir():
        raise ValueError(f"--out {out} is a directory; pass the path of a file in it, ending "
                         f"in {allowed}")
    target = out.resolve()
    for given in inputs:
        if not os.path.lexists(given):
            continue
        source = Path(given).resolve()
        if target == source:
            raise ValueError(f"--out {out} is the input {given}: writing {what} there would "
                             "replace it; pass another path")
        if source in target.parents:
            raise ValueError(f"--out {out} is inside the input directory {given}, among "
                             "what the command reads; pass a path outside it")
    if run is not None and target.parent == Path(run).resolve() and (
            target.name in RUN_FILES and target.name != REPORT
            or target.suffix == ".safetensors"):
        raise ValueError(f"--out {out} is the run's own {target.name} in {run}; aekit never "
                         f"writes {what} over it: pass another path")
    if out.suffix.lower() not in suffixes:
        raise ValueError(f"--out {out}: {what} can be written as {allowed} only, not "
                         f"{out.suffix or '(no extension)'!r}")
    if target.suffix.lower() not in suffixes:
        raise ValueError(f"--out {out} leads to {target}, not a {allowed} file; pass another "
                         "path")
    in_run = run is not None and target.parent == Path(run).resolve()
    # A FIFO or device is never aekit's (and ours, reading it, could block on it).
    aekit_wrote = target.is_file() and (in_run and target.name == REPORT
                                        or ours is not None and ours(target))
    if os.path.exists(target) and not aekit_wrote and not overwrite:
        # The command line spells overwrite=True as its --overwrite (cli_spelling).
        raise ValueError(f"--out {out} exists and aekit did not write it; pass "
                         "overwrite=True to replace it, or another path")
    _check_writable(out, target.parent if out.is_symlink() else out.parent)  # see atomic_path
    return out


def fit_run(estimator, data: Dataset, out: str | os.PathLike, *,
            resume: bool = False) -> Run | None:
    """Fit ``estimator`` on the train split, compare it with PCA on the test split, write
    the run to ``out``.

    An estimator that reads images and has no ``image_shape`` takes the dataset's
    (:func:`_take_image_shape`). Under several
    processes all of them fit together; rank 0 alone writes and returns the run, the others
    return None. ``resume``: passed to ``fit`` (continue from the checkpoint in the
    estimator's ``checkpoint_dir``); the checkpoint is removed once the run is written.
    """
    out = check_out_dir(out)
    _take_image_shape(estimator, data)
    k, (n, d) = estimator.n_components, data.X_train.shape
    if d > k > n:  # now, not after the fit (leaving a checkpoint): compare_with_pca refuses it
        raise ValueError(
            f"{data.name}: the train split has {n} row(s), fewer than n_components={k}, "
            "which the run's PCA baseline needs; give more rows (or a smaller test split), "
            f"or n_components <= {n}")
    start = time.perf_counter()
    estimator.fit(data.X_train, resume=resume)
    seconds = time.perf_counter() - start
    if not distributed.is_main():
        return None
    comparison = compare_with_pca(estimator, data.X_train, data.X_test, fit=False,
                                  shared_unit=data.image_shape is not None)
    metrics = {
        "dataset": _dataset_info(data),
        "comparison": comparison.to_dict(),
        "train_score": estimator.score(data.X_train),
        "test_score": estimator.score(data.X_test),
        "fit_seconds": seconds,
        "n_iter": estimator.n_iter_,
        "aekit_version": __version__,
    }
    write_run(out, estimator, metrics)
    if getattr(estimator, "checkpoint_dir", None) is not None:
        remove_checkpoint(estimator.checkpoint_dir)  # the run is whole: nothing to resume
    return Run(out, estimator, comparison, metrics)


def fit_classifier_run(estimator, data: Dataset, out: str | os.PathLike, *,
                       labels_per_class: int | None = None) -> Run | None:
    """Fit a classifier (:class:`~aekit.EncoderClassifier`, :class:`~aekit.LadderClassifier`)
    on the train split, score it on the test split's labelled rows, write the run to ``out``.

    Rows whose label is ``-1`` or missing (a table's empty cell) are unlabelled: the
    classifier learns from them as its ``fit`` does with ``y == -1``, and no score counts
    them. ``labels_per_class``: keep only this many labels of each class in the train split
    (drawn with :func:`~aekit.semisupervised.comparison.hide_labels`, the same rows in every
    run), the others unlabelled: few labels tried on a labelled dataset.
    ``metrics.json`` holds ``dataset``, ``train_accuracy`` and ``test_accuracy`` (on
    the labelled rows of each split; ``test_accuracy`` is null when the test split has none),
    ``chance`` (always guessing the most frequent training label, on the same test rows),
    ``labels_per_class``, ``labelled_rows`` and ``unlabelled_rows`` (``{"train": n,
    "test": n}``), ``fit_seconds``, ``n_iter`` and ``aekit_version``; the run's
    ``comparison`` is None. A ladder that reads images (``conv_layers`` or
    ``image_features``) and has no ``image_shape`` takes the dataset's.
    """
    out = check_out_dir(out)
    if data.y_train is None or data.y_test is None:
        raise ValueError(
            f"{data.name} has no labels to classify; use a labelled dataset (digits, "
            "fashion-mnist, an .npz with 'y') or name the label column with --label."
        )
    y_train, y_test = blanks_unlabelled(data.y_train), blanks_unlabelled(data.y_test)
    if labels_per_class is not None:
        y_train = hide_labels(y_train, labels_per_class, random_state=0)
    _take_image_shape(estimator, data)
    start = time.perf_counter()
    estimator.fit(data.X_train, y_train)
    seconds = time.perf_counter() - start
    if not distributed.is_main():
        return None
    labelled = {"train": ~unlabelled_rows(y_train), "test": ~unlabelled_rows(y_test)}
    values, counts = np.unique(y_train[labelled["train"]], return_counts=True)
    scored = labelled["test"].any()
    metrics = {
        "dataset": _dataset_info(data),
        "train_accuracy": estimator.score(data.X_train, y_train),
        "test_accuracy": estimator.score(data.X_test, y_test) if scored else None,
        "chance": (float(np.mean(y_test[labelled["test"]] == values[np.argmax(counts)]))
                   if scored else None),
        "labels_per_class": labels_per_class,
        "labelled_rows": {split: int(mask.sum()) for split, mask in labelled.items()},
        "unlabelled_rows": {split: int((~mask).sum()) for split, mask in labelled.items()},
        "fit_seconds": seconds,
        "n_iter": estimator.n_iter_,
        "aekit_version": __version__,
    }
    write_run(out, estimator, metrics)
    return Run(out, estimator, None, metrics)


def _take_image_shape(estimator, data: Dataset) -> None:
    """Give the dataset's image shape (digits, (fashion-)mnist: their rows are flat) to an
    estimator that reads images (a convolutional autoencoder or ladder, a ladder with
    ``image_features``) and was given none."""
    takes_images = getattr(estimator, "_takes_images", None)
    if (callable(takes_images) and takes_images() and data.image_shape
            and estimator.get_params().get("image_shape", False) is None):
        estimator.set_params(image_shape=tuple(data.image_shape))


def _dataset_info(data: Dataset) -> dict:
    """``metrics.json``'s ``dataset``: name, train_shape, test_shape, image_shape, options
    (how a file was read and split), file_sha256 (the file's bytes; None for a named
    dataset)."""
    options = getattr(data, "options", None)
    return {
        "name": data.name,
        "train_shape": list(data.X_train.shape),
        "test_shape": list(data.X_test.shape),
        "image_shape": list(data.image_shape) if data.image_shape else None,
        "options": options,
        "file_sha256": file_sha256(data.name) if options is not None
        and Path(data.name).is_file() else None,
    }


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 of a file's bytes: which data a run was trained on, however its path is
    spelled (cheap beside a fit: one read, no parsing)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def option_differences(trained: dict, given: dict) -> list[str]:
    """The options of ``given`` whose values differ from ``trained`` (both
    :attr:`Dataset.options`-like dicts), as ``name=trained value (now given value)``."""
    return [f"{key}={trained.get(key)!r} (now {value!r})" for key, value in given.items()
            if trained.get(key) != value]


def trained_on_file(saved: dict, path: str | os.PathLike, checksum: str | None = None
                    ) -> bool:
    """Whether the file ``path`` is the data file a run was trained on, ``saved`` being the
    run's ``metrics.json`` ``dataset`` entry; the one rule of every command that asks
    (``compare`` and ``report`` keep the run's split for it, ``train --resume`` finds a
    complete run of it finished).

    The same bytes are the same file, however its path is spelled (the file's SHA-256
    against the run's ``file_sha256``; ``checksum``: the file's, when computed already).
    A run of an older aekit kept no checksum: its file is then the one at the path it
    recorded (its ``name``, resolved from the current directory), the content unchecked,
    so that such a run keeps its split and its finished state for the path it names. A
    run of a named dataset (no read ``options``) was trained on no file.
    """
    if not _of_a_file(saved) or not Path(path).is_file():
        return False
    if saved.get("file_sha256"):
        return (checksum or file_sha256(path)) == saved["file_sha256"]
    return Path(str(saved.get("name"))).resolve() == Path(path).resolve()


def _of_a_file(saved: dict) -> bool:
    """Whether a ``metrics.json`` ``dataset`` entry is a file's (read with options)."""
    return isinstance(saved.get("options"), dict)


def data_differences(run: str | os.PathLike, data: Dataset) -> list[str]:
    """How ``data`` differs from the dataset the run in ``run`` was trained on (its
    ``metrics.json``'s ``dataset``), one text per difference; empty when it is the same.

    Compared: the dataset's name (a named dataset) or the file (:func:`trained_on_file`:
    its bytes, however its path is spelled), the options it was read and split with, and,
    when neither differs, the shapes of its splits (a named dataset's ``rows``).
    """
    saved = (_json(Path(run) / METRICS) or {}).get("dataset")
    saved = saved if isinstance(saved, dict) else {}
    current = _dataset_info(data)
    out = []
    if current["file_sha256"] is None or not _of_a_file(saved):  # a named dataset, at least
        if saved.get("name") != current["name"]:
            out.append(f"the dataset ({saved.get('name')!r}, now {current['name']!r})")
    elif not trained_on_file(saved, current["name"], current["file_sha256"]):
        out.append(f"the content of {current['name']} (its SHA-256)" if saved.get(
            "file_sha256") else f"the file ({saved.get('name')!r}, now {current['name']!r}; "
            "the run, of an older aekit, keeps no checksum: only its path compares)")
    if current["options"] is not None and _of_a_file(saved):
        out += option_differences(saved["options"], current["options"])
    if not out:
        out = [f"{key}={saved.get(key)!r} (now {current[key]!r})"
               for key in ("train_shape", "test_shape", "image_shape")
               if saved.get(key) != current[key]]
    return out


def write_run(out: str | os.PathLike, estimator, metrics: dict | None) -> Path:
    """Write the model, ``metrics.json`` (with the model's checksum) and ``loss.png`` into
    ``out``, each atomically; the files derived from the previous model (metrics, plot,
    ``report.html``, a detector's ``scores.csv``) are removed first.

    ``metrics=None`` writes the model and its loss plot only (a fit stopped by a signal).
    """
    out = check_out_dir(out)  # only a run directory's files are removed or replaced
    out.mkdir(parents=True, exist_ok=True)
    derived = (METRICS, LOSS_PLOT, REPORT, SCORES)
    remove_stale_temps(out, derived)
    for stale in derived:  # never beside another model than their own
        (out / stale).unlink(missing_ok=True)
    estimator.save(out)
    if metrics is not None:
        metrics = {**metrics, "model_sha256": model_checksum(out)}
        # A number that could not be measured (NaN) is null: JSON has no NaN.
        atomic_write(out / METRICS, json.dumps(json_ready(metrics), indent=2,
                                               allow_nan=False) + "\n")
    png = io.BytesIO()
    loss_curves(estimator.history_).savefig(png, format="png", dpi=100)
    atomic_write(out / LOSS_PLOT, png.getvalue())
    return out


def read_metrics(run: str | os.PathLike) -> dict | None:
    """``metrics.json`` of a run directory, or None when it has none (a bare saved model)
    or one that is not a JSON object.

    Raises
    ------
    ValueError
        When the metrics name another model than the one in ``run`` (a run stopped after
        its model was written, by an older aekit, or files copied between runs).
    """
    path = Path(run) / METRICS
    if not path.is_file():
        return None
    try:
        metrics = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    if not isinstance(metrics, dict):
        return None
    saved = metrics.get("model_sha256")
    if saved is not None and saved != model_checksum(run):
        raise ValueError(
            f"{path} describes another model than the one in {run} (field 'model_sha256' "
            "differs from the model's checksum): the run was stopped between the two. "
            f"Finish it (aekit train ... --out {run} --resume) or remove {path}."
        )
    return metrics


def is_complete(run: str | os.PathLike) -> bool:
    """Whether ``run`` holds a model and the metrics written for it."""
    try:
        metrics = read_metrics(run)
    except ValueError:
        return False
    return metrics is not None and metrics.get("model_sha256") == model_checksum(run) \
        and model_checksum(run) is not None


def finished_by(run: str | os.PathLike, estimator) -> bool:
    """Whether the model in ``run`` was fitted with ``estimator``'s parameters (all but
    where it writes and how much it prints): the run a command with them would write,
    finished, when it was fitted on the same data too (:func:`data_differences`). Reads
    config.json only."""
    config = _json(Path(run) / CONFIG)
    if config is None or config.get("class") != type(estimator).__name__:
        return False
    ignored = (*LOCATION_PARAMS, "verbose")
    saved = {k: v for k, v in (config.get("params") or {}).items() if k not in ignored}
    params = jsonable({k: v for k, v in estimator.get_params(deep=False).items()
                       if k not in ignored})
    return saved == params


def _json(path: Path) -> dict | None:
    try:
        value = json.loads(read_regular(path).decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


# --------------------------------------------------------------------------- detectors
def _scores_csv(detector, X, row_labels, n_features: int, header: bool) -> str:
    """The lines of :func:`write_scores` for the rows ``X`` (and the header line)."""
    scores = -detector.score_samples(X)
    labels = np.where(scores > detector.threshold_, -1, 1)
    names, shares = detector.top_features(X, n_features)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    if header:
        writer.writerow(["row", "anomaly_score", "label"] + [
            f"{k}_{j + 1}" for j in range(names.shape[1]) for k in ("feature", "share")])
    for i, row in enumerate(row_labels):
        tops = [v for j in range(names.shape[1]) for v in (names[i, j], f"{shares[i, j]:.4f}")]
        writer.writerow([row, f"{scores[i]:.9g}", int(labels[i]), *tops])
    return buf.getvalue()


def write_scores(path: str | os.PathLike, detector, X, *, row_labels=None,
                 n_features: int = 3) -> Path:
    """Write each row's anomaly score, verdict and top columns to a CSV file, atomically.

    Columns: ``row`` (``row_labels``, a DataFrame's index, else 0, 1, ...),
    ``anomaly_score`` (``-score_samples``: higher is more anomalous), ``label`` (``predict``:
    -1 outlier, 1 inlier), then ``feature_1``, ``share_1``, ... (the columns with the
    largest part in the row's reconstruction error, and that part's share of it).
    ``X`` may be a file or memmap (:func:`aekit.data.open_rows`) or a
    :class:`~aekit.anomaly.streaming.TextRows`: it is then scored and written one chunk at a
    time (rows numbered 0, 1, ... in file order).
    """
    from .anomaly.streaming import is_chunked, iter_chunks

    if not is_chunked(X):
        if row_labels is None:
            row_labels = X.index if hasattr(X, "index") else range(len(X))
        return atomic_write(path, _scores_csv(detector, X, row_labels, n_features, True))
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8", newline="") as f:
        for start, rows in iter_chunks(X, detector):
            numbers = range(start, start + len(rows))
            f.write(_scores_csv(detector, rows, numbers, n_features, start == 0))
    return Path(path)


def fit_detector_run(detector, X, out: str | os.PathLike, *, name: str, anomaly=None,
                     n_features: int = 3) -> Run:
    """Fit ``detector`` (an :class:`~aekit.OutlierDetector`) on the rows of ``X``, score
    them and write the run to ``out`` (see the module's notes).

    ``anomaly`` (labels per row as :func:`aekit.anomaly.metrics.anomaly_labels` reads them:
    booleans, True an anomaly, or 0/1, +1/-1), when given, is used for ``metrics.json``'s
    ``labels`` only: never in the fit. The run's ``comparison`` is None.
    """
    out = check_out_dir(out)
    start = time.perf_counter()
    detector.fit(X)
    seconds = time.perf_counter() - start
    scores = -detector.score_samples(X)  # a file's: one chunk in memory at a time
    flagged = int((scores > detector.threshold_).sum())
    metrics = {
        "dataset": {"name": name, "shape": [len(scores), detector.n_features_in_]},
        "fit_seconds": seconds,
        "n_iter": detector.n_iter_,
        "threshold": detector.threshold_,
        "n_flagged": flagged,
        "share_flagged": flagged / len(scores),
        "aekit_version": __version__,
    }
    if anomaly is not None:
        anomaly = anomaly_labels(anomaly)  # not a cast to bool: +1/-1 would all be True
        metrics["labels"] = {"n_anomalies": int(anomaly.sum()),
                             **detection_metrics(anomaly, scores)}
    write_run(out, detector, metrics)
    write_scores(out / SCORES, detector, X, n_features=n_features)
    return Run(out, detector, None, metrics)
