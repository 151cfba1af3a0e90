"""aekit.nn.invariant: element-wise functions with the same bits on any number of threads."""

import pickle

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from aekit.nn.invariant import (ALIGN, GRAIN, PIECE, in_pieces, is_activation, mean,
                                on_threads, plan, softmax, thread_invariant)
from aekit.nn.layers import ACTIVATIONS, make_activation

FUNCTIONS = {"sigmoid": torch.sigmoid, "elu": F.elu, "softplus": F.softplus, "silu": F.silu}


def _on_threads(fn, x, threads):
    with on_threads(threads):
        return fn(x)


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_in_pieces_gives_the_same_bits_on_one_and_two_threads(name):
    fn = FUNCTIONS[name]
    x = torch.randn(20, 37, 1001, generator=torch.Generator().manual_seed(0)) * 3
    # (37, 1001) slices: torch splits each between 2 threads with a scalar tail
    one = torch.stack([_on_threads(lambda t: in_pieces(fn, t), s, 1) for s in x])
    two = torch.stack([_on_threads(lambda t: in_pieces(fn, t), s, 2) for s in x])
    assert torch.equal(one, two)
    torch.testing.assert_close(one, fn(x), rtol=0, atol=1e-6)  # the same function


# Batch x width sizes of the default networks, sizes just over the grain, odd ones.
SIZES = [128 * 512, 128 * 784, 100 * 500, 100 * 784, 200 * 1360, GRAIN + 1, 65535, 65537,
         3 * GRAIN + 17, 250_001, 523_777, PIECE + 3]


@pytest.mark.parametrize("name", ["elu", "sigmoid"])
def test_in_pieces_values_and_gradients_are_one_thread_s_bits_on_2_to_5_threads(name):
    fn, gen = FUNCTIONS[name], torch.Generator().manual_seed(1)
    for n in SIZES:
        x, g = torch.randn(n, generator=gen) * 3, torch.randn(n, generator=gen)

        def value_and_grad(x_, threads):
            x_ = x_.clone().requires_grad_()
            y = _on_threads(lambda t: in_pieces(fn, t), x_, threads)
            _on_threads(lambda y_: y_.backward(g), y, threads)
            return y.detach(), x_.grad

        one = value_and_grad(x, 1)
        for threads in (2, 3, 4, 5):
            y, grad = value_and_grad(x, threads)
            assert torch.equal(y, one[0]) and torch.equal(grad, one[1]), (n, threads)


@pytest.mark.parametrize("threads", [2, 3, 4, 8])
def test_plan_cuts_into_few_pieces_each_split_into_aligned_chunks(threads):
    for n in [*SIZES, 10 * GRAIN, 7 * GRAIN + 5]:
        sizes = plan(n, threads)
        assert sum(sizes) == n and len(sizes) <= 3
        assert all(size % ALIGN == 0 for size in sizes[:-1])
        for size in sizes:  # torch's chunks (ATen's parallel_for) are whole vector blocks
            used = min(threads, -(-size // GRAIN))
            assert size <= GRAIN or -(-size // used) % ALIGN == 0
    assert plan(10 * GRAIN, 1) == [10 * GRAIN] and plan(GRAIN, 8) == [GRAIN]


def test_in_pieces_keeps_shape_gradients_and_small_tensors():
    x = torch.randn(300, 130).t().requires_grad_()  # non-contiguous, > PIECE elements
    assert x.numel() > PIECE
    y = in_pieces(torch.sigmoid, x)
    assert y.shape == x.shape
    y.sum().backward()
    s = torch.sigmoid(x.detach())
    torch.testing.assert_close(x.grad, s * (1 - s), rtol=0, atol=1e-6)
    small = torch.randn(10, 10)
    assert torch.equal(in_pieces(torch.sigmoid, small), torch.sigmoid(small))


def test_activations_stay_their_torch_classes():
    elu = make_activation("elu")
    assert isinstance(elu, nn.ELU) and repr(elu) == repr(nn.ELU())
    assert type(elu).__name__ == "ELU" and type(elu) is not nn.ELU and is_activation(elu)
    assert type(pickle.loads(pickle.dumps(elu))) is type(elu)
    # exact arithmetic needs no pieces: torch's own class
    assert type(make_activation("relu")) is nn.ReLU
    assert thread_invariant(nn.ReLU) is nn.ReLU
    assert not is_activation(nn.Linear(2, 2))
    wide = torch.randn(100, 500)
    for name in ("elu", "sigmoid", "tanh", "gelu", "softplus"):
        torch.testing.assert_close(ACTIVATIONS[name]()(wide),
                                   getattr(nn, type(make_activation(name)).__name__)()(wide),
                                   rtol=0, atol=1e-6)


@pytest.mark.parametrize("shape", [(100, 10), (37, 17), (5000, 10)])
def test_softmax_gradient_has_the_same_bits_on_one_and_two_threads(shape):
    gen = torch.Generator().manual_seed(0)
    x, grad = torch.randn(*shape, generator=gen) * 3, torch.randn(*shape, generator=gen)

    def gradient(fn):
        def run(t):
            t = t.clone().requires_grad_()
            return torch.autograd.grad(fn(t, 1), t, grad)[0]
        return run

    one, two = (_on_threads(gradient(softmax), x, n) for n in (1, 2))
    assert torch.equal(one, two)
    # torch's own backward on one thread (on two it differs for 10 and 17 classes on an
    # AVX2 CPU), and torch's forward: the bits every earlier result had.
    assert torch.equal(one, _on_threads(gradient(torch.softmax), x, 1))
    assert torch.equal(softmax(x, 1), torch.softmax(x, 1))

    def threads_after_backward(t):
        gradient(softmax)(t)
        return torch.get_num_threads()

    assert _on_threads(threads_after_backward, x, 2) == 2  # the thread count is restored


def test_mean_has_the_same_bits_on_one_and_two_threads_and_torch_s_gradient():
    # Reconstruction errors of 300 rows of 784 pixels: torch's own mean of these differs
    # between 1 and 2 threads in its last bit (an AVX2 CPU, torch 2.13).
    x = (torch.rand(300, 784, generator=torch.Generator().manual_seed(0)) * 0.3).requires_grad_()
    one, two = (_on_threads(lambda t: mean(t.square()), x, n) for n in (1, 2))
    assert torch.equal(one, two)
    torch.testing.assert_close(one, x.square().mean(), rtol=1e-6, atol=0)
    (grad,) = torch.autograd.grad(mean(x.square(), F.mse_loss(x, torch.zeros_like(x))), x)
    (torch_grad,) = torch.autograd.grad(F.mse_loss(x, torch.zeros_like(x)), x)
    assert torch.equal(grad, torch_grad)  # the gradient is the given reduction's own


@pytest.mark.parametrize("shape", [(1, 3, 224, 224), (2, 3, 224, 224), (1, GRAIN + 1)])
def test_mean_of_one_or_a_few_long_rows_has_the_same_bits_on_one_and_two_threads(shape):
    # One image's error: torch sums a row of 150,528 floats in one part per thread (this
    # shape's mean differed in its last bits between 1 and 2 threads, AMD EPYC, torch 2.13).
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(0)) * 3 + 1
    one, two = (_on_threads(mean, x, n) for n in (1, 2))
    assert torch.equal(one, two)
    torch.testing.assert_close(one, x.mean(), rtol=1e-6, atol=0)


def test_in_pieces_checks_torch_s_chunks_and_falls_back_to_one_thread_pieces(monkeypatch):
    import aekit.nn.invariant as invariant

    tricky = invariant.rounded_apart()
    if not len(tricky):
        pytest.skip("this CPU's scalar and vector sigmoid agree: no chunking changes a bit")
    x = tricky.repeat(50_000 // len(tricky) + 1)[:50_000].reshape(100, 500)
    one = _on_threads(lambda t: in_pieces(torch.sigmoid, t), x, 1)
    assert not torch.equal(_on_threads(torch.sigmoid, x, 2), one)  # torch's own chunks differ
    # A planner that trusts torch's own chunks (whole tensors) is caught by the check, and
    # in_pieces then cuts one-thread pieces: still one thread's bits.
    with monkeypatch.context() as patched:
        patched.setattr(invariant, "_CHECKED", {})
        patched.setattr(invariant, "plan", lambda n, threads: [n])
        assert not invariant._chunks_as_planned(2)
        assert torch.equal(_on_threads(lambda t: in_pieces(torch.sigmoid, t), x, 2), one)
    monkeypatch.setattr(invariant, "_CHECKED", {})
    assert invariant._chunks_as_planned(2)  # the real plan passes
