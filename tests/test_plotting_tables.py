"""Tests for aekit.plotting.tables: each plot of a table draws what it says."""

import io

import numpy as np
import pytest
from matplotlib.figure import Figure

from aekit import AutoEncoder, InputWarning, compare_with_pca, plotting
from aekit.plotting import tables as plotting_tables

pd = pytest.importorskip("pandas")


def _renders(fig):
    assert isinstance(fig, Figure)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    assert buf.getvalue()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def table():
    rng = np.random.RandomState(0)
    a = rng.rand(600)
    X = pd.DataFrame({"a": a, "ratio": a / (rng.rand(600) + 1e-3),
                      "kind": np.where(a > 0.5, "hi", "lo"),
                      "mood": rng.choice(["x", "y", "z"], 600)})
    ae = AutoEncoder(2, hidden_layer_sizes=(16,), max_epochs=20, random_state=0).fit(X)
    return ae, X


def test_r2_bars_one_pair_per_column(table):
    ae, X = table
    with pytest.warns(InputWarning, match="also in X_train"):  # the plot needs no test rows
        c = compare_with_pca(ae, X, X, fit=False)
    fig = plotting_tables.r2_bars(c)
    (ax,) = fig.axes
    assert len(ax.patches) == 2 * 4
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "ratio", "kind", "mood"]
    _renders(fig)
    with pytest.raises(ValueError, match="per-column"):
        plotting_tables.r2_bars(c.__class__(2, 1.0, 1.0, 1.0, 1.0))


def test_confusion_summary_rows_sum_to_one(table):
    ae, X = table
    fig = plotting_tables.confusion_summary(X, ae.reconstruct(X))
    assert len(fig.axes) == 2  # kind, mood
    matrix = fig.axes[0].images[0].get_array()
    np.testing.assert_allclose(np.asarray(matrix).sum(1), 1)
    assert "accuracy AE" in fig.axes[0].get_title()
    _renders(fig)


def test_errors_by_label_and_log_axes_for_heavy_tails(table):
    ae, X = table
    labels = np.where(X["a"] > 0.9, "odd", "usual")
    fig = plotting_tables.errors_by_label(-ae.score_samples(X), labels,
                                          pca_errors=-ae.score_samples(X) * 2)
    (ax,) = fig.axes
    assert ax.get_xscale() == "log" and len(ax.patches) == 4
    _renders(fig)
    fig = plotting.feature_scatter(ae, X)  # a table: its numeric columns
    assert [ax.get_xscale() for ax in fig.axes] == ["linear", "symlog"]
    _renders(fig)
