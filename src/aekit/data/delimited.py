"""Delimited text files (``.csv``, ``.tsv``, ``.txt``, each also compressed: ``.csv.gz``,
``.bz2``, ``.xz``, ``.zip``, ``.zst``) read into pandas DataFrames.

:func:`read_table` reads what people actually have: a header or none (detected), any
common delimiter (detected: comma, semicolon, tab, pipe, or runs of spaces), a UTF-8
byte-order mark, quoted fields, empty cells (missing values) and columns of text
(categories). Parsing is pandas' C reader; this module only decides how to call it and
turns what it read into typed columns, so that a bad file fails with one sentence naming
its line and column, never with a partial table.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np

__all__ = ["COMPRESSIONS", "DELIMITERS", "NA_STRINGS", "TABLE_SUFFIXES", "is_table_file",
           "read_table"]

TABLE_SUFFIXES = (".csv", ".tsv", ".txt")
COMPRESSIONS = (".gz", ".bz2", ".xz", ".zip", ".zst")
"""Compressions a table may come in (``data.csv.gz``...), as pandas reads them."""
DELIMITERS = (",", ";", "\t", "|")
"""Delimiters told apart by detection; runs of spaces are tried when none of them fits."""
NA_STRINGS = frozenset({"", "NA", "N/A", "n/a", "NaN", "nan", "-NaN", "-nan", "NULL", "null",
                        "None", "#N/A", "<NA>"})
"""Cells that mean "missing" (stripped of surrounding spaces)."""

_SAMPLE_BYTES = 1 << 16


def table_suffix(path) -> str | None:
    """The table type of ``path`` (``".csv"``, ``".tsv"``, ``".txt"``), through a
    compression suffix (``rows.csv.gz`` is a ``".csv"``); None for other files."""
    suffixes = [s.lower() for s in Path(path).suffixes]
    if suffixes and suffixes[-1] in COMPRESSIONS:
        suffixes = suffixes[:-1]
    return suffixes[-1] if suffixes and suffixes[-1] in TABLE_SUFFIXES else None


def is_table_file(path) -> bool:
    """Whether ``path`` names a delimited text file, compressed or not."""
    return table_suffix(path) is not None


def _open_bytes(path: Path):
    """The file's bytes, decompressed as its last suffix says (a ``.zip`` holding one
    file); a binary file object to use in a ``with`` block."""
    suffix = path.suffix.lower()
    if suffix == ".gz":
        import gzip

        return gzip.open(path, "rb")
    if suffix == ".bz2":
        import bz2

        return bz2.open(path, "rb")
    if suffix == ".xz":
        import lzma

        return lzma.open(path, "rb")
    if suffix == ".zip":
        import zipfile

        archive = zipfile.ZipFile(path)
        members = [m for m in archive.namelist() if not m.endswith("/")]
        if len(members) != 1:
            archive.close()
            raise ValueError(f"{path}: a .zip archive must hold one file to read as a table, "
                             f"this one holds {len(members)}")
        return archive.open(members[0])
    if suffix == ".zst":
        try:
            import zstandard
        except ImportError as err:
            raise ImportError(f"{path}: reading .zst files needs the zstandard package: "
                              "pip install zstandard") from err
        return zstandard.open(path, "rb")
    return open(path, "rb")


def _open_text(path: Path):
    import io

    return io.TextIOWrapper(_open_bytes(path), encoding="utf-8-sig", newline="")


def _sample(path: Path) -> str:
    try:
        with _open_bytes(path) as f:
            raw = f.read(_SAMPLE_BYTES)
    except (OSError, EOFError) as err:  # a damaged archive
        raise ValueError(f"{path}: cannot be decompressed ({err})") from None
    if not raw.strip():
        raise ValueError(f"{path}: file is empty" if not raw else f"{path}: file holds no data")
    if len(raw) == _SAMPLE_BYTES and b"\n" in raw:  # whole lines only
        raw = raw[: raw.rindex(b"\n") + 1]
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ValueError(f"{path}: not UTF-8 text (byte {raw[err.start]:#04x} at offset "
                         f"{err.start}); save it as UTF-8") from None


def _detect_sep(path: Path, text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()][:50]
    try:
        sep = csv.Sniffer().sniff("\n".join(lines), delimiters="".join(DELIMITERS)).delimiter
        if sep in DELIMITERS:
            return sep
    except csv.Error:
        pass
    widths = {len(line.split()) for line in lines}
    if len(widths) == 1 and widths.pop() > 1:
        return r"\s+"
    return "\t" if table_suffix(path) == ".tsv" else ","


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _detect_header(text: str, sep: str) -> bool:
    """The first row is a header when a column whose other cells are numbers starts with a
    cell that is not. For columns of text alone, when its cells are distinct and none
    recurs in its column below (else :class:`csv.Sniffer` decides)."""
    import pandas as pd

    from io import StringIO

    head = pd.read_csv(StringIO(text), sep=sep, header=None, dtype=str, na_filter=False,
                       nrows=200, skipinitialspace=True, on_bad_lines="skip")
    if len(head) < 2:
        return len(head) == 1 and not all(_is_number(c.strip()) for c in head.iloc[0]
                                           if c.strip() not in NA_STRINGS)
    numeric_body = False
    for j in range(head.shape[1]):
        body = [c.strip() for c in head.iloc[1:, j] if c.strip() not in NA_STRINGS]
        if body and all(_is_number(c) for c in body):
            numeric_body = True
            first = head.iloc[0, j].strip()
            if first not in NA_STRINGS and not _is_number(first):
                return True
    if numeric_body:
        return False
    # Text alone: a header's names are distinct and none of them recurs below it.
    first = [c.strip() for c in head.iloc[0]]
    recurs = any(first[j] in {c.strip() for c in head.iloc[1:, j]} for j in range(len(first)))
    if all(first) and len(set(first)) == len(first) and not recurs:
        return True
    try:
        return csv.Sniffer().has_header(text)
    except csv.Error:
        return False


def read_table(path, *, header="infer", sep=None):
    """Read a delimited text file into a DataFrame with typed columns.

    Parameters
    ----------
    path : str or path-like
        A ``.csv``, ``.tsv`` or ``.txt`` file, UTF-8 (a byte-order mark is fine), or one
        of them compressed (:data:`COMPRESSIONS`: ``rows.csv.gz``...).
    header : {"infer", True, False}, default="infer"
        Whether the first row names the columns. ``"infer"``: it does when some column
        holds numbers below a first cell that is not one (for files of text alone: when
        the first row's cells are distinct and none recurs below it). Without a header the columns are named ``"1"``,
        ``"2"``, ... (their positions).
    sep : str, optional
        The delimiter; default: detected among :data:`DELIMITERS`, else runs of spaces.

    Returns
    -------
    frame : pandas.DataFrame
        A column whose cells are all numbers (or missing) is int64 (no missing, all whole)
        or float64; any other column holds text (missing cells: NaN), a categorical
        column for the estimators. The index is each row's line number in the file when
        no blank line or quoted line break makes it ambiguous, else 0, 1, 2, ...

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.
    ValueError
        For an empty file, a header without rows, a row with more or fewer fields than the
        header (naming its line), or bytes that are not UTF-8.
    """
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    if header not in ("infer", True, False):
        raise ValueError(f"header={header!r}: use 'infer', True or False")
    if sep is not None and len(sep) != 1 and sep != r"\s+":
        raise ValueError(f"sep={sep!r}: use one character, or r'\\s+' for runs of spaces")
    text = _sample(path)
    sep = sep or _detect_sep(path, text)
    has_header = _detect_header(text, sep) if header == "infer" else bool(header)
    try:
        lines = _record_lines(path, sep)  # and every row's number of fields checked
        raw = pd.read_csv(path, sep=sep, header=0 if has_header else None, dtype=str,
                          na_filter=False, skipinitialspace=True, encoding="utf-8-sig",
                          engine="c")
    except pd.errors.ParserError as err:
        raise ValueError(f"{path}: {_parser_message(err)}") from None
    except UnicodeDecodeError as err:
        raise ValueError(f"{path}: not UTF-8 text (offset {err.start}); save it as UTF-8") \
            from None
    except pd.errors.EmptyDataError:
        raise ValueError(f"{path}: file holds no data") from None
    if not len(raw):
        raise ValueError(f"{path}: file has a header but no data rows" if has_header
                         else f"{path}: file holds no data")
    lines = lines[1:] if has_header else lines
    if has_header:
        raw.columns = [str(c).strip() or f"column {j + 1}" for j, c in enumerate(raw.columns)]
    else:
        raw.columns = [str(j + 1) for j in range(raw.shape[1])]
    frame = pd.DataFrame({c: _typed(raw[c]) for c in raw.columns})
    if len(lines) == len(frame):  # else pandas saw the lines otherwise: keep 0, 1, 2, ...
        frame.index = pd.Index(lines, name="line")
    return frame


def _parser_message(err) -> str:
    text = " ".join(str(err).split())
    match = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", text)
    if match:
        expected, line, saw = match.groups()
        return f"line {line} has {saw} values, expected {expected}"
    return text.removeprefix("Error tokenizing data. C error: ")


def _typed(cells):
    """A column of strings as numbers when every cell is one (or missing), else as text
    with missing cells NaN."""
    import pandas as pd

    stripped = cells.str.strip()
    missing = stripped.isin(NA_STRINGS)
    numbers = pd.to_numeric(stripped.where(~missing), errors="coerce")
    if (numbers.isna() == missing).all():
        whole = not missing.any() and np.all(np.mod(numbers.to_numpy(), 1) == 0) \
            and numbers.abs().max() < 2**53
        return numbers.astype(np.int64) if whole and len(numbers) else numbers.astype(float)
    return stripped.where(~missing)


def _record_lines(path: Path, sep: str) -> np.ndarray:
    """The line number (1-based) of each non-blank record of the file, its header
    included, after checking that every record has as many fields as the first.

    One pass of :mod:`csv`'s reader (quoted fields, line breaks inside quotes), which
    pandas' reader does not do: it fills a short row with empty cells.
    """
    numbers, width = [], None
    with _open_text(path) as f:
        records = (line.split() for line in f) if sep == r"\s+" else csv.reader(
            f, delimiter=sep)
        try:
            for i, record in enumerate(records, start=1):
                if not any(cell.strip() for cell in record):
                    continue
                line = records.line_num if sep != r"\s+" else i
                if width is None:
                    width = len(record)
                elif len(record) != width:
                    raise ValueError(f"{path}: line {line} has {len(record)} values, "
                                     f"expected {width}")
                numbers.append(line)
        except csv.Error as err:  # e.g. a cell longer than the csv module's field limit
            raise ValueError(f"{path}: line {records.line_num}: not a delimited text file "
                             f"({err})") from None
    return np.asarray(numbers, dtype=np.int64)
