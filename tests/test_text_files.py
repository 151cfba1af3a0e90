"""Real files: read_table (headers, delimiters, BOM, quotes, missing cells, text columns),
load_dataset's label / drop / rows, and the command line on such files: training on a CSV
with string columns, encoding new rows by column name, one error line for a bad file."""

from __future__ import annotations

import json
import re
import warnings

import numpy as np
import pytest

from aekit.data import load_dataset, read_array, read_rows, read_table
from test_cli import assert_ok, assert_one_line_error, invoke

pd = pytest.importorskip("pandas")


def write(tmp_path, name, text, encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


# --------------------------------------------------------------------------- read_table
@pytest.mark.parametrize("name, text, columns, first", [
    ("header.csv", "a, b,c\n1,2,x\n4.5,-6,y\n", ["a", "b", "c"], [1.0, 2, "x"]),
    ("no_header.txt", "0,tcp,ftp,491\n0,udp,other,146\n", ["1", "2", "3", "4"],
     [0, "tcp", "ftp", 491]),
    ("semicolons.csv", "a;b\n1,5;2\n3;4\n", ["a", "b"], [1.5, 2]),
    ("tabs.tsv", "a\tb\n1\t2\n", ["a", "b"], [1, 2]),
    ("pipes.csv", "a|b\n1|x\n2|y\n", ["a", "b"], [1, "x"]),
    ("spaces.txt", "1 2  3\n4 5 6\n", ["1", "2", "3"], [1, 2, 3]),
    ("bom.csv", "\ufeffa,b\n1,2\n3,4\n", ["a", "b"], [1, 2]),
    ("bom_no_header.csv", "\ufeff1,2\n3,4\n", ["1", "2"], [1, 2]),
    ("quoted.csv", 'name,v\n"Smith, J",1\n"say ""hi""",2\n', ["name", "v"], ["Smith, J", 1]),
    ("text_only.csv", "city,country\nParis,France\nRome,Italy\n", ["city", "country"],
     ["Paris", "France"]),
    ("crlf.csv", "a,b\r\n1,2\r\n3,4\r\n", ["a", "b"], [1, 2]),
])
def test_read_table_detects_header_and_delimiter(tmp_path, name, text, columns, first):
    frame = read_table(write(tmp_path, name, text))
    assert list(frame.columns) == columns
    assert frame.iloc[0].tolist() == first
    # The index is each row's line in the file.
    assert frame.index.name == "line" and frame.index[0] == (2 if columns[0] != "1" else 1)


def test_read_table_types_and_missing_cells(tmp_path):
    frame = read_table(write(tmp_path, "m.csv", "a,b,c,d\n1,,x,1\n2,3,,2.5\n3,4,z,NA\n"))
    assert frame["a"].dtype == np.int64 and frame["b"].dtype == np.float64
    assert frame["b"].isna().tolist() == [True, False, False]
    assert frame["c"].isna().tolist() == [False, True, False]  # a missing category
    assert frame["d"].dtype == np.float64 and np.isnan(frame["d"].iloc[2])


def test_booleans_beside_empty_cells_and_huge_integers_are_read_as_written(
        tmp_path, monkeypatch):
    """pandas reads True/empty/False as Python booleans in an object column and an integer
    beyond 64 bits as a Python int. Beside a text column they were read as all missing
    (pandas' .str makes other objects NaN), alone they failed with pandas' "Can only use
    .str accessor"; they are typed as written (text; a float), in whole files and chunks."""
    from aekit.anomaly import streaming

    path = write(tmp_path, "b.csv", "a,flag,name,big\n1,True,x,99999999999999999999\n"
                 "2,,y,3\n3,False,z,4\n4,True,x,5\n")
    frame = read_table(path)
    assert frame["flag"].tolist()[::2] == ["True", "False"] and frame["flag"].isna().sum() == 1
    assert frame["name"].tolist() == ["x", "y", "z", "x"]
    assert frame["big"].dtype == np.float64 and frame["big"].iloc[0] == 1e20
    alone = read_table(write(tmp_path, "f.csv", "a,flag\n1,True\n2,\n3,False\n"))
    assert alone["flag"].tolist()[::2] == ["True", "False"]
    monkeypatch.setattr(streaming, "TEXT_CHUNK_ROWS", 2)
    chunks = [rows for _, rows, _ in streaming.TextRows(path).frames()]
    assert [c["flag"].tolist()[0] for c in chunks] == ["True", "False"]


def test_header_names_equal_once_stripped_stay_apart(tmp_path):
    # "a " and " a" are two names to pandas and were both "a" once stripped: a frame with
    # two columns "a", which a model refuses and --label a cannot pick.
    frame = read_table(write(tmp_path, "h.csv", "a , a,b\n1,2,3\n4,5,6\n"))
    assert list(frame.columns) == ["a", "a.1", "b"] and frame["a.1"].tolist() == [2, 5]


def test_read_table_reads_decimal_commas_in_a_semicolon_file(tmp_path):
    """What a spreadsheet saves where the comma is the decimal mark: ';' between cells, a
    byte-order mark, 0,134. Its numbers are numbers (header detection sees them too), in a
    file of commas a quoted "0,5" stays text."""
    frame = read_table(write(tmp_path, "de.csv", "\ufeffa;b;c;d\n0,134;-2;x;1,5e1\n"
                             "-1,25;3;y;NA\n,5;4,0;z;2\n"))
    assert [str(t) for t in frame.dtypes[["a", "b", "d"]]] == ["float64", "int64", "float64"]
    np.testing.assert_array_equal(frame["a"], [0.134, -1.25, 0.5])
    assert frame["b"].tolist() == [-2, 3, 4] and frame["c"].tolist() == ["x", "y", "z"]
    assert frame["d"].iloc[0] == 15 and np.isnan(frame["d"].iloc[1])
    no_header = read_table(write(tmp_path, "n.csv", "0,5;1,25\n2,5;3,5\n"))
    assert list(no_header.columns) == ["1", "2"] and no_header["1"].tolist() == [0.5, 2.5]
    commas = read_table(write(tmp_path, "c.csv", 'a,b\n"0,5",1\n"1,5",2\n'))
    assert commas["a"].tolist() == ["0,5", "1,5"]


def test_a_text_file_read_in_chunks_is_typed_as_read_table_types_it(tmp_path, monkeypatch):
    """The chunked reader (large files for ``aekit detect``/``score``) shares read_table's
    rules: decimal commas in a ';' file are numbers, NA is missing, True/false is text (a
    chunk pandas reads as booleans included), cells are stripped."""
    import pandas as pd

    from aekit.anomaly import streaming

    path = write(tmp_path, "de.csv", "\ufeffa;b;c;flag\n0,134;-2;x ;a\n-1,25;3;NA;b\n"
                 ",5;4;z;True\n1,5e1;5;y;false\n-0,5;6;x;c\n2,25;7;w;d\n")
    monkeypatch.setattr(streaming, "TEXT_CHUNK_ROWS", 2)  # the booleans: the 2nd chunk alone
    chunks = [rows for _, rows, _ in streaming.TextRows(path).frames()]
    assert [len(rows) for rows in chunks] == [2, 2, 2]
    whole = read_table(path)
    assert whole["a"].tolist() == [0.134, -1.25, 0.5, 15.0, -0.5, 2.25]
    pd.testing.assert_frame_equal(pd.concat(chunks).reset_index(drop=True),
                                  whole.reset_index(drop=True))


def test_the_chunked_reader_warns_of_formatted_numbers_once_as_read_table(tmp_path,
                                                                           monkeypatch):
    """Numbers written as spreadsheets format them ($1,234.50) are warned of by the chunked
    reader (``aekit detect`` on a large file) as by read_table: once, from the first chunk,
    and not again at the detector's next pass over the file."""
    from aekit.anomaly import streaming
    from aekit.data.delimited import read_table_chunks

    path = write(tmp_path, "money.csv", 'a,price\n1,"$1,234.50"\n2,"$2,000.00"\n'
                 '3,"$15.25"\n4,"$7.00"\n5,"$8.00"\n')

    def told(read):
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            read()
        return [str(w.message) for w in record]

    whole = told(lambda: read_table(path))
    assert len(whole) == 1 and "'price'" in whole[0]
    assert told(lambda: list(read_table_chunks(path, ",", True, 2))) == whole
    assert told(lambda: list(read_table_chunks(path, ",", True, 2, warn=False))) == []
    monkeypatch.setattr(streaming, "TEXT_CHUNK_ROWS", 2)
    rows = streaming.TextRows(path)
    assert told(lambda: [list(rows.frames()) for _ in range(2)]) == whole


@pytest.mark.parametrize("index", [False, True])
def test_a_first_row_of_numbers_that_may_name_the_columns_is_warned_of(tmp_path, index):
    """pandas' to_csv names a DataFrame's unnamed columns 0, 1, 2, ... (after an empty cell
    for its index): by the rule, a column of numbers starting with a number, the row is read
    as data. It cannot be told from data, so the reader says how to read it as a header."""
    from aekit.core.checks import InputWarning

    X = np.random.RandomState(0).rand(30, 5)
    path = tmp_path / "x.csv"
    pd.DataFrame(X).to_csv(path, index=index)
    with pytest.warns(InputWarning, match=r"first row \(.*0, 1, 2, \.\.\.\) as data.*header=True"):
        as_data = read_table(path)
    assert len(as_data) == len(X) + 1  # the rule stands
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        named = read_table(path, header=True)
    # Read as names, the index column is named and its warning says how to leave it out.
    assert [str(w.message).count("'Unnamed: 0' holds the row numbers") for w in record] == (
        [1] if index else [])
    pd.testing.assert_frame_equal(named.reset_index(drop=True),
                                  pd.read_csv(path).set_axis(named.columns, axis=1))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(read_table(path, header=False)) == len(X) + 1  # said so: silent


@pytest.mark.parametrize("text", [
    "400,410,420\n0.12,0.5,0.7\n0.2,0.4,0.9\n",  # wavelengths above measurements
    "1,2,3,4\n5,9,2,7\n",  # 1, 2, 3, ...: a numbering of the columns
    ",0,1\n0,5,6\n1,7,8\n",  # pandas' index and column names
])
def test_numbers_that_look_like_names_are_warned_of(tmp_path, text):
    from aekit.core.checks import InputWarning

    with pytest.warns(InputWarning, match=r"may name the columns"):
        read_table(write(tmp_path, "x.csv", text))


@pytest.mark.parametrize("text", [
    "0.5,1.5,2\n3,4,5\n",  # not whole numbers
    "3,2,1\n4,5,6\n",  # not increasing
    "1,2,3\n4,5,6\n1,2,3\n",  # met again below: data
    "7\n8\n",  # one column
    "a,b\n1,2\n",  # a header
    "3,7\n5,2\n9,4\n",  # increasing whole numbers above whole numbers: as likely data
    "1,2\n3,4\n",  # 1, 2: too few columns to be a numbering
    "1995,2001\n4,5\n",  # years above whole numbers
])
def test_rows_of_data_that_cannot_be_names_are_read_silently(tmp_path, text):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read_table(write(tmp_path, "x.csv", text))


def test_codes_written_with_leading_zeros_read_as_numbers_are_warned_of(tmp_path):
    """pandas and aekit read 01234 as the number 1234 (the rule stands); postcodes and
    identifiers so lose their zeros and become sizes: the reader says how to keep them."""
    from aekit.core.checks import InputWarning

    text = "zip,income,id,month\n01234,3.5,000123,07\n00501,4.1,000124,11\n90210,5,000125,12\n"
    path = write(tmp_path, "z.csv", text)
    with pytest.warns(InputWarning, match=r"'zip', 'id' hold whole numbers written with "
                      r"leading zeros \('01234'.*dtype=\{'zip': str\}") as record:
        frame = read_table(path)
    assert "month" not in str(record[0].message)  # two digits: a number enough
    pd.testing.assert_frame_equal(frame.reset_index(drop=True), pd.read_csv(path),
                                  check_dtype=False)
    headerless = write(tmp_path, "n.csv", "1.5,0042\n2.5,0043\n")
    with pytest.warns(InputWarning, match=r"header=None, dtype=\{1: str\}"):
        read_table(headerless)


@pytest.mark.parametrize("name, sep, header", [
    ("z.csv", ",", True), ("z.csv", ";", True), ("z.tsv", "\t", True),
    ("z.txt", "   ", True), ("n.csv", ";", False), ("n.txt", " ", False)])
def test_the_read_csv_call_the_codes_warning_gives_reads_the_codes_as_text(
        tmp_path, name, sep, header):
    # The call is what a reader copies: it must read this file, whatever its separator
    # (and a semicolon file's decimal commas), with the codes' zeros kept.
    from aekit.core.checks import InputWarning

    rows = [["01234", "3,5" if sep == ";" else "3.5"], ["00501", "4,25" if sep == ";" else
                                                         "4.25"], ["90210", "5"]]
    lines = ([["zip", "income"]] if header else []) + rows
    path = write(tmp_path, name, "".join(sep.join(r) + "\n" for r in lines))
    with pytest.warns(InputWarning, match="leading zeros") as record:
        frame = read_table(path)
    call = re.search(r"pd\.read_csv\(path.*?str\}\)", str(record[0].message))[0]
    suggested = eval(call, {"pd": pd, "path": path, "str": str})  # noqa: S307
    assert suggested.shape == frame.shape
    assert suggested.iloc[:, 0].tolist() == ["01234", "00501", "90210"]
    np.testing.assert_allclose(suggested.iloc[:, 1].astype(float), frame.iloc[:, 1])


def test_codes_are_warned_of_in_a_first_line_longer_than_the_sample(tmp_path):
    """A first record longer than the sample the format is judged on: the columns the
    sample saw are checked (its last cell may be cut short), the rest are not, and the
    read is the same."""
    from aekit.core.checks import InputWarning
    from aekit.data import delimited

    n = delimited._SAMPLE_BYTES // 8 * 3  # cells of about 8 bytes: the sample sees a third
    row = ",".join(["01234"] + ["0.123456"] * (n - 1))
    path = write(tmp_path, "wide.csv", row + "\n" + row.replace("01234", "00501") + "\n")
    with pytest.warns(InputWarning, match=r"column\(s\) '1' hold whole numbers"):
        frame = read_table(path)
    assert frame.shape == (2, n) and frame.iloc[:, 0].tolist() == [1234, 501]


@pytest.mark.parametrize("text", [
    "a,b\n0.005,1\n0.25,2\n",  # decimals
    "a;b\n0,0123;1\n2,5;2\n",  # decimal commas
    "a,b\n0,07\n0,11\n",  # zeros, two digits
    "a,b\n01234,x\nabc,y\n",  # a text column keeps its zeros
])
def test_numbers_without_codes_are_read_silently(tmp_path, text):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read_table(write(tmp_path, "x.csv", text))


@pytest.mark.parametrize("write_index", [
    lambda frame, path: frame.to_csv(path),  # pandas' default: index=True, 0, 1, 2, ...
    lambda frame, path: frame.set_axis(frame.index + 1).to_csv(path),  # R: 1, 2, 3, ...
    # read with pandas and written again: two index columns ("Unnamed: 0", "Unnamed: 0.1")
    lambda frame, path: (frame.to_csv(path), pd.read_csv(path).to_csv(path)),
])
def test_a_column_of_pandas_row_index_is_warned_of(tmp_path, monkeypatch, write_index):
    """to_csv writes a DataFrame's index as a first column under an empty header: numbers,
    read as a feature like any column (the rule stands), which teaches a model the rows'
    order. The reader names it and how to leave it out; leaving it out silences it."""
    from aekit.anomaly import streaming
    from aekit.core.checks import InputWarning

    frame = pd.DataFrame(np.random.RandomState(0).rand(30, 3), columns=["a", "b", "c"])
    path = tmp_path / "x.csv"
    write_index(frame, path)
    index = [c for c in pd.read_csv(path).columns if c.startswith("Unnamed")]
    with pytest.warns(InputWarning, match=r"'Unnamed: 0'.* hold.* row numbers.*"
                      r"drop=.*'Unnamed: 0'.*index=False") as record:
        read = read_table(path)
    assert len(record) == 1 and all(repr(c) in str(record[0].message) for c in index)
    pd.testing.assert_frame_equal(read.reset_index(drop=True), pd.read_csv(path))  # as read
    with pytest.warns(InputWarning, match="row numbers"):
        X, _, names, _ = read_rows(path)
    assert names == index + ["a", "b", "c"]
    if len(index) > 1:
        with pytest.warns(InputWarning, match=re.escape(f"{index[0]!r} holds")):  # kept
            read_rows(path, drop=index[1:])
    monkeypatch.setattr(streaming, "TEXT_CHUNK_ROWS", 7)
    with pytest.warns(InputWarning, match="row numbers"):  # a file read in chunks
        list(streaming.TextRows(path, warn_index=True).frames())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        X, _, names, _ = read_rows(path, drop=index)
        assert names == ["a", "b", "c"]
        load_dataset(path, drop=index)
        list(streaming.TextRows(path, drop=index, warn_index=True).frames())
        list(streaming.TextRows(path).frames())  # for a fitted model
        read_rows(path, warn_index=False)  # for a fitted model: it takes its own columns


@pytest.mark.parametrize("text", [
    ",a\n0,1.5\n2,2.5\n1,3.5\n",  # not in order
    ",a\n5,1.5\n6,2.5\n7,3.5\n",  # not from 0 or 1
    ",a\n0,1.5\n1.5,2.5\n2,3.5\n",  # not whole numbers
    ",a\nx,1.5\ny,2.5\nz,3.5\n",  # text: row names
    "id,a\n0,1.5\n1,2.5\n2,3.5\n",  # a named column: the file says what it is
    "0,1.5\n1,2.5\n2,3.5\n",  # no header
])
def test_columns_that_are_not_a_row_index_are_read_silently(tmp_path, text):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read_table(write(tmp_path, "x.csv", text), header=text[0] != "0")


def test_read_table_overrides(tmp_path):
    path = write(tmp_path, "x.csv", "1;2\n3;4\n")
    assert list(read_table(path, header=True).columns) == ["1", "2"]
    assert len(read_table(path, header=True)) == 1
    assert read_table(path, sep=",", header=False).shape == (2, 1)


@pytest.mark.parametrize("name, data, match", [
    ("short.csv", b"a,b\n1,2\n3\n", "line 3 has 1 values, expected 2"),
    ("long.csv", b"a,b\n1,2\n3,4,5\n", "line 3 has 3 values, expected 2"),
    ("header_only.csv", b"a,b\n", "header but no data rows"),
    ("empty.csv", b"", "file is empty"),
    ("blank.csv", b"\n \n", "holds no data"),
    ("latin1.csv", "a,b\nna\u00efve,1\n".encode("latin-1"), "not UTF-8"),
])
def test_read_table_bad_files(tmp_path, name, data, match):
    (tmp_path / name).write_bytes(data)
    with pytest.raises(ValueError, match=match):
        read_table(tmp_path / name)


def test_read_array_names_a_text_cell(tmp_path):
    path = write(tmp_path, "t.csv", "a,b\n1,2\n3,tcp\n")
    with pytest.raises(ValueError, match=r"line 3, column 2 \('b'\): 'tcp' is not a number"):
        read_array(path)


def _formatted_file(tmp_path, name, sep, cell, n=40, seed=0):
    """A file of ``n`` rows: a column 'x' of numbers written by ``cell`` (as a spreadsheet
    exports them) beside a column of counts; the numbers, as written."""
    values = np.random.default_rng(seed).uniform(-9000, 9000, n).round(2)
    lines = [f"x{sep}qty"] + [f"{cell(v)}{sep}{i % 7}" for i, v in enumerate(values)]
    return write(tmp_path, name, "\n".join(lines) + "\n"), values


def _grouped(v, thousands=",", decimal=".") -> str:
    return f"{v:,.2f}".replace(",", "\0").replace(".", decimal).replace("\0", thousands)


SPREADSHEET_NUMBERS = {
    "thousands": (",", lambda v: f'"{_grouped(v)}"'),
    "percent": (",", lambda v: f"{abs(v) / 100:.1f}%"),
    "currency": (",", lambda v: f'"{"-" if v < 0 else ""}${_grouped(abs(v))}"'),
    "accounting": (",", lambda v: f"({-v:.2f})" if v < 0 else f"{v:.2f}"),
    "euro": (";", lambda v: f"€ {_grouped(v, '.', ',')}"),
    "dot grouping, decimal comma": (";", lambda v: _grouped(v, ".", ",")),
    "space grouping": (";", lambda v: _grouped(v, " ", ",")),
    "no-break space": (";", lambda v: f"{_grouped(v, chr(0xa0), ',')} €"),
    "apostrophe": (",", lambda v: _grouped(v, "'")),
}


@pytest.mark.parametrize("kind", SPREADSHEET_NUMBERS)
def test_numbers_written_as_spreadsheets_format_them_are_warned_of_with_the_fix(
        tmp_path, kind):
    """2,244.80 / 55.1% / $1,234.00 / (123.45) / € 1.234,56 / 1 234,56 are read as text as
    written (a category per value; the fit then called them identifiers to drop): the
    reader names them and gives pandas code that, run as written, reads them as the
    numbers they are."""
    from aekit.core.checks import InputWarning

    sep, cell = SPREADSHEET_NUMBERS[kind]
    path, values = _formatted_file(tmp_path, "s.csv", sep, cell)
    written = pd.read_csv(path, sep=sep, dtype=str)["x"].str.strip().tolist()
    with pytest.warns(InputWarning, match="as spreadsheets format them") as record:
        frame = read_table(path)
    message = str(record[0].message)
    example = re.search(r"column\(s\) 'x' \(('.*?'|\".*?\"): ", message)[1]
    assert eval(example) in written, message  # noqa: S307 -- a repr of a cell
    assert "qty" not in message and "identifier" not in message
    assert frame["x"].tolist() == written  # warned, not changed
    code = re.search(r"read the file with pandas: (df = pd\.read_csv\(path.*?), and fit on "
                     r"df", message)[1]
    scope = {"pd": pd, "path": path}
    exec(code, scope)  # noqa: S102 -- the code the warning gives, as a reader runs it
    np.testing.assert_allclose(scope["df"]["x"].astype(float),
                               np.abs(values / 100).round(1) if kind == "percent" else values)
    assert scope["df"]["qty"].tolist() == frame["qty"].tolist()


def test_a_semicolon_file_with_decimal_commas_groups_thousands_with_points(tmp_path):
    """In a file separated by ';' the comma is the decimal mark (aekit reads 0,5 there), so
    1.234,56 groups thousands with a point: pandas is told thousands='.' and decimal=','."""
    path, values = _formatted_file(tmp_path, "de.csv", ";", lambda v: _grouped(v, ".", ","))
    with pytest.warns(Warning, match=r"pd\.read_csv\(path, sep=';', decimal=',', "
                      r"thousands='\.'\)"):
        read_table(path)


def test_the_fix_of_a_headerless_file_of_several_formats_reads_each_column(tmp_path):
    """Columns written otherwise (a percent sign, a thousands separator) need a line each,
    by position when the file has no header; run as given, they read the numbers."""
    rows = [f'"{1000 + 37 * i:,}.5",{i}.5%,{i % 3}' for i in range(30)]
    path = write(tmp_path, "n.csv", "\n".join(rows) + "\n")
    with pytest.warns(Warning, match="as spreadsheets format them") as record:
        read_table(path)
    message = str(record[0].message)
    code = re.search(r"pandas: (df = pd\.read_csv\(path, header=None\);.*?), and fit", message)
    assert code and "df[0] = " in code[1] and "df[1] = " in code[1] and "(drop=['1', '2'])" \
        in message, message
    scope = {"pd": pd, "path": path}
    exec(code[1], scope)  # noqa: S102 -- the code the warning gives, as a reader runs it
    assert scope["df"][0].tolist() == [1000.5 + 37 * i for i in range(30)]
    assert scope["df"][1].tolist() == [i + 0.5 for i in range(30)]


def test_a_comma_file_of_1_234_alone_is_not_called_thousands(tmp_path):
    """1,234 reads as 1234 with a thousands separator and as 1.234 with a decimal comma; a
    comma file of quoted "1,234" and whole numbers alone says neither (pandas' to_csv with
    decimal=',' writes such files), so it is not called thousands. A fraction written with
    a point anywhere in the file (7.5) says the point is its decimal mark, and a cell such
    as 1,234,567 says it in the column itself: then it is."""
    ambiguous = 'x,qty\n"1,234",1\n"5,678",2\n"9,012",3\n'
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        frame = read_table(write(tmp_path, "a.csv", ambiguous))
    assert frame["x"].tolist() == ["1,234", "5,678", "9,012"]
    for text in (ambiguous.replace(",1\n", ",7.5\n"), ambiguous.replace("5,678", "5,678,901")):
        with pytest.warns(Warning, match=r"'x' \('1,234': a thousands separator ','\).*"
                          r"pd\.read_csv\(path, thousands=','\)"):
            read_table(write(tmp_path, "b.csv", text))


def test_identifiers_are_not_numbers_as_spreadsheets_format_them(tmp_path):
    """A-1023 is an identifier: the reader says nothing of it, the fit calls it one."""
    from aekit.data.tables import describe_columns, doubtful_categories

    text = "id,v\n" + "".join(f"A-{1000 + i},{i % 5}\n" for i in range(40))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        frame = read_table(write(tmp_path, "i.csv", text))
    (reason,) = doubtful_categories(frame, describe_columns(frame))
    assert "'id' has 40 distinct values in 40 rows" in reason and "identifier" in reason


# --------------------------------------------------------------------------- load_dataset
def test_load_dataset_label_drop_and_rows(tmp_path):
    rows = "\n".join(f"{i},{i % 3},{'ab'[i % 2]},{'yes' if i % 2 else 'no'}" for i in range(50))
    path = write(tmp_path, "d.csv", "x,y,kind,label\n" + rows + "\n")
    ds = load_dataset(path, label="label", drop=["y"], rows=40, random_state=0)
    assert list(ds.X_train.columns) == ["x", "kind"] and ds.feature_names == ["x", "kind"]
    assert len(ds.X_train) + len(ds.X_test) == 40 and set(ds.y_train) <= {"yes", "no"}
    # Labels stay with their rows through the subsample and the split.
    expected = np.where(ds.X_train["x"] % 2 == 1, "yes", "no")
    assert (ds.y_train == expected).all()
    assert ds.options == {"label": "label", "drop": ["y"], "rows": 40, "header": "infer",
                          "sep": None, "test_size": 0.2}
    with pytest.raises(ValueError, match=r"no column named 'nope'.*x, y, kind, label"):
        load_dataset(path, drop=["nope"])
    with pytest.raises(ValueError, match="label applies to files"):
        load_dataset("digits", label="x")


def test_drop_given_as_a_str_is_one_column(tmp_path):
    # Regression: drop="id" was split into the letters 'i' and 'd'.
    path = write(tmp_path, "d.csv", "id,x,y\n" + "".join(f"{i},{i},{i * 2}\n" for i in range(20)))
    ds = load_dataset(path, drop="id")
    assert ds.feature_names == ["x", "y"] and ds.options["drop"] == ["id"]
    X, _, names, _ = read_rows(path, drop="id")
    assert names == ["x", "y"]


def test_header_and_sep_are_refused_where_they_do_not_apply(tmp_path):
    # Regression: they were ignored silently for named datasets and .npy / .npz files.
    with pytest.raises(ValueError, match="header, sep apply to files, not to the digits"):
        load_dataset("digits", header=False, sep=";")
    np.save(tmp_path / "a.npy", np.zeros((10, 3)))
    with pytest.raises(ValueError, match=r"a.npy: sep applies to text files"):
        load_dataset(tmp_path / "a.npy", sep=";")
    with pytest.raises(ValueError, match=r"a.npy: header applies to text files"):
        read_rows(tmp_path / "a.npy", header=False)
    load_dataset(tmp_path / "a.npy", header="infer", sep=None)  # the defaults


# --------------------------------------------------------------------------- command line
def _table_csv(path, n=300, seed=0, extra=True):
    rng = np.random.RandomState(seed)
    a = rng.rand(n)
    frame = pd.DataFrame({
        "duration": np.round(100 * a ** 4, 2), "protocol_type": np.where(a > 0.5, "tcp", "udp"),
        "bytes": np.round(np.exp(10 * a)).astype(int), "rate": np.round(1 - a, 3)})
    if extra:
        frame["label"] = np.where(a > 0.8, "attack", "normal")
        frame["difficulty"] = rng.randint(0, 21, n)
    frame.to_csv(path, index=False)
    return frame


@pytest.fixture(scope="module")
def table_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("table")
    _table_csv(tmp / "train.csv")
    run = tmp / "run"
    result = invoke("train", "--data", tmp / "train.csv", "--drop", "label,difficulty",
                    "--components", "2", "--epochs", "3", "--seed", "0", "--device", "cpu",
                    "--out", run)
    assert_ok(result)
    return tmp, run, result


def test_train_on_a_csv_with_string_columns(table_run):
    tmp, run, result = table_run
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["dataset"]["train_shape"] == [240, 4]
    assert metrics["dataset"]["options"]["drop"] == ["label", "difficulty"]
    config = json.loads((run / "config.json").read_text())
    assert [c["name"] for c in config["fitted"]["schema_"]["columns"]] == [
        "duration", "protocol_type", "bytes", "rate"]
    assert "in scaled units" in result.stdout and "protocol_type" in result.stdout


def test_encode_new_rows_matched_by_name(table_run, tmp_path):
    tmp, run, _ = table_run
    new = _table_csv(tmp_path / "new.csv", n=37, seed=1)
    new[["rate", "label", "bytes", "protocol_type", "duration"]].to_csv(
        tmp_path / "shuffled.csv", index=False)  # other order, an extra column
    for name in ("new.csv", "shuffled.csv"):
        result = invoke("encode", run, tmp_path / name, "--out", tmp_path / f"{name}.npy")
        assert_ok(result)
        codes = np.load(tmp_path / f"{name}.npy")
        assert codes.shape == (37, 2) and np.isfinite(codes).all()
    result = invoke("encode", run, tmp_path / "new.csv", "--out", tmp_path / "codes.csv")
    assert_ok(result)
    assert np.loadtxt(tmp_path / "codes.csv", delimiter=",", skiprows=1).shape == (37, 2)
    new.drop(columns="bytes").to_csv(tmp_path / "lacking.csv", index=False)
    result = invoke("encode", run, tmp_path / "lacking.csv", "--out", tmp_path / "c.npy")
    assert_one_line_error(result)
    assert "no column named 'bytes'" in result.stderr


def test_compare_and_report_reuse_the_runs_data_options(table_run):
    tmp, run, _ = table_run
    assert_ok(invoke("compare", run, "--data", tmp / "train.csv"))
    result = invoke("report", run, "--data", tmp / "train.csv", "--label", "label",
                    "--drop", "difficulty")
    assert_ok(result)
    page = (run / "report.html").read_text()
    assert 'id="columns"' in page and 'id="labels"' in page


def test_compare_and_report_match_another_files_columns_by_name(table_run, tmp_path):
    # As encode does: the fitted columns in another order were refused with Python's fix
    # (X[list(model.feature_names_in_)]), extra ones with scikit-learn's words or "pass
    # the dataset the model was trained on", none naming the option that fixes it.
    tmp, run, _ = table_run
    new = _table_csv(tmp_path / "new.csv", n=60, seed=1)
    shuffled = tmp_path / "shuffled.csv"
    new[["rate", "bytes", "protocol_type", "duration"]].to_csv(shuffled, index=False)
    assert_ok(invoke("compare", run, "--data", shuffled))
    assert_ok(invoke("report", run, "--data", shuffled, "--out", tmp_path / "r.html"))
    for command in (["compare"], ["report", "--out", tmp_path / "r2.html"]):
        result = invoke(*command, run, "--data", tmp_path / "new.csv")
        assert_one_line_error(result, "not fitted on: label, difficulty",
                              "--drop label,difficulty")
    assert not (tmp_path / "r2.html").exists()
    assert_ok(invoke("compare", run, "--data", tmp_path / "new.csv", "--drop",
                     "label,difficulty"))


def test_compare_and_report_keep_the_runs_split_however_the_file_is_named(
        tmp_path, monkeypatch):
    """The run's file is known by its bytes: an absolute path, a copy or another working
    directory get the run's split, and an option given keeps the others; an option that
    changes the split is refused (its test rows could be rows the model trained on)."""
    data = tmp_path / "rows.csv"
    np.savetxt(data, np.random.default_rng(0).normal(size=(200, 4)), delimiter=",",
               header="a,b,c,d", comments="")
    run = tmp_path / "run"
    monkeypatch.chdir(tmp_path)
    assert_ok(invoke("train", "--data", "rows.csv", "--rows", "150", "--test-size", "0.5",
                     "--components", "2", "--hidden", "8", "--epochs", "2", "--seed", "0",
                     "--device", "cpu", "--out", run))
    split = "75 rows (PCA fitted on the 75 train rows)"
    for args in ([data], [data, "--header", "yes"], [data, "--test-size", "0.5"]):
        result = invoke("compare", run, "--data", *args)
        assert_ok(result)
        assert split in result.stdout, result.stdout
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "rows.csv").write_bytes(data.read_bytes())
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert split in invoke("compare", run, "--data", "rows.csv").stdout
    assert_ok(invoke("report", run, "--data", "rows.csv", "--out", tmp_path / "r.html"))
    assert "75 training rows, 75 test rows" in (tmp_path / "r.html").read_text()
    for args, named in ((["--rows", "50"], "--rows 150 (now 50)"),
                        (["--test-size", "0.3"], "--test-size 0.5 (now 0.3)")):
        assert_one_line_error(invoke("compare", run, "--data", "rows.csv", *args),
                              "is the file", named, "the run's 75 / 75",
                              "leave those options out")


@pytest.mark.parametrize("text, args, match", [
    ("a,b\n1,2\n3,\n5,6\n", [], r"missing values \(NaN\) in 1 row\(s\) \[3\]"),
    ("a,b\n1,2\n3\n", [], "line 3 has 1 values"),
    ("", [], "file is empty"),
    ("a,b\n", [], "no data rows"),
    ("a,b\n1,2\n3,4\n", ["--drop", "c"], "no column named 'c'"),
    ("a,b\n1,2\n3,4\n", ["--label", "b", "--drop", "b"], "both the label and dropped"),
    ("a,b\n1,2\n3,4\n", ["--rows", "1"], "at least 2"),
])
def test_bad_text_files_end_with_one_error_line(tmp_path, text, args, match):
    path = write(tmp_path, "bad.csv", text)
    result = invoke("train", "--data", path, *args, "--epochs", "1", "--out", tmp_path / "r")
    assert_one_line_error(result)
    assert pytest.importorskip("re").search(match, result.stderr), result.stderr


@pytest.mark.parametrize("name, text, args", [
    ("kdd.txt", "0,tcp,ftp_data,SF,491,normal\n0,udp,other,SF,146,normal\n" * 10,
     ["--drop", "6"]),  # no header: columns named by position
    ("semi.csv", "x;y;kind\n" + "1,5;2;a\n3,5;4;b\n" * 10, []),
    ("bom.csv", "\ufeffx,y\n" + "1,2\n3,4\n" * 10, []),
    ("holes.csv", "x,y\n" + "1,\n2,3\n" * 10, ["--missing", "impute"]),
])
def test_files_that_used_to_fail_now_train(tmp_path, name, text, args):
    path = write(tmp_path, name, text)
    result = invoke("train", "--data", path, *args, "--components", "1", "--epochs", "1",
                    "--seed", "0", "--device", "cpu", "--out", tmp_path / "r")
    assert_ok(result)
    rows = json.loads((tmp_path / "r" / "metrics.json").read_text())["dataset"]
    assert rows["train_shape"][0] + rows["test_shape"][0] == 20  # the BOM row is kept


def test_a_directory_named_like_a_file_is_called_a_directory(tmp_path):
    # It was told "no such file", which sends the user looking for a missing file.
    for name in ("rows.npy", "rows.csv"):
        (tmp_path / name).mkdir()
        with pytest.raises(IsADirectoryError, match="is a directory, not a file"):
            (read_array if name.endswith(".npy") else read_table)(tmp_path / name)
    assert_one_line_error(invoke("train", "--data", tmp_path / "rows.npy", "--out",
                                 tmp_path / "r"), "rows.npy is a directory, not a file")
    with pytest.raises(FileNotFoundError, match="no such file"):
        read_table(tmp_path / "absent.csv")


def test_the_command_line_names_a_row_index_column_and_the_option_that_drops_it(
        tmp_path, monkeypatch):
    """train warns of pandas' row index with --drop spelled for a shell; --drop silences
    it; detect (fitting) warns too, in chunks as whole; score and encode, for a fitted
    model that takes the columns it was fitted on, do not."""
    from aekit.anomaly import streaming

    rng = np.random.RandomState(0)
    path = tmp_path / "x.csv"
    pd.DataFrame(rng.rand(40, 3), columns=["a", "b", "c"]).to_csv(path)
    fast = ["--seed", "0", "--device", "cpu"]
    warning = "warning: " + str(path)
    result = invoke("train", "--data", path, "--epochs", 1, *fast, "--out", tmp_path / "r")
    assert_ok(result)
    assert f"{warning}: column 'Unnamed: 0' holds the row numbers" in result.output
    assert "(--drop 'Unnamed: 0')" in result.output and "index=False" in result.output
    dropped = invoke("train", "--data", path, "--drop", "Unnamed: 0", "--epochs", 1, *fast,
                     "--out", tmp_path / "d")
    assert_ok(dropped)
    assert warning not in dropped.output
    assert json.loads((tmp_path / "d" / "metrics.json").read_text())["dataset"][
        "train_shape"][1] == 3
    encoded = invoke("encode", tmp_path / "d", path, "--out", tmp_path / "codes.npy")
    assert_ok(encoded)
    assert warning not in encoded.output
    for chunked in (False, True):
        if chunked:
            monkeypatch.setattr(streaming, "TEXT_STREAM_BYTES", 0)
        run = tmp_path / f"detect{chunked}"
        detected = invoke("detect", "--data", path, "--max-epochs", 1, *fast, "--out", run)
        assert_ok(detected)
        assert "--drop 'Unnamed: 0'" in detected.output
        assert detected.output.count(warning) == 1  # once, however many passes
        run = tmp_path / f"dropped{chunked}"
        dropped = invoke("detect", "--data", path, "--drop", "Unnamed: 0", "--max-epochs", 1,
                         *fast, "--out", run)
        assert_ok(dropped)
        assert warning not in dropped.output
        if not chunked:  # (score in chunks takes a file of the fitted columns alone)
            scored = invoke("score", run, path, "--out", tmp_path / "scores.csv")
            assert_ok(scored)
            assert warning not in scored.output


def test_train_on_numbers_with_thousands_separators_says_so_once(tmp_path):
    """aekit train on a spreadsheet's export ("2,244.80"): the reader's warning names the
    columns, the pandas call and --drop; no 'identifier' advice; and each warning is printed
    once (the test rows' 'categories not fitted on' came once per scoring call, 5 times)."""
    path, _ = _formatted_file(tmp_path, "t.csv", ",", lambda v: f'"{_grouped(v)}"', n=80)
    result = invoke("train", "--data", path, "--components", 1, "--epochs", 1, "--seed", 0,
                    "--device", "cpu", "--out", tmp_path / "r")
    assert_ok(result)
    lines = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(lines) == len(set(lines)), "\n".join(lines)
    assert sum("not fitted on" in line for line in lines) == 1, "\n".join(lines)
    (read,) = [line for line in lines if "as spreadsheets format them" in line]
    assert f"warning: {path}: column(s) 'x' (" in read
    assert "pd.read_csv(path, thousands=',')" in read and "(--drop x)" in read
    assert "identifier" not in result.stderr
