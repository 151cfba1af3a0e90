"""Time AutoEncoder.fit against a plain hand-written PyTorch loop, alternating in one process.

Workload (the issue's): Fashion-MNIST 60,000 x 784 (synthetic data of that shape when the
Debian package dataset-fashion-mnist is absent), 784-512-128-2-128-512-784, ELU, linear code,
sigmoid output, MSE, Adam 1e-3, batch 128.

Three sides, alternated run by run so a change in machine load hits all of them:
  plain          the textbook float32 loop (torch.optim.Adam with fused=True, DataLoader-free)
  aekit float32  AutoEncoder() as users get it (precision="float32", the default): the
                 same arithmetic as the plain loop
  aekit bf16     AutoEncoder(precision="bfloat16"), the opt-in: bfloat16 matrix products
                 (native on CPUs with AMX / AVX512-BF16, emulated and slower elsewhere)
Both aekit sides do the same work per epoch as the plain loop: no validation split, no
early stopping, no scaling (the data are already in [0, 1]). Each side's final training
loss and its test MSE on held-out rows are printed, so that "same numerics" and "bfloat16
within 1% of float32" can be read off next to the speed.

    python bench/fit_speed.py [--epochs 2] [--repeats 3] [--rows 60000] [--json out.json]
    python bench/fit_speed.py --malloc [--epochs 2] [--repeats 3]

``--malloc`` measures instead what glibc's malloc thresholds (the opt-in
``aekit.core.compat.keep_freed_blocks()``) change: the plain loop and aekit's default fit, run
``--repeats`` times each without them, then the same after setting them, in this one process
(the setting is one-way, so "without" must come first); it prints each side's ratio
with / without.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics

import torch
from _common import aekit_fit, load_split, plain_fit, reconstruction_mse

SIDES = {
    "plain": lambda X_np, X_t, epochs, seed: plain_fit(X_t, epochs, seed),
    "aekit float32": lambda X_np, X_t, epochs, seed: aekit_fit(X_np, epochs, seed),
    "aekit bf16": lambda X_np, X_t, epochs, seed: aekit_fit(X_np, epochs, seed,
                                                            precision="bfloat16"),
}


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2, help="epochs per timed run")
    parser.add_argument("--repeats", type=int, default=3, help="alternations per side")
    parser.add_argument("--rows", type=int, default=60000)
    parser.add_argument("--json", help="also write the results to this JSON file")
    parser.add_argument("--malloc", action="store_true",
                        help="measure the opt-in malloc thresholds instead (see above)")
    args = parser.parse_args(argv)

    from aekit.training.loop import autocast_dtype

    X_np, X_test, source = load_split(args.rows)
    X_t = torch.from_numpy(X_np)
    native = autocast_dtype("auto", torch.device("cpu")) is not None
    print(f"data: {source}, train {X_np.shape[0]} x {X_np.shape[1]}, test {len(X_test)}")
    print(f"machine: {cpu_name()}, {os.cpu_count()} cores, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads; bfloat16 native here: {native}")
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    # One small fit of every side, bfloat16's kernels included (not only _common.warm_up's
    # plain and float32 fits): no timed run pays a side's first-use costs.
    for fit in SIDES.values():
        fit(X_np[:2048], X_t[:2048], 1, 0)
    if args.malloc:
        return malloc_effect(X_np, X_t, args)
    # aekit leaves glibc's malloc alone (keep_freed_blocks is opt-in): every side below runs
    # with the process's default allocator.
    times = {k: [] for k in SIDES}
    losses = {k: [] for k in SIDES}
    test_mse = {k: [] for k in SIDES}
    for r in range(args.repeats):
        for name, fit in SIDES.items():
            result = fit(X_np, X_t, args.epochs, r)
            times[name].append(result.seconds_per_epoch)
            losses[name].append(result.loss)
            test_mse[name].append(reconstruction_mse(result, X_test))
            print(f"  run {r + 1} {name:>13}: {result.seconds_per_epoch:6.2f} s/epoch, "
                  f"final loss {result.loss:.5f}, test MSE {test_mse[name][-1]:.5f}", flush=True)
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    med = {k: statistics.median(v) for k, v in times.items()}
    mean_test = {k: statistics.mean(v) for k, v in test_mse.items()}
    print(f"\n{'side':>13}  {'s/epoch':>8}  {'vs plain':>8}  {'train loss':>10}  "
          f"{'test MSE':>9}  {'vs plain':>8}")
    for k in SIDES:
        print(f"{k:>13}  {med[k]:8.3f}  {med[k] / med['plain']:8.3f}  "
              f"{statistics.mean(losses[k]):10.5f}  {mean_test[k]:9.5f}  "
              f"{mean_test[k] / mean_test['plain'] - 1:+8.2%}")
    ratio = med["aekit float32"] / med["plain"]
    print(f"\naekit/plain = {ratio:.3f} (default, float32), "
          f"{med['aekit bf16'] / med['plain']:.3f} (bfloat16, opt-in)")
    result = {
        "data": source,
        "shape": list(X_np.shape),
        "cpu": cpu_name(),
        "epochs_per_run": args.epochs,
        "bfloat16_native": native,
        "seconds_per_epoch": times,
        "final_loss": losses,
        "test_mse": test_mse,
        "median": med,
        "ratio": ratio,
        "ratio_bfloat16": med["aekit bf16"] / med["plain"],
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
    }
    if args.json:
        from aekit.core.storage import atomic_write

        atomic_write(args.json, json.dumps(result, indent=2))
    return result


def malloc_effect(X_np, X_t, args) -> dict:
    """Seconds per epoch of the plain loop and of aekit float32 without, then with, glibc's
    raised malloc thresholds; prints the ratios with / without (below 1: faster with)."""
    from aekit.core import compat

    sides = {k: SIDES[k] for k in ("plain", "aekit float32")}
    times: dict = {}
    for setting in ("without", "with"):
        if setting == "with" and not compat.keep_freed_blocks():
            print("no glibc here: keep_freed_blocks() does nothing")
            return {}
        for r in range(args.repeats):
            for name, fit in sides.items():
                result = fit(X_np, X_t, args.epochs, r)
                times.setdefault((name, setting), []).append(result.seconds_per_epoch)
                print(f"  run {r + 1} {name:>13} {setting:>7} thresholds: "
                      f"{result.seconds_per_epoch:6.2f} s/epoch", flush=True)
    ratios = {}
    for name in sides:
        without, with_ = (statistics.median(times[(name, s)]) for s in ("without", "with"))
        ratios[name] = with_ / without
        print(f"{name:>13}: {without:.3f} s/epoch without, {with_:.3f} with: "
              f"ratio with/without {ratios[name]:.3f}")
    return {"malloc_ratio": ratios,
            "seconds_per_epoch": {f"{k} {s}": v for (k, s), v in times.items()}}


if __name__ == "__main__":
    main()
