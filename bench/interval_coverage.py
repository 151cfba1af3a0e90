"""How many test rows does the AE/PCA ratio's 95% interval need? The coverage of
:func:`aekit.evaluation.metrics.ratio_interval` (paired percentile bootstrap) on synthetic
paired row errors whose true ratio is known, by number of rows: what chose
``MIN_TEST_ROWS`` (docs/decisions.md, "Reports and verdicts").

Each row has a difficulty ``g`` (gamma(2) or lognormal(0, 1): a few rows carry much of the
error, as in reconstruction errors) shared by both models; each model's error on it is
``g`` times its own gamma(4)/4 noise, the autoencoder's scaled by 0.9 (true ratio 0.9).

    python bench/interval_coverage.py [--reps 1000]
"""

from __future__ import annotations

import argparse

import numpy as np


def coverage(n: int, dist: str, reps: int, rng) -> float:
    from aekit.evaluation.metrics import ratio_interval

    hits = 0
    for r in range(reps):
        g = rng.gamma(2, size=n) if dist == "gamma" else rng.lognormal(0, 1, size=n)
        a = 0.9 * g * rng.gamma(4, size=n) / 4
        p = g * rng.gamma(4, size=n) / 4
        lo, hi = ratio_interval(a, p, random_state=r, min_rows=2)
        hits += lo <= 0.9 <= hi
    return hits / reps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=1000)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print(f"coverage of the nominal 95% interval ({args.reps} data sets per cell)")
    print(f"{'rows':>5}  {'gamma':>6}  {'lognormal':>9}")
    for n in (3, 5, 10, 15, 20, 30, 50, 100):
        print(f"{n:>5}  {coverage(n, 'gamma', args.reps, rng):>6.3f}  "
              f"{coverage(n, 'lognormal', args.reps, rng):>9.3f}")


if __name__ == "__main__":
    main()
