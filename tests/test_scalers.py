"""The in-model Scaler's kinds: exact inversion, streamed statistics equal to in-memory
ones, and which columns ``"auto"`` log-transforms (heavy tails, never images)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

from aekit import AutoEncoder
from aekit.data import load_digits, make_derived_variables, make_low_variance
from aekit.nn.layers import SCALERS, TAIL_RATIO, Scaler, tail_ratios

KINDS = [k for k in SCALERS if k is not None]


def _derived(n=3000, seed=0):
    return torch.tensor(make_derived_variables(n, random_state=seed), dtype=torch.float32)


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_inverts_exactly_within_the_training_range(kind):
    X = _derived()
    scaler = Scaler(6, kind).fit(X)
    back = scaler.inverse(scaler(X), like=X)
    error = ((back - X).abs() / X.std(0)).numpy()
    # The quantile transform clips its two end points (to keep the normal finite): those
    # rows come back within a knot; every other row within float32 rounding.
    inner = np.ones(len(X), dtype=bool)
    if kind == "quantile":
        inner[X.argmax(0).numpy()] = inner[X.argmin(0).numpy()] = False
    # "sample" standardises each row in float32: rows spanning 0 to 6,000 lose 4 digits.
    assert error[inner].max() < (1e-3 if kind == "sample" else 1e-4), (kind, error.max())


@pytest.mark.parametrize("kind", KINDS)
def test_streamed_statistics_equal_in_memory_ones(kind):
    X = _derived(2500)
    chunked = Scaler(6, kind)
    bounds = chunked.fit_chunks(torch.split(X, 700))
    whole = Scaler(6, kind).fit(X)
    for name, value in whole.state_dict().items():
        torch.testing.assert_close(chunked.state_dict()[name], value, rtol=1e-5, atol=1e-6,
                                   msg=f"{kind}: {name}")
    Y = whole(X)
    torch.testing.assert_close(bounds, torch.stack([Y.amin(0), Y.amax(0)]), rtol=1e-5,
                               atol=1e-5)


def test_auto_logs_heavy_tails_only():
    scaler = Scaler(6, "auto").fit(_derived())
    assert scaler.logged.tolist() == [False, False, False, False, True, False]  # a/b only
    Y = scaler(_derived())
    # Standardised after the log: a/b's bulk (a/b < 3) now spans a good part of its range.
    bulk = _derived()[:, 4] < 3
    span = Y[:, 4].max() - Y[:, 4].min()
    assert (Y[bulk, 4].max() - Y[bulk, 4].min()) / span > 0.15
    assert torch.allclose(Y.mean(0), torch.zeros(6), atol=1e-4)
    assert torch.allclose(Y.std(0, correction=0), torch.ones(6), atol=1e-4)


def test_tail_ratios_of_known_distributions():
    rng = np.random.RandomState(0)
    columns = {
        "normal": rng.randn(5000), "uniform": rng.rand(5000), "exponential": rng.exponential(
            size=5000), "lognormal_2": rng.lognormal(0, 2, 5000),
        "binary": (rng.rand(5000) < 0.2) * 1.0, "pixels": np.where(rng.rand(5000) < 0.75, 0,
                                                                    rng.rand(5000)),
        "bytes": np.where(rng.rand(5000) < 0.5, 0, np.exp(rng.uniform(0, 16, 5000))),
    }
    ratios = dict(zip(columns, tail_ratios(torch.tensor(np.column_stack(list(
        columns.values())))).tolist()))
    assert 1.3 < ratios["normal"] < 1.7 and 1.0 < ratios["uniform"] < 1.3
    assert ratios["exponential"] < 3 and ratios["binary"] == 0
    assert ratios["pixels"] < 2  # the zero background is a point mass, not a narrow bulk
    assert ratios["lognormal_2"] > TAIL_RATIO and ratios["bytes"] > TAIL_RATIO


def test_auto_is_standard_on_images_and_low_variance_data(digits):
    for X in (digits[0], make_low_variance(1000, random_state=0)):
        X = torch.tensor(X, dtype=torch.float32)
        auto, standard = Scaler(X.shape[1], "auto").fit(X), Scaler(X.shape[1], "standard").fit(X)
        assert not auto.logged.any()
        torch.testing.assert_close(auto(X), standard(X))


def test_fashion_mnist_pixels_are_never_logged():
    from aekit.data import load_fashion_mnist

    try:
        X = load_fashion_mnist(download=False)[0][:10_000]
    except FileNotFoundError as err:
        pytest.skip(f"Fashion-MNIST not installed: {err}")
    # The scaler looks at a sample of 1,337 rows of 784 pixels: the ratio must stay under
    # the threshold there too (measured max 1.5 on 20,000 rows, 1.75 on samples of 1,337).
    for rows in (slice(None), slice(0, 1337)):
        assert tail_ratios(torch.from_numpy(X[rows])).max() < TAIL_RATIO


def test_loaded_state_brings_the_logged_columns_back():
    fitted = Scaler(6, "auto").fit(_derived())
    fresh = Scaler(6, "auto")
    fresh.load_state_dict(fitted.state_dict())
    X = _derived(100, seed=1)
    torch.testing.assert_close(fresh(X), fitted(X))
    torch.testing.assert_close(fresh.inverse(fresh(X)), fitted.inverse(fitted(X)))


def test_log_inverse_never_overflows():
    scaler = Scaler(6, "log").fit(_derived())
    wild = torch.full((3, 6), 1e4)
    assert torch.isfinite(scaler.inverse(wild)).all()


def test_quantile_scaler_maps_to_a_normal_and_handles_ties():
    X = torch.tensor(np.column_stack([np.random.RandomState(0).exponential(size=4000),
                                      np.random.RandomState(1).randint(0, 3, 4000)]),
                     dtype=torch.float32)
    scaler = Scaler(2, "quantile").fit(X)
    Y = scaler(X)
    assert abs(float(Y[:, 0].mean())) < 0.05 and abs(float(Y[:, 0].std()) - 1) < 0.1
    assert len(torch.unique(Y[:, 1])) == 3  # each repeated value to one place
    torch.testing.assert_close(scaler.inverse(Y)[:, 1], X[:, 1])


@pytest.mark.parametrize("kind", ["robust", "quantile", "log"])
def test_new_kinds_train_and_reconstruct_in_callers_units(kind):
    X = make_derived_variables(600, random_state=0)
    ae = AutoEncoder(2, scaler=kind, hidden_layer_sizes=(32, 16), max_epochs=60,
                     random_state=0).fit(X)
    assert ae.module_.scaler.kind == kind
    R = ae.reconstruct(X)
    # Rank correlation: in raw units a/b's few extreme rows would decide a Pearson one.
    # Measured minima: quantile 0.99, log 0.97, robust 0.85 (it leaves a/b's tail at
    # thousands of interquartile ranges, which the network's other columns pay for).
    corr = [spearmanr(X[:, j], R[:, j])[0] for j in range(6)]
    assert min(corr) > 0.75, corr


def test_bad_kind_is_refused():
    with pytest.raises(ValueError, match="zscore"):
        Scaler(3, "zscore")
    X_train = load_digits(split=True)[0]
    with pytest.raises(ValueError, match="scaler"):
        AutoEncoder(2, scaler="zscore").fit(X_train)
