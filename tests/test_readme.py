"""The README's Python snippets run as written, in order, in one namespace."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


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
