"""How good is a fitted model: the comparison with PCA, reconstruction quality, diagnostics.

- :mod:`~aekit.evaluation.metrics`: ``compare_with_pca`` / ``PCAComparison``, ``pca_sweep``;
- :mod:`~aekit.evaluation.errors`: reconstruction errors per element, row and feature (R²);
- :mod:`~aekit.evaluation.columns`: errors per column of a table, in the model's scaled units;
- :mod:`~aekit.evaluation.probes`: probes on codes (``code_quality``), row samples;
- :mod:`~aekit.evaluation.quality`: per-column R² and the fit-quality checks;
- :mod:`~aekit.evaluation.diagnostics`: ``diagnose`` (data, units, codes, history);
- :mod:`~aekit.evaluation.units`: its checks of the network's units (forward hooks);
- :mod:`~aekit.evaluation.findings`: ``Finding``, what every check returns.
"""

from .diagnostics import Diagnosis, diagnose
from .findings import Finding
from .metrics import PCAComparison, compare_with_pca

__all__ = ["Diagnosis", "Finding", "PCAComparison", "compare_with_pca", "diagnose"]
