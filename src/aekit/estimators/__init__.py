"""The autoencoder estimators (scikit-learn API on the torch modules and the one training loop),
and the base every trained estimator shares. The detector lives in :mod:`aekit.anomaly`, the
few-label classifier in :mod:`aekit.semisupervised`."""

from ._base import BaseAutoEncoder, validate_params
from .autoencoder import AutoEncoder
from .variational import VariationalAutoEncoder

__all__ = ["AutoEncoder", "BaseAutoEncoder", "VariationalAutoEncoder", "validate_params"]
