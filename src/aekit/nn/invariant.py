"""Functions whose results do not depend on the number of torch threads: element-wise
activations (:func:`in_pieces`), the softmax's gradient (:func:`softmax`) and a loss's mean
(:func:`mean`).

On the CPU, torch splits an element-wise op on more than 32,768 elements (ATen's grain
size) into one contiguous chunk per thread, and each chunk runs a vectorised loop whose
last few elements (fewer than two vector widths) take a scalar path. For exact arithmetic
(``relu``, ``+``, ``*``) both paths give the same bits; for the transcendental functions
(``sigmoid``, ``elu``, ``softplus``, ``silu``, ...) the scalar and the vector formulas round
differently in a few elements, so *where the chunks end* changes the result: a (100, 500)
sigmoid gave different bits on 1 and 2 threads, and a wide network's fit drifted apart from
there (docs/decisions.md, "Reproducibility"). :func:`in_pieces` cuts the tensor so that
every chunk torch makes is a whole number of vector blocks: the scalar tail then falls at
the tensor's end alone, as on one thread, and the threads still share the work.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn

GRAIN = 32768
"""ATen's grain size (``at::internal::GRAIN_SIZE``): an element-wise op on at most this many
elements runs on one thread; a larger one on ``min(threads, ceil(n / GRAIN))`` threads, in
chunks of ``ceil(n / threads_used)`` elements."""

ALIGN = 64
"""A multiple of every CPU vector loop's block (two vectors: 32 floats with AVX-512)."""

PIECE = GRAIN // 2
"""Elements of a piece that runs on one thread (also the size of a partial sum in
:func:`mean`): a multiple of :data:`ALIGN`."""


def in_pieces(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """``fn(x)`` for an element-wise ``fn``, with the same bits on any number of threads.

    On the CPU a tensor of more than :data:`PIECE` elements is flattened and cut by
    :func:`plan` into at most a few pieces whose every thread chunk is a whole number of
    :data:`ALIGN` elements (usually one piece: the whole tensor), and ``fn`` is applied to
    each (gradients flow through). The vector loops then take the same elements on any
    thread count and the scalar path only the last ``n % 32``, as on one thread: the bits
    are one thread's. The plan rests on ATen's chunking, which is checked once per thread
    count; where torch chunks otherwise, the pieces are :data:`PIECE` elements on one
    thread each (exact, slower). Elsewhere (CUDA, whose kernels do not depend on the CPU's
    threads; tracing, exporting or compiling, whose graph must not depend on the example's
    size) it is ``fn(x)``.
    """
    if _plain_path(x) or x.numel() <= PIECE:
        return fn(x)
    flat = x.reshape(-1)  # contiguous: a strided view would have a scalar tail per row
    threads = torch.get_num_threads()
    sizes = (plan(flat.numel(), threads) if _chunks_as_planned(threads)
             else _one_thread_pieces(flat.numel()))
    return _over_pieces(fn, flat, sizes).view(x.shape)


def _over_pieces(fn, flat: torch.Tensor, sizes: list[int]) -> torch.Tensor:
    """``fn`` applied to consecutive pieces of ``sizes`` elements of the 1-D ``flat``,
    concatenated (one piece: ``fn(flat)``)."""
    if len(sizes) == 1:
        return fn(flat)
    return torch.cat([fn(piece) for piece in flat.split(sizes)])


def plan(n: int, threads: int) -> list[int]:
    """Sizes of the consecutive pieces :func:`in_pieces` cuts ``n`` elements into.

    Every piece but the last is a multiple of :data:`ALIGN` elements, and a piece that
    torch splits between ``t`` threads (one of more than :data:`GRAIN` elements) splits
    into chunks of ``size / t`` elements, a multiple of :data:`ALIGN`: the whole rest where
    that holds, else its largest head that does (the rest, under ``ALIGN * threads``
    elements, then runs on one thread). One piece where torch runs one thread (``n <=
    GRAIN`` or ``threads == 1``); where no aligned piece exists, pieces of :data:`PIECE`
    elements, each on one thread.
    """
    if n <= GRAIN or threads <= 1:
        return [n]
    sizes, rest = [], n
    while rest > GRAIN:
        used = min(threads, -(-rest // GRAIN))  # the threads torch gives the whole rest
        if -(-rest // used) % ALIGN == 0:
            return [*sizes, rest]  # its chunks are aligned
        for t in range(used, 1, -1):
            head = rest // (ALIGN * t) * (ALIGN * t)
            if head > (t - 1) * GRAIN and min(threads, -(-head // GRAIN)) == t:
                sizes.append(head)  # t chunks of head / t elements
                rest -= head
                break
        else:
            break
    return sizes + _one_thread_pieces(rest)


def _one_thread_pieces(n: int) -> list[int]:
    """``n`` elements in pieces of :data:`PIECE`, each run on one thread."""
    return [PIECE] * (n // PIECE) + ([n % PIECE] if n % PIECE else [])


def rounded_apart() -> torch.Tensor:
    """Values in [-12, 12] whose sigmoid this CPU's scalar loop (a strided input) and its
    vector loop round differently: 1-D, empty where the two loops agree."""
    x = torch.linspace(-12, 12, 8192)
    strided = torch.empty(2 * len(x))[::2].copy_(x)
    return x[torch.sigmoid(x) != torch.sigmoid(strided)]


_CHECKED: dict[int, bool] = {}


def _chunks_as_planned(threads: int) -> bool:
    """Whether torch cuts element-wise ops between ``threads`` threads where :func:`plan`
    expects (ATen's ``parallel_for``), checked once per thread count; where it does not (a
    torch whose chunking changed, a smaller OpenMP team), :func:`in_pieces` falls back to
    pieces on one thread each, slower but still exact.

    The check finds values whose sigmoid the scalar and the vector loops round differently,
    fills tensors with them and compares :func:`plan`'s result with one thread's: any
    scalar tail out of place changes an element.
    """
    if threads <= 1:
        return True
    if threads not in _CHECKED:
        with torch.no_grad():
            tricky = rounded_apart()
            ok = True  # also where no value is tricky: then no chunking changes a bit
            for n in (threads * GRAIN + 3 * ALIGN * threads + 17, 100 * 500, 128 * 784,
                      7 * GRAIN + 5) if len(tricky) else ():
                probe = tricky.repeat(-(-n // len(tricky)))[:n]
                with one_thread():
                    expected = torch.sigmoid(probe)
                with on_threads(threads):
                    got = _over_pieces(torch.sigmoid, probe, plan(n, threads))
                ok = ok and torch.equal(got, expected)
        _CHECKED[threads] = ok
    return _CHECKED[threads]


def _plain_path(x: torch.Tensor) -> bool:
    """Whether ``x`` takes torch's own kernels: off the CPU (CUDA's do not depend on the
    CPU's threads), or while tracing, exporting or compiling (a graph must not depend on
    the example)."""
    return (torch.jit.is_tracing() or torch.onnx.is_in_onnx_export()
            or torch.compiler.is_compiling() or x.device.type != "cpu")


@contextmanager
def on_threads(threads: int):
    """Run the block's torch ops on ``threads`` threads, then restore the thread count."""
    before = torch.get_num_threads()
    if threads == before:
        yield
        return
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def one_thread():
    """Run the block's torch ops on one thread (then restore the thread count): for the
    few kernels whose results depend on how many threads share them."""
    return on_threads(1)


class _Softmax(torch.autograd.Function):
    """torch's softmax; its backward, torch's too, on one thread."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, dim: int) -> torch.Tensor:
        ctx.save_for_backward(x)
        ctx.dim = dim
        return torch.softmax(x, dim)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (x,) = ctx.saved_tensors
        with torch.enable_grad(), one_thread():  # (n, classes): a small tensor, recomputed
            x = x.detach().requires_grad_()
            return torch.autograd.grad(torch.softmax(x, ctx.dim), x, grad)[0], None


def softmax(x: torch.Tensor, dim: int) -> torch.Tensor:
    """``torch.softmax(x, dim)``, whose gradient has the same bits on any number of threads.

    torch's CPU softmax backward gives different bits on 1 and 2 threads for some widths
    (10 and 17 classes, not 3 or 16, on an AVX2 CPU: docs/decisions.md, "Reproducibility").
    Here it runs on one thread, so every thread count gets one thread's bits, the bits
    every result measured before this function had. Meant for small tensors (a batch's
    class probabilities): the backward recomputes the forward and runs serially.
    """
    return torch.softmax(x, dim) if _plain_path(x) else _Softmax.apply(x, dim)


def mean(x: torch.Tensor, full: torch.Tensor | None = None) -> torch.Tensor:
    """``x.mean()`` whose value has the same bits on any number of threads; its gradient is
    that of ``full``, torch's own reduction of the same mean (default ``x.mean()``; e.g.
    ``F.mse_loss(a, b)`` for ``x = (a - b) ** 2``), so training steps are unchanged.

    torch reduces a tensor of more than 32,768 elements to one number in one part per
    thread, so the value (a logged loss, the validation loss early stopping compares)
    changes in its last bits with the thread count. Here the value is the mean of per-row
    sums (each row summed by one thread; the rows added in float64; a single row, which
    torch would split between threads, as zero-padded pieces of :data:`PIECE` elements),
    and it replaces ``full``'s value exactly:
    the two differ by a rounding, so their difference is exact (Sterbenz's lemma) and
    adding it back gives the invariant bits, while the gradient flows through ``full``
    alone.
    """
    full = x.mean() if full is None else full
    if _plain_path(x) or x.numel() <= PIECE:
        return full
    with torch.no_grad():
        rows = x.detach().reshape(len(x), -1)  # (n, d)
        if len(rows) == 1:
            # A reduction to one number splits its rows between threads; pieces are
            # reduced one to a thread. Zeros leave a sum unchanged.
            rows = F.pad(rows, (0, -rows.shape[1] % PIECE)).reshape(-1, PIECE)
        rows = rows.sum(1).double()  # (n,)
        value = (sum(part.sum() for part in rows.split(PIECE)) / x.numel()).to(full.dtype)
    return full + (value - full).detach()


EXACT = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.Hardtanh, nn.PReLU)
"""Activations of exact arithmetic (comparisons, one multiplication): the same bits on
every path, so they need no pieces."""

_CLASSES: dict[type, type] = {}


class _InPieces:
    """Mixed in before a torch activation class: its forward, in pieces."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return in_pieces(super().forward, x)


def thread_invariant(cls: type[nn.Module]) -> type[nn.Module]:
    """The subclass of activation ``cls`` whose forward runs :func:`in_pieces`; ``cls``
    itself for the exact activations (:data:`EXACT`).

    Instances are still ``cls`` instances and keep its name (``type(m).__name__`` and
    ``repr`` say ``"ELU"``); the subclass is found under ``ThreadInvariantELU`` in this
    module, where pickle looks it up, so fitted models pickle.
    """
    if issubclass(cls, EXACT):
        return cls
    if cls not in _CLASSES:
        qualname = f"ThreadInvariant{cls.__name__}"
        sub = type(cls.__name__, (_InPieces, cls), {"__module__": __name__,
                                                    "__qualname__": qualname})
        globals()[qualname] = sub
        _CLASSES[cls] = sub
    return _CLASSES[cls]


def torch_activations(elementwise: bool = False) -> dict[str, type[nn.Module]]:
    """torch.nn's activation classes by name (``"ELU"``, ``"Sigmoid"``, ...); with
    ``elementwise``, only those that map each element on its own."""
    from torch.nn.modules import activation

    mixing = {"GLU", "MultiheadAttention", "Softmin", "Softmax", "Softmax2d", "LogSoftmax"}
    return {name: getattr(activation, name) for name in activation.__all__
            if not (elementwise and name in mixing)}


for _cls in torch_activations(elementwise=True).values():  # at import: unpickling finds them
    thread_invariant(_cls)


_ACTIVATION_CLASSES = tuple(torch_activations().values())


def is_activation(module: nn.Module) -> bool:
    """Whether ``module`` is one of torch.nn's activations (or its thread-invariant
    subclass)."""
    return isinstance(module, _ACTIVATION_CLASSES)
