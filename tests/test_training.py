"""The fit loop on its own: history, early stopping, divergence guard, last batch."""

import math

import pytest
import torch
from torch import nn

from aekit.training import (
    TrainingDivergedError,
    autocast_dtype,
    fit_loop,
    make_optimizer,
    native_bf16,
)


def _mse(module, x_in, x):
    return {"loss": nn.functional.mse_loss(module(x_in), x)}


def _setup(n=100, seed=0):
    torch.manual_seed(seed)
    X = torch.randn(n, 5)
    module = nn.Sequential(nn.Linear(5, 2), nn.Linear(2, 5))
    return module, X


def test_history_and_loss_falls():
    module, X = _setup()
    opt = make_optimizer("adam", module.parameters(), 1e-2)
    hist = fit_loop(module, _mse, X, X[:20], optimizer=opt, batch_size=16, max_epochs=30)
    assert [r["epoch"] for r in hist] == list(range(1, 31))
    assert all(r["phase"] == "train" and r["seconds"] > 0 for r in hist)
    assert hist[-1]["loss"] < 0.8 * hist[0]["loss"]
    assert not module.training  # left in eval mode


def test_early_stopping_restores_best_state():
    module, X = _setup()
    opt = make_optimizer("sgd", module.parameters(), 0.1)  # noisy: val loss goes up and down
    hist = fit_loop(module, _mse, X, X[:30], optimizer=opt, batch_size=8, max_epochs=200,
                    patience=3)
    best = min(r["val_loss"] for r in hist)
    with torch.no_grad():
        now = nn.functional.mse_loss(module(X[:30]), X[:30]).item()
    assert now == pytest.approx(best, rel=1e-5)
    assert len(hist) < 200


def test_divergence_restores_last_good_state():
    module, X = _setup()
    opt = make_optimizer("sgd", module.parameters(), 0.01)
    calls = {"n": 0}

    def poisoned(module, x_in, x):
        calls["n"] += 1
        loss = nn.functional.mse_loss(module(x_in), x)
        return {"loss": loss * (math.inf if calls["n"] > 25 else 1.0)}

    with pytest.raises(TrainingDivergedError, match="epoch 3"):
        fit_loop(module, poisoned, X, optimizer=opt, batch_size=10, max_epochs=10)
    assert all(torch.isfinite(p).all() for p in module.parameters())


def test_extra_terms_are_averaged_into_history():
    module, X = _setup()
    opt = make_optimizer("adam", module.parameters(), 1e-3)

    def with_term(module, x_in, x):
        return {"loss": nn.functional.mse_loss(module(x_in), x), "const": torch.tensor(2.0)}

    hist = fit_loop(module, with_term, X, optimizer=opt, batch_size=7, max_epochs=2)
    assert hist[0]["const"] == pytest.approx(2.0)
    assert hist[0]["val_loss"] is None


def test_corruption_only_in_training():
    module, X = _setup()
    opt = make_optimizer("adam", module.parameters(), 1e-3)
    seen = []

    def spy(module, x_in, x):
        seen.append(bool((x_in != x).any()))
        return _mse(module, x_in, x)

    fit_loop(module, spy, X, X[:10], optimizer=opt, batch_size=50, max_epochs=1,
             corrupt=lambda x: x + 1)
    assert seen == [True, True, False]  # 2 training batches corrupted, validation clean


@pytest.mark.parametrize("name", ["adam", "adamw", "sgd", "rmsprop", "adadelta"])
def test_every_optimizer_trains(name):
    module, X = _setup()
    lr = {"adadelta": 1.0, "sgd": 0.05}.get(name, 1e-2)
    opt = make_optimizer(name, module.parameters(), lr)
    hist = fit_loop(module, _mse, X, optimizer=opt, batch_size=16, max_epochs=20)
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


@pytest.mark.parametrize("dtype", [None, torch.bfloat16])
def test_autocast_covers_training_steps_only(dtype):
    module, X = _setup()
    seen = []
    module[0].register_forward_hook(lambda m, i, out: seen.append((m.training, out.dtype)))
    opt = make_optimizer("adam", module.parameters(), 1e-2)
    hist = fit_loop(module, _mse, X, X[:10], optimizer=opt, batch_size=50, max_epochs=3,
                    autocast=dtype)
    train_dtypes = {d for training, d in seen if training}
    eval_dtypes = {d for training, d in seen if not training}
    assert train_dtypes == {dtype or torch.float32}
    assert eval_dtypes == {torch.float32}  # validation is measured in float32
    assert all(p.dtype == torch.float32 for p in module.parameters())  # float32 master weights
    assert hist[-1]["loss"] < hist[0]["loss"]


@pytest.mark.parametrize("name, weight_decay", [("adam", 0.0), ("adam", 1e-3), ("adamw", 1e-2)])
def test_fast_fused_step_is_bit_identical_to_optimizer_step(name, weight_decay):
    from aekit.training import _Stepper

    module_a, X = _setup()
    module_b, _ = _setup()
    opt_a = make_optimizer(name, module_a.parameters(), 1e-2, weight_decay)
    opt_b = make_optimizer(name, module_b.parameters(), 1e-2, weight_decay)
    step_a = _Stepper(opt_a)
    assert step_a.kernel is not None  # the fast path is the one under test
    for i in range(0, 100, 10):
        for module, opt, step in ((module_a, opt_a, step_a), (module_b, opt_b, opt_b.step)):
            opt.zero_grad(set_to_none=True)
            _mse(module, X[i : i + 10], X[i : i + 10])["loss"].backward()
            step()
    for pa, pb in zip(module_a.parameters(), module_b.parameters()):
        assert torch.equal(pa, pb)
    for pa, pb in zip(module_a.parameters(), module_b.parameters()):
        for key in ("exp_avg", "exp_avg_sq", "step"):
            assert torch.equal(opt_a.state[pa][key], opt_b.state[pb][key])


def test_stepper_falls_back_for_other_optimizers():
    from aekit.training import _Stepper

    module, _ = _setup()
    assert _Stepper(make_optimizer("sgd", module.parameters(), 0.1)).kernel is None
    amsgrad = torch.optim.Adam(module.parameters(), amsgrad=True, fused=True)
    assert _Stepper(amsgrad).kernel is None


def test_stepper_honours_step_hooks():
    from aekit.training import _Stepper

    module, X = _setup()
    opt = make_optimizer("adam", module.parameters(), 1e-2)
    calls = []
    opt.register_step_post_hook(lambda *a: calls.append(1))
    step = _Stepper(opt)
    for _ in range(3):
        opt.zero_grad(set_to_none=True)
        _mse(module, X, X)["loss"].backward()
        step()
    assert len(calls) == 3
