"""Tests for aekit.data (catalog, files, synthetic). None touches the network: downloads come
from a local HTTP server."""

import gzip
import hashlib
import http.server
import os
import threading
import warnings
from functools import partial
from pathlib import Path

import numpy as np
import pytest

import aekit
from aekit.data import idx as datasets
from aekit.data import (
    DERIVED_VARIABLE_NAMES,
    Dataset,
    fetch_idx_files,
    load_dataset,
    load_digits,
    load_fashion_mnist,
    load_mnist,
    make_derived_variables,
    make_low_variance,
    read_array,
    read_idx,
)

FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
N_TRAIN, N_TEST = 12, 5
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")


# ------------------------------------------------------------------------------ helpers


def idx_bytes(array):
    """Valid IDX bytes for ``array`` (uint8 only, as MNIST uses)."""
    array = np.asarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    return header + array.tobytes()


def make_idx_arrays(seed=0):
    rng = np.random.default_rng(seed)
    return {
        "train_images": rng.integers(0, 256, size=(N_TRAIN, 28, 28), dtype=np.uint8),
        "train_labels": rng.integers(0, 10, size=N_TRAIN, dtype=np.uint8),
        "test_images": rng.integers(0, 256, size=(N_TEST, 28, 28), dtype=np.uint8),
        "test_labels": rng.integers(0, 10, size=N_TEST, dtype=np.uint8),
    }


def write_idx_files(directory, arrays, *, compress=True):
    directory.mkdir(parents=True, exist_ok=True)
    for role, stem in FILES.items():
        data = idx_bytes(arrays[role])
        if compress:
            (directory / f"{stem}.gz").write_bytes(gzip.compress(data))
        else:
            (directory / stem).write_bytes(data)


def sha256_of_dir(directory):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in directory.iterdir()}


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch, tmp_path):
    """No real data dirs, ~/.cache in tmp, and default URLs that cannot reach the internet."""
    for var in ("AEKIT_DATA", "AEKIT_MNIST_URL", "AEKIT_FASHION_MNIST_URL"):
        monkeypatch.delenv(var, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setattr(datasets, "_SYSTEM_DIRS", {"fashion-mnist": (), "mnist": ()})
    # Port 9 (discard) on loopback: a bug that downloads by default fails fast, offline.
    monkeypatch.setattr(datasets, "_BASE_URLS",
                        {"fashion-mnist": "http://127.0.0.1:9/", "mnist": "http://127.0.0.1:9/"})
    return home


@pytest.fixture
def http_root(tmp_path):
    """A local HTTP server; yields (folder it serves, its base URL)."""
    root = tmp_path / "served"
    root.mkdir()

    class QuietHandler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                             partial(QuietHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


# ------------------------------------------------------------------------------ digits


def test_load_digits_shape_range_dtype():
    X, y = load_digits()
    assert X.shape == (1797, 64) and y.shape == (1797,)
    assert X.dtype == np.float32 and y.dtype == np.int64
    assert X.min() == 0.0 and X.max() == 1.0
    assert set(np.unique(y)) == set(range(10))


def test_load_digits_split_sizes_stratified_deterministic():
    X_train, X_test, y_train, y_test = load_digits(split=True)
    assert len(X_train) + len(X_test) == 1797
    assert len(X_test) == 450  # ceil(0.25 * 1797)
    assert X_train.shape[1] == X_test.shape[1] == 64
    # Stratified: each class's share in the test set matches its share overall.
    _, y = load_digits()
    overall = np.bincount(y) / len(y)
    assert np.allclose(np.bincount(y_test) / len(y_test), overall, atol=0.01)
    again = load_digits(split=True)
    assert np.array_equal(X_train, again[0]) and np.array_equal(y_test, again[3])
    other = load_digits(split=True, random_state=1)
    assert not np.array_equal(y_test, other[3])


# ------------------------------------------------------------------------------ IDX loading


def test_read_idx_roundtrip_gz_and_raw(tmp_path):
    arrays = make_idx_arrays()
    write_idx_files(tmp_path / "gz", arrays)
    write_idx_files(tmp_path / "raw", arrays, compress=False)
    a = read_idx(tmp_path / "gz" / "train-images-idx3-ubyte.gz")
    b = read_idx(tmp_path / "raw" / "train-images-idx3-ubyte")
    assert a.shape == (N_TRAIN, 28, 28) and a.dtype == np.uint8
    assert np.array_equal(a, arrays["train_images"]) and np.array_equal(b, a)


def test_read_idx_multibyte_big_endian(tmp_path):
    values = np.array([[1, -2], [300000, 4]], dtype=">i4")
    raw = bytes([0, 0, 0x0C, 2]) + np.array([2, 2], dtype=">u4").tobytes() + values.tobytes()
    (tmp_path / "x.idx").write_bytes(raw)
    out = read_idx(tmp_path / "x.idx")
    assert out.dtype == np.int32 and out.dtype.isnative
    assert np.array_equal(out, values)


def test_load_from_data_home_shapes_values_scaling(tmp_path):
    arrays = make_idx_arrays()
    write_idx_files(tmp_path / "data", arrays)
    X, y = load_fashion_mnist(data_home=tmp_path / "data", download=False)
    assert X.shape == (N_TRAIN, 784) and X.dtype == np.float32
    assert y.dtype == np.int64 and np.array_equal(y, arrays["train_labels"])
    assert 0.0 <= X.min() and X.max() <= 1.0
    np.testing.assert_array_equal(X, arrays["train_images"].reshape(N_TRAIN, -1) / np.float32(255))

    X_test, y_test = load_fashion_mnist(data_home=tmp_path / "data", subset="test",
                                        flatten=False, download=False)
    assert X_test.shape == (N_TEST, 28, 28)
    np.testing.assert_array_equal(y_test, arrays["test_labels"])

    X_all, y_all = load_fashion_mnist(data_home=tmp_path / "data", subset="all", download=False)
    assert X_all.shape == (N_TRAIN + N_TEST, 784) and len(y_all) == N_TRAIN + N_TEST

    X_tr, X_te, y_tr, y_te = load_fashion_mnist(data_home=tmp_path / "data", split=True,
                                                download=False)
    assert X_tr.shape == (N_TRAIN, 784) and X_te.shape == (N_TEST, 784)
    assert np.array_equal(y_te, arrays["test_labels"])


def test_aekit_data_env_subfolder_and_uncompressed(tmp_path, monkeypatch):
    mnist, fashion = make_idx_arrays(1), make_idx_arrays(2)
    # Same file names for both datasets: the subfolders keep them apart.
    write_idx_files(tmp_path / "root" / "mnist", mnist, compress=False)
    write_idx_files(tmp_path / "root" / "fashion-mnist", fashion)
    monkeypatch.setenv("AEKIT_DATA", str(tmp_path / "root"))
    _, y = load_mnist(download=False)
    _, y_f = load_fashion_mnist(download=False)
    assert np.array_equal(y, mnist["train_labels"])
    assert np.array_equal(y_f, fashion["train_labels"])


def test_search_order_data_home_before_env_before_cache(tmp_path, monkeypatch, isolated_env):
    write_idx_files(tmp_path / "home_arg", make_idx_arrays(1))
    write_idx_files(tmp_path / "env", make_idx_arrays(2))
    write_idx_files(isolated_env / ".cache" / "aekit" / "mnist", make_idx_arrays(3))
    monkeypatch.setenv("AEKIT_DATA", str(tmp_path / "env"))
    _, y = load_mnist(data_home=tmp_path / "home_arg", download=False)
    assert np.array_equal(y, make_idx_arrays(1)["train_labels"])
    _, y = load_mnist(download=False)
    assert np.array_equal(y, make_idx_arrays(2)["train_labels"])
    monkeypatch.delenv("AEKIT_DATA")
    _, y = load_mnist(download=False)
    assert np.array_equal(y, make_idx_arrays(3)["train_labels"])


def _labelled_like(name, seed=0):
    """Random IDX arrays whose training labels start as ``name``'s real ones do."""
    arrays = make_idx_arrays(seed)
    first = np.frombuffer(datasets._FIRST_TRAIN_LABELS[name], dtype=np.uint8)
    arrays["train_labels"][: len(first)] = first
    return arrays


def test_flat_folder_of_the_other_dataset_is_skipped(tmp_path, monkeypatch):
    # Same file names for both datasets: a flat folder of MNIST must not load as Fashion-MNIST.
    write_idx_files(tmp_path / "flat", _labelled_like("mnist"))
    with pytest.raises(FileNotFoundError, match="holds MNIST, not Fashion-MNIST"):
        load_fashion_mnist(data_home=tmp_path / "flat", download=False)
    _, y = load_mnist(data_home=tmp_path / "flat", download=False)
    assert np.array_equal(y, _labelled_like("mnist")["train_labels"])
    # The '<name>' subfolder wins over the flat folder, whose files are another dataset's.
    write_idx_files(tmp_path / "flat" / "fashion-mnist", _labelled_like("fashion-mnist", 1))
    monkeypatch.setenv("AEKIT_DATA", str(tmp_path / "flat"))
    _, y = load_fashion_mnist(download=False)
    assert np.array_equal(y, _labelled_like("fashion-mnist", 1)["train_labels"])
    write_idx_files(tmp_path / "flat" / "mnist", make_idx_arrays(2))
    _, y = load_mnist(download=False)
    assert np.array_equal(y, make_idx_arrays(2)["train_labels"])


@pytest.mark.skipif(not DEBIAN_DIR.is_dir(),
                    reason="dataset-fashion-mnist not installed "
                           "(apt-get install -y dataset-fashion-mnist)")
def test_debian_fashion_mnist_is_recognised_and_not_loaded_as_mnist(tmp_path, monkeypatch):
    assert datasets._identify(DEBIAN_DIR / "train-labels-idx1-ubyte.gz") == "fashion-mnist"
    monkeypatch.setenv("AEKIT_DATA", str(DEBIAN_DIR))  # a flat folder of Fashion-MNIST
    with pytest.raises(FileNotFoundError, match="holds Fashion-MNIST, not MNIST"):
        load_mnist(download=False)


def test_system_dir_is_used_for_fashion_only(tmp_path, monkeypatch):
    write_idx_files(tmp_path / "debian", make_idx_arrays())
    monkeypatch.setattr(datasets, "_SYSTEM_DIRS",
                        {"fashion-mnist": (tmp_path / "debian",), "mnist": ()})
    X, _ = load_fashion_mnist(download=False)
    assert X.shape == (N_TRAIN, 784)
    with pytest.raises(FileNotFoundError):
        load_mnist(download=False)


def test_bad_subset_raises(tmp_path):
    write_idx_files(tmp_path, make_idx_arrays())
    with pytest.raises(ValueError, match="subset"):
        load_mnist(data_home=tmp_path, subset="validation", download=False)


@pytest.mark.parametrize("damage", ["truncate_raw", "truncate_gz", "bad_magic", "garbage_gz"])
def test_corrupt_idx_raises_value_error_naming_file(tmp_path, damage):
    write_idx_files(tmp_path, make_idx_arrays(), compress=damage.endswith("gz"))
    stem = "train-images-idx3-ubyte"
    path = tmp_path / (stem + ".gz" if damage.endswith("gz") else stem)
    data = path.read_bytes()
    if damage == "truncate_raw":
        path.write_bytes(data[:-100])
    elif damage == "truncate_gz":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "bad_magic":
        path.write_bytes(b"\x12\x34" + data[2:])
    else:
        path.write_bytes(data[:10] + b"\xff" * 200)
    with pytest.raises(ValueError, match=stem):
        load_mnist(data_home=tmp_path, download=False)


def test_labels_not_matching_images_raise(tmp_path):
    arrays = make_idx_arrays()
    arrays["train_labels"] = arrays["train_labels"][:-1]
    write_idx_files(tmp_path, arrays)
    with pytest.raises(ValueError, match="train-labels"):
        load_mnist(data_home=tmp_path, download=False)


# ------------------------------------------------------------------------------ download


def test_download_lands_in_cache_and_loads(http_root, monkeypatch, isolated_env):
    root, url = http_root
    arrays = make_idx_arrays()
    write_idx_files(root, arrays)
    monkeypatch.setitem(datasets._SHA256, "mnist", sha256_of_dir(root))
    monkeypatch.setenv("AEKIT_MNIST_URL", url)

    X_train, X_test, y_train, y_test = load_mnist(split=True)
    cache = isolated_env / ".cache" / "aekit" / "mnist"
    assert sorted(p.name for p in cache.iterdir()) == sorted(f"{s}.gz" for s in FILES.values())
    assert X_train.shape == (N_TRAIN, 784) and X_test.shape == (N_TEST, 784)
    assert np.array_equal(y_train, arrays["train_labels"])

    # Second call reads the cache: the server can be emptied.
    for p in root.iterdir():
        p.unlink()
    _, y = load_mnist(subset="test")
    assert np.array_equal(y, arrays["test_labels"])


def test_download_base_url_argument_and_aekit_data_target(http_root, monkeypatch, tmp_path):
    root, url = http_root
    write_idx_files(root, make_idx_arrays())
    monkeypatch.setitem(datasets._SHA256, "fashion-mnist", sha256_of_dir(root))
    monkeypatch.setenv("AEKIT_DATA", str(tmp_path / "store"))
    paths = fetch_idx_files("fashion-mnist", base_url=url + "/")
    assert set(paths) == set(FILES)
    assert all(p.parent == tmp_path / "store" / "fashion-mnist" and p.is_file()
               for p in paths.values())


def test_download_checksum_mismatch_leaves_nothing(http_root, monkeypatch, isolated_env):
    root, url = http_root
    write_idx_files(root, make_idx_arrays())
    wrong = {name: "0" * 64 for name in sha256_of_dir(root)}
    monkeypatch.setitem(datasets._SHA256, "mnist", wrong)
    monkeypatch.setenv("AEKIT_MNIST_URL", url)
    with pytest.raises(ValueError) as info:
        load_mnist()
    message = str(info.value)
    actual = hashlib.sha256((root / "train-images-idx3-ubyte.gz").read_bytes()).hexdigest()
    assert "train-images-idx3-ubyte.gz" in message and "0" * 64 in message and actual in message
    cache = isolated_env / ".cache" / "aekit" / "mnist"
    assert list(cache.iterdir()) == []  # neither the final file nor the temporary one


def test_not_found_without_download_lists_places(tmp_path, monkeypatch, isolated_env):
    monkeypatch.setenv("AEKIT_DATA", str(tmp_path / "env"))
    with pytest.raises(FileNotFoundError) as info:
        load_fashion_mnist(data_home=tmp_path / "arg", download=False)
    message = str(info.value)
    for place in (tmp_path / "arg", tmp_path / "arg" / "fashion-mnist", tmp_path / "env",
                  tmp_path / "env" / "fashion-mnist",
                  isolated_env / ".cache" / "aekit" / "fashion-mnist"):
        assert f"- {place}\n" in message
    assert "apt-get install -y dataset-fashion-mnist" in message
    assert "AEKIT_DATA" in message and "download=True" in message


def test_not_found_when_download_fails(http_root, isolated_env):
    _, url = http_root  # the server holds no files: every request is a 404
    with pytest.raises(FileNotFoundError, match="failed") as info:
        fetch_idx_files("mnist", base_url=url)
    # Regression: it advised download=True, which had just failed, and left empty folders.
    assert "download=True" not in str(info.value) and "retry the download" in str(info.value)
    assert not (isolated_env / ".cache").exists()


def test_unknown_idx_dataset():
    with pytest.raises(ValueError, match="unknown"):
        fetch_idx_files("kmnist", download=False)


# ------------------------------------------------------------------------------ readers


def test_read_npy_and_mmap(tmp_path):
    X = np.arange(12, dtype=np.float32).reshape(4, 3)
    np.save(tmp_path / "x.npy", X)
    got, y, names = read_array(tmp_path / "x.npy")
    assert np.array_equal(got, X) and y is None and names is None
    mapped = read_array(str(tmp_path / "x.npy"), mmap=True).X
    assert isinstance(mapped, np.memmap) and np.array_equal(mapped, X)


def test_complex_and_date_arrays_are_refused_in_a_line(tmp_path):
    # Regression: scikit-learn's error printed the whole complex array.
    np.save(tmp_path / "c.npy", np.ones((50, 40)) + 1j)
    with pytest.raises(ValueError, match=r"c.npy: holds complex values.*X.real") as info:
        load_dataset(tmp_path / "c.npy")
    assert len(str(info.value).replace(str(tmp_path), "")) < 200  # no array in it
    np.savez(tmp_path / "d.npz", X=np.zeros((3, 2), dtype="datetime64[s]"))
    with pytest.raises(ValueError, match=r"d.npz: holds datetime64\[s\] values, not numbers"):
        read_array(tmp_path / "d.npz")


def test_read_npz_warns_of_the_arrays_it_ignores(tmp_path):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "split.npz", X_train=rng.random((20, 4)), X_test=rng.random((5, 4)),
             y_train=np.zeros(20))
    with pytest.warns(aekit.InputWarning, match=r"'X_train' as the features.*"
                                                r"\['X_test', 'y_train'\]"):
        got = read_array(tmp_path / "split.npz")
    assert got.X.shape == (20, 4)
    np.savez(tmp_path / "xy.npz", X=np.zeros((3, 2)), y=np.zeros(3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read_array(tmp_path / "xy.npz")


def test_read_npz_with_and_without_keys(tmp_path):
    X, y = np.eye(3), np.array([0, 1, 2])
    np.savez(tmp_path / "xy.npz", y=y, X=X)
    got = read_array(tmp_path / "xy.npz")
    assert np.array_equal(got.X, X) and np.array_equal(got.y, y) and got.feature_names is None
    np.savez(tmp_path / "plain.npz", X)  # stored as arr_0
    got = read_array(tmp_path / "plain.npz")
    assert np.array_equal(got.X, X) and got.y is None
    np.savez(tmp_path / "only_y.npz", y=y)
    with pytest.raises(ValueError, match="'X'"):
        read_array(tmp_path / "only_y.npz")


def test_read_csv_with_and_without_header(tmp_path):
    (tmp_path / "h.csv").write_text("a, b,c\n1,2,3\n4.5,-6,7e1\n\n")
    X, y, names = read_array(tmp_path / "h.csv")
    assert names == ["a", "b", "c"] and y is None
    assert X.dtype == np.float64 and np.array_equal(X, [[1, 2, 3], [4.5, -6, 70]])
    (tmp_path / "n.csv").write_text("1,2\n3,4\n")
    X, _, names = read_array(tmp_path / "n.csv")
    assert names is None and np.array_equal(X, [[1, 2], [3, 4]])


def test_read_csv_errors(tmp_path):
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n3,oops\n")
    with pytest.raises(ValueError, match=r"line 3, column 2 \('b'\): 'oops'"):
        read_array(tmp_path / "bad.csv")
    (tmp_path / "ragged.csv").write_text("1,2\n3\n")
    with pytest.raises(ValueError, match="line 2 has 1 values"):
        read_array(tmp_path / "ragged.csv")
    (tmp_path / "header_only.csv").write_text("a,b\n")
    with pytest.raises(ValueError, match="no data rows"):
        read_array(tmp_path / "header_only.csv")


def test_read_array_file_errors(tmp_path):
    (tmp_path / "x.dat").write_text("1,2\n")
    with pytest.raises(ValueError, match="unsupported file type '.dat'"):
        read_array(tmp_path / "x.dat")
    with pytest.raises(FileNotFoundError, match="missing.npy"):
        read_array(tmp_path / "missing.npy")
    for name in ("empty.csv", "empty.npy"):
        (tmp_path / name).write_bytes(b"")
        with pytest.raises(ValueError, match="empty"):
            read_array(tmp_path / name)


# ------------------------------------------------------------------------------ load_dataset


def test_load_dataset_digits_matches_load_digits():
    ds = load_dataset("digits")
    assert isinstance(ds, Dataset) and ds.name == "digits" and ds.image_shape == (8, 8)
    X_train, X_test, y_train, y_test = load_digits(split=True)
    assert np.array_equal(ds.X_train, X_train) and np.array_equal(ds.y_test, y_test)
    assert ds.feature_names is None


def test_load_dataset_mnist_like_uses_official_split(tmp_path, monkeypatch):
    write_idx_files(tmp_path / "fashion-mnist", make_idx_arrays())
    monkeypatch.setenv("AEKIT_DATA", str(tmp_path))
    ds = load_dataset("Fashion_MNIST")
    assert ds.name == "fashion-mnist" and ds.image_shape == (28, 28)
    assert ds.X_train.shape == (N_TRAIN, 784) and ds.X_test.shape == (N_TEST, 784)


def test_load_dataset_files(tmp_path):
    rows = "\n".join(f"{i},{2 * i},{3 * i}" for i in range(10))
    (tmp_path / "d.csv").write_text("x,y2,z\n" + rows + "\n")
    ds = load_dataset(tmp_path / "d.csv", test_size=0.3, random_state=0)
    assert ds.X_train.shape == (7, 3) and ds.X_test.shape == (3, 3)
    assert ds.y_train is None and ds.y_test is None
    assert ds.feature_names == ["x", "y2", "z"] and ds.image_shape is None
    # All rows are kept, each once.
    assert sorted(np.concatenate([ds.X_train, ds.X_test])[:, 0]) == list(range(10))

    np.savez(tmp_path / "d.npz", X=np.arange(40.0).reshape(10, 4), y=np.arange(10))
    ds = load_dataset(str(tmp_path / "d.npz"), test_size=0.2)
    assert ds.X_train.shape == (8, 4) and np.array_equal(ds.X_train[:, 0] / 4, ds.y_train)

    np.save(tmp_path / "img.npy", np.zeros((6, 5, 4)))
    ds = load_dataset(tmp_path / "img.npy", test_size=2)
    assert ds.X_train.shape == (4, 20) and ds.image_shape == (5, 4)


def test_load_dataset_unknown_name_lists_valid_names():
    with pytest.raises(ValueError) as info:
        load_dataset("cifar10")
    for name in ("digits", "fashion-mnist", "mnist", ".npy", ".npz", ".csv"):
        assert name in str(info.value)


# ------------------------------------------------------------------------------ generators


def test_make_derived_variables_relations():
    X = make_derived_variables(500, random_state=0)
    assert X.shape == (500, 6) and X.dtype == np.float64
    assert len(DERIVED_VARIABLE_NAMES) == X.shape[1]
    a, b = X[:, 0], X[:, 1]
    assert 0 <= a.min() and a.max() < 0.5
    assert 0 < b.min() and b.max() <= 0.5
    assert np.array_equal(X[:, 2], a + b)
    assert np.array_equal(X[:, 3], a * b)
    assert np.array_equal(X[:, 4], a / b)
    assert np.array_equal(X[:, 5], a**b)
    assert np.all(np.isfinite(X))


def test_make_low_variance_statistics():
    X = make_low_variance(2000, 10, random_state=0)
    assert X.shape == (2000, 10) and X.dtype == np.float64
    assert abs(X.mean() - 1.109) < 1e-4
    assert abs(X.std() - 0.00124) < 5e-5
    assert make_low_variance(random_state=0).shape == (1000, 84)
    X = make_low_variance(5000, 2, mean=-3.0, std=2.0, random_state=1)
    assert abs(X.mean() + 3.0) < 0.1 and abs(X.std() - 2.0) < 0.1


@pytest.mark.parametrize("make", [make_derived_variables, make_low_variance])
def test_generators_reproducible(make):
    assert np.array_equal(make(50, random_state=3), make(50, random_state=3))
    assert not np.array_equal(make(50, random_state=3), make(50, random_state=4))
    rng = np.random.RandomState(7)
    assert make(5, random_state=rng).shape[0] == 5


@pytest.mark.parametrize("call", [
    lambda: make_derived_variables(0),
    lambda: make_derived_variables(2.5),
    lambda: make_derived_variables(True),
    lambda: make_low_variance(-1),
    lambda: make_low_variance(10, 0),
    lambda: make_low_variance(10, 3, std=0.0),
    lambda: make_low_variance(10, 3, std=-1.0),
    lambda: make_low_variance(10, 3, mean=float("nan")),
    lambda: make_low_variance(10, 3, mean="1"),
])
def test_generators_bad_arguments(call):
    with pytest.raises(ValueError):
        call()


# ------------------------------------------------------------------------------ real data


@pytest.mark.skipif(not DEBIAN_DIR.is_dir(),
                    reason="dataset-fashion-mnist not installed "
                           "(apt-get install -y dataset-fashion-mnist)")
def test_real_fashion_mnist_from_debian_package(monkeypatch):
    monkeypatch.setattr(datasets, "_SYSTEM_DIRS", {"fashion-mnist": (DEBIAN_DIR,), "mnist": ()})
    X_train, X_test, y_train, y_test = load_fashion_mnist(split=True, download=False)
    assert X_train.shape == (60000, 784) and X_test.shape == (10000, 784)
    assert X_train.dtype == np.float32 and y_train.dtype == np.int64
    assert X_train.min() == 0.0 and X_train.max() == 1.0
    assert np.array_equal(np.bincount(y_train), np.full(10, 6000))
    assert np.array_equal(np.bincount(y_test), np.full(10, 1000))
    assert not os.listdir(Path.home())  # nothing was cached or downloaded


@pytest.mark.skipif(not DEBIAN_DIR.is_dir(),
                    reason="dataset-fashion-mnist not installed "
                           "(apt-get install -y dataset-fashion-mnist)")
def test_real_fashion_mnist_checksums(http_root, isolated_env):
    """The stored SHA-256s are those of the official downloads.

    Debian rewrote the gzip headers (no file name, a 2020 mtime) but kept the compressed data;
    restoring the original header (file name, mtime of 2017-08-31) gives back the official files,
    which the download path must then accept with the checksums as stored.
    """
    root, url = http_root
    mtimes = {"train": 1504176606, "t10k": 1504176627}
    for stem in FILES.values():
        body = (DEBIAN_DIR / f"{stem}.gz").read_bytes()
        assert body[3] == 0, "Debian's header has no optional fields"
        mtime = mtimes[stem.split("-")[0]].to_bytes(4, "little")
        header = b"\x1f\x8b\x08\x08" + mtime + b"\x00\x03" + stem.encode() + b"\x00"
        (root / f"{stem}.gz").write_bytes(header + body[10:])
    paths = fetch_idx_files("fashion-mnist", base_url=url)  # raises if a checksum is wrong
    assert paths["train_images"].stat().st_size == 26421880
    assert paths["test_labels"].stat().st_size == 5148
