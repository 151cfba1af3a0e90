"""OutlierDetector on a .npy file larger than it should hold: peak memory growth of a streamed fit.

Writes a ~1 GB float32 ``.npy`` file (``--rows`` x ``--features``, written a block at a time,
so writing it does not need the memory either) in ``--dir``, then in a fresh process: imports
and warms up aekit, notes the resident memory (RSS), fits ``OutlierDetector()`` on the path
(read chunk by chunk, a random sample kept: :mod:`aekit.anomaly.streaming`), and reports the
largest RSS seen during the fit (polled every 5 ms) minus that baseline. ``--score ROWS`` also
scores the first ROWS rows of the file through a memmap, chunk by chunk. The file is deleted
afterwards unless ``--keep``.

    python bench/anomaly_stream.py                      # 2,500,000 x 100 float32 = 1.0 GB
    python bench/anomaly_stream.py --rows 250000        # a quick run
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def write_file(path: Path, rows: int, features: int, block: int = 100_000) -> None:
    """Rows on a low-dimensional manifold plus noise, 0.5% of them anomalies, float32."""
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(rows, features))
    rng = np.random.default_rng(0)
    mix = rng.normal(size=(4, features))
    for start in range(0, rows, block):
        n = min(block, rows - start)
        x = rng.normal(size=(n, 4)) @ mix + 0.1 * rng.normal(size=(n, features))
        bad = rng.random(n) < 0.005
        x[bad] += rng.normal(scale=3.0, size=(bad.sum(), features))
        out[start : start + n] = x
    out.flush()
    del out


CHILD = r"""
import json, sys, threading, time
import numpy as np, torch
torch.set_num_threads(int(sys.argv[3]))
from aekit import OutlierDetector
OutlierDetector(max_epochs=1, device="cpu").fit(np.random.default_rng(0).normal(size=(500, 8)))
def rss_mb():
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmRSS")) / 1024
class Peak:
    # The largest resident memory seen, polled every 5 ms while the block runs (getrusage's
    # maximum would also count what the process held before the block).
    def __enter__(self):
        self.peak, self.done = rss_mb(), False
        self.thread = threading.Thread(target=self.poll, daemon=True)
        self.thread.start()
        return self
    def poll(self):
        while not self.done:
            self.peak = max(self.peak, rss_mb())
            time.sleep(0.005)
    def __exit__(self, *exc):
        self.done = True
        self.thread.join()
        self.peak = max(self.peak, rss_mb())
base = rss_mb()
start = time.perf_counter()
with Peak() as fit_peak:
    det = OutlierDetector(random_state=0, device="cpu").fit(sys.argv[1])
out = {"baseline_mb": base, "fit_seconds": time.perf_counter() - start,
       "fit_peak_growth_mb": fit_peak.peak - base, "n_samples_fit": det.n_samples_fit_}
n_score = int(sys.argv[2])
if n_score:
    X = np.load(sys.argv[1], mmap_mode="r")[:n_score]
    start = time.perf_counter()
    with Peak() as score_peak:
        scores = det.score_samples(X)
    out["score_seconds"] = time.perf_counter() - start
    out["scored_rows"] = len(scores)
    out["score_peak_growth_mb"] = score_peak.peak - base
print(json.dumps(out))
"""


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_500_000)
    parser.add_argument("--features", type=int, default=100)
    parser.add_argument("--score", type=int, default=0, help="rows to score (0: none)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args(argv)
    path = args.dir / f"aekit_stream_{args.rows}x{args.features}.npy"
    existed = path.exists()
    if not existed:
        start = time.perf_counter()
        write_file(path, args.rows, args.features)
        print(f"wrote {path} ({path.stat().st_size / 1e9:.2f} GB) in "
              f"{time.perf_counter() - start:.0f} s", file=sys.stderr)
    try:
        done = subprocess.run([sys.executable, "-c", CHILD, str(path), str(args.score),
                               str(args.threads)], capture_output=True, text=True, check=True)
    finally:
        if not args.keep and not existed:  # never delete a file this script did not write
            path.unlink(missing_ok=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["file_gb"] = args.rows * args.features * 4 / 1e9
    print(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
