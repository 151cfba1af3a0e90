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
