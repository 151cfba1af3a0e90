"""Tests for aekit.plotting: every function returns a Figure that actually draws something."""

import inspect
import io
import subprocess
import sys

import numpy as np
import pytest
from matplotlib.collections import PathCollection
from matplotlib.figure import Figure
from sklearn.decomposition import PCA

from aekit import AutoEncoder, plotting
from aekit.data import DERIVED_VARIABLE_NAMES, load_digits, make_derived_variables
from aekit.evaluation.metrics import compare_with_pca, pca_sweep

SHAPE = (8, 8)


@pytest.fixture(scope="module")
def digits_ae(digits):
    return AutoEncoder(n_components=2, hidden_layer_sizes=(32,), max_epochs=40,
                       random_state=0).fit(digits[0])


@pytest.fixture(scope="module")
def conv_ae(digits):
    """A convolutional model fitted on images (n, 8, 8)."""
    return AutoEncoder(n_components=2, architecture="conv", hidden_layer_sizes=(4,),
                       max_epochs=1, random_state=0).fit(digits[0].reshape(-1, 8, 8))


@pytest.fixture(scope="module")
def tabular():
    X = make_derived_variables(500, random_state=0)
    return X[:400], X[400:]


@pytest.fixture(scope="module")
def tabular_ae(tabular):
    return AutoEncoder(n_components=2, hidden_layer_sizes=(16,), max_epochs=30,
                       random_state=0).fit(tabular[0])


def _mosaic(fig):
    """The one image of a mosaic figure (the colorbar axes, if any, draw no image)."""
    assert isinstance(fig, Figure)
    images = [im for ax in fig.axes for im in ax.images]
    assert len(images) == 1
    data = np.ma.masked_invalid(np.asarray(images[0].get_array(), dtype=float))
    assert data.count() > 0 and data.std() > 0, "the image is blank"
    return data


def _renders(fig):
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    assert buf.getvalue()[:8] == b"\x89PNG\r\n\x1a\n"


# --------------------------------------------------------------------------- training
def test_loss_curves_draws_train_and_validation(digits_ae):
    fig = plotting.loss_curves(digits_ae.history_)
    ax, units = fig.axes  # the minimised loss; the MSE in the caller's units
    for axes, key in ((ax, "loss"), (units, "caller_mse")):
        drawn = [line for line in axes.lines if len(line.get_xdata()) > 1]
        assert len(drawn) == 2  # training and validation
        assert len(drawn[0].get_xdata()) == len(digits_ae.history_)
        np.testing.assert_allclose(drawn[0].get_ydata(), [r[key] for r in digits_ae.history_])
    assert "your units" in units.get_ylabel()
    _renders(fig)
    # Epoch ticks are whole numbers; the log axis has at least three labelled ticks.
    ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
    assert all(float(t).is_integer() for t in ticks)
    assert ax.get_yscale() == "log"
    low, high = ax.get_ylim()
    labelled = [t for t in ax.yaxis.get_majorticklocs() if low <= t <= high]
    assert len(labelled) >= 3, labelled


def test_caller_units_are_the_mse_the_comparison_reports(digits):
    X, X_val = digits[0], digits[1]
    ae = AutoEncoder(2, hidden_layer_sizes=(16,), max_epochs=5, random_state=0).fit(
        X, validation_data=X_val)
    kept = next(r for r in ae.history_ if r.get("kept"))
    # The kept weights' validation MSE in caller units is the pixel MSE of reconstruct().
    pixel_mse = float(((ae.reconstruct(X_val) - X_val) ** 2).mean())
    assert kept["val_caller_mse"] == pytest.approx(pixel_mse, rel=1e-4)
    assert kept["val_caller_mse"] < kept["val_loss"] / 5  # scaled units are not pixels


def test_loss_curves_shows_pretraining_phases():
    history = [{"phase": p, "epoch": e, "loss": 1.0 / (e + i), "val_loss": None, "seconds": 0}
               for i, p in enumerate(["pretrain-1", "pretrain-2", "train"]) for e in range(1, 6)]
    (ax,) = plotting.loss_curves(history).axes
    assert len(ax.lines) == 3
    xs = [tuple(line.get_xdata()) for line in ax.lines]
    assert xs[0][-1] < xs[1][0] and xs[1][-1] < xs[2][0]  # phases follow each other
    assert len(ax.patches) == 3  # one tinted band per phase
    assert {t.get_text() for t in ax.get_legend().get_texts()} == {
        "pretrain-1: training", "pretrain-2: training", "train: training"}


# --------------------------------------------------------------------------- images
def test_reconstruction_grid_has_original_pca_and_ae_rows(digits, digits_ae):
    pca = PCA(2).fit(digits[0])
    fig = plotting.reconstruction_grid(digits_ae, digits[1], SHAPE, pca=pca, n_images=7)
    data = _mosaic(fig)
    assert data.shape == (3 * 8 + 2, 7 * 8 + 6)  # 3 rows of 7 images, 1-pixel gaps
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels[0] == "original" and labels[1].startswith("PCA (k=2)")
    assert labels[2].startswith("autoencoder (k=2)") and "MSE" in labels[2]
    _mosaic(plotting.reconstruction_grid(digits_ae, digits[1], SHAPE))  # without PCA
    _renders(fig)


def test_reconstruction_grid_of_a_model_fitted_on_images_takes_flat_rows(digits):
    from aekit.evaluation.metrics import ScaledPCA

    images = digits[0].reshape(-1, 8, 8)  # a conv model fitted on (n, H, W) arrays
    ae = AutoEncoder(n_components=2, architecture="conv", hidden_layer_sizes=(4,),
                     max_epochs=1, random_state=0).fit(images)
    pca = ScaledPCA(ae, PCA(2).fit(ae.to_scaled(images)), 2)  # as the report's
    # Its reconstructions are images; the report shows flat rows: compared as rows.
    fig = plotting.reconstruction_grid(ae, digits[1], SHAPE, pca=pca, n_images=5)
    assert _mosaic(fig).shape == (3 * 8 + 2, 5 * 8 + 4)


def test_reconstruction_grid_rejects_a_wrong_image_shape(digits, digits_ae):
    with pytest.raises(ValueError, match="image_shape"):
        plotting.reconstruction_grid(digits_ae, digits[1], (7, 7))


def test_an_image_shape_that_contradicts_the_images_is_refused(digits, conv_ae):
    # Any (h, w) of 64 pixels reshaped: 8 x 8 digits were drawn as 4 x 16 strips.
    X = digits[1][:20]
    with pytest.raises(ValueError, match=r"X holds images of shape \(8, 8\)"):
        plotting.reconstruction_grid(conv_ae, X.reshape(-1, 8, 8), (4, 16))
    with pytest.raises(ValueError, match=r"fitted on images of shape \(1, 8, 8\)"):
        plotting.reconstruction_grid(conv_ae, X, (16, 4))  # flat rows: the model knows
    with pytest.raises(ValueError, match=r"pass image_shape=\(8, 8\)"):
        plotting.latent_traversal(conv_ae, X, (2, 32))
    _mosaic(plotting.reconstruction_grid(conv_ae, X.reshape(-1, 1, 8, 8), (1, 8, 8)))


def test_rgb_images_are_drawn_in_colour():
    # (3, H, W) was refused ("pass (height, width)"), which no RGB model could do.
    rng = np.random.default_rng(0)
    X = 0.2 * rng.random((40, 3, 5, 6))
    X[:, 0, :, :3] += 0.8  # red on the left, blue on the right
    X[:, 2, :, 3:] += 0.8
    ae = AutoEncoder(n_components=2, architecture="conv", hidden_layer_sizes=(4,),
                     max_epochs=1, random_state=0).fit(X)
    shape = (3, 5, 6)
    data = _mosaic(plotting.reconstruction_grid(ae, X, shape, n_images=4))
    assert data.shape == (2 * 5 + 1, 4 * 6 + 3, 3)  # rows of 4 images, in RGB
    shown = X[np.sort(np.random.RandomState(0).permutation(40)[:4])]  # as the plot draws
    lo, hi = shown.min(), shown.max()  # mapped to dark and full colour
    np.testing.assert_allclose(data[:5, :6], (shown[0].transpose(1, 2, 0) - lo) / (hi - lo))
    assert data[0, 0].argmax() == 0 and data[0, 5].argmax() == 2
    for fig in (plotting.latent_traversal(ae, X, shape, n_steps=3),
                plotting.decoded_grid(ae, shape, X=X, n=3),
                plotting.activation_maximization(ae, shape, X=X, steps=4),
                plotting.first_layer_weights(
                    AutoEncoder(n_components=2, hidden_layer_sizes=(4,), max_epochs=1,
                                random_state=0).fit(X.reshape(40, -1)), shape)):
        assert _mosaic(fig).shape[-1] == 3
    with pytest.raises(ValueError, match="2 channels cannot be drawn"):
        plotting.reconstruction_grid(ae, X, (2, 5, 9))


def test_first_layer_weights(digits_ae):
    fig = plotting.first_layer_weights(digits_ae, SHAPE, n_units=12)
    assert len(fig.axes) == 2  # the mosaic and its colorbar
    data = _mosaic(fig)
    assert data.shape == (2 * 8 + 1, 8 * 8 + 7)  # 12 units in rows of 8
    assert np.nanmax(np.abs(data)) == pytest.approx(1.0)  # each unit scaled to its max


def test_top_activating(digits, digits_ae):
    fig = plotting.top_activating(digits_ae, digits[1], SHAPE, n_top=5)
    data = _mosaic(fig)
    assert data.shape == (2 * 8 + 1, 5 * 8 + 4)  # a row per code unit
    # The top-left image is the test row with the highest code 0.
    X = digits[1]
    best = X[np.argmax(digits_ae.transform(X)[:, 0])].reshape(SHAPE)
    np.testing.assert_allclose(data[:8, :8], best)


def test_a_layers_units_take_what_transform_takes(digits, digits_ae, conv_ae):
    # A layer's activations bypassed the estimator's input check: images gave a raw torch
    # error (the module takes flat rows), NaN went through to the activations.
    X = digits[1][:30]
    flat = plotting.unit_activations(conv_ae, X, "encoder.2")
    assert flat.shape == (30, 4)
    for images in (X.reshape(-1, 8, 8), X.reshape(-1, 1, 8, 8)):
        np.testing.assert_array_equal(plotting.unit_activations(conv_ae, images, "encoder.2"),
                                      flat)
    fig = plotting.top_activating(conv_ae, X.reshape(-1, 8, 8), SHAPE, layer="encoder.2",
                                  n_top=3)
    assert _mosaic(fig).shape == (4 * 8 + 3, 3 * 8 + 2)
    bad = X.copy()
    bad[0, 5] = np.nan
    with pytest.raises(ValueError, match="missing values"):
        plotting.unit_activations(digits_ae, bad, "encoder.1")
    with pytest.raises(ValueError, match="64 features"):
        plotting.unit_activations(digits_ae, X[:, :60], "encoder.1")


def test_activation_maximization_moves_codes_and_stays_in_range(digits, digits_ae):
    fig = plotting.activation_maximization(digits_ae, SHAPE, X=digits[0], steps=60)
    data = _mosaic(fig)
    assert data.shape == (2 * 8 + 1, 2 * 8 + 1)  # max / min rows, one column per unit
    assert data.min() >= 0.0 and data.max() <= 1.0  # clipped to the data range
    top = np.stack([data[:8, :8].ravel(), data[:8, 9:].ravel()])
    bottom = np.stack([data[9:, :8].ravel(), data[9:, 9:].ravel()])
    z_top, z_bottom = digits_ae.transform(top), digits_ae.transform(bottom)
    grey = digits_ae.transform(np.full((1, 64), 0.5))[0]
    for j in range(2):
        assert z_top[j, j] > grey[j] > z_bottom[j, j]


def test_latent_traversal(digits, digits_ae):
    fig = plotting.latent_traversal(digits_ae, digits[1], SHAPE, n_steps=5)
    data = _mosaic(fig)
    assert data.shape == (2 * 8 + 1, 5 * 8 + 4)
    cols = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert cols[2] == "start" and len(cols) == 5
    # The middle column decodes a real row's code (the one nearest the median code).
    Z = digits_ae.transform(digits[1])
    start = int(fig.texts[0].get_text().split("row ")[1].split("'")[0])
    np.testing.assert_allclose(data[:8, 2 * 9:2 * 9 + 8],
                               digits_ae.inverse_transform(Z[start:start + 1]).reshape(SHAPE),
                               rtol=1e-5, atol=1e-6)


def test_decoded_grid(digits, digits_ae):
    fig = plotting.decoded_grid(digits_ae, SHAPE, X=digits[1], n=6)
    data = _mosaic(fig)
    assert data.shape == (6 * 8 + 5, 6 * 8 + 5)
    with pytest.raises(ValueError, match="n_components=2"):
        plotting.decoded_grid(AutoEncoder(n_components=3), SHAPE, X=digits[1])
    with pytest.raises(ValueError, match="pass X"):
        plotting.decoded_grid(digits_ae, SHAPE)


def test_denoising_rows(digits, digits_ae):
    fig = plotting.denoising_rows(digits_ae, digits[1], SHAPE, noise="masking",
                                  noise_level=0.3, n_images=6)
    data = _mosaic(fig)
    assert data.shape == (3 * 8 + 2, 6 * 8 + 5)
    clean, noisy = data[:8], data[9:17]
    assert not np.allclose(clean, noisy)
    with pytest.raises(ValueError, match="noise"):
        plotting.denoising_rows(digits_ae, digits[1], SHAPE)  # a plain AE has no noise


@pytest.mark.parametrize("noise", ["gaussian", "masking", "salt_pepper"])
def test_corrupt_kinds(noise):
    X = np.random.RandomState(0).uniform(size=(20, 10))
    Xn = plotting.corrupt(X, noise, 0.3, random_state=0)
    assert Xn.shape == X.shape and not np.allclose(X, Xn)
    np.testing.assert_array_equal(Xn, plotting.corrupt(X, noise, 0.3, random_state=0))


class _Sampler:
    """Stand-in for a variational estimator: only ``sample`` is used."""

    def sample(self, n, random_state=None):
        return np.random.RandomState(random_state).uniform(size=(n, 64))


def test_vae_samples_uses_sample():
    fig = plotting.vae_samples(_Sampler(), SHAPE, n=20)
    data = _mosaic(fig)
    assert data.shape == (2 * 8 + 1, 16 * 8 + 15)  # 20 samples in rows of 16
    with pytest.raises(ValueError, match="cannot sample"):
        plotting.vae_samples(object(), SHAPE)


# --------------------------------------------------------------------------- codes
def test_codes_2d_side_by_side_coloured_by_label(digits, digits_ae):
    X_test, y_test = digits[1], digits[3]
    fig = plotting.codes_2d(digits_ae, X_test, y_test)
    assert len(fig.axes) == 2
    for ax in fig.axes:
        (points,) = ax.collections
        assert isinstance(points, PathCollection)
        assert len(points.get_offsets()) == len(X_test)
        assert len(np.unique(points.get_facecolors(), axis=0)) == 10  # one colour per digit
    assert len(fig.legends) == 1 and len(fig.legends[0].get_texts()) == 10
    np.testing.assert_allclose(fig.axes[1].collections[0].get_offsets(),
                               digits_ae.transform(X_test), rtol=1e-5)
    _renders(fig)


def test_codes_2d_draws_rows_without_a_label_in_grey(digits, digits_ae):
    # Text labels with empty cells (NaN) were "Not drawn" in a report: np.unique of str
    # and float. They are a grey "unlabelled" group, as -1 rows are.
    X_test, y_test = digits[1], digits[3]
    names = np.array(["even", "odd"], dtype=object)[y_test % 2]
    names[:40] = np.nan
    numbers = y_test.copy()
    numbers[:40] = -1
    for y, legend in ((names, ["even", "odd"]), (numbers, [str(d) for d in range(10)])):
        fig = plotting.codes_2d(digits_ae, X_test, y)
        assert [t.get_text() for t in fig.legends[0].get_texts()] == legend + ["unlabelled"]
        for ax in fig.axes:
            grey, labelled = ax.collections
            assert (len(grey.get_offsets()), len(labelled.get_offsets())) == (40, len(X_test) - 40)
        _renders(fig)


def test_codes_2d_without_labels_and_wider_codes(digits):
    ae = AutoEncoder(n_components=3, hidden_layer_sizes=(16,), max_epochs=3,
                     random_state=0).fit(digits[0])
    fig = plotting.codes_2d(ae, digits[1])
    assert len(fig.axes) == 2 and not fig.legends
    assert all(len(ax.collections[0].get_offsets()) == len(digits[1]) for ax in fig.axes)
    assert "k=3" in fig.axes[1].get_title()


def test_codes_2d_titles_a_one_component_pca_as_drawn(digits, digits_ae):
    # A one-component PCA was drawn against a column of zeros, titled "first 2 components".
    fig = plotting.codes_2d(digits_ae, digits[1], pca=PCA(1).fit(digits[0]))
    assert fig.axes[0].get_title() == "PCA, 1 component (vertical: jitter)"
    heights = fig.axes[0].collections[0].get_offsets()[:, 1]
    assert heights.std() > 0.3 and len(fig.axes[0].get_yticks()) == 0


def test_codes_2d_of_a_table_model_fits_its_pca_in_scaled_units():
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(100, 5, 120), "b": rng.normal(size=120),
                          "color": rng.choice(["red", "green", "blue"], 120)})
    ae = AutoEncoder(n_components=2, hidden_layer_sizes=(8,), max_epochs=1,
                     random_state=0).fit(frame)
    fig = plotting.codes_2d(ae, frame)  # no pca given: text columns cannot be PCA's input
    expected = PCA(2).fit_transform(ae.to_scaled(frame))
    np.testing.assert_allclose(fig.axes[0].collections[0].get_offsets(), expected,
                               rtol=1e-5, atol=1e-8)


# --------------------------------------------------------------------------- tabular
def test_feature_scatter_per_variable_with_r2(tabular, tabular_ae):
    X_train, X_test = tabular
    pca = PCA(2).fit(X_train)
    fig = plotting.feature_scatter(tabular_ae, X_test, feature_names=DERIVED_VARIABLE_NAMES,
                                   pca=pca)
    assert len(fig.axes) == 6  # one per variable, unused grid cells removed
    for ax, name in zip(fig.axes, DERIVED_VARIABLE_NAMES):
        assert len(ax.collections) == 2  # PCA underneath, autoencoder on top
        assert all(len(c.get_offsets()) == len(X_test) for c in ax.collections)
        assert len(ax.lines) == 1  # the identity line
        assert ax.get_title().startswith(name) and "R² AE" in ax.get_title()
    fig = plotting.feature_scatter(tabular_ae, X_test, max_features=4)
    assert len(fig.axes) == 4 and all(len(ax.collections) == 1 for ax in fig.axes)
    _renders(fig)


def test_error_vs_k(digits, digits_ae):
    X_train, X_test = digits[0], digits[1]
    cmp = compare_with_pca(digits_ae, X_train, X_test)
    sweep = pca_sweep(X_train, X_test, [1, 2, 4, 8], scaled_by=digits_ae) + [cmp]
    (ax,) = plotting.error_vs_k(sweep).axes
    pca_line, ae_line = ax.lines
    assert list(pca_line.get_xdata()) == [1, 2, 4, 8]
    assert list(ae_line.get_xdata()) == [2]
    assert list(ae_line.get_ydata()) == pytest.approx([cmp.ae_scaled])
    # PCA at k=2 in the same units is the comparison's own PCA.
    assert pca_line.get_ydata()[1] == pytest.approx(cmp.pca_scaled, rel=1e-9)
    assert "scaled" in ax.get_ylabel()
    with pytest.raises(ValueError, match="empty"):
        plotting.error_vs_k([])
    with pytest.raises(ValueError, match="mixes raw and scaled"):
        plotting.error_vs_k(pca_sweep(X_train, X_test, [1, 2]) + [cmp])


_MODEL_PLOTS = {
    "codes_2d": lambda m, X: plotting.codes_2d(m, X),
    "feature_scatter": lambda m, X: plotting.feature_scatter(m, X),
    "reconstruction_grid": lambda m, X: plotting.reconstruction_grid(m, X, SHAPE),
    "denoising_rows": lambda m, X: plotting.denoising_rows(m, X, SHAPE, noise="gaussian"),
    "vae_samples": lambda m, X: plotting.vae_samples(m, SHAPE),
    "latent_traversal": lambda m, X: plotting.latent_traversal(m, X, SHAPE),
    "decoded_grid": lambda m, X: plotting.decoded_grid(m, SHAPE, X=X),
    "first_layer_weights": lambda m, X: plotting.first_layer_weights(m, SHAPE),
    "hidden_layers": lambda m, X: plotting.hidden_layers(m),
    "unit_activations": lambda m, X: plotting.unit_activations(m, X, "encoder.1"),
    "top_activating": lambda m, X: plotting.top_activating(m, X, SHAPE),
    "activation_maximization": lambda m, X: plotting.activation_maximization(m, SHAPE, X=X),
}


@pytest.mark.parametrize("plot", sorted(_MODEL_PLOTS))
def test_a_pipeline_is_refused_naming_its_last_step(digits, plot):
    # A Pipeline hides the model's network and parameters: the plots failed with an
    # AttributeError, called it not fitted, or drew it in other units than the report's.
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import Normalizer

    X = digits[0][:100]
    pipe = make_pipeline(Normalizer(), AutoEncoder(n_components=2, hidden_layer_sizes=(8,),
                                                   max_epochs=1, random_state=0)).fit(X)
    with pytest.raises(TypeError, match=rf"^{plot} draws .* not a Pipeline .* pipe\[-1\]"):
        _MODEL_PLOTS[plot](pipe, X)
    assert list(inspect.signature(getattr(plotting, plot)).parameters)[0] == "estimator"


def test_plotting_never_imports_pyplot():
    code = ("import sys, aekit.plotting, aekit.report.model; "
            "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_corrupt_is_the_training_corruption():
    import torch

    from aekit.nn.layers import make_corruption

    X = np.random.RandomState(0).uniform(size=(20, 10))
    assert plotting.corrupt(X, "masking", 0.3, random_state=None).shape == X.shape
    # Same seed, same generator, same function as a fit uses: identical rows.
    seed = int(np.random.RandomState(0).randint(np.iinfo(np.int32).max))
    torch.manual_seed(seed)
    X_t = torch.from_numpy(X)
    expected = make_corruption("salt_pepper", 0.3, X_t.amin(0), X_t.amax(0))(X_t).numpy()
    np.testing.assert_array_equal(plotting.corrupt(X, "salt_pepper", 0.3, random_state=0),
                                  expected)
    with pytest.raises(ValueError, match="noise='blur'"):
        plotting.corrupt(X, "blur", 0.3)


@pytest.mark.parametrize("noise", ["masking", "salt_pepper"])
def test_corrupt_bounds_images_by_each_pixel(noise):
    # Images were bounded by each column of the images (reshape(-1, W)): salt landed on
    # border pixels that are 0 in every training image. Now as their flat rows.
    X = load_digits()[0][:60]
    images = X.reshape(-1, 1, 8, 8)
    noisy = plotting.corrupt(images[:10], noise, 0.3, reference=images, random_state=0)
    assert noisy.shape == (10, 1, 8, 8)
    np.testing.assert_array_equal(
        noisy.reshape(10, -1), plotting.corrupt(X[:10], noise, 0.3, reference=X,
                                                random_state=0))
