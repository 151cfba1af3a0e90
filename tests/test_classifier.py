"""Tests for EncoderClassifier: a head on a (pre)trained encoder, frozen or fine-tuned."""

import copy

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks

from aekit import AutoEncoder, EncoderClassifier, VariationalAutoEncoder, load
from _sklearn_checks import FLOAT32_XFAIL



@parametrize_with_checks(
    [
        EncoderClassifier(
            AutoEncoder(n_components=4, hidden_layer_sizes=(16,), max_epochs=10, random_state=0),
            head_hidden=(16,),
            learning_rate=1e-2,
            max_epochs=60,
        )
    ],
    expected_failed_checks=lambda est: FLOAT32_XFAIL,
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def autoencoder(digits):
    return AutoEncoder(n_components=16, max_epochs=40, random_state=0).fit(digits[0])


@pytest.fixture(scope="module")
def frozen(autoencoder, digits):
    X_train, _, y_train, _ = digits
    return EncoderClassifier(autoencoder, max_epochs=100, random_state=0).fit(X_train, y_train)


@pytest.fixture(scope="module")
def fine_tuned(autoencoder, digits):
    X_train, _, y_train, _ = digits
    clf = EncoderClassifier(autoencoder, freeze=False, max_epochs=60, random_state=0)
    return clf.fit(X_train, y_train)


def _encoder_state(module):
    return {k: v.detach().clone() for k, v in module.encoder.state_dict().items()}


# ------------------------------------------------------------------------------ accuracy
def test_frozen_head_on_a_fitted_encoder_beats_chance(frozen, digits):
    _, X_test, _, y_test = digits
    assert frozen.score(X_test, y_test) > 0.8  # chance is 0.1
    assert frozen.history_[-1]["accuracy"] > 0.8
    np.testing.assert_array_equal(frozen.classes_, np.arange(10))


def test_fine_tuning_reaches_good_accuracy(fine_tuned, digits):
    _, X_test, _, y_test = digits
    assert fine_tuned.score(X_test, y_test) > 0.85


# ------------------------------------------------------------------------------ the encoder
def test_freeze_leaves_the_encoder_weights_unchanged(frozen, autoencoder):
    before, after = _encoder_state(autoencoder.module_), _encoder_state(frozen.module_)
    assert before.keys() == after.keys()
    for key in before:
        torch.testing.assert_close(after[key], before[key], rtol=0, atol=0)


def test_fine_tuning_changes_the_encoder_weights(fine_tuned, autoencoder):
    before, after = _encoder_state(autoencoder.module_), _encoder_state(fine_tuned.module_)
    assert any(not torch.equal(before[k], after[k]) for k in before)
    # The scaler is the autoencoder's, unchanged: the encoder still sees scaled input.
    for key, value in autoencoder.module_.scaler.state_dict().items():
        assert torch.equal(fine_tuned.module_.scaler.state_dict()[key], value)


@pytest.mark.parametrize("freeze", [True, False])
def test_the_passed_autoencoder_is_not_mutated(freeze, digits):
    X_train, X_test, y_train, _ = digits
    ae = AutoEncoder(n_components=8, max_epochs=5, random_state=0).fit(X_train)
    state = copy.deepcopy(ae.module_.state_dict())
    params, history, Z = ae.get_params(), copy.deepcopy(ae.history_), ae.transform(X_test)
    EncoderClassifier(ae, freeze=freeze, max_epochs=5, random_state=0).fit(X_train, y_train)
    assert ae.get_params() == params and ae.history_ == history
    for key, value in ae.module_.state_dict().items():
        assert torch.equal(value, state[key])
    np.testing.assert_array_equal(ae.transform(X_test), Z)


def test_an_unfitted_autoencoder_is_fitted_on_X_as_a_copy(digits):
    X_train, X_test, y_train, y_test = digits
    ae = AutoEncoder(n_components=16, max_epochs=20, random_state=0)
    clf = EncoderClassifier(ae, max_epochs=60, random_state=0).fit(X_train, y_train)
    assert not hasattr(ae, "module_")  # the passed object stays unfitted
    assert clf.score(X_test, y_test) > 0.7
    # Same as pretraining the autoencoder by hand first.
    by_hand = EncoderClassifier(clone(ae).fit(X_train), max_epochs=60, random_state=0)
    np.testing.assert_array_equal(
        by_hand.fit(X_train, y_train).predict_proba(X_test), clf.predict_proba(X_test)
    )


def test_a_variational_encoder_contributes_its_posterior_mean(digits):
    X_train, X_test, y_train, y_test = digits
    vae = VariationalAutoEncoder(n_components=8, max_epochs=20, random_state=0).fit(X_train)
    clf = EncoderClassifier(vae, max_epochs=60, random_state=0).fit(X_train, y_train)
    assert clf.score(X_test, y_test) > 0.6
    # Frozen: the head reads exactly the VAE's transform (posterior mean).
    with torch.no_grad():
        logits = clf.module_.head(torch.tensor(vae.transform(X_test)))
    np.testing.assert_allclose(clf.predict_proba(X_test), torch.softmax(logits, 1), atol=1e-6)


# ------------------------------------------------------------------------------ predictions
def test_predict_proba_rows_sum_to_one_and_predict_agrees(frozen, digits):
    X_test = digits[1]
    proba = frozen.predict_proba(X_test)
    assert proba.shape == (len(X_test), 10)
    np.testing.assert_allclose(proba.sum(1), 1.0, rtol=0, atol=1e-12)
    assert np.all(proba >= 0)
    np.testing.assert_array_equal(frozen.predict(X_test), frozen.classes_[proba.argmax(1)])
    np.testing.assert_allclose(np.exp(frozen.predict_log_proba(X_test)), proba, atol=1e-12)


def test_save_load_gives_identical_predictions(autoencoder, digits, tmp_path):
    X_train, X_test, y_train, _ = digits
    labels = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven",
                       "eight", "nine"])
    clf = EncoderClassifier(autoencoder, head_hidden=(32,), max_epochs=20, random_state=0)
    clf.fit(X_train, labels[y_train])
    clf.save(tmp_path / "clf")
    loaded = load(tmp_path / "clf", device="cpu")
    assert type(loaded) is EncoderClassifier
    np.testing.assert_array_equal(loaded.classes_, clf.classes_)
    np.testing.assert_array_equal(loaded.predict_proba(X_test), clf.predict_proba(X_test))
    np.testing.assert_array_equal(loaded.predict(X_test), clf.predict(X_test))
    # The nested autoencoder parameter comes back, unfitted, with the same parameters.
    assert type(loaded.autoencoder) is AutoEncoder
    assert loaded.autoencoder.get_params() == autoencoder.get_params()
    assert loaded.get_params(deep=False).keys() == clf.get_params(deep=False).keys()


# ------------------------------------------------------------------------------ errors
def test_feature_count_must_match_a_fitted_autoencoder(autoencoder, digits):
    X_train, _, y_train, _ = digits
    with pytest.raises(ValueError, match="64"):
        EncoderClassifier(autoencoder).fit(X_train[:, :10], y_train)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"autoencoder": "pca"}, "autoencoder.*must be an instance of.*BaseAutoEncoder"),
        ({"head_hidden": (0,)}, "head_hidden"),
        ({"freeze": "yes"}, "freeze"),
        ({"learning_rate": 0}, "learning_rate"),
    ],
)
def test_invalid_parameters_are_reported(params, match, digits):
    X_train, _, y_train, _ = digits
    params = {"autoencoder": AutoEncoder(max_epochs=1), **params}
    with pytest.raises(ValueError, match=match):
        EncoderClassifier(**params).fit(X_train[:50], y_train[:50])
