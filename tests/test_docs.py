"""What the documentation says is what the code does: docs/architecture.md's module layout
and import order, and the aekit names the README and the architecture page cite."""

import ast
import importlib
import inspect
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "aekit"
ARCHITECTURE = ROOT / "docs" / "architecture.md"


# --------------------------------------------------------------------------- architecture.md
def _layout() -> dict[str, str]:
    """The layout block of docs/architecture.md: each entry ("cli/", "runs.py", ...) with its
    text, continuation lines included, in the order listed."""
    block = re.search(r"```\n(.*?)```", ARCHITECTURE.read_text(), flags=re.S).group(1)
    entries: dict[str, str] = {}
    for line in block.splitlines():
        first = re.match(r"(\S+)\s", line)
        if first:
            key = first.group(1)
            entries[key] = line
        else:
            entries[key] += " " + line.strip()
    return entries


def _units() -> list[str]:
    """src/aekit's packages ("cli/") and top-level modules ("runs.py"), private ones left out."""
    return sorted([p.name + "/" for p in SRC.iterdir() if (p / "__init__.py").is_file()]
                  + [p.name for p in SRC.glob("*.py") if not p.name.startswith("_")])


def test_architecture_layout_lists_every_package_and_module():
    layout = _layout()
    assert sorted(layout) == _units()
    for package in (SRC / key for key in layout if key.endswith("/")):
        for module in package.glob("*.py"):
            if module.stem.startswith("_") and module.stem != "_common":
                continue  # __init__ and the private helpers of estimators/
            assert re.search(rf"\b{module.stem}\b", layout[package.name + "/"]), \
                f"docs/architecture.md's layout does not name {package.name}/{module.name}"


def _imported_units(path: Path) -> set[str]:
    """The other packages or top-level modules of aekit that a module imports (at any depth of
    its code: a lazy import inside a function counts)."""
    unit = path.relative_to(SRC).parts[0]
    here = list(path.relative_to(SRC).parts[:-1])
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.ImportFrom) or not node.level:
            continue
        parts = here[:len(here) - node.level + 1] + (node.module or "").split(".")
        parts = [p for p in parts if p] or [node.names[0].name]
        target = parts[0] + "/" if (SRC / parts[0]).is_dir() else parts[0] + ".py"
        if target.rstrip("/") not in (unit, unit.removesuffix(".py")):
            found.add(target)
    return found


def test_architecture_layout_order_is_the_import_order():
    # "Imports point one way, from the top of this list down to the leaves."
    order = list(_layout())
    for path in SRC.rglob("*.py"):
        unit = path.relative_to(SRC).parts[0]
        unit = unit + "/" if path.parent != SRC else unit
        if unit not in order:
            continue  # __init__.py and __main__.py: the package's front door
        for target in _imported_units(path):
            if target in order:
                assert order.index(target) > order.index(unit), \
                    f"{path.relative_to(SRC)} imports {target}, listed above {unit}"


def _cited_names(text: str) -> set[str]:
    """Every dotted ``aekit.x.y`` name inside backticks."""
    return {name for code in re.findall(r"`([^`\n]+)`", text)
            for name in re.findall(r"\baekit(?:\.[A-Za-z_]\w*)+", code)}


def _resolve(dotted: str):
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for part in parts[i:]:
            obj = getattr(obj, part)
        return obj
    raise ImportError(dotted)


@pytest.mark.parametrize("doc", ["README.md", "docs/architecture.md"])
def test_every_aekit_name_the_docs_cite_exists(doc):
    text = (ROOT / doc).read_text()
    # The table of moves names the old places in its first column: history, not API.
    text = re.sub(r"^\| `aekit\.[^|]*\|", "|", text, flags=re.M)
    names = _cited_names(text)
    assert names
    for name in sorted(names):
        try:
            _resolve(name)
        except (ImportError, AttributeError) as err:
            pytest.fail(f"{doc} cites {name}, which does not exist: {err}")
