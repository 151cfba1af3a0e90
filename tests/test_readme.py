"""The README's Python snippets run as written, in order, in one namespace; its commands
parse."""

import re
import shlex
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
DOCS = [README, *sorted((README.parent / "docs").glob("*.md"))]


def _fenced(text: str) -> list[tuple[str, str]]:
    """(language, body) of every fenced block, in order."""
    blocks, language, body = [], None, []
    for line in text.splitlines():
        if line.startswith("```"):
            if language is None:
                language, body = line[3:].strip(), []
            else:
                blocks.append((language, "\n".join(body)))
                language = None
        elif language is not None:
            body.append(line)
    return blocks


def _command_lines(path: Path):
    """Each command line of a shell block (its first line a command or a comment, not a
    printed table), continuation lines joined, comments dropped."""
    for language, body in _fenced(path.read_text()):
        first = body.split(maxsplit=1)[:1]
        if language or first not in (["aekit"], ["torchrun"], ["make"], ["#"],
                                     [".venv/bin/python"], ["OMP_NUM_THREADS=1"]):
            continue
        for line in re.sub(r"\\\n\s*", " ", body).splitlines():
            words = shlex.split(line, comments=True)
            if words:
                yield line.strip(), words


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_documented_commands_parse(path):
    # Every aekit command the docs show names a command and options that exist, with values
    # of the right types (parsed as the CLI parses them, nothing run); make targets exist.
    from typer.main import get_command

    from aekit.cli.commands import app

    commands = get_command(app).commands
    targets = re.findall(r"^([\w-]+):", (README.parent / "Makefile").read_text(), flags=re.M)
    parsed = 0
    for line, words in _command_lines(path):
        if words[0] == "make":
            assert set(words[1:]) <= set(targets), line
        if "aekit" not in words or words[0] not in ("aekit", "torchrun"):
            continue
        name, *args = words[words.index("aekit") + 1:]
        assert name in commands, f"{path.name}: no command {name!r}: {line}"
        try:
            commands[name].make_context(name, args)
        except Exception as err:  # click's UsageError and its kin, vendored by typer
            pytest.fail(f"{path.name}: {line}\n{getattr(err, 'format_message', str)()}")
        parsed += 1
    if path == README:  # the command line section alone shows more
        assert parsed >= 20


@pytest.mark.slow
def test_readme_python_blocks_run(tmp_path, monkeypatch):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert len(blocks) >= 2
    # Snippets write runs/ and report.html, and read ../shared/data as from the repository.
    work = tmp_path / "repo"
    work.mkdir()
    shared = README.parents[1] / "shared"
    if shared.is_dir():
        (tmp_path / "shared").symlink_to(shared)
    monkeypatch.chdir(work)
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, str(README), "exec"), namespace)
    # The quick start's own claims: 2-D codes of the test split, and the AE beats PCA.
    assert namespace["Z"].shape == (450, 2)
    result = namespace["compare_with_pca"](namespace["ae"], namespace["X_train"],
                                           namespace["X_test"])
    assert result.winner == "autoencoder" and result.ae_mse < result.pca_mse
    assert (work / "report.html").stat().st_size > 10_000


def _nsl_kdd_block() -> str:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    return next(b for b in blocks if "AEKIT_NSL_KDD" in b)


def _fake_nsl_kdd(folder: Path, n: int, seed: int) -> None:
    """A file shaped like NSL-KDD's: no header, 41 features (columns 2-4 text), a label
    and a difficulty level."""
    import numpy as np

    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        numbers = rng.integers(0, 5, 38).tolist()
        text = [rng.choice(["tcp", "udp"]), rng.choice(["http", "ftp", "smtp"]),
                rng.choice(["SF", "S0"])]
        rows.append(",".join(map(str, [numbers[0], *text, *numbers[1:],
                                       rng.choice(["normal", "neptune"]), 20])))
    (folder / ("KDDTrain+_20Percent.txt" if seed == 0 else "KDDTest+.txt")).write_text(
        "\n".join(rows) + "\n")


def test_readme_nsl_kdd_example_reads_the_users_copy(tmp_path, monkeypatch, capsys):
    from aekit import AutoEncoder

    block = _nsl_kdd_block()
    assert "https://www.unb.ca/cic/datasets/nsl.html" in block  # the public source
    copy = tmp_path / "my-nsl-kdd"
    copy.mkdir()
    _fake_nsl_kdd(copy, 300, 0)
    _fake_nsl_kdd(copy, 80, 1)
    monkeypatch.setenv("AEKIT_NSL_KDD", str(copy))
    monkeypatch.chdir(tmp_path)
    exec(compile(block, str(README), "exec"), {"AutoEncoder": AutoEncoder})
    out = capsys.readouterr().out
    assert "skipped" not in out
    assert [line.split()[0] for line in out.splitlines()] == ["protocol_type", "service",
                                                              "flag"]
    # Without a copy: one line saying where to get it.
    monkeypatch.setenv("AEKIT_NSL_KDD", str(tmp_path / "nowhere"))
    exec(compile(block, str(README), "exec"), {"AutoEncoder": AutoEncoder})
    assert "skipped: no NSL-KDD" in capsys.readouterr().out


def test_readme_anomaly_example_runs_on_its_own(tmp_path, monkeypatch, capsys):
    # The one example fast enough for the quick suite; the slow test above runs it too.
    import numpy as np

    import aekit

    block = next(body for language, body in _fenced(README.read_text())
                 if language == "python" and "OutlierDetector(" in body)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(block, str(README), "exec"), namespace)
    # Its comment's claim: none of the eight other digits passes for a zero.
    predicted = capsys.readouterr().out.splitlines()[0]
    assert [int(v) for v in predicted.strip("[]").split()] == [-1] * 8
    det, others = namespace["det"], namespace["others"]
    np.testing.assert_array_equal(aekit.load("runs/zeros").score_samples(others[:8]),
                                  det.score_samples(others[:8]))
