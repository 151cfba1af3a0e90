"""The command line under faults: runs killed (SIGKILL) and resumed, Ctrl-C and SIGTERM,
and inputs that used to end in a traceback (one ``error:`` line and exit code 2 now)."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import aekit
from aekit import AutoEncoder, EncoderClassifier, runs
from aekit.training.callbacks import checkpoint_info
from aekit.data import load_dataset

from conftest import assert_one_line_error, invoke

# 30 epochs of a small model on digits, early stopping on (it does not stop early: the
# killed run needs them, see KILL_AFTER), short enough for the suite.
TRAIN = ["train", "--data", "digits", "--components", "2", "--hidden", "32", "--epochs", "30",
         "--patience", "5", "--seed", "0", "--device", "cpu"]


def _env():
    src = str(Path(aekit.__file__).resolve().parents[1])
    env = {**os.environ, "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    env.pop("AEKIT_DEBUG", None)
    return env


# ``python -m aekit`` with one addition: right after the epochs named in its first argument
# ("4,8") have handed their checkpoint to the writer thread (epoch 0: as training begins,
# before the first checkpoint), the process stops itself
# (SIGSTOP: every thread, the writer's too, freezes where it is) until the test continues
# it. The test then knows where the run is whatever the machine's speed (an epoch here takes
# milliseconds on a fast machine, a kill timed from outside comes after the run has ended).
_STOPPING_CLI = textwrap.dedent("""
    import os, signal, sys
    from aekit.training import callbacks
    from aekit.cli.commands import main

    stops = {int(epoch) for epoch in sys.argv.pop(1).split(",")}
    real = callbacks.Checkpoint.on_epoch_end
    begin = callbacks.Checkpoint.on_train_begin

    def on_epoch_end(self, state, record):
        real(self, state, record)
        if state["epoch"] in stops:
            os.kill(os.getpid(), signal.SIGSTOP)

    def on_train_begin(self, state):  # "0": before the first epoch, so before any checkpoint
        begin(self, state)
        if state["epoch"] == 0 and 0 in stops:
            os.kill(os.getpid(), signal.SIGSTOP)

    callbacks.Checkpoint.on_epoch_end = on_epoch_end
    callbacks.Checkpoint.on_train_begin = on_train_begin
    sys.argv[0] = "aekit"
    main()
""")


def _start_stopping(stops, args, log: Path) -> subprocess.Popen:
    """``aekit *args`` in a process that stops itself after each epoch of ``stops``."""
    with open(log, "ab") as out:  # a file, not a pipe: a full pipe would block the run
        return subprocess.Popen(
            [sys.executable, "-c", _STOPPING_CLI, ",".join(map(str, stops)), *map(str, args)],
            env=_env(), stdout=out, stderr=subprocess.STDOUT)


def _stopped(proc: subprocess.Popen, timeout=120.0) -> bool:
    """Wait until ``proc`` stops itself (True) or ends (False, its returncode set)."""
    deadline = time.monotonic() + timeout
    while True:
        pid, status = os.waitpid(proc.pid, os.WNOHANG | os.WUNTRACED)
        if pid:
            if os.WIFSTOPPED(status):
                return True
            proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here
            return False
        assert time.monotonic() < deadline, "timed out waiting for training to progress"
        time.sleep(0.01)


def _epoch(run: Path) -> int:
    """Epochs in the checkpoint of ``run`` (restarts count whole), -1 without one."""
    info = checkpoint_info(run) or {}
    loop = info.get("loop") or {}
    return int(loop.get("epoch", -1))


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


# Where each of the three runs is killed: it stops itself KILL_AFTER epochs after the epoch
# of the checkpoint it starts from (drawn from that range), is continued, and is killed
# after a random delay of up to KILL_DELAY seconds; a run that gets KILL_GUARD epochs further
# first stops itself again there and is killed stopped. Every kill so lands between the two
# stops, in training or in a checkpoint write (the delay and the machine's speed decide
# where), and the last run's guard (epoch 3 * (4 + 4) = 24 at the latest) comes before the
# run's end.
KILL_AFTER, KILL_GUARD, KILL_DELAY = (2, 4), 4, 0.02


@pytest.mark.slow
def test_a_run_killed_three_times_and_resumed_ends_as_one_never_interrupted(
        tmp_path, reference):
    """A supervisor's loop: the same command, with --resume, again and again until it
    succeeds. The first two runs are killed before their first checkpoint (each next one
    has nothing to resume and starts from the beginning, saying so), the others at random
    moments of training or of a checkpoint write."""
    latest_guard = 3 * (KILL_AFTER[1] + KILL_GUARD)
    assert reference.n_iter_ > latest_guard, "the run is too short to be killed three times"
    run, log = tmp_path / "run", tmp_path / "runs.log"
    command = [*TRAIN, "--out", run, "--resume"]
    for _ in range(2):  # killed (stopped) as training begins: no checkpoint yet
        proc = _start_stopping([0], command, log)
        try:
            assert _stopped(proc), log.read_text()
        finally:
            proc.kill()
            proc.wait()
        assert proc.returncode == -signal.SIGKILL and _epoch(run) == -1
    assert log.read_text().count("starting the run from the beginning") == 2
    rng = random.Random(0)
    done = 0  # epochs in the checkpoint
    for _ in range(3):
        stop = done + rng.randint(*KILL_AFTER)
        proc = _start_stopping([stop, stop + KILL_GUARD], command, log)
        try:
            assert _stopped(proc), f"the run ended before epoch {stop}:\n{log.read_text()}"
            proc.send_signal(signal.SIGCONT)
            time.sleep(rng.uniform(0.0, KILL_DELAY))
        finally:
            proc.kill()
            proc.wait()
        assert proc.returncode == -signal.SIGKILL
        # The write of epoch stop - 1 was finished before that of epoch stop began.
        done = _epoch(run)
        assert stop - 1 <= done <= stop + KILL_GUARD
    result = invoke(*TRAIN, "--out", run, "--resume")  # the last one in this process
    assert result.exit_code == 0, result.output
    _same_model(run, reference)
    assert not (run / "checkpoint.json").exists()
    assert not [p for p in run.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_the_run_keeps_a_model_and_resume_finishes_it(
        tmp_path, reference, signum):
    run, log = tmp_path / "run", tmp_path / "run.log"
    proc = _start_stopping([2], [*TRAIN, "--out", run], log)
    assert _stopped(proc), f"the run ended before epoch 2:\n{log.read_text()}"
    # Sent while the run stands after epoch 2; it arrives as soon as the run goes on.
    proc.send_signal(signum)
    sent = time.monotonic()
    proc.send_signal(signal.SIGCONT)
    proc.wait(timeout=60)
    assert time.monotonic() - sent < 15
    out = log.read_text()
    assert proc.returncode == 128 + signum, out
    assert f"{signal.Signals(signum).name}: stopped" in out and "--resume" in out
    stopped = aekit.load(run)  # the model kept so far
    assert 1 <= stopped.n_iter_ < reference.n_iter_
    assert not (run / "metrics.json").exists()
    result = invoke(*TRAIN, "--out", run, "--resume")
    assert result.exit_code == 0, result.output
    _same_model(run, reference)


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_never_replaces_a_finished_run(tmp_path, reference, signum):
    """Ctrl-C or SIGTERM during a rerun into a finished run keeps the finished model and
    its metrics (as kill -9 does); --resume finishes the new run, which then replaces it."""
    import shutil

    run, log = tmp_path / "run", tmp_path / "run.log"
    small = ["train", "--data", "digits", "--components", "2", "--hidden", "8", "--epochs",
             "2", "--seed", "0", "--device", "cpu", "--out", run]
    assert invoke(*small).exit_code == 0
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    assert "metrics.json" in before and runs.is_complete(run)
    proc = _start_stopping([2], [*TRAIN, "--out", run], log)
    assert _stopped(proc), f"the run ended before epoch 2:\n{log.read_text()}"
    proc.send_signal(signum)
    proc.send_signal(signal.SIGCONT)
    proc.wait(timeout=60)
    assert proc.returncode == 128 + signum, log.read_text()
    assert "keeps the finished run" in log.read_text() and "--resume" in log.read_text()
    after = {p.name: p.read_bytes() for p in run.iterdir() if not p.name.startswith(
        "checkpoint")}
    assert after == before and runs.is_complete(run)
    result = invoke(*TRAIN, "--out", run, "--resume")
    assert result.exit_code == 0, result.output
    _same_model(run, reference)
    shutil.rmtree(run)


@pytest.mark.parametrize("where", ["load_dataset", "write_run"])
def test_ctrl_c_outside_training_says_so(tmp_path, monkeypatch, where):
    """Ctrl-C while the data load or the run is written (outside the loop, which reports
    what it kept itself) ends with one error line and 130, not a silent exit."""
    from aekit.cli import commands

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(commands if where == "load_dataset" else runs, where, interrupt)
    result = invoke("train", "--data", "digits", "--components", "2", "--hidden", "8",
                    "--epochs", "1", "--seed", "0", "--device", "cpu", "--out", tmp_path / "r")
    assert result.exit_code == 130
    assert result.stderr.strip() == "error: aborted (Ctrl-C, SIGINT)", result.stderr


# --------------------------------------------------------------------------- resume
def test_resume_without_a_checkpoint_starts_from_the_beginning(tmp_path):
    """A supervisor runs the same command again and again: --resume with nothing to resume
    (no run yet, or a finished run of other options) starts the run and says so."""
    run = tmp_path / "new"
    args = ["train", "--data", "digits", "--components", "2", "--hidden", "8", "--seed", "0",
            "--device", "cpu", "--out", run, "--resume"]
    result = invoke(*args, "--epochs", "2")
    assert result.exit_code == 0, result.output
    assert "no checkpoint" in result.output and "from the beginning" in result.output
    assert runs.is_complete(run) and aekit.load(run).n_iter_ == 2
    again = invoke(*args, "--epochs", "2")  # the same run, finished: nothing to do
    assert again.exit_code == 0 and "nothing to resume" in again.output
    other = invoke(*args, "--epochs", "3")  # another run's command: it is started
    assert other.exit_code == 0 and "from the beginning" in other.output, other.output
    assert aekit.load(run).n_iter_ == 3


def test_resume_of_a_complete_run_has_nothing_to_do(tmp_path):
    run = tmp_path / "run"
    args = ["train", "--data", "digits", "--components", "2", "--hidden", "8", "--epochs",
            "2", "--seed", "0", "--device", "cpu", "--out", run]
    assert invoke(*args).exit_code == 0
    result = invoke(*args, "--resume")
    assert result.exit_code == 0 and "nothing to resume" in result.output
    # A named dataset's rows are data too: fewer of them is another run's.
    assert_one_line_error(invoke(*args, "--resume", "--rows", "100"), "other data",
                          "train_shape=[1347, 64] (now [100, 64])")


def test_resume_of_a_complete_run_refuses_other_data(tmp_path):
    """--resume on a finished run checks its data as a checkpoint does: other options or
    another file content are refused, naming what differs and the way out, and the run
    stays; the same bytes under another path are the same data."""
    rng = np.random.default_rng(0)
    data = tmp_path / "rows.csv"
    np.savetxt(data, rng.normal(size=(40, 4)), delimiter=",", header="a,b,c,d", comments="")
    run = tmp_path / "run"
    args = ["train", "--data", data, "--components", "2", "--hidden", "8", "--epochs", "2",
            "--seed", "0", "--device", "cpu", "--out", run]
    assert invoke(*args).exit_code == 0
    saved = json.loads((run / "metrics.json").read_text())["dataset"]
    assert saved["file_sha256"] == runs.file_sha256(data) and len(saved["file_sha256"]) == 64
    model = (run / "config.json").read_bytes()
    for extra, named in ((["--drop", "a"], "drop=[] (now ['a'])"),
                         (["--rows", "30", "--test-size", "0.5"],
                          "rows=None (now 30), --test-size 0.2 (now 0.5)")):
        assert_one_line_error(invoke(*args, "--resume", *extra), "complete run of other data",
                              named, "new --out", "drop --resume")
    copy = tmp_path / "copy.csv"
    copy.write_bytes(data.read_bytes())
    same = invoke(*[copy if a == data else a for a in args], "--resume")
    assert same.exit_code == 0 and "nothing to resume" in same.output, same.output
    np.savetxt(data, rng.normal(size=(40, 4)), delimiter=",", header="a,b,c,d", comments="")
    assert_one_line_error(invoke(*args, "--resume"), f"the content of {data} (its SHA-256)")
    assert (run / "config.json").read_bytes() == model  # every refusal left the run as it was


def test_a_run_of_an_older_aekit_without_a_checksum_is_judged_by_its_path(tmp_path,
                                                                           monkeypatch):
    """A run that kept no file_sha256 (an older aekit): one rule for every command
    (runs.trained_on_file), the file at the path it recorded is its file. So --resume
    finds it finished, as compare and report keep its split; the same bytes under
    another path cannot be told apart, and are other data."""
    from aekit.cli.commands import _trained_on

    monkeypatch.chdir(tmp_path)
    np.savetxt("rows.csv", np.random.default_rng(0).normal(size=(40, 4)), delimiter=",",
               header="a,b,c,d", comments="")
    args = ["train", "--data", "rows.csv", "--components", "2", "--hidden", "8", "--epochs",
            "2", "--seed", "0", "--device", "cpu", "--test-size", "0.5", "--out", "run"]
    assert invoke(*args).exit_code == 0
    metrics = json.loads(Path("run/metrics.json").read_text())
    metrics["dataset"]["file_sha256"] = None
    Path("run/metrics.json").write_text(json.dumps(metrics))
    saved = metrics["dataset"]
    for path, same in (("rows.csv", True), (tmp_path / "rows.csv", True), ("copy.csv", False)):
        Path("copy.csv").write_bytes(Path("rows.csv").read_bytes())
        data = load_dataset(str(path), **saved["options"])
        assert runs.trained_on_file(saved, path) is same
        assert (_trained_on(Path("run"), str(path)) is not None) is same
        assert (runs.data_differences("run", data) == []) is same
    result = invoke(*args, "--resume")
    assert result.exit_code == 0 and "nothing to resume" in result.output, result.output
    assert_one_line_error(invoke(*[a if a != "rows.csv" else "copy.csv" for a in args],
                                 "--resume"), "other data", "keeps no checksum")


def _killed_after_a_checkpoint(*args, monkeypatch):
    """Run ``aekit ARGS`` and kill it just after its first checkpoint is written."""
    from aekit.training import callbacks

    def crash(self, state, record):
        raise RuntimeError("killed")

    real = callbacks.Checkpoint.on_epoch_end
    with monkeypatch.context() as m:
        m.setattr(callbacks.Checkpoint, "on_epoch_end",
                  lambda self, state, record: (real(self, state, record), self.wait(),
                                               crash(self, state, record)))
        assert invoke(*args).exit_code != 0


def test_resume_with_other_options_names_them(tmp_path, monkeypatch):
    run = tmp_path / "run"
    args = ["train", "--data", "digits", "--components", "2", "--hidden", "8", "--seed", "0",
            "--device", "cpu", "--out", run]
    _killed_after_a_checkpoint(*args, "--epochs", "3", monkeypatch=monkeypatch)
    assert_one_line_error(invoke(*args, "--epochs", "4", "--resume"),
                          "--epochs 3 (now 4)")


def test_train_vae_resumes_a_killed_run_as_it_advises(tmp_path, monkeypatch):
    """train-vae checkpoints into its run directory as train does, and its Ctrl-C message
    says "--resume": the command takes it, and ends where an uninterrupted run ends."""
    args = ["train-vae", "--data", "digits", "--components", "2", "--hidden", "8", "--seed",
            "0", "--device", "cpu", "--epochs", "3"]
    assert invoke(*args, "--out", tmp_path / "whole").exit_code == 0
    run = tmp_path / "run"
    _killed_after_a_checkpoint(*args, "--out", run, monkeypatch=monkeypatch)
    assert _epoch(run) == 1
    result = invoke(*args, "--out", run, "--resume")
    assert result.exit_code == 0 and "resuming" in result.output, result.output
    assert runs.is_complete(run) and not (run / "checkpoint.json").exists()
    resumed, whole = aekit.load(run), aekit.load(tmp_path / "whole")
    X = load_dataset("digits").X_test
    assert resumed.n_iter_ == whole.n_iter_ == 3
    np.testing.assert_array_equal(resumed.transform(X), whole.transform(X))


def test_resume_from_a_damaged_checkpoint_advises_to_start_afresh(tmp_path, monkeypatch):
    run = tmp_path / "run"
    args = ["train", "--data", "digits", "--components", "2", "--hidden", "8", "--seed", "0",
            "--device", "cpu", "--epochs", "3", "--out", run]
    _killed_after_a_checkpoint(*args, monkeypatch=monkeypatch)
    weights = run / json.loads((run / "checkpoint.json").read_text())["weights"]
    weights.write_bytes(weights.read_bytes()[:100])  # truncated
    result = invoke(*args, "--resume")
    assert_one_line_error(result, "truncated", "run the command without --resume")
    assert "save the model again" not in result.stderr
    assert invoke(*args).exit_code == 0 and runs.is_complete(run)  # as advised


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
    # Worded as the library's check_autoencoder words it.
    assert_one_line_error(invoke(command, *args), "takes an autoencoder",
                          f"the EncoderClassifier in {classifier_run} is not one")


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


def test_train_refuses_a_bad_dist_timeout_outside_torchrun(tmp_path, monkeypatch):
    for var in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(var, raising=False)
    result = invoke("train", "--data", "digits", "--out", tmp_path / "run", "--epochs", "1",
                    "--dist-timeout", "-5")
    assert_one_line_error(result, "--dist-timeout", "> 0 seconds")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("command", [["detect", "--data", "rows.csv", "--out", "det"],
                                     ["encode", "run", "rows.csv", "--out", "codes.csv"],
                                     ["demo", "--out", "demo"]])
def test_a_command_that_does_not_share_its_work_is_refused_under_torchrun(
        tmp_path, monkeypatch, command):
    # Each of torchrun's processes would run the whole command, writing the same files.
    np.savetxt(tmp_path / "rows.csv", np.random.RandomState(0).rand(60, 4), delimiter=",")
    monkeypatch.chdir(tmp_path)
    for var, value in (("RANK", "0"), ("WORLD_SIZE", "2"), ("MASTER_ADDR", "127.0.0.1"),
                       ("MASTER_PORT", "1")):
        monkeypatch.setenv(var, value)
    assert_one_line_error(invoke(*command, "--device", "cpu") if command[0] == "detect"
                          else invoke(*command), f"'aekit {command[0]}' runs in one process",
                          "WORLD_SIZE=2", "without torchrun")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rows.csv"]  # nothing written


# --------------------------------------------------------------------------- issue 17, item 11
@pytest.mark.parametrize("opset", ["0", "99", "1", "8", "10", "21"])
def test_export_with_an_unsupported_opset_is_one_error_line(small_run, tmp_path, opset):
    assert_one_line_error(invoke("export", small_run, "--out", tmp_path / "x", "--opset",
                                 opset), f"--opset {opset} is not supported", "11 to 20")
    assert not (tmp_path / "x").exists()


def test_export_of_a_detector_run_is_one_error_line(tmp_path):
    path = tmp_path / "rows.csv"
    np.savetxt(path, np.random.RandomState(0).rand(60, 4), delimiter=",")
    assert invoke("detect", "--data", path, "--out", tmp_path / "det", "--max-epochs", "2",
                  "--device", "cpu").exit_code == 0
    assert_one_line_error(invoke("export", tmp_path / "det", "--out", tmp_path / "x"),
                          "OutlierDetector cannot be exported", "aekit score")


def test_export_of_a_scaler_onnx_lacks_is_one_error_line(tmp_path):
    run = tmp_path / "q"
    assert invoke("train", "--data", "digits", "--components", "2", "--hidden", "8",
                  "--epochs", "1", "--scaler", "quantile", "--device", "cpu",
                  "--out", run).exit_code == 0
    result = invoke("export", run, "--out", tmp_path / "x")
    assert_one_line_error(result, "scaler='quantile'", "scaler='standard'")
    assert "Torch IR" not in result.output


@pytest.mark.parametrize("command", ["train", "encode", "detect", "score"])
def test_the_meta_device_is_one_error_line(small_run, tmp_path, command):
    rows = tmp_path / "rows.npy"
    np.save(rows, load_dataset("digits").X_test[:20])
    args = {"train": ["train", "--data", "digits", "--epochs", "1", "--out", tmp_path / "r"],
            "encode": ["encode", small_run, rows, "--out", tmp_path / "z.npy"],
            "detect": ["detect", "--data", rows, "--out", tmp_path / "d"],
            "score": ["score", small_run, rows, "--out", tmp_path / "s.csv"]}[command]
    assert_one_line_error(invoke(*args, "--device", "meta"), "--device meta holds no data")


def test_an_npz_without_arrays_is_one_error_line(small_run, tmp_path):
    import zipfile

    path = tmp_path / "rows.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "no arrays here")
    for args in (["encode", small_run, path, "--out", tmp_path / "z.npy"],
                 ["train", "--data", path, "--epochs", "1", "--out", tmp_path / "run"],
                 ["detect", "--data", path, "--out", tmp_path / "det"]):
        assert_one_line_error(invoke(*args), "no feature array", "readme.txt")


def test_a_diverged_train_is_one_error_line_and_writes_no_run(tmp_path):
    """Finite garbage (a step size far too large): exit code 1, one error line naming the
    fix, and no run that looks finished."""
    run = tmp_path / "run"
    result = invoke("train", "--data", "digits", "--components", "2", "--hidden", "16",
                    "--epochs", "3", "--learning-rate", "1000", "--seed", "0",
                    "--device", "cpu", "--out", run)
    assert result.exit_code == 1, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "learning_rate" in lines[0]
    assert not (run / "config.json").exists() and not runs.is_complete(run)


def test_a_train_split_too_small_for_the_pca_baseline_is_refused_before_the_fit(
        tmp_path, monkeypatch):
    # Regression: the fit ran, wrote its checkpoint into --out, then the PCA baseline failed.
    _no_fit(monkeypatch, AutoEncoder, aekit.VariationalAutoEncoder)
    rows = tmp_path / "rows.npy"
    np.save(rows, np.random.default_rng(0).random((2, 4)))  # 1 train row, 1 test row
    for command in ("train", "train-vae"):
        out = tmp_path / command
        assert_one_line_error(invoke(command, "--data", rows, "--components", "2",
                                     "--epochs", "1", "--device", "cpu", "--out", out),
                              "train split has 1 row(s), fewer than --components 2")
        assert not out.exists() or not list(out.iterdir())


# --------------------------------------------------------------------------- --out directories
def _no_fit(monkeypatch, *classes):
    """Make a fit of ``classes`` fail loudly: a refusal must come before it."""
    def fit(self, *args, **kwargs):
        raise AssertionError("the fit ran before --out was checked")

    for cls in classes:
        monkeypatch.setattr(cls, "fit", fit)


def _out_args(command, rows, out):
    data = ["--data", "digits"] if command.startswith("train") else ["--data", rows]
    return [command, *data, "--epochs" if command.startswith("train") else "--max-epochs",
            "2", "--device", "cpu", "--out", out]


@pytest.mark.parametrize("command", ["train", "train-vae", "detect"])
def test_a_directory_of_the_user_s_files_is_refused_before_the_fit(tmp_path, monkeypatch,
                                                                    command):
    _no_fit(monkeypatch, AutoEncoder, aekit.VariationalAutoEncoder, aekit.OutlierDetector)
    rows = tmp_path / "rows.npy"
    np.save(rows, load_dataset("digits").X_test[:60])
    out = tmp_path / "mine"
    out.mkdir()
    files = {"metrics.json": "mine\n", "loss.png": "mine\n", "notes.txt": "mine\n"}
    for name, text in files.items():
        (out / name).write_text(text)
    assert_one_line_error(invoke(*_out_args(command, rows, out)),
                          f"--out {out} holds metrics.json, loss.png, which aekit did not write")
    assert {p.name: p.read_text() for p in out.iterdir()} == files


@pytest.mark.parametrize("manifest, noun", [("config.json", "model"),
                                            ("checkpoint.json", "checkpoint")])
def test_a_foreign_manifest_in_out_is_refused_before_the_fit(tmp_path, monkeypatch, manifest,
                                                             noun):
    _no_fit(monkeypatch, AutoEncoder)
    out = tmp_path / "t1"
    out.mkdir()
    files = {manifest: '{"my": 1}\n', "metrics.json": "mine\n", "loss.png": "mine\n"}
    for name, text in files.items():
        (out / name).write_text(text)
    assert_one_line_error(invoke(*_out_args("train", None, out)),
                          f"{out / manifest} is not an aekit {noun} file")
    assert {p.name: p.read_text() for p in out.iterdir()} == files


@pytest.mark.skipif(not os.path.isdir("/sys"), reason="needs a directory no one may write")
def test_an_unwritable_out_is_refused_before_the_fit(tmp_path, monkeypatch):
    """/sys takes no new files, not even from root (a read-only file system is the same)."""
    _no_fit(monkeypatch, aekit.OutlierDetector)
    rows = tmp_path / "rows.npy"
    np.save(rows, load_dataset("digits").X_test[:60])
    result = invoke(*_out_args("detect", rows, "/sys/aekit-test/run"))
    assert_one_line_error(result, "--out /sys/aekit-test/run cannot be created in /sys")
    assert ".tmp" not in result.stderr


@pytest.mark.skipif(not os.path.isdir("/sys"), reason="needs a directory no one may write")
def test_an_unwritable_out_file_is_named_before_any_work(small_run, tmp_path):
    rows = tmp_path / "rows.npy"
    np.save(rows, load_dataset("digits").X_test[:20])
    for args in (["encode", small_run, rows, "--out", "/sys/codes.npy"],
                 ["report", small_run, "--data", "digits", "--out", "/sys/x/report.html"]):
        result = invoke(*args)
        assert_one_line_error(result, f"--out {args[-1]} cannot be created in /sys")
        assert ".tmp" not in result.stderr


def test_encode_never_replaces_a_file_aekit_did_not_write(small_run, tmp_path):
    # encode replaced whatever --out named: the caller's own data under another name.
    rows = tmp_path / "rows.npy"
    np.save(rows, load_dataset("digits").X_test[:20])
    mine = {tmp_path / "mine.npy": rows.read_bytes(), tmp_path / "mine.csv": b"id,x\n1,2\n"}
    for path, content in mine.items():
        path.write_bytes(content)
        result = invoke("encode", small_run, rows, "--out", path)
        assert_one_line_error(result, f"--out {path} exists and aekit did not write it; "
                              "pass --overwrite to replace it, or another path")
        assert path.read_bytes() == content
        # The caller's say, at call time, replaces it.
        assert invoke("encode", small_run, rows, "--out", path, "--overwrite").exit_code == 0
        assert path.read_bytes() != content
    assert np.load(tmp_path / "mine.npy").shape == (20, 2)
    # Never the input, nor a file of the run.
    kept = rows.read_bytes()
    assert_one_line_error(invoke("encode", small_run, rows, "--out", rows, "--overwrite"),
                          "is the input")
    assert_one_line_error(invoke("encode", small_run, rows, "--out",
                                 small_run / "scores.csv", "--overwrite"),
                          "the run's own scores.csv")
    assert rows.read_bytes() == kept and not (small_run / "scores.csv").exists()


def test_export_never_replaces_onnx_files_aekit_did_not_write(small_run, tmp_path):
    pytest.importorskip("onnx")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "encoder.onnx").write_text("mine\n")
    assert_one_line_error(invoke("export", small_run, "--out", mine),
                          "holds encoder.onnx, which aekit did not write")
    assert [p.name for p in mine.iterdir()] == ["encoder.onnx"]
    assert (mine / "encoder.onnx").read_text() == "mine\n"
    # Its own export it replaces, in a directory of its own or in the run.
    for out in (tmp_path / "onnx", tmp_path / "onnx", small_run):
        assert invoke("export", small_run, "--out", out).exit_code == 0
    assert (tmp_path / "onnx" / "decoder.onnx").stat().st_size > 0
    # A run directory vouches for what a run writes, not for the caller's graphs beside it.
    (small_run / "decoder.onnx").write_text("mine\n")
    assert_one_line_error(invoke("export", small_run, "--out", small_run),
                          "holds decoder.onnx, which aekit did not write and would replace")
    assert (small_run / "decoder.onnx").read_text() == "mine\n"
    (small_run / "decoder.onnx").unlink()


def test_retraining_a_run_removes_what_the_old_model_made(tmp_path):
    """A detector's scores and report describe its model: an autoencoder trained into the
    run replaces the model, so they go (and a retrained run keeps no stale report)."""
    rows = tmp_path / "rows.npy"
    np.save(rows, load_dataset("digits").X_test[:60])
    run = tmp_path / "run"
    assert invoke(*_out_args("detect", rows, run)).exit_code == 0
    assert {"scores.csv", "report.html"} <= {p.name for p in run.iterdir()}
    assert invoke(*_out_args("train", None, run), "--hidden", "8").exit_code == 0
    names = {p.name for p in run.iterdir()}
    assert not names & {"scores.csv", "report.html"}, names
    assert {"config.json", "metrics.json", "loss.png"} <= names and runs.is_complete(run)
    assert aekit.load(run).__class__ is AutoEncoder


# --------------------------------------------------------------------------- one writer
_HOLDER = textwrap.dedent("""
    # Holds a run directory as a command writing it does, until its stdin closes.
    import sys
    from aekit.runs import writing_run

    with writing_run(sys.argv[1], command="aekit train"):
        print("held", flush=True)
        sys.stdin.read()
""")


class _Holder:
    """Another process writing the directory ``out`` (its lock held) while in the block."""

    def __init__(self, out: Path):
        self.proc = subprocess.Popen([sys.executable, "-c", _HOLDER, str(out)], env=_env(),
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def __enter__(self):
        assert self.proc.stdout.readline() == "held\n"
        return self.proc

    def __exit__(self, *exc):
        self.proc.stdin.close()
        self.proc.wait(timeout=60)
        self.proc.stdout.close()


def _writers(out: Path, rows: Path, run: Path) -> dict[str, list]:
    """Each command that writes ``out``, as its arguments."""
    fit = ["--data", "digits", "--epochs", "2", "--device", "cpu", "--out", out]
    return {"train": ["train", *fit], "train --resume": ["train", *fit, "--resume"],
            "train-vae": ["train-vae", *fit], "train-ladder": ["train-ladder", *fit],
            "train-classifier": ["train-classifier", *fit],
            "detect": ["detect", "--data", rows, "--max-epochs", "2", "--device", "cpu",
                       "--out", out],
            "demo": ["demo", "--out", out], "export": ["export", run, "--out", out],
            "report": ["report", out, "--data", "digits"]}


def test_a_directory_another_process_writes_is_refused_at_once(small_run, tmp_path,
                                                               monkeypatch):
    _no_fit(monkeypatch, AutoEncoder, aekit.VariationalAutoEncoder, aekit.OutlierDetector,
            aekit.LadderClassifier, EncoderClassifier)
    rows = tmp_path / "rows.npy"
    np.save(rows, load_dataset("digits").X_test[:60])
    out = tmp_path / "run"
    shutil.copytree(small_run, out)  # a run, being rewritten
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    with _Holder(out) as holder:
        held = {**before, runs.RUN_LOCK: (out / runs.RUN_LOCK).read_bytes()}
        for command, args in _writers(out, rows, small_run).items():
            result = invoke(*args)
            assert_one_line_error(result, str(out), "is being written by another aekit "
                                  "process", f"pid {holder.pid} on host", "aekit train",
                                  "wait for that one to end")
            # report writes into the run it reads: no other --out to pass
            assert ("pass another --out" in result.stderr) == (command != "report"), command
            assert {p.name: p.read_bytes() for p in out.iterdir()} == held, command
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_a_killed_writer_blocks_neither_resume_nor_the_next_run(tmp_path, reference):
    run, log = tmp_path / "run", tmp_path / "run.log"
    proc = _start_stopping([3], [*TRAIN, "--out", run], log)
    try:
        assert _stopped(proc), log.read_text()
        # Stopped in the middle of its run: still the run's writer.
        for extra in (["--resume"], []):
            assert_one_line_error(invoke(*TRAIN, "--out", run, *extra), f"--out {run}",
                                  f"pid {proc.pid} on host")
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert f"pid {proc.pid}" in (run / runs.RUN_LOCK).read_text()  # left, but not locked
    result = invoke(*TRAIN, "--out", run, "--resume")
    assert result.exit_code == 0, result.output
    assert "resuming" in result.output
    _same_model(run, reference)
    assert not (run / runs.RUN_LOCK).exists()


def test_a_lock_file_left_by_a_killed_command_confuses_no_command(small_run, tmp_path):
    # What a kill -9 leaves: the file, naming a process that is gone, and no lock.
    run = tmp_path / "run"
    shutil.copytree(small_run, run)
    (run / runs.RUN_LOCK).write_text("aekit-lock pid 1 on host h, aekit train, since then\n")
    assert runs.check_out_dir(run) == run and runs.is_complete(run)
    args = {"export": ["export", run, "--out", run],
            "report": ["report", run, "--data", "digits"],
            "train": ["train", "--data", "digits", "--components", "2", "--hidden", "8",
                      "--epochs", "2", "--seed", "0", "--device", "cpu", "--out", run,
                      "--resume"]}
    for name, command in args.items():
        if name == "export":
            pytest.importorskip("onnx")
        result = invoke(*command)
        assert result.exit_code == 0, result.output
        assert not (run / runs.RUN_LOCK).exists()  # taken over, and removed at the end
        (run / runs.RUN_LOCK).write_text("aekit-lock pid 1\n")
    assert "nothing to resume" in result.output  # the run was recognised as finished
