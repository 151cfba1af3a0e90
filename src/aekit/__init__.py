"""aekit: autoencoders that train reliably and prove their worth against PCA."""

from ._version import __version__
from .diagnostics import diagnose
from .estimators import AutoEncoder, EncoderClassifier, OutlierDetector, VariationalAutoEncoder
from .estimators._recovery import RestartDivergedWarning
from .export import export_onnx
from .metrics import PCAComparison, compare_with_pca
from .persistence import load
from .training import FitInterrupted, TrainingDivergedError

__all__ = [
    "AutoEncoder",
    "EncoderClassifier",
    "FitInterrupted",
    "OutlierDetector",
    "PCAComparison",
    "RestartDivergedWarning",
    "TrainingDivergedError",
    "VariationalAutoEncoder",
    "compare_with_pca",
    "diagnose",
    "export_onnx",
    "load",
    "__version__",
]
