"""scikit-learn estimators built on the torch modules and the one training loop."""

from ._base import BaseAutoEncoder, validate_params
from .autoencoder import AutoEncoder
from .classifier import EncoderClassifier
from .outlier import OutlierDetector
from .variational import VariationalAutoEncoder

__all__ = [
    "AutoEncoder",
    "BaseAutoEncoder",
    "EncoderClassifier",
    "OutlierDetector",
    "VariationalAutoEncoder",
    "validate_params",
]
