"""Learning from few labels: classifiers on encoders, with unlabelled rows marked ``y == -1``.

- :mod:`~aekit.semisupervised.classifier`: ``EncoderClassifier`` (a classifier on an
  autoencoder's encoder; label propagation when unlabelled rows are given);
- :mod:`~aekit.semisupervised.ladder`: ``LadderClassifier`` (the ladder network, Rasmus et al.
  2015: every layer denoised, jointly with the labels' cross-entropy);
- :mod:`~aekit.semisupervised.propagation`: whitening, the k-nearest-neighbour graph, label
  spreading, pseudo-label weights (pure tensor functions);
- :mod:`~aekit.semisupervised.comparison`: ``compare_few_labels`` and the calibration measures.
"""

from .classifier import EncoderClassifier
from .comparison import compare_few_labels, hide_labels
from .ladder import LadderClassifier

__all__ = ["EncoderClassifier", "LadderClassifier", "compare_few_labels", "hide_labels"]
