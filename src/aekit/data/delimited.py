"""Delimited text files (``.csv``, ``.tsv``, ``.txt``, each also compressed: ``.csv.gz``,
``.bz2``, ``.xz``, ``.zip``, ``.zst``) read into pandas DataFrames.

:func:`read_table` reads what people actually have: a header or none (detected), any
common delimiter (detected: comma, semicolon, tab, pipe, or runs of spaces), a UTF-8
byte-order mark, quoted fields, empty cells (missing values), columns of text
(categories) and, in files separated by semicolons, decimal commas (``0,134``). Parsing
is pandas' C reader; this module only decides how to call it and turns what it read into
typed columns, so that a bad file fails with one sentence naming its line and column,
never with a partial table. :func:`read_table_chunks` reads a file too large for memory a
chunk of rows at a time, by the same rules.
"""

from __future__ import annotations

import csv
import re
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ..core.checks import InputWarning, check_file, user_warning
from .formatted import warn_of_formatted_numbers

__all__ = ["COMPRESSIONS", "DELIMITERS", "NA_STRINGS", "TABLE_SUFFIXES", "is_table_file",
           "read_table", "read_table_chunks", "table_format", "warn_if_row_index"]

TABLE_SUFFIXES = (".csv", ".tsv", ".txt")
COMPRESSIONS = (".gz", ".bz2", ".xz", ".zip", ".zst")
"""Compressions a table may come in (``data.csv.gz``...), as pandas reads them."""
DELIMITERS = (",", ";", "\t", "|")
"""Delimiters told apart by detection; runs of spaces are tried when none of them fits."""
NA_STRINGS = frozenset({"", "NA", "N/A", "n/a", "NaN", "nan", "-NaN", "-nan", "NULL", "null",
                        "None", "#N/A", "<NA>"})
"""Cells that mean "missing" (stripped of surrounding spaces)."""

_SAMPLE_BYTES = 1 << 16

_DECIMAL_COMMA = r"[+-]?(?:\d+,\d*|,\d+)(?:[eE][+-]?\d+)?"
"""A number written with a decimal comma (``0,134``, ``-1,5e3``), as pandas'
``decimal=","`` reads it."""


def _reads_decimal_commas(sep: str) -> bool:
    """Whether cells like ``0,134`` are numbers in a file separated by ``sep``: a
    semicolon is how spreadsheets save a table where the comma is the decimal mark."""
    return sep == ";"


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
        semicolons = {len(record) for record in csv.reader(lines, delimiter=";")}
        if sep == "," and len(semicolons) == 1 and semicolons.pop() > 1:
            # As many semicolons in every line too: they part the cells, and the commas are
            # decimal commas (each line has as many when the numbers have as many digits).
            return ";"
        if sep in DELIMITERS:
            return sep
    except csv.Error:
        pass
    widths = {len(line.split()) for line in lines}
    if len(widths) == 1 and widths.pop() > 1:
        return r"\s+"
    return "\t" if table_suffix(path) == ".tsv" else ","


def _detect_header(head: np.ndarray, text: str, sep: str) -> bool:
    """The first row is a header when a column whose other cells are numbers starts with a
    cell that is not. For columns of text alone, when its cells are distinct and none
    recurs in its column below (else :class:`csv.Sniffer` decides). ``head``: the first
    records' cells (:func:`_head_cells`), ``text``: the sample they come from."""
    # (rows, columns) each, all columns at once
    cells, missing, numbers = _cell_kinds(head, _reads_decimal_commas(sep))
    is_number = ~np.isnan(numbers)
    if len(head) < 2:
        return len(head) == 1 and not is_number[0][~missing[0]].all()
    body_number, body_missing = is_number[1:], missing[1:]
    numeric_body = (body_number | body_missing).all(0) & (~body_missing).any(0)
    if (numeric_body & ~missing[0] & ~is_number[0]).any():
        return True
    if numeric_body.any():
        return False
    # Text alone: a header's names are distinct and none of them recurs below it.
    first = cells[0]
    recurs = bool((cells[1:] == first[None, :]).any())
    if all(first) and len(set(first)) == len(first) and not recurs:
        return True
    try:
        return csv.Sniffer().has_header(text)
    except csv.Error:
        return False


def _warn_if_numbers_name_columns(path: Path, head: np.ndarray) -> None:
    """Warn when a first row read as data looks like column names that are numbers: whole
    numbers written as digits, after an empty cell or not (the name of pandas' index
    column), not met again below, and either pandas' names of a DataFrame's unnamed columns
    (0, 1, 2, ...; 1, 2, 3, ... from 4 columns) or increasing above columns of fractions
    (years, wavelengths). Such a header cannot be told from a row of data, so the rule
    stands (no header: a column of numbers would start with a number) and the caller is told
    how to say otherwise. Increasing whole numbers above whole numbers (``3,7`` over
    ``5,2``) are as likely data: no warning."""
    if len(head) < 2:
        return
    first = [str(cell).strip() for cell in head[0]]
    index = first[0] == ""
    names = first[1:] if index else first
    if len(names) < 2 or not all(re.fullmatch(r"[0-9]+", name) for name in names):
        return
    values = [int(name) for name in names]
    if any(b <= a for a, b in zip(values, values[1:])) or (head[1:] == head[0]).all(1).any():
        return
    numbered = values == list(range(values[0], values[0] + len(values))) and (
        values[0] == 0 or (values[0] == 1 and len(values) >= 4))
    below = head[1:, int(index):]
    fractions = np.array([[bool(re.fullmatch(r"\s*[-+]?[0-9]*[.,][0-9]+([eE][-+]?[0-9]+)?\s*",
                                             str(cell))) for cell in row] for row in below])
    if not numbered and not (fractions.size and fractions.any(0).mean() >= 0.5):
        return
    shown = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
    user_warning(
        f"{path}: read its first row ({'an empty cell, ' * index}{shown}) as data, though "
        "these numbers may name the columns (pandas' to_csv names a DataFrame's unnamed "
        "columns 0, 1, 2, ...). If they do, pass header=True"
        + (" and drop the first column, pandas' row index" if index else "")
        + "; header=False says the row is data and silences this warning.", InputWarning)


def _head_cells(text: str, sep: str, rows: int = 200) -> np.ndarray:
    """The cells of the first ``rows`` non-blank records of ``text`` (n, width) as strings:
    records with more fields than the first are skipped, shorter ones padded with empty
    cells (as pandas reads them)."""
    from io import StringIO

    lines = StringIO(text)
    reader = (line.split() for line in lines) if sep == r"\s+" else csv.reader(
        lines, delimiter=sep, skipinitialspace=True)
    records = []
    try:
        for record in reader:
            if any(cell.strip() for cell in record):
                records.append(record)
            if len(records) == rows:
                break
    except csv.Error:  # a quoted field the sample cuts: the records before it will do
        pass
    if not records:
        return np.empty((0, 0), dtype=object)
    width = len(records[0])
    out = np.full((len(records), width), "", dtype=object)
    kept = 0
    for record in records:
        if len(record) <= width:
            out[kept, : len(record)] = record
            kept += 1
    return out[:kept]


class _NotText(Exception):
    """Cells given to :func:`_cell_kinds` as text hold other objects."""


def _cell_kinds(raw, decimal_comma: bool = False) -> tuple[np.ndarray, np.ndarray,
                                                             np.ndarray]:
    """For a frame (or object array) of strings (n, d): its cells stripped of surrounding
    spaces (object), where they are missing (:data:`NA_STRINGS`, bool) and their values as
    numbers (float64, NaN where a cell is missing or not a number; with ``decimal_comma``,
    ``0,134`` is 0.134). Typed all at once, one column after
    another in one Series: a Python loop over columns costs ~0.6 ms a column (600,000
    columns: minutes), these vectorised calls a small multiple of pandas' parsing. Raises
    :class:`_NotText` when a cell is neither text nor missing."""
    import pandas as pd

    n, d = raw.shape
    values = raw if isinstance(raw, np.ndarray) else raw.to_numpy(dtype=object)
    flat = pd.Series(values.ravel(order="F"), dtype=object)
    try:
        stripped = flat.str.strip()  # a missing cell pandas already found stays NaN
    except AttributeError:  # not one cell is text
        stripped = pd.Series(np.nan, index=flat.index, dtype=object)
    if (stripped.isna() & flat.notna()).any():
        # pandas' reader made some cells other objects (booleans beside an empty cell: True,
        # NaN, False; an integer beyond 64 bits), which .str turns into NaN: a column of
        # them would be read as all missing.
        raise _NotText
    missing = (stripped.isna() | stripped.isin(NA_STRINGS)).to_numpy()
    numbers = pd.to_numeric(stripped.where(~missing), errors="coerce").to_numpy(np.float64)
    if decimal_comma:
        comma = (stripped.str.fullmatch(_DECIMAL_COMMA, na=False) & ~missing).to_numpy()
        if comma.any():
            numbers = numbers.copy()  # pandas' array may be read-only
            numbers[comma] = pd.to_numeric(stripped[comma].str.replace(",", ".", regex=False))
    shape = (n, d)
    return (stripped.to_numpy(dtype=object).reshape(shape, order="F"),
            missing.reshape(shape, order="F"), numbers.reshape(shape, order="F"))


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
        the first row's cells are distinct and none recurs below it). Without a header the columns
        are named ``"1"``, ``"2"``, ... (their positions). A first row of whole numbers in
        increasing order (``0,1,2``, as pandas' ``to_csv`` names unnamed columns) is read
        as data, with an :class:`~aekit.core.checks.InputWarning`: pass True if it names
        the columns. A column under an empty header cell holding 0, 1, 2, ... in order
        (the row index ``to_csv`` writes unless ``index=False``) is read like any other,
        with an :class:`~aekit.core.checks.InputWarning` naming it
        (:func:`warn_if_row_index`).
    sep : str, optional
        The delimiter; default: detected among :data:`DELIMITERS`, else runs of spaces.
        With a semicolon, a cell written with a decimal comma (``0,134``, as spreadsheets
        save them where the comma is the decimal mark) is a number.

    Returns
    -------
    frame : pandas.DataFrame
        A column whose cells are all numbers (or missing) is int64 (no missing, all whole)
        or float64, as pandas reads it (``01234`` is 1234: an
        :class:`~aekit.core.checks.InputWarning` names such columns, codes that lose their
        zeros, and how to read them as text); any other column holds text (missing cells:
        NaN), a categorical column for the estimators: numbers written with a thousands
        separator, a currency symbol, a percent sign or accounting parentheses
        (``2,244.80``, ``$5``, ``55.1%``, ``(12.5)``) too, as written, with an
        :class:`~aekit.core.checks.InputWarning` naming them and the pandas code that reads
        them as numbers (:mod:`aekit.data.formatted`). The index is each row's line number
        in the file when no blank line or quoted line break makes it ambiguous, else 0, 1,
        2, ...

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist (IsADirectoryError when it is a directory).
    ValueError
        For an empty file, a header without rows, a row with more or fewer fields than the
        header (naming its line), or bytes that are not UTF-8.
    """
    frame = _read_table(Path(path), header, sep)
    warn_if_row_index(path, frame)
    return frame


def _read_table(path: Path, header, sep):
    """:func:`read_table` without its warning of pandas' row index
    (:func:`warn_if_row_index`), for callers that warn of the columns they keep."""
    import pandas as pd

    sep, has_header, head, text = _format(path, header, sep)
    options = _csv_options(sep, has_header)
    with _parse_errors(path):
        lines = _record_lines(path, sep)  # and every row's number of fields checked
        # pandas types the columns in C (numbers, missing cells); _typed then applies
        # aekit's rules to what it left as text, booleans or unsigned (few columns).
        raw = pd.read_csv(path, **options, **_TYPED)
    if not len(raw):
        raise ValueError(f"{path}: file has a header but no data rows" if has_header
                         else f"{path}: file holds no data")
    lines = lines[1:] if has_header else lines
    frame = _typed(_named(raw, has_header), lambda columns: pd.read_csv(
        path, **options, usecols=columns, **_AS_TEXT), _reads_decimal_commas(sep))
    if len(lines) == len(frame):  # else pandas saw the lines otherwise: keep 0, 1, 2, ...
        frame.index = pd.Index(lines, name="line")
    _warn_if_codes_lose_zeros(path, frame, _zero_padded(text, head), head, has_header, sep)
    warn_of_formatted_numbers(path, frame, has_header, _told(sep),
                              "," if _reads_decimal_commas(sep) else None)
    return frame


_UNNAMED = re.compile(r"Unnamed: [0-9]+(?:\.[0-9]+)*")
"""pandas' name of a column under an empty header cell (``Unnamed: 0``; ``Unnamed: 0.1``
when a file holding one is read and written again)."""


def _row_index_columns(frame) -> list[str]:
    """The columns of ``frame`` (read by :func:`read_table`) that hold the row index pandas'
    ``to_csv`` writes by default: an empty header cell (named ``Unnamed: 0``) over the whole
    numbers 0, 1, 2, ... (or 1, 2, 3, ...) in order, the rows' numbers. Only columns so
    named are looked at, so a file without one costs nothing."""
    import pandas as pd

    found = []
    for name in frame.columns:
        if not _UNNAMED.fullmatch(str(name)):
            continue
        column = frame[name]
        if not len(column) or not pd.api.types.is_integer_dtype(column.dtype):
            continue
        values = column.to_numpy()
        if values[0] in (0, 1) and np.array_equal(values, np.arange(values[0],
                                                                    values[0] + len(values))):
            found.append(str(name))
    return found


def warn_if_row_index(path, frame) -> None:
    """Warn of the columns of ``frame`` (the rows a model is to be fitted on, read from
    ``path``) that hold pandas' row index (:func:`_row_index_columns`): read as a feature
    like any column, they teach a model the rows' order. The rule stands (the cells are
    numbers under a header); the caller is told how to leave them out."""
    names = _row_index_columns(frame)
    if not names:
        return
    one = len(names) == 1
    user_warning(
        f"{path}: column{'' if one else 's'} {', '.join(map(repr, names))} "
        f"hold{'s' if one else ''} the row numbers 0, 1, 2, ... under an empty header: the "
        "row index pandas' to_csv writes unless index=False. As a feature it teaches a model "
        f"the rows' order; leave {'it' if one else 'them'} out when fitting "
        f"(drop={names[0] if one else names!r}) or write the file with to_csv(path, "
        "index=False).", InputWarning)


def _zero_padded(text: str, head: np.ndarray) -> np.ndarray:
    """Which columns of ``head`` (the first records' cells, without the header) hold whole
    numbers of three digits or more with leading zeros (``01234``, ``000123``): postcodes
    and identifiers, which lose their zeros as numbers. Two digits (a month, ``07``) are
    numbers enough. A search of the sample ``text`` first: most files hold none."""
    import pandas as pd

    if not len(head) or not re.search(r"(?:^|[^0-9.])0[0-9]{2}", text, re.MULTILINE):
        return np.zeros(head.shape[1], dtype=bool)
    cells = pd.Series(head.ravel(order="F"), dtype=object)
    padded = cells.str.fullmatch(r"\s*0[0-9]{2,}\s*", na=False).to_numpy(dtype=bool)
    return padded.reshape(head.shape, order="F").any(0)


def _warn_if_codes_lose_zeros(path: Path, frame, padded: np.ndarray, head: np.ndarray,
                              has_header: bool, sep: str) -> None:
    """Warn of the columns of ``frame`` read as numbers that its first rows write with
    leading zeros (``padded``, from :func:`_zero_padded` on ``head``): pandas reads them
    as numbers too, and their zeros are lost. The pandas call it gives reads the file as
    it is separated by ``sep``."""
    import pandas as pd

    numeric = np.array([pd.api.types.is_numeric_dtype(d) for d in frame.dtypes], dtype=bool)
    if len(padded) != len(numeric):
        # The sample ended inside a long first record: its last cell may be cut short, and
        # the columns past it were not seen.
        padded = np.pad(padded[:min(len(padded), len(numeric)) - 1],
                        (0, len(numeric) - min(len(padded), len(numeric)) + 1))
        head = head[:, :len(numeric)]
    if not (padded & numeric).any():
        return
    j = int(np.flatnonzero(padded & numeric)[0])
    names = [str(c) for c in frame.columns[padded & numeric]]
    example = next(c.strip() for c in head[:, j] if re.fullmatch(r"\s*0[0-9]{2,}\s*", c))
    told = _told(sep)
    call = (f"pd.read_csv(path{told}, dtype={{{names[0]!r}: str}})" if has_header
            else f"pd.read_csv(path{told}, header=None, dtype={{{j}: str}})")
    user_warning(
        f"{path}: column(s) {', '.join(map(repr, names[:10]))}{', ...' * (len(names) > 10)}"
        " hold whole numbers written with "
        f"leading zeros ({example!r} in {names[0]!r}), read as numbers ({int(example)}): if "
        "they are codes (postcodes, identifiers), not quantities, read them as text, e.g. "
        f"{call}, and fit on that DataFrame (text columns are categories), or leave them "
        f"out (drop={names[0]!r}).", InputWarning)


def _told(sep: str) -> str:
    """The options pandas' ``read_csv`` needs to read a file separated by ``sep`` as aekit
    does (its default: commas, decimal points), e.g. ``", sep=';', decimal=','"``."""
    told = "" if sep == "," else f", sep={sep!r}"
    return told + (", decimal=','" if _reads_decimal_commas(sep) else "")


def table_format(path, *, header="infer", sep=None) -> tuple[str, bool]:
    """The delimiter of the delimited text file ``path`` and whether its first row names
    the columns: ``sep`` and ``header`` as given (see :func:`read_table`), else detected.

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist (IsADirectoryError when it is a directory).
    ValueError
        For a ``header`` or ``sep`` aekit does not take, or a file without data.
    """
    sep, has_header, _, _ = _format(Path(path), header, sep)
    return sep, has_header


def _format(path: Path, header, sep) -> tuple[str, bool, np.ndarray, str]:
    """:func:`table_format`'s ``(sep, has_header)``, then what it judged them by: the cells
    of the first records below the header (:func:`_head_cells`) and the sample text."""
    check_file(path)
    if header not in ("infer", True, False):
        raise ValueError(f"header={header!r}: use 'infer', True or False")
    if sep is not None and len(sep) != 1 and sep != r"\s+":
        raise ValueError(f"sep={sep!r}: use one character, or r'\\s+' for runs of spaces")
    text = _sample(path)
    sep = sep or _detect_sep(path, text)
    head = _head_cells(text, sep)
    if header != "infer":
        has_header = bool(header)
    else:
        has_header = _detect_header(head, text, sep)
        if not has_header:
            _warn_if_numbers_name_columns(path, head)
    return sep, has_header, head[int(has_header):], text


def read_table_chunks(path, sep: str, has_header: bool, chunk_rows: int, *,
                      warn: bool = True):
    """The rows of a delimited text file, ``chunk_rows`` at a time, each chunk a DataFrame
    typed by :func:`read_table`'s rules (numbers, decimal commas with a semicolon, missing
    cells, text), the columns named as it names them; ``sep`` and ``has_header`` as
    :func:`table_format` gives them. Each chunk is typed on its own, so a column may be
    numbers in one chunk and text in another. The index is 0, 1, 2, ... within the chunk.

    With ``warn``, the first chunk is judged for numbers written as spreadsheets format
    them, and warned of once, as :func:`read_table` warns of them
    (:func:`~aekit.data.formatted.warn_of_formatted_numbers`); a caller reading the file
    again (a second pass) passes ``warn=False`` not to repeat it.
    """
    import pandas as pd

    options = _csv_options(sep, has_header)
    as_text = _TextChunks(path, options, chunk_rows)
    decimal = "," if _reads_decimal_commas(sep) else None
    with _parse_errors(path):
        for i, raw in enumerate(pd.read_csv(path, **options, **_TYPED, chunksize=chunk_rows)):
            raw.index = pd.RangeIndex(len(raw))
            frame = _typed(_named(raw, has_header), lambda columns, i=i: as_text.chunk(
                i, columns).set_axis(raw.index, axis=0), decimal is not None)
            if i == 0 and warn:
                warn_of_formatted_numbers(path, frame, has_header, _told(sep), decimal)
            yield frame


class _TextChunks:
    """The chunks of a file as strings, read only once a chunk needs them (pandas read a
    column as booleans: :func:`_typed` reads those columns again as text), in step with
    the typed reader: same options, same chunk size, so chunk ``i`` holds the same rows."""

    def __init__(self, path, options: dict, chunk_rows: int):
        self.path, self.options, self.chunk_rows = path, options, chunk_rows
        self.reader, self.next, self.frame = None, 0, None

    def chunk(self, i: int, columns: list):
        import pandas as pd

        if self.reader is None:
            self.reader = pd.read_csv(self.path, **self.options, **_AS_TEXT,
                                      chunksize=self.chunk_rows)
        while self.next <= i:  # chunks are asked for in order; skip those no one needed
            self.frame, self.next = next(self.reader), self.next + 1
        return self.frame.iloc[:, columns]


def _csv_options(sep: str, has_header: bool) -> dict:
    """The options of every pandas read of a delimited file, typed or as text."""
    return dict(sep=sep, header=0 if has_header else None, skipinitialspace=True,
                encoding="utf-8-sig", engine="c")


_TYPED = dict(na_values=sorted(NA_STRINGS), keep_default_na=False, low_memory=False)
"""pandas types the cells, missing ones by :data:`NA_STRINGS` alone, each column (of the
file or of a chunk) in one piece: never a column of numbers and text mixed."""
_AS_TEXT = dict(dtype=str, na_filter=False)
"""pandas keeps every cell as it is written."""


def _named(raw, has_header: bool):
    """``raw`` with aekit's column names: the header's stripped (an empty or blank cell as
    pandas names it, ``"Unnamed: 2"`` for the third column, which saved models hold;
    ``"column 3"`` should a name be blank once stripped; a name met again ``"a.1"``,
    ``"a.2"``, as pandas names a repeated one), else the positions ``"1"``, ``"2"``, ..."""
    if has_header:
        names, taken = [], set()
        for j, c in enumerate(raw.columns):
            name = str(c).strip() or f"column {j + 1}"
            # pandas renames "a", "a" but not "a ", " a": stripped, they would be two "a"s,
            # which neither a model nor --label / --drop can tell apart.
            if name in taken:
                name = next(n for k in range(1, len(taken) + 2)
                            if (n := f"{name}.{k}") not in taken)
            names.append(name)
            taken.add(name)
        raw.columns = names
    else:
        raw.columns = [str(j + 1) for j in range(raw.shape[1])]
    return raw


@contextmanager
def _parse_errors(path: Path):
    """pandas' errors reading ``path`` as one sentence naming the file (and the line)."""
    import pandas as pd

    try:
        yield
    except pd.errors.ParserError as err:
        raise ValueError(f"{path}: {_parser_message(err)}") from None
    except UnicodeDecodeError as err:
        raise ValueError(f"{path}: not UTF-8 text (offset {err.start}); save it as UTF-8") \
            from None
    except pd.errors.EmptyDataError:
        raise ValueError(f"{path}: file holds no data") from None


def _parser_message(err) -> str:
    text = " ".join(str(err).split())
    match = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", text)
    if match:
        expected, line, saw = match.groups()
        return f"line {line} has {saw} values, expected {expected}"
    return text.removeprefix("Error tokenizing data. C error: ")


def _typed(raw, reread, decimal_comma: bool = False):
    """``raw`` (pandas' typing) with aekit's column types: a column whose every cell is a
    number (or missing) as int64 (none missing, all whole, below 2**53) or float64, any
    other as text stripped of surrounding spaces, missing cells NaN.

    pandas' numeric columns are kept (made int64 or float64 by the rule, on the whole
    block at once); its text columns are typed again by :func:`_cell_kinds` (a cell
    "NA " is missing, " 3 " a number); columns it read as booleans or unsigned integers
    are read again as text (``reread(positions)``: a frame of strings), as "True" and
    "false" are text to aekit (so are its text columns where it made cells other objects).
    ``decimal_comma``: ``0,134`` in a text column is a number.
    """
    import pandas as pd

    kinds = np.array([dtype.kind if isinstance(dtype, np.dtype) else "O"
                      for dtype in raw.dtypes])
    numeric = np.flatnonzero((kinds == "i") | (kinds == "f"))
    text = np.flatnonzero(kinds == "O")
    other = np.flatnonzero(~np.isin(kinds, ("i", "f", "O")))
    parts = []  # (positions, frame of those columns)
    if len(numeric):
        # (A frame straight from read_csv holds a block per column: iloc on it is slow.)
        block = (raw if len(numeric) == len(kinds) else raw.iloc[:, numeric]).to_numpy(
            np.float64)
        with np.errstate(invalid="ignore"):
            whole = (~np.isnan(block).any(0) & (np.mod(block, 1) == 0).all(0)
                     & (np.abs(block) < 2**53).all(0))
        for cols, dtype in ((whole, np.int64), (~whole, np.float64)):
            if cols.any():
                parts.append((numeric[cols], pd.DataFrame(block[:, cols].astype(dtype),
                                                          index=raw.index)))
    if len(text):
        try:
            parts += _typed_text(raw.iloc[:, text], text, decimal_comma)
        except _NotText:  # rare: those columns typed again from their cells as written
            other = np.union1d(other, text)
    if len(other):
        again = reread(list(other)).set_axis(raw.index, axis=0)
        parts += _typed_text(again, other, decimal_comma)
    if not parts:
        return pd.DataFrame(index=raw.index, columns=raw.columns)
    if len(parts) == 1:  # one kind of column (a wide file of numbers): in order already
        frame = parts[0][1]
    else:
        frame = pd.concat([f for _, f in parts], axis=1, ignore_index=True)
        frame = frame.iloc[:, np.argsort(np.concatenate([p for p, _ in parts]),
                                         kind="stable")]
    frame.columns = raw.columns
    return frame


def _typed_text(cells, positions: np.ndarray, decimal_comma: bool = False) -> list:
    """``(positions, frame)`` parts of columns of text cells typed by aekit's rule."""
    import pandas as pd

    stripped, missing, numbers = _cell_kinds(cells, decimal_comma)
    numeric = (np.isnan(numbers) == missing).all(0)
    with np.errstate(invalid="ignore"):
        whole = numeric & ~missing.any(0) & (np.mod(numbers, 1) == 0).all(0) \
            & (np.abs(numbers) < 2**53).all(0)
    parts = []
    for cols, values in ((whole, lambda c: numbers[:, c].astype(np.int64)),
                         (numeric & ~whole, lambda c: numbers[:, c]),
                         (~numeric, lambda c: np.where(missing[:, c], np.nan,
                                                       stripped[:, c]).astype(object))):
        if cols.any():
            frame = pd.DataFrame(values(cols), index=cells.index)
            if not numeric[cols].any():  # text: pandas' string dtype, as read_csv gives
                frame = frame.astype("str")
            parts.append((positions[cols], frame))
    return parts


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
