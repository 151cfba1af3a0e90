"""The first hour with real files (issue 20): labels read right, tables with missing cells
through the command line, the user's column names, missing cells in the numbers, verdicts
with their uncertainty, compare_with_pca's edge cases, compressed files, the bottleneck's
activation and the seed's Keras recipe."""

from __future__ import annotations

import gzip
import json
import warnings

import numpy as np
import pandas as pd
import pytest

from aekit import AutoEncoder
from aekit.anomaly.metrics import AmbiguousLabels, anomaly_labels, detection_metrics

from conftest import assert_ok, assert_one_line_error, invoke

FAST = ["--max-epochs", "10", "--seed", "0", "--device", "cpu"]


# --------------------------------------------------------------------------- 1. labels
def kdd_like(n=400, seed=0):
    """A table shaped like KDD Cup 99 as it ships: no header, a text column, labels with a
    trailing period, most rows attacks (``smurf.``), the normal rows (``normal.``) a
    minority, each attack far from the normal rows."""
    rng = np.random.default_rng(seed)
    kind = rng.choice(["normal.", "smurf.", "neptune."], size=n, p=[0.3, 0.5, 0.2])
    X = rng.normal(size=(n, 4))
    X[kind == "smurf."] += 4.0
    X[kind == "neptune."] -= 4.0
    proto = np.where(kind == "normal.", "tcp", rng.choice(["icmp", "udp"], size=n))
    frame = pd.DataFrame(X.round(5))
    frame.insert(1, "p", proto)
    frame["label"] = kind
    return frame, kind


@pytest.fixture(scope="module")
def kdd_file(tmp_path_factory):
    frame, kind = kdd_like()
    path = tmp_path_factory.mktemp("kdd") / "kddcup.csv"
    frame.to_csv(path, header=False, index=False)
    return path, kind


def test_anomaly_labels_reads_kdd_labels_and_refuses_to_guess():
    y = np.array(["smurf.", "normal.", "smurf.", "neptune.", "smurf."])
    assert anomaly_labels(y).tolist() == [True, False, True, True, True]
    assert anomaly_labels([" Benign", "attack", "attack"]).tolist() == [False, True, True]
    # No value named normal: the most frequent one is not a safe guess.
    with pytest.raises(AmbiguousLabels, match=r"'a' \(2 rows\).*normal=VALUE"):
        anomaly_labels(["a", "b", "a", "c"])
    assert anomaly_labels(["a", "b", "a", "c"], normal="a").tolist() == [False, True,
                                                                         False, True]
    assert anomaly_labels(["a", "b", "a", "c"], anomaly="c").tolist() == [False, False,
                                                                          False, True]
    assert anomaly_labels([3, 5, 3], normal="5").tolist() == [True, False, True]  # by text
    with pytest.raises(ValueError, match="neither"):
        anomaly_labels(["a", "b", "c"], normal="a", anomaly="b")
    with pytest.raises(ValueError, match="not among"):
        anomaly_labels(["a", "b"], normal="x")


def test_detect_and_score_read_kdd_labels(kdd_file, tmp_path):
    path, kind = kdd_file
    run = tmp_path / "det"
    result = invoke("detect", "--data", path, "--label", "6", *FAST, "--out", run)
    assert_ok(result)
    # One line says which value is normal; the ROC-AUC is measured against it.
    assert "labels taken as normal: 'normal.'" in result.stdout, result.stdout
    metrics = json.loads((run / "metrics.json").read_text())
    truth = kind != "normal."
    assert metrics["labels"]["n_anomalies"] == int(truth.sum())
    assert metrics["labels"]["roc_auc"] > 0.6
    scores = pd.read_csv(run / "scores.csv")["anomaly_score"].to_numpy()
    assert metrics["labels"]["roc_auc"] == pytest.approx(
        detection_metrics(truth, scores)["roc_auc"], abs=1e-6)
    result = invoke("score", run, path, "--label", "6", "--out", tmp_path / "s.csv")
    assert_ok(result)
    assert "normal: 'normal.'" in result.stdout
    auc = float(result.stdout.split("ROC-AUC ")[1].split()[0].rstrip(","))
    assert auc == pytest.approx(metrics["labels"]["roc_auc"], abs=1e-3)


def test_cli_refuses_to_guess_the_normal_label(kdd_file, tmp_path):
    path, kind = kdd_file
    relabelled = tmp_path / "relabelled.csv"
    frame = pd.read_csv(path, header=None)
    frame[5] = frame[5].str.replace("normal.", "ok.")
    frame.to_csv(relabelled, header=False, index=False)
    result = invoke("detect", "--data", relabelled, "--label", "6", *FAST, "--out",
                    tmp_path / "r")
    assert_one_line_error(result, "'smurf.'", "'ok.'", "--normal VALUE", "--anomaly VALUE")
    result = invoke("detect", "--data", relabelled, "--label", "6", "--normal", "ok.",
                    *FAST, "--out", tmp_path / "r")
    assert_ok(result)
    assert "normal: 'ok.'" in result.stdout
    metrics = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert metrics["labels"]["n_anomalies"] == int((kind != "normal.").sum())
    result = invoke("detect", "--data", relabelled, "--label", "6", "--normal", "nope",
                    *FAST, "--out", tmp_path / "r2")
    assert_one_line_error(result, "--normal 'nope'", "'ok.'")


# --------------------------------------------------------------------------- 2. --missing
def test_detect_screens_a_table_with_missing_cells(tmp_path):
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(rng.normal(size=(200, 4)), columns=["a", "b", "c", "d"])
    frame["kind"] = rng.choice(["x", "y"], size=200)
    frame.loc[rng.choice(200, 40, replace=False), "b"] = np.nan  # 20% missing
    frame.loc[:2, ["a", "c"]] = 9.0  # three far rows
    path = tmp_path / "gaps.csv"
    frame.to_csv(path, index=False)
    result = invoke("detect", "--data", path, *FAST, "--out", tmp_path / "err")
    assert_one_line_error(result, "missing", "--missing impute")
    assert "Pipeline" not in result.stderr
    run = tmp_path / "det"
    result = invoke("detect", "--data", path, "--missing", "impute", *FAST, "--out", run)
    assert_ok(result)
    scores = pd.read_csv(run / "scores.csv")["anomaly_score"].to_numpy()
    assert np.isfinite(scores).all()
    assert set(np.argsort(-scores)[:3]) == {0, 1, 2}
    # The saved detector imputes as fitted: scoring the same file gives the same scores.
    assert_ok(invoke("score", run, path, "--out", tmp_path / "s.csv"))
    again = pd.read_csv(tmp_path / "s.csv")["anomaly_score"].to_numpy()
    np.testing.assert_allclose(again, scores, rtol=1e-5)


# --------------------------------------------------------------------------- 3, 4. names, gaps
def shop_table(n=240, seed=0, missing=0.2):
    """A diamonds-like table whose numeric columns are not its first ones: two text columns,
    then carat, depth and a wide price column with ``missing`` of its cells empty."""
    rng = np.random.default_rng(seed)
    carat = rng.gamma(2.0, 0.4, n)
    frame = pd.DataFrame({
        "cut": rng.choice(["Fair", "Good", "Ideal"], n),
        "clarity": rng.choice(["SI1", "VS2", "IF"], n),
        "carat": carat,
        "depth": 61 + rng.normal(0, 1.2, n),
        "price": 4000 * carat + rng.normal(0, 300, n) + 500,
    })
    frame.loc[rng.choice(n, int(missing * n), replace=False), "price"] = np.nan
    return frame


@pytest.fixture(scope="module")
def shop_model():
    frame = shop_table()
    train, test = frame.iloc[:180], frame.iloc[180:]
    est = AutoEncoder(n_components=2, max_epochs=40, missing="impute", random_state=0,
                      device="cpu").fit(train)
    return est, train, test


def test_diagnostics_name_the_users_columns():
    from aekit import diagnose

    train = shop_table(n=150, missing=0.0)
    est = AutoEncoder(n_components=2, max_epochs=5, random_state=0, device="cpu").fit(train)
    text = str(diagnose(est, train))
    # price is the frame's column 4 and the numeric columns' 2: named, never numbered.
    assert "'price'" in text, text
    assert "feature 2" not in text and "feature 4" not in text, text


def test_missing_cells_are_left_out_of_every_number(shop_model, tmp_path):
    from aekit import compare_with_pca
    from aekit.evaluation.metrics import r2_per_feature
    from aekit.plotting import feature_scatter
    from aekit.runs import write_run

    est, train, test = shop_model
    cmp = compare_with_pca(est, train, test)
    assert np.isfinite(cmp.ae_mse) and np.isfinite(cmp.pca_mse), cmp
    assert np.isfinite(cmp.ae_row_sse) and np.isfinite(cmp.ae_error)
    json.dumps(cmp.to_dict(), allow_nan=False)
    # User-unit MSE on the observed cells: what the reconstructions miss there.
    numeric = ["carat", "depth", "price"]
    X, R = test[numeric].to_numpy(), est.reconstruct(test)[numeric].to_numpy()
    assert cmp.ae_mse == pytest.approx(np.nanmean((X - R) ** 2))
    # An R² over observed cells, not 1.0 from NaN sums.
    r2 = r2_per_feature(X, R)
    seen = ~np.isnan(X[:, 2])
    assert r2[2] == pytest.approx(r2_per_feature(X[seen, 2:], R[seen, 2:])[0])
    assert r2[2] < 1.0
    # The per-column plot's titles say what the comparison's table says.
    fig = feature_scatter(est, test, r2={c: (a, p) for c, a, p in
                                         zip(cmp.columns, cmp.ae_r2, cmp.pca_r2)})
    titles = {ax.get_title().split("\n")[0]: ax.get_title() for ax in fig.axes}
    j = list(cmp.columns).index("price")
    assert f"R² AE {cmp.ae_r2[j]:.3f}" in titles["price"]
    # metrics.json never holds NaN (not JSON): a number that cannot be measured is null.
    write_run(tmp_path / "run", est, {"comparison": {"ae_mse": float("nan")}, "n": np.int64(3)})
    text = (tmp_path / "run" / "metrics.json").read_text()
    metrics = json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} in metrics.json"))
    assert metrics["comparison"]["ae_mse"] is None and metrics["n"] == 3


# --------------------------------------------------------------------------- 5. uncertainty
def test_verdict_says_no_clear_winner_when_the_interval_spans_one():
    from aekit.evaluation.metrics import compare_reconstructions, ratio_interval

    rng = np.random.default_rng(0)
    S = rng.normal(size=(48, 12))
    slots = [(f"c{j}", "numeric", np.array([j])) for j in range(12)]
    # The same errors on other rows, 3% apart in total: on 48 rows, that is noise.
    E = rng.normal(0, 0.5, S.shape) * rng.gamma(2.0, size=(48, 1))
    S_ae, S_pca = S + E, S + E[rng.permutation(48)] * 0.985
    cmp = compare_reconstructions(2, slots, S, S_ae, S_pca, S, S_ae, S_pca)
    lo, hi = cmp.ratio_interval
    assert lo < 1 < hi and not cmp.clear
    assert cmp.verdict.startswith("no clear winner"), cmp.verdict
    assert "95% interval" in cmp.verdict and "48 test rows" in cmp.verdict
    assert "no clear winner" in str(cmp)
    # A real difference is called, with its interval.
    S_good = S + rng.normal(0, 0.2, S.shape)
    clear = compare_reconstructions(2, slots, S, S_good, S_pca, S, S_good, S_pca)
    assert clear.clear and clear.ratio_interval[1] < 1
    assert "lower error than PCA" in clear.verdict and "95% interval" in clear.verdict
    assert clear.to_dict()["clear_winner"] is True
    # The interval is a paired bootstrap of the ratio: it holds the ratio itself.
    a, p = rng.gamma(2, size=200), rng.gamma(2, size=200)
    lo, hi = ratio_interval(a, p)
    assert lo < a.sum() / p.sum() < hi


def test_a_column_below_r2_zero_is_a_finding_on_a_50_row_table():
    from aekit import diagnose

    rng = np.random.default_rng(3)
    frame = pd.DataFrame(rng.normal(size=(50, 5)), columns=list("vwxyz"))
    frame.insert(0, "group", rng.choice(["a", "b"], 50))
    # Barely trained: its reconstructions are worse than each column's mean.
    est = AutoEncoder(n_components=1, max_epochs=1, learning_rate=1e-5, random_state=0,
                      device="cpu").fit(frame)
    diagnosis = diagnose(est, frame)
    found = diagnosis.get("worse_than_mean")
    assert found is not None, str(diagnosis)
    assert "columns are reconstructed worse" in found.what_was_seen
    assert "R² < 0 on the 50 rows diagnosed" in found.what_was_seen
    assert any(f"'{c}'" in found.what_was_seen for c in "vwxyz"), found.what_was_seen
    assert "No problems found" not in str(diagnosis)


# --------------------------------------------------------------------------- 6. edge cases
def test_compare_with_pca_when_pca_is_exact_or_the_code_over_complete():
    from aekit import compare_with_pca

    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 4)) @ rng.normal(size=(4, 4))
    for k in (4, 6):  # as many components as features; more (over-complete)
        est = AutoEncoder(n_components=k, max_epochs=5, random_state=0, device="cpu")
        cmp = compare_with_pca(est, X[:90], X[90:])
        assert cmp.pca_exact and cmp.pca_error == 0.0 and cmp.pca_mse == 0.0
        assert "PCA is exact" in cmp.verdict and "e+" not in cmp.verdict, cmp.verdict
        assert cmp.winner == "PCA" and cmp.ae_error > 0
        json.dumps(json.loads(json.dumps(cmp.to_dict(), default=str)))


# --------------------------------------------------------------------------- 7. units
def test_images_lead_with_the_callers_units(digits, tmp_path):
    from aekit import compare_with_pca
    from aekit.data import load_dataset
    from aekit.evaluation.metrics import PCAComparison
    from aekit.runs import fit_run

    X_train, X_test, _, _ = digits
    est = AutoEncoder(n_components=2, max_epochs=3, random_state=0, device="cpu")
    est.fit(X_train[:300])
    cmp = compare_with_pca(est, X_train[:300], X_test[:100], shared_unit=True)
    assert cmp.shared_unit and cmp.unit == "raw"
    assert cmp.ae_error == cmp.ae_mse and cmp.ratio == pytest.approx(cmp.ae_mse / cmp.pca_mse)
    assert "(your units" in cmp.verdict
    # Rows without a shared unit keep the scaled headline.
    assert compare_with_pca(est, X_train[:300], X_test[:100]).unit == "scaled"
    # A run on an image dataset leads with pixels.
    run = fit_run(AutoEncoder(n_components=2, max_epochs=2, random_state=0, device="cpu"),
                  load_dataset("digits", rows=200), tmp_path / "run")
    assert run.metrics["comparison"]["unit"] == "raw"
    # Where the two units rank the models in opposite orders, both are shown.
    both = PCAComparison(2, 0.9, 1.0, 57.6, 64.0, 1.1, 1.0, shared_unit=True)
    assert both.winner == "autoencoder" and "in scaled units the order is reversed" in \
        both.verdict, both.verdict


# --------------------------------------------------------------------------- 8. Keras recipe
def test_the_keras_recipe_works_as_written(digits):
    from aekit import compare_with_pca

    X_train, X_test, _, _ = digits  # pixels in [0, 1]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning: the sigmoid reaches every pixel
        ae = AutoEncoder(n_components=2, hidden_layer_sizes=(512, 128),
                         output_activation="sigmoid", max_epochs=20, random_state=0,
                         device="cpu").fit(X_train[:700])
    S = ae.to_scaled(X_test)
    assert S.min() >= 0 and S.max() <= 1  # kept in [0, 1], not standardised
    np.testing.assert_allclose(S, X_test, atol=1e-6)
    cmp = compare_with_pca(ae, X_train[:700], X_test, shared_unit=True)
    assert cmp.ratio < 1.0, cmp.verdict  # beats PCA with the same 2 numbers per image
    # Data outside [0, 1] are standardised as before (the sigmoid's output is then
    # another matter: output_activation='auto' picks linear).
    wide = AutoEncoder(n_components=2, output_activation="sigmoid", max_epochs=1,
                       random_state=0, device="cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wide.fit(X_train[:100] * 16)
    assert wide.to_scaled(X_train[:100] * 16).min() < 0


# --------------------------------------------------------------------------- 9. files
@pytest.mark.parametrize("suffix", [".gz", ".bz2", ".xz", ".zip", ".zst"])
def test_compressed_tables_are_read(tmp_path, suffix):
    from aekit.data import load_dataset, read_table

    if suffix == ".zst":
        pytest.importorskip("zstandard", reason="reading .zst needs the zstandard package")
    frame, _ = kdd_like(60)
    plain = tmp_path / "kdd.csv"
    frame.to_csv(plain, header=False, index=False)
    packed = tmp_path / f"kdd.csv{suffix}"
    frame.to_csv(packed, header=False, index=False)  # pandas compresses by the suffix
    expected = read_table(plain)
    got = read_table(packed)
    pd.testing.assert_frame_equal(got, expected)
    ds = load_dataset(packed, label="6")
    assert len(ds.X_train) + len(ds.X_test) == 60 and ds.options["label"] == "6"


def test_detect_reads_a_gzipped_csv(kdd_file, tmp_path):
    path, kind = kdd_file
    packed = tmp_path / "kddcup.csv.gz"
    packed.write_bytes(gzip.compress(path.read_bytes()))
    result = invoke("detect", "--data", packed, "--label", "6", *FAST, "--out", tmp_path / "d")
    assert_ok(result)
    metrics = json.loads((tmp_path / "d" / "metrics.json").read_text())
    assert metrics["labels"]["n_anomalies"] == int((kind != "normal.").sum())
    bad = tmp_path / "broken.csv.gz"
    bad.write_bytes(gzip.compress(path.read_bytes())[:200])
    assert_one_line_error(invoke("detect", "--data", bad, *FAST, "--out", tmp_path / "b"),
                          "broken.csv.gz")


def test_integer_column_names_do_not_warn_on_every_transform():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(60, 4)))  # pd.read_csv(..., header=None)
    est = AutoEncoder(n_components=2, max_epochs=2, random_state=0, device="cpu").fit(frame)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        est.transform(frame)
        est.score_samples(frame)


# --------------------------------------------------------------------------- 10. code layer
def test_code_activation_shapes_the_bottleneck(digits, tmp_path):
    import torch

    import aekit

    X_train = digits[0][:300]
    for name, low, high in (("tanh", -1, 1), ("relu", 0, np.inf), ("sigmoid", 0, 1)):
        est = AutoEncoder(n_components=3, code_activation=name, max_epochs=3, random_state=0,
                          device="cpu").fit(X_train)
        Z = est.transform(X_train)
        assert Z.min() >= low and Z.max() <= high, (name, Z.min(), Z.max())
        code_layer = [m for m in est.module_.encoder if not isinstance(m, torch.nn.Dropout)][-1]
        assert type(code_layer).__name__.lower().startswith(name[:4])
    est.save(tmp_path / "m")  # the sigmoid one: saved and loaded with its code layer
    again = aekit.load(tmp_path / "m")
    assert again.code_activation == "sigmoid"
    np.testing.assert_allclose(again.transform(X_train), Z, rtol=1e-5, atol=1e-6)
    linear = AutoEncoder(n_components=3, max_epochs=1, random_state=0, device="cpu")
    assert linear.fit(X_train).transform(X_train).min() < 0  # None: linear, as before
    with pytest.raises(ValueError, match="sparsity='kl' needs"):
        AutoEncoder(code_activation="tanh", sparsity="kl", max_epochs=1).fit(X_train)
    with pytest.raises(ValueError, match="code_activation"):
        AutoEncoder(code_activation="swishy", max_epochs=1).fit(X_train)


def test_cli_takes_code_activation(tmp_path):
    import aekit

    result = invoke("train", "--help")
    assert "--code-activation" in result.output
    run = tmp_path / "run"
    result = invoke("train", "--data", "digits", "--rows", "120", "--components", "2",
                    "--code-activation", "tanh", "--epochs", "1", "--seed", "0", "--device",
                    "cpu", "--out", run)
    assert_ok(result)
    assert aekit.load(run).code_activation == "tanh"
    assert_one_line_error(invoke("train", "--data", "digits", "--code-activation", "nope",
                                 "--out", tmp_path / "bad"), "code_activation", "nope")
