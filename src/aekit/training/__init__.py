"""Training: the one loop and what plugs into it.

- :mod:`~aekit.training.loop`: ``fit_loop`` (the spine), its state dict, ``evaluate``,
  ``infer``, optimizers, the divergence guard, deferred interrupts;
- :mod:`~aekit.training.losses`: pure loss terms;
- :mod:`~aekit.training.objectives`: ``objective(module, batch, epoch)`` for each family;
- :mod:`~aekit.training.callbacks`: the ``Callback`` hooks and every optional behaviour
  (early stopping, learning-rate schedule, progress, TensorBoard, checkpoints);
- :mod:`~aekit.training.pretraining`: greedy layer-wise pretraining.
"""

from .callbacks import Callback
from .loop import (
    DEFAULT_LEARNING_RATES,
    OPTIMIZERS,
    FitInterrupted,
    TrainingDivergedError,
    autocast_dtype,
    evaluate,
    fit_loop,
    infer,
    init_state,
    kept_record,
    make_optimizer,
)

__all__ = [
    "Callback",
    "DEFAULT_LEARNING_RATES",
    "OPTIMIZERS",
    "FitInterrupted",
    "TrainingDivergedError",
    "autocast_dtype",
    "evaluate",
    "fit_loop",
    "infer",
    "init_state",
    "kept_record",
    "make_optimizer",
]
