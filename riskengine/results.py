"""The one base class of every result: method, dataset, parameters, notes and tidy tables.

Scoring (:class:`~riskengine.methods.base.ScoreResult`), scenarios, sweeps,
Monte Carlo and sensitivity results derive from :class:`Result`. Each names
its tables in ``TABLES`` (the first is the default) and ``to_frame(table=...)``
returns a copy of one as a tidy frame; in a notebook a result shows the first
rows of its tables and its notes (``_repr_html_``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape
from typing import Any, ClassVar

import pandas as pd

from riskengine.errors import RiskEngineError, UnknownLabelError


@dataclass(frozen=True, kw_only=True)
class Result:
    """Base of every labelled result.

    Attributes
    ----------
    method : str
        Method (or tool) that produced the result.
    dataset : str
        Name of the dataset it ran on.
    params : dict
        Parameters it ran with (including choices made on the way, such as the
        governance year used for every scored year).
    notes : tuple of str
        Data gaps and choices met on the way (also issued as warnings).
    """

    #: Names of the table attributes; the first is the default of :meth:`to_frame`.
    TABLES: ClassVar[tuple[str, ...]] = ()

    method: str = ""
    dataset: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    #: Rows of each table shown by :meth:`_repr_html_`.
    HTML_ROWS: ClassVar[int] = 8
    #: Columns of each table shown by :meth:`_repr_html_` (the rest elided).
    HTML_COLUMNS: ClassVar[int] = 14

    def to_frame(self, table: str | None = None) -> pd.DataFrame:
        """One of the result's tables as a tidy frame (a copy).

        Parameters
        ----------
        table
            Name of the table (one of ``TABLES``); None gives the first.

        Raises
        ------
        UnknownLabelError
            For a table the result does not have, naming the valid ones.
        """
        name = self.TABLES[0] if table is None else table
        if name not in self.TABLES:
            raise UnknownLabelError("table", [name], self.TABLES)
        frame = getattr(self, name)
        if not isinstance(frame, pd.DataFrame):
            raise UnknownLabelError("table", [name], self.TABLES)
        return frame.copy()

    def _repr_html_(self) -> str:
        """Compact HTML for notebooks: the first rows of each table, then the notes.

        Each table of ``TABLES`` that the result has is shown by its first
        :attr:`HTML_ROWS` rows (at most :attr:`HTML_COLUMNS` columns) under its
        name and size; the notes are summarised one line per kind
        (:func:`riskengine.notes.summarize`), the full text of each on hover.
        """
        from riskengine.notes import summarize

        head = f"<strong>{escape(type(self).__name__)}</strong>"
        about = [f"{k} {escape(str(v))}" for k, v in (("method", self.method),) if v]
        about += [f"dataset {escape(self.dataset)}"] if self.dataset else []
        parts = [f"<p>{head}" + (f" &mdash; {'; '.join(about)}" if about else "") + "</p>"]
        for name in self.TABLES:
            try:
                frame = self.to_frame(name)
            except RiskEngineError:
                continue
            shown = f", first {self.HTML_ROWS}" if len(frame) > self.HTML_ROWS else ""
            parts.append(
                f"<p><code>{escape(name)}</code>: {len(frame):,} rows &times; "
                f"{frame.shape[1]} columns{shown}</p>"
            )
            parts.append(
                frame.head(self.HTML_ROWS).to_html(
                    index=False,
                    max_cols=self.HTML_COLUMNS,
                    na_rep="\N{EN DASH}",
                    float_format=_html_float,
                    border=0,
                    escape=True,
                )
            )
        lines = summarize(self.notes)
        if lines:
            items = "".join(f'<li title="{escape(s.detail)}">{escape(s.line)}</li>' for s in lines)
            parts.append(f"<p>notes</p><ul>{items}</ul>")
        return f'<div class="riskengine-result">{"".join(parts)}</div>'


def _html_float(value: float) -> str:
    return f"{value:,.4g}"
