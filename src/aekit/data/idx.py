"""MNIST and Fashion-MNIST: their IDX files, found locally (``data_home``, ``$AEKIT_DATA``,
``~/.cache/aekit``, the Debian package ``dataset-fashion-mnist``) or downloaded once with a
SHA-256 check, and read into NumPy arrays. Both datasets name their files alike, so a folder
is also told apart by its first training labels: one never loads as the other.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import urllib.error
import urllib.request
import zlib
from pathlib import Path

import numpy as np

from ..core.storage import atomic_path

_IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}

_BASE_URLS = {
    "fashion-mnist": "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    # The torchvision mirror: Yann LeCun's site now often refuses scripted downloads.
    "mnist": "https://ossci-datasets.s3.amazonaws.com/mnist/",
}

_URL_ENV = {"fashion-mnist": "AEKIT_FASHION_MNIST_URL", "mnist": "AEKIT_MNIST_URL"}

# SHA-256 of the downloaded .gz files (module-level so that tests can patch it).
# Both sets are the values that tensorflow-datasets publishes in url_checksums/fashion_mnist.txt
# and url_checksums/mnist.txt (with the sizes 26421880, 29515, 4422102, 5148 and 9912422, 28881,
# 1648877, 4542 bytes).
# - Fashion-MNIST: checked independently against the Debian package's files. Debian re-wrote
#   the gzip headers (no file name, a 2020 mtime), so its .gz files differ from the originals by
#   exactly that header; with the original header restored (file name, mtime of 2017-08-31)
#   each one reproduces both the MD5 published in Fashion-MNIST's README and this SHA-256.
# - MNIST: tensorflow-datasets lists these for its storage.googleapis.com/cvdf-datasets mirror,
#   which serves Yann LeCun's original files, as does the ossci mirror used here (same sizes;
#   torchvision checks that mirror against the originals' MD5s). Not re-hashed here: no copy of
#   MNIST can be had offline.
_SHA256 = {
    "fashion-mnist": {
        "train-images-idx3-ubyte.gz": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
        "train-labels-idx1-ubyte.gz": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
        "t10k-images-idx3-ubyte.gz": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
        "t10k-labels-idx1-ubyte.gz": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
    },
    "mnist": {
        "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    },
}

# Where Debian's dataset-fashion-mnist puts the four .gz files (gzip headers rewritten, contents
# identical). There is no Debian package for MNIST.
_SYSTEM_DIRS = {
    "fashion-mnist": (Path("/usr/share/datasets/fashion-mnist"),),
    "mnist": (),
}

_PRETTY = {"fashion-mnist": "Fashion-MNIST", "mnist": "MNIST"}

# The first ten training labels of each dataset: both use the same file names, so a folder
# holding the four files directly could be either one. The labels identify them whatever the
# gzip header (Debian's re-written .gz files hash differently from the originals, and no copy of
# MNIST can be had offline to hash its decompressed labels).
_FIRST_TRAIN_LABELS = {
    "fashion-mnist": bytes([9, 0, 0, 3, 0, 2, 7, 2, 5, 5]),
    "mnist": bytes([5, 0, 4, 1, 9, 2, 1, 3, 1, 4]),
}

# IDX type codes -> big-endian dtypes (http://yann.lecun.com/exdb/mnist/, "THE IDX FILE FORMAT").
_IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def read_idx(path):
    """Read one IDX file (gzip-compressed or not) into an array.

    Parameters
    ----------
    path : str or path-like
        An IDX file such as ``train-images-idx3-ubyte.gz``; compression is detected from the
        content, not the name.

    Returns
    -------
    array : ndarray of shape given by the file's header
        For instance (60000, 28, 28) uint8 for MNIST training images, (60000,) for its labels.
        Multi-byte types are converted to native byte order.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is not valid IDX: bad magic number, unknown type code, or a data section
        whose length does not match the dimensions (a truncated or corrupt file). The message
        names the file.
    """
    path = Path(path)
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as err:
            # EOFError: gzip stream cut short (interrupted download); OSError/zlib.error: garbage.
            raise ValueError(f"{path}: corrupt or truncated gzip file ({err}); "
                             "delete it and download it again") from err
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{path}: not an IDX file (bad magic number {raw[:4].hex() or 'empty'})")
    type_code, ndim = raw[2], raw[3]
    if type_code not in _IDX_DTYPES:
        raise ValueError(f"{path}: unknown IDX type code 0x{type_code:02x}")
    if ndim == 0:
        raise ValueError(f"{path}: IDX header declares zero dimensions")
    header_len = 4 + 4 * ndim
    if len(raw) < header_len:
        raise ValueError(f"{path}: truncated IDX header ({len(raw)} bytes, expected {header_len})")
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = _IDX_DTYPES[type_code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    actual = len(raw) - header_len
    if actual != expected:
        what = "truncated" if actual < expected else "has trailing bytes"
        raise ValueError(f"{path}: IDX data {what}: header declares shape {shape} "
                         f"({expected} bytes) but the file holds {actual} bytes")
    data = np.frombuffer(raw, dtype=dtype, offset=header_len).reshape(shape)
    # frombuffer gives a read-only view of `raw`; a native-order copy is writable and fast to use.
    return data.astype(dtype.newbyteorder("="))


def _find_file(directory, stem):
    """Path of ``stem.gz`` or ``stem`` (uncompressed) in ``directory``, or None."""
    for candidate in (directory / f"{stem}.gz", directory / stem):
        if candidate.is_file():
            return candidate
    return None


def _candidate_dirs(name, data_home):
    """Folders to search, in order of precedence, without duplicates."""
    # The '<name>' subfolder first: a flat folder may hold the other dataset's files.
    dirs = []
    if data_home is not None:
        dirs += [Path(data_home) / name, Path(data_home)]
    env = os.environ.get("AEKIT_DATA")
    if env:
        dirs += [Path(env) / name, Path(env)]
    dirs.append(Path.home() / ".cache" / "aekit" / name)
    dirs += list(_SYSTEM_DIRS.get(name, ()))
    unique = []
    for d in dirs:
        if d not in unique:
            unique.append(d)
    return unique


def _identify(labels_path):
    """Which dataset's training labels ``labels_path`` holds, or None if neither's.

    Unreadable files give None too: reading them later raises the error that names the problem.
    """
    try:
        opener = gzip.open if labels_path.suffix == ".gz" else open
        with opener(labels_path, "rb") as f:
            head = f.read(8 + 10)
    except (OSError, EOFError, zlib.error):
        return None
    for name, first in _FIRST_TRAIN_LABELS.items():
        if head[8:] == first:
            return name
    return None


def _download_dir(name, data_home):
    # Downloads go to a per-dataset subfolder: MNIST and Fashion-MNIST use the same file names.
    if data_home is not None:
        return Path(data_home) / name
    env = os.environ.get("AEKIT_DATA")
    if env:
        return Path(env) / name
    return Path.home() / ".cache" / "aekit" / name


def _download(url, dest, expected_sha256):
    """Download ``url`` to ``dest`` atomically, verifying its SHA-256.

    The bytes go to a temporary file in the same folder, are hashed on the way, and the file is
    renamed into place only when the hash matches, so ``dest`` is never a partial or wrong file.
    """
    with atomic_path(dest) as tmp:  # removed again if anything below raises
        digest = hashlib.sha256()
        with open(tmp, "wb") as out, urllib.request.urlopen(url, timeout=60) as response:
            while chunk := response.read(1 << 20):
                digest.update(chunk)
                out.write(chunk)
        actual = digest.hexdigest()
        if actual != expected_sha256:
            raise ValueError(f"checksum mismatch for {dest.name} downloaded from {url}: "
                             f"expected SHA-256 {expected_sha256}, got {actual}; "
                             "the file was deleted")


def fetch_idx_files(name, *, data_home=None, download=True, base_url=None):
    """Locate (and if needed download) the four IDX files of MNIST or Fashion-MNIST.

    Folders are searched in this order; the first holding all four files wins:

    1. ``data_home/<name>`` and ``data_home``, if given;
    2. ``$AEKIT_DATA/<name>`` and ``$AEKIT_DATA``, if set;
    3. ``~/.cache/aekit/<name>``;
    4. ``/usr/share/datasets/fashion-mnist`` (Fashion-MNIST only; Debian package
       ``dataset-fashion-mnist``).

    Each file may be gzip-compressed (``train-images-idx3-ubyte.gz``) or not
    (``train-images-idx3-ubyte``). MNIST and Fashion-MNIST use the same file names, so a folder
    whose training labels are the other dataset's is skipped (its first ten labels tell them
    apart). Local files are otherwise trusted as they are (their structure is still checked when
    read); only downloads are verified against SHA-256 checksums.

    Parameters
    ----------
    name : {"fashion-mnist", "mnist"}
        Which dataset.
    data_home : str or path-like, optional
        Folder to look in first, and to download into (``data_home/<name>``) when given.
    download : bool, default=True
        Download the missing files when no folder holds all four: into ``data_home/<name>``
        when ``data_home`` is given, else ``$AEKIT_DATA/<name>`` if that variable is set,
        else ``~/.cache/aekit/<name>``.
    base_url : str, optional
        Where to download from. Defaults to ``$AEKIT_MNIST_URL`` / ``$AEKIT_FASHION_MNIST_URL``
        if set, else the official location.

    Returns
    -------
    paths : dict of str to Path
        Keys ``"train_images"``, ``"train_labels"``, ``"test_images"``, ``"test_labels"``.

    Raises
    ------
    FileNotFoundError
        If no folder holds the files and downloading is off or failed; the message lists every
        folder searched and how to fix it.
    ValueError
        If a downloaded file does not match its checksum (nothing is left on disk), or ``name``
        is unknown.
    """
    if name not in _BASE_URLS:
        raise ValueError(f"unknown IDX dataset {name!r}; expected one of {sorted(_BASE_URLS)}")
    searched = _candidate_dirs(name, data_home)
    wrong = []  # folders holding the other dataset's files
    for directory in searched:
        found = {role: _find_file(directory, stem) for role, stem in _IDX_FILES.items()}
        if all(found.values()):
            other = _identify(found["train_labels"])
            if other is None or other == name:
                return found
            wrong.append(f"{directory} holds {_PRETTY[other]}, not {_PRETTY[name]}; "
                         f"put each dataset in its own subfolder ('{other}', '{name}')")

    download_error = None
    if download:
        url = base_url or os.environ.get(_URL_ENV[name]) or _BASE_URLS[name]
        url = url.rstrip("/") + "/"
        dest_dir = _download_dir(name, data_home)
        fresh = [d for d in (dest_dir, *dest_dir.parents) if not d.exists()]  # leaf first
        try:
            for stem in _IDX_FILES.values():
                filename = f"{stem}.gz"
                # Files a previous, interrupted call already verified are not fetched again.
                if not (dest_dir / filename).is_file():
                    _download(url + filename, dest_dir / filename, _SHA256[name][filename])
            return {role: dest_dir / f"{stem}.gz" for role, stem in _IDX_FILES.items()}
        except (urllib.error.URLError, OSError) as err:
            download_error = f"downloading from {url} failed: {err}"
            for folder in fresh:  # the folders made for the download, if it left them empty
                try:
                    folder.rmdir()
                except OSError:
                    break

    message = _not_found_message(name, searched, download, download_error)
    raise FileNotFoundError("\n".join([message, *wrong]))



def _not_found_message(name, searched, download, download_error):
    pretty = _PRETTY[name]
    files = ", ".join(f"{stem}.gz" for stem in _IDX_FILES.values())
    lines = [f"{pretty} not found. Looked for {files} (or the same names without .gz) in:"]
    lines += [f"  - {d}" for d in searched]
    if download_error:
        lines.append(download_error)
    elif not download:
        lines.append("Downloading was off (download=False).")
    lines.append("To fix it, do one of:")
    if name == "fashion-mnist":
        lines.append("  - install the Debian package: apt-get install -y dataset-fashion-mnist")
    lines.append("  - put the four files in a folder and set AEKIT_DATA to it "
                 f"(or to its parent, with the files in a '{name}' subfolder), "
                 "or pass data_home=")
    retry = "retry the download" if download_error else "allow the download (download=True)"
    lines.append(f"  - {retry}, or set {_URL_ENV[name]} to a mirror")
    return "\n".join(lines)


def _load_split(paths, prefix):
    images = read_idx(paths[f"{prefix}_images"])
    labels = read_idx(paths[f"{prefix}_labels"])
    if images.ndim != 3:
        raise ValueError(f"{paths[f'{prefix}_images']}: expected images of shape "
                         f"(n, height, width), got {images.shape}")
    if labels.ndim != 1 or len(labels) != len(images):
        raise ValueError(f"{paths[f'{prefix}_labels']}: expected {len(images)} labels to match "
                         f"the images, got shape {labels.shape}")
    X = images.astype(np.float32)
    X /= 255.0  # in place: the training set is 188 MB as float32, no need for a second copy
    return X, labels.astype(np.int64)


def _load_idx_dataset(name, *, split, subset, data_home, download, flatten):
    if subset not in ("train", "test", "all"):
        raise ValueError(f"subset must be 'train', 'test' or 'all', got {subset!r}")
    paths = fetch_idx_files(name, data_home=data_home, download=download)

    def shaped(X):
        return X.reshape(len(X), -1) if flatten else X

    if split or subset == "all":
        X_train, y_train = _load_split(paths, "train")
        X_test, y_test = _load_split(paths, "test")
        if split:
            return shaped(X_train), shaped(X_test), y_train, y_test
        return shaped(np.concatenate([X_train, X_test])), np.concatenate([y_train, y_test])
    X, y = _load_split(paths, subset)
    return shaped(X), y


_IDX_LOADER_DOC = """Load {pretty} (70,000 28x28 grayscale images, 10 classes), scaled to [0, 1].

    The files are found locally or downloaded once; see :func:`fetch_idx_files` for where they
    are looked for{extra}.

    Parameters
    ----------
    split : bool, default=False
        If True, return the official split ``X_train, X_test, y_train, y_test`` (60,000 and
        10,000 images); ``subset`` is then ignored.
    subset : {{"train", "test", "all"}}, default="train"
        Which part to return when ``split=False``; "all" is train followed by test.
    data_home : str or path-like, optional
        Folder to look in first (the files directly, or in a ``{name}`` subfolder) and to
        download into.
    download : bool, default=True
        Download the files (with SHA-256 verification) when no local copy is found.
    flatten : bool, default=True
        Return images as rows of 784 features instead of 28x28 arrays.

    Returns
    -------
    X : ndarray of shape (n_samples, 784) or (n_samples, 28, 28), dtype float32
        Pixel intensities divided by 255.
    y : ndarray of shape (n_samples,), dtype int64
        Class labels 0..9.

    When ``split=True``: ``X_train, X_test, y_train, y_test``.

    Raises
    ------
    FileNotFoundError
        If the files are not found and cannot be downloaded; the message says where it looked
        and how to fix it.
    ValueError
        If a file is corrupt or truncated (the message names it), or a download fails its
        checksum.
    """


def load_fashion_mnist(*, split=False, subset="train", data_home=None, download=True,
                       flatten=True):
    return _load_idx_dataset("fashion-mnist", split=split, subset=subset, data_home=data_home,
                             download=download, flatten=flatten)


def load_mnist(*, split=False, subset="train", data_home=None, download=True, flatten=True):
    return _load_idx_dataset("mnist", split=split, subset=subset, data_home=data_home,
                             download=download, flatten=flatten)


load_fashion_mnist.__doc__ = _IDX_LOADER_DOC.format(
    pretty="Fashion-MNIST", name="fashion-mnist",
    extra=", including the Debian package ``dataset-fashion-mnist``")
load_mnist.__doc__ = _IDX_LOADER_DOC.format(pretty="MNIST", name="mnist", extra="")
