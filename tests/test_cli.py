"""The command line: runs it writes, codes it encodes, and one-line errors with exit code 2."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import matplotlib.image
import numpy as np
import pandas as pd
import pytest
import typer.main

import aekit
from aekit.cli import commands as cli, options as cli_options
from aekit import runs
from aekit.cli.commands import app
from aekit.data import load_dataset, read_array

from conftest import assert_ok, assert_one_line_error, invoke, runner

FAST = ["--epochs", "3", "--seed", "0", "--device", "cpu"]


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "digits"
    result = invoke("train", "--data", "digits", "--components", "2", "--hidden", "32", *FAST,
                    "--out", run)
    assert_ok(result)
    return run, result


@pytest.fixture
def digits_test(tmp_path):
    X = load_dataset("digits").X_test
    path = tmp_path / "rows.npy"
    np.save(path, X)
    return X, path


# --------------------------------------------------------------------------- train
def test_train_writes_model_metrics_and_plot(digits_run):
    run, result = digits_run
    names = {p.name for p in run.iterdir()}
    assert {"config.json", "metrics.json", "loss.png"} <= names
    assert json.loads((run / "config.json").read_text())["weights"] in names
    assert not [n for n in names if n.startswith(("checkpoint", "."))]  # run complete
    metrics = json.loads((run / "metrics.json").read_text())
    assert {"dataset", "comparison", "train_score", "test_score", "fit_seconds"} <= set(metrics)
    c = metrics["comparison"]
    # Images: every column is a pixel, so the headline is in pixel units (issue 20);
    # the scaled-unit errors stay beside it.
    assert c["unit"] == "raw" and c["ae_error"] == c["ae_mse"]
    assert c["ratio"] == pytest.approx(c["ae_mse"] / c["pca_mse"])
    assert c["ae_scaled"] > 0 and c["pca_scaled"] > 0
    assert c["n_components"] == 2 and c["winner"] in ("autoencoder", "PCA")
    assert len(c["r2"]["autoencoder"]) == len(c["r2"]["columns"]) == 64
    assert metrics["dataset"] == {
        "name": "digits", "train_shape": [1347, 64], "test_shape": [450, 64],
        "image_shape": [8, 8], "options": None, "file_sha256": None,
    }
    assert metrics["test_score"] == pytest.approx(-c["ae_scaled"], rel=1e-5)
    assert metrics["fit_seconds"] > 0 and metrics["n_iter"] == 3
    # loss.png is a real PNG image.
    assert (run / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert matplotlib.image.imread(run / "loss.png").ndim == 3
    # The AE-vs-PCA table is printed.
    assert "PCA (k=2)" in result.stdout and "AE / PCA error ratio" in result.stdout
    assert f"{c['ae_mse']:.6g}" in result.stdout


@pytest.mark.parametrize("command, cls", [("train", aekit.AutoEncoder),
                                          ("train-vae", aekit.VariationalAutoEncoder)])
def test_every_estimator_parameter_has_an_option(command, cls):
    train = typer.main.get_command(app).commands[command]
    options = {p.name for p in train.params}
    # Python code (modules) and warm_start (each run fits anew) stay off the command line.
    assert set(cls().get_params()) - set(cli_options._PYTHON_ONLY) <= options
    assert set(cli_options._PYTHON_ONLY) & options == set()


@pytest.mark.parametrize("command", ["train", "train-vae", "train-classifier"])
def test_help_fits_80_columns_and_names_no_types_of_flags(command):
    result = runner.invoke(app, [command, "--help"], env={"COLUMNS": "80"}, terminal_width=80)
    assert_ok(result)
    lines = result.output.splitlines()
    assert max(map(len, lines)) <= 80, [line for line in lines if len(line) > 80]
    assert "<bool>" not in result.output and "…" not in result.output
    assert "--epochs, --max-epochs" in result.output
    if command == "train":
        assert "gelu" in result.output and "--early-stopping / --no-early-stopping" in (
            result.output)
        # Regression: these spoke of Python ("or None", "see there", no --out default).
        text = " ".join(result.output.split())
        assert "or None for its own" not in text and "(see there)" not in text
        assert "default: the run directory (--out)" in text


@pytest.mark.parametrize("cls", [aekit.AutoEncoder, aekit.VariationalAutoEncoder,
                                 aekit.EncoderClassifier, aekit.LadderClassifier,
                                 aekit.OutlierDetector])
def test_option_help_closes_what_it_opens(cls):
    # An option's help is its parameter's first docstring sentence; a ";" inside brackets
    # ended it there (--propagation-epochs' help read "... (no early stopping: ...").
    for name, text in cli_options._param_docs(cls).items():
        for left, right in ("()", "[]"):
            assert text.count(left) == text.count(right), f"{cls.__name__}.{name}: {text}"


@pytest.mark.parametrize("cls", [aekit.AutoEncoder, aekit.VariationalAutoEncoder,
                                 aekit.EncoderClassifier, aekit.LadderClassifier,
                                 aekit.OutlierDetector])
def test_option_help_points_to_nothing_the_command_line_lacks(cls):
    # The docstring's sections are not in --help: --chunk-rows' help ended "(see Notes)",
    # --semi-supervised's "label propagation (above)".
    for name, text in cli_options._param_docs(cls).items():
        assert not re.search(r"\bsee (Notes|Examples)\b|\((above|below)\)", text), \
            f"{cls.__name__}.{name}: {text}"


def test_options_reach_the_estimator(monkeypatch, tmp_path):
    seen = {}
    monkeypatch.setattr(cli, "fit_run", lambda est, data, out, resume: seen.update(est=est))
    result = invoke(
        "train", "--data", "digits", "--out", tmp_path / "run",
        "--components", "3", "--hidden", "16,8", "--activation", "tanh",
        "--output-activation", "linear", "--scaler", "none", "--loss", "bce",
        "--optimizer", "sgd", "--learning-rate", "0.01", "--weight-decay", "0.001",
        "--batch-size", "32", "--chunk-rows", "1000", "--max-epochs", "7",
        "--validation-fraction", "0.2",
        "--no-early-stopping", "--patience", "4", "--tol", "0.01", "--n-init", "2",
        "--seed", "5", "--device", "cpu", "-vv", "--log-dir", tmp_path / "tb",
        "--tied", "--init", "identity",
        "--dropout", "0.1", "--noise", "masking", "--noise-level", "0.3", "--sparsity", "kl",
        "--sparsity-weight", "2", "--sparsity-target", "0.1", "--contractive", "0.5",
        "--l1", "0.001", "--pretrain", "greedy", "--pretrain-epochs", "3",
        "--precision", "bfloat16", "--lr-schedule", "constant",
    )
    assert_ok(result)
    assert seen["est"].get_params() == dict(
        lr_schedule="constant", encoder=None, decoder=None, warm_start=False, callbacks=None,
        architecture="dense", image_shape=None, tied=True, init="identity", dropout=0.1,
        noise="masking", noise_level=0.3, sparsity="kl", sparsity_weight=2.0,
        sparsity_target=0.1, contractive=0.5, l1=0.001, pretrain="greedy", pretrain_epochs=3,
        precision="bfloat16",
        n_components=3, hidden_layer_sizes=(16, 8), activation="tanh",
        output_activation="linear", code_activation=None, scaler=None, loss="bce",
        missing="error", optimizer="sgd",
        learning_rate=0.01, weight_decay=0.001, batch_size=32, chunk_rows=1000, max_epochs=7,
        validation_fraction=0.2, early_stopping=False, patience=4, tol=0.01, n_init=2,
        random_state=5, device="cpu", verbose=2, log_dir=str(tmp_path / "tb"),
        checkpoint_dir=str(tmp_path / "run"),  # the run directory, unless given
    )


def test_conv_options_and_dataset_image_shape(monkeypatch, tmp_path):
    seen = {}
    monkeypatch.setattr(cli.AutoEncoder, "fit",
                        lambda est, X, resume=False: seen.update(est=est) or est)
    monkeypatch.setattr(runs, "compare_with_pca", lambda *a, **k: (_ for _ in ()).throw(
        ValueError("stop after fit")))
    invoke("train", "--data", "digits", "--out", tmp_path / "a", "--architecture", "conv")
    assert seen["est"].image_shape == (8, 8)  # taken from the dataset
    invoke("train", "--data", "digits", "--out", tmp_path / "b", "--architecture", "conv",
           "--image-shape", "1,8,8")
    assert seen["est"].image_shape == (1, 8, 8)
    result = invoke("train", "--data", "digits", "--out", tmp_path / "c",
                    "--image-shape", "8,x")
    assert result.exit_code == 2 and "--image-shape" in result.stderr
    # Regression: 'none' gave () and a contradictory "must be ... or None" error.
    seen.clear()
    invoke("train", "--data", "digits", "--out", tmp_path / "d", "--architecture", "conv",
           "--image-shape", "none")
    assert seen["est"].image_shape == (8, 8)  # None given: taken from the dataset


def test_defaults_are_the_estimators(monkeypatch, tmp_path):
    seen = {}
    monkeypatch.setattr(cli, "fit_run", lambda est, data, out, resume: seen.update(est=est))
    assert_ok(invoke("train", "--data", "digits", "--out", tmp_path))
    # checkpoints go into the run directory unless --checkpoint-dir says otherwise
    assert seen["est"].get_params() == aekit.AutoEncoder(checkpoint_dir=str(tmp_path)).get_params()


@pytest.mark.parametrize("hidden, expected", [("", ()), ("none", ()), ("64", (64,)),
                                              ("(32, 16)", (32, 16)), ("[64]", (64,)),
                                              ("(64,)", (64,)), ("()", ())])
def test_hidden_spellings(monkeypatch, tmp_path, hidden, expected):
    seen = {}
    monkeypatch.setattr(cli, "fit_run", lambda est, data, out, resume: seen.update(est=est))
    assert_ok(invoke("train", "--data", "digits", "--hidden", hidden, "--out", tmp_path))
    assert seen["est"].hidden_layer_sizes == expected


@pytest.mark.parametrize("suffix", [".npy", ".csv"])
def test_train_on_a_file(tmp_path, suffix):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 2)) @ rng.normal(size=(2, 5)) + 0.01 * rng.normal(size=(60, 5))
    path = tmp_path / f"data{suffix}"
    if suffix == ".npy":
        np.save(path, X)
    else:
        np.savetxt(path, X, delimiter=",", header="a,b,c,d,e", comments="")
    run = tmp_path / "run"
    assert_ok(invoke("train", "--data", path, "--hidden", "8", *FAST, "--out", run))
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["dataset"]["train_shape"] == [48, 5]
    assert metrics["dataset"]["test_shape"] == [12, 5]
    assert metrics["dataset"]["image_shape"] is None
    assert aekit.load(run).n_features_in_ == 5


def test_a_command_prints_each_warning_once(tmp_path):
    """The test rows' 'categories the model was not fitted on' is warned of by each call
    that scores them; Python's once-a-place filter let it through from each place, so
    train printed it 5 times. A command prints each distinct warning once."""
    rng = np.random.default_rng(0)
    path = tmp_path / "ids.csv"
    pd.DataFrame({"id": [f"row-{i}" for i in range(80)], "a": rng.normal(size=80),
                  "b": rng.normal(size=80)}).to_csv(path, index=False)
    result = invoke("train", "--data", path, "--components", "1", *FAST, "--out",
                    tmp_path / "run")
    assert_ok(result)
    lines = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert sum("not fitted on" in line for line in lines) == 1, result.stderr
    assert len(lines) == len(set(lines)), result.stderr


# --------------------------------------------------------------------------- encode, compare
def test_encode_writes_what_transform_gives(digits_run, digits_test, tmp_path):
    run, _ = digits_run
    X, rows = digits_test
    out = tmp_path / "codes.npy"
    result = invoke("encode", run, rows, "--out", out, "--device", "cpu")
    assert_ok(result)
    Z = np.load(out)
    assert Z.shape == (len(X), 2)
    np.testing.assert_array_equal(Z, aekit.load(run, device="cpu").transform(X))
    assert "(450, 2)" in result.stdout


def test_encode_to_csv(digits_run, digits_test, tmp_path):
    run, _ = digits_run
    X, rows = digits_test
    out = tmp_path / "codes.csv"
    assert_ok(invoke("encode", run, rows, "--out", out))
    Z, _, names = read_array(out)
    assert Z.shape == (len(X), 2) and len(names) == 2
    np.testing.assert_allclose(Z, aekit.load(run).transform(X), rtol=1e-6)


def test_compare_prints_the_errors_train_reported(digits_run):
    run, _ = digits_run
    result = invoke("compare", run, "--data", "digits")
    assert_ok(result)
    c = json.loads((run / "metrics.json").read_text())["comparison"]
    assert f"{c['ae_mse']:.6g}" in result.stdout
    assert f"{c['pca_mse']:.6g}" in result.stdout
    assert "autoencoder (k=2)" in result.stdout and "PCA (k=2)" in result.stdout


# --------------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    "args",
    [
        ["train", "--data", "{tmp}/missing.npy"],
        ["train", "--data", "no-such-dataset"],
        ["train", "--data", "digits", "--components", "0"],
        ["train", "--data", "digits", "--components", "two"],
        ["train", "--data", "digits", "--activation", "foo", "--epochs", "1"],
        ["train", "--data", "digits", "--hidden", "64,x"],
        ["train", "--data", "digits", "--scaler", "zscore"],
        ["train", "--data", "digits", "--no-such-option", "1"],
        ["train", "--data", "{tmp}/rows.npy", "--out", "{tmp}/rows.npy"],
    ],
    ids=["missing-file", "unknown-dataset", "components-0", "components-text",
         "bad-activation", "bad-hidden", "bad-scaler", "unknown-option", "out-is-a-file"],
)
def test_train_errors(tmp_path, digits_test, args):
    args = [a.format(tmp=tmp_path) for a in args]
    if "--out" not in args:
        args += ["--out", str(tmp_path / "run")]
    assert_one_line_error(invoke(*args))
    assert not (tmp_path / "run").exists()


def test_encode_with_a_directory_that_is_not_a_model(tmp_path, digits_test):
    _, rows = digits_test
    result = invoke("encode", tmp_path, rows, "--out", tmp_path / "codes.npy")
    assert_one_line_error(result)
    assert "not a saved aekit model" in result.stderr


def test_encode_with_the_wrong_number_of_features(digits_run, tmp_path):
    run, _ = digits_run
    rows = tmp_path / "rows.npy"
    np.save(rows, np.zeros((4, 10)))
    result = invoke("encode", run, rows, "--out", tmp_path / "codes.npy")
    assert_one_line_error(result)
    assert "10 features" in result.stderr and "64" in result.stderr
    assert not (tmp_path / "codes.npy").exists()


def test_encode_to_an_unknown_format(digits_run, digits_test, tmp_path):
    run, _ = digits_run
    _, rows = digits_test
    assert_one_line_error(invoke("encode", run, rows, "--out", tmp_path / "codes.txt"))


def test_encode_refuses_options_its_input_leaves_unused(digits_run, digits_test, tmp_path):
    # --header / --sep on a .npy, --chunk-rows on a text file read whole: accepted, ignored.
    run, _ = digits_run
    X, rows = digits_test
    text = tmp_path / "rows.csv"
    np.savetxt(text, X[:20], delimiter=",")
    for given, option in (([rows, "--header", "no"], "--header"), ([rows, "--sep", ";"],
                          "--sep"), ([text, "--chunk-rows", "5"], "--chunk-rows")):
        result = invoke("encode", run, *given, "--out", tmp_path / "codes.npy")
        assert_one_line_error(result)
        assert f"leave {option} out" in result.stderr
    assert not (tmp_path / "codes.npy").exists()
    assert_ok(invoke("encode", run, text, "--header", "no", "--out", tmp_path / "codes.npy"))
    assert_ok(invoke("encode", run, rows, "--chunk-rows", "5", "--out", tmp_path / "c.npy"))


def test_encode_never_writes_over_what_it_reads(digits_run, digits_test, tmp_path):
    run, _ = digits_run
    X, rows = digits_test
    table = tmp_path / "in.csv"
    np.savetxt(table, X[:20], delimiter=",", header=",".join(f"p{j}" for j in range(64)),
               comments="")
    before = table.read_bytes()
    shards = tmp_path / "shards"
    shards.mkdir()
    np.save(shards / "part-0.npy", X[:10])
    np.save(shards / "part-1.npy", X[10:20])
    (tmp_path / "link.npy").symlink_to(rows)
    for source, out, words in [
            (table, table, "is the input"),
            (table, tmp_path / "." / "in.csv", "is the input"),  # another spelling
            (rows, tmp_path / "link.npy", "is the input"),  # a link to it
            (shards, shards / "codes.npy", "is inside the input directory"),
            (shards, shards / "sub" / "codes.npy", "is inside the input directory")]:
        assert_one_line_error(invoke("encode", run, source, "--out", out), words)
    assert table.read_bytes() == before and (tmp_path / "link.npy").is_symlink()
    assert np.array_equal(np.load(rows), X)
    assert sorted(p.name for p in shards.iterdir()) == ["part-0.npy", "part-1.npy"]


def test_compare_with_a_file_of_other_features(digits_run, tmp_path):
    run, _ = digits_run
    path = tmp_path / "other.npy"
    np.save(path, np.random.default_rng(0).normal(size=(40, 6)))
    assert_one_line_error(invoke("compare", run, "--data", path))


# --------------------------------------------------------------------------- processes
def _aekit(*args):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("AEKIT_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "aekit", *map(str, args)],
                          capture_output=True, text=True, env=env, timeout=120)


def test_python_m_aekit_help():
    proc = _aekit("--help")
    assert proc.returncode == 0, proc.stderr
    for command in ("train", "encode", "compare", "demo"):
        assert command in proc.stdout


def test_python_m_aekit_error_exit_code(tmp_path):
    proc = _aekit("train", "--data", tmp_path / "missing.csv", "--out", tmp_path / "run")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "missing.csv" in lines[0]


# --------------------------------------------------------------------------- demo
@pytest.mark.slow
def test_demo_beats_pca(tmp_path):
    out = tmp_path / "demo"
    result = invoke("demo", "--out", out)
    assert_ok(result)
    c = json.loads((out / "metrics.json").read_text())["comparison"]
    assert c["ae_mse"] < c["pca_mse"]
    assert "autoencoder wins" in result.stdout
    assert (out / "loss.png").is_file() and aekit.load(out).n_components == 2


# --------------------------------------------------------------------------- other estimators
def test_train_vae_end_to_end(tmp_path):
    result = invoke("train-vae", "--data", "digits", "--components", "2", "--hidden", "32",
                    "--rows", "400", *FAST, "--out", tmp_path / "vae")
    assert_ok(result)
    vae = aekit.load(tmp_path / "vae")
    assert type(vae).__name__ == "VariationalAutoEncoder"
    metrics = json.loads((tmp_path / "vae" / "metrics.json").read_text())
    assert metrics["dataset"]["train_shape"] == [400, 64]  # --rows
    assert metrics["dataset"]["test_shape"] == [450, 64]  # the test split stays whole
    assert "PCA (k=2)" in result.stdout
    # The table names the model as what it is, not "autoencoder (k=2)".
    assert "\nvariational autoencoder (k=2) " in result.stdout
    compared = invoke("compare", tmp_path / "vae", "--data", "digits")
    assert_ok(compared)
    assert "\nvariational autoencoder (k=2) " in compared.stdout


def test_train_classifier_end_to_end(tmp_path, digits_run):
    result = invoke("train-classifier", "--data", "digits", "--autoencoder", digits_run[0],
                    "--epochs", "30", "--learning-rate", "0.01", "--seed", "0",
                    "--device", "cpu", "--out", tmp_path / "clf")
    assert_ok(result)
    clf = aekit.load(tmp_path / "clf")
    metrics = json.loads((tmp_path / "clf" / "metrics.json").read_text())
    X_test, y_test = load_dataset("digits").X_test, load_dataset("digits").y_test
    assert metrics["test_accuracy"] == pytest.approx(clf.score(X_test, y_test))
    assert metrics["test_accuracy"] > 2 * metrics["chance"]
    assert "test accuracy" in result.stdout
    # Without labels there is nothing to classify; a label column makes some.
    rng = np.random.RandomState(0)
    table = np.column_stack([rng.rand(60, 3), np.repeat([0, 1], 30)])
    path = tmp_path / "t.csv"
    np.savetxt(path, table, delimiter=",", header="a,b,c,kind", comments="")
    missing = invoke("train-classifier", "--data", path, *FAST, "--out", tmp_path / "c2")
    assert_one_line_error(missing)
    assert "--label" in missing.stderr
    labelled = invoke("train-classifier", "--data", path, "--label", "kind", "--components",
                      "2", *FAST, "--out", tmp_path / "c3")
    assert_ok(labelled)
    assert aekit.load(tmp_path / "c3").n_features_in_ == 3


def test_train_classifier_refuses_new_autoencoder_options_beside_a_fitted_one(tmp_path,
                                                                            digits_run):
    # --components and --missing shape the autoencoder the command fits; with --autoencoder
    # they were dropped without a word.
    for option in (["--components", "8"], ["--missing", "impute"]):
        result = invoke("train-classifier", "--data", "digits", "--autoencoder",
                        digits_run[0], *option, *FAST, "--out", tmp_path / "clf")
        assert_one_line_error(result)
        assert option[0] in result.stderr and "fitted already" in result.stderr
        assert not (tmp_path / "clf").exists()


def test_train_classifier_says_when_the_data_is_not_what_its_autoencoder_read(tmp_path,
                                                                             digits_run):
    # A 64-pixel autoencoder given a 3-column table: "X holds values that are not numbers"
    # or scikit-learn's "EncoderClassifier is expecting 64 features", after loading.
    rng = np.random.RandomState(0)
    path = tmp_path / "t.csv"
    pd.DataFrame({"a": rng.rand(60), "b": rng.rand(60), "kind": np.repeat(["x", "y"], 30),
                  "label": np.repeat([0, 1], 30)}).to_csv(path, index=False)
    result = invoke("train-classifier", "--data", path, "--label", "label", "--autoencoder",
                    digits_run[0], *FAST, "--out", tmp_path / "clf")
    assert_one_line_error(result, "has 3 features per row", f"{digits_run[0]} was fitted on 64",
                          "leave --autoencoder out")
    assert not (tmp_path / "clf").exists()


@pytest.fixture(scope="module")
def few_labels_csv(tmp_path_factory):
    """The digits as a CSV whose label column is empty on 90% of the rows (unlabelled)."""
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    labels = np.where(np.random.RandomState(0).rand(len(y)) < 0.1, y.astype(str), "")
    path = tmp_path_factory.mktemp("few") / "few.csv"
    lines = [",".join([*(f"p{i}" for i in range(64)), "digit"])]
    lines += [",".join([*map(str, row.astype(int)), lab]) for row, lab in zip(X, labels)]
    path.write_text("\n".join(lines) + "\n")
    return path, labels != ""


def test_empty_label_cells_are_unlabelled_rows_and_no_score_counts_them(tmp_path,
                                                                       few_labels_csv):
    path, has_label = few_labels_csv
    result = invoke("train-ladder", "--data", path, "--label", "digit", "--hidden", "32",
                    "--learning-rate", "0.01", *FAST, "--out", tmp_path / "lad")
    assert_ok(result)
    m = json.loads((tmp_path / "lad" / "metrics.json").read_text())
    data = load_dataset(path, label="digit")
    test_labelled = ~pd.isna(data.y_test)
    assert m["labelled_rows"] == {"train": int((~pd.isna(data.y_train)).sum()),
                                  "test": int(test_labelled.sum())}
    assert m["labelled_rows"]["train"] + m["labelled_rows"]["test"] == has_label.sum()
    assert m["unlabelled_rows"]["test"] == len(data.y_test) - m["labelled_rows"]["test"] > 0
    clf = aekit.load(tmp_path / "lad")
    assert type(clf).__name__ == "LadderClassifier" and clf.n_unlabelled_ > 1000
    y_test = data.y_test[test_labelled].astype(int)
    assert m["test_accuracy"] == pytest.approx(clf.score(data.X_test[test_labelled], y_test))
    # chance: the most frequent training label on the labelled test rows, not "unlabelled"
    assert m["chance"] < 0.3
    assert f"on {m['labelled_rows']['test']} labelled rows" in result.stdout
    assert f"{m['unlabelled_rows']['test']} unlabelled test rows not scored" in result.stdout


def test_text_label_cells_minus_one_are_unlabelled_rows_as_the_help_says(tmp_path):
    # A text label column cannot hold the number -1: its "-1" cells are the unlabelled
    # rows the help promises, not a refusal with advice for Python users.
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X, y = X[:400], y[:400]
    labels = np.where(np.random.RandomState(0).rand(len(y)) < 0.2,
                      np.array(list("abcdefghij"))[y], " -1")
    path = tmp_path / "text.csv"
    lines = [",".join([*(f"p{i}" for i in range(64)), "label"])]
    lines += [",".join([*map(str, row.astype(int)), lab]) for row, lab in zip(X, labels)]
    path.write_text("\n".join(lines) + "\n")
    result = invoke("train-ladder", "--data", path, "--label", "label", "--hidden", "16",
                    *FAST, "--out", tmp_path / "lad")
    assert_ok(result)
    m = json.loads((tmp_path / "lad" / "metrics.json").read_text())
    assert m["labelled_rows"]["train"] + m["labelled_rows"]["test"] == (labels != " -1").sum()
    clf = aekit.load(tmp_path / "lad")
    assert set(clf.classes_) <= set("abcdefghij") and clf.n_unlabelled_ > 250


def test_labels_per_class_takes_unsigned_labels(tmp_path):
    # MNIST ships uint8 labels, which cannot hold -1.
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    np.savez(tmp_path / "u8.npz", X=X[:400].astype(np.float32), y=y[:400].astype(np.uint8))
    result = invoke("train-ladder", "--data", tmp_path / "u8.npz", "--labels-per-class", "3",
                    "--hidden", "16", *FAST, "--out", tmp_path / "lad")
    assert_ok(result)
    assert json.loads((tmp_path / "lad" / "metrics.json").read_text())["labelled_rows"][
        "train"] == 30


def test_test_size_keeps_more_of_a_file_s_few_labels_for_training(tmp_path, few_labels_csv):
    path, has_label = few_labels_csv
    result = invoke("train-ladder", "--data", path, "--label", "digit", "--hidden", "16",
                    "--test-size", "0.05", *FAST, "--out", tmp_path / "lad")
    assert_ok(result)
    m = json.loads((tmp_path / "lad" / "metrics.json").read_text())
    assert m["dataset"]["options"]["test_size"] == 0.05
    assert m["dataset"]["test_shape"][0] == round(0.05 * len(has_label))
    # more of the labels train than with the default 20% test split
    default = load_dataset(path, label="digit")
    assert m["labelled_rows"]["train"] > int((~pd.isna(default.y_train)).sum())
    data = load_dataset(path, label="digit", test_size=0.05)
    assert m["test_accuracy"] == pytest.approx(
        aekit.load(tmp_path / "lad").score(data.X_test[~pd.isna(data.y_test)],
                                           data.y_test[~pd.isna(data.y_test)].astype(int)))
    for bad, words in ((["--test-size", "1.5"], "between 0 and 1"),
                       (["--data", "digits", "--test-size", "0.1"], "standard")):
        args = ["--data", path, "--label", "digit", *bad] if bad[0] != "--data" else bad
        out = invoke("train-ladder", *args, *FAST, "--out", tmp_path / "bad")
        assert out.exit_code == 2 and words in out.output, out.output


def test_compare_reads_a_file_with_the_run_s_test_size(tmp_path):
    path = tmp_path / "t.csv"
    rng = np.random.default_rng(0)
    path.write_text("a,b,c\n" + "".join(f"{x:.4f},{y:.4f},{z:.4f}\n"
                                        for x, y, z in rng.random((400, 3))))
    assert_ok(invoke("train", "--data", path, "--components", "1", "--epochs", "2",
                     "--test-size", "0.05", "--out", tmp_path / "run"))
    compared = invoke("compare", tmp_path / "run", "--data", path)
    assert_ok(compared)
    assert "20 rows (PCA fitted on the 380 train rows)" in compared.stdout


def test_labels_per_class_keeps_that_many_labels_of_each_class(tmp_path):
    result = invoke("train-ladder", "--data", "digits", "--labels-per-class", "5",
                    "--hidden", "16", *FAST, "--out", tmp_path / "lad")
    assert_ok(result)
    m = json.loads((tmp_path / "lad" / "metrics.json").read_text())
    assert m["labels_per_class"] == 5
    assert m["labelled_rows"] == {"train": 50, "test": 450}  # the test rows keep theirs
    assert m["unlabelled_rows"] == {"train": 1297, "test": 0}
    assert aekit.load(tmp_path / "lad").n_labelled_ == 50
    assert "train" in result.stdout and "50 labelled rows, 1297 unlabelled" in result.stdout
    for command in ("compare", "report"):  # a classifier has no codes: said, no traceback
        assert_one_line_error(invoke(command, tmp_path / "lad", "--data", "digits"),
                              "LadderClassifier", "aekit train")


def test_the_ladder_s_list_options_parse_and_bad_ones_say_the_form(tmp_path):
    result = invoke("train-ladder", "--data", "digits", "--labels-per-class", "5",
                    "--conv-layers", "4:3:2", "--image-shape", "8,8", "--hidden", "",
                    "--epochs", "1", "--seed", "0", "--device", "cpu", "--out", tmp_path / "c")
    assert_ok(result)
    clf = aekit.load(tmp_path / "c")
    assert clf.conv_layers == ((4, 3, 2),) and clf.image_shape_ == (1, 8, 8)
    costs = invoke("train-ladder", "--data", "digits", "--hidden", "8",
                   "--denoising-costs", "100,1,0.5", "--epochs", "1", "--out", tmp_path / "d")
    assert_ok(costs)
    assert aekit.load(tmp_path / "d").denoising_costs == (100.0, 1.0, 0.5)
    hog = invoke("train-ladder", "--data", "digits", "--labels-per-class", "5",
                 "--image-features", "histograms", "--hidden", "8", "--epochs", "1",
                 "--out", tmp_path / "h")
    assert_ok(hog)  # the digits' image shape comes from the dataset
    clf = aekit.load(tmp_path / "h")
    assert clf.image_features == "histograms" and clf.image_shape_ == (1, 8, 8)
    assert clf.module_.sizes[0] == 64 + 9
    bad = invoke("train-ladder", "--data", "digits", "--conv-layers", "4x3", "--out",
                 tmp_path / "e")
    assert bad.exit_code == 2 and "filters:kernel:pool" in bad.output
    bad = invoke("train-ladder", "--data", "digits", "--denoising-costs", "1,a",
                 "--out", tmp_path / "e")
    assert bad.exit_code == 2 and "comma-separated list of numbers" in bad.output


def test_library_advice_is_spelled_as_the_command_takes_it():
    train = typer.main.get_command(app).commands["train"]
    spell = cli_options.cli_spelling
    assert spell("fit with missing='impute' to fill them", train) == (
        "fit with --missing impute to fill them")
    assert spell("patience=3 has no effect with early_stopping=False: it acts only with "
                 "early_stopping=True.", train) == (
        "--patience 3 has no effect with --no-early-stopping: it acts only with "
        "--early-stopping.")
    assert spell("max_epochs=5, random_state=0", train) == "--epochs 5, --seed 0"
    assert spell("pass header=True; header=False", train) == "pass --header yes; --header no"
    # A value a shell would split is quoted: one column, not two words.
    assert spell("leave it out (drop='Unnamed: 0')", train) == "leave it out (--drop 'Unnamed: 0')"
    # Python stays Python: calls, names the command has no option for, None, tuples.
    for python in ("AutoEncoder(missing='impute', n_components=2)",
                   "pd.read_csv(path, decimal=',')", "warm_start=False", "scaler=None",
                   "hidden_layer_sizes=(64, 32)"):
        assert spell(python, train) == python
    assert spell("missing='impute'", None) == "missing='impute'"


def test_the_drop_a_warning_advises_for_two_index_columns_silences_it(tmp_path):
    # A file read with pandas and written again holds two row-index columns: the library
    # says drop=[...] of both, which the command takes as one comma-separated --drop.
    import shlex

    path = tmp_path / "x.csv"
    pd.DataFrame(np.random.RandomState(0).rand(40, 3), columns=["a", "b", "c"]).to_csv(path)
    pd.read_csv(path).to_csv(path)
    fit = ["train", "--data", path, "--epochs", 1, "--seed", "0", "--device", "cpu"]
    warned = invoke(*fit, "--out", tmp_path / "r")
    assert_ok(warned)
    advice = re.search(r"\(--drop (.*?)\) or write", warned.output)
    assert advice, warned.output
    dropped = invoke(*fit, "--drop", *shlex.split(advice[1]), "--out", tmp_path / "d")
    assert_ok(dropped)
    assert "row numbers" not in dropped.output
    assert json.loads((tmp_path / "d" / "metrics.json").read_text())["dataset"][
        "train_shape"][1] == 3


def test_a_first_row_of_numbers_that_may_be_names_is_warned_of_with_the_option(tmp_path):
    import pandas as pd

    path = tmp_path / "x.csv"
    pd.DataFrame(np.random.RandomState(0).rand(40, 4)).to_csv(path, index=False)
    result = invoke("train", "--data", path, "--epochs", 1, "--out", tmp_path / "r")
    assert_ok(result)
    assert "first row (0, 1, 2, ...) as data" in result.output
    assert "pass --header yes" in result.output and "--header no" in result.output


def test_codes_with_leading_zeros_are_warned_of_with_the_option(tmp_path):
    rng = np.random.RandomState(0)
    path = tmp_path / "z.csv"
    path.write_text("zip,a,b\n" + "".join(f"{z:05d},{x:.3f},{y:.3f}\n" for z, x, y in zip(
        rng.randint(0, 99999, 40), rng.rand(40), rng.rand(40))))
    result = invoke("train", "--data", path, "--epochs", 1, "--out", tmp_path / "r")
    assert_ok(result)
    assert "'zip' hold whole numbers written with leading zeros" in result.output
    assert "--drop zip" in result.output and "dtype={'zip': str}" in result.output


def test_a_library_error_names_the_command_s_options(tmp_path):
    # The library's message said "use scaler='minmax' ... or use loss='mse'".
    result = invoke("train", "--data", "digits", "--out", tmp_path / "r", "--epochs", 1,
                    "--loss", "bce", "--scaler", "standard")
    assert_one_line_error(result, "use --scaler minmax", "or use --loss mse")
