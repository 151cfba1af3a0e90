"""aekit: autoencoders that train reliably and prove their worth against PCA."""

from ._version import __version__
from .diagnostics import diagnose
from .estimators import AutoEncoder, EncoderClassifier, OutlierDetector, VariationalAutoEncoder
from .metrics import PCAComparison, compare_with_pca
from .persistence import load
from .training import TrainingDivergedError

__all__ = [
    "AutoEncoder",
    "EncoderClassifier",
    "OutlierDetector",
    "PCAComparison",
    "TrainingDivergedError",
    "VariationalAutoEncoder",
    "compare_with_pca",
    "diagnose",
    "load",
    "__version__",
]
