"""The examples run as written, in their quick mode (digits, few epochs)."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def run_example(name, *args):
    env = {**os.environ, "AEKIT_EXAMPLE_QUICK": "1", "OMP_NUM_THREADS": "2"}
    proc = subprocess.run([sys.executable, str(EXAMPLES / name), *args], capture_output=True,
                          text=True, env=env, timeout=300, cwd=EXAMPLES)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_every_example_is_tested():
    tested = {"beat_pca.py", "csv_logger.py", "denoise.py", "pretrain_few_labels.py"}
    assert {p.name for p in EXAMPLES.glob("*.py") if not p.name.startswith("_")} == tested


@pytest.mark.slow
def test_beat_pca():
    out = run_example("beat_pca.py")
    assert "digits" in out and "PCA (k=2)" in out
    ratio = float(re.search(r"AE / PCA error ratio: ([\d.]+)", out).group(1))
    assert 0 < ratio < 2  # 3 epochs: a working fit, not yet a win


@pytest.mark.slow
@pytest.mark.parametrize("args", [[], ["--dense"]])
def test_denoise(args):
    out = run_example("denoise.py", *args)
    removed = int(re.search(r"removes (-?\d+)% of the noise", out).group(1))
    assert removed > 0  # the denoised images are closer to the clean ones than the noisy


@pytest.mark.slow
def test_pretrain_few_labels():
    out = run_example("pretrain_few_labels.py")
    assert "100 labelled training images" in out
    accuracies = [float(a) for a in re.findall(r"^(?:logistic|EncoderClassifier).*?  ([\d.]+) ",
                                                out, flags=re.M)]
    assert len(accuracies) == 5 and all(0.1 < a <= 1 for a in accuracies)  # 3 epochs: it works
    assert re.search(r"semi-supervised against logistic regression on the pixels: [+-][\d.]+ ",
                     out)


def test_csv_logger(tmp_path):
    import csv

    out = tmp_path / "epochs.csv"
    printed = run_example("csv_logger.py", "--out", str(out))
    with open(out, newline="") as f:
        rows = list(csv.DictReader(f))
    # 3 epochs (quick mode) of each of 2 restarts, every record's fields as columns.
    assert [(r["run"], r["epoch"]) for r in rows] == [(str(i), str(e)) for i in (0, 1)
                                                      for e in (1, 2, 3)]
    assert {"phase", "loss", "val_loss", "seconds"} <= set(rows[0])
    assert all(float(r["loss"]) > 0 for r in rows)
    assert "6 epochs over 2 restarts" in printed
