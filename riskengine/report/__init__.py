"""Render results: text tables, CSV, JSON, xlsx and parquet.

:mod:`riskengine.report.tables` formats text tables, CSV and JSON;
:mod:`riskengine.report.files` is the one writer of every command's output
(all formats, atomic, never over an input); :mod:`riskengine.report.text`
renders the plain-text reports. Rendering never computes: it formats the frames
that methods return, and it is the only place that writes result files.
"""

from __future__ import annotations

from riskengine.report.files import (
    BINARY_FORMATS,
    FORMATS,
    Output,
    Written,
    check_destination,
    write_output,
)
from riskengine.report.tables import text_table, to_csv, to_json

__all__ = [
    "BINARY_FORMATS",
    "FORMATS",
    "Output",
    "Written",
    "check_destination",
    "text_table",
    "to_csv",
    "to_json",
    "write_output",
]
