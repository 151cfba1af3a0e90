"""The ``aekit`` command line (typer). Options are derived from the estimators' parameters."""

from .app import app, main

__all__ = ["app", "main"]
