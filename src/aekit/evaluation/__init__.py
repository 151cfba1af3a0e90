"""How good is a fitted model: the comparison with PCA, reconstruction quality, diagnostics.

- :mod:`~aekit.evaluation.metrics`: ``compare_with_pca`` / ``PCAComparison``, ``pca_sweep``;
- :mod:`~aekit.evaluation.errors`: reconstruction errors per element, row and feature (R²);
- :mod:`~aekit.evaluation.columns`: errors per column of a table, in the model's scaled units;
- :mod:`~aekit.evaluation.probes`: probes on codes (``code_quality``), row samples;
- :mod:`~aekit.evaluation.quality`: per-column R² and the fit-quality checks;
- :mod:`~aekit.evaluation.diagnostics`: ``diagnose`` (data, units, codes, history);
- :mod:`~aekit.evaluation.units`: its checks of the network's units (forward hooks);
- :mod:`~aekit.evaluation.findings`: ``Finding``, what every check returns;
- :mod:`~aekit.evaluation.scoring`: ``reconstruction_r2_scorer``, the ``scoring=`` of a
  model selection that compares models whatever their ``scaler``.
"""

from .diagnostics import Diagnosis, diagnose
from .findings import Finding
from .metrics import PCAComparison, compare_with_pca
from .scoring import reconstruction_r2_scorer

__all__ = ["Diagnosis", "Finding", "PCAComparison", "compare_with_pca", "diagnose",
           "reconstruction_r2_scorer"]
