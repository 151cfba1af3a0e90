"""Input checks, devices and seeds shared by every estimator; parameter constraint types.

A leaf module: it imports neither torch modules of aekit nor scikit-learn estimators, so
every layer above may use it.
"""

from __future__ import annotations

import contextlib
import math
import numbers
import os
import sys
import warnings
from collections.abc import Iterator

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.validation import _check_sample_weight

__all__ = [
    "InputWarning",
    "Interval",
    "LayerTriples",
    "NumberTuple",
    "SizeTuple",
    "StrOptions",
    "channels_last_hint",
    "check_channels_first",
    "check_finite",
    "check_real",
    "check_weight",
    "format_indices",
    "naming",
    "resolve_device",
    "seeded_torch_rng",
    "to_tensor",
    "user_warning",
]


_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
"""The aekit package's directory."""

_SET_OUTPUT = os.path.join("sklearn", "utils", "_set_output.py")
"""The module of scikit-learn's wrapper around an estimator's ``transform``."""


class InputWarning(UserWarning):
    """Issued where aekit accepts an input that is likely not what the caller meant: a
    table column whose categories cannot carry over to new rows (numbers stored as text,
    an identifier), a column most of whose categories the fitted model never saw, rows or
    columns with no observed value."""


def user_warning(message: str, category: type[Warning] = UserWarning) -> None:
    """``warnings.warn`` attributed to the line that called into aekit (the caller's
    ``fit(...)``): the frame above the outermost aekit frame on the stack, however deep
    inside aekit the warning arises and whatever wrappers (``torch.no_grad``,
    scikit-learn's fit context) lie between."""
    frame, level, outermost = sys._getframe(0), 1, 1  # level 1: this function
    while frame is not None:
        path = os.path.abspath(frame.f_code.co_filename)
        # scikit-learn's set_output wrapper of transform methods counts as aekit's own.
        if path.startswith(_PACKAGE_DIR + os.sep) or path.endswith(_SET_OUTPUT):
            outermost = level
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=outermost + 1)


def format_indices(idx, k: int = 10) -> str:
    """``[3, 7, 12, ...]``: the first ``k`` entries of ``idx``, for error messages."""
    idx = np.asarray(idx)
    shown = ", ".join(map(str, idx[:k].tolist()))
    return f"[{shown}{', ...' if len(idx) > k else ''}]"


FLOAT32_MAX = float(np.finfo(np.float32).max)
"""The largest magnitude the networks can hold (they compute in float32)."""


def check_finite(X: np.ndarray, what: str = "X", first_row: int = 0) -> None:
    """Raise a ValueError naming the rows and columns that hold NaN, infinity, or values
    beyond float32's range (|x| > 3.4e38: they become infinite in the float32 networks).

    ``first_row``: the row number of ``X[0]`` in ``what`` (a chunk read from a file).
    """
    # Fast path, one pass over a zero-copy view of X with torch (on every intra-op thread;
    # NumPy uses one): float32 X is finite when its sum is (a sum that overflows falls
    # through to the scan, which then finds nothing); float64 X must also fit in float32,
    # so its minimum and maximum are taken (NaN propagates into both).
    if X.dtype in (np.float32, np.float64) and X.size:
        view = X.flags.c_contiguous and X.flags.writeable  # else torch warns or copies
        T = torch.from_numpy(X).reshape(-1) if view else None
        if X.dtype == np.float32:
            with np.errstate(over="ignore", invalid="ignore"):
                if math.isfinite(float(T.sum() if view else X.sum())):
                    return
        else:
            lo, hi = (float(v) for v in torch.aminmax(T)) if view else (X.min(), X.max())
            if -FLOAT32_MAX <= lo and hi <= FLOAT32_MAX:  # False for NaN too
                return
    bad = ~np.isfinite(X)
    kind = "NaN or infinity"
    if not bad.any():
        with np.errstate(invalid="ignore"):
            bad = np.abs(X) > FLOAT32_MAX
        kind = f"values beyond float32's range (|x| > {FLOAT32_MAX:.3g})"
        fix = ("the networks compute in float32: rescale these features (divide by a power "
               "of ten) or clip them first.")
    else:
        fix = ("drop or impute them first (e.g. sklearn.impute.SimpleImputer in a "
               "Pipeline).")
    if bad.any():
        rows = first_row + np.flatnonzero(bad.any(axis=tuple(range(1, X.ndim))))
        cols = np.flatnonzero(bad.reshape(len(X), -1).any(axis=0))
        raise ValueError(
            f"{what} contains {kind} in {len(rows)} row(s) {format_indices(rows)} "
            f"and {len(cols)} column(s) {format_indices(cols)}; {fix}"
        )


_CHANNEL_COUNTS = (1, 3, 4)
"""Channel counts of grey, RGB and RGBA images: an axis of another length is no channel
axis, whatever its size."""


def _reads_as_channels(image: tuple, axis: int) -> bool:
    others = [s for i, s in enumerate(image) if i != axis]
    return image[axis] in _CHANNEL_COUNTS and image[axis] < min(others)


def check_real(X: np.ndarray, where) -> np.ndarray:
    """``X`` unchanged, or a ValueError naming ``where`` when its values are not numbers
    a network can take (complex, dates, records): scikit-learn's own error for complex
    values prints the whole array."""
    if X.dtype.kind == "c":
        raise ValueError(f"{where}: holds complex values ({X.dtype}); store real numbers: "
                         "X.real, np.abs(X), or both parts as columns "
                         "(np.hstack([X.real, X.imag]))")
    if X.dtype.kind in "mMV":
        raise ValueError(f"{where}: holds {X.dtype} values, not numbers; store numbers")
    return X


def check_file(path) -> None:
    """Raise when ``path`` is not a file to read: IsADirectoryError for a directory (a
    directory named ``rows.npy`` was told "no such file"), FileNotFoundError otherwise."""
    if os.path.isdir(path):
        raise IsADirectoryError(f"{path} is a directory, not a file")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such file")


@contextlib.contextmanager
def naming(path) -> Iterator[None]:
    """Put ``path`` in front of a ValueError raised inside (pyarrow's ArrowInvalid is one):
    NumPy and pyarrow do not name the file they could not read (a ``.npy`` or Parquet file
    cut short), and among the shards of a directory the reader could not tell which."""
    try:
        yield
    except ValueError as err:
        if os.fspath(path) in str(err):
            raise
        raise ValueError(f"{os.fspath(path)} cannot be read: {err}") from None


def channels_last_hint(image: tuple) -> str:
    """A sentence saying that the image shape ``image``, read as (C, H, W), looks like
    (H, W, C) and how to pass such images; "" when it does not look so.

    Parameters
    ----------
    image : tuple of int
        One image's shape as aekit reads it, (C, H, W).

    Returns
    -------
    str
        The sentence, with a leading space, or "".
    """
    image = tuple(int(s) for s in image)
    # (8, 8, 1) or (16, 16, 3): a channel count last, the first axis no channel count.
    if len(image) != 3 or not _reads_as_channels(image, 2) or _reads_as_channels(image, 0):
        return ""
    h, w, c = image
    return (f" The images look channels-last (n, H, W, C) = (n, {h}, {w}, {c}), but aekit "
            f"reads (n, C, H, W): pass X.transpose(0, 3, 1, 2), or flat rows of "
            f"channels-first images with image_shape=({c}, {h}, {w}).")


def check_channels_first(sample_shape: tuple, what: str) -> None:
    """Refuse 4-D images ``(n, *sample_shape)`` that look channels-last, which a
    convolution would silently read as many channels of narrow images.

    Parameters
    ----------
    sample_shape : tuple of int
        One sample's shape as given (``X.shape[1:]``).
    what : str
        What takes the images, named in the error.

    Raises
    ------
    ValueError
        When ``sample_shape`` has three axes and looks like (H, W, C).
    """
    hint = channels_last_hint(sample_shape) if len(sample_shape) == 3 else ""
    if hint:
        raise ValueError(f"{what} got images of shape {tuple(sample_shape)}, read as "
                         f"(C, H, W).{hint}")


def to_tensor(X: np.ndarray, device: torch.device) -> torch.Tensor:
    """``X`` as float32 on ``device``, the dtype the networks compute in.

    A writable, C-contiguous float32 array on the CPU is shared, not copied: callers never
    write into the result (scaling, batch gathers and corruption all make new tensors).
    """
    if device.type == "cpu" and X.dtype == np.float32 and X.flags.writeable \
            and X.flags.c_contiguous:
        return torch.from_numpy(X)
    # torch takes no negative strides (a view such as X[:, ::-1]): copy those into order.
    return torch.tensor(np.ascontiguousarray(X), dtype=torch.float32, device=device)


def to_numpy(T: torch.Tensor, like: np.ndarray) -> np.ndarray:
    """``T`` as a NumPy array in ``like``'s float dtype (float64 for other dtypes)."""
    dtype = like.dtype if like.dtype in (np.float32, np.float64) else np.float64
    return T.detach().cpu().numpy().astype(dtype, copy=False)


@contextlib.contextmanager
def seeded_torch_rng(device: torch.device, seed: int) -> Iterator[None]:
    """Seed torch's RNG for the block, restoring the caller's RNG state afterwards.

    A forked RNG keeps fits reproducible without touching the caller's global seed.
    """
    devices = []
    if device.type == "cuda":  # "cuda" without an index: the current one (a rank's own GPU)
        devices = [device.index if device.index is not None else torch.cuda.current_device()]
    with torch.random.fork_rng(devices=devices):
        if device.type not in ("cpu", "cuda"):
            torch.manual_seed(seed)  # another accelerator: torch's seeding of every device
        else:
            # The CPU's generator and the fit's GPU only, the generators the fork restores:
            # torch.manual_seed also seeds every GPU (at once, or when CUDA starts), so a fit
            # on the CPU, or on one GPU of several, replaced the caller's other GPU streams.
            torch.random.default_generator.manual_seed(seed)
            for index in devices:
                with torch.cuda.device(index):
                    torch.cuda.manual_seed(seed)
        yield


def resolve_device(device: str | torch.device) -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; anything else is passed to torch."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"device={device!r} is not a torch device ('auto', 'cpu', "
                         "'cuda')") from err
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device='cuda' was asked for but CUDA is not available; use device='auto'")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        # Else torch fails later, in the fit's first copy ("invalid device ordinal").
        n = torch.cuda.device_count()
        raise ValueError(f"device={device!r}: this machine has {n} CUDA device(s), numbered "
                         f"0 to {n - 1}; use one of them, or 'cuda' (the current one)")
    if dev.type in DATALESS_DEVICES:
        raise ValueError(f"device={device!r} holds no data (tensors on it have shapes but no "
                         "values), so nothing can be trained or computed on it; use 'auto', "
                         "'cpu' or 'cuda'")
    return dev


DATALESS_DEVICES = ("meta",)
"""Device types torch accepts whose tensors hold no values: refused by
:func:`resolve_device`."""


# --------------------------------------------------------------------------- constraints
def _positive_int(v) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool) and v > 0


class _TupleConstraint(Options):
    """Base of the constraints on tuple-valued parameters below: each says which tuples it
    takes (``is_satisfied_by``) and how to write one (``__str__``).

    (An ``Options`` subclass only because scikit-learn's checker accepts the constraint
    classes it knows; the subclasses override everything ``Options`` does.)
    """

    def __init__(self):
        super().__init__(tuple, set())


class SizeTuple(_TupleConstraint):
    """A constraint for ``_parameter_constraints``: a tuple (or list) of positive integers.

    Parameters
    ----------
    lengths : tuple of int, optional
        The lengths allowed (e.g. ``(2, 3)`` for an image shape); any length by default,
        ``()`` included.
    """

    def __init__(self, lengths: tuple[int, ...] | None = None):
        super().__init__()
        self.lengths = lengths

    def is_satisfied_by(self, val) -> bool:
        return (
            isinstance(val, (tuple, list))
            and (self.lengths is None or len(val) in self.lengths)
            and all(_positive_int(s) for s in val)
        )

    def __str__(self) -> str:
        if self.lengths is None:
            return "a tuple of positive integers"
        lengths = " or ".join(map(str, self.lengths))
        return f"a tuple of {lengths} positive integers"


class LayerTriples(_TupleConstraint):
    """A constraint for ``_parameter_constraints``: a non-empty tuple (or list) of
    ``(filters, kernel, pool)`` triples of positive integers with an odd ``kernel`` (the
    convolutional layers of an encoder; an odd kernel keeps the image's size).
    """

    example = "((32, 5, 2), (64, 3, 2))"

    def is_satisfied_by(self, val) -> bool:
        return (
            isinstance(val, (tuple, list)) and len(val) > 0
            and all(isinstance(layer, (tuple, list)) and len(layer) == 3
                    and all(_positive_int(v) for v in layer) and layer[1] % 2 == 1
                    for layer in val)
        )

    def __str__(self) -> str:
        return ("a tuple of (filters, kernel, pool) triples of positive integers, one per "
                f"convolutional layer, each with an odd kernel, e.g. {self.example}")


class NumberTuple(_TupleConstraint):
    """A constraint for ``_parameter_constraints``: a tuple (or list) of finite numbers
    >= 0 (per-layer weights; how many the estimator's other parameters decide, so its own
    check counts them).
    """

    example = "(1000, 10, 0.1)"

    def is_satisfied_by(self, val) -> bool:
        return isinstance(val, (tuple, list)) and all(
            isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)
            and v >= 0 for v in val)

    def __str__(self) -> str:
        return f"a tuple of finite numbers >= 0, e.g. {self.example}"


def check_weight(sample_weight, X: np.ndarray) -> np.ndarray | None:
    """``sample_weight`` as float64 (n,), non-negative and finite, not all zero; or None.

    One rule for every method that takes weights (``fit``, its hold-out, ``score``), so a
    weight refused by one is refused by all."""
    if sample_weight is None:
        return None
    w = _check_sample_weight(sample_weight, X, dtype=np.float64, ensure_non_negative=True)
    if not np.isfinite(w).all():
        raise ValueError("sample_weight has NaN or infinite entries; pass finite weights >= 0")
    if not w.any():
        raise ValueError("sample_weight is 0 for every row; at least one row needs a weight > 0")
    return w
