"""Callbacks of the fit loop: early stopping (the kept epoch), hooks, TensorBoard."""

import sys

import numpy as np
import pytest
import torch
from torch import nn

from conftest import mse_objective, tiny_problem

from aekit import AutoEncoder
from aekit.training.callbacks import Callback, EarlyStopping
from aekit.training.loop import fit_loop, init_state, kept_record, make_optimizer

_mse, _setup = mse_objective, tiny_problem


def scripted_validation(losses):
    """An objective whose validation losses are ``losses`` in turn (training loss 1); the
    weights still get (zero) gradients, so the loop runs as usual."""
    losses = iter(losses)

    def scripted(module, batch, epoch):
        loss = nn.functional.mse_loss(module(batch["x_in"]), batch["x"]) * 0
        return {"loss": loss + (next(losses) if epoch is None else 1.0)}

    return scripted


def test_early_stopping_restores_the_kept_epoch():
    module, X = _setup()
    opt = make_optimizer("sgd", module.parameters(), 0.1)  # noisy: val loss goes up and down
    state = fit_loop(init_state(module, opt), _mse, X, X[:30], batch_size=8, max_epochs=200,
                     callbacks=[EarlyStopping(patience=3)])
    hist = state["history"]
    kept = kept_record(hist)
    assert kept["epoch"] == state["kept_epoch"] == state["best_epoch"]
    assert [r["epoch"] for r in hist if r.get("kept")] == [kept["epoch"]]
    with torch.no_grad():
        now = nn.functional.mse_loss(module(X[:30]), X[:30]).item()
    assert now == pytest.approx(kept["val_loss"], rel=1e-5)
    assert len(hist) < 200 and len(hist) - kept["epoch"] == 3


def test_the_kept_epoch_is_the_one_that_improved_by_more_than_tol():
    # Regression: the loop restores the last epoch that improved by more than tol, which
    # need not be the epoch of the smallest validation loss; everyone must read the former.
    scripted = scripted_validation([1.0, 0.5, 0.4999, 0.4998, 0.7, 0.8, 0.9])

    module, X = _setup()
    state = fit_loop(init_state(module, make_optimizer("sgd", module.parameters(), 0.0)),
                     scripted, X, X[:10], batch_size=100, max_epochs=10,
                     callbacks=[EarlyStopping(patience=3, tol=0.01)])
    val = [r["val_loss"] for r in state["history"]]
    assert min(val) == pytest.approx(0.4998)  # epoch 4, an improvement below tol
    assert state["kept_epoch"] == 2 and kept_record(state["history"])["val_loss"] == 0.5


def test_two_early_stoppings_count_their_own_patience():
    # Regression: both shared one counter, so each stopped after half its patience.
    flat = [1.0, 0.5] + [0.6] * 20  # no improvement after epoch 2
    for patience, other, stopped_after in [(4, 10, 6), (10, 4, 6), (6, 6, 8)]:
        module, X = _setup()
        state = fit_loop(init_state(module, make_optimizer("sgd", module.parameters(), 0.0)),
                         scripted_validation(flat), X, X[:10], batch_size=100, max_epochs=20,
                         callbacks=[EarlyStopping(patience), EarlyStopping(other)])
        assert len(state["history"]) == stopped_after and state["kept_epoch"] == 2
        assert set(state["memory"]) == {"early_stopping.0", "early_stopping.1"}


def test_a_users_plateau_schedule_beside_the_built_in_one_keeps_its_own_count():
    from aekit.training.callbacks import ReduceLROnPlateau

    flat = [1.0] + [1.0] * 10
    module, X = _setup()
    state = fit_loop(init_state(module, make_optimizer("sgd", module.parameters(), 0.1)),
                     scripted_validation(flat), X, X[:10], batch_size=100, max_epochs=5,
                     callbacks=[ReduceLROnPlateau(0.5, patience=2),
                                ReduceLROnPlateau(0.5, patience=100)])
    # Only the first cuts (after epochs 3 and 5): the second's count is its own.
    assert [r["lr"] for r in state["history"]] == [0.1, 0.1, 0.1, 0.05, 0.05]


def test_start_from_epoch_ignores_a_warm_up():
    from aekit.training.callbacks import ReduceLROnPlateau

    # Losses rise through a 4-epoch warm-up (a KL weight ramping up), then fall.
    rising = [1.0, 2.0, 3.0, 4.0, 3.5, 3.4, 3.6, 3.7, 3.8, 3.9]
    module, X = _setup()
    state = fit_loop(init_state(module, make_optimizer("sgd", module.parameters(), 0.1)),
                     scripted_validation(rising), X, X[:10], batch_size=100, max_epochs=10,
                     callbacks=[EarlyStopping(2, start_from_epoch=4),
                                ReduceLROnPlateau(0.5, patience=1, start_from_epoch=4)])
    assert state["kept_epoch"] == 6 and len(state["history"]) == 8
    assert [r["lr"] for r in state["history"]] == [0.1] * 7 + [0.05]


def test_estimator_reads_the_kept_epoch(digits):
    X = digits[0][:400]
    ae = AutoEncoder(2, hidden_layer_sizes=(16,), max_epochs=40, patience=3, tol=0.05,
                     random_state=0).fit(X)
    kept = kept_record(ae.history_)
    assert ae.validation_loss_ == kept["val_loss"]
    from aekit.plotting import loss_curves

    fig = loss_curves(ae.history_)
    dots = [line for line in fig.axes[0].lines if line.get_marker() == "o"]
    assert len(dots) == 1 and dots[0].get_xdata()[0] == kept["epoch"]


def test_hooks_are_called_in_order_once_per_epoch():
    module, X = _setup(20)
    calls = []

    class Spy(Callback):
        def on_train_begin(self, state):
            calls.append("begin")

        def on_epoch_begin(self, state, epoch):
            calls.append(f"start {epoch}")

        def on_epoch_end(self, state, record):
            assert record is state["history"][-1] and state["module"] is module
            calls.append(f"end {record['epoch']}")

        def on_train_end(self, state):
            calls.append("end")

    fit_loop(init_state(module, make_optimizer("sgd", module.parameters(), 0.01)), _mse, X,
             batch_size=8, max_epochs=2, callbacks=[Spy()])
    assert calls == ["begin", "start 1", "end 1", "start 2", "end 2", "end"]


def test_a_callback_can_stop_the_loop():
    module, X = _setup(20)

    class StopAt2(Callback):
        def on_epoch_end(self, state, record):
            state["stop"] = record["epoch"] == 2

    state = fit_loop(init_state(module, make_optimizer("sgd", module.parameters(), 0.01)),
                     _mse, X, batch_size=8, max_epochs=10, callbacks=[StopAt2()])
    assert state["epoch"] == 2


# --------------------------------------------------------------------------- TensorBoard
def test_log_dir_writes_losses_and_reconstructions(tmp_path, digits):
    pytest.importorskip("tensorboard", reason="TensorBoard logging needs aekit[tensorboard]")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    log_dir = tmp_path / "tb"
    ae = AutoEncoder(n_components=2, hidden_layer_sizes=(16,), max_epochs=6, random_state=0,
                     log_dir=str(log_dir)).fit(digits[0][:300])
    events = EventAccumulator(str(log_dir))
    events.Reload()
    tags = events.Tags()
    assert {"loss/train", "loss/validation"} <= set(tags["scalars"])
    losses = [e.value for e in events.Scalars("loss/train")]
    np.testing.assert_allclose(losses, [r["loss"] for r in ae.history_], rtol=1e-6)
    assert "reconstructions" in tags["images"]
    # epochs 1 and 5, and the final model
    assert len(events.Images("reconstructions")) == 3


@pytest.mark.parametrize("shape, drawn", [((4, 16), (4, 16)), ((2, 8, 8), (16, 8))])
def test_a_conv_models_reconstructions_are_drawn_in_its_image_shape(tmp_path, shape, drawn):
    # The square guess took the 64 pixels of 4 x 16 images for 8 x 8 ones and drew them
    # scrambled; a conv model's images are drawn in their shape, channels one above another.
    pytest.importorskip("tensorboard", reason="TensorBoard logging needs aekit[tensorboard]")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    X = np.random.default_rng(0).random((40, *shape))
    AutoEncoder(architecture="conv", n_components=2, hidden_layer_sizes=(4,), max_epochs=1,
                random_state=0, log_dir=str(tmp_path)).fit(X)
    events = EventAccumulator(str(tmp_path))
    events.Reload()
    image = events.Images("reconstructions")[-1]
    # Originals above reconstructions, a 1-pixel gap between; 8 samples side by side.
    assert (image.height, image.width) == (2 * drawn[0] + 1, 8 * drawn[1])


def test_log_dir_without_tensorboard_says_what_to_install(tmp_path, monkeypatch, digits):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import fails
    ae = AutoEncoder(n_components=2, hidden_layer_sizes=(8,), max_epochs=1,
                     log_dir=str(tmp_path / "tb"))
    with pytest.raises(ImportError, match=r"pip install aekit\[tensorboard\]"):
        ae.fit(digits[0][:50])


def test_log_dir_none_is_the_default_and_a_parameter():
    assert AutoEncoder().get_params()["log_dir"] is None
    assert AutoEncoder(log_dir="x").get_params()["log_dir"] == "x"


def test_reduce_lr_on_plateau_cuts_after_patience_and_stops_at_the_floor():
    from aekit.training.callbacks import ReduceLROnPlateau

    # Validation losses: improving for 3 epochs, then flat for good.
    scripted = scripted_validation([1.0, 0.8, 0.6] + [0.6] * 30)

    module, X = _setup()
    state = fit_loop(init_state(module, make_optimizer("sgd", module.parameters(), 0.1)),
                     scripted, X, X[:10], batch_size=100, max_epochs=20,
                     callbacks=[ReduceLROnPlateau(factor=0.5, patience=2, min_lr=0.1)])
    lrs = [r["lr"] for r in state["history"]]  # the rate each epoch trained with
    # Stale after epoch 3: epochs 4, 5 -> cut; 6, 7 -> cut; ... never below 0.1 * 0.1.
    assert lrs[:5] == [0.1] * 5
    assert lrs[5:7] == [0.05, 0.05] and lrs[7:9] == [0.025, 0.025]
    assert min(lrs) == pytest.approx(0.01) and lrs[-1] == pytest.approx(0.01)
    assert set(state["memory"]["plateau.0"]) == {"best", "stale", "start"}  # resumable
    with pytest.raises(ValueError, match="factor"):
        ReduceLROnPlateau(factor=1.5)


def test_plateau_schedule_is_the_estimators_default(digits):
    ae = AutoEncoder(2, hidden_layer_sizes=(16,), max_epochs=100, patience=8, tol=0.01,
                     random_state=0).fit(digits[0][:400])
    lrs = [r["lr"] for r in ae.history_]
    assert lrs[0] == 1e-3 and min(lrs) < lrs[0]
    constant = AutoEncoder(2, hidden_layer_sizes=(16,), max_epochs=5, lr_schedule="constant",
                           random_state=0).fit(digits[0][:400])
    assert all("lr" not in r for r in constant.history_)


# --------------------------------------------------------------------------- user callbacks
class Recorder(Callback):
    """Records every hook call with what it was given (copies of what changes later)."""

    def __init__(self):
        self.calls = []

    def on_fit_begin(self, estimator):
        self.calls.append(("on_fit_begin", estimator, hasattr(estimator, "n_features_in_")))

    def on_run_begin(self, estimator, run, module):
        self.calls.append(("on_run_begin", estimator, run, module))

    def on_train_begin(self, state):
        self.calls.append(("on_train_begin", state["phase"], state["epoch"], state["module"]))

    def on_epoch_begin(self, state, epoch):
        self.calls.append(("on_epoch_begin", state["phase"], epoch))

    def on_epoch_end(self, state, record):
        self.calls.append(("on_epoch_end", state["phase"], record is state["history"][-1],
                           dict(record)))

    def on_train_end(self, state):
        self.calls.append(("on_train_end", state["phase"], state["epoch"]))

    def on_run_end(self, estimator, run, result):
        self.calls.append(("on_run_end", estimator, run, result))

    def on_fit_end(self, estimator):
        self.calls.append(("on_fit_end", estimator, hasattr(estimator, "history_")))


def test_user_callbacks_receive_every_documented_hook_in_order(digits):
    X_train, *_ = digits
    rec = Recorder()
    ae = AutoEncoder(2, hidden_layer_sizes=(16,), max_epochs=2, n_init=2, random_state=0,
                     callbacks=[rec]).fit(X_train[:300])
    names = [c[0] for c in rec.calls]
    one_run = ["on_run_begin", "on_train_begin", "on_epoch_begin", "on_epoch_end",
               "on_epoch_begin", "on_epoch_end", "on_train_end", "on_run_end"]
    assert names == ["on_fit_begin", *one_run, *one_run, "on_fit_end"]
    # Every hook named in the Callback docstring is called, and nothing else exists.
    documented = {n for n in vars(Callback) if n.startswith("on_")}
    assert documented == set(names)
    for name in documented:
        assert name in Callback.__doc__
    fit_begin, fit_end = rec.calls[0], rec.calls[-1]
    work = fit_begin[1]
    assert fit_begin[2] is True  # the data are checked: n_features_in_ is set
    assert fit_end[1] is work and fit_end[2] is True  # fitted when on_fit_end is called
    assert work is not ae  # the working copy; its fitted attributes are handed over
    runs = [c for c in rec.calls if c[0] in ("on_run_begin", "on_run_end")]
    assert [(c[0], c[2]) for c in runs] == [("on_run_begin", 0), ("on_run_end", 0),
                                            ("on_run_begin", 1), ("on_run_end", 1)]
    for begin, end in zip(runs[::2], runs[1::2]):
        module, result = begin[3], end[3]
        assert isinstance(module, nn.Module) and result["module"] is module
        assert [r["epoch"] for r in result["history"]] == [1, 2]
        assert result["score"] == kept_record(result["history"])["val_loss"]
    trains = [c for c in rec.calls if c[0] == "on_train_begin"]
    assert all(c[1] == "train" and c[2] == 0 for c in trains)
    assert trains[1][3] is runs[2][3]  # the loop trains the run's module
    ends = [c for c in rec.calls if c[0] == "on_epoch_end"]
    assert all(c[2] for c in ends)  # record is state["history"][-1]
    assert [c[3]["epoch"] for c in ends] == [1, 2, 1, 2]
    assert {"phase", "epoch", "loss", "val_loss", "seconds"} <= set(ends[0][3])
    assert [c[2] for c in rec.calls if c[0] == "on_epoch_begin"] == [1, 2, 1, 2]
    kept = min(runs[1::2], key=lambda c: c[3]["score"])[3]
    assert ae.history_ == kept["history"]


def test_every_trained_estimator_calls_the_fit_and_run_hooks(digits):
    from aekit import EncoderClassifier, LadderClassifier, OutlierDetector, VariationalAutoEncoder

    X_train, _, y_train, _ = digits
    X, y = X_train[:300], y_train[:300]
    ae = AutoEncoder(2, hidden_layer_sizes=(16,), max_epochs=1, random_state=0)
    fits = {
        "vae": lambda cb: VariationalAutoEncoder(2, hidden_layer_sizes=(16,), max_epochs=1,
                                                 random_state=0, callbacks=cb).fit(X),
        "classifier": lambda cb: EncoderClassifier(ae, max_epochs=2, semi_supervised=None,
                                                   random_state=0, callbacks=cb).fit(X, y),
        "detector": lambda cb: OutlierDetector(max_epochs=2, n_estimators=2, random_state=0,
                                               callbacks=cb).fit(X),
        "ladder": lambda cb: LadderClassifier((16,), max_epochs=2, random_state=0,
                                              callbacks=cb).fit(X, np.where(y > 4, y, -1)),
    }
    for name, fit in fits.items():
        rec = Recorder()
        fit([rec])
        names = [c[0] for c in rec.calls]
        assert names[:3] == ["on_fit_begin", "on_run_begin", "on_train_begin"], name
        assert names[-3:] == ["on_train_end", "on_run_end", "on_fit_end"], name
        assert rec.calls[-1][2] is True, name  # fitted when the fit ends


def test_run_and_fit_end_are_called_when_the_fit_fails(digits):
    X_train, *_ = digits

    class Boom(Callback):
        def on_epoch_end(self, state, record):
            raise RuntimeError("boom")

    rec = Recorder()
    with pytest.raises(RuntimeError, match="boom"):
        AutoEncoder(2, hidden_layer_sizes=(16,), max_epochs=3, random_state=0,
                    callbacks=[Boom(), rec]).fit(X_train[:200])
    names = [c[0] for c in rec.calls]
    assert names[-3:] == ["on_train_end", "on_run_end", "on_fit_end"]
    assert rec.calls[-2][3] is None  # the run failed: no result


def test_callbacks_survive_clone_and_are_not_saved(digits, tmp_path):
    from sklearn.base import clone

    import aekit
    from aekit import EncoderClassifier

    X_train, X_test, y_train, _ = digits
    rec = Recorder()
    ae = AutoEncoder(2, hidden_layer_sizes=(16,), max_epochs=1, random_state=0,
                     callbacks=[rec])
    copy = clone(ae)  # sklearn deep-copies a parameter that is no estimator
    (kept,) = copy.get_params()["callbacks"]
    assert isinstance(kept, Recorder) and kept is not rec
    copy.fit(X_train[:200])
    assert kept.calls and not rec.calls  # the clone calls its own copy
    ae.fit(X_train[:200])
    ae.save(tmp_path / "ae")
    loaded = aekit.load(tmp_path / "ae")
    assert loaded.callbacks is None
    np.testing.assert_array_equal(loaded.transform(X_test), ae.transform(X_test))
    # A nested autoencoder's callbacks are not saved either.
    clf = EncoderClassifier(ae, max_epochs=1, random_state=0, callbacks=[Recorder()])
    clf.fit(X_train[:200], y_train[:200]).save(tmp_path / "clf")
    loaded = aekit.load(tmp_path / "clf")
    assert loaded.callbacks is None and loaded.autoencoder.callbacks is None


@pytest.mark.parametrize("bad, match", [(Recorder(), "callbacks.* must be"),
                                        ([lambda s, r: None], r"callbacks\[0\] is a function")])
def test_callbacks_must_be_a_list_of_callback_instances(digits, bad, match):
    X_train, *_ = digits
    with pytest.raises(TypeError, match=match):
        AutoEncoder(2, max_epochs=1, callbacks=bad).fit(X_train[:50])


class StopAtBegin(Callback):
    def on_train_begin(self, state):
        state["stop"] = True


def test_a_stop_before_the_first_epoch_is_explained(digits):
    rec = Recorder()
    ae = AutoEncoder(2, hidden_layer_sizes=(16,), max_epochs=3, random_state=0,
                     callbacks=[StopAtBegin(), rec])
    with pytest.raises(RuntimeError, match=r"state\['stop'\] before the first epoch.*"
                                           r"on_epoch_end"):
        ae.fit(digits[0][:100])
    assert not hasattr(ae, "module_")  # nothing trained, nothing kept
    names = [c[0] for c in rec.calls]
    assert "on_epoch_begin" not in names
    assert names[-3:] == ["on_train_end", "on_run_end", "on_fit_end"]


def test_a_loop_that_stopped_after_its_epochs_may_be_stopped_again():
    # A loop state resumed after its last epoch (stop already set) trains no more: no error.
    module, X = _setup(20)

    class StopAt2(Callback):
        def on_epoch_end(self, state, record):
            state["stop"] = record["epoch"] == 2

    state = init_state(module, make_optimizer("sgd", module.parameters(), 0.01))
    fit_loop(state, _mse, X, batch_size=8, max_epochs=10, callbacks=[StopAt2()])
    fit_loop(state, _mse, X, batch_size=8, max_epochs=10, callbacks=[StopAtBegin()])
    assert state["epoch"] == 2 and state["kept_epoch"] == 2


def test_a_checkpoint_given_one_phase_as_a_string_checkpoints_that_phase_only(tmp_path):
    # "train" in "pretrain-1" is true of a bare string: the main loop was checkpointed too.
    from aekit.training.callbacks import Checkpoint

    module, X = _setup(20)
    ckpt = Checkpoint(tmp_path, background=False, phases="pretrain-1")
    state = init_state(module, make_optimizer("sgd", module.parameters(), 0.01))
    fit_loop(state, _mse, X, batch_size=8, max_epochs=2, callbacks=[ckpt])
    assert state["phase"] == "train" and not list(tmp_path.iterdir())
