"""The one base class of every result: method, dataset, parameters, notes and tidy tables.

Scoring (:class:`~riskengine.methods.base.ScoreResult`), scenarios, sweeps,
Monte Carlo and sensitivity results derive from :class:`Result`. Each names
its tables in ``TABLES`` (the first is the default) and ``to_frame(table=...)``
returns a copy of one as a tidy frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import pandas as pd

from riskengine.errors import UnknownLabelError


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
