"""Render results: text tables, CSV and JSON (:mod:`riskengine.report.tables`).

Rendering never computes: it formats the frames that methods return, and it is
the only place that writes result files.
"""

from __future__ import annotations

from riskengine.report.tables import FORMATS, text_table, to_csv, to_json

__all__ = ["FORMATS", "text_table", "to_csv", "to_json"]
