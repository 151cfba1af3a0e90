"""The CUDA path: training on the GPU, bfloat16 there, models that move between devices.

Skipped without a CUDA device (CI has none); run them on a GPU machine with `make test`.
"""

import numpy as np
import pytest
import torch

import aekit
from aekit import AutoEncoder, VariationalAutoEncoder
from aekit.training.loop import autocast_dtype

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]


def test_auto_device_trains_on_the_gpu_and_beats_pca(digits):
    X_train, X_test, _, _ = digits
    ae = AutoEncoder(2, random_state=0).fit(X_train)
    assert ae.device_.type == "cuda"
    assert all(p.device.type == "cuda" for p in ae.module_.parameters())
    assert aekit.compare_with_pca(ae, X_train, X_test).ratio < 0.9
    assert isinstance(ae.transform(X_test), np.ndarray)


def test_bfloat16_where_supported(digits):
    dtype = autocast_dtype("auto", torch.device("cuda"))
    # Native bfloat16 from Ampere on; older GPUs only emulate it (is_bf16_supported says
    # True there too), and "auto" keeps float32 on them.
    native = torch.cuda.get_device_capability()[0] >= 8
    assert dtype == (torch.bfloat16 if native else None)
    X_train = digits[0]
    a = AutoEncoder(2, max_epochs=30, random_state=0, precision="float32").fit(X_train)
    b = AutoEncoder(2, max_epochs=30, random_state=0, precision="auto").fit(X_train)
    # Mixed precision keeps the float32 error within 5% on this small problem.
    assert b.score(X_train) == pytest.approx(a.score(X_train), rel=0.05)


def test_gpu_model_loads_on_the_cpu(tmp_path, digits):
    X_train, X_test, _, _ = digits
    ae = AutoEncoder(3, max_epochs=5, random_state=0).fit(X_train)
    ae.save(tmp_path / "m")
    cpu = aekit.load(tmp_path / "m", device="cpu")
    assert cpu.device_.type == "cpu"
    np.testing.assert_allclose(cpu.transform(X_test), ae.transform(X_test), atol=1e-4)


def test_a_gpu_model_pickles_for_a_machine_without_one(monkeypatch, digits):
    import pickle

    import aekit.estimators._saving as saving

    X_train, X_test, _, _ = digits
    ae = AutoEncoder(3, max_epochs=5, random_state=0).fit(X_train)
    blob = pickle.dumps(ae)
    assert all(p.device.type == "cuda" for p in ae.module_.parameters())  # left as it was
    same = pickle.loads(blob)  # on this machine: back on its GPU
    assert same.device_ == ae.device_
    assert all(p.device == ae.device_ for p in same.module_.parameters())
    np.testing.assert_array_equal(same.transform(X_test), ae.transform(X_test))
    # A machine without CUDA: torch refuses any CUDA storage, aekit finds no device.
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(saving, "_has_device", lambda device: False)
    with pytest.warns(UserWarning, match="unpickled onto the CPU"):
        cpu = pickle.loads(blob)
    assert cpu.device_.type == "cpu"
    np.testing.assert_allclose(cpu.transform(X_test), ae.transform(X_test), atol=1e-4)


def test_a_gpu_table_model_pickles_for_a_machine_without_one(monkeypatch):
    # A table's one-hot lookup is cached on the GPU once rows are encoded; the pickle must
    # not carry it there (nn.tabular.TabularInput.__getstate__).
    import pickle

    import pandas as pd

    import aekit.estimators._saving as saving

    rng = np.random.RandomState(0)
    df = pd.DataFrame({"a": rng.rand(200), "c": pd.Categorical(rng.choice(list("xyz"), 200))})
    ae = AutoEncoder(2, max_epochs=5, random_state=0).fit(df)
    assert ae.device_.type == "cuda"
    codes = ae.transform(df)  # builds the lookup on the GPU
    blob = pickle.dumps(ae)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(saving, "_has_device", lambda device: False)
    with pytest.warns(UserWarning, match="unpickled onto the CPU"):
        cpu = pickle.loads(blob)
    np.testing.assert_allclose(cpu.transform(df), codes, atol=1e-4)


def test_fits_leave_the_callers_cuda_streams_alone(digits):
    # A fit seeds, and then restores, the CPU's generator and its own GPU's only: a CPU fit
    # on this machine re-seeded every GPU's stream before (torch.manual_seed), for good.
    X = digits[0][:300]
    torch.cuda.manual_seed_all(5)
    states = [torch.cuda.get_rng_state(i) for i in range(torch.cuda.device_count())]
    AutoEncoder(2, max_epochs=2, random_state=0, device="cpu").fit(X)
    AutoEncoder(2, max_epochs=2, random_state=0, device="cuda:0").fit(X)
    for i, state in enumerate(states):
        assert torch.equal(torch.cuda.get_rng_state(i), state)


def test_label_spreading_on_the_gpu_is_the_same_every_time():
    # index_add_ sums with atomics on CUDA, in another order each call: the pseudo-labels'
    # scores changed in their last bits between fits with the same seed.
    from aekit.semisupervised.propagation import knn_graph, spread_labels

    g = torch.Generator(device="cuda").manual_seed(0)
    Z = torch.randn(20000, 16, device="cuda", generator=g)
    neighbors, similarities = knn_graph(Z, 15)
    seeds = torch.arange(0, 20000, 200, device="cuda")
    labels = seeds % 10
    first = spread_labels(neighbors, similarities, seeds, labels, 10)
    for _ in range(3):
        assert torch.equal(spread_labels(neighbors, similarities, seeds, labels, 10), first)
    cpu = spread_labels(neighbors.cpu(), similarities.cpu(), seeds.cpu(), labels.cpu(), 10)
    torch.testing.assert_close(first.cpu(), cpu, rtol=1e-4, atol=1e-7)


def test_streamed_fit_on_the_gpu(tmp_path, digits):
    X_train = digits[0]
    path = tmp_path / "rows.npy"
    np.save(path, X_train)
    ae = AutoEncoder(2, max_epochs=5, chunk_rows=300, random_state=0).fit(path)
    assert ae.device_.type == "cuda" and np.isfinite(ae.transform(path)).all()


def test_variational_on_the_gpu(digits):
    vae = VariationalAutoEncoder(2, max_epochs=5, random_state=0).fit(digits[0])
    assert vae.sample(4, random_state=0).shape == (4, 64)


def test_bce_in_bfloat16_on_the_gpu(digits):
    # torch refuses binary_cross_entropy under CUDA autocast; aekit runs it in float32.
    if not torch.cuda.is_bf16_supported():
        pytest.skip("this GPU has no bfloat16")
    ae = AutoEncoder(2, loss="bce", scaler="minmax", precision="bfloat16", max_epochs=5,
                     random_state=0).fit(digits[0])
    assert ae.device_.type == "cuda" and np.isfinite(ae.history_[-1]["loss"])
