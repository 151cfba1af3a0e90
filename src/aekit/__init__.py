"""aekit: autoencoders that train reliably and prove their worth against PCA."""

__version__ = "0.1.0"

from .diagnostics import diagnose  # noqa: E402
from .estimators import AutoEncoder, EncoderClassifier, VariationalAutoEncoder  # noqa: E402
from .metrics import PCAComparison, compare_with_pca  # noqa: E402
from .persistence import load  # noqa: E402
from .training import TrainingDivergedError  # noqa: E402

__all__ = [
    "AutoEncoder",
    "EncoderClassifier",
    "PCAComparison",
    "TrainingDivergedError",
    "VariationalAutoEncoder",
    "compare_with_pca",
    "diagnose",
    "load",
    "__version__",
]
