"""What a Keras user reaches for, in scikit-learn's idiom: optimizer defaults that match
PyTorch's, fit(X, y) targets, sample_weight, validation_data, warm_start, custom modules and
losses, every torch activation, summary(); and the seed's Keras network ported line by line."""

import inspect
import re
import warnings

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.metrics import r2_score
from sklearn.model_selection import train_test_split
from torch import nn

from aekit import AutoEncoder, VariationalAutoEncoder, diagnose
from aekit.data import DERIVED_VARIABLE_NAMES, make_derived_variables
from aekit.evaluation.diagnostics import DiagnosticWarning
from aekit.nn.layers import ACTIVATIONS
from aekit.training.loop import DEFAULT_LEARNING_RATES, OPTIMIZERS, make_optimizer

SMALL = dict(hidden_layer_sizes=(32,), random_state=0)


# --------------------------------------------------------------------------- optimizer defaults
@pytest.mark.parametrize("name", OPTIMIZERS)
def test_learning_rate_none_is_pytorchs_own_default(name):
    opt = make_optimizer(name, [nn.Parameter(torch.zeros(2))])
    cls = type(opt)
    assert opt.param_groups[0]["lr"] == inspect.signature(cls).parameters["lr"].default
    assert DEFAULT_LEARNING_RATES[name] == opt.param_groups[0]["lr"]
    assert make_optimizer(name, [nn.Parameter(torch.zeros(2))], 0.5).param_groups[0]["lr"] == 0.5


def test_adadelta_port_trains_with_rate_one(digits):
    ae = AutoEncoder(2, optimizer="adadelta", max_epochs=3, **SMALL).fit(digits[0])
    assert ae.learning_rate is None and ae.history_[0]["lr"] == 1.0


def test_readme_adadelta_row_says_which_keras_shares_the_rate(readme_section, digits):
    # The row said learning_rate=None is Adadelta's 1.0 "as in Keras and PyTorch": Keras
    # 2.3 and later (tf.keras, Keras 3) document Adadelta(learning_rate=0.001, rho=0.95,
    # epsilon=1e-07); only Keras up to 2.2 had 1.0. A port of a script written for a newer
    # Keras passes learning_rate=0.001, which the row must name; rho is not a parameter here.
    row = next(line for line in readme_section("Coming from Keras").splitlines()
               if line.startswith("| `model.compile(optimizer=\"adadelta\""))
    assert "`learning_rate=0.001`" in row and "Keras 3" in row
    assert DEFAULT_LEARNING_RATES["adadelta"] == 1.0 and "1.0, as in Keras up to 2.2" in row
    rho = inspect.signature(torch.optim.Adadelta).parameters["rho"].default
    assert f"PyTorch's {rho}" in row and "Keras' rho is 0.95" in row
    ae = AutoEncoder(2, optimizer="adadelta", learning_rate=0.001, max_epochs=1, **SMALL)
    assert ae.fit(digits[0][:200]).history_[0]["lr"] == 0.001


# --------------------------------------------------------------------------- fit(X, y)
@pytest.fixture(scope="module")
def noisy_pairs(digits):
    X_train, X_test = digits[0], digits[1]
    rng = np.random.RandomState(0)

    def noisy(X):
        return np.clip(X + 0.3 * rng.standard_normal(X.shape), 0, 1).astype(X.dtype)

    return noisy(X_train), X_train, noisy(X_test), X_test


def test_fit_x_noisy_y_clean_trains_a_denoiser(noisy_pairs):
    X_noisy, X_clean, T_noisy, T_clean = noisy_pairs
    params = dict(n_components=16, hidden_layer_sizes=(64,), max_epochs=60, random_state=0)
    pairs = AutoEncoder(**params).fit(X_noisy, X_clean)
    copies = AutoEncoder(**params).fit(X_noisy)  # learns to give the noise back
    err_pairs = ((pairs.reconstruct(T_noisy) - T_clean) ** 2).mean()
    err_copies = ((copies.reconstruct(T_noisy) - T_clean) ** 2).mean()
    err_input = ((T_noisy - T_clean) ** 2).mean()
    assert err_pairs < 0.6 * err_copies, (err_pairs, err_copies)
    assert err_pairs < 0.5 * err_input


@pytest.mark.parametrize("family", [AutoEncoder, VariationalAutoEncoder])
def test_score_measures_against_the_target_so_a_grid_search_picks_the_denoiser(
        noisy_pairs, family):
    # score(X, y) ignored y: a grid search on denoising pairs scored each model on how well
    # it gave the noisy input back, and ranked a copier of the noise above a denoiser.
    X_noisy, X_clean, T_noisy, T_clean = noisy_pairs
    n = 400
    params = dict(n_components=8, hidden_layer_sizes=(32,), max_epochs=10, random_state=0)
    denoiser = family(**params).fit(X_noisy[:n], X_clean[:n])
    copier = family(**params).fit(X_noisy[:n])
    assert denoiser.score(T_noisy, T_clean) > copier.score(T_noisy, T_clean)
    assert copier.score(T_noisy) > denoiser.score(T_noisy)  # without y: against X
    labels = np.zeros(len(T_noisy))  # 1-D labels, as a Pipeline passes: still against X
    assert denoiser.score(T_noisy, labels) == denoiser.score(T_noisy)
    if family is AutoEncoder:
        errors = denoiser.reconstruct_scaled(T_noisy) - denoiser.to_scaled(T_clean)
        assert denoiser.score(T_noisy, T_clean) == pytest.approx(-np.mean(errors ** 2),
                                                                 rel=1e-5)


def test_one_dimensional_y_is_ignored_and_other_shapes_are_refused(digits):
    X, _, y, _ = digits
    a = AutoEncoder(2, max_epochs=2, **SMALL).fit(X)
    b = AutoEncoder(2, max_epochs=2, **SMALL).fit(X, y)  # labels, as a Pipeline passes
    np.testing.assert_array_equal(a.transform(X), b.transform(X))
    with pytest.raises(ValueError, match=r"must have X's shape.*fit\(X_noisy, X_clean\)"):
        AutoEncoder(2, max_epochs=1).fit(X, X[:, :10])


def test_a_table_target_must_match_the_tables_columns():
    # A target's columns are taken by position: a DataFrame y with X's columns in another
    # order trained the model to swap them, and reconstruct() labelled them with X's names.
    # A table with categories gave "could not convert string to float" (its categories are
    # coded inside the model, a target's would not be).
    import pandas as pd

    rng = np.random.RandomState(0)
    X = pd.DataFrame({"a": rng.randn(60), "b": rng.rand(60)})
    kw = dict(n_components=1, hidden_layer_sizes=(4,), max_epochs=1, random_state=0)
    with pytest.raises(ValueError, match=r"y's columns \['b', 'a'\] are not X's"):
        AutoEncoder(**kw).fit(X, X[["b", "a"]])
    with pytest.raises(ValueError, match="y's columns"):
        AutoEncoder(**kw).fit(X, X, validation_data=(X, X[["b", "a"]]))
    AutoEncoder(**kw).fit(X, X.to_numpy()[:, ::-1])  # by position, as asked
    table = X.assign(c=rng.choice(list("xyz"), 60))
    with pytest.raises(ValueError, match="table with categorical columns.*fit\\(X\\)"):
        AutoEncoder(**kw).fit(table, table)


# --------------------------------------------------------------------------- sample_weight
def test_rows_of_weight_zero_have_no_influence(digits):
    X_train = digits[0]
    rng = np.random.RandomState(1)
    junk_a, junk_b = (rng.rand(300, 64).astype(X_train.dtype) for _ in range(2))
    w = np.r_[np.ones(len(X_train)), np.zeros(300)]
    params = dict(n_components=4, hidden_layer_sizes=(32,), max_epochs=5, random_state=0,
                  scaler=None)  # a scaler fitted on the junk would differ
    a = AutoEncoder(**params).fit(np.concatenate([X_train, junk_a]), sample_weight=w)
    b = AutoEncoder(**params).fit(np.concatenate([X_train, junk_b]), sample_weight=w)
    np.testing.assert_array_equal(a.transform(digits[1]), b.transform(digits[1]))
    c = AutoEncoder(**params).fit(np.concatenate([X_train, junk_b]))
    assert not np.array_equal(a.transform(digits[1]), c.transform(digits[1]))
    # The weighted score is the weighted mean of the rows' scores.
    s = a.score_samples(X_train[:20])
    w20 = np.arange(20.0)
    assert a.score(X_train[:20], sample_weight=w20) == pytest.approx(np.average(s, weights=w20))


def test_the_hold_out_is_drawn_among_rows_of_positive_weight(digits):
    from aekit.estimators._targets import hold_out

    order = np.random.RandomState(0).permutation(300)
    w = np.zeros(300)
    w[:30] = 1
    train, held = hold_out(order, w, 0.1)
    assert len(held) == 3 and (w[held] > 0).all()
    np.testing.assert_array_equal(np.sort(np.r_[train, held]), np.arange(300))
    # Every weight positive: the unweighted split.
    for split, plain in zip(hold_out(order, np.full(300, 2.0), 0.1), hold_out(order, None, 0.1)):
        np.testing.assert_array_equal(split, plain)
    # Three weighted rows: too few for both sides, so no hold-out, not one of weight 0
    # whose loss of 0 every epoch would stop the fit after `patience` epochs.
    X = digits[0][:300]
    w = np.zeros(300)
    w[:3] = 1
    params = dict(n_components=2, max_epochs=8, patience=2, **SMALL)
    ae = AutoEncoder(**params).fit(X, sample_weight=w)
    assert ae.validation_loss_ is None and ae.n_iter_ == 8
    alone = AutoEncoder(**params, validation_fraction=0.0).fit(X, sample_weight=w)
    np.testing.assert_array_equal(ae.transform(X), alone.transform(X))


def test_weighted_objective_is_the_weighted_mean_of_row_losses():
    from aekit.training.objectives import Reconstruction

    torch.manual_seed(0)
    module = nn.Module()
    module.encoder, module.decoder = nn.Linear(5, 2), nn.Linear(2, 5)
    x, w = torch.randn(8, 5), torch.rand(8)
    w = w / w.mean()
    out = Reconstruction()(module, {"x": x, "x_in": x, "w": w})
    rows = ((module.decoder(module.encoder(x)) - x) ** 2).mean(1)
    assert float(out["loss"].detach()) == pytest.approx(float((w * rows).mean().detach()), rel=1e-6)


def test_bad_sample_weights_say_why(digits):
    X = digits[0][:50]
    with pytest.raises(ValueError, match="non-zero"):
        AutoEncoder(max_epochs=1).fit(X, sample_weight=np.zeros(50))
    with pytest.raises(ValueError, match="(?i)negative"):
        AutoEncoder(max_epochs=1).fit(X, sample_weight=-np.ones(50))


def test_score_checks_its_weights_as_fit_does(digits):
    # score(X, sample_weight=w) took negative weights silently and failed on a wrong length
    # or all zeros (a cross-validation fold's) with numpy's TypeError or ZeroDivisionError.
    X = digits[0][:50]
    for est in (AutoEncoder(max_epochs=1, **SMALL), VariationalAutoEncoder(max_epochs=1,
                                                                          random_state=0)):
        est.fit(X)
        with pytest.raises(ValueError, match="(?i)negative"):
            est.score(X, sample_weight=-np.ones(50))
        with pytest.raises(ValueError, match="non-zero"):
            est.score(X, sample_weight=np.zeros(50))
        with pytest.raises(ValueError, match=r"\(10,\), expected \(50,\)"):
            est.score(X, sample_weight=np.ones(10))


def test_callable_loss_is_what_is_minimised(digits):
    X, X_val = digits[0][:300], digits[1]
    ae = AutoEncoder(2, loss=nn.L1Loss(), max_epochs=2, **SMALL).fit(X, validation_data=X_val)
    module = ae.module_
    with torch.no_grad():
        x = module.scaler(torch.as_tensor(X_val))
        l1 = float((module(x) - x).abs().mean())
    assert ae.validation_loss_ == pytest.approx(l1, rel=1e-5)
    with pytest.raises(ValueError, match="reduction='none'"):
        AutoEncoder(2, loss=nn.L1Loss(), max_epochs=1).fit(X, sample_weight=np.ones(len(X)))
    AutoEncoder(2, loss=nn.L1Loss(reduction="none"), max_epochs=1).fit(
        X, sample_weight=np.ones(len(X)))
    with pytest.raises(ValueError, match="cannot be saved"):
        ae.save("unused")


def test_a_callable_loss_takes_the_reconstruction_first(readme_section, digits):
    # Keras calls loss(y_true, y_pred); aekit calls loss(x_hat, x), as torch's losses: an
    # asymmetric Keras loss ported as it is would swap them, so the README row says which.
    seen = []

    def loss(first, second):
        seen.append((first.requires_grad, second.requires_grad))
        return ((first - second) ** 2).mean()

    AutoEncoder(2, loss=loss, max_epochs=1, validation_fraction=0.0, **SMALL).fit(
        digits[0][:100])
    assert seen and all(first and not second for first, second in seen)
    row = next(line for line in readme_section("Coming from Keras").splitlines()
               if line.startswith("| your own layers"))
    assert "`loss(x_hat, x)` (the reconstruction first" in row
    assert "Keras' is `loss(y_true, y_pred)`" in row


def test_a_callable_loss_of_the_wrong_shape_or_type_is_explained(digits):
    from aekit.training import losses

    x_hat, x = torch.rand(5, 3), torch.rand(5, 3)
    w = torch.ones(5)
    per_feature = (lambda a, b: ((a - b) ** 2).mean(0))  # (3,): was cut into rows silently
    with pytest.raises(ValueError, match=r"returned shape \(3,\) for a batch of 5 rows"):
        losses.reconstruction(x_hat, x, per_feature, w)
    with pytest.raises(ValueError, match="returned a float.*return a tensor"):
        losses.reconstruction(x_hat, x, lambda a, b: 0.5)  # was an AttributeError
    per_row = losses.reconstruction(x_hat, x, lambda a, b: ((a - b) ** 2).sum(1), w)
    assert per_row == pytest.approx(float(((x_hat - x) ** 2).sum(1).mean()))
    with pytest.raises(ValueError, match="custom loss returned shape"):
        AutoEncoder(2, loss=per_feature, max_epochs=1, batch_size=50, **SMALL).fit(
            digits[0][:100], sample_weight=np.ones(100))


# --------------------------------------------------------------------------- validation_data
def test_validation_data_is_the_hold_out(digits):
    X_train, X_test = digits[0], digits[1]
    ae = AutoEncoder(2, max_epochs=5, validation_fraction=0.5, **SMALL).fit(
        X_train, validation_data=X_test)
    module = ae.module_
    with torch.no_grad():
        x = module.scaler(torch.as_tensor(X_test))
        val = float(((module(x) - x) ** 2).mean())
    assert ae.validation_loss_ == pytest.approx(val, rel=1e-5)
    # (X_val, y_val) pairs work as fit's do.
    AutoEncoder(2, max_epochs=1, **SMALL).fit(X_train, X_train,
                                              validation_data=(X_test, X_test))
    with pytest.raises(ValueError, match="tuple of 4"):
        AutoEncoder(2, max_epochs=1).fit(X_train, validation_data=(X_test,) * 4)


# --------------------------------------------------------------------------- warm_start
def test_warm_start_continues_the_fit(digits):
    X = digits[0]
    ae = AutoEncoder(2, max_epochs=5, warm_start=True, early_stopping=False, **SMALL).fit(X)
    first = ae.history_[-1]["loss"]
    ae.fit(X)
    assert ae.n_iter_ == 10
    assert [r["epoch"] for r in ae.history_] == list(range(1, 11))
    assert sum(bool(r.get("kept")) for r in ae.history_) == 1
    # The sixth epoch starts where the fifth ended, not from scratch.
    assert ae.history_[5]["loss"] < 1.05 * first < ae.history_[0]["loss"]
    cold = clone(ae).set_params(warm_start=False).fit(X)
    assert cold.n_iter_ == 5
    with pytest.raises(ValueError, match="warm_start=False"):
        ae.set_params(n_components=3).fit(X)


# --------------------------------------------------------------------------- custom parts
def test_custom_encoder_module_is_copied_and_trained(digits):
    X = digits[0]
    encoder = nn.Sequential(nn.Linear(64, 32), nn.GELU(), nn.Linear(32, 2))
    before = {k: v.clone() for k, v in encoder.state_dict().items()}
    ae = AutoEncoder(2, encoder=encoder, max_epochs=20, random_state=0).fit(X)
    assert ae.module_.encoder is not encoder
    assert all(torch.equal(before[k], v) for k, v in encoder.state_dict().items())
    assert isinstance(ae.module_.encoder[1], nn.GELU)
    assert ae.transform(digits[1]).shape == (len(digits[1]), 2)
    assert ae.history_[-1]["loss"] < 0.8 * ae.history_[0]["loss"]
    clone(ae)  # scikit-learn can still copy its parameters
    with pytest.raises(ValueError, match="cannot be saved"):
        ae.save("unused")


def test_custom_module_of_the_wrong_size_is_explained(digits):
    with pytest.raises(ValueError, match="n_components=2"):
        AutoEncoder(2, encoder=nn.Linear(64, 3), max_epochs=1).fit(digits[0])
    with pytest.raises(ValueError, match="rows of 64 features"):
        AutoEncoder(2, decoder=nn.Linear(2, 10), max_epochs=1).fit(digits[0])
    with pytest.raises(ValueError, match="built-in dense network only"):
        AutoEncoder(2, encoder=nn.Linear(64, 2), tied=True).fit(digits[0])


def _encoder(*last):
    return nn.Sequential(nn.Linear(64, 16), nn.ELU(), nn.Linear(16, 4), *last)


def _decoder():
    return nn.Sequential(nn.Linear(4, 16), nn.ELU(), nn.Linear(16, 64))


@pytest.mark.parametrize("parts, params", [
    (dict(encoder=_encoder()), dict(code_activation="tanh")),  # the built-in code layer
    (dict(decoder=_decoder()), dict(output_activation="linear")),  # the built-in output
    (dict(encoder=_encoder(), decoder=_decoder()),
     dict(hidden_layer_sizes=(99,), activation="relu", dropout=0.5)),
])
def test_parameters_of_replaced_parts_are_refused(digits, parts, params):
    with pytest.raises(ValueError, match=r"with your own .*change nothing") as err:
        AutoEncoder(4, max_epochs=1, **parts, **params).fit(digits[0][:50])
    for name, value in params.items():
        assert f"{name}={value!r}" in str(err.value)


def test_parameters_of_the_built_in_part_still_act(digits):
    ae = AutoEncoder(4, encoder=_encoder(), dropout=0.5, activation="tanh", max_epochs=1,
                     random_state=0).fit(digits[0][:50])
    assert any(isinstance(m, nn.Dropout) for m in ae.module_.decoder)
    assert any(isinstance(m, nn.Tanh) for m in ae.module_.decoder)


def test_kl_sparsity_puts_a_sigmoid_on_a_custom_encoder(digits):
    X = digits[0][:300]
    ae = AutoEncoder(4, encoder=_encoder(), sparsity="kl", max_epochs=5, **SMALL).fit(X)
    Z = ae.transform(X)
    assert Z.min() > 0 and Z.max() < 1  # what the KL penalty needs; unclamped, it trains
    assert isinstance(ae.module_.encoder[-1], nn.Sigmoid) and len(ae.module_.encoder) == 4
    assert ae.history_[-1]["sparsity"] < ae.history_[0]["sparsity"]
    with pytest.raises(ValueError, match="already ends with torch.nn.Sigmoid"):
        AutoEncoder(4, encoder=_encoder(nn.Sigmoid()), sparsity="kl").fit(X)


@pytest.mark.parametrize("name, cls", [("gelu", nn.GELU), ("silu", nn.SiLU),
                                       ("softplus", nn.Softplus), ("mish", nn.Mish)])
def test_torch_activations_by_name(digits, name, cls):
    ae = AutoEncoder(2, activation=name, max_epochs=2, **SMALL).fit(digits[0][:200])
    assert any(isinstance(m, cls) for m in ae.module_.modules())
    assert name in ACTIVATIONS


# --------------------------------------------------------------------------- summary
@pytest.mark.parametrize("params", [dict(), dict(tied=True), dict(architecture="conv",
                                                                  image_shape=(8, 8))])
def test_summary_counts_every_parameter_once(digits, params):
    ae = AutoEncoder(2, max_epochs=1, random_state=0, **params).fit(digits[0][:200])
    s = ae.summary()
    assert s.total == sum(p.numel() for p in ae.module_.parameters())
    assert sum(layer.params for layer in s.layers) == s.total
    shapes = [layer.output_shape for layer in s.layers]
    assert (2,) in shapes and shapes[-1] == (64,)
    text = str(s)
    assert "precision: float32" in text and f"{s.total:,}" in text


def test_vae_summary_shows_both_posterior_heads(digits):
    vae = VariationalAutoEncoder(2, max_epochs=1, random_state=0).fit(digits[0][:200])
    names = [layer.name for layer in vae.summary().layers]
    assert "encoder.mean" in names and "encoder.log_var" in names


# ------------------------------------------------------------------ choices that cannot work
def test_sigmoid_output_on_standardised_data_warns_with_the_fix(digits):
    with pytest.warns(DiagnosticWarning, match="scaler='minmax'"):
        AutoEncoder(2, output_activation="sigmoid", scaler="standard", max_epochs=1).fit(
            digits[0][:200])
    with warnings.catch_warnings():
        warnings.simplefilter("error", DiagnosticWarning)
        AutoEncoder(2, output_activation="sigmoid", scaler="minmax", max_epochs=1).fit(
            digits[0][:200])


# --------------------------------------------------------------------------- the seed's port
@pytest.fixture(scope="module")
def derived():
    X = make_derived_variables(2000, random_state=0)
    return train_test_split(X, random_state=0)


def test_seed_port_fails_and_diagnose_names_the_causes(readme_section, capsys):
    # The README's port, run as written (it ran only in the slow test of every block, and
    # this test fitted a copy of its parameters): its R² figures and the findings it names.
    section = readme_section("Coming from Keras")
    block = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    namespace: dict = {}
    with pytest.warns(DiagnosticWarning, match="sigmoid"):  # a/b exceeds 1: said at fit
        exec(compile(block, "README.md", "exec"), namespace)
    port, X_train, X_test = namespace["port"], namespace["D_train"], namespace["D_test"]
    r2 = r2_score(X_test, port.reconstruct(X_test), multioutput="raw_values")
    said = re.search(r"R² per variable, seed 0: ([^)]*)\)", section).group(1)
    names = [name.replace("\\", "") for name in re.findall(r"(\S+) -?\d\.\d\d", said)]
    assert tuple(names) == DERIVED_VARIABLE_NAMES
    np.testing.assert_allclose(r2, [float(v) for v in re.findall(r"-?\d\.\d\d", said)],
                               atol=0.015)
    diagnosis = diagnose(port, X_train)
    assert diagnosis.kinds[0] in capsys.readouterr().out  # the block prints the diagnosis
    # Every finding diagnose gives is named where the prose says why, and no other.
    why = section[section.index("`diagnose` says why"):section.index("with aekit's defaults")]
    named = set(re.findall(r"`([a-z]+(?:_[a-z]+)*)`", why)) - {"diagnose"}
    assert named == set(diagnosis.kinds)
    # The division cannot come out of a sigmoid; the others are lost behind a layer that
    # passes on fewer directions than the code has, with dead ReLU units in it.
    assert diagnosis.get("output_range").details["features"] == [4]
    bottleneck = diagnosis.get("bottleneck")
    assert bottleneck is not None and bottleneck.severity == "error"
    assert bottleneck.details["width"] < 2 and bottleneck.details["dead"] >= 1
    assert "dead" in bottleneck.what_was_seen and "elu" in bottleneck.what_to_do


@pytest.mark.slow
def test_defaults_learn_what_the_port_loses(derived):
    X_train, X_test = derived
    ae = AutoEncoder(n_components=2, random_state=0).fit(X_train)
    r2 = r2_score(X_test, ae.reconstruct(X_test), multioutput="raw_values")
    for name, value in zip(DERIVED_VARIABLE_NAMES, r2):  # the README: 0.999 or more on
        assert value >= 0.999, (name, value)              # each, the division included
    assert "bottleneck" not in diagnose(ae, X_train).kinds


# --------------------------------------------------------------------------- small data
@pytest.mark.slow
def test_default_two_codes_on_a_4000_row_fashion_sample():
    from sklearn.decomposition import PCA

    from aekit.data import load_fashion_mnist

    try:
        X_train, X_test = load_fashion_mnist(split=True, download=False)[:2]
    except FileNotFoundError:
        pytest.skip("Fashion-MNIST is not installed (Debian package dataset-fashion-mnist)")
    X = X_train[np.sort(np.random.RandomState(0).permutation(len(X_train))[:4000])]
    pca = PCA(2).fit(X)
    pca_err = ((pca.inverse_transform(pca.transform(X_test)) - X_test) ** 2).mean()
    ae = AutoEncoder(n_components=2, random_state=0).fit(X)
    ratio = ((ae.reconstruct(X_test) - X_test) ** 2).mean() / pca_err
    assert ratio <= 0.80, ratio  # 0.665 measured


def test_readme_scaler_row_says_what_the_default_does_to_the_ports_data(readme_section):
    # The row said the default "standardises": on the port's data it also logs a/b first.
    row = next(line for line in readme_section("Coming from Keras").splitlines()
               if line.startswith("| no scaling of `X`"))
    assert 'default, `"auto"`, standardises' in row and "signed log" in row and "a/b" in row
    X = make_derived_variables(300, random_state=0)
    ae = AutoEncoder(2, hidden_layer_sizes=(8,), max_epochs=1, random_state=0).fit(X)
    assert ae.scaler == "auto"
    logged = ae.module_.scaler.logged.tolist()
    assert [n for n, on in zip(DERIVED_VARIABLE_NAMES, logged) if on] == ["a/b"]


# --------------------------------------------------------------------------- history_
def test_history_holds_what_the_readme_says(readme_section):
    # The README said history_ holds caller_mse and lr every epoch: caller_mse is recorded
    # only where the scaler is affine per feature (not after "auto"'s log, which the
    # derived variables' a/b gets), and lr only under lr_schedule="plateau".
    section = " ".join(readme_section("Coming from Keras").split())
    without = re.search(r"`caller_mse`[^)]*? not after (.*?)\)", section).group(1)
    named = re.findall(r'`"(\w+)"`', without)
    assert set(named) == {"auto", "quantile", "log", "sample"}
    X = make_derived_variables(200, random_state=0)

    def keys(**params):
        ae = AutoEncoder(2, hidden_layer_sizes=(8,), max_epochs=1, random_state=0, **params)
        return set(ae.fit(X).history_[-1])

    for scaler in named:
        assert "caller_mse" not in keys(scaler=scaler), scaler
    for scaler in (None, "standard"):
        assert "caller_mse" in keys(scaler=scaler), scaler
    assert 'the learning rate `lr` under `lr_schedule="plateau"`' in section
    assert "lr" in keys() and "lr" not in keys(lr_schedule="constant")
