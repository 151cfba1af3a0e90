"""Tests for VariationalAutoEncoder: the ELBO's terms, the KL schedule, sampling, persistence."""

import inspect
import warnings

import numpy as np
import pytest
import torch
from sklearn.utils.estimator_checks import parametrize_with_checks

from aekit import AutoEncoder, VariationalAutoEncoder, diagnose, load
from aekit.training.objectives import kl_weight
from aekit.training.losses import gaussian_kl
from _sklearn_checks import FLOAT32_XFAIL

SMALL = dict(hidden_layer_sizes=(64,), max_epochs=25, random_state=0)



@parametrize_with_checks(
    [VariationalAutoEncoder(max_epochs=30)], expected_failed_checks=lambda est: FLOAT32_XFAIL
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def vae(digits):
    X_train = digits[0]
    return VariationalAutoEncoder(n_components=4, **SMALL).fit(X_train)


# ------------------------------------------------------------------------------ the ELBO
def test_kl_is_positive_after_training(vae, digits):
    assert vae.history_[-1]["kl"] > 0.1
    kl = vae.kl_per_dimension(digits[1])
    assert kl.shape == (4,)
    assert np.all(kl >= 0) and kl.sum() > 0.1


def test_negative_elbo_falls_over_epochs(vae):
    losses = [r["loss"] for r in vae.history_]
    val = [r["val_loss"] for r in vae.history_]
    assert losses[-1] < 0.8 * losses[0]
    assert min(val) < 0.8 * val[0]
    # The default KL term is on from the first epoch: loss = reconstruction + 1 * kl.
    for r in vae.history_:
        assert r["kl_weight"] == 1.0
        assert r["loss"] == pytest.approx(r["reconstruction"] + r["kl"], rel=1e-5)


def test_score_samples_is_the_elbo(vae, digits):
    X_test = digits[1]
    scores = vae.score_samples(X_test)
    assert scores.shape == (len(X_test),)
    assert vae.score(X_test) == pytest.approx(scores.mean())
    # -score_samples = reconstruction (summed squared error, scaled units) + KL, at the mean.
    module = vae.module_
    with torch.no_grad():
        x = module.scaler(torch.tensor(X_test, dtype=torch.float32))
        mean, log_var = module.encoder.distribution(x)
        expected = ((module.decoder(mean) - x) ** 2).sum(1) + gaussian_kl(mean, log_var).sum(1)
    np.testing.assert_allclose(-scores, expected.numpy(), rtol=1e-5)
    # Rows like the training data score higher than noise.
    noise = np.random.RandomState(0).uniform(size=X_test.shape)
    assert np.median(vae.score_samples(noise)) < np.median(scores)


@pytest.mark.parametrize("scaler", [None, "minmax"])
def test_bce_rows_outside_the_unit_range_are_refused_with_the_rows_and_the_fix(digits,
                                                                              scaler):
    X_train = digits[0][:200]
    X_test = X_train[:6].copy()  # in the training range, whatever the scaler
    vae = VariationalAutoEncoder(n_components=2, loss="bce", scaler=scaler, max_epochs=1,
                                 random_state=0).fit(X_train)
    assert np.all(np.isfinite(vae.score_samples(X_test)))
    X_test[[1, 4], 0] = [3.0, -1.0]
    with pytest.raises(ValueError, match=r"bce.*\[0, 1\].*2 row\(s\) \[1, 4\] of X.*clip"):
        vae.score_samples(X_test)
    with pytest.raises(ValueError, match=r"2 row\(s\) \[1, 4\] of validation_data.*mse"):
        VariationalAutoEncoder(n_components=2, loss="bce", scaler=scaler, max_epochs=1
                               ).fit(X_train, validation_data=X_test)


def test_transform_is_the_deterministic_posterior_mean(vae, digits):
    X_test = digits[1]
    Z1, Z2 = vae.transform(X_test), vae.transform(X_test)
    np.testing.assert_array_equal(Z1, Z2)
    with torch.no_grad():
        x = vae.module_.scaler(torch.tensor(X_test, dtype=torch.float32))
        mean, _ = vae.module_.encoder.distribution(x)
    np.testing.assert_array_equal(Z1, mean.numpy().astype(Z1.dtype))


# ------------------------------------------------------------------------------ sampling
def test_samples_lie_in_the_data_range_in_the_callers_units(digits):
    X_train = digits[0] * 16.0  # the original digit units, 0..16, so scaling matters
    vae = VariationalAutoEncoder(n_components=4, scaler="minmax", **SMALL).fit(X_train)
    S = vae.sample(500, random_state=0)
    assert S.shape == (500, 64) and S.dtype == np.float64
    lo, hi = X_train.min(), X_train.max()
    tol = 1e-4 * (hi - lo)
    assert S.min() >= lo - tol and S.max() <= hi + tol
    assert S.max() > 8  # the scaler was inverted: not in the network's [0, 1]
    np.testing.assert_array_equal(S, vae.sample(500, random_state=0))
    assert not np.array_equal(S, vae.sample(500, random_state=1))


def test_sample_validates_n_samples(vae):
    with pytest.raises(ValueError, match="n_samples"):
        vae.sample(0)


# ------------------------------------------------------------------------------ beta
def test_higher_beta_gives_lower_kl(digits):
    X_train, X_test = digits[0], digits[1]
    kl = {
        beta: VariationalAutoEncoder(n_components=4, beta=beta, **SMALL)
        .fit(X_train)
        .kl_per_dimension(X_test)
        .sum()
        for beta in (0.0, 4.0)
    }
    assert kl[4.0] < 0.5 * kl[0.0]


def test_kl_weight_schedule():
    assert [kl_weight(e, 2.0, 4) for e in range(1, 8)] == [0.0, 0.5, 1.0, 1.5, 2.0, 2.0, 2.0]
    assert kl_weight(1, 3.0, 0) == 3.0
    assert kl_weight(None, 2.0, 4) == 2.0  # evaluation: the full weight


def test_kl_warmup_ramps_the_recorded_weight(digits):
    vae = VariationalAutoEncoder(
        n_components=4, beta=2.0, kl_warmup_epochs=4, early_stopping=False,
        hidden_layer_sizes=(32,), max_epochs=7, random_state=0,
    ).fit(digits[0])
    weights = [r["kl_weight"] for r in vae.history_]
    assert weights == pytest.approx([0.0, 0.5, 1.0, 1.5, 2.0, 2.0, 2.0])
    for r in vae.history_:
        assert r["loss"] == pytest.approx(r["reconstruction"] + r["kl_weight"] * r["kl"], rel=1e-5)
    # Validation always uses the full beta at the posterior mean, so epochs compare fairly.
    assert all(r["val_loss"] is not None for r in vae.history_)


def test_a_warm_start_continues_the_kl_warmup(digits):
    vae = VariationalAutoEncoder(
        n_components=2, beta=2.0, kl_warmup_epochs=4, early_stopping=False, warm_start=True,
        hidden_layer_sizes=(16,), max_epochs=3, random_state=0,
    ).fit(digits[0][:300])
    vae.fit(digits[0][:300])  # epochs 4 to 6 of the model: the ramp goes on, then holds
    weights = [r["kl_weight"] for r in vae.history_]
    assert weights == pytest.approx([0.0, 0.5, 1.0, 1.5, 2.0, 2.0])


@pytest.mark.parametrize("validation_fraction", [0.0, 0.2])
def test_early_stopping_and_the_schedule_wait_for_the_end_of_the_kl_warmup(validation_fraction):
    # The loss rises with the KL weight: early stopping used to end such fits in mid
    # warm-up (epoch 21 of a 30-epoch ramp) and keep weights trained with half of beta,
    # and the plateau schedule cut the rate twice on the way.
    rng = np.random.RandomState(0)
    X = rng.randn(300, 8) @ rng.randn(8, 8)
    warmup = 30
    vae = VariationalAutoEncoder(
        n_components=2, hidden_layer_sizes=(16,), kl_warmup_epochs=warmup, patience=5,
        max_epochs=60, learning_rate=0.01, validation_fraction=validation_fraction,
        random_state=0).fit(X)
    kept = next(r for r in vae.history_ if r.get("kept"))
    assert kept["epoch"] > warmup and kept["kl_weight"] == 1.0
    assert {r["lr"] for r in vae.history_ if r["epoch"] <= warmup} == {0.01}


@pytest.mark.parametrize("beta, warned", [(0, True), (0.0, True), (1.0, False)])
def test_a_kl_warmup_with_beta_0_is_warned_of(beta, warned):
    # The warm-up scales the KL weight from 0 up to beta: with beta=0 there is nothing to scale.
    X = np.random.RandomState(0).rand(40, 6)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        VariationalAutoEncoder(beta=beta, kl_warmup_epochs=5, max_epochs=1,
                               random_state=0).fit(X)
    idle = [str(w.message) for w in caught if "has no effect" in str(w.message)]
    assert bool(idle) == warned
    if warned:
        assert idle[0].startswith(f"kl_warmup_epochs=5 has no effect with beta={beta!r}: "
                                  "it acts only with beta > 0.")


def test_beta_0_without_a_warmup_is_not_warned_of():
    X = np.random.RandomState(0).rand(40, 6)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        VariationalAutoEncoder(beta=0, max_epochs=1, random_state=0).fit(X)
    assert not [w for w in caught if "has no effect" in str(w.message)]


def test_posterior_collapse_is_diagnosed(digits):
    vae = VariationalAutoEncoder(n_components=8, beta=20.0, **SMALL).fit(digits[0])
    kl = vae.kl_per_dimension(digits[1])
    assert (kl < 0.01).any()
    assert "posterior_collapse" in diagnose(vae, digits[1]).kinds


# ------------------------------------------------------------------------------ persistence
def test_save_load_gives_identical_outputs(vae, digits, tmp_path):
    X_test = digits[1]
    vae.save(tmp_path / "vae")
    loaded = load(tmp_path / "vae", device="cpu")
    assert type(loaded) is VariationalAutoEncoder
    assert loaded.get_params() == vae.get_params()
    np.testing.assert_array_equal(loaded.transform(X_test), vae.transform(X_test))
    np.testing.assert_array_equal(loaded.score_samples(X_test), vae.score_samples(X_test))
    np.testing.assert_array_equal(loaded.sample(5, random_state=0), vae.sample(5, random_state=0))
    assert loaded.history_ == vae.history_


# ------------------------------------------------------------------------------ parameters
@pytest.mark.parametrize(
    "params, match",
    [({"beta": -1.0}, "beta"), ({"beta": "1"}, "beta"), ({"kl_warmup_epochs": 1.5}, "kl_warmup")],
)
def test_invalid_parameters_are_reported(params, match, digits):
    with pytest.raises(ValueError, match=match):
        VariationalAutoEncoder(**params).fit(digits[0][:50])


def test_parameters_are_its_own_and_no_class_attribute_stands_in():
    # The VAE has its own __init__: every parameter it takes is set there, and it takes no
    # AutoEncoder variant (conv, tied, noise, ...) that shared code would need a default for.
    ae = set(inspect.signature(AutoEncoder.__init__).parameters)
    vae = set(inspect.signature(VariationalAutoEncoder.__init__).parameters)
    assert vae - ae == {"beta", "kl_warmup_epochs"}
    for name in ae - vae:
        assert not hasattr(VariationalAutoEncoder(), name), name
    assert set(VariationalAutoEncoder._parameter_constraints) == set(
        VariationalAutoEncoder().get_params())


def test_a_fit_that_ends_inside_the_kl_warmup_warns():
    # It trained another model than the one asked for: the KL weight never reached beta.
    from sklearn.exceptions import ConvergenceWarning
    X = np.random.RandomState(0).rand(40, 6)
    vae = VariationalAutoEncoder(2, kl_warmup_epochs=10, max_epochs=4, random_state=0)
    with pytest.warns(ConvergenceWarning, match=r"max_epochs=4 ends this fit inside the KL "
                      r"warm-up \(kl_warmup_epochs=10\).*trains with 30% of it"):
        vae.fit(X)
    with pytest.warns(ConvergenceWarning, match=r"4 epochs trained before.*above 6"):
        vae.set_params(warm_start=True, max_epochs=3).fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        vae.set_params(max_epochs=4).fit(X)  # epoch 11 trains with beta
        VariationalAutoEncoder(2, kl_warmup_epochs=3, max_epochs=4, random_state=0).fit(X)


# ------------------------------------------------------------------------------ a reference
# Kingma & Welling (2014) written out in float64 NumPy from the fitted weights: the model's
# float32 numbers must agree to ~1e-5. Networks here: one ELU hidden layer each way.
def _elu(a):
    return np.where(a > 0, a, np.expm1(np.minimum(a, 0)))


def _affine(linear, h):
    return h @ linear.weight.detach().double().numpy().T + linear.bias.detach().double().numpy()


def _posterior(module, S):
    """(mean, log_var) of scaled rows ``S``, the log-variance clamped as documented."""
    h = _elu(_affine(module.encoder.trunk[0], S))
    return _affine(module.encoder.mean, h), np.clip(_affine(module.encoder.log_var, h), -10, 10)


def _decode(module, Z, sigmoid=False):
    out = _affine(module.decoder[2], _elu(_affine(module.decoder[0], Z)))
    return 1 / (1 + np.exp(-out)) if sigmoid else out


def _kl(mean, log_var):
    """KL(N(mean, exp(log_var)) || N(0, I)) of each row, summed over latent dimensions."""
    return 0.5 * (mean**2 + np.exp(log_var) - 1 - log_var).sum(1)


def test_the_elbo_terms_match_a_float64_reference():
    rng = np.random.default_rng(0)
    X, X_val = (rng.normal(size=(n, 5)) * [1, 2, 3, 4, 5] + [0, 1, 2, 3, 4] for n in (60, 20))
    vae = VariationalAutoEncoder(2, hidden_layer_sizes=(8,), scaler="standard", beta=2.5,
                                 max_epochs=3, random_state=0).fit(X, validation_data=X_val)
    m = vae.module_
    offset, scale = X.mean(0), X.std(0)
    S, S_val = (X - offset) / scale, (X_val - offset) / scale
    mean, log_var = _posterior(m, S)
    np.testing.assert_allclose(vae.transform(X), mean, rtol=1e-5, atol=1e-6)
    sq_err = ((_decode(m, mean) - S) ** 2).sum(1)  # the Gaussian NLL of variance 1/2 - const
    # score_samples: the ELBO at the posterior mean with KL weight 1, whatever beta.
    np.testing.assert_allclose(vae.score_samples(X), -(sq_err + _kl(mean, log_var)),
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(vae.kl_per_dimension(X),
                               [_kl(mean[:, [j]], log_var[:, [j]]).mean() for j in (0, 1)],
                               rtol=1e-5, atol=1e-7)
    # The kept epoch's hold-out terms: the posterior mean, the full beta.
    kept = [r for r in vae.history_ if r.get("kept")][0]
    mean_v, log_var_v = _posterior(m, S_val)
    rec_v, kl_v = ((_decode(m, mean_v) - S_val) ** 2).sum(1).mean(), _kl(mean_v, log_var_v).mean()
    assert kept["val_reconstruction"] == pytest.approx(rec_v, rel=1e-5)
    assert kept["val_kl"] == pytest.approx(kl_v, rel=1e-5)
    assert kept["val_loss"] == pytest.approx(rec_v + 2.5 * kl_v, rel=1e-5)
    # Training: a reparameterised draw z = mean + exp(log_var / 2) * eps, the ramped weight.
    objective = vae._objective().__class__(loss="mse", beta=2.5, warmup_epochs=4)
    x = torch.tensor(S, dtype=torch.float32)
    torch.manual_seed(5)
    with torch.no_grad():
        terms = objective(m.train(), {"x": x, "x_in": x}, 3)
    m.eval()
    torch.manual_seed(5)
    eps = torch.randn(60, 2).double().numpy()
    rec = ((_decode(m, mean + np.exp(log_var / 2) * eps) - S) ** 2).sum(1).mean()
    assert float(terms["kl_weight"]) == 2.5 * 2 / 4  # epoch 3 of a 4-epoch warm-up
    assert float(terms["reconstruction"]) == pytest.approx(rec, rel=1e-5)
    assert float(terms["loss"]) == pytest.approx(rec + 1.25 * _kl(mean, log_var).mean(),
                                                 rel=1e-5)
    # Decoding, in the caller's units: codes given, and draws from the prior.
    Z = rng.normal(size=(7, 2))
    np.testing.assert_allclose(vae.inverse_transform(Z), _decode(m, Z) * scale + offset,
                               rtol=1e-5, atol=1e-5)
    prior = np.random.RandomState(3).standard_normal((7, 2))
    np.testing.assert_allclose(vae.sample(7, random_state=3), _decode(m, prior) * scale + offset,
                               rtol=1e-5, atol=1e-5)


def test_a_bce_score_checks_the_target_not_the_input():
    # fit(X, y) with loss="bce" takes inputs outside [0, 1] (the Bernoulli likelihood is the
    # target's), and so must score(X, y): it refused them, naming rows "of X".
    rng = np.random.default_rng(0)
    Y = rng.uniform(size=(60, 5))
    X_noisy = Y + rng.normal(scale=0.3, size=Y.shape)
    assert X_noisy.min() < 0 and X_noisy.max() > 1
    vae = VariationalAutoEncoder(2, hidden_layer_sizes=(8,), loss="bce", scaler=None,
                                 max_epochs=3, random_state=0)
    vae.fit(X_noisy, Y, validation_data=(X_noisy[:10], Y[:10]))
    mean, log_var = _posterior(vae.module_, X_noisy)
    p = _decode(vae.module_, mean, sigmoid=True)
    nll = -(Y * np.log(p) + (1 - Y) * np.log(1 - p)).sum(1)
    assert vae.score(X_noisy, Y) == pytest.approx(-(nll + _kl(mean, log_var)).mean(), rel=1e-5)
    kept = [r for r in vae.history_ if r.get("kept")][0]
    assert vae.score(X_noisy[:10], Y[:10]) == pytest.approx(-kept["val_loss"], rel=1e-5)
    with pytest.raises(ValueError, match=r"row\(s\) \[2\] of y"):
        vae.score(X_noisy, np.where(np.arange(60)[:, None] == 2, 1.5, Y))
    with pytest.raises(ValueError, match=r"of X leave it"):  # X is its own target
        vae.score_samples(X_noisy)


def test_score_is_documented_as_the_mean_elbo():
    # It inherited the AutoEncoder's text: "minus the mean squared error".
    doc = inspect.getdoc(VariationalAutoEncoder.score)
    assert "ELBO" in doc and "minus the mean squared error" not in doc
