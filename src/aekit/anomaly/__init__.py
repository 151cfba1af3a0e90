"""Anomaly detection: the detector, its robust statistics, and the metrics and classic
detectors it is measured against.

- :mod:`~aekit.anomaly.detector`: ``OutlierDetector``;
- :mod:`~aekit.anomaly.robust`: trimmed scaling, robust spreads, the ``"auto"`` threshold;
- :mod:`~aekit.anomaly.metrics`: ``anomaly_labels``, ``detection_metrics`` (ROC-AUC, average
  precision), ``baseline_scores`` (IsolationForest, LOF, PCA error).
"""

from .detector import OutlierDetector
from .metrics import (
    AmbiguousLabels,
    anomaly_labels,
    baseline_scores,
    describe_labels,
    detection_metrics,
)

__all__ = ["AmbiguousLabels", "OutlierDetector", "anomaly_labels", "baseline_scores",
           "describe_labels", "detection_metrics"]
