"""save / load: identical outputs, safe against damaged or hostile files, atomic writes."""

import json

import numpy as np
import pytest
import torch
from sklearn.exceptions import NotFittedError

import aekit
from aekit import AutoEncoder
from aekit.data import load_digits


@pytest.fixture(scope="module")
def fitted():
    X_train, X_test, _, _ = load_digits(split=True)
    return AutoEncoder(3, max_epochs=10, random_state=0).fit(X_train), X_test


@pytest.mark.parametrize(
    "scaler", ["auto", "standard", "robust", "quantile", "log", "minmax", "sample", None])
def test_round_trip_is_identical(tmp_path, scaler):
    X = np.random.RandomState(0).rand(200, 7) * 10 + 5
    X[:, 0] = np.exp(4 * X[:, 0] - 30)  # heavy-tailed: "auto" log-transforms it
    ae = AutoEncoder(2, scaler=scaler, max_epochs=5, random_state=0).fit(X)
    ae.save(tmp_path / "m")
    back = aekit.load(tmp_path / "m")
    np.testing.assert_array_equal(back.transform(X), ae.transform(X))
    np.testing.assert_array_equal(back.reconstruct(X), ae.reconstruct(X))
    Z = ae.transform(X)
    np.testing.assert_array_equal(back.inverse_transform(Z), ae.inverse_transform(Z))
    assert back.get_params() == ae.get_params()
    assert back.history_ == ae.history_
    assert back.output_activation_ == ae.output_activation_


def test_saved_files_and_versions(tmp_path, fitted):
    ae, _ = fitted
    ae.save(tmp_path / "run")
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == [
        "config.json",
        "model.safetensors",
    ]  # no temporary files left behind
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["class"] == "AutoEncoder"
    assert {"aekit", "torch", "numpy", "scikit-learn"} <= set(config["versions"])
    assert config["fitted"]["n_features_in_"] == 64


def test_feature_names_survive(tmp_path):
    pd = pytest.importorskip("pandas")
    X = pd.DataFrame(np.random.RandomState(0).rand(50, 3), columns=["x", "y", "z"])
    ae = AutoEncoder(2, max_epochs=2).fit(X)
    ae.save(tmp_path / "m")
    assert list(aekit.load(tmp_path / "m").feature_names_in_) == ["x", "y", "z"]


def test_unfitted_cannot_be_saved(tmp_path):
    with pytest.raises(NotFittedError):
        AutoEncoder().save(tmp_path / "m")


def test_missing_model(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a saved aekit model"):
        aekit.load(tmp_path / "nothing")


def test_truncated_weights(tmp_path, fitted):
    ae, _ = fitted
    ae.save(tmp_path / "m")
    w = tmp_path / "m" / "model.safetensors"
    w.write_bytes(w.read_bytes()[:100])
    with pytest.raises(ValueError, match="truncated, modified"):
        aekit.load(tmp_path / "m")


def test_tampered_weights_with_matching_checksum_still_checked(tmp_path, fitted):
    # Someone rewrites both files: the safetensors must still fit the declared model.
    ae, _ = fitted
    ae.save(tmp_path / "m")
    import hashlib

    import safetensors.torch

    blob = safetensors.torch.save({"evil": torch.zeros(3)})
    (tmp_path / "m" / "model.safetensors").write_bytes(blob)
    cfg = json.loads((tmp_path / "m" / "config.json").read_text())
    cfg["weights_sha256"] = hashlib.sha256(blob).hexdigest()
    (tmp_path / "m" / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ValueError, match="does not fit the model"):
        aekit.load(tmp_path / "m")


@pytest.mark.parametrize(
    "mutate, match",
    [
        (lambda c: "{not json", "not valid JSON"),
        (lambda c: json.dumps({**c, "class": "os.system"}), "unknown class"),
        (lambda c: json.dumps({**c, "format": "pickle"}), "not an aekit model"),
        (lambda c: json.dumps({**c, "format_version": 99}), "newer aekit"),
        (lambda c: json.dumps({**c, "params": {**c["params"], "bogus": 1}}), "parameters"),
        (lambda c: json.dumps({k: v for k, v in c.items() if k != "params"}), "damaged"),
        (lambda c: json.dumps([1, 2]), "not an aekit model"),
    ],
)
def test_bad_config(tmp_path, fitted, mutate, match):
    ae, _ = fitted
    ae.save(tmp_path / "m")
    cfg_path = tmp_path / "m" / "config.json"
    cfg_path.write_text(mutate(json.loads(cfg_path.read_text())))
    with pytest.raises(ValueError, match=match):
        aekit.load(tmp_path / "m")


def test_failed_write_leaves_old_model_intact(tmp_path, fitted, monkeypatch):
    ae, X_test = fitted
    ae.save(tmp_path / "m")
    before = {p.name: p.read_bytes() for p in (tmp_path / "m").iterdir()}

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr("json.dumps", boom)
    with pytest.raises(OSError, match="disk full"):
        ae.save(tmp_path / "m")
    monkeypatch.undo()
    # The weights were rewritten identically; the config was never half written.
    after = {p.name: p.read_bytes() for p in (tmp_path / "m").iterdir()}
    assert after == before
    np.testing.assert_array_equal(aekit.load(tmp_path / "m").transform(X_test), ae.transform(X_test))


def test_save_into_a_file_path_is_refused(tmp_path, fitted):
    ae, _ = fitted
    (tmp_path / "f").write_text("x")
    with pytest.raises(ValueError, match="not a directory"):
        ae.save(tmp_path / "f")


def test_saved_files_are_readable_by_others(tmp_path, fitted):
    import os
    import stat

    ae, _ = fitted
    old = os.umask(0o022)
    try:
        ae.save(tmp_path / "m")
    finally:
        os.umask(old)
    mode = stat.S_IMODE((tmp_path / "m" / "config.json").stat().st_mode)
    assert mode == 0o644
