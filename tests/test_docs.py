"""What the documentation says is what the code does: docs/architecture.md's module layout
and import order, the aekit names the README and the architecture page cite, and the public
estimators' docstrings (every parameter in order with its default; runnable examples)."""

import ast
import doctest
import importlib
import inspect
import re
from pathlib import Path

import pytest

import aekit
from aekit.data import OrientationHistograms

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "aekit"
ARCHITECTURE = ROOT / "docs" / "architecture.md"
ESTIMATORS = [aekit.AutoEncoder, aekit.VariationalAutoEncoder, aekit.EncoderClassifier,
              aekit.LadderClassifier, aekit.OutlierDetector, OrientationHistograms]


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


# --------------------------------------------------------------------------- docstrings
def _documented(cls) -> list[tuple[list[str], str | None]]:
    """The "Parameters" entries of ``cls``'s docstring: (names, the stated default or None)."""
    doc = inspect.getdoc(cls)
    section = re.search(r"^Parameters\n-+\n(.*?)(?=^\w[\w ]*\n-+\n|\Z)", doc,
                        flags=re.S | re.M).group(1)
    entries = []
    for line in section.splitlines():
        if line[:1].isspace() or not line.strip():
            continue  # an entry's description
        names, _, kind = line.partition(" : ")
        default = re.search(r"default=(.*)$", kind)
        entries.append(([n.strip() for n in names.split(",")],
                        default.group(1).strip() if default else None))
    return entries


def _value(text: str):
    fraction = re.fullmatch(r"(\d+)/(\d+)", text)
    return int(fraction[1]) / int(fraction[2]) if fraction else ast.literal_eval(text)


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_docstring_documents_every_parameter_in_order_with_its_default(cls):
    signature = inspect.signature(cls).parameters
    entries = _documented(cls)
    assert [n for names, _ in entries for n in names] == list(signature), \
        "the docstring's Parameters are not the signature's, in its order"
    for names, stated in entries:
        for name in names:
            default = signature[name].default
            if stated is None:
                # Only a group that points elsewhere ("As for AutoEncoder") or a required
                # parameter goes without its default.
                assert len(names) > 1 or default is inspect.Parameter.empty, name
            else:
                assert default is not inspect.Parameter.empty, name
                assert _value(stated) == pytest.approx(default) \
                    if isinstance(default, float) else _value(stated) == default, name


# The examples of the autoencoders fit a full default model: seconds to tens of seconds.
SLOW_EXAMPLES = {"AutoEncoder", "VariationalAutoEncoder", "EncoderClassifier"}


@pytest.mark.parametrize("cls", [
    pytest.param(c, marks=pytest.mark.slow) if c.__name__ in SLOW_EXAMPLES else c
    for c in ESTIMATORS], ids=lambda c: c.__name__)
def test_docstring_examples_run(cls):
    tests = doctest.DocTestFinder(recurse=False).find(cls, cls.__name__, globs={})
    assert tests and tests[0].examples, f"{cls.__name__} has no Examples section"
    runner = doctest.DocTestRunner()
    for test in tests:
        runner.run(test)
    assert runner.summarize(verbose=False).failed == 0


# --------------------------------------------------------------------------- README's calls
def _readme_calls():
    """(callable's name, its keywords, the code) of every call in the README's inline code,
    leaving out the other libraries' (the first column of the Keras and PyOD tables, PyOD's
    constructor in prose, Keras' ``model.`` and PyOD's ``clf.``, NumPy's ``np.``)."""
    text = re.sub(r"^\|[^|\n]*\|", "|", (ROOT / "README.md").read_text(), flags=re.M)
    text = re.sub(r"PyOD's `[^`]*`", "", text)
    for code in re.findall(r"`([^`\n]+)`", text):
        for call in re.finditer(r"(?<![\w.])((?:\w+\.)?)(\w+)\(", code):
            if call.group(1) in ("model.", "clf.", "np."):
                continue
            depth, end = 1, call.end()
            while end < len(code) and depth:
                depth += {"(": 1, ")": -1}.get(code[end], 0)
                end += 1
            top, depth = "", 0  # the call's own arguments, not those of calls inside it
            for char in code[call.end():end - 1]:
                depth += (char in "([{") - (char in ")]}")
                top += char if depth == 0 and char not in ")]}" else ""
            yield call.group(2), re.findall(r"(?<![\w=!<>])(\w+)=(?!=)", top), code


def test_every_keyword_the_readme_passes_exists():
    from aekit.data import make_derived_variables, read_array
    from aekit.report import write_report
    from aekit.semisupervised import compare_few_labels, hide_labels

    fit = set().union(*(inspect.signature(c.fit).parameters for c in ESTIMATORS))
    takes = {c.__name__: set(inspect.signature(c).parameters) for c in ESTIMATORS}
    takes |= {f.__name__: set(inspect.signature(f).parameters) for f in (
        make_derived_variables, read_array, write_report, compare_few_labels, hide_labels,
        aekit.OutlierDetector.set_threshold, aekit.export_onnx, aekit.diagnose)}
    takes["fit"] = fit
    checked = 0
    for name, keywords, code in _readme_calls():
        if name in takes:
            assert set(keywords) <= takes[name], f"README: {code}: {name} takes no " \
                f"{sorted(set(keywords) - takes[name])}"
            checked += bool(keywords)
    assert checked >= 10
