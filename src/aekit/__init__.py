"""aekit: autoencoders that train reliably and prove their worth against PCA."""

__version__ = "0.1.0"

from .estimators import AutoEncoder  # noqa: E402
from .metrics import PCAComparison, compare_with_pca  # noqa: E402
from .persistence import load  # noqa: E402
from .training import TrainingDivergedError  # noqa: E402

__all__ = [
    "AutoEncoder",
    "PCAComparison",
    "TrainingDivergedError",
    "compare_with_pca",
    "load",
    "__version__",
]
