"""The bench scripts as a reviewer runs them: bench/README.md names each one, each starts
with ``--help``, says clearly when its data is missing, and warms every timed side up.
No timing is asserted: speed is measured by the scripts themselves."""

import re
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


def _script(monkeypatch, name):
    """Import ``bench/<name>.py`` freshly (the scripts import each other by bare name)."""
    monkeypatch.syspath_prepend(str(BENCH))
    sys.modules.pop(name, None)
    module = __import__(name)
    monkeypatch.setitem(sys.modules, name, module)
    return module


def test_the_readme_names_every_script_in_its_table():
    table = (BENCH / "README.md").read_text()
    named = set(re.findall(r"^\| `([\w.]+\.py)` \|", table, flags=re.M))
    scripts = {p.name for p in BENCH.glob("*.py")}
    assert scripts - named == set(), "scripts missing from bench/README.md's table"
    assert named - scripts == set(), "bench/README.md names scripts that do not exist"
