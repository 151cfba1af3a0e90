"""Detectors end to end: `aekit detect` and `aekit score`, their run, scores file and report,
the detector plots, and one-line errors."""

from __future__ import annotations

import csv
import json

import numpy as np
import sklearn
import pytest
import typer.main
from matplotlib.figure import Figure

import aekit
from aekit import OutlierDetector
from aekit.plotting import anomaly as plotting_outliers
from aekit.cli.commands import app
from aekit.anomaly.metrics import anomaly_labels, baseline_scores, detection_metrics
from aekit.report.detector import build_detector_report

from conftest import assert_ok, assert_one_line_error, invoke

FAST = ["--max-epochs", "10", "--seed", "0", "--device", "cpu"]


def blobs(n=300, seed=0, n_anomalies=10):
    """Two Gaussian clusters in 5 columns, and ``n_anomalies`` rows far from both (first)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5)) + np.where(rng.random((n, 1)) < 0.5, 3.0, -3.0)
    X[:n_anomalies] = rng.uniform(-12, 12, size=(n_anomalies, 5))
    y = np.zeros(n, int)
    y[:n_anomalies] = 1
    return X, y


@pytest.fixture(scope="module")
def csv_file(tmp_path_factory):
    X, y = blobs()
    path = tmp_path_factory.mktemp("data") / "rows.csv"
    header = ",".join([f"c{j}" for j in range(5)] + ["is_anomaly"])
    np.savetxt(path, np.column_stack([X, y]), delimiter=",", header=header, comments="",
               fmt="%.8g")
    return path, X, y


@pytest.fixture(scope="module")
def detect_run(csv_file, tmp_path_factory):
    path, _, _ = csv_file
    run = tmp_path_factory.mktemp("runs") / "det"
    result = invoke("detect", "--data", path, "--label", "is_anomaly", "--contamination",
                    "0.05", *FAST, "--out", run)
    assert_ok(result)
    return run, result


def read_scores(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


# --------------------------------------------------------------------------- detect
def test_detect_writes_the_run(detect_run, csv_file):
    run, result = detect_run
    _, X, y = csv_file
    names = {p.name for p in run.iterdir()}
    assert {"config.json", "metrics.json", "loss.png", "scores.csv", "report.html"} <= names
    assert any(n.startswith("model-") and n.endswith(".safetensors") for n in names)
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["dataset"] == {"name": "rows.csv", "shape": [300, 5]}
    assert metrics["n_flagged"] == 15 and metrics["share_flagged"] == pytest.approx(0.05)
    assert metrics["labels"]["n_anomalies"] == 10 and metrics["labels"]["roc_auc"] > 0.95
    rows = read_scores(run / "scores.csv")
    assert len(rows) == 300
    assert list(rows[0]) == ["row", "anomaly_score", "label", "feature_1", "share_1",
                             "feature_2", "share_2", "feature_3", "share_3"]
    assert sum(r["label"] == "-1" for r in rows) == 15
    assert all(r["feature_1"] in {f"c{j}" for j in range(5)} for r in rows)  # label kept out
    assert "ROC-AUC" in result.stdout and "flagged" in result.stdout
    html = (run / "report.html").read_text()
    for section in ("Anomaly scores", "Top anomalies", "Against the labels", "iforest",
                    "Training", "Parameters"):
        assert section in html
    assert "every detector is fitted and scored on the same rows" in html  # it was
    assert 'class="plot-error"' not in html


def test_score_matches_the_run_and_loads_the_model(detect_run, csv_file, tmp_path):
    run, _ = detect_run
    path, _, _ = csv_file
    out = tmp_path / "scores.csv"
    assert_ok(invoke("score", run, path, "--label", "is_anomaly", "--out", out, "--top", 2))
    rows = read_scores(out)
    first = read_scores(run / "scores.csv")
    assert [r["anomaly_score"] for r in rows] == [r["anomaly_score"] for r in first]
    assert list(rows[0])[-1] == "share_2"
    # The same as the loaded detector's own scores of the file's rows.
    pd = pytest.importorskip("pandas")
    det = aekit.load(run)
    X_file = pd.read_csv(path).drop(columns="is_anomaly")
    np.testing.assert_allclose([float(r["anomaly_score"]) for r in rows],
                               -det.score_samples(X_file), rtol=1e-7)


def test_score_leaves_extra_columns_out(detect_run, csv_file, tmp_path):
    run, _ = detect_run
    path, _, _ = csv_file  # its is_anomaly column is no column of the model
    assert_ok(invoke("score", run, path, "--out", tmp_path / "s.csv"))
    assert len(read_scores(tmp_path / "s.csv")) == 300


def test_score_a_file_without_header(detect_run, csv_file, tmp_path):
    run, _ = detect_run
    _, X, _ = csv_file
    bare = tmp_path / "bare.csv"
    np.savetxt(bare, X, delimiter=",", fmt="%.8g")
    result = invoke("score", run, bare, "--out", tmp_path / "s.csv")
    assert_ok(result)
    assert "flagged" in result.stdout and "Warning" not in result.output


def test_detect_options_are_the_detectors_parameters():
    detect = typer.main.get_command(app).commands["detect"]
    options = {p.name for p in detect.params}
    python_only = {"callbacks"}  # Callback objects: Python code, not a command-line value
    assert set(OutlierDetector().get_params()) - python_only <= options
    assert not python_only & options


@pytest.mark.parametrize("args, words", [
    (["--contamination", "lots"], ["--contamination", "neither a number"]),
    (["--contamination", "0.9"], ["contamination", "0.5"]),
    (["--label", "nope"], ["no column named 'nope'", "is_anomaly"]),
])
def test_detect_bad_arguments(csv_file, tmp_path, args, words):
    path, _, _ = csv_file
    assert_one_line_error(invoke("detect", "--data", path, *args, "--out", tmp_path / "r"),
                          *words)


def test_detect_bad_files(tmp_path):
    missing = tmp_path / "missing.csv"
    assert_one_line_error(invoke("detect", "--data", missing, "--out", tmp_path / "r"),
                          "no such file")
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("a,b\n1,2\n3,4,5\n")
    assert_one_line_error(invoke("detect", "--data", ragged, "--out", tmp_path / "r"),
                          "line 3")
    nan = tmp_path / "nan.csv"
    nan.write_text("a,b\n1,2\n3,\n4,5\n6,7\n")
    # Named by the file's line number (the DataFrame's index) and the column's name.
    assert_one_line_error(invoke("detect", "--data", nan, "--out", tmp_path / "r"),
                          "NaN", "[3]", "'b'")
    bad = tmp_path / "rows.npz"
    np.savez(bad, X=np.zeros((5, 2)))
    assert_one_line_error(invoke("detect", "--data", bad, "--label", "y", "--out",
                                 tmp_path / "r"), "label", "text file")


def test_score_bad_inputs(detect_run, csv_file, tmp_path):
    run, _ = detect_run
    path, _, _ = csv_file
    assert_one_line_error(invoke("score", run, path, "--out", tmp_path / "s.npy"), ".csv")
    # A file lacking one of the model's columns: named in the error.
    narrow = tmp_path / "narrow.csv"
    narrow.write_text("c0,c1,c2,c3\n1,2,3,4\n")
    assert_one_line_error(invoke("score", run, narrow, "--out", tmp_path / "s.csv"), "'c4'")
    wide = tmp_path / "wide.csv"
    np.savetxt(wide, np.zeros((4, 7)), delimiter=",")
    assert_one_line_error(invoke("score", run, wide, "--out", tmp_path / "s.csv"), "'c0'")
    # The autoencoder commands refuse a detector's run, in one line.
    assert_one_line_error(invoke("encode", run, path, "--out", tmp_path / "c.npy"),
                          "OutlierDetector", "aekit score")
    assert_one_line_error(invoke("report", run, "--data", path), "OutlierDetector")
    ae_run = tmp_path / "ae"
    aekit.AutoEncoder(max_epochs=1, random_state=0).fit(np.random.rand(20, 5)).save(ae_run)
    assert_one_line_error(invoke("score", ae_run, path, "--out", tmp_path / "s.csv"),
                          "not an OutlierDetector")


def test_score_matches_a_parquet_file_s_columns_by_name(detect_run, csv_file, tmp_path):
    pd = pytest.importorskip("pandas")
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    run, _ = detect_run
    path, _, _ = csv_file
    frame = pd.read_csv(path).drop(columns="is_anomaly")  # the very numbers of the CSV
    for name, rows in (("same", frame), ("reversed", frame[frame.columns[::-1]]),
                       ("renamed", frame.set_axis(list("vwxyz"), axis=1))):
        pq.write_table(pa.Table.from_pandas(rows, preserve_index=False),
                       tmp_path / f"{name}.parquet", row_group_size=100)
    # The fitted order: the CSV's scores and top columns, with no warning.
    result = invoke("score", run, tmp_path / "same.parquet", "--out", tmp_path / "p.csv")
    assert_ok(result)
    assert "warning" not in result.output
    assert_ok(invoke("score", run, path, "--out", tmp_path / "c.csv"))
    from_csv, from_parquet = read_scores(tmp_path / "c.csv"), read_scores(tmp_path / "p.csv")
    for key in ("anomaly_score", "feature_1", "feature_2"):
        assert [r[key] for r in from_parquet] == [r[key] for r in from_csv]
    assert_one_line_error(invoke("score", run, tmp_path / "reversed.parquet", "--out",
                                 tmp_path / "r.csv"),
                          "reversed.parquet", "another order", "['c4', 'c3', 'c2', 'c1', 'c0']")
    assert_one_line_error(invoke("score", run, tmp_path / "renamed.parquet", "--out",
                                 tmp_path / "r.csv"), "renamed.parquet", "unseen", "- v")
    assert not (tmp_path / "r.csv").exists()
    with pytest.raises(ValueError, match="another order"):
        aekit.load(run).score_samples(tmp_path / "reversed.parquet")


def test_score_never_writes_over_its_input_or_the_run_s_scores(detect_run, csv_file,
                                                              tmp_path):
    run, _ = detect_run
    path, _, _ = csv_file
    kept = {p: p.read_bytes() for p in (path, run / "scores.csv")}
    for overwrite in ([], ["--overwrite"]):  # which never permits these
        assert_one_line_error(invoke("score", run, path, "--out", path, *overwrite),
                              "is the input")
        assert_one_line_error(invoke("score", run, path, "--out", run / "scores.csv",
                                     *overwrite), "the run's own scores.csv")
    assert {p: p.read_bytes() for p in kept} == kept


def test_score_never_replaces_a_file_aekit_did_not_write(detect_run, csv_file, tmp_path):
    # score replaced whatever --out named: the caller's own table under another name.
    run, _ = detect_run
    path, X, _ = csv_file
    mine = tmp_path / "mine.csv"
    mine.write_bytes(b"id,note\n1,keep me\n")
    assert_one_line_error(invoke("score", run, path, "--out", mine),
                          f"--out {mine} exists and aekit did not write it; pass --overwrite "
                          "to replace it, or another path")
    assert mine.read_bytes() == b"id,note\n1,keep me\n"
    assert_ok(invoke("score", run, path, "--out", mine, "--overwrite"))
    assert len(read_scores(mine)) == len(X)


# --------------------------------------------------------------------------- pieces
def test_anomaly_labels_conventions():
    assert anomaly_labels([0, 1, 0]).tolist() == [False, True, False]
    assert anomaly_labels([1, -1, 1]).tolist() == [False, True, False]
    assert anomaly_labels(["normal", "neptune", "normal"]).tolist() == [False, True, False]
    with pytest.raises(ValueError, match="normal=VALUE"):  # no guess (issue 20)
        anomaly_labels(["a", "b", "a", "c"])
    assert anomaly_labels([3, 5, 3], normal=5).tolist() == [True, False, True]
    assert detection_metrics([False, False], [1.0, 2.0])["roc_auc"] is None


def test_detection_metrics_read_labels_as_anomaly_labels_does():
    # +1/-1 labels (predict's) were cast to bool, all True: "one class", None, silently.
    scores = [0.1, 0.9, 0.2, 0.3]
    for labels in ([1, -1, 1, 1], [0, 1, 0, 0], ["normal", "attack", "normal", "normal"]):
        assert detection_metrics(labels, scores)["roc_auc"] == 1.0
    with pytest.raises(ValueError, match="normal=VALUE"):
        detection_metrics([0, 2, 0, 0], scores)


def test_a_detector_run_reads_its_labels_as_anomaly_labels_does(tmp_path):
    # fit_detector_run cast its labels to bool: +1/-1 were all True, "n_anomalies" every
    # row and the ROC-AUC None, silently.
    from aekit.runs import fit_detector_run
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    X[:3] += 8
    labels = np.where(np.arange(60) < 3, -1, 1)
    det = OutlierDetector(n_estimators=2, max_epochs=3, random_state=0, device="cpu")
    run = fit_detector_run(det, X, tmp_path / "run", name="t", anomaly=labels)
    assert run.metrics["labels"]["n_anomalies"] == 3
    assert run.metrics["labels"]["roc_auc"] > 0.9


def test_single_valued_labels_are_read_only_where_one_convention_has_the_value():
    from aekit.anomaly.metrics import AmbiguousLabels

    # All 1: every row an anomaly (0/1) or none (+1/-1, predict()'s output flagging nothing).
    for ones in (np.ones(20, int), np.ones(4)):
        with pytest.raises(AmbiguousLabels, match=r"every label is 1 \(\d+ rows\).*normal="):
            anomaly_labels(ones)
    assert not anomaly_labels(np.ones(20, int), normal=1).any()
    assert anomaly_labels(np.ones(3, int), anomaly=1).all()
    assert not anomaly_labels(np.zeros(5, int)).any()  # 0 is only in 0/1: normal
    assert anomaly_labels(-np.ones(5, int)).all()  # -1 is only in +1/-1: anomalies


@pytest.mark.parametrize("labels, kwargs", [
    ([0, 1, np.nan, 0], {}), ([0, 1, np.nan, 0], {"normal": 0}),
    ([0.0, 1.0, np.nan], {"anomaly": 1}), (["normal", "attack", None], {}),
    (np.array(["normal", "attack", np.nan], dtype=object), {}),
])
def test_missing_labels_are_an_error_naming_their_rows(labels, kwargs):
    # An empty label cell was a value of its own: an anomaly when every row not normal is
    # one (normal=, a name like "normal"), normal with anomaly=; the ROC-AUC measured it.
    with pytest.raises(ValueError, match=r"labels are missing .* 1 row\(s\) \[2\]"):
        anomaly_labels(np.asarray(labels, dtype=object if None in labels else None),
                       **kwargs)


def test_detect_refuses_a_label_column_with_empty_cells(tmp_path):
    path = tmp_path / "rows.csv"
    X, _ = blobs(60, n_anomalies=0)
    labels = ["0"] * 59 + [""]
    path.write_text("a,b,y\n" + "".join(f"{a},{b},{y}\n" for (a, b), y in zip(X[:, :2],
                                                                               labels)))
    result = invoke("detect", "--data", path, "--label", "y", "--out", tmp_path / "run",
                    *FAST)
    assert_one_line_error(result, "labels are missing")


@pytest.mark.parametrize("name", ["iforest", "lof", "pca"])
def test_baselines_find_far_rows(name):
    X, y = blobs()
    m = detection_metrics(y == 1, baseline_scores(name, X, X))
    assert m["roc_auc"] > 0.9, m
    # scikit-learn's global pandas output reached the internal scaler and PCA: the PCA
    # baseline's scores came back a pandas Series.
    with sklearn.config_context(transform_output="pandas"):
        scores = baseline_scores(name, X, X)
    assert type(scores) is np.ndarray and scores.shape == (len(X),)


def test_plots_draw(csv_file):
    _, X, y = csv_file
    det = OutlierDetector(max_epochs=10, random_state=0, device="cpu").fit(X)
    scores = -det.score_samples(X)
    for fig in (plotting_outliers.score_histogram(scores, det.threshold_),
                plotting_outliers.score_histogram(scores, det.threshold_, y == 1),
                plotting_outliers.roc_pr_curves(y == 1, {"aekit": scores, "x": X[:, 0]}),
                plotting_outliers.contributions(np.random.rand(5, 5), list("abcde"),
                                                [f"c{j}" for j in range(5)])):
        assert isinstance(fig, Figure)
        assert any(ax.has_data() for ax in fig.axes)
    with pytest.raises(ValueError, match="one class"):
        plotting_outliers.roc_pr_curves(np.zeros(5, bool), {"a": np.arange(5.0)})


@pytest.fixture(scope="module")
def small_detector(csv_file):
    _, X, _ = csv_file
    return OutlierDetector(n_estimators=2, max_epochs=5, random_state=0, device="cpu").fit(X)


def test_report_reads_labels_in_every_convention(csv_file, small_detector):
    _, X, y = csv_file
    for labels in (y, np.where(y == 1, -1, 1), np.where(y == 1, "attack", "normal")):
        html = build_detector_report(small_detector, X, anomaly=labels)
        assert "10 labelled anomalies among 300 rows" in html, labels[:12]
    with pytest.raises(ValueError, match=r"anomaly=anomaly_labels\(y, normal=VALUE\)"):
        build_detector_report(small_detector, X, anomaly=np.where(y == 1, "b", "a"))
    with pytest.raises(ValueError, match="299 labels for 300 rows"):
        build_detector_report(small_detector, X, anomaly=y[1:])


def test_report_fits_the_baselines_on_the_detectors_training_rows(csv_file, small_detector):
    import re

    _, X, _ = csv_file
    new, y = blobs(seed=1, n_anomalies=60)
    new[:60] = 9 + 0.05 * new[:60]  # a tight cluster: fitted on it, LOF finds it normal
    y = y == 1

    def aucs(html):
        return {k: float(v) for k, v in re.findall(
            r'<tr><td>(iforest|lof|pca)</td><td class="num[^"]*">([^<]*)</td>', html)}

    ours = build_detector_report(small_detector, new, anomaly=y, X_train=X)
    assert "fitted on the same 300 training rows (the detector&#x27;s)" in ours
    for name, auc in aucs(ours).items():
        own = detection_metrics(y, baseline_scores(name, X, new))["roc_auc"]
        assert auc == pytest.approx(own, abs=1e-4), name
    alone = build_detector_report(small_detector, new, anomaly=y)
    assert "pass X_train= for that" in alone and "(fitted on these rows)" in alone
    assert "the same rows" not in alone
    assert aucs(alone)["lof"] == pytest.approx(detection_metrics(
        y, baseline_scores("lof", new, new))["roc_auc"], abs=1e-4)
    with pytest.raises(ValueError, match="fitted on 300"):
        build_detector_report(small_detector, new, anomaly=y, X_train=X[:50])


def test_the_baselines_sample_keeps_a_rare_anomaly(csv_file, small_detector, monkeypatch):
    # Above BASELINE_ROWS rows the baselines see a random sample; a plain one of rows with
    # one anomaly in 300 usually held none, and the page failed (max over None ROC-AUCs).
    import re

    from aekit.report import detector as report_detector

    monkeypatch.setattr(report_detector, "BASELINE_ROWS", 50)
    _, X, _ = csv_file
    y = np.zeros(len(X), bool)
    y[123] = True
    html = build_detector_report(small_detector, X, anomaly=y)
    assert "1 labelled anomalies among 50 rows on a random sample of 50 rows" in html
    aucs = re.findall(r'<tr><td>(aekit|iforest|lof|pca)</td><td class="num[^"]*">([^<]*)<',
                      html)
    assert len(aucs) == 4 and all(0 <= float(v) <= 1 for _, v in aucs)
    many = np.zeros(len(X), bool)
    many[::10] = True  # 30 of 300: 5 of the 50 sampled, as in the rows
    assert "5 labelled anomalies among 50 rows" in build_detector_report(
        small_detector, X, anomaly=many)


def test_too_few_labelled_anomalies_rank_no_detector(csv_file, small_detector):
    # With one labelled anomaly the ROC-AUC card read green ("good") and the table marked
    # the detectors tied at 1.0 best: a ranking the labels cannot carry.
    import re

    _, X, y = csv_file
    one = np.zeros(len(X), bool)
    one[int(np.argmax(y))] = True
    html = build_detector_report(small_detector, X, anomaly=one)
    card = re.search(r'ROC-AUC</div><div class="value"><span class="(\w+)">.*?'
                     r'<div class="note">([^<]*)</div>', html)
    assert card.group(1) == "warn"
    assert "only 1 labelled anomaly, too few to rank the detectors" in card.group(2)
    assert 'class="num best"' not in html and "none is marked best" in html
    enough = build_detector_report(small_detector, X, anomaly=y)  # 10 anomalies
    assert 'class="num best"' in enough and "too few to rank" not in enough


def test_report_says_what_set_the_threshold_and_where_a_typical_row_scores(csv_file,
                                                                           small_detector,
                                                                           tmp_path):
    import copy
    import re

    _, X, _ = csv_file
    det = copy.deepcopy(small_detector)

    def note(html):
        return re.search(r'Threshold</div><div class="value">[^<]*</div>'
                         r'<div class="note">([^<]*)', html).group(1)

    assert note(build_detector_report(det, X)).startswith("contamination=auto; about ")
    det.set_threshold(fpr=0.1, X=X[:200])
    html = build_detector_report(det, X)
    share = float(re.search(r"about ([\d.]+)% of the training rows", note(html)).group(1))
    assert note(html).startswith("set_threshold(fpr=0.1) on 200 rows; about")
    assert share == pytest.approx(100 * (det.predict(X) == -1).mean(), abs=1.0)  # fitted on X
    det.save(tmp_path / "det")  # what set it is saved with the model
    assert note(build_detector_report(aekit.load(tmp_path / "det"), X)) == note(html)
    det.set_threshold(count=3)
    assert note(build_detector_report(det, X)).startswith("set_threshold(count=3); about 1.")
    det.offset_ = small_detector.offset_  # moved by other means: no stale claim
    assert note(build_detector_report(det, X)).startswith("contamination=auto")
    # combine="rank" puts a typical training row at 0.5, not 0 as the caption said.
    median = float(re.search(r"A median training row scores (\d+(?:\.\d+)?)", html).group(1))
    assert median == pytest.approx(np.median(-det.score_samples(X)), abs=0.005)
    assert 0.3 < median < 0.7 and "0 is a typical" not in html
    fig = plotting_outliers.score_histogram(-det.score_samples(X), det.threshold_,
                                            typical=median)
    assert fig.axes[0].get_xlabel() == f"anomaly score (a median training row: {median:.3g})"


def test_report_without_labels(csv_file):
    _, X, _ = csv_file
    det = OutlierDetector(max_epochs=10, random_state=0, device="cpu").fit(X)
    html = build_detector_report(det, X)
    assert "Top anomalies" in html and "Against the labels" not in html
    assert 'class="plot-error"' not in html


@pytest.mark.slow
def test_detect_streams_a_large_npy_file(tmp_path, monkeypatch):
    # A .npy file is fitted on a sample and scored chunk by chunk: the scores file holds
    # every row, in file order, written one chunk at a time; the chunk reads are counted.
    from aekit.anomaly import streaming
    from aekit.data.files import RowSource

    X, y = blobs(n=40_000, n_anomalies=30)
    path = tmp_path / "big.npy"
    np.save(path, X.astype(np.float32))
    scans = []
    scan = RowSource.scan
    monkeypatch.setattr(RowSource, "scan", lambda self, rows: (
        scans.append(rows) or scan(self, rows)))
    monkeypatch.setattr(streaming, "CHUNK_BYTES", 10_000 * 5 * 4)  # 10,000 rows a chunk
    result = invoke("detect", "--data", path, *FAST, "--out", tmp_path / "run")
    assert_ok(result)
    assert "read in chunks" in result.output and "of 40000 rows" in result.output
    assert scans and set(scans) == {10_000}  # every pass over the file read in chunks
    rows = read_scores(tmp_path / "run" / "scores.csv")
    assert [int(r["row"]) for r in rows] == list(range(40_000))
    scores = np.array([float(r["anomaly_score"]) for r in rows])
    assert detection_metrics(y == 1, scores)["roc_auc"] > 0.95
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["dataset"]["shape"] == [40_000, 5]
    bad = invoke("detect", "--data", path, "--label", "y", "--out", tmp_path / "run2")
    assert_one_line_error(bad, "--label")
    # aekit score streams the file too: the same scores as the run's.
    scans.clear()
    result = invoke("score", tmp_path / "run", path, "--out", tmp_path / "again.csv")
    assert_ok(result)
    assert scans and set(scans) == {10_000}
    again = read_scores(tmp_path / "again.csv")
    assert [r["anomaly_score"] for r in again] == [r["anomaly_score"] for r in rows]


@pytest.mark.slow
def test_detect_and_score_stream_a_large_csv_file(tmp_path, monkeypatch):
    # A text table above the size limit is parsed a chunk of rows at a time (never whole):
    # a one-pass random sample for the fit, then the scores chunk by chunk; the labels
    # column still measures the run.
    from aekit.anomaly import streaming

    X, y = blobs(n=30_000, n_anomalies=30)
    path = tmp_path / "big.csv"
    header = ",".join([f"c{j}" for j in range(5)] + ["is_anomaly"])
    np.savetxt(path, np.column_stack([X, y]), delimiter=",", header=header, comments="",
               fmt="%.6g")
    monkeypatch.setattr(streaming, "TEXT_STREAM_BYTES", 0)
    monkeypatch.setattr(streaming, "TEXT_CHUNK_ROWS", 7_000)
    chunks = []
    frames = streaming.TextRows.frames

    def counted(self):
        for start, rows, labels in frames(self):
            chunks.append(len(rows))
            yield start, rows, labels
    monkeypatch.setattr(streaming.TextRows, "frames", counted)
    result = invoke("detect", "--data", path, "--label", "is_anomaly", *FAST,
                    "--out", tmp_path / "run")
    assert_ok(result)
    assert "read in chunks" in result.output and "of 30000 rows" in result.output
    assert chunks and max(chunks) == 7_000 and sum(chunks) % 30_000 == 0
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["labels"]["n_anomalies"] == 30 and metrics["labels"]["roc_auc"] > 0.95
    rows = read_scores(tmp_path / "run" / "scores.csv")
    assert [int(r["row"]) for r in rows] == list(range(30_000))
    assert {r["feature_1"] for r in rows} <= {f"c{j}" for j in range(5)}
    result = invoke("score", tmp_path / "run", path, "--label", "is_anomaly",
                    "--out", tmp_path / "again.csv")
    assert_ok(result)
    again = read_scores(tmp_path / "again.csv")
    assert [r["anomaly_score"] for r in again] == [r["anomaly_score"] for r in rows]


def test_score_streamed_takes_the_detectors_columns_as_score_read_whole(tmp_path,
                                                                       monkeypatch):
    """A text file scored a chunk at a time takes the detector's columns by name, as the same
    file read whole: an extra column is left out and the order does not matter (it failed
    with scikit-learn's "feature names should match"); a missing one is named, with the
    file's columns."""
    from aekit.anomaly import streaming

    X, _ = blobs(n=400, n_anomalies=8)
    names = [f"c{j}" for j in range(X.shape[1])]
    train = tmp_path / "train.csv"
    np.savetxt(train, X, delimiter=",", header=",".join(names), comments="", fmt="%.6g")
    assert_ok(invoke("detect", "--data", train, *FAST, "--out", tmp_path / "run"))
    other = tmp_path / "other.csv"  # the columns reversed, and one more
    np.savetxt(other, np.column_stack([np.arange(len(X)), X[:, ::-1]]), delimiter=",",
               header=",".join(["note", *names[::-1]]), comments="", fmt="%.6g")
    assert_ok(invoke("score", tmp_path / "run", other, "--out", tmp_path / "whole.csv"))
    monkeypatch.setattr(streaming, "TEXT_STREAM_BYTES", 0)
    monkeypatch.setattr(streaming, "TEXT_CHUNK_ROWS", 150)
    assert_ok(invoke("score", tmp_path / "run", other, "--out", tmp_path / "chunks.csv"))
    whole, chunks = read_scores(tmp_path / "whole.csv"), read_scores(tmp_path / "chunks.csv")
    assert len(chunks) == len(X)  # the same scores, to float32 rounding between batches
    np.testing.assert_allclose([float(r["anomaly_score"]) for r in chunks],
                               [float(r["anomaly_score"]) for r in whole], rtol=1e-5)
    short = tmp_path / "short.csv"
    np.savetxt(short, X[:, 1:], delimiter=",", header=",".join(names[1:]), comments="",
               fmt="%.6g")
    result = invoke("score", tmp_path / "run", short, "--out", tmp_path / "short_scores.csv")
    assert result.exit_code == 2
    assert "no column named 'c0', which the model was fitted on" in result.output
    assert not (tmp_path / "short_scores.csv").exists()


def test_the_detector_page_refuses_a_model_that_is_not_a_detector(csv_file):
    # An autoencoder failed with an AttributeError ('AutoEncoder' has no 'threshold_').
    from aekit import AutoEncoder

    _, X, _ = csv_file
    ae = AutoEncoder(2, hidden_layer_sizes=(4,), max_epochs=1, random_state=0).fit(X)
    with pytest.raises(TypeError, match="takes an OutlierDetector, and AutoEncoder is not "
                                        "one; .*build_report"):
        build_detector_report(ae, X)
