"""The command line under faults: runs killed (SIGKILL) and resumed, Ctrl-C and SIGTERM,
and inputs that used to end in a traceback (one ``error:`` line and exit code 2 now)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import aekit
from aekit import AutoEncoder, EncoderClassifier, runs
from aekit.callbacks import checkpoint_info
from aekit.cli import app
from aekit.data import load_dataset

runner = CliRunner()
# 30 epochs of a small model on digits, early stopping on: long enough to be killed a few
# times, short enough for the suite.
TRAIN = ["train", "--data", "digits", "--components", "2", "--hidden", "32", "--epochs", "30",
         "--patience", "5", "--seed", "0", "--device", "cpu"]


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def assert_one_line_error(result, match: str):
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and match in lines[0], lines[0]
    assert "Traceback" not in result.output


def _env():
    src = str(Path(aekit.__file__).resolve().parents[1])
    env = {**os.environ, "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    env.pop("AEKIT_DEBUG", None)
    return env


def _start(args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "aekit", *map(str, args)], env=_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _epoch(run: Path) -> int:
    """Epochs in the checkpoint of ``run`` (restarts count whole), -1 without one."""
    info = checkpoint_info(run) or {}
    loop = info.get("loop") or {}
    return int(loop.get("epoch", -1))


def _wait_for(condition, proc, timeout=120.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if proc.poll() is not None:
            return False
        assert time.monotonic() < deadline, "timed out waiting for training to progress"
        time.sleep(0.02)
    return True


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The run never interrupted."""
    out = tmp_path_factory.mktemp("runs") / "reference"
    result = invoke(*TRAIN, "--out", out)
    assert result.exit_code == 0, result.output
    assert not (out / "checkpoint.json").exists()  # removed once the run is whole
    assert not list(out.glob("checkpoint-*"))
    return aekit.load(out)


def _same_model(run: Path, reference):
    X = load_dataset("digits").X_test
    est = aekit.load(run)
    assert est.n_iter_ == reference.n_iter_
    np.testing.assert_allclose(est.transform(X), reference.transform(X), rtol=0, atol=1e-5)
    strip = [[{k: v for k, v in r.items() if k != "seconds"} for r in e.history_]
             for e in (est, reference)]
    assert strip[0] == strip[1]
    assert runs.is_complete(run)  # metrics.json describes this model


@pytest.mark.slow
def test_a_run_killed_three_times_and_resumed_ends_as_one_never_interrupted(
        tmp_path, reference):
    run = tmp_path / "run"
    rng = random.Random(0)
    proc, kills = _start([*TRAIN, "--out", run]), 0
    while kills < 3:
        seen = _epoch(run)
        # Let it make progress (a new checkpoint), then kill it at a random moment.
        if not _wait_for(lambda: _epoch(run) > seen, proc):
            break  # it finished first
        time.sleep(rng.uniform(0.0, 0.3))
        proc.kill()
        proc.communicate()
        kills += 1
        if kills < 3:
            proc = _start([*TRAIN, "--out", run, "--resume"])
    assert kills == 3, "the run finished before it could be killed three times"
    result = invoke(*TRAIN, "--out", run, "--resume")  # the last one in this process
    assert result.exit_code == 0, result.output
    _same_model(run, reference)
    assert not (run / "checkpoint.json").exists()
    assert not [p for p in run.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_the_run_keeps_a_model_and_resume_finishes_it(
        tmp_path, reference, signum):
    run = tmp_path / "run"
    proc = _start([*TRAIN, "--out", run])
    assert _wait_for(lambda: _epoch(run) >= 1, proc), "finished before the signal"
    sent = time.monotonic()
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=60)
    assert time.monotonic() - sent < 15
    assert proc.returncode == 128 + signum, out + err
    assert f"{signal.Signals(signum).name}: stopped" in err and "--resume" in err
    stopped = aekit.load(run)  # the model kept so far
    assert 1 <= stopped.n_iter_ < reference.n_iter_
    assert not (run / "metrics.json").exists()
    result = invoke(*TRAIN, "--out", run, "--resume")
    assert result.exit_code == 0, result.output
    _same_model(run, reference)


# --------------------------------------------------------------------------- resume errors
def test_resume_without_a_checkpoint_is_an_error(tmp_path):
    assert_one_line_error(invoke(*TRAIN, "--out", tmp_path / "new", "--resume"),
                          "no checkpoint")


def test_resume_of_a_complete_run_has_nothing_to_do(tmp_path):
    run = tmp_path / "run"
    args = ["train", "--data", "digits", "--components", "2", "--hidden", "8", "--epochs",
            "2", "--seed", "0", "--device", "cpu", "--out", run]
    assert invoke(*args).exit_code == 0
    result = invoke(*args, "--resume")
    assert result.exit_code == 0 and "nothing to resume" in result.output


def test_resume_with_other_options_names_them(tmp_path, monkeypatch):
    from aekit import callbacks

    run = tmp_path / "run"
    args = ["train", "--data", "digits", "--components", "2", "--hidden", "8", "--seed", "0",
            "--device", "cpu", "--out", run]

    def crash(self, state, record):
        raise RuntimeError("killed")

    real = callbacks.Checkpoint.on_epoch_end
    with monkeypatch.context() as m:
        m.setattr(callbacks.Checkpoint, "on_epoch_end",
                  lambda self, state, record: (real(self, state, record), self.wait(),
                                               crash(self, state, record)))
        assert invoke(*args, "--epochs", "3").exit_code != 0
    assert_one_line_error(invoke(*args, "--epochs", "4", "--resume"),
                          "max_epochs=3 (now 4)")


# --------------------------------------------------------------------------- bad inputs
@pytest.fixture(scope="module")
def classifier_run(tmp_path_factory):
    X_train, _, y_train = (load_dataset("digits").X_train, None, None)
    y = (X_train[:, 20] > X_train[:, 20].mean()).astype(int)
    ae = AutoEncoder(2, hidden_layer_sizes=(8,), max_epochs=1, random_state=0)
    clf = EncoderClassifier(ae, max_epochs=1, random_state=0).fit(X_train, y)
    path = tmp_path_factory.mktemp("runs") / "classifier"
    clf.save(path)
    return path


@pytest.mark.parametrize("command", ["encode", "compare", "report"])
def test_commands_that_need_an_autoencoder_refuse_a_classifier(
        classifier_run, tmp_path, command):
    rows = tmp_path / "rows.npy"
    np.save(rows, load_dataset("digits").X_test)
    args = {"encode": [classifier_run, rows, "--out", tmp_path / "z.npy"],
            "compare": [classifier_run, "--data", "digits"],
            "report": [classifier_run, "--data", "digits"]}[command]
    assert_one_line_error(invoke(command, *args), "holds an EncoderClassifier")


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "small"
    result = invoke("train", "--data", "digits", "--components", "2", "--hidden", "8",
                    "--epochs", "2", "--seed", "0", "--device", "cpu", "--out", out)
    assert result.exit_code == 0, result.output
    return out


def test_a_truncated_npz_is_an_error(small_run, tmp_path):
    path = tmp_path / "rows.npz"
    np.savez(path, X=load_dataset("digits").X_test)
    path.write_bytes(path.read_bytes()[:300])
    assert_one_line_error(invoke("encode", small_run, path, "--out", tmp_path / "z.npy"),
                          "not a readable .npz archive")
    assert_one_line_error(invoke("train", "--data", path, "--epochs", "1",
                                 "--out", tmp_path / "run"), "not a readable .npz archive")


def test_a_csv_with_a_huge_cell_is_an_error(small_run, tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text("a,b\n1,2\n3," + "9" * 200_000 + "\n")
    assert_one_line_error(invoke("encode", small_run, path, "--out", tmp_path / "z.npy"),
                          "line 3")


def test_values_beyond_float32_are_an_error(small_run, tmp_path):
    X = load_dataset("digits").X_test.astype(np.float64)
    X[3, 4] = 1e39
    path = tmp_path / "rows.npy"
    np.save(path, X)
    result = invoke("encode", small_run, path, "--out", tmp_path / "z.npy")
    assert_one_line_error(result, "beyond float32's range")
    assert "row(s) [3]" in result.stderr and not (tmp_path / "z.npy").exists()


def test_metrics_of_another_model_are_never_used(small_run, tmp_path):
    # A run killed after its new model was written but before its metrics: emulated by
    # saving another model beside the old metrics.
    import shutil

    run = tmp_path / "run"
    shutil.copytree(small_run, run)
    assert runs.read_metrics(run)["n_iter"] == 2
    AutoEncoder(2, hidden_layer_sizes=(8,), max_epochs=1, random_state=1).fit(
        load_dataset("digits").X_train).save(run)
    with pytest.raises(ValueError, match="describes another model"):
        runs.read_metrics(run)
    assert_one_line_error(invoke("report", run, "--data", "digits"), "describes another model")
    assert not runs.is_complete(run)
    metrics = json.loads((small_run / "metrics.json").read_text())
    assert metrics["model_sha256"] == json.loads(
        (small_run / "config.json").read_text())["sha256"]


def test_train_offers_resume_checkpoints_and_a_torchrun_timeout():
    result = invoke("train", "--help")
    assert result.exit_code == 0
    for option in ("--resume", "--checkpoint-dir", "--dist-timeout"):
        assert option in result.output
    assert "export" in invoke("--help").output
