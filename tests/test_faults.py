"""Faults: checkpoints and resume, Ctrl-C / SIGTERM, failed fits that change nothing,
divergence after the last step, values beyond float32, files that change under a stream."""

from __future__ import annotations

import copy
import io
import json
import os
import signal
import warnings

import numpy as np
import pytest
import torch
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

import aekit
from aekit import AutoEncoder, EncoderClassifier, VariationalAutoEncoder
from aekit.data import fingerprints
from aekit.training import callbacks
from aekit.estimators import _base
from aekit.training.loop import FitInterrupted, TrainingDivergedError, fit_loop, init_state

from conftest import tiny_problem


@pytest.fixture(scope="module")
def rows(digits):
    X_train, X_test, _, _ = digits
    return X_train[:400], X_test


class Crash(Exception):
    """Stands in for a process killed right after a checkpoint was written."""


def crash_after(monkeypatch, n: int):
    """Make the ``n``-th checkpoint written be the last: the fit then dies."""
    real = callbacks.Checkpoint.write
    count = {"n": 0}

    def write(self, state):
        real(self, state)
        count["n"] += 1
        if count["n"] == n:
            self.wait()
            raise Crash

    monkeypatch.setattr(callbacks.Checkpoint, "write", write)


def crash_fit(est, X, n: int) -> None:
    """``est.fit(X)``, dying right after its ``n``-th checkpoint."""
    with pytest.MonkeyPatch.context() as m:
        crash_after(m, n)
        with pytest.raises(Crash):
            est.fit(X)


def same_fit(a, b, X):
    """Same number of epochs, same history (but the timings), same codes bit for bit."""
    def strip(history):
        return [{k: v for k, v in r.items() if k != "seconds"} for r in history]

    assert a.n_iter_ == b.n_iter_
    assert strip(a.history_) == strip(b.history_)
    np.testing.assert_array_equal(a.transform(X), b.transform(X))


# --------------------------------------------------------------------------- resume
RESUME_CASES = {
    "plain": (AutoEncoder, dict(hidden_layer_sizes=(16,), max_epochs=6)),
    "restarts, early stopping, noise, dropout": (AutoEncoder, dict(
        hidden_layer_sizes=(16,), max_epochs=30, patience=2, tol=0.05, n_init=3,
        noise="gaussian", dropout=0.1)),
    "greedy pretraining, sgd": (AutoEncoder, dict(
        hidden_layer_sizes=(16, 8), max_epochs=4, pretrain="greedy", pretrain_epochs=2,
        optimizer="sgd")),
    "vae with kl warm-up": (VariationalAutoEncoder, dict(
        hidden_layer_sizes=(16,), max_epochs=5, kl_warmup_epochs=3)),
    # Non-contiguous weights (the transposed convolutions'), stepped by fused Adam: restored
    # moments laid out otherwise than their weights were paired with other weights.
    "convolutional": (AutoEncoder, dict(
        architecture="conv", image_shape=(8, 8), hidden_layer_sizes=(4,), max_epochs=5)),
}


@pytest.mark.parametrize("case", RESUME_CASES)
@pytest.mark.parametrize("crash_at", [1, 4])
def test_a_resumed_fit_ends_exactly_where_an_uninterrupted_one_ends(
        tmp_path, rows, case, crash_at):
    X, X_test = rows
    cls, kw = RESUME_CASES[case]
    reference = cls(2, random_state=0, device="cpu", **kw).fit(X)
    est = cls(2, random_state=0, device="cpu", checkpoint_dir=tmp_path, **kw)
    crash_fit(est, X, crash_at)
    with pytest.raises(NotFittedError):
        check_is_fitted(est)  # the crashed fit left nothing behind
    assert (tmp_path / "checkpoint.json").is_file()
    est.fit(X, resume=True)
    same_fit(est, reference, X_test)


def test_a_streamed_fit_resumes_exactly(tmp_path, rows):
    X, X_test = rows
    path = tmp_path / "rows.npy"
    np.save(path, X.astype(np.float32))
    kw = dict(hidden_layer_sizes=(16,), max_epochs=5, chunk_rows=100, random_state=0,
              device="cpu")
    reference = AutoEncoder(2, **kw).fit(path)
    est = AutoEncoder(2, checkpoint_dir=tmp_path / "ck", **kw)
    crash_fit(est, path, 2)
    est.fit(path, resume=True)
    same_fit(est, reference, X_test)


def test_a_streamed_resume_refuses_another_file_copied_over_with_its_time_kept(
        tmp_path, rows):
    """``cp -p other.npy rows.npy`` writes into the same inode, at the same size, and sets
    the old modification time: the file's stamp is unchanged, its bytes are not."""
    X, _ = rows
    path = tmp_path / "rows.npy"
    np.save(path, X.astype(np.float32))
    kw = dict(hidden_layer_sizes=(16,), max_epochs=3, chunk_rows=100, random_state=0,
              device="cpu", checkpoint_dir=tmp_path / "ck")
    crash_fit(AutoEncoder(2, **kw), path, 1)
    st = os.stat(path)
    other = io.BytesIO()
    np.save(other, (X[::-1] * 2).astype(np.float32))
    with open(path, "r+b") as f:  # in place: the same inode
        f.write(other.getvalue())
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert fingerprints.file_stamp(path) == [st.st_size, st.st_mtime_ns, st.st_ino]
    with pytest.raises(ValueError, match=r"another fit.*the data \(X\)"):
        AutoEncoder(2, **kw).fit(path, resume=True)


def test_a_streamed_resume_tells_slices_of_one_file_and_rows_in_memory_apart(
        tmp_path, rows):
    """A memmap's file stamp is the same for each slice of it, and rows in memory have no
    stamp: the fingerprint holds where a map's rows lie in its file, and the content of rows
    in memory, so other rows are refused and the same rows resume exactly."""
    X, X_test = rows
    X = X.astype(np.float32)
    np.save(tmp_path / "both.npy", np.concatenate([X[:200], X[200:] * 3 + 1]))
    mm = np.load(tmp_path / "both.npy", mmap_mode="r")
    kw = dict(hidden_layer_sizes=(16,), max_epochs=3, chunk_rows=100, random_state=0,
              device="cpu", checkpoint_dir=tmp_path / "ck")
    cases = [(mm[:200], [mm[200:], mm[::2]]),
             (aekit.data.open_rows(X[:200]), [aekit.data.open_rows(X[200:])])]
    for first, others in cases:
        crash_fit(AutoEncoder(2, **kw), first, 2)
        for other in others:
            with pytest.raises(ValueError, match=r"another fit.*the data \(X\)"):
                AutoEncoder(2, **kw).fit(other, resume=True)
        resumed = AutoEncoder(2, **kw).fit(first, resume=True)
        same_fit(resumed, AutoEncoder(2, **{**kw, "checkpoint_dir": None}).fit(first), X_test)


def test_an_unseeded_fit_resumes_with_its_own_random_draws(tmp_path, rows):
    X, X_test = rows
    est = AutoEncoder(2, hidden_layer_sizes=(16,), max_epochs=4, device="cpu",
                      checkpoint_dir=tmp_path)
    crash_fit(est, X, 2)
    saved = json.loads((tmp_path / "checkpoint.json").read_text())
    est.fit(X, resume=True)
    assert est.n_iter_ == 4
    records = [{k: v for k, v in r.items() if k != "seconds"} for r in est.history_[:2]]
    assert records == [{k: v for k, v in r.items() if k != "seconds"}
                       for r in saved["loop"]["history"]]


def test_resume_refuses_another_fits_checkpoint(tmp_path, rows):
    X, _ = rows
    kw = dict(hidden_layer_sizes=(16,), max_epochs=4, random_state=0, device="cpu",
              checkpoint_dir=tmp_path)
    crash_fit(AutoEncoder(2, **kw), X, 1)
    with pytest.raises(ValueError, match=r"another fit.*n_components=2 \(now 3\)"):
        AutoEncoder(3, **kw).fit(X, resume=True)
    with pytest.raises(ValueError, match=r"another fit.*the data \(X\)"):
        AutoEncoder(2, **kw).fit(X[:-1], resume=True)
    with pytest.raises(ValueError, match=r"the data \(sample_weight\)"):
        AutoEncoder(2, **kw).fit(X, sample_weight=np.ones(len(X)), resume=True)
    # verbose and where logs go do not change what is computed
    AutoEncoder(2, **{**kw, "verbose": 0}).fit(X, resume=True)


def test_resume_refuses_other_validation_data_and_names_it(tmp_path, rows):
    """The caller's hold-out decides val_loss and the epoch early stopping keeps: a resume
    with another one (or other weights on it) would mix two hold-outs in one history."""
    X, X_test = rows
    X_fit, V = X[:300], X[300:]
    kw = dict(hidden_layer_sizes=(16,), max_epochs=3, random_state=0, device="cpu",
              checkpoint_dir=tmp_path)
    with pytest.MonkeyPatch.context() as m:
        crash_after(m, 1)
        with pytest.raises(Crash):
            AutoEncoder(2, **kw).fit(X_fit, validation_data=V)
    for other in (V * 2, (V, None, np.linspace(0.1, 1, len(V))), V[:-1]):
        with pytest.raises(ValueError, match=r"the data \(validation_data\)"):
            AutoEncoder(2, **kw).fit(X_fit, validation_data=other, resume=True)
    with pytest.raises(ValueError, match=r"the data \(validation_data\)"):
        AutoEncoder(2, **kw).fit(X_fit, resume=True)
    resumed = AutoEncoder(2, **kw).fit(X_fit, validation_data=V, resume=True)
    reference = AutoEncoder(2, **{**kw, "checkpoint_dir": None}).fit(X_fit, validation_data=V)
    same_fit(resumed, reference, X_test)


def test_resume_refuses_a_warm_start_checkpoint_without_its_fitted_model(tmp_path, rows):
    """A warm_start fit continues fitted weights (and scaler): an estimator re-created
    unfitted, or fitted otherwise, would resume from a checkpoint it cannot end as."""
    X, X_test = rows
    kw = dict(hidden_layer_sizes=(16,), random_state=0, device="cpu")
    base = AutoEncoder(2, max_epochs=2, **kw).fit(X)
    warm = dict(max_epochs=4, warm_start=True, checkpoint_dir=tmp_path, **kw)
    crash_fit(copy.deepcopy(base).set_params(**warm), X, 2)
    for other in (AutoEncoder(2, **warm), AutoEncoder(2, max_epochs=3, **kw).fit(X)):
        with pytest.raises(ValueError, match="the fitted model warm_start continues"):
            other.set_params(**warm).fit(X, resume=True)
    resumed = copy.deepcopy(base).set_params(**warm).fit(X, resume=True)
    reference = copy.deepcopy(base).set_params(**{**warm, "checkpoint_dir": None}).fit(X)
    same_fit(resumed, reference, X_test)


def test_resume_refuses_other_arithmetic_for_precision_auto(tmp_path, rows, monkeypatch):
    """precision="auto" is bfloat16 on hardware with it, float32 elsewhere: a checkpoint
    resumed on other hardware would go on in other arithmetic."""
    X, _ = rows
    kw = dict(hidden_layer_sizes=(16,), max_epochs=3, random_state=0, device="cpu",
              precision="auto", checkpoint_dir=tmp_path)
    monkeypatch.setattr(aekit.training.loop, "native_bf16", lambda device: True)
    crash_fit(AutoEncoder(2, **kw), X, 1)
    monkeypatch.setattr(aekit.training.loop, "native_bf16", lambda device: False)
    with pytest.raises(ValueError, match=r"arithmetic 'bfloat16' \(now 'float32'\).*'auto'"):
        AutoEncoder(2, **kw).fit(X, resume=True)


def test_resume_without_a_checkpoint_starts_afresh(tmp_path, rows):
    X, X_test = rows
    kw = dict(hidden_layer_sizes=(16,), max_epochs=3, random_state=0, device="cpu")
    fresh = AutoEncoder(2, checkpoint_dir=tmp_path / "none", **kw).fit(X, resume=True)
    same_fit(fresh, AutoEncoder(2, **kw).fit(X), X_test)
    with pytest.raises(ValueError, match="needs checkpoint_dir"):
        AutoEncoder(2, **kw).fit(X, resume=True)


def test_a_fresh_fit_replaces_a_stale_checkpoint(tmp_path, rows):
    X, _ = rows
    kw = dict(hidden_layer_sizes=(16,), max_epochs=3, random_state=0, device="cpu",
              checkpoint_dir=tmp_path)
    crash_fit(AutoEncoder(2, **kw), X, 1)
    crash_fit(AutoEncoder(3, **kw), X, 1)  # no resume: the other fit's checkpoint goes
    saved = json.loads((tmp_path / "checkpoint.json").read_text())
    assert saved["fingerprint"]["params"]["n_components"] == 3
    assert len(list(tmp_path.glob("checkpoint-*.safetensors"))) == 1


def test_checkpoint_files_are_never_unpickled_and_are_checked(tmp_path, rows):
    X, _ = rows
    kw = dict(hidden_layer_sizes=(16,), max_epochs=3, random_state=0, device="cpu",
              checkpoint_dir=tmp_path)
    crash_fit(AutoEncoder(2, **kw), X, 1)
    path = tmp_path / "checkpoint.json"
    path.write_text(path.read_text().replace('"epoch": 1', '"epoch": 2', 1))
    with pytest.raises(ValueError, match="modified after it was saved"):
        AutoEncoder(2, **kw).fit(X, resume=True)


# --------------------------------------------------------------------------- Ctrl-C
class SignalAt(callbacks.Callback):
    """Send this process ``signum`` at the end of epoch ``epoch``."""

    def __init__(self, epoch, signum=signal.SIGINT):
        self.epoch, self.signum = epoch, signum

    def on_epoch_end(self, state, record):
        if record["epoch"] == self.epoch and state["phase"] == "train":
            os.kill(os.getpid(), self.signum)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_at_the_end_of_the_step_and_keeps_the_best(rows, monkeypatch, signum):
    X, X_test = rows
    previous = AutoEncoder(2, hidden_layer_sizes=(16,), max_epochs=2, random_state=1,
                           device="cpu").fit(X)
    before = previous.transform(X_test)
    est = previous.set_params(max_epochs=50, random_state=0, patience=100,
                              lr_schedule="constant", callbacks=[SignalAt(3, signum)])
    with pytest.raises(FitInterrupted) as info:
        est.fit(X)
    assert info.value.signum == signum and isinstance(info.value, KeyboardInterrupt)
    np.testing.assert_array_equal(est.transform(X_test), before)  # left as it was
    partial = info.value.estimator
    assert partial is not est and partial.n_iter_ == 3  # epoch 4's first step was not kept
    kept = [r for r in partial.history_ if r.get("kept")]
    assert len(kept) == 1 and kept[0]["val_loss"] == min(r["val_loss"] for r in partial.history_)
    assert partial.transform(X_test).shape == (len(X_test), 2)
    # The handlers are Python's again once fit is over.
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_a_signal_before_the_first_epoch_ends_leaves_no_partial_model(rows, monkeypatch):
    X, _ = rows

    class Early(callbacks.Callback):
        def on_epoch_begin(self, state, epoch):
            os.kill(os.getpid(), signal.SIGINT)

    est = AutoEncoder(2, hidden_layer_sizes=(16,), max_epochs=5, device="cpu",
                      callbacks=[Early()])
    with pytest.raises(FitInterrupted) as info:
        est.fit(X)
    assert info.value.estimator is None
    with pytest.raises(NotFittedError):
        check_is_fitted(est)


def test_the_classifier_is_interruptible_too(digits, monkeypatch):
    X_train, X_test, y_train, _ = digits
    from aekit.semisupervised import classifier

    ae = AutoEncoder(3, hidden_layer_sizes=(16,), max_epochs=2, random_state=0).fit(X_train)
    clf = EncoderClassifier(ae, max_epochs=20, random_state=0, early_stopping=False,
                            lr_schedule="constant", callbacks=[SignalAt(2)])
    with pytest.raises(FitInterrupted) as info:
        clf.fit(X_train, y_train)
    with pytest.raises(NotFittedError):
        check_is_fitted(clf)
    assert info.value.estimator.n_iter_ == 2
    assert info.value.estimator.predict(X_test).shape == (len(X_test),)


def test_an_ignored_sigint_stays_ignored(rows):
    # A run started in the background of a script (or under nohup-like wrappers) inherits
    # SIGINT ignored: the fit must not take it over, and must leave it ignored.
    X, _ = rows
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        est = AutoEncoder(2, hidden_layer_sizes=(16,), max_epochs=3, random_state=0,
                          callbacks=[SignalAt(1)]).fit(X)  # the signal is ignored
        assert est.n_iter_ == 3 and signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)


# --------------------------------------------------------------------------- divergence
def test_a_blow_up_in_the_last_step_raises():
    # The loss of the last step is finite (it is taken before the step), but the step
    # leaves NaN weights; without a hold-out no later loss would see them.
    module, X = tiny_problem()
    optimizer = torch.optim.SGD(module.parameters(), lr=0.01)
    steps = {"n": 0}
    last = 3 * 4  # 3 epochs of 4 batches

    def objective(module, batch, epoch):
        steps["n"] += 1
        loss = torch.nn.functional.mse_loss(module(batch["x_in"]), batch["x"])
        if steps["n"] == last:  # finite value, NaN gradient (the where-gradient trap)
            w = next(module.parameters())
            poison = torch.where(torch.tensor(True), w.sum() * 0,
                                 torch.sqrt(-(w.abs().sum() + 1)))
            loss = loss + poison
        return {"loss": loss}

    state = init_state(module, optimizer)
    with pytest.raises(TrainingDivergedError, match="weights became NaN.*epoch 3"):
        fit_loop(state, objective, X, batch_size=25, max_epochs=3)
    assert all(torch.isfinite(p).all() for p in module.parameters())  # restored


def test_a_failed_refit_leaves_the_previous_model_working(rows):
    X, X_test = rows
    ae = AutoEncoder(2, hidden_layer_sizes=(16,), max_epochs=2, random_state=0).fit(X)
    before = {k: v for k, v in vars(ae).items() if k.endswith("_")}
    Z = ae.transform(X_test)
    ae.set_params(optimizer="sgd", learning_rate=100.0)
    with pytest.raises(TrainingDivergedError):
        ae.fit(X * 100)
    X_bad = np.random.RandomState(0).rand(50, 7)
    X_bad[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        ae.fit(X_bad)  # another width: n_features_in_ must not change
    assert {k: v for k, v in vars(ae).items() if k.endswith("_")}.keys() == before.keys()
    assert ae.n_features_in_ == 64 and ae.module_ is before["module_"]
    np.testing.assert_array_equal(ae.transform(X_test), Z)


def test_a_failed_first_fit_leaves_the_estimator_unfitted(rows):
    X, _ = rows
    ae = AutoEncoder(2, hidden_layer_sizes=(16,), max_epochs=2, optimizer="sgd",
                     learning_rate=100.0, random_state=0)
    with pytest.raises(TrainingDivergedError):
        ae.fit(X * 100)
    assert not [k for k in vars(ae) if k.endswith("_")]
    with pytest.raises(NotFittedError):
        ae.transform(X)


def test_a_diverging_restart_is_reported_and_skipped(rows, monkeypatch):
    X, X_test = rows
    real = _base.BaseAutoEncoder._fit_run

    def fit_run(self, fit, run, seed):
        if run in self._diverge:
            raise TrainingDivergedError(f"restart {run} blew up")
        return real(self, fit, run, seed)

    monkeypatch.setattr(_base.BaseAutoEncoder, "_fit_run", fit_run)
    ae = AutoEncoder(2, hidden_layer_sizes=(16,), max_epochs=2, n_init=3, random_state=0)
    ae._diverge = {1}
    with pytest.warns(aekit.RestartDivergedWarning, match="restart 2 of 3 diverged"):
        ae.fit(X)
    assert ae.transform(X_test).shape == (len(X_test), 2)
    ae._diverge = {0, 1, 2}
    with pytest.raises(TrainingDivergedError, match="all 3 restarts diverged"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", aekit.RestartDivergedWarning)
            ae.fit(X)


def test_a_diverged_warm_start_is_its_own_error_not_all_restarts(rows):
    """A warm_start fit is one run whatever n_init says: its divergence is that run's
    error, not "restart 1 of 3 diverged" then "all 3 restarts diverged"."""
    X, _ = rows
    ae = AutoEncoder(2, hidden_layer_sizes=(16,), max_epochs=1, warm_start=True,
                     random_state=0).fit(X)
    ae.set_params(n_init=3, optimizer="sgd", learning_rate=1e12)
    with warnings.catch_warnings():
        warnings.simplefilter("error", aekit.RestartDivergedWarning)
        with pytest.raises(TrainingDivergedError, match="^train: the loss became"), \
                pytest.warns(UserWarning, match="n_init=3 has no effect in this fit"):
            ae.fit(X)


# --------------------------------------------------------------------------- float32 range
def test_values_beyond_float32_are_refused_everywhere(digits, tmp_path):
    X_train, X_test, y_train, _ = digits
    ae = AutoEncoder(2, hidden_layer_sizes=(16,), max_epochs=1, random_state=0).fit(X_train)
    vae = VariationalAutoEncoder(2, hidden_layer_sizes=(16,), max_epochs=1,
                                 random_state=0).fit(X_train)
    clf = EncoderClassifier(ae, max_epochs=1, random_state=0).fit(X_train, y_train)
    X_big = X_test.astype(np.float64)
    X_big[5, 7] = 1e39
    match = r"beyond float32's range.*row\(s\) \[5\].*column\(s\) \[7\]"
    calls = [
        lambda: AutoEncoder(2, max_epochs=1).fit(X_big),
        lambda: VariationalAutoEncoder(2, max_epochs=1).fit(X_big),
        lambda: EncoderClassifier(ae, max_epochs=1).fit(X_big, y_train[: len(X_big)]),
    ]
    for est in (ae, vae):
        calls += [lambda est=est, m=m: getattr(est, m)(X_big)
                  for m in ("transform", "reconstruct", "score_samples", "score")]
    calls += [lambda m=m: getattr(clf, m)(X_big)
              for m in ("predict", "predict_proba", "predict_log_proba")]
    path = tmp_path / "big.npy"
    np.save(path, X_big)
    calls += [lambda: ae.transform(path), lambda: AutoEncoder(2, max_epochs=1).fit(path)]
    for call in calls:
        with pytest.raises(ValueError, match=match):
            call()
    for est in (ae, vae):
        with pytest.raises(ValueError, match=r"codes contains values beyond float32's range.* "
                                             r"2 row\(s\) \[0, 1\]"):
            est.inverse_transform(np.full((2, 2), -1e39))


# --------------------------------------------------------------------------- streams
def test_a_file_that_changes_during_training_ends_with_a_clear_error(tmp_path, rows):
    X, _ = rows
    path = tmp_path / "rows.npy"
    np.save(path, X.astype(np.float32))

    class Rewrite(callbacks.Callback):
        def on_epoch_end(self, state, record):
            if record["epoch"] == 1:
                np.save(path, X[:300].astype(np.float32))  # someone writes new data

    est = AutoEncoder(2, hidden_layer_sizes=(16,), max_epochs=3, chunk_rows=100,
                      random_state=0, callbacks=[Rewrite()])
    with pytest.raises(ValueError, match="rows.npy changed while it was being read"):
        est.fit(path)
    with pytest.raises(NotFittedError):
        check_is_fitted(est)


# --------------------------------------------------------------------------- data hashing
def test_the_data_are_hashed_only_for_a_checkpoint(rows, tmp_path, monkeypatch):
    from aekit.estimators import _recovery

    X, _ = rows
    hashed = []
    real = _recovery.sha256_rows
    monkeypatch.setattr(_recovery, "sha256_rows",
                        lambda data, *a, **k: (hashed.append(data.nbytes), real(data, *a, **k))[1])
    kw = dict(hidden_layer_sizes=(16,), max_epochs=1, random_state=0)
    AutoEncoder(2, **kw).fit(X, sample_weight=np.ones(len(X)))
    assert not hashed  # no checkpoint_dir: X is never read for a fingerprint
    AutoEncoder(2, checkpoint_dir=tmp_path, **kw).fit(X)
    assert X.nbytes in hashed or X.astype(np.float32).nbytes in hashed


# --------------------------------------------------------------------------- finite garbage
def _make(kind, **params):
    from aekit import OutlierDetector

    small = dict(max_epochs=params.pop("max_epochs", 5), random_state=0, **params)
    if kind == "ae":
        return AutoEncoder(2, hidden_layer_sizes=(16,), **small)
    if kind == "vae":
        return VariationalAutoEncoder(2, hidden_layer_sizes=(16,), **small)
    if kind == "detector":
        return OutlierDetector(n_estimators=2, **small)
    return EncoderClassifier(AutoEncoder(2, hidden_layer_sizes=(16,), max_epochs=2,
                                         random_state=0), **small)


DIVERGING = {
    "lr-1e3": dict(learning_rate=1e3),
    # One step of the whole data set at once: finite weights, outputs that overflow.
    "lr-1e30-one-batch": dict(learning_rate=1e30, max_epochs=1, batch_size=10_000),
    "lr-1e30-one-batch-no-hold-out": dict(learning_rate=1e30, max_epochs=1,
                                          batch_size=10_000, validation_fraction=0.0),
}


@pytest.mark.parametrize("case", DIVERGING)
@pytest.mark.parametrize("kind", ["ae", "vae", "classifier", "detector"])
def test_no_fit_returns_a_diverged_model(digits, kind, case):
    """A step size far too large never returns a model: neither one whose error is 1e26
    times predicting zeros (finite weights) nor one whose outputs are NaN; the error
    names the fix, and the estimator is left unfitted."""
    X_train, _, y_train, _ = digits
    X, y = X_train[:300], y_train[:300]
    est = _make(kind, **DIVERGING[case])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. a sigmoid output that cannot reach the data
        with pytest.raises(TrainingDivergedError, match="learning_rate"):
            est.fit(X, y) if kind == "classifier" else est.fit(X)
    with pytest.raises(NotFittedError):
        check_is_fitted(est)


@pytest.mark.parametrize("kind", ["ae", "vae", "classifier", "detector"])
def test_sensible_fits_pass_the_divergence_check(digits, kind):
    """The check never refuses a model that learned something or nothing: an ordinary
    fit, and one barely trained (one epoch at a tiny step size)."""
    X_train, X_test, y_train, y_test = digits
    for params in (dict(), dict(learning_rate=1e-7, max_epochs=1)):
        est = _make(kind, **params)
        est.fit(X_train, y_train) if kind == "classifier" else est.fit(X_train)


def test_the_divergence_check_looks_at_outputs_not_weights():
    """Direct: finite weights whose outputs on the rows overflow are refused."""
    from aekit.training.sanity import check_kept_model

    X = np.random.RandomState(0).rand(50, 4)
    ae = AutoEncoder(2, hidden_layer_sizes=(8,), max_epochs=1, random_state=0).fit(X)
    assert check_kept_model(ae, X) is ae
    with torch.no_grad():
        for p in ae.module_.decoder.parameters():
            p.fill_(1e38)  # finite, but a sum of them overflows
    with pytest.raises(TrainingDivergedError, match="NaN or infinite"):
        check_kept_model(ae, X)
    with torch.no_grad():
        for p in ae.module_.decoder.parameters():
            p.fill_(1e6)
    with pytest.raises(TrainingDivergedError, match="times that of a model that learned"):
        check_kept_model(ae, X)


_TRUNCATE_UNDER_READER = """
import sys
import numpy as np
from aekit import AutoEncoder
from aekit.data import files

path, method = sys.argv[1], sys.argv[2]
# The race this test pins down: the file shrinks after the reader checked it and while it
# copies rows (with a memory map: SIGBUS, the process dies). The check is switched off so
# the truncation lands exactly there, every time (patched in files, where the reads look
# it up).
files.check_unchanged = lambda part: None
X = np.load(path)
est = AutoEncoder(2, hidden_layer_sizes=(8,), max_epochs=2, chunk_rows=50, random_state=0)
est.fit(X)
reads = {"n": 0}
real = files._NpyFilePart.read

def read(self, start, stop, dtype):
    reads["n"] += 1
    if reads["n"] == 2:  # after the first chunk: another process truncates the file
        with open(path, "r+b") as f:
            f.truncate(200)
    return real(self, start, stop, dtype)

files._NpyFilePart.read = read
try:
    if method == "fit":
        AutoEncoder(2, hidden_layer_sizes=(8,), max_epochs=2, chunk_rows=50).fit(path)
    else:
        getattr(est, method)(path)
except ValueError as err:
    print(err)
    sys.exit(3)
"""


@pytest.mark.parametrize("method", ["transform", "score_samples", "fit"])
def test_a_npy_truncated_under_the_reader_is_an_error_never_a_signal(tmp_path, rows, method):
    import subprocess
    import sys
    from pathlib import Path

    X, _ = rows
    path = tmp_path / "rows.npy"
    np.save(path, X[:300])
    src = str(Path(aekit.__file__).resolve().parents[1])
    proc = subprocess.run(
        [sys.executable, "-c", _TRUNCATE_UNDER_READER, str(path), method],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": src, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 3, (proc.returncode, proc.stderr[-2000:])  # -7: SIGBUS
    assert "changed while it was being read" in proc.stdout
    # The read caught it, not the stamp check switched off above (whose message also says
    # "changed while it was being read"): otherwise the race goes untested.
    assert "past the end of the file" in proc.stdout, proc.stdout


@pytest.mark.parametrize("kind", ["npy", "parquet"])
def test_a_shard_cut_short_is_named_in_the_error(tmp_path, rows, kind):
    """NumPy and pyarrow name no file: in a directory of shards the error must say which one
    a killed writer left short."""
    X, _ = rows
    shards = tmp_path / "shards"
    shards.mkdir()
    for i in range(3):
        part = X[i * 100:(i + 1) * 100]
        if kind == "npy":
            np.save(shards / f"part-{i}.npy", part)
        else:
            pd = pytest.importorskip("pandas")
            pytest.importorskip("pyarrow")
            pd.DataFrame(part, columns=[f"c{j}" for j in range(part.shape[1])]).to_parquet(
                shards / f"part-{i}.parquet")
    cut = shards / f"part-1.{kind}"
    cut.write_bytes(cut.read_bytes()[:cut.stat().st_size // 2])
    with pytest.raises(ValueError, match=f"part-1.{kind} cannot be read"):
        AutoEncoder(2, max_epochs=1).fit(shards)
    if kind == "npy":  # read whole, mapped or not
        for mmap in (False, True):
            with pytest.raises(ValueError, match=f"{cut.name} cannot be read"):
                aekit.data.read_array(cut, mmap=mmap)


# --------------------------------------------------------------------------- wide text files
def test_a_wide_csv_is_typed_in_a_fixed_number_of_pandas_calls(tmp_path, monkeypatch):
    """A one-line CSV of many numbers: typing its columns costs a fixed number of pandas
    calls, not one per column (a Python loop took ~0.6 ms a column: 600,000 columns, over a
    minute). Counted, not timed: speed belongs in bench/."""
    import pandas as pd

    from aekit.data import delimited

    X = np.random.RandomState(0).rand(1, 20_000)
    path = tmp_path / "wide.csv"
    np.savetxt(path, X, delimiter=",")
    calls = {"n": 0}
    real = pd.to_numeric

    def counted(*args, **kwargs):
        calls["n"] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(pd, "to_numeric", counted)
    frame = delimited.read_table(path)
    monkeypatch.undo()
    assert calls["n"] <= 3
    assert frame.shape == (1, 20_000) and (frame.dtypes == np.float64).all()
    np.testing.assert_array_equal(frame.to_numpy(), X)


def test_wide_and_mixed_tables_keep_their_types(tmp_path):
    """The vectorised typing keeps every rule of the per-column one: whole numbers int64,
    missing cells (also with spaces around them) NaN, text stripped, booleans and numbers
    beyond int64 as text and floats."""
    import pandas as pd

    from aekit.data import read_table

    path = tmp_path / "mixed.csv"
    path.write_text("a,b,c,d,e,f,g\n"
                    "1, x ,True,1.0,18446744073709551615,,3\n"
                    "2,NA ,false,2.0,1, 4 ,NA \n")
    frame = read_table(path)
    assert frame["a"].dtype == np.int64 and frame["d"].dtype == np.int64
    assert frame["e"].dtype == np.float64 and frame["f"].dtype == np.float64
    assert frame["g"].dtype == np.float64 and np.isnan(frame["g"].iloc[1])
    assert list(frame["b"].iloc[:1]) == ["x"] and pd.isna(frame["b"].iloc[1])
    assert list(frame["c"]) == ["True", "false"]
    assert list(frame.columns) == list("abcdefg") and list(frame.index) == [2, 3]


def test_read_array_of_an_npz_without_arrays_is_an_error(tmp_path):
    import zipfile

    from aekit.data import read_array

    path = tmp_path / "notes.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "no arrays here")
    with pytest.raises(ValueError, match="no feature array.*readme.txt"):
        read_array(path)


# --------------------------------------------------------------------------- bad arguments
@pytest.fixture(scope="module")
def small_detector(rows):
    from aekit import OutlierDetector

    X, _ = rows
    return OutlierDetector(n_estimators=2, max_epochs=2, random_state=0).fit(X[:200])


@pytest.mark.parametrize("n_features, error", [(0, ValueError), (-1, ValueError),
                                               (2.5, TypeError), ("3", TypeError),
                                               (True, TypeError), (None, TypeError)])
@pytest.mark.parametrize("method", ["top_features", "explain"])
def test_n_features_must_be_a_positive_integer(small_detector, rows, method, n_features,
                                               error):
    X, _ = rows
    with pytest.raises(error, match="n_features must be an integer >= 1"):
        getattr(small_detector, method)(X[:5], n_features)


def test_n_features_beyond_the_columns_gives_them_all(small_detector, rows):
    X, _ = rows
    names, shares = small_detector.top_features(X[:5], 1000)
    assert names.shape == shares.shape == (5, X.shape[1])
    assert small_detector.explain(X[:5], np.int64(2)).shape == (5, 2 + 2 * 2)


def test_classifier_score_refuses_rows_and_labels_of_other_lengths(digits):
    X_train, X_test, y_train, y_test = digits
    clf = EncoderClassifier(AutoEncoder(2, hidden_layer_sizes=(16,), max_epochs=2,
                                        random_state=0), max_epochs=2,
                            random_state=0).fit(X_train[:300], y_train[:300])
    with pytest.raises(ValueError, match=r"inconsistent numbers of samples: \[50, 10\]"):
        clf.score(X_test[:50], y_test[:10])
    with pytest.raises(ValueError, match="inconsistent"):
        clf.score(X_test[:50], y_test[:50], sample_weight=np.ones(7))
    assert 0 <= clf.score(X_test[:50], y_test[:50]) <= 1


@pytest.mark.parametrize("make", [lambda: AutoEncoder(2), lambda: VariationalAutoEncoder(2)])
def test_diagnose_refuses_an_unfitted_estimator(rows, make):
    from aekit.evaluation.diagnostics import diagnose

    with pytest.raises(NotFittedError, match="no model to diagnose"):
        diagnose(make(), rows[0])


@pytest.mark.parametrize("opset", [0, 1, 8, 10, 21, 99, 17.0, "17", True])
def test_export_refuses_opsets_onnxruntime_cannot_run(tmp_path, rows, opset):
    pytest.importorskip("onnx")
    from aekit import export_onnx

    ae = AutoEncoder(2, hidden_layer_sizes=(8,), max_epochs=1, random_state=0).fit(rows[0])
    with pytest.raises(ValueError, match="opset=.* is not supported.*11 to 20"):
        export_onnx(ae, tmp_path / "x", opset=opset)
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("opset", [11, 20])
def test_export_at_the_ends_of_the_opset_range_runs_in_onnxruntime(tmp_path, rows, opset):
    ort = pytest.importorskip("onnxruntime")
    from aekit import export_onnx

    X = rows[0][:20].astype(np.float32)
    ae = AutoEncoder(2, hidden_layer_sizes=(8,), max_epochs=1, random_state=0).fit(rows[0])
    paths = export_onnx(ae, tmp_path / "x", opset=opset)
    session = ort.InferenceSession(str(paths["encoder"]))
    np.testing.assert_allclose(session.run(None, {"x": X})[0], ae.transform(X), atol=1e-5)


def test_export_refuses_a_detector(tmp_path, small_detector):
    pytest.importorskip("onnx")
    from aekit import export_onnx

    with pytest.raises(ValueError, match="OutlierDetector cannot be exported"):
        export_onnx(small_detector, tmp_path / "x")
