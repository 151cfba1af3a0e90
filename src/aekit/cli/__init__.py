"""The ``aekit`` command line (typer). Options are derived from the estimators' parameters."""

from .commands import app, main

__all__ = ["app", "main"]
