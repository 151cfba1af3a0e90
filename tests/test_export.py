"""ONNX export: the graphs give what transform / inverse_transform / predict_proba give."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

import aekit
from aekit import AutoEncoder, EncoderClassifier, LadderClassifier, VariationalAutoEncoder
from aekit.cli.commands import app
from aekit.export import export_onnx
from aekit.semisupervised import hide_labels

ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (aekit[onnx])")
onnx = pytest.importorskip("onnx", reason="onnx is not installed (aekit[onnx])")


def _run(path, name, X):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {name: np.asarray(X, dtype=np.float32)})[0]


def _check(paths, est, X):
    Z = _run(paths["encoder"], "x", X.reshape(len(X), -1))
    np.testing.assert_allclose(Z, est.transform(X), atol=1e-4, rtol=0)
    X_hat = _run(paths["decoder"], "z", Z)
    expected = est.inverse_transform(Z).reshape(len(Z), -1)
    np.testing.assert_allclose(X_hat, expected, atol=1e-4, rtol=0)
    assert Z.shape == (len(X), est.n_components)  # any number of rows, not the trace's 2


@pytest.mark.parametrize("kw", [
    dict(scaler="standard"),
    dict(scaler="minmax", tied=True),
    dict(scaler="sample"),
    dict(scaler=None, hidden_layer_sizes=()),
    dict(dropout=0.3),  # off in the graph and in the check's PyTorch outputs alike
    dict(activation="rrelu"),  # exported as its eval-mode LeakyReLU, not random slopes
])
def test_dense_autoencoders_match_in_onnxruntime(digits, tmp_path, kw):
    X_train, X_test, _, _ = digits
    est = AutoEncoder(3, max_epochs=3, random_state=0, **kw).fit(X_train)
    _check(export_onnx(est, tmp_path), est, X_test)


def test_conv_autoencoder_on_images_matches(digits, tmp_path):
    X_train, X_test, _, _ = digits
    images = X_train.reshape(-1, 8, 8)
    est = AutoEncoder(4, architecture="conv", hidden_layer_sizes=(8, 16), max_epochs=2,
                      random_state=0).fit(images)
    _check(export_onnx(est, tmp_path), est, X_test.reshape(-1, 8, 8))


def test_vae_exports_its_mean_encoder(digits, tmp_path):
    X_train, X_test, _, _ = digits
    est = VariationalAutoEncoder(2, max_epochs=3, random_state=0).fit(X_train)
    _check(export_onnx(est, tmp_path), est, X_test)


def test_classifier_exports_its_probabilities(digits, tmp_path):
    X_train, X_test, y_train, _ = digits
    ae = AutoEncoder(4, hidden_layer_sizes=(16,), max_epochs=2, random_state=0)
    clf = EncoderClassifier(ae, max_epochs=3, random_state=0).fit(X_train, y_train)
    paths = export_onnx(clf, tmp_path)
    np.testing.assert_allclose(_run(paths["classifier"], "x", X_test),
                               clf.predict_proba(X_test), atol=1e-4, rtol=0)
    meta = {p.key: p.value for p in onnx.load(str(paths["classifier"])).metadata_props}
    assert meta["classes"] == "[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]"


@pytest.mark.parametrize("architecture", ["dense", "conv"])
def test_aekit_export_writes_graphs_that_match_the_saved_model(digits, tmp_path, architecture):
    X_train, X_test, _, _ = digits
    run = tmp_path / "run"
    result = CliRunner().invoke(app, [
        "train", "--data", "digits", "--components", "3", "--hidden", "8,16"
        if architecture == "conv" else "16", "--architecture", architecture, "--epochs", "2",
        "--seed", "0", "--device", "cpu", "--out", str(run)])
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(app, ["export", str(run), "--out", str(tmp_path / "onnx")])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "onnx").iterdir()) == ["decoder.onnx",
                                                                     "encoder.onnx"]
    est = aekit.load(run)
    _check({"encoder": tmp_path / "onnx" / "encoder.onnx",
            "decoder": tmp_path / "onnx" / "decoder.onnx"}, est, X_test)
    meta = {p.key: p.value
            for p in onnx.load(str(tmp_path / "onnx" / "encoder.onnx")).metadata_props}
    assert meta["n_features_in"] == "64" and meta["n_components"] == "3"


def test_a_ladder_with_image_features_exports_its_histograms(digits, tmp_path):
    X_train, X_test, y_train, _ = digits
    y_few = hide_labels(y_train, 10, random_state=0)
    clf = LadderClassifier(image_features="histograms", image_shape=(8, 8),
                           hidden_layer_sizes=(16,), max_epochs=2, random_state=0)
    clf.fit(X_train * 16, y_few)  # pixels 0-16: the histograms' fitted scale travels too
    paths = export_onnx(clf, tmp_path)
    # ONNX lacks hypot and a 0/0-safe atan2: the export's replacements agree to float error.
    np.testing.assert_allclose(_run(paths["classifier"], "x", X_test * 16),
                               clf.predict_proba(X_test * 16), atol=1e-5, rtol=0)


def test_a_convolutional_ladder_exports_for_any_number_of_rows(digits, tmp_path):
    X_train, X_test, y_train, _ = digits
    clf = LadderClassifier(conv_layers=((4, 3, 2),), image_shape=(8, 8), max_epochs=1,
                           random_state=0).fit(X_train, y_train)
    paths = export_onnx(clf, tmp_path)
    for rows in (1, 7):  # not the trace's 2
        np.testing.assert_allclose(_run(paths["classifier"], "x", X_test[:rows]),
                                   clf.predict_proba(X_test[:rows]), atol=1e-5, rtol=0)


@pytest.mark.parametrize("columns", [
    {"zip": 150},  # one embedded column (a block size shared by all: reshaped)
    {"zip": 150, "kind": 3},  # embedded and one-hot, blocks of two sizes (padded)
    {"kind": 3},  # one-hot only: its decoder took only the traced rows too
])
def test_a_table_with_categories_exports_graphs_for_any_number_of_rows(tmp_path, columns):
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(0)
    n = 240
    frame = pd.DataFrame({"x": rng.normal(size=n), "y": rng.normal(size=n), **{
        name: rng.choice([f"{name}{i:03d}" for i in range(k)], size=n)
        for name, k in columns.items()}})
    est = AutoEncoder(2, hidden_layer_sizes=(8,), max_epochs=2, random_state=0).fit(frame)
    # More than MAX_ONE_HOT categories: the embedding path.
    assert any(est.module_.scaler.embedded) == ("zip" in columns)
    paths = export_onnx(est, tmp_path)
    coded = est.schema_.rows(frame, est).values  # what the graphs take: categories as indices
    for rows in (1, 3, 7, 2):
        Z = _run(paths["encoder"], "x", coded[:rows])
        np.testing.assert_allclose(Z, est.transform(frame[:rows]), atol=1e-4, rtol=0)
        X_hat = _run(paths["decoder"], "z", Z)
        assert X_hat.shape == (rows, frame.shape[1])
        expected = est.schema_.rows(est.inverse_transform(Z), est).values
        np.testing.assert_allclose(X_hat, expected, atol=1e-4, rtol=0)


@pytest.mark.parametrize("runtime", ["onnxruntime", "reference evaluator"])
def test_export_refuses_a_graph_that_takes_only_the_traced_number_of_rows(
        tmp_path, monkeypatch, runtime):
    import torch

    from aekit import export

    if runtime != "onnxruntime":  # without onnxruntime, onnx's own evaluator checks
        monkeypatch.setitem(__import__("sys").modules, "onnxruntime", None)
    X = np.random.default_rng(0).normal(size=(40, 6))
    est = AutoEncoder(2, hidden_layer_sizes=(8,), max_epochs=1, random_state=0).fit(X)
    export_onnx(est, tmp_path / "good")  # the check passes where the graph is right
    # len() of a traced tensor is a constant: this encoder takes only TRACE_ROWS rows.
    monkeypatch.setattr(export, "_encode",
                        lambda model, x: model.encode(x) + torch.zeros(len(x), 1))
    with pytest.raises(ValueError, match=r"its encoder\.onnx graph, traced on 2 rows, fails "
                       r"on 3 rows .*nothing was written"):
        export_onnx(est, tmp_path / "bad")
    assert not (tmp_path / "bad").exists() or not any((tmp_path / "bad").iterdir())


def test_an_imputing_model_fills_missing_cells_inside_its_graphs(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(5, 2, size=(120, 6)).astype(np.float32)
    X[rng.random(X.shape) < 0.1] = np.nan
    ae = AutoEncoder(2, hidden_layer_sizes=(8,), max_epochs=2, random_state=0,
                     missing="impute")
    ae.fit(X)
    paths = export_onnx(ae, tmp_path / "ae")
    rows = X[:20]
    assert np.isnan(rows).any(axis=1).sum() >= 5  # rows with NaN cells are what is checked
    np.testing.assert_allclose(_run(paths["encoder"], "x", rows), ae.transform(rows),
                               atol=1e-4, rtol=0)
    meta = {p.key: p.value for p in onnx.load(str(paths["encoder"])).metadata_props}
    assert json.loads(meta["fill_values"]) == ae.schema_.fill_values
    # A classifier over it takes the same rows, NaN cells included.
    clf = EncoderClassifier(ae, max_epochs=2, random_state=0).fit(X, (X[:, 1] > 5) * 1)
    paths = export_onnx(clf, tmp_path / "clf")
    np.testing.assert_allclose(_run(paths["classifier"], "x", rows), clf.predict_proba(rows),
                               atol=1e-4, rtol=0)


def _opset_models(digits):
    """One model of each kind whose graph needed an opset above 9 or 10: a convolutional
    decoder (unflatten), a table's categories (index_put), orientation histograms."""
    pd = pytest.importorskip("pandas")
    X_train, _, y_train, _ = digits
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=120), "c1": rng.choice(list("abc"), 120),
                          "c2": rng.choice(list("pqrs"), 120)})
    conv = AutoEncoder(2, architecture="conv", hidden_layer_sizes=(4,), max_epochs=1,
                       random_state=0).fit(X_train.reshape(-1, 8, 8))
    table = AutoEncoder(2, hidden_layer_sizes=(8,), max_epochs=1, random_state=0).fit(frame)
    hog = LadderClassifier(image_features="histograms", image_shape=(8, 8),
                           hidden_layer_sizes=(16,), max_epochs=1, random_state=0)
    return {"conv": (conv, X_train[:5].reshape(-1, 8, 8)), "table": (table, frame[:5]),
            "histograms": (hog.fit(X_train, y_train), X_train[:5])}


@pytest.mark.parametrize("opset", [min(aekit.export.OPSETS), max(aekit.export.OPSETS)])
def test_models_of_every_kind_export_at_both_ends_of_the_opset_range(digits, tmp_path, opset):
    assert (min(aekit.export.OPSETS), max(aekit.export.OPSETS)) == (11, 20)
    for name, (est, X) in _opset_models(digits).items():
        paths = export_onnx(est, tmp_path / name, opset=opset)
        if "classifier" in paths:
            np.testing.assert_allclose(_run(paths["classifier"], "x", X),
                                       est.predict_proba(X), atol=1e-5, rtol=0)
            continue
        rows = est.schema_.rows(X, est).values  # a table's categories as indices
        np.testing.assert_allclose(_run(paths["encoder"], "x", rows), est.transform(X),
                                   atol=1e-4, rtol=0)


def test_an_opset_below_the_range_is_refused_before_tracing(digits, tmp_path, capfd):
    est, _ = _opset_models(digits)["table"]
    capfd.readouterr()
    with pytest.raises(ValueError, match=r"opset=10 is not supported: .* 11 to 20"):
        export_onnx(est, tmp_path, opset=10)
    out, err = capfd.readouterr()
    assert not out and not err  # no graph dumped by torch's exporter
    assert not tmp_path.exists() or not any(tmp_path.iterdir())


def test_a_fifo_named_like_a_graph_is_refused_not_waited_on(digits, tmp_path):
    import os
    import threading

    est = AutoEncoder(2, hidden_layer_sizes=(8,), max_epochs=1, random_state=0).fit(digits[0])
    fifo = tmp_path / "encoder.onnx"
    os.mkfifo(fifo)
    raised = []

    def export():
        with pytest.raises(ValueError, match=r"holds encoder\.onnx, which aekit did not write"):
            export_onnx(est, tmp_path)
        raised.append(True)

    worker = threading.Thread(target=export, daemon=True)
    worker.start()
    worker.join(10)
    if worker.is_alive():  # it waits on the FIFO: give it a writer so the thread ends
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        worker.join(30)
        pytest.fail("export_onnx waited on a FIFO named encoder.onnx")
    assert raised and fifo.is_fifo()  # refused, and the FIFO left alone


@pytest.mark.parametrize("sizes", [(3, 4), (150, 4)])  # one-hot columns; an embedded one
def test_an_out_of_range_category_code_is_unknown_in_the_graph(tmp_path, sizes):
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=300), **{
        f"c{j}": rng.choice([f"c{j}_{i:03d}" for i in range(k)], size=300)
        for j, k in enumerate(sizes)}})
    est = AutoEncoder(2, hidden_layer_sizes=(8,), max_epochs=1, random_state=0).fit(frame)
    paths = export_onnx(est, tmp_path)
    unseen = frame[:1].assign(c0="never seen")  # coded -1 by the schema: 'unknown'
    expected = est.transform(unseen)
    coded = est.schema_.rows(unseen, est).values
    assert coded[0, 1] == -1
    for code in (sizes[0], sizes[0] + 1, 10 * sizes[0], -2):  # one past its block, and more
        coded[0, 1] = code
        np.testing.assert_allclose(_run(paths["encoder"], "x", coded), expected, atol=1e-5,
                                   rtol=0)
