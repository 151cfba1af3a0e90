"""save / load: identical outputs, safe against damaged or hostile files, saves that never
lose a model (failures and kills at any moment)."""

import functools
import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.exceptions import NotFittedError

import aekit
from aekit import AutoEncoder
from aekit.core import storage as _io
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
    names = sorted(p.name for p in (tmp_path / "run").iterdir())  # no temporary files
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert names == ["config.json", config["weights"]]
    assert re.fullmatch(r"model-[0-9a-f]{16}\.safetensors", config["weights"])
    assert config["weights_sha256"].startswith(config["weights"][6:22])
    assert config["format_version"] == 2 and config["sha256"] == _io.config_checksum(config)
    assert config["class"] == "AutoEncoder"
    assert {"aekit", "torch", "numpy", "scikit-learn"} <= set(config["versions"])
    assert config["fitted"]["n_features_in_"] == 64


def test_saving_again_replaces_the_weights_file(tmp_path, fitted):
    ae, X_test = fitted
    ae.save(tmp_path / "m")
    other = AutoEncoder(3, max_epochs=2, random_state=1).fit(X_test)
    other.save(tmp_path / "m")
    assert len(list((tmp_path / "m").glob("*.safetensors"))) == 1  # the old one is gone
    np.testing.assert_array_equal(aekit.load(tmp_path / "m").transform(X_test),
                                  other.transform(X_test))


def _rewrite(path, config):
    """Write ``config`` as a tamperer who also fixes the checksum would."""
    config = dict(config)
    config["sha256"] = _io.config_checksum(config)
    (path / "config.json").write_text(json.dumps(config))


def test_a_save_cleans_its_own_stale_temps_and_no_look_alike_of_the_user(tmp_path, fitted):
    import subprocess
    import sys

    # A save killed while writing: the temporaries atomic_path really leaves behind.
    killed = ("import os, sys; from aekit.core.storage import atomic_path\n"
              "open_ = [atomic_path(name) for name in sys.argv[1:]]  # kept: not closed\n"
              "for cm in open_:\n"
              "    cm.__enter__().write_bytes(b'partial')\n"
              "os._exit(0)")
    targets = [tmp_path / "config.json", tmp_path / f"model-{'0' * 16}.safetensors"]
    subprocess.run([sys.executable, "-c", killed, *map(str, targets)], check=True,
                   env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    stale = [p.name for p in tmp_path.iterdir()]
    assert len(stale) == 2 and all(n.endswith(".tmp") for n in stale)
    # The user's files that merely look like aekit temporaries.
    mine = [".model-draft.tmp", ".config.json.orig.tmp", ".config.json.tmp",
            ".model-notes.abcdefgh.tmp"]
    for name in mine:
        (tmp_path / name).write_bytes(b"mine")
    fitted[0].save(tmp_path)
    left = {p.name for p in tmp_path.iterdir()}
    assert not left & set(stale)  # aekit's own: cleaned
    assert set(mine) <= left  # the user's: all there
    assert all((tmp_path / n).read_bytes() == b"mine" for n in mine)


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


def _weights(path):
    return path / json.loads((path / "config.json").read_text())["weights"]


def test_truncated_weights(tmp_path, fitted):
    ae, _ = fitted
    ae.save(tmp_path / "m")
    w = _weights(tmp_path / "m")
    w.write_bytes(w.read_bytes()[:100])
    with pytest.raises(ValueError, match="truncated, modified"):
        aekit.load(tmp_path / "m")


def test_missing_weights_file(tmp_path, fitted):
    ae, _ = fitted
    ae.save(tmp_path / "m")
    _weights(tmp_path / "m").unlink()
    with pytest.raises(FileNotFoundError, match="is missing"):
        aekit.load(tmp_path / "m")


def test_tampered_weights_with_matching_checksum_still_checked(tmp_path, fitted):
    # Someone rewrites both files: the safetensors must still fit the declared model.
    ae, _ = fitted
    ae.save(tmp_path / "m")
    import hashlib

    import safetensors.torch

    blob = safetensors.torch.save({"evil": torch.zeros(3)})
    _weights(tmp_path / "m").write_bytes(blob)
    cfg = json.loads((tmp_path / "m" / "config.json").read_text())
    cfg["weights_sha256"] = hashlib.sha256(blob).hexdigest()
    _rewrite(tmp_path / "m", cfg)
    with pytest.raises(ValueError, match="do not fit the model"):
        aekit.load(tmp_path / "m")


def test_an_edited_config_is_refused(tmp_path, fitted):
    # The checksum covers the config: an edited activation would load as another model.
    ae, _ = fitted
    ae.save(tmp_path / "m")
    path = tmp_path / "m" / "config.json"
    path.write_text(path.read_text().replace('"activation": "elu"', '"activation": "tanh"'))
    with pytest.raises(ValueError, match="modified after it was saved.*'sha256'"):
        aekit.load(tmp_path / "m")


def _set(key, value):
    """A mutation that sets ``key`` (dotted: into a section) to ``value``."""
    def mutate(c):
        c = json.loads(json.dumps(c))
        *path, last = key.split(".")
        target = c
        for part in path:
            target = target[part]
        target[last] = value
        return c
    return mutate


def _drop(key):
    def mutate(c):
        c = json.loads(json.dumps(c))
        *path, last = key.split(".")
        target = c
        for part in path:
            target = target[part]
        del target[last]
        return c
    return mutate


@pytest.mark.parametrize(
    "mutate, match",
    [
        (_set("class", "os.system"), "'class'.*unknown class"),
        (_set("class", ["AutoEncoder"]), "'class'"),
        (_set("format", "pickle"), "not an aekit model file.*'format'"),
        (_set("format_version", 99), "newer aekit.*'format_version'"),
        (_set("format_version", "2"), "'format_version' must be a positive integer"),
        (_set("format_version", True), "'format_version'"),
        (_set("weights", "../../etc/passwd"), "'weights'"),
        (_set("weights", 3), "'weights'"),
        (_set("params.bogus", 1), "'params'.*bogus"),
        (_set("params.activation", "bogus"), "'activation'"),
        (_set("params.hidden_layer_sizes", [[1, 2]]), "'hidden_layer_sizes'"),
        (_set("params.n_components", -3), "'n_components'"),
        (_set("params.max_epochs", "ten"), "'max_epochs'"),
        (_set("params.autoencoder", {"__estimator__": "AutoEncoder", "params": {}}),
         "'params'.*autoencoder"),
        (_set("params", [1, 2]), "lacks the 'params' section"),
        (_drop("params"), "lacks the 'params' section"),
        (_set("fitted", "x"), "lacks the 'fitted' section"),
        (_set("fitted.transform", 1), "does not save"),
        (_set("fitted.__class__", "AutoEncoder"), "does not save"),
        (_set("fitted.module_", 1), "does not save"),
        (_drop("fitted.n_features_in_"), "'fitted.n_features_in_' is missing"),
        (_set("fitted.n_features_in_", "64"), "'fitted.n_features_in_'"),
        (_set("fitted.n_features_in_", 65), "do not fit the model|'fitted.schema_'"),
        (_set("fitted.n_features_in_", True), "'fitted.n_features_in_'"),
        (_set("fitted.feature_names_in_", ["a"]), "'fitted.feature_names_in_'|'fitted.schema_'"),
        (_set("fitted.output_activation_", "relu"), "'fitted.output_activation_'"),
        (_set("fitted.history_", "x"), "'fitted.history_'"),
        (_set("fitted.history_", [{"phase": "train", "epoch": 1, "loss": [1]}]),
         "'fitted.history_'"),
        (_set("fitted.loss_", "nan"), "'fitted.loss_'"),
        (_set("fitted.n_iter_", -1), "'fitted.n_iter_'"),
        (_set("fitted.input_shape_", [64]), "does not save"),  # the schema holds it
        (_set("fitted.schema_", 1), "'fitted.schema_'"),
        (_set("fitted.schema_.sample_shape", [3]), "'fitted.schema_.sample_shape'"),
        (_set("fitted.schema_.sample_shape", "64"), "'fitted.schema_.sample_shape'"),
        (_set("fitted.schema_.kind", "pickle"), "'fitted.schema_.kind'"),
        (_set("fitted.schema_.missing", "drop"), "'fitted.schema_.missing'"),
        (_set("fitted.schema_.columns", [{"name": "a"}]), "'fitted.schema_.columns'"),
        (_set("fitted.schema_.fill_values", [float("nan")] * 64), "'fitted.schema_.fill"),
        (_set("fitted.schema_.feature_names", ["a"] * 64), "'fitted.schema_'"),
        (_drop("fitted.schema_.n_features"), "'fitted.schema_'"),
        (lambda c: [1, 2], "not an aekit model file"),
    ],
)
def test_malformed_or_tampered_config_is_a_value_error_naming_the_field(
        tmp_path, fitted, mutate, match):
    # A tamperer who also recomputes the checksum: every field is still checked.
    ae, _ = fitted
    ae.save(tmp_path / "m")
    cfg = json.loads((tmp_path / "m" / "config.json").read_text())
    mutated = mutate(cfg)
    if isinstance(mutated, dict):
        _rewrite(tmp_path / "m", mutated)
    else:
        (tmp_path / "m" / "config.json").write_text(json.dumps(mutated))
    with pytest.raises(ValueError, match=match):
        aekit.load(tmp_path / "m")


@pytest.mark.parametrize("text, match", [
    ("{not json", "not valid JSON"),
    ("[" * 100_000 + "]" * 100_000, "too deeply|not valid JSON"),
    ("\xff\xfe", "not valid JSON"),
])
def test_unparsable_config(tmp_path, fitted, text, match):
    ae, _ = fitted
    ae.save(tmp_path / "m")
    (tmp_path / "m" / "config.json").write_text(text, encoding="latin-1")
    with pytest.raises(ValueError, match=match):
        aekit.load(tmp_path / "m")


def test_classifier_config_fields_are_checked(tmp_path, digits):
    from aekit import EncoderClassifier

    X_train, X_test, y_train, _ = digits
    ae = AutoEncoder(3, hidden_layer_sizes=(16,), max_epochs=2, random_state=0)
    clf = EncoderClassifier(ae, max_epochs=2, random_state=0).fit(X_train, y_train)
    clf.save(tmp_path / "c")
    np.testing.assert_array_equal(aekit.load(tmp_path / "c").predict_proba(X_test),
                                  clf.predict_proba(X_test))
    cfg = json.loads((tmp_path / "c" / "config.json").read_text())
    for mutate, match in [
        (_set("fitted.classes_", [1]), "'fitted.classes_'"),
        (_set("fitted.classes_", [1, 1, 2]), "'fitted.classes_'"),
        (_set("fitted.autoencoder_", 3), "'fitted.autoencoder_'"),
        (_set("fitted.autoencoder_.class", "EncoderClassifier"), "does not save|autoencoder_"),
        (_set("fitted.autoencoder_.fitted.n_iter_", "x"), "'fitted.n_iter_'"),
        (_drop("fitted.autoencoder_"), "can build"),
    ]:
        _rewrite(tmp_path / "c", mutate(cfg))
        with pytest.raises(ValueError, match=match):
            aekit.load(tmp_path / "c")


@pytest.mark.filterwarnings("ignore::aekit.semisupervised.recipe.FewLabelsWarning",
                            "ignore::aekit.training.sanity.LearnedNothingWarning")
@pytest.mark.parametrize("dtype", [np.int32, np.uint8, np.float32])
@pytest.mark.parametrize("kind", ["EncoderClassifier", "LadderClassifier"])
def test_a_classifier_predicts_its_labels_dtype_after_loading(tmp_path, dtype, kind):
    # classes_ went to config.json as a plain list and came back int64 (float64): predict
    # of the loaded model returned another dtype than the saved one's.
    X = np.random.RandomState(0).rand(40, 4)
    y = (np.arange(40) % 3).astype(dtype)
    clf = (aekit.EncoderClassifier(AutoEncoder(2, hidden_layer_sizes=(4,), max_epochs=1),
                                   max_epochs=1, random_state=0) if kind == "EncoderClassifier"
           else aekit.LadderClassifier(hidden_layer_sizes=(4,), max_epochs=1, random_state=0))
    clf.fit(X, y)
    assert clf.predict(X).dtype == dtype
    clf.save(tmp_path / "c")
    loaded = aekit.load(tmp_path / "c")
    assert loaded.classes_.dtype == dtype and loaded.predict(X).dtype == dtype
    np.testing.assert_array_equal(loaded.predict(X), clf.predict(X))
    cfg = json.loads((tmp_path / "c" / "config.json").read_text())
    labels = cfg["fitted"]["classes_"]["labels"]
    # A file from before dtypes were recorded (a list) loads as it did; a dtype that does
    # not hold the labels is refused.
    for mutate, expected in [(_set("fitted.classes_", labels), np.int64 if dtype != np.float32
                               else np.float64),
                             (_set("fitted.classes_", {"labels": [0, 300], "dtype": "uint8"}),
                              "labels of dtype 'uint8'"),
                             (_set("fitted.classes_", {"labels": labels, "dtype": "<U1"}),
                              "labels of dtype '<U1'")]:
        _rewrite(tmp_path / "c", mutate(cfg))
        if isinstance(expected, str):
            with pytest.raises(ValueError, match=f"'fitted.classes_' must be {expected}"):
                aekit.load(tmp_path / "c")
        else:
            assert aekit.load(tmp_path / "c").classes_.dtype == expected


def test_classes_of_the_usual_dtypes_are_saved_as_a_list(tmp_path):
    # Files of int64, bool and text labels stay as older aekits wrote and read them.
    from aekit.semisupervised.labels import classes_json

    assert classes_json(np.array([0, 2])) == [0, 2]
    assert classes_json(np.array([False, True])) == [False, True]
    assert classes_json(np.array(["a", "b"], dtype=object)) == ["a", "b"]
    assert classes_json(np.array([0, 2], dtype=np.int32)) == {"labels": [0, 2],
                                                              "dtype": "int32"}


def test_every_saved_attribute_has_a_check():
    from aekit.persistence import CLASSES, FITTED

    for cls in CLASSES.values():
        assert set(cls._saved_attributes) <= set(FITTED), cls


def test_format_1_models_still_load(tmp_path, fitted):
    # The layout of aekit <= 0.1.0: model.safetensors beside a config without a checksum.
    ae, X_test = fitted
    ae.save(tmp_path / "m")
    cfg = json.loads((tmp_path / "m" / "config.json").read_text())
    _weights(tmp_path / "m").rename(tmp_path / "m" / "model.safetensors")
    for key in ("weights", "sha256"):
        cfg.pop(key)
    cfg["format_version"] = 1
    (tmp_path / "m" / "config.json").write_text(json.dumps(cfg))
    np.testing.assert_array_equal(aekit.load(tmp_path / "m").transform(X_test),
                                  ae.transform(X_test))
    ae.save(tmp_path / "m")  # saving over it converts it, and removes the old file
    assert not (tmp_path / "m" / "model.safetensors").exists()
    np.testing.assert_array_equal(aekit.load(tmp_path / "m").transform(X_test),
                                  ae.transform(X_test))


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
    after = {p.name: p.read_bytes() for p in (tmp_path / "m").iterdir()}
    assert after == before
    np.testing.assert_array_equal(aekit.load(tmp_path / "m").transform(X_test),
                                  ae.transform(X_test))


@pytest.mark.parametrize("fail_at", range(12))
def test_a_save_failing_at_any_file_operation_leaves_the_old_or_the_new_model(
        tmp_path, fitted, monkeypatch, fail_at):
    # Every rename, flush and removal of a save, in turn, fails (a full disk, an I/O
    # error): the directory still holds a loadable model, the old or the new one.
    import os

    ae, X_test = fitted
    new = AutoEncoder(3, max_epochs=2, random_state=1).fit(X_test)
    ae.save(tmp_path / "m")
    calls = {"n": 0}

    def failing(real):
        def op(*args, **kwargs):
            calls["n"] += 1
            if calls["n"] == fail_at + 1:
                raise OSError("I/O error")
            return real(*args, **kwargs)
        return op

    for name in ("replace", "fsync", "unlink"):
        monkeypatch.setattr(os, name, failing(getattr(os, name)))
    monkeypatch.setattr(Path, "unlink", failing(Path.unlink))
    try:
        new.save(tmp_path / "m")
    except OSError:
        pass
    monkeypatch.undo()
    Z = aekit.load(tmp_path / "m").transform(X_test)
    assert any(np.array_equal(Z, m.transform(X_test)) for m in (ae, new))
    new.save(tmp_path / "m")  # a later save cleans up whatever the failed one left
    assert sorted(p.name for p in (tmp_path / "m").iterdir() if not p.name.endswith(
        ".safetensors")) == ["config.json"]
    assert len(list((tmp_path / "m").glob("*.safetensors"))) == 1


def _save_forever(path, states):
    """In a forked child: save the two models in turn until killed."""
    from aekit.core.storage import write_model_dir

    i = 0
    while True:
        config, tensors = states[i % 2]
        write_model_dir(path, tensors, config)
        i += 1


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork (POSIX)")
def test_saves_killed_at_random_moments_always_leave_a_model(tmp_path, fitted):
    # 30 saves over an existing model, each killed (SIGKILL) at a random moment.
    import random
    import signal
    import time

    ae, X_test = fitted
    other = AutoEncoder(3, max_epochs=2, random_state=1).fit(X_test)
    states = [other._saved_state(), ae._saved_state()]  # the first save brings a new model
    expected = [other.transform(X_test), ae.transform(X_test)]
    path = tmp_path / "m"
    ae.save(path)
    rng = random.Random(0)
    seen = set()
    for _ in range(30):
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child never returns
            try:
                _save_forever(path, states)
            finally:
                os._exit(1)
        time.sleep(rng.uniform(0.0, 0.1))  # a save takes 5-40 ms (two fsyncs and renames)
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        Z = aekit.load(path).transform(X_test)
        matches = [k for k, E in enumerate(expected) if np.array_equal(Z, E)]
        assert matches, "the model in the directory is neither the old nor the new one"
        seen.update(matches)
        # At most what the one killed save left: nothing accumulates.
        hidden = [p.name for p in path.iterdir() if p.name.startswith(".")]
        assert len(hidden) <= 2, hidden
        assert len(list(path.glob("*.safetensors"))) <= 2
    assert seen == {0, 1}  # kills landed between and within saves of both models


def test_save_into_a_file_path_is_refused(tmp_path, fitted):
    ae, _ = fitted
    (tmp_path / "f").write_text("x")
    with pytest.raises(ValueError, match="not a directory"):
        ae.save(tmp_path / "f")


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="needs /proc (takes no new files)")
def test_atomic_write_errors_name_the_file_not_its_temporary(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        _io.atomic_write("/proc/aekit-test.bin", b"x")
    assert err.value.filename == "/proc/aekit-test.bin" and ".tmp" not in str(err.value)
    target = tmp_path / "codes.npy"
    with pytest.raises(OSError, match="No space left") as err:
        with _io.atomic_path(target) as tmp:  # a disk that fills while the file is written
            raise OSError(28, "No space left on device", str(tmp))
    assert err.value.filename == str(target) and err.value.errno == 28
    assert not list(tmp_path.iterdir())


def test_atomic_write_writes_through_a_link_and_keeps_the_file_s_mode(tmp_path):
    import stat

    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "codes.csv").write_text("old\n")
    link = tmp_path / "link.csv"
    link.symlink_to(shared / "codes.csv")
    _io.atomic_write(link, "new\n")
    assert link.is_symlink() and (shared / "codes.csv").read_text() == "new\n"
    assert [p.name for p in shared.iterdir()] == ["codes.csv"]  # no temporary file left
    (tmp_path / "new.csv").symlink_to(shared / "made.csv")  # a link to no file yet
    _io.atomic_write(tmp_path / "new.csv", "made\n")
    assert (tmp_path / "new.csv").is_symlink() and (shared / "made.csv").read_text() == "made\n"
    old = os.umask(0o022)
    try:
        for mode in (0o600, 0o640, 0o664):
            private = tmp_path / f"{mode:o}.csv"
            private.write_text("secret\n")
            private.chmod(mode)
            _io.atomic_write(private, "codes\n")
            assert stat.S_IMODE(private.stat().st_mode) == mode
            assert private.read_text() == "codes\n"
    finally:
        os.umask(old)


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


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork (POSIX)")
def test_loads_while_another_process_saves_always_succeed(tmp_path, fitted):
    # The manifest is read first, then the weights it names; a save in between replaces
    # the manifest and removes those weights: load reads the new manifest instead.
    import signal

    ae, X_test = fitted
    other = AutoEncoder(3, max_epochs=2, random_state=1).fit(X_test)
    expected = [ae.transform(X_test), other.transform(X_test)]
    path = tmp_path / "m"
    ae.save(path)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child never returns
        try:
            _save_forever(path, [other._saved_state(), ae._saved_state()])
        finally:
            os._exit(1)
    try:
        for _ in range(100):
            Z = aekit.load(path).transform(X_test)
            assert any(np.array_equal(Z, E) for E in expected)
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)


# --------------------------------------------------------------------------- issue 17
@functools.lru_cache(maxsize=1)  # fitted once: for the parametrization and the tests
def _tiny_models():
    """One small fitted model of every class, with the tensors each kind of model holds."""
    from aekit import EncoderClassifier, OutlierDetector, VariationalAutoEncoder

    X = np.random.RandomState(0).rand(80, 6)
    y = (X[:, 0] > 0.5).astype(int)
    small = dict(hidden_layer_sizes=(8,), max_epochs=2, random_state=0)
    return X, {
        "ae-auto": AutoEncoder(2, scaler="auto", **small).fit(X),
        "ae-quantile": AutoEncoder(2, scaler="quantile", **small).fit(X),
        "vae": VariationalAutoEncoder(2, **small).fit(X),
        "detector": OutlierDetector(n_estimators=2, max_epochs=2, random_state=0).fit(X),
        "classifier": EncoderClassifier(AutoEncoder(2, **small), max_epochs=2,
                                        random_state=0).fit(X, y),
    }


@pytest.fixture(scope="module")
def tiny_models():
    return _tiny_models()


def _tampered_copies():
    """(model name, tensor name, how) for every tensor of every kind of model: each
    tampering of it that a recomputed checksum would hide."""
    _, models = _tiny_models()
    cases = []
    for name, est in models.items():
        for key, value in est.module_.state_dict().items():
            if not value.is_floating_point():
                cases.append((name, key, "float"))  # a bool buffer given as floats
                continue
            cases += [(name, key, how) for how in ("nan", "inf", "int", "shape")]
            leaf = key.rsplit(".", 1)[-1]
            if leaf.endswith(("scale", "spread", "limit", "temperature")):
                cases += [(name, key, "zero"), (name, key, "negative")]
            if leaf == "quantiles":
                cases.append((name, key, "unsorted"))
    return cases


def _tamper(value: torch.Tensor, how: str) -> torch.Tensor:
    value = value.clone()
    if how in ("nan", "inf"):
        value.view(-1)[0] = float(how)
        return value
    return {"int": lambda v: v.round().to(torch.int64),
            "float": lambda v: v.to(torch.float32),
            "shape": lambda v: torch.zeros(*v.shape, 2) if v.ndim else torch.zeros(2),
            "zero": lambda v: torch.zeros_like(v),
            "negative": lambda v: -v.abs() - 1,
            "unsorted": lambda v: v.flip(-1) + torch.arange(v.shape[-1]).flip(0)}[how](value)


@pytest.mark.parametrize("model, key, how", _tampered_copies())
def test_every_tampered_tensor_is_refused_naming_it(tmp_path, tiny_models, model, key, how):
    """Weights rewritten with a recomputed checksum, so only load's own checks see them:
    NaN, inf, integer dtypes, other shapes, zero or negative scales never load."""
    import hashlib

    import safetensors.torch

    X, models = tiny_models
    models[model].save(tmp_path / "m")
    path = _weights(tmp_path / "m")
    tensors = safetensors.torch.load(path.read_bytes())
    tensors[key] = _tamper(tensors[key], how)
    blob = safetensors.torch.save(tensors)
    path.write_bytes(blob)
    cfg = json.loads((tmp_path / "m" / "config.json").read_text())
    cfg["weights_sha256"] = hashlib.sha256(blob).hexdigest()
    _rewrite(tmp_path / "m", cfg)
    with pytest.raises(ValueError, match=re.escape(repr(key))):
        aekit.load(tmp_path / "m")


def test_untampered_models_of_every_class_load(tmp_path, tiny_models):
    X, models = tiny_models
    for name, est in models.items():
        est.save(tmp_path / name)
        back = aekit.load(tmp_path / name)
        method = "predict_proba" if name == "classifier" else "score_samples"
        np.testing.assert_array_equal(getattr(back, method)(X), getattr(est, method)(X))


@pytest.mark.parametrize("param", ["checkpoint_dir", "log_dir"])
def test_a_loaded_model_never_writes_where_its_file_says(tmp_path, fitted, param):
    """Where a fit writes is the caller's choice at fit time: a saved checkpoint_dir or
    log_dir (also one a tamperer put in a config) is not carried into a later fit."""
    ae, X_test = fitted
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    foreign = elsewhere / "checkpoint-0123456789abcdef.safetensors"
    foreign.write_bytes(b"not aekit's")
    ae.set_params(**{param: str(elsewhere)})
    try:
        ae.save(tmp_path / "m")
    finally:
        ae.set_params(**{param: None})
    cfg = json.loads((tmp_path / "m" / "config.json").read_text())
    assert cfg["params"][param] is None  # never stored
    cfg["params"][param] = str(elsewhere)  # a hostile or older file stores it anyway
    _rewrite(tmp_path / "m", cfg)
    back = aekit.load(tmp_path / "m")
    assert back.get_params()[param] is None
    back.set_params(max_epochs=1).fit(X_test)
    assert sorted(p.name for p in elsewhere.iterdir()) == [foreign.name]
    # The caller's own choice still works.
    mine = tmp_path / "mine"
    back.set_params(**{param: str(mine)}).fit(X_test)
    assert mine.is_dir() and any(mine.rglob("*"))


def test_save_removes_only_files_aekit_wrote(tmp_path, fitted):
    """A Hugging Face model.safetensors, or a file that looks like an aekit weights file
    but is not one, is never deleted by a save; the weights of the replaced model are."""
    ae, X_test = fitted
    d = tmp_path / "m"
    d.mkdir()
    (d / "model.safetensors").write_bytes(b"hugging face weights")
    (d / "model-0123456789abcdef.safetensors").write_bytes(b"someone else's")
    ae.save(d)
    first = _weights(d)
    assert (d / "model.safetensors").read_bytes() == b"hugging face weights"
    assert (d / "model-0123456789abcdef.safetensors").read_bytes() == b"someone else's"
    AutoEncoder(3, max_epochs=1, random_state=1).fit(X_test).save(d)
    assert not first.exists()  # the replaced model's weights: aekit's own
    assert (d / "model.safetensors").exists()
    assert (d / "model-0123456789abcdef.safetensors").exists()
    # A weights file left by a killed save (named by its content's hash) is aekit's.
    import hashlib

    blob = b"a save killed before its manifest"
    orphan = d / f"model-{hashlib.sha256(blob).hexdigest()[:16]}.safetensors"
    orphan.write_bytes(blob)
    ae.save(d)
    assert not orphan.exists() and (d / "model.safetensors").exists()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs (POSIX)")
@pytest.mark.parametrize("which", ["weights", "config"])
def test_a_fifo_as_a_model_file_is_refused_at_once(tmp_path, fitted, which):
    import subprocess
    import sys

    ae, _ = fitted
    ae.save(tmp_path / "m")
    target = _weights(tmp_path / "m") if which == "weights" else tmp_path / "m" / "config.json"
    target.unlink()
    os.mkfifo(target)
    # In a child process: a blocking open would hang this test, not fail it.
    code = ("import aekit, sys\n"
            "try:\n    aekit.load(sys.argv[1])\n"
            "except ValueError as e:\n    print(e); sys.exit(3)\n")
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path / "m")], timeout=60,
                          capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(Path(aekit.__file__).parents[1])})
    assert proc.returncode == 3, proc.stderr
    assert "not a regular file" in proc.stdout


def test_save_never_overwrites_a_config_json_aekit_did_not_write(tmp_path, fitted):
    ae, _ = fitted
    d = tmp_path / "hf"
    d.mkdir()
    (d / "config.json").write_text('{"model_type": "bert"}')
    (d / "model.safetensors").write_bytes(b"hugging face weights")
    with pytest.raises(ValueError, match="not an aekit model file"):
        ae.save(d)
    assert (d / "config.json").read_text() == '{"model_type": "bert"}'
    assert sorted(p.name for p in d.iterdir()) == ["config.json", "model.safetensors"]


# --------------------------------------------------------------------------- pickles
def _pickle_models():
    """``_tiny_models`` and a ladder: one fitted model of every class."""
    from aekit import LadderClassifier

    X, models = _tiny_models()
    y = (X[:, 0] > 0.5).astype(int)
    ladder = LadderClassifier(hidden_layer_sizes=(8,), max_epochs=2, random_state=0).fit(X, y)
    return X, {**models, "ladder": ladder}


def _outputs(est, X):
    return est.predict_proba(X) if hasattr(est, "predict_proba") else est.score_samples(X)


def _modules(est):
    """``est``'s modules, those of the estimators it holds too (a classifier's autoencoder)."""
    nested = [v for v in vars(est).values() if hasattr(v, "module_")]
    return [est.module_] + [m for v in nested for m in _modules(v)]


@pytest.mark.parametrize("name", ["ae-quantile", "vae", "detector", "classifier", "ladder"])
def test_a_model_pickled_on_a_gpu_unpickles_on_a_machine_without_one(name):
    import pickle
    from unittest import mock

    import torch.serialization

    X, models = _pickle_models()
    est = models[name]
    gpu = pickle.loads(pickle.dumps(est))
    # As fitted on a GPU: device_ says CUDA, and torch tags the module's storages 'cuda:0'
    # when it pickles them (which this CPU-only torch cannot unpickle). Empty storages all
    # have address 0: they cannot be told apart, and hold nothing to lose.
    on_gpu = {t.untyped_storage().data_ptr() for m in _modules(gpu)
              for t in [*m.parameters(), *m.buffers()]} - {0}
    for holder in [gpu] + [v for v in vars(gpu).values() if hasattr(v, "module_")]:
        holder.device_ = torch.device("cuda", 0)
    tag, modules = torch.serialization.location_tag, _modules(gpu)
    with mock.patch.object(torch.serialization, "location_tag",
                           lambda s: "cuda:0" if s.data_ptr() in on_gpu else tag(s)):
        blob = pickle.dumps(gpu)
    assert all(a is b for a, b in zip(_modules(gpu), modules))  # pickling changed nothing
    with pytest.warns(UserWarning, match=r"fitted on cuda:0.*unpickled onto the CPU"):
        back = pickle.loads(blob)
    assert back.device_.type == "cpu"
    np.testing.assert_array_equal(_outputs(back, X), _outputs(est, X))


def test_a_table_model_pickled_on_a_gpu_holds_no_tensor_left_on_the_gpu(monkeypatch):
    # A pickle copies the module's parameters and buffers to the CPU (_saving._on_cpu);
    # any other tensor it holds stays where it was. The one-hot lookup of a table's
    # categories (nn.tabular.TabularInput) was cached as a plain attribute, on the GPU,
    # once the model had encoded a row: a machine without CUDA could not unpickle it.
    # Here every storage the pickle holds that _on_cpu did not make is tagged 'cuda:0', as
    # on a GPU; this CPU-only torch refuses to unpickle such a storage.
    import pickle
    from unittest import mock

    import pandas as pd
    import torch.serialization

    import aekit.estimators._saving as saving

    rng = np.random.RandomState(0)
    df = pd.DataFrame({"a": rng.rand(80), "c": pd.Categorical(rng.choice(list("xyz"), 80))})
    est = AutoEncoder(2, hidden_layer_sizes=(8,), max_epochs=2, random_state=0).fit(df)
    codes = est.transform(df)  # encodes rows: the lookup is built
    est.device_ = torch.device("cuda", 0)  # as fitted on a GPU
    copies, on_cpu = [], saving._on_cpu
    monkeypatch.setattr(saving, "_on_cpu", lambda m: copies.append(on_cpu(m)) or copies[-1])

    def moved():
        return {t.untyped_storage().data_ptr() for m in copies
                for t in [*m.parameters(), *m.buffers()]}

    tag = torch.serialization.location_tag
    with mock.patch.object(torch.serialization, "location_tag",
                           lambda s: tag(s) if s.data_ptr() in moved() | {0} else "cuda:0"):
        blob = pickle.dumps(est)
    with pytest.warns(UserWarning, match=r"fitted on cuda:0.*unpickled onto the CPU"):
        back = pickle.loads(blob)
    np.testing.assert_array_equal(back.transform(df), codes)


def test_copies_of_a_model_stay_on_its_device():
    # fit_atomically and as_fitted copy estimators: those copies must not move the module.
    import copy
    import warnings

    est = copy.copy(_pickle_models()[1]["classifier"])
    est.device_ = torch.device("cuda", 0)  # as fitted on a GPU (the module stays here)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        shallow, deep = copy.copy(est), copy.deepcopy(est)
    assert shallow.module_ is est.module_ and shallow.device_ == est.device_
    assert deep.module_ is not est.module_ and deep.device_ == est.device_
    for a, b in zip(_modules(est), _modules(deep)):
        assert a is not b
        assert all(torch.equal(t, b.state_dict()[k]) for k, t in a.state_dict().items())


@pytest.mark.parametrize("name", ["ae-auto", "vae", "detector", "classifier", "ladder"])
def test_a_cpu_model_pickles_exactly_and_silently(name):
    import pickle
    import warnings

    from sklearn.base import clone

    X, models = _pickle_models()
    est = models[name]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        back = pickle.loads(pickle.dumps(est))
    for a, b in zip(_modules(est), _modules(back)):
        assert a.state_dict().keys() == b.state_dict().keys()
        assert all(torch.equal(a.state_dict()[k], b.state_dict()[k]) for k in a.state_dict())
    np.testing.assert_array_equal(_outputs(back, X), _outputs(est, X))
    assert clone(back).get_params().keys() == est.get_params().keys()


# --------------------------------------------------------------------------- held locks
needs_flock = pytest.mark.skipif(_io.fcntl is None, reason="needs flock (POSIX)")


@needs_flock
def test_a_held_lock_refuses_a_second_holder_at_once_and_says_who(tmp_path):
    # Two open files of one lock conflict within one process too, as between two.
    with _io.held_lock(tmp_path / "run", "x.lock", "pid 1 on host h") as path:
        assert path.read_text() == f"{_io.LOCK_MARK} pid 1 on host h\n"
        with pytest.raises(_io.LockHeld) as err:
            with _io.held_lock(tmp_path / "run", "x.lock", "pid 2"):
                pass
        assert err.value.holder == "pid 1 on host h"
        assert path.read_text() == f"{_io.LOCK_MARK} pid 1 on host h\n"  # not taken over
        # A save into the directory takes its own lock (on the directory): no conflict.
        with _io.locked_dir(tmp_path / "run"):
            pass
    assert not (tmp_path / "run").exists()  # created for the lock, left empty: removed
    with _io.held_lock(tmp_path, "x.lock", "again"):
        (tmp_path / "kept").write_text("a run's file\n")
    assert [p.name for p in tmp_path.iterdir()] == ["kept"]  # the lock file is removed


@needs_flock
def test_a_lock_left_by_a_killed_holder_is_taken_over(tmp_path):
    import subprocess
    import sys

    code = ("import sys\nfrom aekit.core.storage import held_lock\n"
            "with held_lock(sys.argv[1], 'x.lock', 'the killed one'):\n"
            "    print('held', flush=True)\n    sys.stdin.read()\n")
    proc = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            env={**os.environ,
                                 "PYTHONPATH": str(Path(aekit.__file__).parents[1])})
    try:
        assert proc.stdout.readline() == "held\n"
        with pytest.raises(_io.LockHeld, match="the killed one"):
            with _io.held_lock(tmp_path, "x.lock", "mine"):
                pass
        proc.kill()  # SIGKILL: no clean-up; the file stays, the lock goes with the process
        proc.wait(timeout=60)
    finally:
        proc.kill()
        proc.stdin.close()
        proc.stdout.close()
    assert "the killed one" in (tmp_path / "x.lock").read_text()
    with _io.held_lock(tmp_path, "x.lock", "mine") as path:
        assert path.read_text() == f"{_io.LOCK_MARK} mine\n"
    assert not (tmp_path / "x.lock").exists()


@needs_flock
def test_a_lock_file_aekit_did_not_write_is_refused_and_kept(tmp_path):
    (tmp_path / "x.lock").write_text("my notes\n")
    with pytest.raises(ValueError, match="not an aekit lock file"):
        with _io.held_lock(tmp_path, "x.lock", "mine"):
            pass
    assert (tmp_path / "x.lock").read_text() == "my notes\n"


@needs_flock
def test_a_lock_directory_made_anew_after_a_race_is_removed_too(tmp_path, monkeypatch):
    # Another holder created "outer/sub dir" and removes both on release, between this call
    # seeing them and opening its lock file there: this call re-creates them, so they are its
    # own to remove when it leaves them empty (and never tmp_path, which it did not create).
    directory = tmp_path / "outer" / "sub dir"
    directory.mkdir(parents=True)
    real_open, raced = os.open, []

    def open_after_the_other_holder_left(path, *args, **kwargs):
        if Path(path) == directory / "x.lock" and not raced:
            raced.append(path)
            directory.rmdir()
            directory.parent.rmdir()
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(_io.os, "open", open_after_the_other_holder_left)
    with _io.held_lock(directory, "x.lock", "mine") as path:
        assert raced and path.read_text() == f"{_io.LOCK_MARK} mine\n"
    assert list(tmp_path.iterdir()) == []
    # Anything written into it meanwhile keeps the directory (and its parents).
    directory.mkdir(parents=True)
    with _io.held_lock(directory, "x.lock", "mine"):
        (directory / "kept").write_text("a run's file\n")
    assert [p.name for p in directory.iterdir()] == ["kept"]


def test_without_flock_nothing_is_locked_or_written(tmp_path, monkeypatch):
    monkeypatch.setattr(_io, "fcntl", None)  # Windows
    with _io.held_lock(tmp_path / "run", "x.lock", "mine") as path:
        with _io.held_lock(tmp_path / "run", "x.lock", "another"):
            assert path is None
    assert not (tmp_path / "run").exists()
