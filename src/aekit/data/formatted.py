"""Numbers written as spreadsheets format them, which a number parser does not read: with a
thousands separator (``2,244.80``, ``1.234,56``, ``1 234,56``, ``1'234.5``), a currency
symbol (``$1,234.00``, ``€ 12``, ``12 €``), a percent sign (``55.1%``) or accounting
parentheses for a negative number (``(123.45)``).

aekit reads such cells as text, as written: a column of them is a category per value. This
module only recognises them (:func:`number_format`, :func:`formatted_columns`) and writes
the pandas code that reads them as numbers (:func:`read_options`, :func:`conversion`), for
the warning of the reader (:func:`warn_of_formatted_numbers`, called by
:mod:`aekit.data.delimited`) and the doubts of a fitted table
(:func:`aekit.data.tables.doubtful_categories`). Nothing here converts a cell.

Which mark is the decimal one decides what ``1,234`` is (1234, or 1.234 with a decimal
comma), so a column is recognised only where its cells, or the file, say it:

- a cell says it when one mark appears twice (``1,234,567``: grouping), when both appear
  (``1,234.5``: the last is the decimal mark), or when a mark is not followed by exactly
  three digits, or follows a lone 0 (``12.5``, ``0,125``: a decimal mark);
- else the file says it: a decimal comma in a file separated by ``;`` (as aekit reads such
  files), a decimal point in another file that holds a number with one (``7.51``);
- else, when the two readings differ (``1,234`` and ``5,678`` alone, say), the column is
  not recognised: a comma-separated file with quoted ``"1,234"`` cells and no fraction
  anywhere may as well hold decimal commas (pandas' ``to_csv(decimal=',')`` writes them so).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from ..core.checks import InputWarning, user_warning

__all__ = ["WARNED", "NumberFormat", "conversion", "formatted_columns", "number_format",
           "read_options", "warn_of_formatted_numbers"]

WARNED = "aekit.formatted_numbers"
"""The ``DataFrame.attrs`` key under which the reader keeps the columns it warned of, each
with the decimal mark it judged them by: a fit on that frame does not warn of them again
while they still hold such numbers (:func:`aekit.data.tables.doubtful_categories`)."""

CURRENCIES = "$€£¥₹₩₽₺₪₫฿¢"
"""Currency symbols recognised before or after a number."""

GROUPING = ",. '\u00a0\u202f"
"""Thousands separators recognised: comma, point, space, apostrophe (Swiss), no-break and
narrow no-break space (French)."""

_PANDAS_THOUSANDS = ",. '"
"""Thousands separators pandas' C reader takes as ``read_csv(thousands=...)`` (one byte)."""

_CELL = re.compile(
    rf"\s*(?P<open>\()?\s*(?P<sign>[-+])?\s*(?P<before>[{CURRENCIES}])?\s*(?P<sign2>[-+])?\s*"
    rf"(?P<body>[.,]?\d(?:[\d{GROUPING}]*\d)?)\s*(?P<percent>%)?\s*"
    rf"(?P<after>[{CURRENCIES}])?\s*(?P<close>\))?\s*")
"""A cell that may be a formatted number: signs, symbols and parentheses around a body of
digits and marks (which :func:`_body_pattern` then checks for one decimal mark)."""

_HEAD = 200
"""Cells of a column tried first: most text columns fail on their first."""


@dataclass(frozen=True)
class NumberFormat:
    """How a column's numbers are written: ``decimal`` mark (``"."`` or ``","``), thousands
    separator ``grouping`` (None: none), the ``currencies`` symbols met, whether cells hold
    a ``percent`` sign, accounting ``parentheses``, or spaces around the number (``spaces``),
    an ``example`` cell, and whether the cells alone ``decided`` the decimal mark (one of
    them holds a mark that only it explains, ``1,234.5`` or ``12.5``)."""

    decimal: str
    grouping: str | None
    currencies: str
    percent: bool
    parentheses: bool
    spaces: bool
    example: str
    decided: bool

    def describe(self) -> str:
        """What the cells are written with, e.g. ``"a thousands separator ','"``."""
        parts = []
        if self.grouping is not None:
            parts.append(f"a thousands separator {self.grouping!r}")
        if self.currencies:
            parts.append(f"a currency symbol ({', '.join(map(repr, self.currencies))})")
        if self.percent:
            parts.append("a percent sign")
        if self.parentheses:
            parts.append("parentheses for negatives")
        if self.decimal == ",":
            parts.append("a decimal comma")
        return " and ".join(parts)


def _body_pattern(decimal: str, grouping: str | None) -> str:
    """A number's digits and marks: whole part (grouped by threes, or Indian style
    ``1,23,456``, or not at all; a grouped number starts with no 0: ``0,123`` is a decimal
    comma), then a fraction after ``decimal``."""
    whole = r"\d+"
    if grouping is not None:
        g = re.escape(grouping)
        whole = (rf"(?:\d+|[1-9]\d{{0,2}}(?:{g}\d{{3}})+"
                 rf"|[1-9]\d?(?:{g}\d{{2}})+{g}\d{{3}})")
    d = re.escape(decimal)
    return rf"{whole}(?:{d}\d+)?|{d}\d+"


def _reading(bodies, decimal: str) -> str | None | bool:
    """The thousands separator with which every one of ``bodies`` (a Series of text) is a
    number whose decimal mark is ``decimal`` (None: no separator), or False when they are
    not all numbers so."""
    marks = set("".join(bodies.str.replace(r"\d", "", regex=True).unique())) - {decimal}
    if len(marks) > 1:
        return False
    grouping = marks.pop() if marks else None
    if not bodies.str.fullmatch(_body_pattern(decimal, grouping)).all():
        return False
    return grouping


def number_format(cells, decimal: str | None = None) -> NumberFormat | None:
    """How the text ``cells`` (a Series; missing cells left out beforehand) write numbers,
    when every one is a number written with a thousands separator, a currency symbol, a
    percent sign or accounting parentheses (at least one cell with one); None otherwise,
    and for plain numbers or numbers with a decimal comma alone.

    ``decimal``: the decimal mark of the file the cells come from, which decides a column
    its cells leave ambiguous (``1,234``); None: the cells alone decide (see the module
    notes), and a column they leave ambiguous is not recognised.
    """
    import pandas as pd

    # Python's re on objects (pyarrow's regex engine knows no Unicode spaces)
    cells = pd.Series(np.asarray(cells, dtype=object), dtype=object)
    if not len(cells) or not cells.iloc[:_HEAD].str.fullmatch(_CELL, na=False).all():
        return None
    parts = cells.str.extract(f"^(?:{_CELL.pattern})$")
    if parts["body"].isna().any():
        return None
    opened, closed = parts["open"].notna(), parts["close"].notna()
    sign, sign2 = parts["sign"].notna(), parts["sign2"].notna()
    before, after = parts["before"].notna(), parts["after"].notna()
    # One sign at most, a second only after a symbol ($-5); parentheses in pairs, unsigned.
    if (opened != closed).any() or (opened & (sign | sign2)).any() or (sign & sign2).any() \
            or (before & after).any():
        return None
    bodies = pd.Series(parts["body"].unique(), dtype=object)
    readings = {d: _reading(bodies, d) for d in (".", ",")}
    fits = [d for d, g in readings.items() if g is not False]
    decided = len(fits) == 1 and bool(bodies.str.contains(r"[.,]").any())
    if len(fits) == 2 and bodies.str.contains(r"[.,]").any():
        # Both readings hold and differ (1,234: 1234 or 1.234): the file decides, if it can.
        fits = [decimal] if decimal in fits else []
    if not fits:
        return None
    mark = fits[0]
    grouping = readings[mark]
    currencies = "".join(sorted(set(parts["before"].dropna()) | set(parts["after"].dropna())))
    percent, parentheses = bool(parts["percent"].notna().any()), bool(opened.any())
    if grouping is None and not (currencies or percent or parentheses):
        return None  # plain numbers, or decimal commas alone: not this module's concern
    formatted = (opened | before | after | parts["percent"].notna()).to_numpy() | (
        parts["body"].str.contains(re.escape(grouping)).to_numpy() if grouping else False)
    example = str(cells.iloc[int(np.flatnonzero(formatted)[0])]).strip()
    spaces = bool(cells.str.strip().str.contains(r"\s").any())
    return NumberFormat(mark, grouping, currencies, percent, parentheses, spaces, example,
                        decided)


def formatted_columns(frame, decimal: str | None = None) -> dict:
    """The text columns of ``frame`` that hold formatted numbers (:func:`number_format`),
    each name mapped to its :class:`NumberFormat`, in the frame's order. Columns of any
    other dtype are not looked at; missing cells are left out."""
    import pandas as pd

    found = {}
    # Text columns only, told by dtype kind at once (a wide file of numbers has no other),
    # and of those the ones whose first cell may be a number: a column taken out costs ~50
    # us, a cell ~5 us, and a wide file's 20,000 columns of words are then 0.1 s, not 2.
    kinds = np.array([getattr(dtype, "kind", "O") for dtype in frame.dtypes])
    for j in np.flatnonzero(np.isin(kinds, ("O", "U", "T"))):
        first = frame.iat[0, j] if len(frame) else None
        if isinstance(first, str) and not _CELL.fullmatch(first):
            continue
        name, column = frame.columns[j], frame.iloc[:, j]
        if isinstance(column.dtype, pd.CategoricalDtype):
            continue
        present = column[column.notna()]
        if not len(present) or not all(isinstance(v, str) for v in present.iloc[:_HEAD]):
            continue
        fmt = number_format(present, decimal)
        if fmt is not None:
            found[name] = fmt
    return found


def read_options(formats, decimal: str) -> str | None:
    """pandas ``read_csv`` options that read every column of ``formats`` (NumberFormat
    values) as numbers in a file whose decimal mark is ``decimal`` (``", thousands=','"``),
    or None when options cannot (a currency symbol, a percent sign, parentheses, columns
    grouped by different marks, a decimal mark other than the file's, a separator pandas
    does not take): then :func:`conversion` does."""
    formats = list(formats)
    groupings = {f.grouping for f in formats}
    if len(groupings) != 1 or None in groupings or any(
            f.currencies or f.percent or f.parentheses or f.decimal != decimal
            for f in formats):
        return None
    grouping = groupings.pop()
    return f", thousands={grouping!r}" if grouping in _PANDAS_THOUSANDS else None


def conversion(column: str, fmt: NumberFormat) -> str:
    """A pandas expression making the text column ``column`` (code, e.g. ``"df['price']"``)
    numbers, as ``fmt`` says they are written: parentheses become a minus sign; symbols,
    percent signs (the number stays in percent), separators and spaces go; a decimal comma
    becomes a point."""
    chain = ""
    if fmt.parentheses:
        chain += r".str.replace(r'^\s*\((.*)\)\s*$', r'-\1', regex=True)"
    removed = fmt.currencies + "%" * fmt.percent + (fmt.grouping or "").strip()
    spaces = fmt.spaces or (fmt.grouping is not None and not fmt.grouping.strip())
    if spaces or len(removed) > 1:
        chars = "".join(re.escape(c) if c in "\\]^-" else c for c in removed)
        pattern = _raw(f"[{chars}\\s]" if spaces and chars
                       else r"\s" if spaces else f"[{chars}]")
        chain += f".str.replace({pattern}, '', regex=True)"
    elif removed == "%":
        chain += ".str.rstrip('%')"
    elif removed:
        chain += f".str.replace({removed!r}, '')"
    if fmt.decimal == ",":
        chain += ".str.replace(',', '.')"
    return f"pd.to_numeric({column}{chain})"


def _raw(pattern: str) -> str:
    """``pattern`` as a Python raw string literal."""
    quote = "'" if "'" not in pattern else '"'
    return f"r{quote}{pattern}{quote}"


def warn_of_formatted_numbers(path, frame, has_header: bool, told: str,
                              decimal: str | None) -> None:
    """Warn of the text columns of ``frame`` (read from the file ``path``) whose every cell
    is a number written with a thousands separator, a currency symbol, a percent sign or
    accounting parentheses: read as written, as text, each value would be a category of its
    own, and the fit's advice would be to drop them as identifiers. The cells stay as
    written; the caller is given the pandas code that reads them as numbers (``told``: the
    ``read_csv`` options the file needs, ``", sep=';', decimal=','"``), and the frame keeps
    the columns warned of (``frame.attrs[WARNED]``) so that a fit on it does not warn of
    them again.

    ``decimal``: the file's decimal mark when its format says it (a comma in a file
    separated by ``;``, as aekit reads them), else None: the point once a number in the
    file shows one (a fraction in a numeric column, or a cell such as ``1,234.5``). It
    decides a column its cells leave ambiguous (``1,234``: 1234 or 1.234); with neither,
    such a column is not warned of.
    """
    text = sum(getattr(dtype, "kind", "O") in "OUT" for dtype in frame.dtypes)
    if not text:  # (a wide file of numbers: nothing to look at)
        return
    found = formatted_columns(frame, decimal)
    if decimal is None and len(found) < text and _shows_decimal_point(frame, found.values()):
        found = formatted_columns(frame, ".")
    if not found:
        return
    frame.attrs[WARNED] = {str(name): f.decimal for name, f in found.items()}
    names = list(found)
    keys = {name: repr(name) if has_header else str(frame.columns.get_loc(name))
            for name in names}
    told += "" if has_header else ", header=None"
    options = read_options(found.values(), decimal or ".")
    if options is not None:
        code = f"df = pd.read_csv(path{told}{options})"
    else:
        code = "; ".join([f"df = pd.read_csv(path{told})"] + [
            f"df[{keys[n]}] = {conversion(f'df[{keys[n]}]', found[n])}" for n in names])
    drop = repr(names[0] if len(names) == 1 else names)
    shown = "; ".join(f"{name!r} ({found[name].example!r}: {found[name].describe()})"
                      for name in names[:10]) + "; ..." * (len(names) > 10)
    user_warning(
        f"{path}: column(s) {shown} hold numbers written as spreadsheets format them, read "
        "as text as written: each value a category of its own, which new rows do not "
        "share. aekit reads a number written with a decimal point (a decimal comma in a "
        "file separated by ';') and nothing more around it. To fit on them as numbers, "
        f"read the file with pandas: {code}, and fit on df (for the command line, write it "
        "out with df.to_csv('numbers.csv', index=False) and pass that file); or leave "
        f"them out (drop={drop}).", InputWarning)


def _shows_decimal_point(frame, formats) -> bool:
    """Whether ``frame`` (read from a file whose decimal mark is not known) shows a decimal
    point: a fraction in a numeric column, or a column of formatted numbers (``formats``)
    whose cells alone say that its decimal mark is the point."""
    if any(f.decided and f.decimal == "." for f in formats):
        return True
    for j in np.flatnonzero([getattr(dtype, "kind", "O") == "f" for dtype in frame.dtypes]):
        values = frame.iloc[:, j].to_numpy()
        with np.errstate(invalid="ignore"):
            if (np.mod(values, 1) > 0).any():  # (NaN is not > 0)
                return True
    return False
