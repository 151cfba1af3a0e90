"""Several processes: batch shares, the combined gradient, and torchrun runs that match one
process (same global batch) and stop together."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from safetensors.numpy import load_file
from torch import nn
from typer.testing import CliRunner

from aekit.core import distributed
from aekit.cli.commands import app
from aekit.data import load_dataset

needs_dist = pytest.mark.skipif(
    not torch.distributed.is_available() or not torch.distributed.is_gloo_available(),
    reason="torch.distributed with the gloo backend is not available in this torch build",
)


# --------------------------------------------------------------------------- without processes
@pytest.mark.parametrize("world", [1, 2, 3])
@pytest.mark.parametrize("n_rows", [0, 1, 2, 5, 7, 64])
def test_batch_slices_cover_the_batch_in_order(world, n_rows):
    slices = [distributed.batch_slice(n_rows, r, world) for r in range(world)]
    assert slices[0][0] == 0 and slices[-1][1] == n_rows
    assert all(a[1] == b[0] for a, b in zip(slices, slices[1:]))  # contiguous, no overlap
    sizes = [stop - start for start, stop in slices]
    assert max(sizes) - min(sizes) <= 1  # as even as possible
    assert sizes == sorted(sizes, reverse=True)  # extra rows on the first ranks


def test_shard_is_the_whole_batch_in_one_process():
    batch = torch.arange(5)
    idx, rows = distributed.shard(batch)
    assert idx is batch and rows == 5
    assert distributed.rank_info() == (0, 1) and distributed.is_main()


def test_empty_share_stands_in_one_row_of_weight_zero(monkeypatch):
    monkeypatch.setattr(distributed, "rank_info", lambda: (2, 3))
    idx, rows = distributed.shard(torch.tensor([7, 8]))  # 2 rows, 3 ranks: rank 2 has none
    assert idx.tolist() == [7] and rows == 0
    monkeypatch.setattr(distributed, "rank_info", lambda: (1, 3))
    idx, rows = distributed.shard(torch.tensor([7, 8]))
    assert idx.tolist() == [8] and rows == 1


@pytest.mark.parametrize("world", [1, 2, 3])
def test_weighted_share_gradients_sum_to_the_global_batch_gradient(world):
    # What sum_gradients computes across ranks, done here in one process: each share's
    # mean-loss gradient weighted by its rows / the batch's rows.
    torch.manual_seed(0)
    module = nn.Sequential(nn.Linear(4, 3), nn.ELU(), nn.Linear(3, 4))
    X = torch.randn(7, 4)  # uneven: 7 rows over 2 or 3 ranks

    def grads(x):
        module.zero_grad()
        nn.functional.mse_loss(module(x), x).backward()
        return [p.grad.clone() for p in module.parameters()]

    total = [torch.zeros_like(p) for p in module.parameters()]
    for rank in range(world):
        start, stop = distributed.batch_slice(len(X), rank, world)
        for t, g in zip(total, grads(X[start:stop])):
            t += g * (stop - start) / len(X)
    for t, g in zip(total, grads(X)):
        torch.testing.assert_close(t, g, rtol=1e-5, atol=1e-7)


def test_reductions_are_identities_in_one_process(monkeypatch):
    sums = {"loss": torch.tensor(3.0)}
    assert distributed.all_reduce_sum(sums) == sums
    assert distributed.all_reduce_mean(1.5) == 1.5
    assert distributed.same_random_state(None) is None
    distributed.barrier()
    distributed.teardown()
    monkeypatch.delenv("RANK", raising=False)  # not under torchrun: nothing to join
    assert distributed.init_from_env("cpu") is False
    assert not torch.distributed.is_initialized()


# --------------------------------------------------------------------------- torchrun
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env() -> dict:
    """The environment of the processes: this aekit first on the path (they run elsewhere)."""
    from pathlib import Path

    import aekit

    src = str(Path(aekit.__file__).resolve().parents[1])
    env = {**os.environ, "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    env.pop("AEKIT_DEBUG", None)
    return env


def _torchrun(args, cwd, nproc=2, check=True):
    """``torchrun --nproc-per-node nproc`` on 127.0.0.1; returns the CompletedProcess
    (``check``: which must have succeeded)."""
    env = _env()
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--nnodes", "1",
        "--nproc-per-node", str(nproc), "--rdzv-backend", "c10d",
        "--rdzv-endpoint", f"127.0.0.1:{_free_port()}", *map(str, args),
    ]
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=180)
    if check:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def _two_ranks_and_alone(code: str, rows, tmp_path) -> tuple[list[dict], dict]:
    """Run the driver ``code`` (which writes ``<out>-<world>-<rank>.json``) on ``rows``
    under torchrun with 2 processes, then alone: (what each rank wrote, what one process
    wrote)."""
    driver = tmp_path / "driver.py"
    driver.write_text(code)
    _torchrun([driver, rows, tmp_path / "out"], cwd=tmp_path)
    env = _env()
    for var in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(var, None)
    subprocess.run([sys.executable, driver, rows, tmp_path / "out"],
                   check=True, env=env, timeout=120)
    ranks = [json.loads((tmp_path / f"out-2-{r}.json").read_text()) for r in (0, 1)]
    return ranks, json.loads((tmp_path / "out-1-0.json").read_text())


@pytest.fixture(scope="module")
def rows(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "rows.npy"
    ds = load_dataset("digits")
    np.save(path, np.concatenate([ds.X_train, ds.X_test])[:600].astype(np.float32))
    return path


@pytest.mark.slow
@needs_dist
def test_cli_under_torchrun_matches_one_process(rows, tmp_path):
    # 480 train rows, 432 fitted: batches of 64 and a last one of 48, split 24/24.
    args = ["train", "--data", rows, "--components", "2", "--hidden", "16", "--epochs", "3",
            "--seed", "0", "--no-early-stopping", "--validation-fraction", "0.1",
            "--batch-size", "64", "--device", "cpu",
            # Exactness is a float32 property: in bfloat16 (the default where the CPU has
            # it) the ranks' smaller matrix products round differently from one process's.
            "--precision", "float32"]
    proc = _torchrun(["-m", "aekit", *args, "--out", tmp_path / "two"], cwd=tmp_path)
    result = CliRunner().invoke(app, [str(a) for a in args + ["--out", tmp_path / "one"]])
    assert result.exit_code == 0, result.output

    # Rank 0 alone printed and wrote the run.
    assert proc.stdout.count("fitting AutoEncoder") == 1, proc.stdout
    assert proc.stdout.count("run saved to") == 1 and "2 processes" in proc.stdout
    def names(run):  # the weights file is named by its content's hash
        return sorted(re.sub(r"-[0-9a-f]{16}\.", "-<hash>.", p.name) for p in run.iterdir())

    assert names(tmp_path / "two") == names(tmp_path / "one")
    assert not [p for p in (tmp_path / "two").iterdir() if p.name.endswith(".tmp")]

    one, two = (load_file(tmp_path / d / json.loads(
        (tmp_path / d / "config.json").read_text())["weights"]) for d in ("one", "two"))
    assert one.keys() == two.keys()
    for key in one:
        np.testing.assert_allclose(two[key], one[key], atol=1e-4, err_msg=key)
    h1, h2 = (json.loads((tmp_path / d / "config.json").read_text())["fitted"]["history_"]
              for d in ("one", "two"))
    assert len(h1) == len(h2) == 3
    for r1, r2 in zip(h1, h2):
        assert r2["loss"] == pytest.approx(r1["loss"], rel=1e-5)
        assert r2["val_loss"] == pytest.approx(r1["val_loss"], rel=1e-5)
    m1, m2 = (json.loads((tmp_path / d / "metrics.json").read_text()) for d in ("one", "two"))
    assert m2["test_score"] == pytest.approx(m1["test_score"], rel=1e-4)


@pytest.mark.slow
@needs_dist
def test_a_torchrun_run_into_a_directory_another_process_writes_is_refused_on_every_rank(
        rows, tmp_path):
    # The ranks of one run share its --out (rank 0 alone holds it: the test above); another
    # command writing it refuses the run on rank 0, and rank 1 ends with it, told so, not
    # after the group's timeout (600 s here, beyond _torchrun's own limit).
    from aekit.runs import writing_run

    out = tmp_path / "run"
    args = ["-m", "aekit", "train", "--data", rows, "--epochs", "2", "--device", "cpu",
            "--dist-timeout", "600", "--out", out]
    with writing_run(out, command="aekit train"):
        proc = _torchrun(args, cwd=tmp_path, check=False)
    assert proc.returncode != 0
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, proc.stderr  # rank 0's
    assert f"--out {out} is being written by another aekit process (pid {os.getpid()}" \
        in errors[0]
    assert "fitting" not in proc.stdout and "did not answer" not in proc.stderr
    assert not out.exists()  # nothing written, and the lock's directory gone with it


# Names of the running threads of gloo (the process group's), from /proc (Linux).
_GLOO_THREADS = textwrap.dedent("""
    import os

    def gloo_threads():
        names = []
        for task in os.listdir("/proc/self/task"):
            try:
                with open(f"/proc/self/task/{task}/comm") as f:
                    names.append(f.read().strip())
            except OSError:  # ended meanwhile
                pass
        return sorted(name for name in names if "gloo" in name)
""")

_DRIVER = _GLOO_THREADS + textwrap.dedent("""
    # Fits under torchrun (or alone) and writes each rank's history and codes.
    import json, sys
    import numpy as np
    from aekit import AutoEncoder
    from aekit.core import distributed

    distributed.init_from_env("cpu")
    rank, world = distributed.rank_info()
    X = np.load(sys.argv[1])
    # 600 rows, 540 fitted: 7 batches of 77 and a last one of 1 row, so one rank's share is
    # empty in every epoch. tol=0.5 stops after the first epoch that fails to halve the loss.
    kw = dict(n_components=2, hidden_layer_sizes=(16,), batch_size=77, max_epochs=30,
              early_stopping=True, patience=1, tol=0.5, validation_fraction=0.1,
              learning_rate=1e-2, random_state=0, device="cpu", precision="float32")
    ae = AutoEncoder(**kw).fit(X)
    # Streamed from disk: every rank reads every chunk and takes its share of each batch.
    streamed = AutoEncoder(chunk_rows=150, **kw).fit(sys.argv[1])
    out = {"world": world, "history": ae.history_, "codes": ae.transform(X[:20]).tolist(),
           "streamed": streamed.transform(X[:20]).tolist(), "n_streamed": streamed.n_iter_}
    distributed.teardown()
    out["gloo_threads_left"] = gloo_threads()
    with open(f"{sys.argv[2]}-{world}-{rank}.json", "w") as f:
        json.dump(out, f)
""")


@pytest.mark.slow
@needs_dist
def test_early_stopping_stops_every_rank_together(rows, tmp_path):
    ranks, alone = _two_ranks_and_alone(_DRIVER, rows, tmp_path)
    epochs = [len(r["history"]) for r in ranks]
    assert epochs[0] == epochs[1] == len(alone["history"]) < 30  # stopped early, together
    for r in ranks:
        for record in r["history"]:
            record.pop("seconds")
    assert ranks[0]["history"] == ranks[1]["history"]  # every rank saw the same numbers
    for r2, r1 in zip(ranks[0]["history"], alone["history"]):
        assert r2["val_loss"] == pytest.approx(r1["val_loss"], rel=1e-5)
    for key in ("codes", "streamed"):
        np.testing.assert_allclose(ranks[0][key], ranks[1][key], rtol=0, atol=0)
        np.testing.assert_allclose(ranks[0][key], alone[key], atol=1e-4)
    assert ranks[0]["n_streamed"] == ranks[1]["n_streamed"] == alone["n_streamed"]
    # teardown destroyed the group: none of its threads is left to the interpreter's
    # shutdown, where destroying it could abort the process (SIGABRT) after a good run.
    if os.path.isdir("/proc/self/task"):
        assert ranks[0]["gloo_threads_left"] == ranks[1]["gloo_threads_left"] == []


_AT_EXIT = _GLOO_THREADS + textwrap.dedent("""
    # A fit under torchrun that ends without teardown: the group must still be gone before
    # the interpreter shuts down. Records gloo's threads while the group lives and after
    # aekit's exit handler (this one, registered first, runs after it).
    import atexit, json, sys
    import numpy as np

    seen = {}

    def record():
        seen["at_exit"] = gloo_threads()
        with open(f"{sys.argv[2]}-{seen['rank']}.json", "w") as f:
            json.dump(seen, f)

    atexit.register(record)
    from aekit import AutoEncoder
    from aekit.core import distributed

    distributed.init_from_env("cpu")
    seen["rank"] = distributed.rank_info()[0]
    # Building an optimizer makes torch import modules; one of them, imported while a group
    # exists, kept that group alive after destroy_process_group.
    AutoEncoder(n_components=2, hidden_layer_sizes=(8,), max_epochs=1, random_state=0,
                device="cpu").fit(np.load(sys.argv[1]))
    seen["while_fitting"] = gloo_threads()
    sys.exit(0)
""")


@pytest.mark.slow
@needs_dist
@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="lists threads from /proc")
def test_a_process_that_never_calls_teardown_leaves_the_group_at_exit(rows, tmp_path):
    driver = tmp_path / "at_exit.py"
    driver.write_text(_AT_EXIT)
    _torchrun([driver, rows, tmp_path / "out"], cwd=tmp_path)
    for rank in (0, 1):
        seen = json.loads((tmp_path / f"out-{rank}.json").read_text())
        assert seen["while_fitting"], "no gloo thread seen: this check no longer sees them"
        assert seen["at_exit"] == []


_FAMILIES = textwrap.dedent("""
    # Every family and variant under torchrun, random_state=None: the ranks must agree.
    import json, sys
    import numpy as np
    from aekit import AutoEncoder, EncoderClassifier, OutlierDetector, VariationalAutoEncoder
    from aekit.core import distributed

    distributed.init_from_env("cpu")
    rank, world = distributed.rank_info()
    X = np.load(sys.argv[1])
    y = (X[:, 20] > X[:, 20].mean()).astype(int)
    kw = dict(n_components=2, hidden_layer_sizes=(16,), batch_size=77, max_epochs=2,
              device="cpu")
    ae = AutoEncoder(noise="gaussian", dropout=0.1, pretrain="greedy", pretrain_epochs=1,
                     sparsity="kl", contractive=0.01, n_init=2, **kw).fit(X)
    vae = VariationalAutoEncoder(**kw).fit(X)
    clf = EncoderClassifier(ae, max_epochs=2, batch_size=77).fit(X, y)
    # The detector draws its members' subsamples: every rank must draw the same ones.
    det = OutlierDetector(max_epochs=2, batch_size=77, device="cpu").fit(X)
    out = {"ae": ae.transform(X[:5]).tolist(), "vae": vae.transform(X[:5]).tolist(),
           "clf": clf.predict_proba(X[:5]).tolist(), "det": det.score_samples(X[:5]).tolist(),
           "threshold": det.threshold_,
           "history": [{k: v for k, v in r.items() if k != "seconds"}
                       for r in ae.history_ + vae.history_ + clf.history_ + det.history_]}
    with open(f"{sys.argv[2]}-{rank}.json", "w") as f:
        json.dump(out, f)
    distributed.teardown()
""")


@pytest.mark.slow
@needs_dist
def test_every_family_trains_in_step(rows, tmp_path):
    # Objectives call module.encoder / .decoder / .encoder.distribution directly, which is
    # why gradients are all-reduced after backward rather than through DDP's forward.
    driver = tmp_path / "families.py"
    driver.write_text(_FAMILIES)
    _torchrun([driver, rows, tmp_path / "out"], cwd=tmp_path)
    ranks = [json.loads((tmp_path / f"out-{r}.json").read_text()) for r in (0, 1)]
    assert ranks[0] == ranks[1]


_STUCK = textwrap.dedent("""
    # Rank 1 stops answering; rank 0 must give up after the group's timeout, not 30 min.
    import sys, time
    from aekit.core import distributed

    distributed.init_from_env("cpu", timeout=float(sys.argv[1]))
    rank, _ = distributed.rank_info()
    if rank == 1:
        time.sleep(120)
    start = time.monotonic()
    try:
        distributed.barrier()
    except distributed.DistributedError as err:
        print(f"rank {rank} gave up after {time.monotonic() - start:.1f} s: {err}", flush=True)
        sys.exit(3)
""")


@pytest.mark.slow
@needs_dist
def test_a_stuck_rank_ends_the_run_after_the_timeout(tmp_path):
    import time

    driver = tmp_path / "stuck.py"
    driver.write_text(_STUCK)
    start = time.monotonic()
    proc = _torchrun([driver, "3"], cwd=tmp_path, check=False)
    assert proc.returncode != 0
    assert "rank 0 gave up after" in proc.stdout, proc.stdout + proc.stderr
    assert "did not answer within 3 s" in proc.stdout
    waited = float(proc.stdout.split("gave up after ")[1].split(" s")[0])
    assert 2 <= waited < 30
    assert time.monotonic() - start < 110  # not the rank's 120 s sleep, nor torch's 30 min


def test_a_checkpoint_resumes_only_with_as_many_processes_as_wrote_it():
    """Ranks other than 0 go on with their own saved RNG streams: under another number of
    processes there is none to go on with, and the fit would draw other noise."""
    from aekit.training.callbacks import loop_state_files, restore_loop_state
    from aekit.training.loop import init_state

    module = nn.Linear(3, 3)
    state = init_state(module, torch.optim.Adam(module.parameters()))
    meta, tensors = loop_state_files(state)
    assert meta["world_size"] == 1
    restore_loop_state(init_state(module, torch.optim.Adam(module.parameters())), meta,
                       tensors)
    with pytest.raises(ValueError, match=r"written by 2 process\(es\) and is resumed by 1"):
        restore_loop_state(init_state(module, torch.optim.Adam(module.parameters())),
                           {**meta, "world_size": 2}, tensors)


def test_the_timeout_is_a_parameter_with_a_sane_default(monkeypatch):
    assert 60 <= distributed.DEFAULT_TIMEOUT <= 900
    monkeypatch.setenv("RANK", "0")
    for var, value in (("WORLD_SIZE", "1"), ("MASTER_ADDR", "x"), ("MASTER_PORT", "1")):
        monkeypatch.setenv(var, value)
    monkeypatch.setenv(distributed.TIMEOUT_ENV, "soon")
    with pytest.raises(ValueError, match="AEKIT_DIST_TIMEOUT"):
        distributed.init_from_env("cpu")
    with pytest.raises(ValueError, match="> 0 seconds"):
        distributed.init_from_env("cpu", timeout=0)


@pytest.mark.parametrize("timeout", [-5, 0, float("nan"), float("inf")])
def test_a_bad_timeout_is_refused_outside_torchrun_too(monkeypatch, timeout):
    # The value is checked before the torchrun variables: a script tried in one process
    # must fail the same way it would under torchrun.
    for var in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(ValueError, match="> 0 seconds and finite"):
        distributed.init_from_env("cpu", timeout=timeout)
    monkeypatch.setenv(distributed.TIMEOUT_ENV, str(timeout))
    with pytest.raises(ValueError, match=distributed.TIMEOUT_ENV):
        distributed.init_from_env("cpu")
    monkeypatch.delenv(distributed.TIMEOUT_ENV)
    assert distributed.init_from_env("cpu") is False  # the default: nothing to join


_RESUMED = textwrap.dedent("""
    # Fit with checkpoints under torchrun: "crash" dies after epoch 2 on every rank,
    # "resume" continues from rank 0's checkpoint, "ref" fits uninterrupted; a fourth
    # argument, "noisy", adds dropout and corruption noise (each rank draws its own).
    import json, sys
    import numpy as np
    from aekit import AutoEncoder
    from aekit.core import distributed
    from aekit.training import callbacks

    distributed.init_from_env("cpu")
    rank, world = distributed.rank_info()
    X = np.load(sys.argv[1])
    kw = dict(n_components=2, hidden_layer_sizes=(16,), batch_size=64, max_epochs=5,
              early_stopping=False, validation_fraction=0.1, random_state=0, device="cpu",
              precision="float32", checkpoint_dir=sys.argv[2])
    if sys.argv[4:] == ["noisy"]:
        kw.update(dropout=0.3, noise="gaussian", noise_level=0.3)
    if sys.argv[3] == "crash":
        real = callbacks.Checkpoint.on_epoch_end
        def on_epoch_end(self, state, record):
            real(self, state, record)
            self.wait()
            if record["epoch"] == 2:
                sys.exit(5)
        callbacks.Checkpoint.on_epoch_end = on_epoch_end
        AutoEncoder(**kw).fit(X)
    ae = AutoEncoder(**kw).fit(X, resume=sys.argv[3] != "ref")
    with open(f"{sys.argv[2]}-{rank}.json", "w") as f:
        json.dump({"codes": ae.transform(X[:20]).tolist(), "n_iter": ae.n_iter_,
                   "epochs": [r["epoch"] for r in ae.history_],
                   "losses": [[r["loss"], r["val_loss"]] for r in ae.history_]}, f)
    distributed.teardown()
""")


@pytest.mark.slow
@needs_dist
def test_a_torchrun_fit_resumes_from_rank_0s_checkpoint(rows, tmp_path):
    from aekit import AutoEncoder

    driver = tmp_path / "resumed.py"
    driver.write_text(_RESUMED)
    ck = tmp_path / "ck"
    proc = _torchrun([driver, rows, ck, "crash"], cwd=tmp_path, check=False)
    assert proc.returncode != 0  # died after epoch 2, leaving rank 0's checkpoint
    saved = json.loads((ck / "checkpoint.json").read_text())
    assert saved["loop"]["epoch"] == 2
    assert sorted(p.name for p in ck.iterdir())[-1] == "checkpoint.json"  # one writer
    assert len(list(ck.glob("checkpoint-*.safetensors"))) == 1
    _torchrun([driver, rows, ck, "resume"], cwd=tmp_path)
    ranks = [json.loads((tmp_path / f"ck-{r}.json").read_text()) for r in (0, 1)]
    assert ranks[0] == ranks[1]
    assert ranks[0]["n_iter"] == 5 and ranks[0]["epochs"] == [1, 2, 3, 4, 5]
    X = np.load(rows)
    alone = AutoEncoder(n_components=2, hidden_layer_sizes=(16,), batch_size=64, max_epochs=5,
                        early_stopping=False, validation_fraction=0.1, random_state=0,
                        device="cpu").fit(X)
    np.testing.assert_allclose(ranks[0]["codes"], alone.transform(X[:20]), atol=1e-4)


@pytest.mark.slow
@needs_dist
def test_a_torchrun_fit_with_dropout_and_noise_resumes_exactly(rows, tmp_path):
    """Each rank draws its own dropout masks and noise: the checkpoint holds every rank's
    RNG state and the resumed loop goes on with it (no new seed), so the resumed fit ends
    where the uninterrupted one ends, bit for bit."""
    driver = tmp_path / "resumed.py"
    driver.write_text(_RESUMED)
    ck, ref = tmp_path / "ck", tmp_path / "ref"
    assert _torchrun([driver, rows, ck, "crash", "noisy"], cwd=tmp_path,
                     check=False).returncode != 0
    saved = load_file(next(ck.glob("checkpoint-*.safetensors")))
    assert "rng.torch.1" in saved  # rank 1's stream, beside rank 0's "rng.torch"
    _torchrun([driver, rows, ck, "resume", "noisy"], cwd=tmp_path)
    _torchrun([driver, rows, ref, "ref", "noisy"], cwd=tmp_path)
    for rank in (0, 1):
        resumed, uninterrupted = (json.loads((tmp_path / f"{d}-{rank}.json").read_text())
                                  for d in ("ck", "ref"))
        assert resumed == uninterrupted


# --------------------------------------------------------------------------- the same data
def test_copies_of_a_file_are_described_alike_and_other_rows_are_not(tmp_path):
    """What the ranks compare: a copy of a file (another inode, another modification time,
    as on another machine) is the same data; other values, rows or columns are not."""
    import time

    from aekit.data.agreement import describe

    X = np.random.default_rng(0).random((300, 6)).astype(np.float32)
    np.save(tmp_path / "a.npy", X)
    time.sleep(0.01)
    np.save(tmp_path / "b.npy", X)
    shards = tmp_path / "shards"
    shards.mkdir()
    for i in range(3):
        np.save(shards / f"part-{i}.npy", X[100 * i: 100 * (i + 1)])
    a, b = describe(tmp_path / "a.npy"), describe(str(tmp_path / "b.npy"))
    assert a == b and a.rows == 300 and a.columns == 6
    assert describe(shards).rows == 300 and describe(shards) != a  # other parts
    assert describe(X) == describe(X.copy()) and describe(X).content != a.content
    for other in (X * 2 + 1, X[:-1], X[:, :5], X.astype(np.float64)):
        assert describe(other) != describe(X)
    np.save(tmp_path / "b.npy", X * 2 + 1)
    assert describe(tmp_path / "b.npy").content != a.content
    import pandas as pd

    frame = pd.DataFrame(X, columns=list("abcdef"))
    assert describe(frame) == describe(frame.copy())
    assert describe(frame) != describe(frame.rename(columns={"a": "z"}))
    assert describe(frame) != describe(frame * 2)
    assert describe(None).rows == describe((None,)).rows < 0
    assert describe(tmp_path / "missing.npy").content.startswith("FileNotFoundError")


def test_a_sparse_matrix_is_described_alike_in_every_sparse_format():
    """One matrix as COO on one rank and CSR on another (or CSC, with its entries unordered,
    split into duplicates, or with stored zeros) is the same data; other values are not."""
    import scipy.sparse as sp

    from aekit.data.agreement import describe
    from aekit.data.fingerprints import SAMPLED_BYTES

    rng = np.random.default_rng(0)
    csr = sp.random(20_000, 400, density=0.1, format="csr", random_state=0)
    assert csr.data.nbytes > SAMPLED_BYTES  # so only some rows are sampled
    coo = csr.tocoo()
    order = rng.permutation(coo.nnz)  # the same entries, unordered and each split in two
    halves = np.concatenate([coo.data[order] / 2] * 2)
    split = sp.coo_matrix((halves, (np.tile(coo.row[order], 2), np.tile(coo.col[order], 2))),
                          shape=coo.shape)
    backwards = np.concatenate([np.arange(start, end)[::-1]  # each row's entries reversed
                                for start, end in zip(csr.indptr[:-1], csr.indptr[1:])])
    unsorted = sp.csr_matrix((csr.data[backwards], csr.indices[backwards], csr.indptr),
                             shape=csr.shape)
    zeros = csr.copy()
    zeros.data[::7] = 0  # stored zeros: the same matrix as without them
    without = zeros.copy()
    without.eliminate_zeros()
    assert describe(zeros) == describe(without)
    for same in (coo, split, csr.tocsc(), unsorted, sp.csr_array(csr)):
        assert describe(same) == describe(csr)
    assert describe(csr * 2) != describe(csr)
    assert describe(csr.astype(np.float32)) != describe(csr)


def test_only_a_few_rows_of_a_large_array_are_hashed(monkeypatch):
    from aekit.data import agreement, fingerprints

    X = np.zeros((1_000_000, 8))  # 64 MB: more than the sampled digest reads
    seen = []
    real = fingerprints.update_rows
    monkeypatch.setattr(fingerprints, "update_rows",
                        lambda digest, rows, *a: (seen.append(rows.nbytes), real(digest, rows)))
    agreement.describe(X)
    assert 0 < sum(seen) <= fingerprints.SAMPLED_BYTES


def test_what_differs_between_ranks_is_named(monkeypatch):
    """check_same_data with the other rank's description simulated: one line names the
    input, what differs and the ranks; every rank raises the same error."""
    from aekit.data import agreement

    X = np.arange(12.0).reshape(4, 3)
    others = {"rows: 4 on rank 0, 3 on rank 1": X[:3], "columns: 3 on rank 0, 2 on rank 1":
              X[:, :2], "content: the rows sampled on rank 1 are not rank 0's": X + 1,
              "rows: 4 on rank 0, not given on rank 1": None}
    monkeypatch.setattr(distributed, "rank_info", lambda: (0, 2))
    for what, other in others.items():
        theirs = agreement.describe(other)
        monkeypatch.setattr(distributed, "all_gather", lambda codes, theirs=theirs: [
            codes, torch.tensor([[theirs.rows, theirs.columns, agreement._code(theirs.layout),
                                  agreement._code(theirs.content)]] + codes[1:].tolist())])
        with pytest.raises(ValueError, match=re.escape(f"X differs in {what}")) as err:
            agreement.check_same_data(X=X, y=np.ones(4))
        assert "every process must read the same data" in str(err.value)
        assert "rank 1" in str(err.value) and " y " not in str(err.value)
    monkeypatch.setattr(distributed, "all_gather", lambda codes: [codes, codes.clone()])
    agreement.check_same_data(X=X, y=np.ones(4))  # the same: no error


_MISMATCH = textwrap.dedent("""
    # Each case gives rank 1 other data than rank 0 (or the same data from another copy);
    # every rank records the error it raised, or None.
    import json, shutil, sys
    import numpy as np
    from aekit import (AutoEncoder, EncoderClassifier, LadderClassifier, OutlierDetector,
                       VariationalAutoEncoder)
    from aekit.core import distributed

    distributed.init_from_env("cpu")
    rank, _ = distributed.rank_info()
    rows, out = sys.argv[1], sys.argv[2]
    X = np.load(rows)
    other = X if rank == 0 else X * 2 + 1
    mine = f"{out}-copy-{rank}.npy"  # this rank's own copy (own inode and time)
    shutil.copyfile(rows, mine)
    changed = f"{out}-changed-{rank}.npy"
    np.save(changed, other)
    y = (X[:, 20] > X[:, 20].mean()).astype(int)
    y_other = y if rank == 0 else 1 - y
    kw = dict(n_components=2, hidden_layer_sizes=(8,), max_epochs=1, batch_size=100,
              random_state=0, device="cpu")
    ae = AutoEncoder(**kw)
    cases = {
        "content": lambda: AutoEncoder(**kw).fit(other),
        "rows": lambda: AutoEncoder(**kw).fit(X[: 600 - 100 * rank]),
        "copies": lambda: ae.fit(mine),
        "streamed": lambda: AutoEncoder(chunk_rows=200, **kw).fit(changed),
        "missing": lambda: AutoEncoder(**kw).fit(rows if rank == 0 else "gone.npy"),
        "validation": lambda: VariationalAutoEncoder(**kw).fit(
            X, validation_data=X[:50] if rank == 0 else None),
        "ladder": lambda: LadderClassifier(hidden_layer_sizes=(8,), max_epochs=1,
                                           device="cpu").fit(X, y_other),
        "classifier": lambda: EncoderClassifier(ae, max_epochs=1).fit(X, y_other),
        "detector": lambda: OutlierDetector(n_estimators=2, max_epochs=1,
                                            device="cpu").fit(other),
    }
    errors = {}
    for name, fit in cases.items():
        try:
            fit()
            errors[name] = None
        except ValueError as err:
            errors[name] = str(err)
    errors["codes"] = ae.transform(X[:5]).tolist()
    with open(f"{out}-{rank}.json", "w") as f:
        json.dump(errors, f)
    distributed.teardown()
""")


@pytest.mark.slow
@needs_dist
def test_ranks_given_different_data_fail_together(rows, tmp_path):
    """Ranks that hold different data fail, all of them, at the start of the fit, naming
    what differs, instead of training one model on a mix (other values) or aborting in a
    collective of mismatched size (other rows); copies of one file are the same data."""
    driver = tmp_path / "mismatch.py"
    driver.write_text(_MISMATCH)
    proc = _torchrun([driver, rows, tmp_path / "out"], cwd=tmp_path)
    ranks = [json.loads((tmp_path / f"out-{r}.json").read_text()) for r in (0, 1)]
    # The rank that could not read its file says why, besides the error every rank raises.
    assert "(here, on rank 1: FileNotFoundError: gone.npy" in ranks[1]["missing"]
    assert "(here" not in ranks[0]["missing"]
    assert ranks[0] == {**ranks[1], "missing": ranks[0]["missing"]}, proc.stdout + proc.stderr
    errors = ranks[0]
    assert errors["copies"] is None  # byte-identical copies: other inodes and times
    expected = {"content": "X differs in content", "rows": "X differs in rows: 600 on rank 0, "
                "500 on rank 1", "streamed": "X differs in content",
                "missing": "X differs in rows: 600 on rank 0, could not be read on rank 1",
                "validation": "validation_data differs in rows: 50 on rank 0, not given on "
                "rank 1", "ladder": "y differs in content", "classifier": "y differs in content",
                "detector": "X differs in content"}
    for case, message in expected.items():
        assert errors[case] is not None and message in errors[case], (case, errors[case])
        assert "every process must read the same data" in errors[case]


_LADDER = textwrap.dedent("""
    # A ladder network's batch-norm statistics under torchrun (or alone): the fitted model's
    # probabilities, and the population statistics of fixed weights from one seeded pass.
    import json, sys
    import numpy as np
    import torch
    from aekit import LadderClassifier
    from aekit.core import distributed
    from aekit.nn.ladder import LadderNet
    from aekit.nn.layers import Scaler

    distributed.init_from_env("cpu")
    rank, world = distributed.rank_info()
    X = np.load(sys.argv[1])
    y = (X[:, 20] > X[:, 20].mean()).astype(int)
    y[100:] = -1
    clf = LadderClassifier(hidden_layer_sizes=(16,), max_epochs=2, batch_size=64,
                           random_state=0, device="cpu").fit(X, y)
    torch.manual_seed(0)
    net = LadderNet(Scaler(X.shape[1], "standard"), [X.shape[1], 16, 2])
    x = net.scaler.fit(torch.as_tensor(X)).forward(torch.as_tensor(X))
    # Each rank draws from its own stream, as in a fit; rank 0's is the one process's.
    torch.manual_seed(1 + rank)
    net.set_population_statistics(x, 64)  # 600 rows: 9 batches of 64, one of 24
    out = {"proba": clf.predict_proba(X).tolist(),
           "statistics": [t.tolist() for l in (1, 2) for t in net.running(l)]}
    with open(f"{sys.argv[2]}-{world}-{rank}.json", "w") as f:
        json.dump(out, f)
    distributed.teardown()
""")


@pytest.mark.slow
@needs_dist
def test_ladder_ranks_end_with_the_same_batch_norm_statistics(rows, tmp_path):
    """Each rank trains its batch normalisation on its share of the batch, but the
    population statistics the fitted model predicts with are taken over one pass shared
    by the ranks: every rank ends with the same model (rank 0 saves it), and the pass's
    statistics are those one process takes in the same order."""
    ranks, alone = _two_ranks_and_alone(_LADDER, rows, tmp_path)
    assert ranks[0] == ranks[1]
    for two, one in zip(ranks[0]["statistics"], alone["statistics"]):
        np.testing.assert_allclose(two, one, rtol=1e-5, atol=1e-6)
