"""The page every aekit report is built on: the stylesheet, HTML escaping, inline PNG
figures (a failing plot becomes a note), number formatting, the parameters table and the
scaffold (title, table of contents, cards, sections, footer)."""

from __future__ import annotations

import base64
import html
import io
import platform
from datetime import datetime, timezone

import numpy as np

from ..core.version import __version__
from ..runs import check_out_file

_CSS = """
:root { --ink:#1d2330; --muted:#5b6474; --line:#e3e6ec; --paper:#ffffff; --bg:#f5f6f8;
        --accent:#1f6fb2; --good:#1c7c4a; --warn:#a86400; --bad:#b3261e; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--ink);
       font:15px/1.55 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width:1080px; margin:0 auto; padding:32px 28px 64px; }
header.top { border-bottom:3px solid var(--accent); padding-bottom:14px; margin-bottom:22px; }
h1 { font-size:26px; margin:0 0 4px; letter-spacing:-0.01em; }
h2 { font-size:19px; margin:0 0 12px; padding-bottom:6px; border-bottom:1px solid var(--line); }
h3 { font-size:15px; margin:18px 0 8px; color:var(--muted); font-weight:600; }
.sub { color:var(--muted); font-size:14px; }
nav.toc { font-size:13.5px; margin:10px 0 0; }
nav.toc a { color:var(--accent); text-decoration:none; margin-right:14px; white-space:nowrap; }
nav.toc a:hover { text-decoration:underline; }
section { background:var(--paper); border:1px solid var(--line); border-radius:10px;
          padding:20px 24px; margin:0 0 22px; }
.cards { display:grid; grid-template-columns:repeat(auto-fit, minmax(190px, 1fr)); gap:14px;
         margin:0 0 22px; }
.card { background:var(--paper); border:1px solid var(--line); border-radius:10px;
        padding:14px 16px; }
.card .label { color:var(--muted); font-size:12.5px; text-transform:uppercase;
               letter-spacing:0.04em; }
.card .value { font-size:24px; font-weight:650; margin-top:2px; }
.card .note { color:var(--muted); font-size:13px; }
.good { color:var(--good); } .bad { color:var(--bad); } .warn { color:var(--warn); }
table { border-collapse:collapse; width:100%; font-size:14px; }
th, td { text-align:left; padding:7px 10px; border-bottom:1px solid var(--line);
         vertical-align:top; }
th { color:var(--muted); font-weight:600; font-size:12.5px; text-transform:uppercase;
     letter-spacing:0.03em; }
td.num, th.num { text-align:right; font-variant-numeric:tabular-nums; }
td.best { font-weight:700; color:var(--good); }
table.params td:first-child { font-family:ui-monospace, Menlo, Consolas, monospace;
                               font-size:13px; color:var(--muted); width:38%; }
table.params td { font-family:ui-monospace, Menlo, Consolas, monospace; font-size:13px; }
table.layers td { font-family:ui-monospace, Menlo, Consolas, monospace; font-size:13px;
                  padding:4px 10px; }
.two { display:grid; grid-template-columns:1fr 1fr; gap:28px; }
@media (max-width:820px) { .two { grid-template-columns:1fr; } }
figure { margin:14px 0 22px; }
figure img { display:block; max-width:100%; height:auto; margin:0 auto;
             border:1px solid var(--line); border-radius:6px; background:#fff; }
figcaption { color:var(--muted); font-size:13.5px; margin-top:8px; max-width:860px; }
figcaption b { color:var(--ink); }
.finding { border-left:4px solid var(--line); padding:8px 14px; margin:10px 0;
           background:#fafbfc; border-radius:0 6px 6px 0; }
.finding.info { border-color:#7a8699; } .finding.warning { border-color:var(--warn); }
.finding.error { border-color:var(--bad); }
.finding p { margin:4px 0; }
.badge { display:inline-block; font-size:11.5px; font-weight:700; text-transform:uppercase;
         letter-spacing:0.05em; padding:1px 8px; border-radius:999px; color:#fff;
         margin-right:8px; vertical-align:1px; }
.badge.info { background:#7a8699; } .badge.warning { background:var(--warn); }
.badge.error { background:var(--bad); } .badge.ok { background:var(--good); }
.todo { color:var(--muted); }
.plot-error { color:var(--bad); font-size:13.5px; }
footer { color:var(--muted); font-size:12.5px; text-align:center; margin-top:28px; }
"""


_GENERATOR = '<meta name="generator" content="aekit '
"""What every page carries in its head: how aekit knows a page as its own."""


def is_aekit_page(path) -> bool:
    """Whether the file ``path`` is a page aekit wrote (its head names aekit as the
    generator): such a page may be replaced, the caller's own HTML files may not."""
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError:
        return False
    return _GENERATOR.encode() in head


def check_report_out(out, *, inputs=(), run=None, overwrite: bool = False):
    """``out`` checked as the file a report is about to be written to, before any work
    (:func:`aekit.runs.check_out_file`): an ``.html`` file, which replaces an existing one
    only when that is a page aekit wrote (:func:`is_aekit_page`) or ``run``'s report, or
    with ``overwrite``; never one of ``inputs`` nor another file of ``run``."""
    return check_out_file(out, "the report", (".html",), inputs=inputs, run=run,
                          ours=is_aekit_page, overwrite=overwrite)


def _e(value) -> str:
    return html.escape(str(value), quote=True)


def _png(fig, dpi: int = 100) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, facecolor="white")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _figure_html(make, caption: str, alt: str) -> str:
    """Draw one plot; a plot that fails becomes a visible note, not a broken report."""
    try:
        fig = make()
    except Exception as err:  # noqa: BLE001 -- one bad plot must not lose the others
        return (f'<p class="plot-error">Not drawn ({_e(alt)}): '
                f"{_e(type(err).__name__)}: {_e(err)}</p>")
    return (f'<figure><img alt="{_e(alt)}" src="data:image/png;base64,{_png(fig)}">'
            f"<figcaption>{caption}</figcaption></figure>")


def _fmt(value, digits: int = 4) -> str:
    if value is None:
        return "—"
    if isinstance(value, (float, np.floating)):
        value = float(value)
        if not np.isfinite(value):
            return "—"
        if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e4):
            return f"{value:.{digits}g}"
        return f"{value:.{digits}f}"
    return str(value)


def _params_table(estimator, extra: dict) -> str:
    rows = "".join(f"<tr><td>{_e(k)}</td><td>{_e(v)}</td></tr>"
                   for k, v in estimator.get_params().items())
    fitted = "".join(f"<tr><td>{_e(k)}</td><td>{_e(v)}</td></tr>" for k, v in extra.items())
    return (f'<div class="two"><div><h3>Constructor parameters</h3><table class="params">'
            f'{rows}</table></div><div><h3>Fitted</h3><table class="params">{fitted}</table>'
            "</div></div>")


def page(title: str, subtitle: str, cards: str, sections: list[tuple[str, str, str]]) -> str:
    """A whole report page: title, subtitle, a table of contents, the summary ``cards``
    (HTML) and the ``sections`` ((id, heading, HTML) each), with the stylesheet inline."""
    toc = "".join(f'<a href="#{sid}">{_e(head)}</a>' for sid, head, _ in sections)
    body = "".join(f'<section id="{sid}"><h2>{_e(head)}</h2>{content}</section>'
                   for sid, head, content in sections)
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"{_GENERATOR}{_e(__version__)}\">"
        f"<title>{_e(title)} — aekit report</title><style>{_CSS}</style></head><body><main>"
        f'<header class="top"><h1>{_e(title)}</h1><div class="sub">{_e(subtitle)}</div>'
        f'<nav class="toc">{toc}</nav></header>{cards}{body}'
        f"<footer>aekit {_e(__version__)} · Python {_e(platform.python_version())} · "
        f"generated {_e(stamp)}</footer></main></body></html>\n"
    )
