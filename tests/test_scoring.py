"""Tests for aekit.evaluation.scoring: the scorer that compares autoencoders whatever their
scaler."""

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import r2_score
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, Normalizer, StandardScaler

import aekit
from aekit import AutoEncoder, VariationalAutoEncoder
from aekit.evaluation import reconstruction_r2_scorer

SMALL = dict(n_components=4, hidden_layer_sizes=(32,), max_epochs=15, random_state=0)


@pytest.fixture(scope="module")
def few_digits(digits):
    X_train, X_test, _, _ = digits
    return X_train[:600], X_test


def test_is_exported_where_users_look():
    assert aekit.reconstruction_r2_scorer is reconstruction_r2_scorer
    assert "reconstruction_r2_scorer" in aekit.__all__
    assert "reconstruction_r2_scorer" in aekit.evaluation.__all__


def test_grid_search_over_scaler_picks_the_scaler_that_reconstructs_held_out_rows_best(
        few_digits):
    # The default score is in each model's own scaled units, so it cannot rank scalers;
    # the scorer must pick the scaler whose held-out reconstruction explains most variance,
    # measured here independently by scikit-learn's pooled R² on rows the search never saw.
    X_train, X_test = few_digits
    scalers = ["standard", "minmax", None]
    search = GridSearchCV(AutoEncoder(**SMALL), {"scaler": scalers}, cv=2,
                          scoring=reconstruction_r2_scorer).fit(X_train)
    held_out = {
        s: r2_score(X_test, AutoEncoder(**SMALL, scaler=s).fit(X_train).reconstruct(X_test),
                    multioutput="variance_weighted")
        for s in scalers
    }
    assert search.best_params_["scaler"] == max(held_out, key=held_out.get)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()


def test_score_depends_on_the_reconstruction_not_on_where_the_scaler_sits(few_digits):
    # Standardising inside the model or before it gives the same reconstructions in the
    # caller's units, hence the same score; and the score is the mean per-column R² of
    # those reconstructions.
    X_train, X_test = few_digits
    inside = AutoEncoder(**SMALL, scaler="standard").fit(X_train)
    before = make_pipeline(StandardScaler(), AutoEncoder(**SMALL, scaler=None)).fit(X_train)
    R = inside.reconstruct(X_test)
    np.testing.assert_allclose(
        before[0].inverse_transform(before[-1].reconstruct(before[0].transform(X_test))), R,
        rtol=1e-5, atol=1e-6)
    assert reconstruction_r2_scorer(before, X_test) == pytest.approx(
        reconstruction_r2_scorer(inside, X_test), abs=1e-6)
    # In other units (each column's scale and offset changed) the same model's
    # reconstructions score the same: the pipeline's first step takes the rows back to the
    # model's units and its inverse brings the reconstructions into the new ones.
    a, b = np.linspace(1, 100, X_test.shape[1]), np.linspace(-5, 5, X_test.shape[1])
    units = FunctionTransformer(lambda Z: (Z - b) / a, inverse_func=lambda Z: Z * a + b)
    in_new_units = Pipeline([("units", units.fit(X_test)), ("model", inside)])
    assert reconstruction_r2_scorer(in_new_units, X_test * a + b) == pytest.approx(
        reconstruction_r2_scorer(inside, X_test), abs=1e-6)


def test_works_with_cross_val_score_for_both_families(few_digits):
    X_train, _ = few_digits
    for model in (AutoEncoder(**SMALL), VariationalAutoEncoder(n_components=4, max_epochs=5,
                                                               random_state=0)):
        scores = cross_val_score(model, X_train[:300], cv=2,
                                 scoring=reconstruction_r2_scorer)
        assert scores.shape == (2,) and np.isfinite(scores).all() and (scores <= 1).all()


def test_a_target_y_is_what_the_reconstruction_is_scored_against(few_digits):
    X_train, X_test = few_digits
    ae = AutoEncoder(**SMALL).fit(X_train)
    target = np.clip(X_test + 0.2, 0, 1)
    plain, against = (reconstruction_r2_scorer(ae, X_test, y) for y in (None, target))
    assert against != pytest.approx(plain)
    # 1-D labels, as GridSearchCV passes them, mean X itself.
    assert reconstruction_r2_scorer(ae, X_test, np.zeros(len(X_test))) == plain
    with pytest.raises(ValueError, match="must have X's shape"):
        reconstruction_r2_scorer(ae, X_test, target[:, :10])


def test_columns_that_do_not_vary_are_left_out_not_nan():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 4))
    X[:, 1] = 3.0  # constant: no variance to explain
    ae = AutoEncoder(n_components=2, max_epochs=10, random_state=0).fit(X)
    score = reconstruction_r2_scorer(ae, X)
    R = ae.reconstruct(X)
    varying = [0, 2, 3]
    assert score == pytest.approx(
        r2_score(X[:, varying], R[:, varying], multioutput="uniform_average"))
    with pytest.raises(ValueError, match="no column varies"):
        reconstruction_r2_scorer(ae, np.tile(X[:1], (20, 1)))


def test_a_table_is_scored_on_its_numeric_columns():
    rng = np.random.default_rng(0)
    table = pd.DataFrame({"a": rng.normal(size=150), "b": rng.normal(size=150),
                          "kind": rng.choice(["x", "y", "z"], 150)})
    table["a_plus_b"] = table.a + table.b
    ae = AutoEncoder(n_components=2, max_epochs=10, random_state=0).fit(table)
    numeric = ["a", "b", "a_plus_b"]
    assert reconstruction_r2_scorer(ae, table) == pytest.approx(
        r2_score(table[numeric], ae.reconstruct(table)[numeric]))
    only_categories = AutoEncoder(n_components=1, max_epochs=2, random_state=0).fit(
        table[["kind"]])
    with pytest.raises(ValueError, match="no numeric column"):
        reconstruction_r2_scorer(only_categories, table[["kind"]])


def test_bad_estimators_are_refused_with_what_it_takes(few_digits):
    X_train, X_test = few_digits
    with pytest.raises(NotFittedError):
        reconstruction_r2_scorer(AutoEncoder(), X_test)
    classifier = LogisticRegression(max_iter=50).fit(X_train[:100], np.arange(100) % 2)
    with pytest.raises(TypeError, match="reconstructs its input.*LogisticRegression"):
        reconstruction_r2_scorer(classifier, X_test)
    pipe = make_pipeline(Normalizer(), AutoEncoder(**SMALL)).fit(X_train[:200])
    with pytest.raises(ValueError, match=r"\['normalizer'\] have no inverse_transform"):
        reconstruction_r2_scorer(pipe, X_test)
