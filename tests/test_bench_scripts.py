"""The bench scripts as a reviewer runs them: bench/README.md names each one, each starts
with ``--help``, says clearly when its data is missing, and warms every timed side up.
No timing is asserted: speed is measured by the scripts themselves."""

import re
import sys
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


def _script(monkeypatch, name):
    """Import ``bench/<name>.py`` freshly (the scripts import each other by bare name)."""
    monkeypatch.syspath_prepend(str(BENCH))
    sys.modules.pop(name, None)
    module = __import__(name)
    monkeypatch.setitem(sys.modules, name, module)
    return module


def test_the_readme_names_every_script_in_its_table():
    table = (BENCH / "README.md").read_text()
    named = set(re.findall(r"^\| `([\w.]+\.py)` \|", table, flags=re.M))
    scripts = {p.name for p in BENCH.glob("*.py")}
    assert scripts - named == set(), "scripts missing from bench/README.md's table"
    assert named - scripts == set(), "bench/README.md names scripts that do not exist"


def _no_data(*args, **kwargs):
    raise FileNotFoundError("not here (a test)")


def test_encoder_dev_has_a_help_and_checks_its_arguments(monkeypatch, capsys):
    encoder_dev = _script(monkeypatch, "encoder_dev")
    with pytest.raises(SystemExit) as done:
        encoder_dev.main(["--help"])
    assert done.value.code == 0
    assert "per_class" in capsys.readouterr().out
    with pytest.raises(SystemExit) as done:
        encoder_dev.main(["1000", "1", "1", "no such variant"])
    assert done.value.code == 2
    assert "unknown variant" in capsys.readouterr().err


@pytest.mark.parametrize("script, argv", [
    ("encoder_dev", ["1000", "1", "1"]),
    ("ladder_dev", ["mnist", "1000", "1", "[{}]"]),
    ("ladder_dev", ["fashion", "1000", "1", "[{}]"]),
])
def test_a_missing_data_set_is_named_without_a_traceback(monkeypatch, script, argv):
    module = _script(monkeypatch, script)
    for loader in ("load_fashion_mnist", "load_mnist"):
        if hasattr(module, loader):
            monkeypatch.setattr(module, loader, _no_data)
    with pytest.raises(SystemExit) as done:
        module.main(argv)
    message = str(done.value.code)
    assert message.startswith("error: ") and "not on this machine" in message
    assert "not here (a test)" in message


@pytest.mark.slow
def test_anomaly_terms_keeps_one_column_per_named_term(monkeypatch):
    # The detector grew a fifth (isolation) term after the study was written: its columns
    # no longer matched TERMS' weights and every combination failed in a matrix product.
    anomaly_terms = _script(monkeypatch, "anomaly_terms")
    rng = np.random.default_rng(0)
    train, test = anomaly_terms.fit_terms(rng.random((120, 4)), rng.random((30, 4)), 0)
    assert train.shape == (120, len(anomaly_terms.TERMS))
    assert test.shape == (30, len(anomaly_terms.TERMS))
    weights = [1.0] * len(anomaly_terms.TERMS)
    scores = anomaly_terms.combine(anomaly_terms.ranks(train, test), weights, "mean")
    assert scores.shape == (30,) and np.isfinite(scores).all()


@pytest.mark.parametrize("extra", [[], ["--small"]])
def test_anomaly_terms_reads_the_data_folder_it_is_given(monkeypatch, tmp_path, extra):
    anomaly_terms = _script(monkeypatch, "anomaly_terms")
    with pytest.raises(SystemExit) as done:  # an empty folder: said, not an empty table
        anomaly_terms.main(["--data", str(tmp_path), *extra])
    assert str(done.value.code).startswith("error: ") and str(tmp_path) in done.value.code


@pytest.mark.slow
def test_anomaly_terms_compares_the_shipped_weights(monkeypatch, tmp_path, capsys):
    # Its per-set table called the weights of the detector before its isolation term "frozen
    # default"; the shipped detector weighs isolation 2. Fits replaced by random terms.
    anomaly_terms = _script(monkeypatch, "anomaly_terms")
    rng = np.random.default_rng(0)
    n_terms = len(anomaly_terms.TERMS)
    monkeypatch.setattr(anomaly_terms, "fit_terms", lambda X_train, X_test, seed: (
        rng.random((len(X_train), n_terms)), rng.random((len(X_test), n_terms))))
    monkeypatch.setattr(anomaly_terms, "RESULTS", tmp_path / "results")
    X = rng.random((60, 3))
    y = np.r_[np.zeros(50, int), np.ones(10, int)]
    np.savez(tmp_path / "1_toy.npz", X=X, y=y)
    anomaly_terms.main(["--data", str(tmp_path), "--seeds", "1", "--digits-seeds", "1"])
    out = capsys.readouterr().out
    assert "the shipped weights (mean w=(2, 1, 1, 1, 2, 0))" in out


def test_anomaly_warms_up_every_detector_before_timing(monkeypatch):
    # IsolationForest, whose fit time every other is divided by, and LOF and PCA were not
    # warmed up: their first fit carried the lazy imports.
    anomaly = _script(monkeypatch, "anomaly")
    warmed = []

    def recorder(name):
        def fit(X_train, seed):
            warmed.append(name)
            return lambda X: np.zeros(len(X))
        return fit

    monkeypatch.setattr(anomaly, "aekit_fit", lambda params: recorder("aekit"))
    monkeypatch.setattr(anomaly, "pyod_fit", recorder)
    monkeypatch.setattr(anomaly, "baseline_fit", recorder)
    anomaly.warm_up(anomaly.DETECTORS)
    assert warmed == list(anomaly.DETECTORS)


def _timed_calls(calls, warm_rows):
    """The sides of ``calls`` ((side, rows) in call order) warmed on ``warm_rows`` rows
    before the first call on more rows, and all sides seen."""
    first_full = next(i for i, (_, rows) in enumerate(calls) if rows > warm_rows)
    return {s for s, rows in calls[:first_full] if rows == warm_rows}, {s for s, _ in calls}


def test_conv_speed_warms_up_every_side(monkeypatch, capsys):
    conv_speed = _script(monkeypatch, "conv_speed")
    calls = []

    def plain(X, epochs, seed, channels_last):
        calls.append((f"plain {channels_last}", len(X)))
        return 1.0, None

    def aekit(X, epochs, seed, precision):
        calls.append((f"aekit {precision}", len(X)))
        return 1.0, None

    X = np.zeros((3000, 784), np.float32)
    monkeypatch.setattr(conv_speed, "load_split", lambda rows, test: (X[:rows], X[:10], "toy"))
    monkeypatch.setattr(conv_speed, "plain_conv", plain)
    monkeypatch.setattr(conv_speed, "aekit_conv", aekit)
    monkeypatch.setattr(conv_speed, "test_mse", lambda model, X_test: 0.0)
    conv_speed.main(["--rows", "3000", "--repeats", "1"])
    warmed, sides = _timed_calls(calls, 1024)
    assert warmed == sides and len(sides) == 4


def test_fit_speed_warms_up_every_side(monkeypatch, capsys):
    fit_speed = _script(monkeypatch, "fit_speed")
    from _common import FitResult

    calls = []

    def plain(X, epochs, seed, code=2):
        calls.append(("plain", len(X)))
        return FitResult(1.0, 0.1, None)

    def aekit(X, epochs, seed, code=2, precision="float32"):
        calls.append((f"aekit {precision}", len(X)))
        return FitResult(1.0, 0.1, None)

    X = np.zeros((3000, 784), np.float32)
    monkeypatch.setattr(fit_speed, "load_split", lambda rows: (X[:rows], X[:10], "toy"))
    monkeypatch.setattr(fit_speed, "plain_fit", plain)
    monkeypatch.setattr(fit_speed, "aekit_fit", aekit)
    monkeypatch.setattr(fit_speed, "reconstruction_mse", lambda result, X_test: 0.1)
    fit_speed.main(["--rows", "3000", "--repeats", "1", "--epochs", "1"])
    warmed, sides = _timed_calls(calls, 2048)
    assert warmed == sides == {"plain", "aekit float32", "aekit bfloat16"}
