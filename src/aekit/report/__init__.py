"""Self-contained HTML reports: one page scaffold, sections for a model's run and a
detector's run."""

from .detector import build_detector_report, write_detector_report
from .model import build_report, write_report

__all__ = ["build_detector_report", "build_report", "write_detector_report", "write_report"]
