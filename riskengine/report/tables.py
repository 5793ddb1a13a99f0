"""Text tables, CSV and JSON of result frames."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd


def _cell(value: Any, fmt: str | None) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if fmt is None:
        return str(value)
    return format(value, fmt)


def text_table(
    frame: pd.DataFrame,
    columns: Mapping[str, str],
    formats: Mapping[str, str] | None = None,
    title: str = "",
) -> str:
    """Format ``frame`` as an aligned plain-text table.

    Parameters
    ----------
    frame
        Rows to show.
    columns
        Column name -> header, in display order.
    formats
        Column name -> format spec (``".3f"``, ``",.0f"``).
    title
        Line printed above the table.
    """
    formats = formats or {}
    cols = [c for c in columns if c in frame.columns]
    rows = [[_cell(row[c], formats.get(c)) for c in cols] for _, row in frame.iterrows()]
    headers = [columns[c] for c in cols]
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    numeric = [pd.api.types.is_numeric_dtype(frame[c]) for c in cols]

    def line(values: Sequence[str]) -> str:
        parts = [
            v.rjust(w) if num else v.ljust(w)
            for v, w, num in zip(values, widths, numeric, strict=True)
        ]
        return "  ".join(parts).rstrip()

    out = [title] if title else []
    out.append(line(headers))
    out.append(line(["-" * w for w in widths]))
    out.extend(line(r) for r in rows)
    if not rows:
        out.append("(no rows)")
    return "\n".join(out)


def to_csv(frame: pd.DataFrame) -> str:
    """CSV text of ``frame`` (no index)."""
    return str(frame.to_csv(index=False, float_format="%.10g"))


def to_json(frame: pd.DataFrame) -> str:
    """JSON array of records; NaN becomes ``null``."""
    records = json.loads(frame.to_json(orient="records", double_precision=10))
    return json.dumps(records, indent=1)
