"""Tests for aekit.evaluation.diagnostics: each failure is found on a model built to have it, and a
healthy model is left alone."""

import copy
import json
import warnings

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError
import torch

import aekit
from aekit import AutoEncoder
from aekit.data import make_low_variance
from aekit.evaluation.diagnostics import (
    Diagnosis,
    DiagnosticWarning,
    Finding,
    diagnose,
    warn_findings,
)


@pytest.fixture(scope="module")
def elu_ae(digits):
    return AutoEncoder(
        n_components=2, hidden_layer_sizes=(64, 32), activation="elu", max_epochs=60,
        random_state=0,
    ).fit(digits[0])


@pytest.fixture(scope="module")
def relu_ae(digits):
    return AutoEncoder(
        n_components=2, hidden_layer_sizes=(64, 32), activation="relu", max_epochs=15,
        random_state=0,
    ).fit(digits[0])


@pytest.fixture(scope="module")
def low_variance():
    return make_low_variance(400, 12, random_state=0)


# --------------------------------------------------------------------------- units
def test_dead_relu_units_are_reported_with_their_fraction(digits, relu_ae):
    X_train = digits[0]
    ae = copy.deepcopy(relu_ae)
    first = ae.module_.encoder[0]  # Linear(64 -> 64), followed by encoder[1] = ReLU
    with torch.no_grad():
        first.bias[:40] = -1e4  # no input in [0, 1] can lift these units above 0
    before = diagnose(relu_ae, X_train).get("dead_units")
    n_before = before.details["layers"]["encoder.1"]["dead"] if before else 0
    finding = diagnose(ae, X_train).get("dead_units")
    assert finding is not None
    layers = finding.details["layers"]
    assert layers["encoder.1"]["units"] == 64
    assert 40 <= layers["encoder.1"]["dead"] <= 40 + n_before
    total = sum(layer["units"] for layer in layers.values())
    assert total == 64 + 32 + 32 + 64  # every hidden ReLU of encoder and decoder
    assert finding.details["fraction"] == pytest.approx(finding.details["dead"] / total)
    assert f"{finding.details['fraction']:.0%}" in finding.what_was_seen
    assert finding.severity in ("warning", "error")
    assert "elu" in finding.what_to_do


def test_healthy_elu_network_on_digits_reports_no_unit_or_code_problem(digits, elu_ae):
    diagnosis = diagnose(elu_ae, digits[0])
    for kind in ("dead_units", "saturated_units", "collapsed_code", "badly_scaled_input",
                 "posterior_collapse"):
        assert kind not in diagnosis.kinds, str(diagnosis)


def test_diagnose_leaves_the_model_untouched(digits, relu_ae):
    state = {k: v.clone() for k, v in relu_ae.module_.state_dict().items()}
    Z = relu_ae.transform(digits[1])
    diagnose(relu_ae, digits[0])
    assert all(torch.equal(state[k], v) for k, v in relu_ae.module_.state_dict().items())
    assert not relu_ae.module_.training
    np.testing.assert_array_equal(relu_ae.transform(digits[1]), Z)
    # No hooks left behind.
    assert all(not m._forward_hooks for m in relu_ae.module_.modules())


def test_saturated_tanh_units_are_reported(digits):
    ae = AutoEncoder(n_components=2, hidden_layer_sizes=(16,), activation="tanh",
                     max_epochs=2, random_state=0).fit(digits[0][:300])
    with torch.no_grad():
        ae.module_.encoder[0].bias[:8] = 50.0  # tanh(50 + small) == 1 for every row
    finding = diagnose(ae, digits[0]).get("saturated_units")
    assert finding is not None
    assert finding.details["layers"]["encoder.1"]["saturated"] >= 8


def test_sigmoid_output_layer_is_not_judged(digits):
    # Digits are mostly white: the sigmoid output sits near 0 on most pixels, by design.
    ae = AutoEncoder(n_components=2, hidden_layer_sizes=(16,), scaler="minmax", max_epochs=5,
                     random_state=0).fit(digits[0][:400])
    assert ae.output_activation_ == "sigmoid"
    with torch.no_grad():
        ae.module_.decoder[-2].bias[:] = -30.0  # every output pixel ~0: saturated, on purpose
    assert isinstance(ae.module_.decoder[-1], torch.nn.Sigmoid)
    assert "saturated_units" not in diagnose(ae, digits[0]).kinds


# --------------------------------------------------------------------------- codes
def test_collapsed_code_dimension_is_reported(digits, elu_ae):
    ae = copy.deepcopy(elu_ae)
    last = ae.module_.encoder[-1]  # the linear code layer
    with torch.no_grad():
        last.weight[1] = 0.0
    finding = diagnose(ae, digits[0]).get("collapsed_code")
    assert finding is not None
    assert finding.details["collapsed"] == [1]
    assert "n_components to 1" in finding.what_to_do


class _StandIn:
    """Just enough of a variational estimator for the duck-typed checks."""

    def __init__(self, kl, history=(), max_epochs=100, early_stopping=True, warmup=0):
        self.module_ = object()  # not a torch module: unit checks are skipped
        self._warmup = warmup
        self._kl = np.asarray(kl, dtype=float)
        self.history_ = list(history)
        self.max_epochs = max_epochs
        self.early_stopping = early_stopping
        self.scaler = "standard"

    def transform(self, X):
        rng = np.random.RandomState(0)
        return rng.normal(size=(len(X), len(self._kl)))

    def kl_per_dimension(self, X):
        return self._kl

    def _warmup_epochs(self):
        return self._warmup


def test_posterior_collapse_is_reported_from_kl_per_dimension():
    X = np.random.RandomState(0).normal(size=(50, 4))
    finding = diagnose(_StandIn([1.3, 0.002, 0.8, 0.0001]), X).get("posterior_collapse")
    assert finding is not None
    assert finding.details["collapsed"] == [1, 3]
    assert finding.severity == "warning"
    assert "KL" in finding.what_to_do
    assert "posterior_collapse" not in diagnose(_StandIn([1.0, 0.5]), X).kinds


def test_models_without_kl_skip_the_posterior_check(digits, elu_ae):
    assert not hasattr(elu_ae, "kl_per_dimension")
    assert "posterior_collapse" not in diagnose(elu_ae, digits[0]).kinds


# --------------------------------------------------------------------------- input
def test_low_variance_data_without_scaler_is_flagged(low_variance):
    ae = AutoEncoder(n_components=2, hidden_layer_sizes=(8,), scaler=None, max_epochs=2,
                     random_state=0).fit(low_variance)
    finding = diagnose(ae, low_variance).get("badly_scaled_input")
    assert finding is not None
    assert finding.severity == "warning"
    assert "scaler='standard'" in finding.what_to_do
    assert len(finding.details["tiny_spread_features"]) == 12


def test_low_variance_data_with_a_scaler_is_only_noted(low_variance):
    ae = AutoEncoder(n_components=2, hidden_layer_sizes=(8,), max_epochs=2,
                     random_state=0).fit(low_variance)
    finding = diagnose(ae, low_variance).get("badly_scaled_input")
    assert finding is not None and finding.severity == "info"


def test_feature_ranges_far_apart_are_flagged():
    rng = np.random.RandomState(0)
    X = np.column_stack([rng.uniform(0, 1, 200), rng.uniform(0, 5e4, 200)])
    ae = AutoEncoder(n_components=1, hidden_layer_sizes=(4,), scaler=None, max_epochs=1,
                     random_state=0)
    with pytest.raises(NotFittedError, match="not fitted"):  # no empty "all clear"
        diagnose(ae, X)
    finding = diagnose(ae.fit(X), X).get("badly_scaled_input")
    assert finding is not None and "range" in finding.what_was_seen
    assert finding.details["range_ratio"] > 1e4


def test_a_model_that_is_not_an_autoencoder_is_refused_with_what_to_diagnose(
        not_autoencoders):
    # These crashed inside the checks (an AttributeError on their networks' encode).
    X, models = not_autoencoders
    fixes = (r"diagnose\(model\.autoencoder_, X\)", "write_detector_report",
             "LearnedNothingWarning")
    for model, fix in zip(models, fixes):
        with pytest.raises(TypeError, match=f"{type(model).__name__} is not one; .*{fix}"):
            diagnose(model, X)


# --------------------------------------------------------------------------- history
def _history(losses, val_losses):
    return [{"phase": "train", "epoch": i + 1, "loss": a, "val_loss": b, "seconds": 0.01}
            for i, (a, b) in enumerate(zip(losses, val_losses))]


def test_overfitting_is_reported_from_the_history():
    n = 60
    train = np.linspace(1.0, 0.1, n)
    val = np.r_[np.linspace(1.0, 0.4, 20), np.linspace(0.4, 0.7, n - 20)]
    est = _StandIn([1.0], _history(train, val), max_epochs=100)
    finding = diagnose(est, np.zeros((5, 2)) + np.arange(5)[:, None]).get("overfitting")
    assert finding is not None
    assert finding.details["best_epoch"] == 20
    assert finding.details["ratio"] == pytest.approx(7.0)
    # Early stopping ended the run before max_epochs and kept epoch 20: noted, not alarmed.
    assert finding.severity == "info"


def test_not_converged_when_max_epochs_is_hit_while_the_loss_still_falls():
    n = 50
    losses = list(np.geomspace(1.0, 0.2, n))
    est = _StandIn([1.0], _history(losses, losses), max_epochs=n)
    finding = diagnose(est, np.arange(10.0).reshape(5, 2)).get("not_converged")
    assert finding is not None and finding.severity == "warning"
    assert "max_epochs" in finding.what_to_do
    flat = _StandIn([1.0], _history([1.0] * n, [1.0] * n), max_epochs=n, early_stopping=False)
    assert "not_converged" not in diagnose(flat, np.arange(10.0).reshape(5, 2)).kinds


def test_the_history_is_judged_after_the_kl_warmup_as_early_stopping_judges_it():
    # A VAE's losses rise with the KL weight for kl_warmup_epochs=10 epochs; early stopping
    # judged epochs 11 on and kept epoch 20. Judged from epoch 1, diagnose saw a rise of 32%
    # above "its best (epoch 3)", said early stopping kept epoch 3, and called the ramp of
    # the training loss (no hold-out) a spike.
    X = np.arange(10.0).reshape(5, 2)
    train = np.r_[np.linspace(1.5, 1.3, 10), np.linspace(1.3, 1.1, 15)]
    val = np.r_[1.2, 1.05, np.linspace(1.0, 1.5, 8), np.linspace(1.45, 1.30, 10), [1.32] * 5]
    est = _StandIn([1.0], _history(train, val), max_epochs=100, warmup=10)
    assert "overfitting" not in diagnose(est, X).kinds
    rises = np.r_[1.0, 0.5, 0.3, 0.2, np.linspace(0.3, 1.0, 6), np.linspace(0.99, 0.9, 15)]
    est = _StandIn([1.0], _history(rises, [None] * 25), max_epochs=100, warmup=10)
    assert "loss_spike" not in diagnose(est, X).kinds
    # The same histories without a warm-up: what the checks see in an autoencoder's.
    assert "overfitting" in diagnose(_StandIn([1.0], _history(train, val)), X).kinds
    assert "loss_spike" in diagnose(_StandIn([1.0], _history(rises, [None] * 25)), X).kinds


def test_a_fit_that_ends_inside_the_kl_warmup_is_reported():
    X = np.random.RandomState(0).randn(60, 4)
    vae = aekit.VariationalAutoEncoder(n_components=2, hidden_layer_sizes=(8,), max_epochs=3,
                                       kl_warmup_epochs=10, random_state=0).fit(X)
    finding = diagnose(vae, X).get("not_converged")
    assert finding is not None and finding.severity == "warning"
    assert "inside the KL warm-up (kl_warmup_epochs=10)" in finding.what_was_seen
    assert "max_epochs" in finding.what_to_do


# --------------------------------------------------------------------------- result object
def test_diagnosis_prints_and_serialises(digits, relu_ae):
    ae = copy.deepcopy(relu_ae)
    with torch.no_grad():
        ae.module_.encoder[0].bias[:] = -1e4
    d = aekit.diagnose(ae, digits[0])
    assert isinstance(d, Diagnosis) and len(d) >= 1 and bool(d)
    assert all(isinstance(f, Finding) for f in d)
    severities = [f.severity for f in d]
    rank = {"error": 0, "warning": 1, "info": 2}
    assert severities == sorted(severities, key=rank.get)  # most serious first
    text = str(d)
    assert "dead_units" in text and "->" in text
    payload = json.loads(json.dumps(d.to_dict()))
    assert payload["n_rows"] == len(digits[0])
    assert {"kind", "severity", "what_was_seen", "what_to_do", "details"} <= set(
        payload["findings"][0]
    )
    assert "No problems found" in str(Diagnosis([], 10))


def test_fit_with_verbose_warns_about_findings(low_variance):
    with pytest.warns(DiagnosticWarning, match="scaler='standard'") as seen:
        AutoEncoder(n_components=2, hidden_layer_sizes=(8,), scaler=None, max_epochs=2,
                    random_state=0, verbose=1).fit(low_variance)
    # Attributed to the caller's fit line, not to the aekit module that found it.
    assert {w.filename for w in seen if w.category is DiagnosticWarning} == {__file__}


def test_fit_without_verbose_stays_silent(low_variance):
    with warnings.catch_warnings():
        warnings.simplefilter("error", DiagnosticWarning)
        AutoEncoder(n_components=2, hidden_layer_sizes=(8,), scaler=None, max_epochs=2,
                    random_state=0).fit(low_variance)


def test_warn_findings_skips_notes(low_variance):
    ae = AutoEncoder(n_components=2, hidden_layer_sizes=(8,), max_epochs=2,
                     early_stopping=False, random_state=0).fit(low_variance)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        d = warn_findings(ae, low_variance)
    # The badly-scaled note is info (the scaler handles it): no warning for it.
    assert "badly_scaled_input" in d.kinds
    assert not any("vary by less than" in str(w.message) for w in caught)


def test_conv_units_count_channels_and_images_are_accepted(digits):
    images = digits[0][:300].reshape(-1, 8, 8)
    ae = AutoEncoder(n_components=2, architecture="conv", activation="relu",
                     hidden_layer_sizes=(8,), max_epochs=2, random_state=0).fit(images)
    names = dict(ae.module_.encoder.named_children())
    conv_name = next(n for n, m in names.items() if isinstance(m, torch.nn.Conv2d))
    relu_name = str(int(conv_name) + 1)
    assert isinstance(names[relu_name], torch.nn.ReLU)
    with torch.no_grad():
        names[conv_name].bias[:] = -1e4  # every channel dead everywhere
    finding = diagnose(ae, images).get("dead_units")
    assert finding is not None
    assert finding.details["layers"][f"encoder.{relu_name}"] == {"dead": 8, "units": 8}


# --------------------------------------------------------------------------- columns
@pytest.fixture(scope="module")
def derived():
    from aekit.data import make_derived_variables

    return make_derived_variables(1500, random_state=0)


def test_heavy_tailed_column_is_named_with_the_scaler_that_fixes_it(derived):
    standard = AutoEncoder(2, scaler="standard", max_epochs=60, random_state=0).fit(derived)
    diag = diagnose(standard, derived)
    tails = diag.get("heavy_tailed_columns")
    assert tails is not None and tails.severity == "warning"
    assert tails.details["columns"] == ["feature 4"]  # a/b, and only a/b
    assert "scaler='auto'" in tails.what_to_do and "quantile" in tails.what_to_do
    # Learnt on its extremes, not on its bulk: R² high over all rows, low in the middle.
    bulk = diag.get("bulk_not_learnt")
    assert bulk is not None and bulk.details["columns"] == ["feature 4"]
    assert bulk.details["r2"][0] > 0.8 and bulk.details["r2_central"][0] < 0.5
    auto = AutoEncoder(2, scaler="auto", max_epochs=60, random_state=0).fit(derived)
    diag = diagnose(auto, derived)
    assert diag.get("heavy_tailed_columns").severity == "info"  # handled inside the model
    assert diag.get("bulk_not_learnt") is None


def test_rows_with_missing_cells_are_diagnosed_as_the_model_fills_them(derived, elu_ae,
                                                                       digits):
    # missing="impute": the module saw NaN (an SVD error from the unit checks), and a column
    # with one missing cell escaped the bulk check (its central R² was NaN).
    X = np.asarray(derived, dtype=np.float64)
    ae = AutoEncoder(2, scaler="standard", missing="impute", max_epochs=60,
                     random_state=0).fit(X)
    X[0, 4] = np.nan
    bulk = diagnose(ae, X).get("bulk_not_learnt")
    assert bulk is not None and bulk.details["columns"] == ["feature 4"]
    rows = digits[0][:100].copy()
    rows[0, 10] = np.nan
    with pytest.raises(ValueError, match="missing"):  # the model's own refusal, in words
        diagnose(elu_ae, rows)


def test_column_checks_name_a_tables_columns_and_leave_images_alone(digits, elu_ae):
    pd = pytest.importorskip("pandas")
    rng = np.random.RandomState(0)
    X = pd.DataFrame({"ratio": rng.rand(400) / (rng.rand(400) + 1e-3), "x": rng.rand(400),
                      "kind": rng.choice(["a", "b"], 400)})
    ae = AutoEncoder(2, scaler="standard", max_epochs=5, random_state=0).fit(X)
    tails = diagnose(ae, X).get("heavy_tailed_columns")
    assert tails.details["columns"] == ["ratio"] and "ratio (" in tails.what_was_seen
    kinds = diagnose(elu_ae, digits[0]).kinds
    assert "heavy_tailed_columns" not in kinds and "bulk_not_learnt" not in kinds


# --------------------------------------------------------------------------- what is reconstructed
@pytest.fixture(scope="module")
def identity_model(low_variance):
    # A square linear network set to the identity, unscaled: a perfect float32 copy.
    return AutoEncoder(n_components=12, hidden_layer_sizes=(), activation="linear",
                       output_activation="linear", init="identity", scaler=None,
                       learning_rate=1e-12, max_epochs=1, random_state=0).fit(low_variance)


def test_a_perfect_identity_model_is_not_said_to_learn_the_mean(low_variance, identity_model):
    from aekit.evaluation.quality import reconstruction_r2

    assert reconstruction_r2(identity_model, low_variance).min() > 0.9999
    d = diagnose(identity_model, low_variance)
    assert "mostly learns" not in str(d) and "worse_than_mean" not in d.kinds
    scaled = d.get("badly_scaled_input")  # the tiny spreads are real: noted, not alarmed
    assert scaled is not None and scaled.severity == "info"
    assert "reconstructs these features nonetheless" in scaled.what_was_seen


def test_an_unscaled_model_that_does_learn_the_mean_is_told_so(low_variance):
    ae = AutoEncoder(n_components=2, hidden_layer_sizes=(8,), scaler=None, max_epochs=2,
                     random_state=0).fit(low_variance)
    scaled = diagnose(ae, low_variance).get("badly_scaled_input")
    assert scaled.severity == "warning" and "mostly learns their mean" in scaled.what_was_seen
    assert scaled.details["median_r2_at_risk"] < 0.5


def test_worse_than_the_mean_is_flagged_as_such(digits, elu_ae):
    assert "worse_than_mean" not in diagnose(elu_ae, digits[0]).kinds
    ae = copy.deepcopy(elu_ae)
    with torch.no_grad():
        ae.module_.decoder[-1].bias += 5.0  # every output 5 standard deviations off
    finding = diagnose(ae, digits[0]).get("worse_than_mean")
    assert finding is not None and finding.severity == "error"
    assert "worse than by predicting each feature's mean" in finding.what_was_seen
    assert finding.details["median_r2"] < 0
    # Which rows the R² is measured on: a report's table measures it on other (test) rows.
    assert f"R² < 0 on the {len(digits[0])} rows diagnosed" in finding.what_was_seen


def test_sigmoid_output_on_values_it_cannot_reach(digits):
    with pytest.warns(DiagnosticWarning):
        # Standardised pixels (asked for: scaler="auto" keeps [0, 1] data for a sigmoid).
        ae = AutoEncoder(2, output_activation="sigmoid", scaler="standard",
                         hidden_layer_sizes=(16,), max_epochs=2,
                         random_state=0).fit(digits[0][:300])
    finding = diagnose(ae, digits[0][:300]).get("output_range")
    assert finding is not None and "scaler='minmax'" in finding.what_to_do
    assert finding.severity == "error" and finding.details["share_outside"] > 0.3
    fine = AutoEncoder(2, scaler="minmax", hidden_layer_sizes=(16,), max_epochs=2,
                       random_state=0).fit(digits[0][:300])
    assert fine.output_activation_ == "sigmoid"
    assert "output_range" not in diagnose(fine, digits[0][:300]).kinds


# --------------------------------------------------------------------------- how it is built
def test_code_as_wide_as_the_input_without_regulariser():
    from aekit.data import make_derived_variables

    X = make_derived_variables(300, random_state=0)
    small = dict(hidden_layer_sizes=(16,), max_epochs=1, random_state=0)
    finding = diagnose(AutoEncoder(8, **small).fit(X), X).get("overcomplete_code")
    assert finding is not None and "noise='gaussian'" in finding.what_to_do
    for healthy in (AutoEncoder(2, **small), AutoEncoder(8, noise="gaussian", **small),
                    AutoEncoder(6, sparsity="l1", **small)):
        assert "overcomplete_code" not in diagnose(healthy.fit(X), X).kinds


def test_one_feature_is_not_told_to_use_a_code_smaller_than_one():
    # It advised "Use n_components < 1", which no model can follow.
    X = np.random.RandomState(0).normal(size=(100, 1))
    ae = AutoEncoder(1, hidden_layer_sizes=(4,), max_epochs=1, random_state=0).fit(X)
    finding = diagnose(ae, X).get("overcomplete_code")
    assert finding is not None and "n_components < 1" not in finding.what_to_do
    assert "n_components=1 is the least" in finding.what_to_do
    assert "noise='gaussian'" in finding.what_to_do


def test_hidden_layer_narrower_than_the_code(digits):
    narrow = AutoEncoder(4, hidden_layer_sizes=(32, 2), max_epochs=1, random_state=0)
    finding = diagnose(narrow.fit(digits[0][:300]), digits[0]).get("narrow_hidden_layer")
    assert finding is not None
    assert finding.details["layers"] == {"encoder.2": 2, "decoder.0": 2}
    wide = AutoEncoder(4, hidden_layer_sizes=(32, 8), max_epochs=1, random_state=0)
    assert "narrow_hidden_layer" not in diagnose(wide.fit(digits[0][:300]), digits[0]).kinds


def test_dead_units_that_choke_the_network_are_named_the_cause(digits, relu_ae):
    ae = copy.deepcopy(relu_ae)
    assert "bottleneck" not in diagnose(relu_ae, digits[0]).kinds
    with torch.no_grad():  # decoder.1 (ReLU after decoder.0, 32 units): all but one dead
        ae.module_.decoder[0].bias[1:] = -1e4
    finding = diagnose(ae, digits[0]).get("bottleneck")
    assert finding is not None and finding.severity == "error"
    assert finding.details["layer"] == "decoder.1" and finding.details["width"] == 1
    assert finding.details["dead"] == 31
    assert "31 of its 32 ReLU units are dead" in finding.what_was_seen


# --------------------------------------------------------------------------- spikes
def test_a_tenfold_validation_spike_after_epoch_70_is_flagged():
    n = 100
    train = np.geomspace(1.0, 0.1, n)
    val = np.geomspace(1.0, 0.12, n)
    val[74] = 10 * val[:74].min()
    est = _StandIn([1.0], _history(train, val), max_epochs=200)
    finding = diagnose(est, np.arange(10.0).reshape(5, 2)).get("loss_spike")
    assert finding is not None and finding.details["epochs"] == [75]
    assert finding.details["max_ratio"] == pytest.approx(10.0)
    assert "learning_rate" in finding.what_to_do
    assert finding.severity == "warning"  # counted among the report's problems
    # A threefold jump that training then made up for is noted, not alarmed.
    val[74] = 3.5 * val[:74].min()
    small = diagnose(_StandIn([1.0], _history(train, val), max_epochs=200),
                     np.arange(10.0).reshape(5, 2)).get("loss_spike")
    assert small.severity == "info" and small.details["recovered"]


def test_noisy_but_healthy_losses_are_no_spike():
    n = 100
    rng = np.random.RandomState(0)
    val = np.geomspace(1.0, 0.12, n) * (1 + 0.1 * rng.rand(n))
    est = _StandIn([1.0], _history(np.geomspace(1.0, 0.1, n), val), max_epochs=200)
    assert "loss_spike" not in diagnose(est, np.arange(10.0).reshape(5, 2)).kinds


def test_cli_warnings_are_one_line_without_source(tmp_path):
    from typer.testing import CliRunner

    from aekit.cli.commands import app

    result = CliRunner().invoke(app, ["train", "--data", "digits", "--epochs", "1", "--hidden",
                                      "16", "--output-activation", "sigmoid", "--scaler",
                                      "standard", "--out",
                                      str(tmp_path)])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines and all(line.startswith("warning: ") for line in lines), result.stderr
    assert "--output-activation sigmoid" in result.stderr
    assert ".py:" not in result.stderr and "warn(" not in result.stderr


def test_few_rows_raise_no_false_bottleneck_and_one_row_is_refused(digits):
    ae = AutoEncoder(4, hidden_layer_sizes=(32,), max_epochs=2, random_state=0)
    ae.fit(digits[0][:300])
    # n rows span at most n - 1 directions: on 4 rows or fewer no layer can show 4.
    for n in (2, 3, 4):
        assert "bottleneck" not in diagnose(ae, digits[0][:n]).kinds, n
    with pytest.raises(ValueError, match="at least 2 rows of X, got 1"):
        diagnose(ae, digits[0][:1])
    with pytest.warns(DiagnosticWarning, match="fitted on 1 row"):  # the fit itself works
        AutoEncoder(2, max_epochs=1, verbose=1, random_state=0).fit(digits[0][:1])
