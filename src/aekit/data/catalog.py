"""Named datasets: scikit-learn's embedded digits, MNIST and Fashion-MNIST, and
:func:`load_dataset`, the one entry point by name or path that the command line uses.

- ``load_digits``: scikit-learn's embedded 8x8 digits, no download.
- ``load_fashion_mnist`` / ``load_mnist``: re-exported from :mod:`aekit.data.idx` (where
  their files are found or downloaded).
- ``load_dataset``: a name or a file (read by :mod:`aekit.data.files`), split in two.

Everything here returns plain NumPy arrays (features as float32 or float64, labels as int64)
so the estimators never need to know where data came from.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state

from .delimited import COMPRESSIONS, _read_table, is_table_file, warn_if_row_index
from .files import FILE_SUFFIXES, read_array
from .idx import fetch_idx_files, load_fashion_mnist, load_mnist, read_idx  # noqa: F401

# --------------------------------------------------------------------------------------------
# Embedded digits
# --------------------------------------------------------------------------------------------


def load_digits(*, split=False, test_size=0.25, random_state=0):
    """Load scikit-learn's embedded handwritten digits, scaled to [0, 1].

    The data ships inside scikit-learn, so this never touches the network: it is the dataset
    for demos and quick tests.

    Parameters
    ----------
    split : bool, default=False
        If True, return a stratified train/test split instead of the whole set.
    test_size : float or int, default=0.25
        Passed to :func:`sklearn.model_selection.train_test_split` when ``split=True``.
    random_state : int, RandomState instance or None, default=0
        Seed of the split; the default makes the split the same on every call.

    Returns
    -------
    X : ndarray of shape (1797, 64), dtype float32
        Pixel intensities in [0, 1] (the raw 0..16 counts divided by 16); each row is an 8x8 image.
    y : ndarray of shape (1797,), dtype int64
        Digit labels 0..9.

    When ``split=True``: ``X_train, X_test, y_train, y_test`` with shapes
    (n_train, 64), (n_test, 64), (n_train,), (n_test,).
    """
    from sklearn.datasets import load_digits as _sk_load_digits

    X, y = _sk_load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    y = y.astype(np.int64)
    if not split:
        return X, y
    # Stratified so that every class keeps its share in both halves, even for small test sizes.
    return train_test_split(X, y, test_size=test_size, random_state=random_state, stratify=y)


# --------------------------------------------------------------------------------------------
# One entry point for the command line
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dataset:
    """A dataset split for training and evaluation, as :func:`load_dataset` returns it.

    Attributes
    ----------
    X_train : ndarray or DataFrame of shape (n_train, n_features)
        A DataFrame for text files (numeric and text columns as read).
    X_test : ndarray or DataFrame of shape (n_test, n_features)
    y_train : ndarray of shape (n_train,) or None
    y_test : ndarray of shape (n_test,) or None
    feature_names : list of str or None
        Column names (from a text file's header, or its column numbers), if any.
    image_shape : tuple of int or None
        (height, width) when each row is a flattened image, e.g. (8, 8) for digits.
    name : str
        The dataset's name, or the file's path.
    options : dict or None
        How a file was read and split: :func:`load_dataset`'s ``label``, ``drop``,
        ``rows``, ``header``, ``sep`` and ``test_size`` (what reads it again the same way);
        None for a named dataset.
    target_names : list of str or None
        The name of each label value ``0, 1, ...`` when the labels are codes (Fashion-MNIST:
        ``"T-shirt/top"``, ...); None when the labels name themselves (digits).
    """

    X_train: np.ndarray
    X_test: np.ndarray
    y_train: np.ndarray | None
    y_test: np.ndarray | None
    feature_names: list[str] | None
    image_shape: tuple[int, ...] | None
    name: str
    options: dict | None = None
    target_names: list[str] | None = None


FASHION_MNIST_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
                         "Shirt", "Sneaker", "Bag", "Ankle boot"]
"""The names of Fashion-MNIST's labels 0..9 (Xiao, Rasul & Vollgraf 2017)."""


DATASET_NAMES = ("digits", "fashion-mnist", "mnist")

TEST_SIZE = 0.2
"""The share of a file's rows :func:`load_dataset` holds out as its test split by default."""

NSL_KDD_COLUMNS = (
    "duration", "protocol_type", "service", "flag", "src_bytes", "dst_bytes", "land",
    "wrong_fragment", "urgent", "hot", "num_failed_logins", "logged_in", "num_compromised",
    "root_shell", "su_attempted", "num_root", "num_file_creations", "num_shells",
    "num_access_files", "num_outbound_cmds", "is_host_login", "is_guest_login", "count",
    "srv_count", "serror_rate", "srv_serror_rate", "rerror_rate", "srv_rerror_rate",
    "same_srv_rate", "diff_srv_rate", "srv_diff_host_rate", "dst_host_count",
    "dst_host_srv_count", "dst_host_same_srv_rate", "dst_host_diff_srv_rate",
    "dst_host_same_src_port_rate", "dst_host_srv_diff_host_rate", "dst_host_serror_rate",
    "dst_host_srv_serror_rate", "dst_host_rerror_rate", "dst_host_srv_rerror_rate", "label",
    "difficulty",
)
"""The 43 columns of the NSL-KDD files (``KDDTrain+.txt``, ``KDDTest+.txt``, ...), which have
no header: 41 features (``protocol_type``, ``service`` and ``flag`` are text), the label
(``normal`` or an attack's name) and the difficulty level. Read one with
``read_table(path, header=False).set_axis(NSL_KDD_COLUMNS, axis=1)``."""


def load_dataset(spec, *, test_size=TEST_SIZE, random_state=0, label=None, drop=(), rows=None,
                 header="infer", sep=None):
    """Load a named dataset or a file, split into train and test.

    Parameters
    ----------
    spec : str or path-like
        ``"digits"``, ``"fashion-mnist"``, ``"mnist"``, or a path to a ``.npy``, ``.npz``,
        ``.csv``, ``.tsv`` or ``.txt`` file (text files are read by
        :func:`aekit.data.read_table`: header and delimiter detected).
    test_size : float or int, default=0.2
        Test fraction (or count) for files. Named datasets keep their standard split
        (digits: the one :func:`load_digits` gives with ``split=True``; MNIST and
        Fashion-MNIST: the official 60,000/10,000), so results compare across runs and
        papers: another value for them is an error.
    random_state : int, RandomState instance or None, default=0
        Seed of the split of files (and of ``rows``).
    label : str, optional
        A text file's column that holds labels: kept out of ``X``, given as ``y``.
    drop : str or sequence of str, default=()
        A text file's columns to leave out (ids, targets, leaks); a str is one column.
    rows : int, optional
        Use a random subset of this many rows of a file (all when it has fewer), split
        as the whole file would be; of a named dataset, this many rows of its training
        split (its standard test split stays whole, so results compare with the full
        data's).
    header : {"infer", True, False}, default="infer"
        Whether a text file's first row names its columns (see :func:`read_table`).
    sep : str, optional
        A text file's delimiter; default: detected.

    Returns
    -------
    dataset : Dataset
        Features as 2-D arrays, or for text files as DataFrames (their columns as read,
        numbers and text; the index is each row's line in the file). A file holding a 3-D
        array (n_samples, height, width) is flattened to rows and its ``image_shape`` set to
        (height, width); otherwise ``image_shape`` is None for files.

    Raises
    ------
    ValueError
        If ``spec`` is neither a known name nor a path with a supported extension, or
        ``label`` / ``drop`` name columns the file does not have.
    FileNotFoundError
        If the file does not exist, or MNIST-like data can be neither found nor downloaded.
    """
    key = str(spec).strip().lower().replace("_", "-")
    drop = [drop] if isinstance(drop, str) else list(drop)  # a str is one name, not letters
    if key in DATASET_NAMES and (given := _text_options(label, drop, header, sep)):
        raise ValueError(f"{given} to files, not to the {key} dataset; leave them out")
    if key in DATASET_NAMES and test_size != TEST_SIZE:
        raise ValueError(f"test_size={test_size!r} applies to files; the {key} dataset keeps "
                         f"its standard train/test split (leave test_size at {TEST_SIZE}).")
    if key == "digits":
        X_train, X_test, y_train, y_test = load_digits(split=True)
        dataset = Dataset(X_train, X_test, y_train, y_test, None, (8, 8), "digits")
        return subsample(dataset, rows, random_state=random_state)
    if key in ("fashion-mnist", "mnist"):
        loader = load_fashion_mnist if key == "fashion-mnist" else load_mnist
        X_train, X_test, y_train, y_test = loader(split=True)
        names = FASHION_MNIST_CLASSES if key == "fashion-mnist" else None
        dataset = Dataset(X_train, X_test, y_train, y_test, None, (28, 28), key,
                          target_names=names)
        return subsample(dataset, rows, random_state=random_state)

    path = Path(spec)
    if path.suffix.lower() not in FILE_SUFFIXES and not is_table_file(path):
        raise ValueError(f"unknown dataset {str(spec)!r}: expected one of "
                         f"{', '.join(DATASET_NAMES)}, or a path to a "
                         f"{', '.join(FILE_SUFFIXES)} file (text files may be "
                         f"compressed: {', '.join(COMPRESSIONS)})")
    X, y, feature_names, image_shape = read_rows(path, label=label, drop=drop, header=header,
                                                 sep=sep)
    if y is not None and len(y) != len(X):
        raise ValueError(f"{path}: 'y' has {len(y)} entries but 'X' has {len(X)} rows")
    if rows is not None:
        if rows < 2:
            raise ValueError(f"rows={rows}: need at least 2 rows to split")
        if rows < len(X):
            keep = np.sort(check_random_state(random_state).choice(len(X), rows, replace=False))
            X = X.iloc[keep] if hasattr(X, "iloc") else X[keep]
            y = None if y is None else y[keep]
    if y is None:
        X_train, X_test = train_test_split(X, test_size=test_size, random_state=random_state)
        y_train = y_test = None
    else:
        X_train, X_test, y_train, y_test = train_test_split(
            X, y, test_size=test_size, random_state=random_state)
    # How the file was read and split: `compare` and `report` read it the same way.
    options = {"label": label, "drop": list(drop), "rows": rows, "header": header,
               "sep": sep, "test_size": test_size}
    return Dataset(X_train, X_test, y_train, y_test, feature_names, image_shape, str(path),
                   options)


def read_rows(path, *, label=None, drop=(), header="infer", sep=None, warn_index=True):
    """``(X, y, feature names, image shape)``: every row of a file, not split (see
    :func:`load_dataset` for the file types and the parameters; ``y`` is the ``label``
    column of a text file or an ``.npz`` file's ``y``, else None). ``warn_index``: warn of
    a column of ``X`` that holds pandas' row index
    (:func:`~aekit.data.delimited.warn_if_row_index`); False for rows given to a fitted
    model, which takes the columns it was fitted on."""
    path, drop = Path(path), [drop] if isinstance(drop, str) else list(drop)
    if is_table_file(path):
        X, y, names = _table_columns(_read_table(path, header, sep), path, label, drop)
        if warn_index:  # of the columns kept: a dropped one is no feature
            warn_if_row_index(path, X)
        return X, y, names, None
    if given := _text_options(label, drop, header, sep):
        raise ValueError(f"{path}: {given} to text files (.csv, .tsv, .txt) only; "
                         "leave them out (a .npz file gives its labels as 'y')")
    X, y, feature_names = read_array(path)
    if X.ndim == 3:
        return X.reshape(len(X), -1), y, feature_names, tuple(X.shape[1:])
    if X.ndim != 2:
        raise ValueError(f"{path}: expected a 2-D array (n_samples, n_features) or 3-D "
                         f"images (n_samples, height, width), got shape {X.shape}")
    return X, y, feature_names, None


def _text_options(label, drop, header, sep) -> str:
    """The text-file options given away from their defaults, as ``"label, sep apply"``
    (``"sep applies"``), or ``""``."""
    given = {"label": label is not None, "drop": drop, "header": header != "infer",
             "sep": sep is not None}
    names = [name for name, on in given.items() if on]
    return f"{', '.join(names)} appl{'y' if len(names) > 1 else 'ies'}" if names else ""


def _table_columns(frame, path, label, drop):
    """``(X, y, feature names)`` of a table read from ``path``, ``label`` and ``drop``
    taken out."""
    names = list(frame.columns)
    asked = ([label] if label is not None else []) + list(drop)
    unknown = [c for c in asked if c not in names]
    if unknown:
        shown = ", ".join(names[:12]) + (", ..." if len(names) > 12 else "")
        raise ValueError(f"{path}: no column named {', '.join(map(repr, unknown))}; its "
                         f"columns are {shown}" + (" (numbered from 1: the file has no "
                                                   "header)" if names[0] == "1" else ""))
    if label is not None and label in drop:
        raise ValueError(f"column {label!r} is both the label and dropped; pick one")
    y = frame[label].to_numpy() if label is not None else None
    X = frame.drop(columns=[c for c in asked])
    if not X.shape[1]:
        raise ValueError(f"{path}: no columns left to train on after label and drop")
    return X, y, list(X.columns)


def subsample(dataset: Dataset, n_rows: int | None, *, random_state=0) -> Dataset:
    """``dataset`` with at most ``n_rows`` training rows: the first ``n_rows`` of a fixed
    shuffle (the same rows for the same ``random_state``); the test split is kept whole, so
    results compare with those of the full data. ``None``: the dataset unchanged.

    What :func:`load_dataset` does with ``rows`` for a named dataset.
    """
    if n_rows is None or n_rows >= len(dataset.X_train):
        return dataset
    if n_rows < 1:
        raise ValueError(f"rows={n_rows}: need at least 1 training row")
    rows = np.sort(np.random.RandomState(random_state).permutation(len(dataset.X_train))[:n_rows])
    y_train = dataset.y_train[rows] if dataset.y_train is not None else None
    return replace(dataset, X_train=dataset.X_train[rows], y_train=y_train)
