"""Data larger than memory: rows streamed from .npy files, memmaps, shards and Parquet."""

import json
import os
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
import torch
from torch import nn
from typer.testing import CliRunner

from aekit import AutoEncoder
from aekit.cli.commands import app
from aekit.data import is_streamable, open_rows, save_npy
from aekit.training.loop import fit_loop, init_state, make_optimizer
from conftest import assert_ok, assert_one_line_error, invoke


def _low_rank(n, p, seed=0, dtype=np.float32):
    """Rows near a 3-dimensional subspace, features on different offsets and scales."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 3)) @ rng.standard_normal((3, p))
    X += 0.05 * rng.standard_normal((n, p))
    return (X * rng.uniform(0.5, 3, p) + rng.uniform(-2, 5, p)).astype(dtype)


def _write_npy_by_chunks(path, n, p, chunk=4096, seed=0):
    """A float32 .npy of (n, p) rank-8 rows, written chunk by chunk (never whole in memory)."""
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((8, p)).astype(np.float32)
    with open(path, "wb") as f:
        header = {"descr": "<f4", "fortran_order": False, "shape": (n, p)}
        np.lib.format.write_array_header_1_0(f, header)
        for start in range(0, n, chunk):
            m = min(chunk, n - start)
            (rng.standard_normal((m, 8), dtype=np.float32) @ W).astype("<f4").tofile(f)
        # Clean pages: a reader mapping pages still being written back keeps them resident.
        f.flush()
        os.fsync(f.fileno())


def _scaler_stats(est):
    return est.module_.scaler.offset.numpy(), est.module_.scaler.scale.numpy()


SMALL = dict(n_components=3, hidden_layer_sizes=(16,), random_state=0, device="cpu")


@pytest.fixture(scope="module")
def rows(tmp_path_factory):
    X = _low_rank(3000, 12)
    path = tmp_path_factory.mktemp("rows") / "rows.npy"
    np.save(path, X)
    return X, path


# --------------------------------------------------------------------------- peak memory
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_peak_memory_is_bounded_by_the_chunk_not_the_data(tmp_path):
    n, p, chunk_rows = 100_000, 1000, 4096  # 400 MB of float32; chunks of 16 MiB
    path = tmp_path / "big.npy"
    _write_npy_by_chunks(path, n, p)
    data_bytes, chunk_bytes = n * p * 4, chunk_rows * p * 4
    child = textwrap.dedent(f"""
        import json, threading, time
        import numpy as np, torch
        torch.set_num_threads(1)
        from aekit import AutoEncoder

        def status():  # resident memory now, in bytes: anonymous and in total
            fields = dict(line.split(":") for line in open("/proc/self/status"))
            return [int(fields[k].split()[0]) * 1024 for k in ("RssAnon", "VmRSS")]

        peaks, done = [0, 0], threading.Event()

        def sample():  # the kernel keeps no peak of anonymous memory: sample it
            while not done.is_set():
                peaks[:] = [max(a, b) for a, b in zip(peaks, status())]
                time.sleep(0.002)

        # float32: bfloat16 matrix products add oneDNN's cache of compiled kernels per
        # batch shape (tens of MiB, fixed), which would blur what this test measures.
        params = dict(n_components=4, hidden_layer_sizes=(), batch_size=512, max_epochs=1,
                      random_state=0, device="cpu", chunk_rows={chunk_rows},
                      precision="float32")
        # Warm up on the same streamed path first, so that torch's one-off allocations
        # (kernels, thread pools) are part of the baseline rather than of the streamed fit.
        small = np.random.default_rng(0).standard_normal((2048, {p})).astype(np.float32)
        small_path = {str(tmp_path / "small.npy")!r}
        np.save(small_path, small)
        AutoEncoder(**params).fit(np.load(small_path, mmap_mode="r")).transform(small_path)
        base = status()
        sampler = threading.Thread(target=sample)
        sampler.start()
        ae = AutoEncoder(**params).fit(np.load({str(path)!r}, mmap_mode="r"))
        Z = ae.transform({str(path)!r})
        done.set()
        sampler.join()
        print(json.dumps(dict(base=base, peak=peaks, shape=Z.shape, loss=ae.loss_,
                              finite=bool(np.isfinite(Z).all()))))
    """)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True,
                         env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    r = json.loads(out.stdout.strip().splitlines()[-1])
    assert r["shape"] == [n, 4] and r["finite"] and np.isfinite(r["loss"])
    anon, total = (peak - base for peak, base in zip(r["peak"], r["base"]))
    MiB = 2**20
    print(f"grown during fit + transform of {data_bytes / MiB:.0f} MiB of data: anonymous "
          f"{anon / MiB:.0f} MiB ({anon / chunk_bytes:.1f} chunks), resident in all "
          f"{total / MiB:.0f} MiB")
    # Memory the process allocates: a few chunk-sized buffers (the rows read, their scaled
    # copy, the hold-out), never the data; about 4 chunks are measured.
    assert anon < 8 * chunk_bytes
    # Resident in all, mapped file pages and library code included: well below the data.
    assert total < data_bytes / 2


# --------------------------------------------------------------------------- fit
@pytest.mark.parametrize("scaler", ["standard", "minmax", "sample", None])
def test_streamed_scaler_statistics_equal_in_memory(rows, scaler):
    X, path = rows
    streamed = AutoEncoder(**SMALL, scaler=scaler, max_epochs=1, chunk_rows=700).fit(path)
    in_memory = AutoEncoder(**SMALL, scaler=scaler, max_epochs=1).fit(X)
    for a, b in zip(_scaler_stats(streamed), _scaler_stats(in_memory)):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    assert streamed.output_activation_ == in_memory.output_activation_


def test_streamed_fit_is_as_good_as_in_memory(rows):
    X, path = rows
    streamed = AutoEncoder(**SMALL, max_epochs=30, chunk_rows=500).fit(path)
    in_memory = AutoEncoder(**SMALL, max_epochs=30).fit(X)
    assert streamed.n_features_in_ == 12 and streamed.n_iter_ == 30
    # Different batches, the same problem: errors within 10% of each other.
    assert streamed.score(X) == pytest.approx(in_memory.score(X), rel=0.1)
    # The reconstruction is good in absolute terms too (the data's variance is ~10).
    assert -streamed.score(X) < 0.05 * X.var()


def test_streamed_fit_is_reproducible_and_memmap_equals_path(rows):
    X, path = rows
    a = AutoEncoder(**SMALL, max_epochs=3, chunk_rows=400).fit(path)
    b = AutoEncoder(**SMALL, max_epochs=3, chunk_rows=400).fit(np.load(path, mmap_mode="r"))
    def without_time(history):
        return [{k: v for k, v in r.items() if k != "seconds"} for r in history]

    assert without_time(a.history_) == without_time(b.history_)
    for (name, p), q in zip(a.module_.state_dict().items(), b.module_.state_dict().values()):
        assert torch.equal(p, q), name


def test_inference_on_a_path_equals_inference_in_memory(rows):
    X, path = rows
    ae = AutoEncoder(**SMALL, max_epochs=2, chunk_rows=256).fit(X)
    np.testing.assert_allclose(ae.transform(path), ae.transform(X), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ae.reconstruct(path), ae.reconstruct(X), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ae.score_samples(path), ae.score_samples(X), rtol=1e-4)
    assert ae.transform(path).dtype == np.float32


def test_shards_and_parquet_give_the_statistics_of_the_npy(rows, tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    X, path = rows
    shards = tmp_path / "shards"
    shards.mkdir()
    for i, part in enumerate(np.array_split(X, [1000, 1100, 2500])):
        np.save(shards / f"part-{i:03d}.npy", part)
    (shards / "README.txt").write_text("ignored")
    parquet = tmp_path / "parquet"
    parquet.mkdir()
    for i, part in enumerate(np.array_split(X, 2)):
        table = pa.table({f"f{j}": part[:, j] for j in range(X.shape[1])})
        pq.write_table(table, parquet / f"part-{i}.parquet", row_group_size=333)

    params = dict(SMALL, max_epochs=1, chunk_rows=700)
    reference = _scaler_stats(AutoEncoder(**params).fit(path))
    for spec in (shards, parquet, parquet / "part-0.parquet"):
        source = open_rows(spec)
        n = 1500 if spec.suffix == ".parquet" else 3000
        assert (source.n_rows, source.n_features, source.dtype) == (n, 12, np.float32)
        if n < 3000:
            continue
        for a, b in zip(_scaler_stats(AutoEncoder(**params).fit(spec)), reference):
            np.testing.assert_allclose(a, b, rtol=1e-6)
    # Reading spans Parquet row groups and files alike.
    np.testing.assert_array_equal(np.concatenate(list(open_rows(parquet).iter_chunks(500))), X)
    np.testing.assert_array_equal(np.concatenate(list(open_rows(shards).iter_chunks(64))), X)


# --------------------------------------------------------------------------- chunks
def test_chunks_are_shuffled_disjoint_across_ranks_and_skip_the_excluded():
    X = np.arange(1000, dtype=np.float64).reshape(-1, 1)
    source = open_rows(X)
    exclude = np.array([3, 500, 999])
    chunks = list(source.iter_chunks(128, shuffle=True, seed=7, exclude=exclude))
    assert all(len(c) <= 128 for c in chunks)
    seen = np.concatenate(chunks).ravel()
    np.testing.assert_array_equal(np.sort(seen), np.setdiff1d(np.arange(1000), exclude))
    assert not np.array_equal(seen, np.sort(seen))  # shuffled
    again = np.concatenate(list(source.iter_chunks(128, shuffle=True, seed=7, exclude=exclude)))
    np.testing.assert_array_equal(again.ravel(), seen)  # seeded
    per_rank = [np.concatenate(list(source.iter_chunks(128, shuffle=True, seed=7, rank=r,
                                                       world_size=3))).ravel()
                for r in range(3)]
    assert all(len(r) for r in per_rank)
    np.testing.assert_array_equal(np.sort(np.concatenate(per_rank)), np.arange(1000))


def test_a_stream_of_one_chunk_trains_like_the_tensor():
    torch.manual_seed(0)
    X = torch.randn(300, 6)

    class OneChunk:
        def epoch_chunks(self, epoch):
            yield X

    def mse(module, batch, epoch):
        return {"loss": nn.functional.mse_loss(module(batch["x_in"]), batch["x"])}

    histories = []
    for data in (X, OneChunk()):
        torch.manual_seed(1)
        module = nn.Sequential(nn.Linear(6, 2), nn.Linear(2, 6))
        opt = make_optimizer("adam", module.parameters(), 1e-2)
        hist = fit_loop(init_state(module, opt), mse, data, X[:50], batch_size=32,
                        max_epochs=3)["history"]
        histories.append([(r["loss"], r["val_loss"]) for r in hist])
    assert histories[0] == histories[1]


def test_is_streamable():
    assert is_streamable("x.npy") and is_streamable(os.path.join("a", "b"))
    assert not is_streamable(np.zeros((2, 2))) and not is_streamable([[1.0, 2.0]])


# --------------------------------------------------------------------------- errors
def test_shards_of_different_widths_are_refused(tmp_path):
    np.save(tmp_path / "a.npy", np.zeros((5, 3), np.float32))
    np.save(tmp_path / "b.npy", np.zeros((5, 4), np.float32))
    with pytest.raises(ValueError, match=r"b\.npy holds rows of shape \(4,\).*same n_features"):
        AutoEncoder().fit(tmp_path)


def test_nan_is_reported_with_its_row_in_the_file(rows, tmp_path):
    X, _ = rows
    bad = X.copy()
    bad[1234, 5] = np.nan
    np.save(tmp_path / "bad.npy", bad)
    with pytest.raises(ValueError, match=r"bad\.npy contains NaN or infinity in 1 row\(s\) "
                                         r"\[1234\] and 1 column\(s\) \[5\]"):
        AutoEncoder(chunk_rows=500).fit(tmp_path / "bad.npy")
    # In a shard: the shard and the row within it.
    shards = tmp_path / "shards"
    shards.mkdir()
    np.save(shards / "0.npy", X[:1000])
    np.save(shards / "1.npy", bad[1000:])
    with pytest.raises(ValueError, match=r"1\.npy contains NaN .* \[234\]"):
        AutoEncoder(chunk_rows=500).fit(shards)


def test_other_bad_inputs_say_what_to_do(rows, tmp_path):
    X, path = rows
    with pytest.raises(FileNotFoundError):
        AutoEncoder().fit(tmp_path / "missing.npy")
    (tmp_path / "x.csv").write_text("1,2\n")
    with pytest.raises(ValueError, match="read_array"):
        AutoEncoder().fit(tmp_path / "x.csv")
    with pytest.raises(ValueError, match="pretrain"):
        AutoEncoder(pretrain="greedy").fit(path)
    with pytest.raises(ValueError, match="chunk_rows"):
        AutoEncoder(chunk_rows=0).fit(path)
    ae = AutoEncoder(**SMALL, max_epochs=1).fit(X[:, :5])
    with pytest.raises(ValueError, match="12 features"):
        ae.transform(path)


def test_parquet_needs_numeric_columns_and_pyarrow(tmp_path, monkeypatch):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    pq.write_table(pa.table({"x": [1.0, 2.0], "name": ["a", "b"]}), tmp_path / "t.parquet")
    with pytest.raises(ValueError, match="column 'name' holds string"):
        open_rows(tmp_path / "t.parquet")
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    with pytest.raises(ImportError, match=r"pip install aekit\[parquet\]"):
        open_rows(tmp_path / "t.parquet")


def write_parquet(path, frame):
    """``frame`` as a Parquet file of several row groups (so reads span them)."""
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path, row_group_size=70)
    return path


def test_parquet_columns_are_matched_by_name_like_a_dataframe_s(rows, tmp_path):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(rows[0][:200, :4].astype(np.float64), columns=list("abcd"))
    ae = AutoEncoder(**SMALL, max_epochs=1, chunk_rows=64).fit(frame)
    same = write_parquet(tmp_path / "same.parquet", frame)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "X does not have valid feature names"
        np.testing.assert_allclose(ae.transform(same), ae.transform(frame), rtol=1e-6)
        np.testing.assert_allclose(ae.score_samples(same), ae.score_samples(frame), rtol=1e-6)
    reordered = (r"the fitted ones in another order \(\['d', 'c', 'b', 'a'\] now, "
                 r"\['a', 'b', 'c', 'd'\] in fit\)")
    for name, columns, message in [
        ("reversed", list("dcba"), r"reversed\.parquet: the file's columns are " + reordered),
        ("renamed", list("wxyz"), r"(?s)renamed\.parquet: .*unseen at fit time.*- w.*now "
                                  r"missing.*- a"),
        ("fewer", list("abc"), r"(?s)fewer\.parquet: .*now missing.*- d"),
        ("more", list("abcde"), r"(?s)more\.parquet: .*unseen at fit time.*- e"),
    ]:
        path = write_parquet(tmp_path / f"{name}.parquet",
                             frame.reindex(columns=columns, fill_value=0.0))
        with pytest.raises(ValueError, match=message):
            ae.transform(path)
    # A DataFrame in another order is refused with the same words.
    with pytest.raises(ValueError, match=f"X's columns are {reordered}"):
        ae.transform(frame[list("dcba")])
    # A model fitted without names takes a Parquet file's columns by position, as it did.
    by_position = AutoEncoder(**SMALL, max_epochs=1).fit(frame.to_numpy())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_allclose(by_position.transform(tmp_path / "reversed.parquet"),
                                   by_position.transform(frame[list("dcba")].to_numpy().copy()),
                                   rtol=1e-6)


def test_a_model_fitted_on_a_parquet_file_takes_its_column_names(rows, tmp_path):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(rows[0][:200, :4].astype(np.float64), columns=list("abcd"))
    path = write_parquet(tmp_path / "train.parquet", frame)
    ae = AutoEncoder(**SMALL, max_epochs=1, chunk_rows=64).fit(path)  # streamed
    assert list(ae.feature_names_in_) == list("abcd") and ae.schema_.kind == "rows"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the same file and its frame are named alike
        np.testing.assert_allclose(ae.transform(path), ae.transform(frame), rtol=1e-6)
    reversed_ = write_parquet(tmp_path / "reversed.parquet", frame[list("dcba")])
    with pytest.raises(ValueError, match="reversed.parquet: the file's columns are the "
                       "fitted ones in another order"):
        ae.transform(reversed_)
    from aekit import OutlierDetector  # its streamed fit reads a sample: the same names

    detector = OutlierDetector(n_estimators=2, max_epochs=1, random_state=0).fit(path)
    assert list(detector.feature_names_in_) == list("abcd")
    with pytest.raises(ValueError, match="another order"):
        detector.predict(reversed_)
    # A DataFrame's index that pandas wrote into the file is not a feature.
    indexed = tmp_path / "indexed.parquet"
    frame[frame["a"] > frame["a"].median()].to_parquet(indexed)  # a non-range index
    assert AutoEncoder(**SMALL, max_epochs=1).fit(indexed).n_features_in_ == 4


def test_encode_matches_a_parquet_file_s_columns_by_name(rows, tmp_path):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(rows[0][:200, :4].astype(np.float64), columns=list("abcd"))
    ae = AutoEncoder(**SMALL, max_epochs=1).fit(frame)
    ae.save(tmp_path / "run")
    same = write_parquet(tmp_path / "same.parquet", frame)
    result = invoke("encode", tmp_path / "run", same, "--out", tmp_path / "z.npy",
                    "--chunk-rows", 64, "--device", "cpu")
    assert_ok(result)
    assert "warning" not in result.output
    np.testing.assert_allclose(np.load(tmp_path / "z.npy"), ae.transform(frame), rtol=1e-6)
    reversed_ = write_parquet(tmp_path / "reversed.parquet", frame[list("dcba")])
    assert_one_line_error(invoke("encode", tmp_path / "run", reversed_, "--out",
                                 tmp_path / "r.npy", "--device", "cpu"),
                          "reversed.parquet", "another order", "['d', 'c', 'b', 'a'] now")
    assert not (tmp_path / "r.npy").exists()


# --------------------------------------------------------------------------- writing, CLI
def test_save_npy_writes_atomically(tmp_path):
    out = tmp_path / "z.npy"
    shape = save_npy(out, (np.full((3, 2), i, np.float32) for i in range(4)), 12)
    assert shape == (12, 2)
    np.testing.assert_array_equal(np.load(out)[::3, 0], [0, 1, 2, 3])

    def failing():
        yield np.zeros((3, 2))
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError):
        save_npy(tmp_path / "never.npy", failing(), 6)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["z.npy"]


def test_encode_streams_a_npy_to_npy_and_csv(rows, tmp_path):
    X, path = rows
    ae = AutoEncoder(**SMALL, max_epochs=2).fit(X)
    ae.save(tmp_path / "run")
    runner = CliRunner()
    out = tmp_path / "codes.npy"
    result = runner.invoke(app, ["encode", str(tmp_path / "run"), str(path), "--out", str(out),
                                 "--chunk-rows", "256", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert "(3000, 3)" in result.output
    np.testing.assert_allclose(np.load(out), ae.transform(X), rtol=1e-5, atol=1e-6)
    csv = tmp_path / "codes.csv"
    result = runner.invoke(app, ["encode", str(tmp_path / "run"), str(path), "--out", str(csv)])
    assert result.exit_code == 0, result.output
    np.testing.assert_allclose(np.loadtxt(csv, delimiter=",", skiprows=1), ae.transform(X),
                               rtol=1e-5, atol=1e-6)


def test_shards_read_out_of_their_numbers_order_warn(tmp_path):
    import aekit

    for i in (0, 1, 2, 10):
        np.save(tmp_path / f"part{i}.npy", np.full((2, 3), i, np.float32))
    with pytest.warns(aekit.InputWarning, match=r"read in name order \(\['part0.npy', "
                      r"'part1.npy', 'part10.npy', 'part2.npy'\];.*pad them with zeros"):
        source = open_rows(tmp_path)
    rows = np.concatenate([chunk.rows for chunk in source.scan(2)])
    assert rows[:, 0].tolist() == [0, 0, 1, 1, 10, 10, 2, 2]  # name order, as documented
    padded = tmp_path / "padded"
    padded.mkdir()
    for i in (0, 1, 2, 10):
        np.save(padded / f"part{i:02d}.npy", np.full((2, 3), i, np.float32))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        open_rows(padded)


def test_shards_are_read_in_the_order_pandas_reads_a_directory(tmp_path):
    # Code points, case sensitive, on every platform: rows (and codes written for them)
    # line up with pandas.read_parquet / pyarrow.dataset on the same directory.
    import aekit

    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    for k, name in enumerate(["part-2", "part-10", "Part-3", "part-B", "part-a", "part_1"]):
        pd.DataFrame({"x": [float(k)], "y": [0.0]}).to_parquet(tmp_path / f"{name}.parquet")
    with pytest.warns(aekit.InputWarning, match="as pyarrow and pandas read a directory"):
        source = open_rows(tmp_path)
    rows = np.concatenate([chunk.rows for chunk in source.scan(10)])
    expected = pd.read_parquet(tmp_path)["x"].to_numpy()
    assert rows[:, 0].tolist() == expected.tolist() == [2, 1, 0, 3, 4, 5]
