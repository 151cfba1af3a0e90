"""Parameters changed after fit (``set_params``): the fitted model is what was fitted.

Its methods compute with the parameters of the fit (``fitted_params_``), ``save`` and
``aekit.load`` give back that model and the parameters as they are now, and a warm start
refuses a change to what defines the network it continues; the next fit takes the new
parameters, as in scikit-learn."""

from __future__ import annotations

import json
import pickle
import warnings

import numpy as np
import pytest
from torch import nn

import aekit
from aekit import (AutoEncoder, EncoderClassifier, LadderClassifier, OutlierDetector,
                   VariationalAutoEncoder)
from aekit.core.fitted import as_fitted, changed, changed_params, same
from aekit.data import load_digits

SMALL = dict(hidden_layer_sizes=(16,), max_epochs=2, random_state=0)


@pytest.fixture(scope="module")
def rows():
    X, y = load_digits()
    return X[:300], y[:300]


# --------------------------------------------------------------------------- fitted methods
def test_autoencoder_methods_keep_the_fitted_parameters(rows):
    X, _ = rows
    ae = AutoEncoder(2, **SMALL).fit(X)
    Z, S, names = ae.transform(X), ae.score_samples(X), ae.get_feature_names_out()
    X_hat = ae.inverse_transform(Z)
    ae.set_params(n_components=5, activation="tanh", scaler="minmax", dropout=0.5)
    np.testing.assert_array_equal(ae.transform(X), Z)
    np.testing.assert_array_equal(ae.score_samples(X), S)
    np.testing.assert_array_equal(ae.get_feature_names_out(), names)  # 2 codes, not 5
    np.testing.assert_array_equal(ae.inverse_transform(Z), X_hat)
    assert "-> 2 codes ->" in ae.summary().title
    assert ae.fitted_params_["n_components"] == 2 and ae.n_components == 5
    ae.fit(X)  # the next fit takes them
    assert ae.transform(X).shape == (len(X), 5) and len(ae.get_feature_names_out()) == 5
    assert ae.fitted_params_["activation"] == "tanh"


def test_variational_scores_keep_the_fitted_loss(rows):
    X, _ = rows
    vae = VariationalAutoEncoder(2, scaler="minmax", **SMALL).fit(X)
    S = vae.score_samples(X)
    vae.set_params(loss="bce", beta=10.0, n_components=4)
    np.testing.assert_array_equal(vae.score_samples(X), S)
    assert vae.sample(3, random_state=0).shape == (3, X.shape[1])  # decodes 2-D draws


def test_detector_predictions_keep_the_fitted_threshold():
    X = np.random.default_rng(0).normal(size=(300, 5))
    X[:8] += 6
    det = OutlierDetector(contamination=0.1, n_estimators=2, max_epochs=3,
                          random_state=0).fit(X)
    S = det.score_samples(X)
    assert (det.predict(X) == -1).mean() == pytest.approx(0.1, abs=0.01)
    det.set_params(combine="surprise", reconstruction_weight=0.0, contamination=0.3)
    np.testing.assert_array_equal(det.score_samples(X), S)
    assert (det.predict(X) == -1).mean() == pytest.approx(0.1, abs=0.01)
    det.fit(X)  # the next fit takes them
    assert (det.predict(X) == -1).mean() == pytest.approx(0.3, abs=0.01)


# --------------------------------------------------------------------------- save and load
def _fitted_models(X, y):
    """(name, fitted model, parameters to change afterwards, its prediction method)."""
    y_few = np.where(np.arange(len(y)) < 60, y, -1)
    ae = dict(hidden_layer_sizes=(8,), max_epochs=2, random_state=0)
    return [
        ("autoencoder", AutoEncoder(2, **ae).fit(X),
         dict(activation="tanh", n_components=3, sparsity="kl"), "transform"),
        ("variational", VariationalAutoEncoder(2, scaler="minmax", **ae).fit(X),
         dict(activation="relu", loss="bce", n_components=3), "score_samples"),
        ("detector", OutlierDetector(n_estimators=2, max_epochs=2, random_state=0).fit(X),
         dict(activation="tanh", combine="surprise", n_estimators=3), "score_samples"),
        ("classifier", EncoderClassifier(AutoEncoder(2, **ae), head_hidden=(4,), max_epochs=2,
                                         propagation_epochs=1, random_state=0).fit(X, y_few),
         dict(head_hidden=(), layer="code"), "predict_proba"),
        ("ladder", LadderClassifier((8,), max_epochs=2, random_state=0).fit(X, y_few),
         dict(hidden_layer_sizes=(4,), scaler="standard"), "predict_proba"),
    ]


@pytest.fixture(scope="module")
def models(rows):
    with warnings.catch_warnings():  # two epochs on 60 labels: the classifiers learn little
        warnings.simplefilter("ignore", aekit.LearnedNothingWarning)
        return _fitted_models(*rows)


@pytest.mark.parametrize("which", range(5))
def test_a_model_saved_after_set_params_loads_as_it_was_fitted(tmp_path, rows, models, which):
    X, _ = rows
    name, est, change, method = models[which]
    before = getattr(est, method)(X)
    est.set_params(**change)
    if name == "classifier":  # its autoencoder_ defines its lower layers and activation
        est.autoencoder_.set_params(activation="tanh")
    est.save(tmp_path / name)
    back = aekit.load(tmp_path / name)
    np.testing.assert_array_equal(getattr(back, method)(X), before)
    np.testing.assert_array_equal(getattr(est, method)(X), before)
    assert back.get_params(deep=False).keys() == est.get_params(deep=False).keys()
    assert not changed(back.get_params(deep=False), est.get_params(deep=False), list(change))
    assert not changed(back.fitted_params_, est.fitted_params_, list(change))
    assert set(changed(back.fitted_params_, back.get_params(deep=False))) == set(change)
    if name == "classifier":
        assert back.autoencoder_.activation == "tanh"
        assert back.autoencoder_.fitted_params_["activation"] == "elu"


@pytest.mark.parametrize("cls, method", [(AutoEncoder, "transform"),
                                         (VariationalAutoEncoder, "score_samples")])
def test_a_model_pickled_before_fitted_params_existed_uses_its_parameters(tmp_path, rows, cls,
                                                                           method):
    # An older aekit's pickle has no fitted_params_: its parameters are the fitted ones.
    X, _ = rows
    est = cls(2, **SMALL).fit(X)
    old = pickle.loads(pickle.dumps(est))
    del old.fitted_params_
    np.testing.assert_array_equal(getattr(old, method)(X), getattr(est, method)(X))
    assert old.score(X) == est.score(X)
    assert as_fitted(old) is old
    old.save(tmp_path / "m")
    back = aekit.load(tmp_path / "m")
    np.testing.assert_array_equal(getattr(back, method)(X), getattr(est, method)(X))
    assert not changed(back.fitted_params_, est.get_params(deep=False))


def test_a_model_without_changes_is_saved_as_before(tmp_path, rows):
    X, _ = rows
    ae = AutoEncoder(2, **SMALL).fit(X)
    ae.save(tmp_path / "m")
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert "fitted_params_" not in config["fitted"]  # readable by older aekits too
    back = aekit.load(tmp_path / "m")
    assert not changed(back.fitted_params_, back.get_params(deep=False))
    assert as_fitted(back) is back
    ae.set_params(activation="tanh").save(tmp_path / "m")
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["fitted"]["fitted_params_"]["activation"] == "elu"
    assert config["params"]["activation"] == "tanh"


def test_saved_fitted_params_are_checked_as_params_are(tmp_path, rows):
    from aekit.core import storage

    X, _ = rows
    ae = AutoEncoder(2, **SMALL).fit(X).set_params(activation="tanh")
    ae.save(tmp_path / "m")
    path = tmp_path / "m" / "config.json"
    config = json.loads(path.read_text())
    config["fitted"]["fitted_params_"]["activation"] = "no-such-activation"
    config["sha256"] = storage.config_checksum(config)
    path.write_text(json.dumps(config))
    with pytest.raises(ValueError, match=r"fitted\.fitted_params_.*activation"):
        aekit.load(tmp_path / "m")


def test_a_model_fitted_with_code_cannot_be_saved_after_set_params(tmp_path, rows):
    X, _ = rows
    ae = AutoEncoder(2, encoder=nn.Linear(64, 2), **SMALL).fit(X)
    ae.set_params(encoder=None)  # the module still holds the caller's encoder
    with pytest.raises(ValueError, match="encoder hold"):
        ae.save(tmp_path / "m")


# --------------------------------------------------------------------------- warm start
# Another valid value of every parameter of both autoencoders (a new parameter needs one).
OTHER = dict(
    n_components=3, hidden_layer_sizes=(8,), architecture="conv", image_shape=(8, 8),
    activation="tanh", output_activation="linear", code_activation="tanh", tied=True,
    init="identity", dropout=0.5, scaler="minmax", loss="bce", missing="impute",
    encoder=nn.Linear(64, 2), decoder=nn.Linear(2, 64), noise="masking", noise_level=0.5,
    sparsity="kl", sparsity_weight=1.0, sparsity_target=0.2, contractive=0.1, l1=0.1,
    optimizer="sgd", learning_rate=0.01, lr_schedule="constant", weight_decay=0.1,
    batch_size=16, chunk_rows=100, max_epochs=1, pretrain="greedy", pretrain_epochs=2,
    validation_fraction=0.2, early_stopping=False, patience=3, tol=0.1, n_init=2,
    random_state=1, device="cpu", precision="bfloat16", verbose=1, log_dir="logs",
    checkpoint_dir="checkpoints", warm_start=False, callbacks=[], beta=2.0,
    kl_warmup_epochs=2,
)
TOGETHER = {"image_shape": dict(architecture="conv")}  # valid only with these


def _structure(module) -> tuple:
    return repr(module), {k: tuple(v.shape) for k, v in module.state_dict().items()}


@pytest.mark.parametrize("cls", [AutoEncoder, VariationalAutoEncoder])
def test_a_warm_start_refuses_exactly_the_parameters_that_define_the_network(rows, cls):
    X, _ = rows
    est = cls(2, warm_start=True, **SMALL).fit(X)
    params = est.get_params()
    assert set(params) <= set(OTHER)
    fitted = _structure(est._build_module(X.shape[1]))
    for name in params:
        change = {name: OTHER[name], **TOGETHER.get(name, {})}
        if name in cls._network_params:
            est.set_params(**change)
            with pytest.raises(ValueError, match=rf"{name}=.*warm_start=False"):
                est.fit(X)
            est.set_params(**{k: params[k] for k in change})
        else:  # the rest cannot change the network a warm start continues
            other = cls(**{**params, **change})
            vars(other).update({k: v for k, v in vars(est).items() if k.endswith("_")})
            assert _structure(other._build_module(X.shape[1])) == fitted, name
    n_iter = est.n_iter_
    penalty = "sparsity_weight" if cls is AutoEncoder else "beta"
    est.set_params(learning_rate=0.01, **{penalty: 2.0}).fit(X)  # training may change
    assert est.n_iter_ == n_iter + SMALL["max_epochs"]
    assert est.fitted_params_["learning_rate"] == 0.01


def test_a_warm_start_warns_of_restarts_and_pretraining_it_does_not_do(rows):
    # A continued network is neither restarted nor pretrained: pretrain="greedy" set on a
    # fitted warm-started model used to be skipped without a word.
    X, _ = rows
    ae = AutoEncoder(2, warm_start=True, **SMALL).fit(X)
    ae.set_params(pretrain="greedy", n_init=3)
    with pytest.warns(UserWarning, match=r"n_init=3, pretrain='greedy' have no effect in "
                      r"this fit: warm_start=True continues .* \(n_init=1, pretrain=None\)"):
        ae.fit(X)
    assert {r["phase"] for r in ae.history_} == {"train"}  # not pretrained, as warned
    with warnings.catch_warnings():  # continuing the model they shaped: nothing to say
        warnings.simplefilter("error")
        ae.fit(X)
        AutoEncoder(2, warm_start=True, pretrain="greedy", n_init=2, **SMALL).fit(X).fit(X)
    # init draws a new network's weights only: set since the fit, it was ignored silently.
    ae.set_params(pretrain=None, n_init=1, init="identity")
    with pytest.warns(UserWarning, match=r"init='identity' has no effect in this fit"):
        ae.fit(X)


# --------------------------------------------------------------------------- one sameness
def test_a_list_of_the_default_sizes_is_the_default_for_every_rule():
    # A tuple default given as a list (as JSON and a grid's values give it) is the default:
    # changed_params and same (what changed since the fit) share one notion of sameness,
    # and the report lists it as set only when it differs.
    from aekit.report.model import _model_html

    default = LadderClassifier().hidden_layer_sizes
    as_list = LadderClassifier(hidden_layer_sizes=list(default))
    assert isinstance(default, tuple) and same(as_list.hidden_layer_sizes, default)
    assert changed_params(as_list) == {}
    assert "all at their defaults" in _model_html(as_list, {})
    other = LadderClassifier(hidden_layer_sizes=[64, 32])
    assert changed_params(other) == {"hidden_layer_sizes": default}
    assert "all at their defaults" not in _model_html(other, {})
