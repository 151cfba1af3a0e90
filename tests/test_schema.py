"""One input schema for every estimator (aekit.data.schema.InputSchema): scikit-learn's
feature-name conventions in every method, the same mixed DataFrames in all four
estimators and through the command line, and errors that name the row, column and fix."""

from __future__ import annotations

import json
import re
import warnings

import numpy as np
import pytest

import aekit
from aekit import AutoEncoder, EncoderClassifier, OutlierDetector, VariationalAutoEncoder
from aekit.data.schema import InputSchema

from conftest import assert_ok, invoke

pd = pytest.importorskip("pandas")

FAST = dict(max_epochs=3, random_state=0, device="cpu")
CLI_FAST = ["--epochs", "3", "--seed", "0", "--device", "cpu"]
NAMES_WARNING = r"X has feature names, but \w+ was fitted without feature names"
NO_NAMES_WARNING = r"X does not have valid feature names, but \w+ was fitted with feature names"


def _estimators():
    return {
        "AutoEncoder": lambda **kw: AutoEncoder(hidden_layer_sizes=(16,), **kw, **FAST),
        "VariationalAutoEncoder": lambda **kw: VariationalAutoEncoder(
            hidden_layer_sizes=(16,), **kw, **FAST),
        "EncoderClassifier": lambda **kw: EncoderClassifier(
            AutoEncoder(hidden_layer_sizes=(16,), **kw, **FAST), **FAST),
        "OutlierDetector": lambda **kw: OutlierDetector(n_estimators=2, **kw, **FAST),
    }


def _fit(name, X, y, **kw):
    est = _estimators()[name](**kw)
    return est.fit(X, y) if name == "EncoderClassifier" else est.fit(X)


# Every method that takes rows, per estimator: (name, call(est, X, y)).
ROW_METHODS = {
    "AutoEncoder": ["transform", "reconstruct", "score_samples", "score", "to_scaled",
                    "reconstruct_scaled"],
    "VariationalAutoEncoder": ["transform", "reconstruct", "score_samples", "score",
                               "kl_per_dimension", "to_scaled", "reconstruct_scaled"],
    "EncoderClassifier": ["predict", "predict_proba", "predict_log_proba", "score"],
    "OutlierDetector": ["score_samples", "decision_function", "predict", "feature_scores",
                        "top_features", "explain", "set_threshold"],
}
CASES = [(name, method) for name, methods in ROW_METHODS.items() for method in methods]


def _call(est, method, X, y):
    if method == "score" and isinstance(est, EncoderClassifier):
        return est.score(X, y)
    if method == "set_threshold":
        return est.set_threshold(fpr=0.1, X=X).offset_
    if method == "top_features":
        return est.top_features(X, n_features=2)[1]
    if method == "explain":
        return est.explain(X, n_features=2)["anomaly_score"].to_numpy()
    return getattr(est, method)(X)


@pytest.fixture(scope="module")
def array_fitted():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 5))
    y = (X[:, 0] > 0).astype(int)
    return X, y, {name: _fit(name, X, y) for name in ROW_METHODS}


@pytest.mark.parametrize("name, method", CASES)
def test_a_dataframe_for_an_array_fitted_model_warns_as_sklearn_and_works(
        array_fitted, name, method):
    # Issue 17 item 12: every method of every estimator, not one case.
    X, y, fitted = array_fitted
    est = fitted[name]
    frame = pd.DataFrame(X, columns=[f"f{j}" for j in range(X.shape[1])])
    expected = np.asarray(_call(est, method, X, y))
    with pytest.warns(UserWarning, match=NAMES_WARNING):
        got = _call(est, method, frame, y)
    np.testing.assert_array_equal(np.asarray(got), expected)
    # A header-less frame (integer column names) has no names: no warning at all.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = _call(est, method, pd.DataFrame(X), y)
    np.testing.assert_array_equal(np.asarray(got), expected)


@pytest.mark.parametrize("name", list(ROW_METHODS))
def test_codes_and_wrong_widths_for_an_array_fitted_model(array_fitted, name):
    X, y, fitted = array_fitted
    est = fitted[name]
    method = ROW_METHODS[name][0]
    with pytest.raises(ValueError, match="X has 4 features, but .* expecting 5 features"):
        getattr(est, method)(pd.DataFrame(X[:, :4]))
    if hasattr(est, "inverse_transform"):  # codes given as a DataFrame
        Z = est.transform(X)
        np.testing.assert_array_equal(est.inverse_transform(pd.DataFrame(Z)),
                                      est.inverse_transform(Z))


def _mixed_frame(n=90, seed=0):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "amount": rng.lognormal(size=n),
        "rate": rng.normal(size=n),
        "count": rng.integers(0, 9, size=n),
        "flag": rng.random(n) > 0.5,
        "service": rng.choice(["http", "ftp", "smtp"], size=n),
        "grade": pd.Categorical(rng.choice(["lo", "hi"], size=n), categories=["lo", "hi"]),
    })
    frame.loc[[3, 17], "amount"] = np.nan
    frame.loc[40, "rate"] = np.nan
    y = np.where(frame["service"] == "http", 1, 0)
    y[::3] = -1  # unlabelled rows: semi-supervised
    return frame, y


OUTPUT = {"AutoEncoder": "transform", "VariationalAutoEncoder": "transform",
          "EncoderClassifier": "predict_proba", "OutlierDetector": "score_samples"}


@pytest.mark.parametrize("name", list(OUTPUT))
def test_the_same_mixed_dataframe_fits_saves_loads_and_predicts_everywhere(name, tmp_path):
    frame, y = _mixed_frame()
    est = _fit(name, frame, y, missing="impute")
    assert est.schema_.kind == "table" and est.schema_.has_categories
    assert list(est.feature_names_in_) == list(frame.columns)
    assert est.n_features_in_ == frame.shape[1]
    assert est.schema_.fill_values is not None and np.isfinite(est.schema_.fill_values).all()
    out = getattr(est, OUTPUT[name])(frame)
    assert np.isfinite(out).all()
    est.save(tmp_path / "m")
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["fitted"]["schema_"]["columns"][4]["categories"] == ["ftp", "http", "smtp"]
    loaded = aekit.load(tmp_path / "m")
    np.testing.assert_array_equal(getattr(loaded, OUTPUT[name])(frame), out)
    # The columns in another order are refused, both orders named; an array works with
    # sklearn's warning.
    with pytest.raises(ValueError, match=r"another order \(\['grade', .*\] now, \['amount', "
                       r".*\] in fit\).*X\[list\(model\.feature_names_in_\)\]"):
        getattr(loaded, OUTPUT[name])(frame[frame.columns[::-1]])
    with pytest.raises(ValueError, match="(?s)unseen at fit time.*- extra"):
        getattr(loaded, OUTPUT[name])(frame.assign(extra=1.0))
    with pytest.raises(ValueError, match="(?s)now missing.*- grade"):
        getattr(loaded, OUTPUT[name])(frame.drop(columns="grade"))
    with pytest.warns(UserWarning, match=NO_NAMES_WARNING):
        from_array = getattr(loaded, OUTPUT[name])(frame.to_numpy(dtype=object))
    np.testing.assert_array_equal(from_array, out)


def test_a_column_of_another_type_is_named():
    frame, _ = _mixed_frame()
    ae = _fit("AutoEncoder", frame, None, missing="impute")
    numbers = frame.assign(service=np.arange(len(frame), dtype=float))
    with pytest.raises(ValueError, match="'service'.*categories.*numbers"):
        ae.transform(numbers)
    text = frame.assign(rate="high")
    with pytest.raises(ValueError, match="column 'rate' was numeric"):
        ae.transform(text)


def test_integer_column_names_keep_their_names_and_never_warn(tmp_path):
    frame = pd.DataFrame(np.random.default_rng(0).normal(size=(40, 3)))  # header=None
    ae = AutoEncoder(hidden_layer_sizes=(8,), **FAST).fit(frame)
    assert not hasattr(ae, "feature_names_in_")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = ae.reconstruct(frame)
        ae.transform(frame.to_numpy())
        ae.save(tmp_path / "m")
        aekit.load(tmp_path / "m").transform(frame)
    assert list(out.columns) == [0, 1, 2]


def test_mixed_type_column_names_are_refused_by_fit():
    frame = pd.DataFrame(np.zeros((10, 3)), columns=["a", 1, "c"])
    for est in _estimators().values():
        with pytest.raises(TypeError, match="all input features have string names"):
            est().fit(frame, np.arange(10) % 2)


@pytest.mark.parametrize("columns, match", [
    (["a", "b", "a"], r"1 column name\(s\) given to several columns: \['a'\]"),
    ([1.0, 2.0, 3.0], r"neither strings nor integers: \[1.0, 2.0, 3.0\] \(float\)"),
    ([True, False, None], r"3 column name\(s\) that are neither strings nor integers: "
                          r"\[True, False, None\] \(bool\)"),
    (pd.MultiIndex.from_tuples([("a", "x"), ("a", "y"), ("b", "x")]),
     r"\(tuple\).*'_'.join\(map\(str, c\)\)"),
])
def test_column_names_a_model_cannot_keep_are_refused_with_the_fix(columns, match):
    # Such names were kept as text: outputs came back renamed ('1.0', "('a', 'x')") and
    # columns swapped among them were taken in the wrong places; duplicates failed with a
    # message from narwhals.
    frame = pd.DataFrame({"a": np.arange(10.0), "b": np.arange(10.0) % 3,
                          "c": list("uv" * 5)}).set_axis(columns, axis=1)
    for est in _estimators().values():
        with pytest.raises(ValueError, match=match):
            est().fit(frame, np.arange(10) % 2)
    fitted = _fit("AutoEncoder", frame.set_axis(list("abc"), axis=1), None)
    with pytest.raises(ValueError, match=match):
        fitted.transform(frame)
    with pytest.raises(ValueError, match=match):  # and to a model fitted on an array
        _fit("AutoEncoder", np.zeros((10, 3)), None).transform(frame)


# --------------------------------------------------------------------------- item 13
def test_a_string_cell_in_an_array_or_npy_names_row_column_and_fix(tmp_path):
    X = np.random.default_rng(0).normal(size=(6, 3)).astype(object)
    X[4, 2] = "abc"
    for est in _estimators().values():
        with pytest.raises(ValueError, match=r"row 4, column 2: 'abc'.*DataFrame"):
            est().fit(X, np.arange(6) % 2)
    path = tmp_path / "s.npy"
    np.save(path, X.astype(str))
    with pytest.raises(ValueError, match=r"s\.npy: .*row 4, column 2: 'abc'"):
        AutoEncoder(**FAST).fit(path)
    ae = AutoEncoder(hidden_layer_sizes=(8,), **FAST).fit(X[:4].astype(float))
    frame = pd.DataFrame(X, columns=list("abc"))
    with pytest.raises(ValueError, match=r"row 4, column 'c': 'abc'"):
        ae.transform(frame)


def test_cells_holding_lists_or_dicts_name_the_column():
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0], "tags": [["x"], ["y"], {"z": 1}]})
    for est in _estimators().values():
        with pytest.raises(ValueError, match="column 'tags' holds list values.*row 0"):
            est().fit(frame, [0, 1, 0])


@pytest.mark.parametrize("name", list(OUTPUT))
def test_a_reversed_view_of_an_array_is_taken_as_its_copy(name):
    X = np.random.default_rng(0).normal(size=(40, 4))
    est = _fit(name, X, np.arange(40) % 2)
    method = OUTPUT[name]
    view = X[::-1, ::-1]  # negative strides, which torch does not take
    np.testing.assert_array_equal(getattr(est, method)(view),
                                  getattr(est, method)(view.copy()))


@pytest.mark.parametrize("name", list(OUTPUT))
def test_a_frame_without_columns_is_a_clear_error(name):
    with pytest.raises(ValueError, match="0 columns|0 feature"):
        _fit(name, pd.DataFrame(index=range(5)), np.arange(5) % 2)


@pytest.mark.parametrize("scaler", ["auto", None, "robust"])
def test_a_value_near_float32s_limit_is_a_scaling_error_not_a_divergence(scaler):
    X = np.random.default_rng(0).normal(size=(50, 3))
    X[5, 1] = 3e38
    with pytest.raises(ValueError, match=r"(?s)column\(s\) \[1\].*scaling problem, not a "
                       "learning-rate"):
        AutoEncoder(scaler=scaler, **FAST).fit(X)


# --------------------------------------------------------------------------- saved form
def test_models_saved_before_the_schema_still_load(tmp_path):
    frame, _ = _mixed_frame()
    ae = _fit("AutoEncoder", frame, None, missing="impute")
    ae.save(tmp_path / "m")
    expected = ae.transform(frame)
    from aekit.core.storage import read_model_dir, write_model_dir

    config, tensors = read_model_dir(tmp_path / "m")
    schema = config["fitted"].pop("schema_")  # the fields older versions wrote instead
    config["fitted"].update(input_shape_=schema["sample_shape"], columns_=schema["columns"],
                            fill_values_=schema["fill_values"])
    write_model_dir(tmp_path / "old", tensors, config)
    old = aekit.load(tmp_path / "old")
    np.testing.assert_array_equal(old.transform(frame), expected)
    assert old.columns_ == ae.columns_ and old.fill_values_ == ae.fill_values_


def test_schema_round_trips_through_its_json():
    frame, _ = _mixed_frame()
    ae = _fit("AutoEncoder", frame, None, missing="impute")
    again = InputSchema.from_config(json.loads(json.dumps(ae.schema_.to_config())))
    assert again.to_config() == ae.schema_.to_config()
    np.testing.assert_array_equal(again.rows(frame, ae).values, ae.schema_.rows(frame, ae).values)


# --------------------------------------------------------------------------- command line
def test_the_same_mixed_table_through_train_train_classifier_and_detect(tmp_path):
    frame, y = _mixed_frame(n=120)
    frame["label"] = y
    path = tmp_path / "mixed.csv"
    frame.to_csv(path, index=False)
    train = invoke("train", "--data", path, "--missing", "impute", "--components", "2",
                   "--hidden", "16", *CLI_FAST, "--out", tmp_path / "ae")
    assert_ok(train)
    ae = aekit.load(tmp_path / "ae")
    assert ae.schema_.has_categories and ae.missing == "impute"
    clf = invoke("train-classifier", "--data", path, "--label", "label", "--missing", "impute",
                 "--components", "2", *CLI_FAST, "--out", tmp_path / "clf")
    assert_ok(clf)
    model = aekit.load(tmp_path / "clf")
    assert model.schema_.has_categories and model.n_unlabelled_ > 0
    assert model.n_features_in_ == frame.shape[1] - 1  # the label column left out
    detect = invoke("detect", "--data", path, "--missing", "impute", "--n-estimators", "2",
                    *CLI_FAST, "--out", tmp_path / "det")
    assert_ok(detect)
    det = aekit.load(tmp_path / "det")
    assert det.schema_.has_categories and det.schema_.fill_values is not None


def test_a_warm_start_keeps_the_schema_its_network_was_built_for():
    frame, _ = _mixed_frame()
    ae = AutoEncoder(hidden_layer_sizes=(8,), missing="impute", warm_start=True, **FAST)
    ae.fit(frame)
    before = ae.schema_.to_config()
    later = frame[frame["service"] != "smtp"]  # a batch without one category
    ae.fit(later)
    assert ae.schema_.to_config() == before and ae.n_iter_ == 2 * FAST["max_epochs"]
    assert np.isfinite(ae.transform(frame)).all()


# --------------------------------------------------------------------------- doubtful input
def test_a_table_of_plain_columns_gives_no_input_warning():
    frame, _ = _mixed_frame()
    with warnings.catch_warnings():
        warnings.simplefilter("error", aekit.InputWarning)
        ae = _fit("AutoEncoder", frame, None, missing="impute")
        new = frame.copy()
        new.loc[:4, "service"] = "gopher"  # a few rows of a new service: what a detector scores
        ae.transform(new)


def test_numbers_stored_as_text_and_identifiers_are_doubted_at_fit():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"rate": rng.normal(size=60).round(3).astype(str),
                          "id": [f"row-{i}" for i in range(60)], "ok": rng.normal(size=60)})
    frame.loc[7, "rate"] = "n/a"  # read from a file: the column stays text
    with pytest.warns(aekit.InputWarning) as seen:
        ae = AutoEncoder(hidden_layer_sizes=(8,), **FAST).fit(frame)
    assert seen[0].filename == __file__  # the caller's fit line
    message = str(seen[0].message)
    assert re.search(r"2 column\(s\) unlikely to be meant as categories: 'rate' holds numbers "
                     r"as text \(59 of 60 values; the others: 'n/a'\), taken as 60 categories; "
                     r".*pd\.to_numeric\(X\['rate'\], errors='coerce'\)", message), message
    assert re.search(r"'id' has 60 distinct values in 60 rows.*identifier", message), message
    assert ae.schema_.columns[0]["kind"] == "categorical"  # warned, not changed


def test_dates_as_text_are_doubted_as_such(tmp_path):
    """Dates in a CSV file are text: 28 days in 96 rows were taken as 28 categories without
    a word (too few for an identifier), and every later date is a category unseen in fit.
    Codes that merely parse as dates ("T1") are not doubted."""
    from aekit.data import read_table
    from aekit.data.tables import describe_columns, doubtful_categories

    days = pd.date_range("2024-01-01", periods=28).strftime("%Y-%m-%d")
    path = tmp_path / "d.csv"
    pd.DataFrame({"when": np.resize(days, 96), "v": np.arange(96)}).to_csv(path, index=False)
    frame = read_table(path)
    (reason,) = doubtful_categories(frame, describe_columns(frame))
    assert re.search(r"'when' holds dates as text \('2024-01-01': 28 of the 28 categories "
                     r"tried\), taken as 28 categories: .*pd\.to_datetime\(X\['when'\]\)",
                     reason), reason
    codes = pd.DataFrame({"code": np.resize([f"T{i}" for i in range(28)], 96)})
    assert doubtful_categories(codes, describe_columns(codes)) == []


def test_a_category_column_with_no_value_is_doubted():
    # A number column so is an error (or warned of under missing="impute"); a text column
    # with no value became one category without a word.
    frame = pd.DataFrame({"x": np.arange(10.0), "note": pd.array([pd.NA] * 10, dtype="string")})
    with pytest.warns(aekit.InputWarning, match=r"'note' has no value in its 10 rows \(all "
                      r"missing\).*drop it"):
        AutoEncoder(hidden_layer_sizes=(4,), **FAST).fit(frame)


def test_numbers_with_a_decimal_comma_are_doubted_as_such():
    """A table read without its decimal comma (pandas' read_csv(sep=';')): every column
    text, each value its own category. The doubt names the decimal comma and the fix, not
    an identifier to drop."""
    from aekit.data.tables import describe_columns, doubtful_categories

    values = np.random.default_rng(0).normal(size=60).round(3)
    frame = pd.DataFrame({"a": [f"{v:.3f}".replace(".", ",") for v in values]})
    (reason,) = doubtful_categories(frame, describe_columns(frame))
    assert re.search(r"'a' holds numbers written with a decimal comma \('-?\d,\d{3}': 60 of "
                     r"60 values\), taken as \d+ categories; .*decimal=','.*"
                     r"str\.replace\(',', '\.'\)", reason), reason
    assert "identifier" not in reason


@pytest.mark.parametrize("cells, fix", [
    (lambda v: f"{v:,.2f}", r"X\['x'\] = pd\.to_numeric\(X\['x'\]\.str\.replace\(',', ''\)\) "
                            r"\(a file: pd\.read_csv\(\.\.\., thousands=','\)\)"),
    (lambda v: f"{v / 100:.1f}%", r"\.str\.rstrip\('%'\)\)$"),
    (lambda v: f"-${-v:,.2f}" if v < 0 else f"${v:,.2f}", r"\[\$,\]"),
    (lambda v: f"({-v:.2f})" if v < 0 else f"{v:.2f}", r"-\\1"),
    (lambda v: f"€ {v:,.2f}".replace(",", " ").replace(".", ","), r"\[€\\s\]"),
], ids=["thousands", "percent", "currency", "accounting", "euro"])
def test_numbers_written_as_spreadsheets_format_them_are_doubted_as_such(cells, fix):
    """A DataFrame read by pandas without thousands=',' (or with $, %, parentheses): each
    value a category. The doubt names how they are written and a line that makes the column
    numbers, not an identifier to drop."""
    from aekit.data.tables import describe_columns, doubtful_categories

    values = np.random.default_rng(0).uniform(-9000, 9000, 60).round(2)
    frame = pd.DataFrame({"x": [cells(v) for v in values]})
    (reason,) = doubtful_categories(frame, describe_columns(frame))
    assert re.search(r"^'x' holds numbers written with .*; all 60 values\), taken as \d+ "
                     r"categories; make it a number column: X\['x'\] = pd\.to_numeric", reason)
    assert re.search(fix, reason), reason
    assert "identifier" not in reason
    line = re.search(r"X\['x'\] = (pd\.to_numeric\(.*?\))(?: \(a file|$)", reason)[1]
    numbers = eval(line, {"pd": pd, "X": frame})  # noqa: S307 -- the doubt's fix, as run
    assert numbers.notna().all() and (numbers < 0).any()


def test_a_table_read_by_aekit_is_not_doubted_again_for_what_the_reader_said(tmp_path):
    """read_table warned of the column with the file's pandas call; the fit says nothing
    more of it (before: 'an identifier? drop it'), and still doubts the other columns."""
    from aekit.data import read_table

    path = tmp_path / "t.csv"
    rows = [f'"{1000 + 37 * i:,}.5",row-{i},{i % 3}' for i in range(40)]
    path.write_text("price,id,n\n" + "\n".join(rows) + "\n")
    with pytest.warns(aekit.InputWarning, match="'price'.*as spreadsheets format them"):
        frame = read_table(path)
    with pytest.warns(aekit.InputWarning) as seen:
        AutoEncoder(hidden_layer_sizes=(4,), **FAST).fit(frame)
    messages = " ".join(str(w.message) for w in seen)
    assert "'id' has 40 distinct values" in messages and "'price'" not in messages


def test_numbers_with_a_comma_before_three_digits_name_both_readings():
    """1,234 alone is 1.234 with a decimal comma or 1234 with a thousands separator: the
    doubt gives the fix of each."""
    from aekit.data.tables import describe_columns, doubtful_categories

    frame = pd.DataFrame({"a": [f"{1 + i},{(37 * i) % 1000:03d}" for i in range(40)]})
    (reason,) = doubtful_categories(frame, describe_columns(frame))
    assert "decimal comma ('1,000'" in reason and "unless the comma separates thousands " \
        "there ('1,000' for 1000)" in reason and ".str.replace(',', ''))" in reason


def test_categories_that_were_not_text_are_coded_as_fitted():
    import datetime
    import decimal

    from aekit.data.tables import describe_columns, encode_table

    days = [datetime.date(2020, 1, 1 + i % 3) for i in range(9)]
    frame = pd.DataFrame({"day": days, "price": [decimal.Decimal(i % 2) for i in range(9)],
                          "when": pd.Categorical(pd.to_datetime([str(d) for d in days]))})
    columns = describe_columns(frame)
    assert columns[0]["categories"] == ["2020-01-01", "2020-01-02", "2020-01-03"]
    codes = encode_table(frame, columns)  # each cell its own category, none unknown
    np.testing.assert_array_equal(codes[:, 0], [i % 3 for i in range(9)])
    np.testing.assert_array_equal(codes[:, 1], [i % 2 for i in range(9)])
    np.testing.assert_array_equal(codes[:, 2], [i % 3 for i in range(9)])


@pytest.mark.parametrize("change, cause", [
    (lambda f: f.assign(flag=f["flag"].astype(str)),
     r"'flag': 90 of 90 rows \('(True|False)', '(True|False)'; fitted: False, True\); they "
     r"are the fitted categories as another type \((str|object) now, bool in fit\)"),
    (lambda f: f.assign(service=f["service"].str.upper()),
     r"'service': 90 of 90 rows .*only in letter case"),
    # pd.NA (a "string" or "boolean" column) failed with "boolean value of NA is ambiguous"
    (lambda f: f.assign(flag=pd.array([pd.NA] * len(f), dtype="boolean")),
     r"'flag': 90 of 90 rows \(missing; fitted: False, True\); they are missing"),
    (lambda f: f.assign(service=pd.array(["gopher", pd.NA] * 45, dtype="string")),
     r"'service': 90 of 90 rows \('gopher'; fitted: 'ftp', 'http', 'smtp'\)\. "),
])
def test_a_column_of_mostly_unseen_categories_warns_with_its_cause(change, cause):
    frame, _ = _mixed_frame()
    ae = _fit("AutoEncoder", frame, None, missing="impute")
    with pytest.warns(aekit.InputWarning, match="1 column\\(s\\) of X hold mostly categories "
                      "the model was not fitted on: " + cause) as seen:
        ae.transform(change(frame))
    assert seen[0].filename == __file__  # through scikit-learn's transform wrapper


def test_a_few_rows_of_fitted_categories_as_another_type_warn():
    # Scoring two rows read from a file ("True" for True) coded them 'unknown' silently: the
    # warning needed 10 rows, as a few rows of a new category are what a detector scores.
    frame, _ = _mixed_frame()
    ae = _fit("AutoEncoder", frame, None, missing="impute")
    two = frame.iloc[[0, 1]].astype({"flag": str})
    with pytest.warns(aekit.InputWarning, match=r"'flag': 2 of 2 rows .*as another type"):
        ae.transform(two)
    new = frame.iloc[[0, 1]].assign(service="gopher")  # a new service: scored, not warned
    with warnings.catch_warnings():
        warnings.simplefilter("error", aekit.InputWarning)
        ae.transform(new)


def test_integer_named_columns_in_another_order_are_refused():
    frame = pd.DataFrame(np.random.default_rng(0).normal(size=(40, 3)))  # header=None
    ae = AutoEncoder(hidden_layer_sizes=(8,), **FAST).fit(frame)
    with pytest.raises(ValueError, match=r"in another order \(\[2, 0, 1\] now, \[0, 1, 2\] "
                       r"in fit\).*X\[sorted\(X\.columns\)\]"):
        ae.transform(frame[[2, 0, 1]])


def test_codes_in_an_array_and_dates_in_a_number_column_are_refused():
    frame, _ = _mixed_frame()
    ae = _fit("AutoEncoder", frame, None, missing="impute")
    codes = frame.assign(service=frame["service"].map({"ftp": 0, "http": 1, "smtp": 2}))
    with pytest.warns(UserWarning, match=NO_NAMES_WARNING), \
            pytest.raises(ValueError, match="'service'.*held categories.*hold numbers now"):
        ae.transform(codes.to_numpy(dtype=object))
    with pytest.raises(ValueError, match=r"'flag' \(bool then, int64 now\) held categories "
                       r"\(text or booleans\).*True/False"):  # it said "(text)"
        ae.transform(frame.astype({"flag": "int64"}))
    dates = frame.assign(count=pd.to_datetime(frame["count"], unit="D"))
    with pytest.raises(ValueError, match=r"'count' \(int64 then, datetime64\[\w+\] now\) held "
                       r"numbers .* dates or durations now"):
        ae.transform(dates)


def test_columns_and_rows_with_no_observed_value_warn_under_impute():
    X = np.random.default_rng(0).normal(size=(50, 3))
    X[:, 1] = np.nan
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        ae = AutoEncoder(hidden_layer_sizes=(8,), missing="impute", **FAST).fit(X)
    assert [str(w.message) for w in seen] == [
        "X has 1 column(s) [1] with no observed value in its 50 rows: filled with 0, they "
        "teach the model nothing; drop them."]  # and no numpy all-NaN warning
    Q = np.random.default_rng(1).normal(size=(4, 3))
    Q[2] = np.nan
    with pytest.warns(aekit.InputWarning, match=r"1 row\(s\) \[2\] with no observed value: "
                      r"imputed, .*scored as one"):
        ae.score_samples(Q)
