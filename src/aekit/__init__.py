"""aekit: autoencoders that train reliably and prove their worth against PCA."""

import os as _os

# MKL's strict reproducibility mode: its float32 matrix products give the same bits whatever
# the number of threads (without it a fit on 1 and on 2 threads differed), at no measured
# cost. MKL reads it at its first call, so it is set before anything here computes; a
# MKL_CBWR of the user's own wins (docs/decisions.md, "Reproducibility").
_os.environ.setdefault("MKL_CBWR", "AUTO,STRICT")

from .core.checks import InputWarning
from .core.version import __version__
from .evaluation.diagnostics import diagnose
from .estimators import AutoEncoder, VariationalAutoEncoder
from .semisupervised.classifier import EncoderClassifier
from .semisupervised.ladder import LadderClassifier
from .anomaly.detector import OutlierDetector
from .estimators._recovery import RestartDivergedWarning
from .export import export_onnx
from .evaluation.metrics import PCAComparison, compare_with_pca
from .evaluation.scoring import reconstruction_r2_scorer
from .persistence import load
from .training.loop import FitInterrupted, TrainingDivergedError
from .training.sanity import LearnedNothingWarning

__all__ = [
    "AutoEncoder",
    "EncoderClassifier",
    "FitInterrupted",
    "InputWarning",
    "LadderClassifier",
    "LearnedNothingWarning",
    "OutlierDetector",
    "PCAComparison",
    "RestartDivergedWarning",
    "TrainingDivergedError",
    "VariationalAutoEncoder",
    "compare_with_pca",
    "diagnose",
    "export_onnx",
    "load",
    "reconstruction_r2_scorer",
    "__version__",
]
