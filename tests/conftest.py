"""Fixtures shared by the test files."""

import signal

import pytest
from typer.testing import CliRunner

from aekit.cli.commands import app
from aekit.data import load_digits

runner = CliRunner()

# A suite started in the background of a non-interactive shell (`make test &` in a script)
# inherits SIGINT ignored, as POSIX has it, and aekit rightly leaves an ignored SIGINT
# alone (tests/test_faults.py checks that); the tests of Ctrl-C need the handler an
# interactive run has. pytest-xdist's workers import this file too.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


# --------------------------------------------------------------------------- make test-quick
def pytest_addoption(parser):
    parser.addoption(
        "--quick", action="store_true",
        help="The quick subset (make test-quick): tests not marked slow, each test function "
             "once (its first parametrization), less the heaviest (QUICK_SKIPS). Every test "
             "file still runs; make test runs them all.")


# The heaviest tests not marked slow, each over 7 s in `pytest --quick --durations=60` on the
# shared 2-core machine (issue 20): left to `make test`. Their modules keep other tests.
QUICK_SKIPS = frozenset({
    "tests/test_streaming.py::test_peak_memory_is_bounded_by_the_chunk_not_the_data",
    "tests/test_report.py::test_report_shows_denoising_and_samples_when_the_model_has_them",
    "tests/test_report.py::test_demo_writes_the_report",
    "tests/test_report.py::test_report_lists_diagnostics",
    "tests/test_variational.py::test_higher_beta_gives_lower_kl",
    "tests/test_variational.py::test_posterior_collapse_is_diagnosed",
    "tests/test_keras.py::test_seed_port_fails_and_diagnose_names_the_causes",
    "tests/test_report_browser.py::test_report_renders_in_chromium",
    "tests/test_classifier.py::test_semi_supervised_beats_the_labelled_only_fit_with_50_labels",
    "tests/test_classifier.py::test_works_in_a_pipeline_and_grid_search_with_unlabelled_rows",
    "tests/test_plotting.py::test_plotting_never_imports_pyplot",
    "tests/test_cli.py::test_python_m_aekit_error_exit_code",
    "tests/test_few_labels.py::test_report_has_a_few_labels_section",
    "tests/test_scalers.py::test_fashion_mnist_pixels_are_never_logged",
    "tests/test_estimators.py::test_default_beats_pca_on_digits",
    "tests/test_diagnostics.py::test_heavy_tailed_column_is_named_with_the_scaler_that_fixes_it",
    "tests/test_first_hour.py::test_detect_and_score_read_kdd_labels",
})


def pytest_collection_modifyitems(config, items):
    if not config.getoption("--quick"):
        return
    kept, seen, dropped = [], set(), []
    for item in items:
        function = item.nodeid.split("[")[0]
        if item.get_closest_marker("slow") is not None or function in seen \
                or function in QUICK_SKIPS:
            dropped.append(item)
        else:
            seen.add(function)
            kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture(scope="session")
def digits():
    """The embedded digits' standard split: X_train, X_test, y_train, y_test (read-only use)."""
    return load_digits(split=True)


@pytest.fixture(scope="session")
def readme_section():
    """``section(title)``: the README's text under ``## title``, up to the next ``## ``
    heading (a ValueError naming the title when there is no such section)."""
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()

    def section(title: str) -> str:
        found = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
        if found is None:
            raise ValueError(f"README.md has no section '## {title}'")
        return found.group(1)

    return section


@pytest.fixture(scope="session")
def not_autoencoders():
    """``(X, [(classifier over an autoencoder), detector, ladder])``: fitted models that the
    tools made for autoencoders must refuse, each with its own fix."""
    import warnings

    import numpy as np

    from aekit import AutoEncoder, EncoderClassifier, LadderClassifier, OutlierDetector

    rng = np.random.RandomState(0)
    X, y = rng.rand(60, 6), np.arange(60) % 2
    small = dict(max_epochs=1, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # one epoch learns nothing: refusal is the point
        return X, [
            EncoderClassifier(AutoEncoder(n_components=2, hidden_layer_sizes=(4,), **small),
                              **small).fit(X, y),
            OutlierDetector(**small).fit(X),
            LadderClassifier(hidden_layer_sizes=(4,), **small).fit(X, y),
        ]


def mse_objective(module, batch, epoch=None):
    """The plain reconstruction objective the loop tests train with."""
    import torch.nn.functional as F

    return {"loss": F.mse_loss(module(batch["x_in"]), batch["x"])}


def tiny_problem(n=100, seed=0):
    """A 5-2-5 linear autoencoder and 100 random rows, seeded."""
    import torch
    from torch import nn

    torch.manual_seed(seed)
    X = torch.randn(n, 5)
    return nn.Sequential(nn.Linear(5, 2), nn.Linear(2, 5)), X


# --------------------------------------------------------------------------- command line
def invoke(*args):
    """``aekit *args`` in this process (typer's runner); arguments may be paths or numbers."""
    return runner.invoke(app, [str(a) for a in args])


def assert_ok(result):
    assert result.exit_code == 0, result.output + repr(result.exception)


def assert_one_line_error(result, *words):
    """Exit code 2 with one ``error:`` line on stderr holding every one of ``words``, and
    no traceback."""
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for word in words:
        assert word in lines[0], lines[0]
    assert "Traceback" not in result.output
