"""Tests for aekit.report.model and ``aekit report``."""

import base64
import copy
import io
import sys
from html.parser import HTMLParser

import numpy as np
import pytest
from matplotlib.image import imread
from typer.testing import CliRunner

from aekit import AutoEncoder
from aekit.cli.commands import app
from aekit.data import DERIVED_VARIABLE_NAMES, Dataset, load_dataset, make_derived_variables
from aekit.report.detector import write_detector_report
from aekit.report.model import build_report, write_report
from aekit.report.page import is_aekit_page

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
IMAGE_SECTIONS = {"comparison", "diagnostics", "training", "reconstructions", "codes",
                  "code-size", "units", "model"}


class _Page(HTMLParser):
    """Collects section ids, headings, images, captions and anything that loads from outside."""

    def __init__(self):
        super().__init__()
        self.sections, self.images, self.external, self.tags = [], [], [], set()
        self.text = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.add(tag)
        if tag == "section":
            self.sections.append(attrs.get("id"))
        if tag == "img":
            self.images.append(attrs["src"])
        for key in ("src", "href"):
            value = attrs.get(key) or ""
            if value and not value.startswith(("data:", "#")):
                self.external.append(value)

    def handle_data(self, data):
        self.text.append(data)


def _parse(page: str) -> _Page:
    parser = _Page()
    parser.feed(page)
    parser.close()
    return parser


def _check_images(images):
    assert images
    for src in images:
        assert src.startswith("data:image/png;base64,")
        png = base64.b64decode(src.split(",", 1)[1], validate=True)
        assert png[:8] == PNG_SIGNATURE
        pixels = imread(io.BytesIO(png), format="png")
        assert pixels.ndim == 3 and pixels.shape[0] > 50 and pixels.shape[1] > 50
        assert pixels.std() > 0, "blank image"


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


@pytest.fixture(scope="module")
def digits_ae(digits):
    return AutoEncoder(n_components=2, hidden_layer_sizes=(32,), max_epochs=30,
                       random_state=0).fit(digits.X_train)


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory, digits_ae):
    run = tmp_path_factory.mktemp("runs") / "digits"
    digits_ae.save(run)
    return run


@pytest.fixture(scope="module")
def digits_page(digits_run):
    path = write_report(digits_run, "digits")
    return path, path.read_text(encoding="utf-8")


# --------------------------------------------------------------------------- images + labels
def test_report_is_written_beside_the_run_atomically(digits_run, digits_page):
    path, _ = digits_page
    assert path == digits_run / "report.html"
    assert not [p for p in digits_run.iterdir() if p.name.startswith(".")]  # no temp left


def test_report_parses_and_has_every_section_for_labelled_images(digits_page):
    _, page = digits_page
    parsed = _parse(page)
    assert page.startswith("<!DOCTYPE html>")
    assert IMAGE_SECTIONS <= set(parsed.sections)
    assert "denoising" not in parsed.sections and "samples" not in parsed.sections
    assert 'class="plot-error"' not in page  # every applicable plot was drawn
    text = " ".join(parsed.text)
    for needle in ("Autoencoder against PCA", "MSE per element", "5-NN accuracy on codes",
                   "logistic-regression accuracy", "trustworthiness", "Diagnostics",
                   "Parameters set", "hidden_layer_sizes", "encoder.0", "Linear", "float32",
                   "Look for"):
        assert needle in text


def test_report_images_decode_to_non_blank_pngs(digits_page):
    parsed = _parse(digits_page[1])
    # loss, reconstructions, codes, error vs k, weights, top rows and act-max of the code
    # units and of the first hidden layer's, traversal, grid
    assert len(parsed.images) == 11
    _check_images(parsed.images)


def test_report_is_self_contained(digits_page):
    parsed = _parse(digits_page[1])
    assert parsed.external == []
    assert "script" not in parsed.tags and "link" not in parsed.tags
    assert "style" in parsed.tags
    assert "http://" not in digits_page[1] and "https://" not in digits_page[1]


def test_report_lists_diagnostics(digits, digits_ae):
    ae = copy.deepcopy(digits_ae)
    import torch

    with torch.no_grad():
        ae.module_.encoder[-1].weight[1] = 0.0  # collapse code dimension 1
    page = build_report(ae, digits)
    assert "collapsed code" in page and "What to do" in page
    # The findings' R² are the training rows', the comparison table's the test rows'.
    assert ("Measured on the training rows (the rows the model was fitted on; the comparison "
            "above is measured on the test rows)") in page


def test_report_shows_denoising_and_samples_when_the_model_has_them(digits):
    from aekit import VariationalAutoEncoder

    X_train = digits.X_train[:600]
    small = dict(n_components=8, hidden_layer_sizes=(32,), max_epochs=15, random_state=0)
    plain = AutoEncoder(**small).fit(X_train)
    denoiser = AutoEncoder(noise="gaussian", noise_level=0.3, **small).fit(X_train)
    vae = VariationalAutoEncoder(**small).fit(X_train)
    sections = {name: set(_parse(build_report(est, digits)).sections)
                for name, est in (("plain", plain), ("denoiser", denoiser), ("vae", vae))}
    assert "denoising" in sections["denoiser"] and "samples" not in sections["denoiser"]
    assert "samples" in sections["vae"] and "denoising" not in sections["vae"]
    assert not {"denoising", "samples"} & sections["plain"]
    # The samples shown are the VAE's own: its decoder's rows, not noise.
    page = _parse(build_report(vae, digits))
    _check_images(page.images[-1:])


def _small(digits, n_test, y_train=None, y_test=None):
    return Dataset(digits.X_train[:300], digits.X_test[:n_test],
                   digits.y_train[:300] if y_train is None else y_train,
                   digits.y_test[:n_test] if y_test is None else y_test,
                   digits.feature_names, digits.image_shape, "digits")


@pytest.mark.parametrize("n_test", [1, 2])
def test_a_test_split_of_one_or_two_rows_leaves_trustworthiness_unmeasured(
        digits, digits_ae, n_test):
    page = build_report(digits_ae, _small(digits, n_test))  # scikit-learn needs 3 rows
    text = " ".join(_parse(page).text)
    assert "Trustworthiness: not measured (too few test rows" in text
    assert "logistic-regression accuracy on codes" in text  # the other probes are there


def test_rows_without_a_label_are_left_out_of_the_probes(digits, digits_ae):
    y_train = digits.y_train[:300].astype(np.float64)
    y_train[::7] = np.nan  # a label column's empty cells, read as floats
    y_test = digits.y_test[:60].copy()
    y_test[:5] = -1  # scikit-learn's unlabelled
    page = build_report(digits_ae, _small(digits, 60, y_train, y_test))
    text = " ".join(" ".join(_parse(page).text).split())
    assert "(43 training and 5 test rows without a label left out)" in text
    assert "logistic-regression accuracy on codes" in text


def test_labels_of_one_class_skip_the_probes_with_a_note(digits, digits_ae):
    same = np.zeros(300, dtype=np.int64)
    page = build_report(digits_ae, _small(digits, 60, same, np.zeros(60, dtype=np.int64)))
    text = " ".join(" ".join(_parse(page).text).split())
    assert "Label probes on the codes: not measured (1 class(es)" in text
    assert "accuracy on codes" not in text


def test_a_classifier_or_detector_is_refused_with_what_to_report(digits, tmp_path):
    from aekit import EncoderClassifier, OutlierDetector

    X, y = digits.X_train[:200], digits.y_train[:200]
    clf = EncoderClassifier(AutoEncoder(2, hidden_layer_sizes=(8,), max_epochs=1,
                                        random_state=0), max_epochs=1, random_state=0)
    det = OutlierDetector(max_epochs=1, random_state=0)
    for est, fix in ((clf.fit(X, y), "autoencoder_"), (det.fit(X), "build_detector_report")):
        name = type(est).__name__
        with pytest.raises(TypeError, match=f"takes an autoencoder .* {name} is not one; .*{fix}"):
            build_report(est, digits)
        with pytest.raises(TypeError, match=fix):
            write_report(est, digits, tmp_path / "r.html")
    assert not (tmp_path / "r.html").exists()


# --------------------------------------------------------------------------- tabular, no labels
def test_tabular_report_without_labels(tmp_path):
    X = make_derived_variables(400, random_state=0)
    data = Dataset(X[:320], X[320:], None, None, list(DERIVED_VARIABLE_NAMES), None, "derived")
    ae = AutoEncoder(n_components=2, hidden_layer_sizes=(16,), max_epochs=20,
                     random_state=0).fit(data.X_train)
    path = write_report(ae, data, tmp_path / "tab" / "report.html")
    page = path.read_text(encoding="utf-8")
    parsed = _parse(page)
    assert {"comparison", "diagnostics", "training", "reconstructions", "codes", "code-size",
            "columns", "model"} <= set(parsed.sections)
    assert "units" not in parsed.sections  # image-only plots are left out
    assert "labels" not in parsed.sections and "accuracy" not in page  # no labels, no probes
    assert 'class="plot-error"' not in page
    # loss, per-variable scatter, codes, error vs k, R² per column
    assert len(parsed.images) == 5
    _check_images(parsed.images)


def test_an_over_complete_code_on_few_rows_draws_pca_exact_as_compared():
    """n_components >= n_features with fewer training rows than features: the comparison
    takes PCA as exact, so the per-variable scatter draws PCA's points on the diagonal (the
    rows themselves), not a PCA of as many components as there are rows."""
    import matplotlib

    matplotlib.use("Agg")
    from aekit import plotting
    from aekit.report.model import _evaluate

    rng = np.random.RandomState(0)
    X_train, X_test = rng.randn(5, 10), rng.randn(20, 10)
    ae = AutoEncoder(n_components=10, max_epochs=2, random_state=0).fit(X_train)
    data = Dataset(X_train, X_test, None, None, [f"f{j}" for j in range(10)], None, "few")
    ev = _evaluate(ae, data, None)
    assert ev.cmp.pca_exact and ev.ev_pca == pytest.approx(1.0)  # as the table says
    fig = plotting.feature_scatter(ae, X_test, pca=ev.pca_k)
    for j, ax in enumerate(fig.axes):
        pca_points = ax.collections[0].get_offsets()  # drawn first, underneath
        np.testing.assert_allclose(pca_points[:, 1], X_test[:, j], atol=1e-5)


def test_write_report_needs_out_for_an_estimator(digits, digits_ae):
    with pytest.raises(ValueError, match="out="):
        write_report(digits_ae, digits)


def test_write_report_rejects_the_wrong_dataset(tmp_path, digits_run):
    X = make_derived_variables(100, random_state=0)
    data = Dataset(X[:80], X[80:], None, None, None, None, "derived")
    with pytest.raises(ValueError, match="expects 64 features"):
        write_report(digits_run, data, tmp_path / "r.html")


# --------------------------------------------------------------------------- command line
def test_cli_report_command(tmp_path, digits_run):
    out = tmp_path / "cli.html"
    result = CliRunner().invoke(app, ["report", str(digits_run), "--data", "digits",
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert str(out) in result.output
    assert IMAGE_SECTIONS <= set(_parse(out.read_text(encoding="utf-8")).sections)


def test_cli_report_out_must_be_an_html_file_of_its_own(tmp_path, digits_run):
    table = tmp_path / "in.csv"
    np.savetxt(table, load_dataset("digits").X_test[:30], delimiter=",")
    (tmp_path / "link.html").symlink_to(digits_run / "config.json")
    (tmp_path / "pages").mkdir()
    kept = {p: p.read_bytes() for p in (table, digits_run / "config.json")}
    for data, out, words in [
            ("digits", digits_run / "config.json", "the run's own config.json"),
            ("digits", digits_run / "metrics.json", "the run's own metrics.json"),
            ("digits", tmp_path / "link.html", "the run's own config.json"),
            (table, table, "is the input"),
            ("digits", tmp_path / "page.txt", "as .html only"),
            ("digits", tmp_path / "pages", "is a directory")]:
        for overwrite in ([], ["--overwrite"]):  # which never permits these
            result = CliRunner().invoke(app, ["report", str(digits_run), "--data", str(data),
                                              "--out", str(out), *overwrite])
            assert result.exit_code == 2, result.output
            lines = result.stderr.strip().splitlines()
            assert len(lines) == 1 and words in lines[0] and ".tmp" not in lines[0], lines
    assert {p: p.read_bytes() for p in kept} == kept
    assert not list((tmp_path / "pages").iterdir())
    for overwrite in (False, True):
        with pytest.raises(ValueError, match="the run's own config.json"):
            write_report(digits_run, "digits", digits_run / "config.json", overwrite=overwrite)


def test_cli_report_bad_dataset_is_one_error_line(digits_run):
    result = CliRunner().invoke(app, ["report", str(digits_run), "--data", "nope"])
    assert result.exit_code == 2
    assert "unknown dataset" in result.output


def test_demo_writes_the_report(tmp_path):
    out = tmp_path / "demo"
    result = CliRunner().invoke(app, ["demo", "--out", str(out)])
    assert result.exit_code == 0, result.output
    page = (out / "report.html").read_text(encoding="utf-8")
    assert IMAGE_SECTIONS <= set(_parse(page).sections)
    assert "report.html" in result.output


def test_a_fitted_pipeline_is_refused_with_how_to_pass_its_model():
    # These failed with an AttributeError ('Pipeline' object has no attribute 'n_components'
    # or 'threshold_'), and diagnose called the fitted Pipeline not fitted.
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from aekit import OutlierDetector, compare_with_pca, diagnose
    from aekit.report import build_detector_report

    X = np.random.RandomState(0).normal(size=(80, 4))
    small = dict(max_epochs=1, random_state=0)
    ae = make_pipeline(StandardScaler(), AutoEncoder(2, hidden_layer_sizes=(4,), **small))
    det = make_pipeline(StandardScaler(), OutlierDetector(**small))
    ae.fit(X), det.fit(X)
    data = Dataset(X[:60], X[60:], None, None, None, None, "rows")
    fix = r"not a Pipeline \(this one ends in {}\); pass its last step, pipe\[-1\]"
    for call, last in [(lambda: build_report(ae, data), "AutoEncoder"),
                       (lambda: diagnose(ae, X), "AutoEncoder"),
                       (lambda: compare_with_pca(ae, X[:60], X[60:]), "AutoEncoder"),
                       (lambda: build_detector_report(det, X), "OutlierDetector")]:
        with pytest.raises(TypeError, match=fix.format(last) + r".*pipe\[:-1\]\.transform"):
            call()


def test_fewer_training_rows_than_the_code_are_refused_as_compare_with_pca_refuses_them():
    # The page compared the code of 8 with a PCA of 5 components (all 5 rows allow) while
    # its cards said "same k = 8"; compare_with_pca refuses these rows.
    from aekit import compare_with_pca

    X = np.random.RandomState(0).normal(size=(60, 10))
    ae = AutoEncoder(8, hidden_layer_sizes=(16,), max_epochs=1, random_state=0).fit(X[:50])
    for call in (lambda: compare_with_pca(ae, X[:5], X[50:], fit=False),
                 lambda: build_report(ae, Dataset(X[:5], X[50:], None, None, None, None, "x"))):
        with pytest.raises(ValueError, match=r"n_components=8 with X_train of shape \(5, 10\)"
                                             r".*at least 8 training rows"):
            call()


def test_report_out_never_replaces_an_html_file_aekit_did_not_write(tmp_path, digits_run):
    # The caller's own page was silently replaced by the report.
    mine = tmp_path / "mine.html"
    mine.write_text("<html><body>my notes</body></html>", encoding="utf-8")
    result = CliRunner().invoke(app, ["report", str(digits_run), "--data", "digits",
                                      "--out", str(mine)])
    assert result.exit_code == 2, result.output
    assert result.stderr == (f"error: --out {mine} exists and aekit did not write it; pass "
                             "--overwrite to replace it, or another path\n")
    with pytest.raises(ValueError, match=r"aekit did not write it; pass overwrite=True"):
        write_report(digits_run, "digits", mine)
    assert mine.read_text(encoding="utf-8") == "<html><body>my notes</body></html>"
    # The caller may say so, at call time.
    result = CliRunner().invoke(app, ["report", str(digits_run), "--data", "digits",
                                      "--out", str(mine), "--overwrite"])
    assert result.exit_code == 0, result.output
    assert is_aekit_page(mine)
    mine.write_text("<html><body>my notes</body></html>", encoding="utf-8")
    assert write_report(digits_run, "digits", mine, overwrite=True) == mine
    assert is_aekit_page(mine)
    # A report aekit wrote is replaced, as the report in the run directory is.
    ours = tmp_path / "ours.html"
    for _ in range(2):
        result = CliRunner().invoke(app, ["report", str(digits_run), "--data", "digits",
                                          "--out", str(ours)])
        assert result.exit_code == 0, result.output


def test_write_detector_report_never_replaces_a_file_aekit_did_not_write(tmp_path):
    # It replaced any path it was given: the caller's page, or a file of another kind.
    from aekit import OutlierDetector

    X = np.random.RandomState(0).normal(size=(60, 3))
    det = OutlierDetector(hidden_layer_sizes=(4,), max_epochs=1, random_state=0).fit(X)
    mine, notes = tmp_path / "mine.html", tmp_path / "notes.txt"
    for path in (mine, notes):
        path.write_bytes(b"<p>my notes</p>\n")
    with pytest.raises(ValueError, match=r"--out .*mine\.html exists and aekit did not "
                                         r"write it; pass overwrite=True to replace it"):
        write_detector_report(det, X, mine)
    for overwrite in (False, True):
        with pytest.raises(ValueError, match=r"as \.html only, not '\.txt'"):
            write_detector_report(det, X, notes, overwrite=overwrite)
    assert mine.read_bytes() == notes.read_bytes() == b"<p>my notes</p>\n"
    assert write_detector_report(det, X, mine, overwrite=True) == mine  # the caller's say
    assert is_aekit_page(mine)
    assert write_detector_report(det, X, mine) == mine  # now aekit's page: replaced

