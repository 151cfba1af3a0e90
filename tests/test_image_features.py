"""OrientationHistograms: label-free image features (aekit.data.images)."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.pipeline import make_pipeline

from aekit import LadderClassifier
from aekit.data import OrientationHistograms, load_digits
from aekit.data import images as images_module


def edges(n=4, side=12, axis=0):
    """Images (n, side, side) that are 0 on one side of a straight edge and 1 on the other;
    ``axis=0`` a horizontal edge (brightness changes down the image)."""
    x = np.zeros((n, side, side))
    if axis == 0:
        x[:, side // 2:, :] = 1.0
    else:
        x[:, :, side // 2:] = 1.0
    return x


def histograms(features, transformer):
    """The histogram part of ``transform``'s output, (n, rows, cols, bins)."""
    rows, cols = transformer.n_cells_
    return features[:, -rows * cols * transformer.bins:].reshape(
        len(features), rows, cols, transformer.bins)


def test_shapes_and_names():
    X = np.random.default_rng(0).random((5, 28, 28))
    t = OrientationHistograms().fit(X)
    out = t.transform(X)
    assert t.n_cells_ == (8, 8) and t.image_shape_ == (1, 28, 28)
    assert out.shape == (5, 784 + 8 * 8 * 9) and out.dtype == np.float32
    np.testing.assert_array_equal(out[:, :784], X.reshape(5, -1).astype(np.float32))
    names = t.get_feature_names_out()
    assert len(names) == out.shape[1] and names[0] == "x0" and names[784] == "hog_0_0_0"
    alone = OrientationHistograms(keep_pixels=False).fit(X)
    np.testing.assert_array_equal(alone.transform(X), out[:, 784:])
    assert len(alone.get_feature_names_out()) == 576


def test_flat_rows_with_image_shape_equal_images():
    X = np.random.default_rng(1).random((6, 10, 14))
    flat = OrientationHistograms(image_shape=(10, 14), cell=4, stride=2)
    images = OrientationHistograms(cell=4, stride=2)
    np.testing.assert_array_equal(flat.fit_transform(X.reshape(6, -1)),
                                  images.fit_transform(X))


def test_an_edge_votes_for_its_orientation_and_cells_have_unit_length():
    t = OrientationHistograms(cell=4, stride=4, keep_pixels=False)
    h = histograms(t.fit_transform(edges(axis=0)), t)  # (n, 3, 3, 9)
    # A horizontal edge: the gradient points down, 90 degrees, the centre of bin 4.
    # The middle cell of the cells' middle row holds the edge (rows 4-7, edge at 6) away
    # from the images' borders, whose zero padding adds gradients of its own.
    centre = h[:, 1, 1]
    np.testing.assert_allclose(centre[:, 4], 1.0, atol=0.01)
    np.testing.assert_allclose(np.delete(centre, 4, axis=-1), 0.0, atol=1e-6)
    assert (h[:, 1].argmax(-1) == 4).all()
    np.testing.assert_allclose(h[:, 0, 1], 0.0)  # a flat cell stays 0
    # A vertical edge: 0 degrees, on the border of bins 8 and 0: half a vote each.
    v = histograms(t.fit_transform(edges(axis=1)), t)[:, 1, 1]
    np.testing.assert_allclose(v[:, 0], v[:, 8], rtol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(v, axis=-1), 1.0, atol=0.01)


def test_the_pixels_scale_does_not_change_the_histograms():
    X = load_digits()[0][:20].reshape(-1, 8, 8)
    t = OrientationHistograms(cell=4, stride=2, keep_pixels=False)
    small = t.fit(X).transform(X)
    large = clone(t).fit(255 * X).transform(255 * X)
    assert t.scale_ == pytest.approx(X.max())
    np.testing.assert_allclose(small, large, atol=1e-6)


def test_histograms_move_less_than_pixels_when_an_image_shifts():
    digits = load_digits()[0][:50].reshape(-1, 8, 8)
    X = np.kron(digits, np.ones((3, 3)))  # (50, 24, 24): room for a one-pixel shift
    shifted = np.roll(X, 1, axis=2)
    t = OrientationHistograms(keep_pixels=False).fit(X)

    def relative_change(a, b):
        return np.linalg.norm(a - b, axis=1) / np.linalg.norm(a, axis=1)

    pixels = relative_change(X.reshape(50, -1), shifted.reshape(50, -1))
    hog = relative_change(t.transform(X), t.transform(shifted))
    assert (hog < pixels).mean() >= 0.9 and np.median(hog) < 0.85 * np.median(pixels)


def test_channels_use_the_strongest_gradient():
    gray = np.random.default_rng(2).random((3, 12, 12))
    t = OrientationHistograms(cell=4, stride=4, keep_pixels=False)
    expected = t.fit_transform(gray)
    colour = np.stack([gray, 0.5 * gray, 0.25 * gray], axis=1)  # (3, 3, 12, 12)
    t_colour = OrientationHistograms(cell=4, stride=4, keep_pixels=False).fit(colour)
    assert t_colour.image_shape_ == (3, 12, 12)
    # The first channel has the largest gradient everywhere; scale_ is the same max.
    np.testing.assert_allclose(t_colour.transform(colour), expected, atol=1e-6)


def test_batches_do_not_change_the_result(monkeypatch):
    X = np.random.default_rng(3).random((10, 12, 12))
    t = OrientationHistograms(cell=4, stride=2).fit(X)
    whole = t.transform(X)
    monkeypatch.setattr(images_module, "BATCH", 3)
    # The same up to float32 rounding (convolutions block a batch their own way).
    np.testing.assert_allclose(t.transform(X), whole, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("params, X, match", [
    ({}, np.zeros((3, 64)), "image_shape"),
    ({"image_shape": (8, 9)}, np.zeros((3, 64)), "holds 72 pixels"),
    ({}, np.zeros((3, 2, 2, 2, 2)), "shape"),
    ({}, np.zeros((3, 12, 12, 3)), r"channels-last.*transpose\(0, 3, 1, 2\)"),
    ({"cell": 9}, np.zeros((3, 8, 8)), "larger than the images"),
    ({"bins": 1}, np.zeros((3, 8, 8)), "bins"),
    ({}, np.full((3, 8, 8), np.nan), "NaN"),
    # Regressions: an image_shape that images contradict was ignored; no images gave a
    # reshape error; flat rows of channels-last images got no hint.
    ({"image_shape": (28, 28)}, np.zeros((3, 14, 56)), r"shape \(14, 56\), not image_shape"),
    ({"image_shape": (2, 8, 8)}, np.zeros((3, 1, 8, 8)), r"not image_shape=\(2, 8, 8\)"),
    ({}, np.zeros((0, 8, 8)), "0 sample"),
    ({"image_shape": (16, 16, 3)}, np.zeros((3, 768)), r"larger.*channels-last.*\(3, 16, 16\)"),
])
def test_bad_input_is_reported(params, X, match):
    with pytest.raises(ValueError, match=match):
        OrientationHistograms(**params).fit(X)


def test_a_dataframe_gives_its_names():
    import pandas as pd

    frame = pd.DataFrame(np.random.default_rng(0).random((3, 16)),
                         columns=[f"p{i}" for i in range(16)])
    t = OrientationHistograms(image_shape=(4, 4), cell=2, stride=2).fit(frame)
    assert list(t.feature_names_in_) == list(frame.columns)
    assert list(t.get_feature_names_out()[:2]) == ["p0", "p1"]
    OrientationHistograms(image_shape=(1, 8, 8), cell=4).fit(np.zeros((2, 8, 8)))  # agrees


def test_transform_refuses_images_of_another_shape():
    t = OrientationHistograms(cell=4).fit(np.zeros((2, 8, 8)))
    with pytest.raises(ValueError, match=r"fitted on \(1, 8, 8\)"):
        t.transform(np.zeros((2, 10, 10)))
    with pytest.raises(ValueError, match="holds 64 pixels"):
        OrientationHistograms(image_shape=(8, 8), cell=4).fit(np.zeros((2, 64))).transform(
            np.zeros((2, 100)))


def test_in_a_pipeline_before_the_ladder_with_unlabelled_rows():
    X, X_test, y, y_test = load_digits(split=True)
    y_few = np.full_like(y, -1)
    for c in np.unique(y):
        y_few[np.flatnonzero(y == c)[:10]] = c
    pipe = make_pipeline(OrientationHistograms(image_shape=(8, 8), cell=4, stride=2),
                         LadderClassifier(hidden_layer_sizes=(64,), max_epochs=20,
                                          random_state=0))
    pipe.fit(X, y_few)
    assert pipe[-1].n_features_in_ == 64 + 3 * 3 * 9 and pipe[-1].n_labelled_ == 100
    assert pipe.score(X_test, y_test) > 0.8  # 10 labels a class; chance is 0.1


def test_images_lie_on_black_so_only_a_light_background_has_border_edges():
    # The documented convention (zero padding, with which the reported figures and the
    # defaults were measured): outside the image is 0. A flat grey image has edges along
    # its border and none inside; inverted to a black background, none at all.
    t = OrientationHistograms(cell=4, stride=4, keep_pixels=False)
    grey = np.full((2, 12, 12), 0.5)
    h = histograms(t.fit_transform(grey), t)  # (n, rows, cols, bins)
    assert np.abs(h[:, 1, 1]).sum() == 0  # the middle cell
    assert (np.abs(h[:, [0, -1]]).sum(-1) > 0).all()  # every cell of the top and bottom rows
    assert np.abs(t.fit_transform(grey.max() - grey)).sum() == 0
