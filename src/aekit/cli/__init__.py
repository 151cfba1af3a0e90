"""The ``aekit`` command line (typer). Options are derived from the estimators' parameters."""

from . import classify  # noqa: F401  (registers train-classifier and train-ladder on app)
from . import detect  # noqa: F401  (registers detect and score on app)
from .commands import app, main

__all__ = ["app", "main"]
