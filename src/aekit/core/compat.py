"""The one home of calls into private or platform-specific APIs, each with a fallback to the
public API: glibc's allocator controls, torch's fused Adam kernel and optimizer hook
registries, torch's CPU feature probes.

Every private call here is optional: :data:`USE_PRIVATE_TORCH` set to False (or the
environment variable ``AEKIT_PUBLIC_TORCH_ONLY=1`` at import) makes aekit use only torch's
public API, and a torch that lacks a private name falls back by itself. Results are the same
either way (the fused step is bit-identical to ``optimizer.step()``); only speed differs.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Callable

import torch
from torch.optim import optimizer as _torch_optimizer

USE_PRIVATE_TORCH = os.environ.get("AEKIT_PUBLIC_TORCH_ONLY", "") not in ("1", "true", "yes")
"""Whether aekit may call torch's private API (read at each use, so tests can flip it)."""


# --------------------------------------------------------------------------- glibc malloc
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameter numbers
_LIBC: list = []
_SET: list = []


def _libc():
    if not _LIBC:
        try:
            libc = ctypes.CDLL(None)
            libc.mallopt, libc.malloc_trim  # noqa: B018  (both exist on glibc only)
            _LIBC.append(libc)
        except (OSError, AttributeError, TypeError):  # macOS, musl, Windows
            _LIBC.append(None)
    return _LIBC[0]


def trim() -> None:
    """Return the heap's free memory to the OS (``malloc_trim(0)``); a no-op without glibc."""
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)


def keep_freed_blocks(mmap_threshold: int = 4 << 20, trim_threshold: int = 64 << 20) -> bool:
    """Opt-in: serve blocks below ``mmap_threshold`` from the heap and keep freed ones there.

    CPU tensors come from ``malloc``; glibc serves large blocks from fresh memory maps and
    unmaps them on ``free``, so a training step that frees and re-allocates its activations
    and gradients may page-fault and zero them again every step. With this, step-sized
    tensors are reused instead; blocks above ``mmap_threshold`` (data chunks) still come
    from and go back to the OS, and :func:`trim` still returns free heap memory on demand.

    aekit never calls this itself: it is a process-wide, one-way setting (glibc cannot go
    back to its dynamic thresholds once they are set) that costs up to ``trim_threshold``
    of freed memory kept by the process and changes every later allocation of it, so the
    caller decides (once, at the start of a CPU training script). Its measured effect is in
    ``bench/README.md`` (``bench/fit_speed.py --malloc``). Returns whether it was applied
    (False without glibc).
    """
    libc = _libc()
    if libc is None:
        return False
    if not _SET:
        libc.mallopt(_M_MMAP_THRESHOLD, mmap_threshold)
        libc.mallopt(_M_TRIM_THRESHOLD, trim_threshold)
        _SET.append(True)
    return True


# --------------------------------------------------------------------------- torch probes
def cpu_has_native_bf16() -> bool:
    """Whether this CPU multiplies bfloat16 matrices in hardware (AMX tiles or AVX512-BF16;
    oneDNN uses them). torch's probes are private: without them, False (float32 stays the
    arithmetic of ``precision="auto"``)."""
    if not USE_PRIVATE_TORCH:
        return False
    probes = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in probes)


# --------------------------------------------------------------------------- optimizer step
_FUSED = {torch.optim.Adam: "_fused_adam_", torch.optim.AdamW: "_fused_adamw_"}


def _has_step_hooks(optimizer: torch.optim.Optimizer) -> bool:
    """Whether step hooks are registered (globally or on ``optimizer``); True when torch's
    private registries cannot be read, so that ``optimizer.step()`` runs them."""
    registries = _torch_optimizer
    try:
        return bool(
            registries._global_optimizer_pre_hooks or registries._global_optimizer_post_hooks
            or optimizer._optimizer_step_pre_hooks or optimizer._optimizer_step_post_hooks
        )
    except AttributeError:
        return True


class FusedAdamStep:
    """``optimizer.step()`` for fused Adam / AdamW, minus torch.optim's per-step Python.

    torch.optim wraps every step in profiler hooks and rebuilds its tensor lists; on a small
    dense model on the CPU that bookkeeping costs as much as the fused kernel it then calls
    (``bench/README.md``). Once the first ordinary step has created the state, later steps
    call that same kernel (``torch._fused_adam_``, private) on the same state tensors, so
    results are bit-identical and the optimizer stays the owner of its state. Whenever a
    step cannot take that path (registered step hooks, a parameter without a gradient,
    :data:`USE_PRIVATE_TORCH` off) it calls ``optimizer.step()``.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, kernel: Callable):
        self.optimizer = optimizer
        self.kernel = kernel
        self.params = list(optimizer.param_groups[0]["params"])
        self.lists = None  # (exp_avgs, exp_avg_sqs, steps), once the state exists

    def __call__(self) -> None:
        optimizer = self.optimizer
        if (not USE_PRIVATE_TORCH or _has_step_hooks(optimizer)
                or any(p.grad is None for p in self.params)):
            optimizer.step()
            return
        if self.lists is None:
            optimizer.step()  # creates the state the kernel updates from now on
            state = [optimizer.state[p] for p in self.params]
            self.lists = tuple([st[k] for st in state] for k in ("exp_avg", "exp_avg_sq", "step"))
            return
        g = optimizer.param_groups[0]
        exp_avgs, exp_avg_sqs, steps = self.lists
        torch._foreach_add_(steps, 1)
        beta1, beta2 = g["betas"]
        self.kernel(
            self.params, [p.grad for p in self.params], exp_avgs, exp_avg_sqs, [], steps,
            amsgrad=False, lr=g["lr"], beta1=beta1, beta2=beta2,
            weight_decay=g["weight_decay"], eps=g["eps"], maximize=False,
            grad_scale=None, found_inf=None,
        )


def optimizer_step(optimizer: torch.optim.Optimizer) -> Callable[[], None]:
    """The fastest exact ``optimizer.step`` for ``optimizer``: a :class:`FusedAdamStep` for a
    plain fused Adam / AdamW of one parameter group when torch has its kernel and
    :data:`USE_PRIVATE_TORCH` is on, else ``optimizer.step`` itself (the public API)."""
    name = _FUSED.get(type(optimizer))
    groups = optimizer.param_groups
    if not (USE_PRIVATE_TORCH and name and hasattr(torch, name) and len(groups) == 1):
        return optimizer.step
    g = groups[0]
    plain = not (g["amsgrad"] or g["maximize"] or g["differentiable"] or g["capturable"])
    if not (g["fused"] and plain and isinstance(g["lr"], float)):
        return optimizer.step
    return FusedAdamStep(optimizer, getattr(torch, name))
