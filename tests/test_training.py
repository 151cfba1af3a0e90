"""The fit loop on its own: history, state, divergence guard, last batch, optimizers."""

import math
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from torch import nn

from conftest import mse_objective, tiny_problem

from aekit import AutoEncoder
from aekit.training.loop import (
    TrainingDivergedError,
    autocast_dtype,
    fit_loop,
    init_state,
    kept_record,
    make_optimizer,
    native_bf16,
)

_mse, _setup = mse_objective, tiny_problem


def _fit(module, objective, X, X_val=None, *, optimizer, callbacks=(), **kw):
    state = init_state(module, optimizer)
    return fit_loop(state, objective, X, X_val, callbacks=callbacks, **kw)["history"]


def test_history_and_loss_falls():
    module, X = _setup()
    opt = make_optimizer("adam", module.parameters(), 1e-2)
    state = fit_loop(init_state(module, opt), _mse, X, X[:20], batch_size=16, max_epochs=30)
    hist = state["history"]
    assert [r["epoch"] for r in hist] == list(range(1, 31))
    assert state["epoch"] == 30 and state["kept_epoch"] == 30  # no early stopping: the last
    assert kept_record(hist) is hist[-1]
    assert all(r["phase"] == "train" and r["seconds"] > 0 for r in hist)
    assert hist[-1]["loss"] < 0.8 * hist[0]["loss"]
    assert not module.training  # left in eval mode


def test_divergence_restores_last_good_state():
    module, X = _setup()
    opt = make_optimizer("sgd", module.parameters(), 0.01)
    calls = {"n": 0}

    def poisoned(module, batch, epoch):
        calls["n"] += 1
        loss = nn.functional.mse_loss(module(batch["x_in"]), batch["x"])
        return {"loss": loss * (math.inf if calls["n"] > 25 else 1.0)}

    with pytest.raises(TrainingDivergedError, match="epoch 3"):
        _fit(module, poisoned, X, optimizer=opt, batch_size=10, max_epochs=10)
    assert all(torch.isfinite(p).all() for p in module.parameters())


def test_extra_terms_are_averaged_into_history():
    module, X = _setup()
    opt = make_optimizer("adam", module.parameters(), 1e-3)

    def with_term(module, batch, epoch):
        return {**_mse(module, batch), "const": torch.tensor(2.0)}

    hist = _fit(module, with_term, X, optimizer=opt, batch_size=7, max_epochs=2)
    assert hist[0]["const"] == pytest.approx(2.0)
    assert hist[0]["val_loss"] is None


def test_corruption_only_in_training():
    module, X = _setup()
    opt = make_optimizer("adam", module.parameters(), 1e-3)
    seen = []

    def spy(module, batch, epoch):
        seen.append(bool((batch["x_in"] != batch["x"]).any()))
        return _mse(module, batch)

    _fit(module, spy, X, X[:10], optimizer=opt, batch_size=50, max_epochs=1,
         corrupt=lambda x: x + 1)
    assert seen == [True, True, False]  # 2 training batches corrupted, validation clean


@pytest.mark.parametrize("name", ["adam", "adamw", "sgd", "rmsprop", "adadelta"])
def test_every_optimizer_trains(name):
    module, X = _setup()
    lr = {"adadelta": 1.0, "sgd": 0.05}.get(name, 1e-2)
    opt = make_optimizer(name, module.parameters(), lr)
    hist = _fit(module, _mse, X, optimizer=opt, batch_size=16, max_epochs=20)
    assert hist[-1]["loss"] < hist[0]["loss"]


def test_unknown_optimizer():
    with pytest.raises(ValueError, match="optimizer='lbfgs'"):
        make_optimizer("lbfgs", [], 1e-3)


def test_autocast_dtype_choices():
    cpu = torch.device("cpu")
    assert autocast_dtype("float32", cpu) is None
    assert autocast_dtype("bfloat16", cpu) is torch.bfloat16
    assert autocast_dtype("auto", cpu) is (torch.bfloat16 if native_bf16(cpu) else None)
    with pytest.raises(ValueError, match="precision='half'"):
        autocast_dtype("half", cpu)


def test_auto_precision_is_float32_on_gpus_that_only_emulate_bfloat16(monkeypatch):
    # torch.cuda.is_bf16_supported() is True on a T4 or V100 (compute capability 7.x),
    # where CUDA emulates bfloat16: precision="auto" chose it there, slower than float32.
    # Only the capability is asked, so no GPU is needed to check the choice.
    cuda = torch.device("cuda")
    monkeypatch.setattr(torch.version, "hip", None)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (7, 5))
    assert not native_bf16(cuda)
    assert autocast_dtype("auto", cuda) is None
    assert autocast_dtype("bfloat16", cuda) is torch.bfloat16  # asked for: as asked
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (8, 0))
    assert native_bf16(cuda) and autocast_dtype("auto", cuda) is torch.bfloat16


@pytest.mark.parametrize("family", ["AutoEncoder", "VariationalAutoEncoder"])
def test_bce_runs_outside_autocast(monkeypatch, family):
    # torch refuses F.binary_cross_entropy under CUDA autocast ("unsafe to autocast"), so
    # loss="bce" with precision="bfloat16" (or "auto" on a GPU) failed there; on the CPU
    # autocast runs it in float32. Here the CPU is made to refuse it as CUDA does.
    import aekit
    real = torch.nn.functional.binary_cross_entropy

    def refused_under_autocast(*args, **kwargs):
        if torch.is_autocast_enabled("cpu"):
            raise RuntimeError("binary_cross_entropy is unsafe to autocast")
        return real(*args, **kwargs)

    monkeypatch.setattr(torch.nn.functional, "binary_cross_entropy", refused_under_autocast)
    X = np.random.default_rng(0).random((64, 6))
    model = getattr(aekit, family)(2, loss="bce", scaler="minmax", precision="bfloat16",
                                   max_epochs=2, random_state=0, device="cpu").fit(X)
    assert np.isfinite(model.history_[-1]["loss"])


@pytest.mark.parametrize("dtype", [None, torch.bfloat16])
def test_autocast_covers_training_steps_only(dtype):
    module, X = _setup()
    seen = []
    module[0].register_forward_hook(lambda m, i, out: seen.append((m.training, out.dtype)))
    opt = make_optimizer("adam", module.parameters(), 1e-2)
    hist = _fit(module, _mse, X, X[:10], optimizer=opt, batch_size=50, max_epochs=3,
                autocast=dtype)
    train_dtypes = {d for training, d in seen if training}
    eval_dtypes = {d for training, d in seen if not training}
    assert train_dtypes == {dtype or torch.float32}
    assert eval_dtypes == {torch.float32}  # validation is measured in float32
    assert all(p.dtype == torch.float32 for p in module.parameters())  # float32 master weights
    assert hist[-1]["loss"] < hist[0]["loss"]


@pytest.mark.parametrize("name, weight_decay", [("adam", 0.0), ("adam", 1e-3), ("adamw", 1e-2)])
def test_fast_fused_step_is_bit_identical_to_optimizer_step(name, weight_decay):
    from aekit.core.compat import FusedAdamStep, optimizer_step

    module_a, X = _setup()
    module_b, _ = _setup()
    opt_a = make_optimizer(name, module_a.parameters(), 1e-2, weight_decay)
    opt_b = make_optimizer(name, module_b.parameters(), 1e-2, weight_decay)
    step_a = optimizer_step(opt_a)
    assert isinstance(step_a, FusedAdamStep)  # the fast path is the one under test
    for i in range(0, 100, 10):
        for module, opt, step in ((module_a, opt_a, step_a), (module_b, opt_b, opt_b.step)):
            opt.zero_grad(set_to_none=True)
            _mse(module, {"x_in": X[i : i + 10], "x": X[i : i + 10]})["loss"].backward()
            step()
    for pa, pb in zip(module_a.parameters(), module_b.parameters()):
        assert torch.equal(pa, pb)
    for pa, pb in zip(module_a.parameters(), module_b.parameters()):
        for key in ("exp_avg", "exp_avg_sq", "step"):
            assert torch.equal(opt_a.state[pa][key], opt_b.state[pb][key])


def test_stepper_falls_back_for_other_optimizers():
    from aekit.core.compat import optimizer_step

    module, _ = _setup()
    sgd = make_optimizer("sgd", module.parameters(), 0.1)
    assert optimizer_step(sgd) == sgd.step
    amsgrad = torch.optim.Adam(module.parameters(), amsgrad=True, fused=True)
    assert optimizer_step(amsgrad) == amsgrad.step


def test_stepper_honours_step_hooks():
    from aekit.core.compat import optimizer_step

    module, X = _setup()
    opt = make_optimizer("adam", module.parameters(), 1e-2)
    calls = []
    opt.register_step_post_hook(lambda *a: calls.append(1))
    step = optimizer_step(opt)
    for _ in range(3):
        opt.zero_grad(set_to_none=True)
        _mse(module, {"x_in": X, "x": X})["loss"].backward()
        step()
    assert len(calls) == 3


def test_public_torch_only_gives_the_same_fit(digits, monkeypatch):
    # Private torch calls (the fused Adam kernel, hook registries, CPU probes) are optional:
    # forcing the public API gives the same model, within float tolerance.
    from aekit.core import compat

    X_train, X_test, _, _ = digits
    kw = dict(hidden_layer_sizes=(32,), max_epochs=3, random_state=0, device="cpu")
    fast = AutoEncoder(2, **kw).fit(X_train)
    private_steps = []
    real_step = compat.FusedAdamStep.__call__
    monkeypatch.setattr(compat.FusedAdamStep, "__call__",
                        lambda self: (private_steps.append(1), real_step(self))[1])
    monkeypatch.setattr(compat, "USE_PRIVATE_TORCH", False)
    public = AutoEncoder(2, **kw).fit(X_train)
    assert not private_steps  # the public API only: optimizer.step()
    assert not compat.cpu_has_native_bf16()
    assert len(public.history_) == len(fast.history_)
    np.testing.assert_allclose(public.transform(X_test), fast.transform(X_test),
                               rtol=1e-5, atol=1e-5)
    monkeypatch.setattr(compat, "USE_PRIVATE_TORCH", True)
    AutoEncoder(2, **kw).fit(X_train)
    assert private_steps  # and the fast path is taken when allowed


def test_training_leaves_the_allocator_alone(monkeypatch):
    # glibc's malloc thresholds are process-wide and one-way: a fit never sets them; the
    # caller opts in with compat.keep_freed_blocks().
    from aekit.core import compat

    calls = []
    monkeypatch.setattr(compat, "_libc", lambda: calls.append(1))
    module, X = _setup()
    _fit(module, _mse, X, X[:10], optimizer=make_optimizer("adam", module.parameters(), 1e-2),
         batch_size=50, max_epochs=2)
    assert not calls


def test_targets_are_gathered_with_the_rows():
    # A dict of aligned tensors: "y" reaches the objective in the batch's row order.
    torch.manual_seed(0)
    X = torch.randn(50, 3)
    Y = X.sum(1)
    module = nn.Linear(3, 1)

    def regression(module, batch, epoch):
        assert torch.allclose(batch["x"].sum(1), batch["y"])  # the same rows
        return {"loss": nn.functional.mse_loss(module(batch["x_in"])[:, 0], batch["y"])}

    hist = _fit(module, regression, {"x": X, "y": Y}, {"x": X[:10], "y": Y[:10]},
                optimizer=make_optimizer("adam", module.parameters(), 1e-1), batch_size=8,
                max_epochs=30)
    assert hist[-1]["val_loss"] < 0.05 * hist[0]["val_loss"]


def test_epoch_reaches_the_objective_and_evaluation_gets_none():
    module, X = _setup()
    seen = []

    def spy(module, batch, epoch):
        seen.append((module.training, epoch))
        return _mse(module, batch)

    _fit(module, spy, X, X[:10], optimizer=make_optimizer("adam", module.parameters(), 1e-3),
         batch_size=100, max_epochs=2)
    assert seen == [(True, 1), (False, None), (True, 2), (False, None)]


def test_a_state_continues_where_it_stopped():
    # Two calls of 2 + 3 epochs on one state = one call of 5 (same RNG stream).
    runs = []
    for splits in ((5,), (2, 5)):
        module, X = _setup()
        torch.manual_seed(3)
        state = init_state(module, make_optimizer("adam", module.parameters(), 1e-2))
        for max_epochs in splits:
            fit_loop(state, _mse, X, X[:20], batch_size=16, max_epochs=max_epochs)
        runs.append(([r["loss"] for r in state["history"]], module[0].weight.clone()))
    assert runs[0][0] == runs[1][0] and len(runs[0][0]) == 5
    assert torch.equal(runs[0][1], runs[1][1])


_THREADS_SCRIPT = """
import sys
import numpy as np
import torch
import aekit  # sets MKL's strict reproducibility mode before torch multiplies anything
from aekit.data import load_digits
from aekit.semisupervised import hide_labels
torch.set_num_threads(int(sys.argv[1]))
X, X_test, y, _ = load_digits(split=True)
clf = aekit.LadderClassifier(hidden_layer_sizes=(256, 128), max_epochs=10, learning_rate=0.01,
                             random_state=0).fit(X, hide_labels(y, 10, random_state=0))
ae = aekit.AutoEncoder(n_components=2, max_epochs=10, random_state=0).fit(X)
# Wide layers: (100, 500) activations, which torch splits between threads with a scalar tail
wide = aekit.AutoEncoder(hidden_layer_sizes=(500,), n_components=8, batch_size=100,
                         max_epochs=3, random_state=0).fit(X)
wide_ladder = aekit.LadderClassifier(hidden_layer_sizes=(500,), max_epochs=3,
                                     random_state=0).fit(X, hide_labels(y, 10, random_state=0))
# The logged losses too: early stopping compares the validation loss.
logged = [v for est in (clf, ae, wide, wide_ladder) for record in est.history_
          for k, v in record.items() if k != "seconds" and isinstance(v, float)]
np.save(sys.argv[2], np.concatenate([clf.predict_proba(X_test).ravel(),
                                     ae.transform(X_test).ravel().astype(np.float64),
                                     wide.transform(X_test).ravel().astype(np.float64),
                                     wide_ladder.predict_proba(X_test).ravel(), logged]))
"""


@pytest.mark.skipif(not torch.backends.mkl.is_available(), reason="a torch build without MKL")
def test_the_same_seed_gives_the_same_model_on_one_and_on_two_threads(tmp_path):
    # With MKL's default mode (MKL_CBWR empty) these differ by up to 0.0064, and a
    # 40-epoch ladder by 0.086; the wide ones differed with torch's own element-wise
    # activations, before aekit.nn.invariant (docs/decisions.md, "Reproducibility").
    env = {k: v for k, v in os.environ.items() if k != "MKL_CBWR"}  # aekit's own default
    results = []
    for threads in (1, 2):
        path = tmp_path / f"{threads}.npy"
        subprocess.run([sys.executable, "-c", _THREADS_SCRIPT, str(threads), str(path)],
                       check=True, env=env, timeout=300)
        results.append(np.load(path))
    np.testing.assert_array_equal(results[0], results[1])
