"""Label-free image features: histograms of oriented gradients beside the pixels."""

from __future__ import annotations

import math
from numbers import Integral

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from ..core.checks import Interval, SizeTuple, channels_last_hint, check_channels_first
from ..nn.histograms import BATCH, BINS, CELL, STRIDE, orientation_histograms


class OrientationHistograms(TransformerMixin, BaseEstimator):
    """Histograms of oriented gradients of images (Dalal & Triggs 2005), beside the pixels.

    At each pixel the image's gradient (Sobel filters; with several channels, the channel
    whose gradient is largest there) votes with its magnitude for its orientation, unsigned
    (0 to 180 degrees) and split between the two nearest of ``bins`` bins. The votes are
    averaged over ``cell`` x ``cell`` cells placed ``stride`` pixels apart (overlapping
    when ``stride < cell``), and each cell's histogram is scaled to unit length. The result
    describes local shape, and it moves little when an image shifts by a pixel or two,
    which a dense network fitted on few labels cannot learn from the pixels alone. Use it
    in a :class:`~sklearn.pipeline.Pipeline` before any estimator, e.g.
    ``make_pipeline(OrientationHistograms(image_shape=(28, 28)), LadderClassifier())``.

    Parameters
    ----------
    image_shape : tuple of int or None, default=None
        ``(H, W)`` or ``(C, H, W)`` of the images that flat rows of ``X`` hold. None when
        ``X`` holds images, ``(n, H, W)`` or ``(n, C, H, W)``.
    cell : int, default=6
        Side of a cell in pixels.
    stride : int, default=3
        Pixels between neighbouring cells.
    bins : int, default=9
        Orientation bins over 180 degrees.
    keep_pixels : bool, default=True
        Put the pixels, flattened and unchanged, before the histograms.

    Attributes
    ----------
    image_shape_ : tuple of int
        ``(C, H, W)`` of the training images.
    scale_ : float
        The largest absolute pixel value of the training images (1 when all are 0).
        Gradients are taken on images divided by it, so images in [0, 1] and in [0, 255]
        give the same histograms.
    n_features_in_ : int
        Pixels an image (``C * H * W``).
    n_cells_ : tuple of int
        Cells down and across.

    Notes
    -----
    It learns nothing but the images' shape and ``scale_``, so a pipeline is saved by
    saving its estimator (``pipeline[-1].save(path)``) and fitting a transformer with the
    same parameters on the same training images again.
    ``LadderClassifier(image_features="histograms")`` holds this transformer, with its
    defaults, inside the model (:class:`aekit.nn.histograms.HistogramFeatures`): saved,
    exported and predicted with it.

    The images are taken as lying on black (0): outside the image counts as 0, so its
    border is an edge wherever the image is not 0 there (as on MNIST and Fashion-MNIST,
    whose backgrounds are 0 and which chose the defaults, docs/decisions.md "Image
    features"). A flat grey image has edges along its border, and an image and its
    negative have different histograms. Images on a light background: invert them first
    (``X.max() - X``), so their background is 0.

    Examples
    --------
    >>> import numpy as np
    >>> from aekit.data import OrientationHistograms
    >>> X = np.random.default_rng(0).random((5, 28, 28))
    >>> OrientationHistograms().fit_transform(X).shape  # 784 pixels + 8 x 8 cells x 9 bins
    (5, 1360)
    """

    _parameter_constraints: dict = {
        "image_shape": [SizeTuple(lengths=(2, 3)), None],
        "cell": [Interval(Integral, 2, None, closed="left")],
        "stride": [Interval(Integral, 1, None, closed="left")],
        "bins": [Interval(Integral, 2, None, closed="left")],
        "keep_pixels": ["boolean"],
    }

    def __init__(self, image_shape=None, cell=CELL, stride=STRIDE, bins=BINS, keep_pixels=True):
        self.image_shape = image_shape
        self.cell = cell
        self.stride = stride
        self.bins = bins
        self.keep_pixels = keep_pixels

    def fit(self, X, y=None):
        """Learn the images' shape and ``scale_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_pixels), (n_samples, H, W) or
            (n_samples, C, H, W)
        y : ignored

        Returns
        -------
        self : OrientationHistograms
        """
        self._validate_params()
        images = self._images(X, reset=True)
        if self.cell > min(self.image_shape_[1:]):
            raise ValueError(f"cell={self.cell} is larger than the images "
                             f"({self.image_shape_[1]} x {self.image_shape_[2]} pixels); "
                             f"give a smaller cell.{channels_last_hint(self.image_shape_)}")
        top = float(np.abs(images).max()) if images.size else 0.0
        self.scale_ = top if top > 0 else 1.0
        h, w = self.image_shape_[1:]
        self.n_cells_ = ((h - self.cell) // self.stride + 1, (w - self.cell) // self.stride + 1)
        return self

    def transform(self, X):
        """The pixels (with ``keep_pixels``) followed by the cells' histograms.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_pixels), (n_samples, H, W) or
            (n_samples, C, H, W)
            Images of the training images' shape.

        Returns
        -------
        ndarray of shape (n_samples, n_pixels * keep_pixels + n_cells_[0] * n_cells_[1]
            * bins), float32
        """
        check_is_fitted(self)
        images = self._images(X, reset=False)  # (n, C, H, W), float32
        histograms = np.concatenate([self._histograms(torch.from_numpy(images[i:i + BATCH]))
                                     for i in range(0, len(images), BATCH)])
        if not self.keep_pixels:
            return histograms
        return np.hstack([images.reshape(len(images), -1), histograms])

    def get_feature_names_out(self, input_features=None):
        """``x0 ...`` (or the input's names) for the pixels, then ``hog_<row>_<col>_<bin>``.

        Returns
        -------
        ndarray of str
        """
        check_is_fitted(self)
        rows, cols = self.n_cells_
        names = [f"hog_{r}_{c}_{b}" for r in range(rows) for c in range(cols)
                 for b in range(self.bins)]
        if not self.keep_pixels:
            return np.asarray(names, dtype=object)
        if input_features is None:  # a DataFrame's names, else x0, x1, ...
            input_features = getattr(self, "feature_names_in_", None)
        if input_features is None:
            input_features = [f"x{i}" for i in range(self.n_features_in_)]
        elif len(input_features) != self.n_features_in_:
            raise ValueError(f"input_features has {len(input_features)} names; the images "
                             f"have {self.n_features_in_} pixels.")
        return np.asarray([*input_features, *names], dtype=object)

    # ------------------------------------------------------------------ helpers
    def _images(self, X, *, reset: bool) -> np.ndarray:
        """``X`` as float32 images (n, C, H, W) of the fitted shape; flat rows of a
        DataFrame give ``feature_names_in_``."""
        if not hasattr(X, "columns"):  # a DataFrame stays one, for validate_data's names
            X = np.asarray(X) if not hasattr(X, "toarray") else X.toarray()
        shape = X.shape[1:]
        if X.ndim == 2:
            if self.image_shape is None:
                raise ValueError(
                    f"X holds flat rows of {X.shape[1]} values: give image_shape=(H, W) or "
                    "(C, H, W), or pass the images as an array (n, H, W) or (n, C, H, W).")
            shape = tuple(self.image_shape)
            if math.prod(shape) != X.shape[1]:
                raise ValueError(f"image_shape={tuple(self.image_shape)} holds "
                                 f"{math.prod(shape)} pixels; the rows of X have "
                                 f"{X.shape[1]}.")
        elif X.ndim not in (3, 4):
            raise ValueError(f"X has shape {X.shape}: give flat rows (n, pixels) with "
                             "image_shape, or images (n, H, W) or (n, C, H, W).")
        elif X.ndim == 4 and reset:
            check_channels_first(shape, "OrientationHistograms")
        shape = (1, *shape) if len(shape) == 2 else tuple(shape)
        given = self.image_shape
        if X.ndim > 2 and given is not None and (1,) * (3 - len(given)) + tuple(given) != shape:
            raise ValueError(f"X holds images of shape {shape[1:] if X.ndim == 3 else shape}, "
                             f"not image_shape={tuple(given)}; leave image_shape=None for "
                             "images (it is for flat rows), or pass images of that shape.")
        if not reset and shape != self.image_shape_:
            raise ValueError(f"X holds images of shape {shape}; this transformer was "
                             f"fitted on {self.image_shape_}."
                             f"{channels_last_hint(shape) if X.ndim == 4 else ''}")
        # An explicit row length: reshape(0, -1) of no images is an error of its own.
        rows = X if X.ndim == 2 else X.reshape(len(X), math.prod(shape))
        flat = validate_data(self, rows, reset=reset, dtype=np.float32)
        if reset:
            self.image_shape_ = tuple(int(s) for s in shape)
        return flat.reshape(len(flat), *self.image_shape_)

    def _histograms(self, images: torch.Tensor) -> np.ndarray:
        """Each cell's unit-length histogram, (n, C, H, W) -> (n, rows * cols * bins)."""
        return orientation_histograms(images / self.scale_, self.cell, self.stride,
                                      self.bins).numpy()

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        return tags


__all__ = ["OrientationHistograms"]
