"""Which figures stand when several publications give the same production table.

Every production row names its publication in ``source``; :func:`release_of`
reads the publisher and the release year from it:

* ``USGS MCS 2025 data release ...`` (or ``USGS Mineral Commodity Summaries
  2025 ...``) -> ``Release("USGS MCS", 2025)``;
* ``IEA (2024), Critical Minerals Data Explorer ...`` -> ``Release("IEA", 2024)``;
* ``IEA Global Critical Minerals Outlook 2025 ...`` -> ``Release("IEA", 2025)``.

The rule (:func:`merge_production`) works on the unit a release publishes: the
table of one (mineral, stage, year), all its countries and "Other countries".

1. **One publication per table.** When rows of the same (mineral, stage, year)
   come from different publications, the rows of one publication stand for the
   whole table and the other's rows of that table are dropped, even for
   countries the winner does not list: releases list different countries (a
   country named in an older release may sit in the newer one's "Other
   countries"), and mixing two lists would count it twice.
2. **The winner** is the publisher listed first in :data:`PUBLISHERS` (the USGS
   before the IEA: the USGS publishes the official country statistics; the IEA
   explorer fills the tables the USGS does not publish, such as refined cobalt,
   lithium chemicals and refined nickel by country); for the same publisher,
   the **newer release** (each USGS release revises the previous year's
   estimates); for the same release, the rows being imported (a re-import).
3. Rows whose ``source`` names no known publication (user files) are merged
   row by row: the imported row replaces a row with the same key.

Every dropped table is counted in a :class:`Replacement`, whose
:meth:`~Replacement.message` says which figures replaced which, or which
figures already in the dataset were kept over the import's.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import pandas as pd

__all__ = [
    "PUBLISHERS",
    "MergeResult",
    "Release",
    "Replacement",
    "merge_production",
    "release_of",
]

#: Publishers in order of precedence (first wins a table both publish).
PUBLISHERS: tuple[str, ...] = ("USGS MCS", "IEA")

_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "USGS MCS",
        re.compile(
            r"^\s*(?:USGS|U\.\s?S\. Geological Survey),?\s+"
            r"(?:MCS|Mineral Commodity Summaries)\s*(\d{4})\b"
        ),
    ),
    ("IEA", re.compile(r"^\s*IEA\b[^;]*?\b((?:19|20)\d{2})\b")),
)


@dataclass(frozen=True, order=True)
class Release:
    """A publisher's release, read from a row's ``source``.

    Attributes
    ----------
    publisher
        ``"USGS MCS"`` or ``"IEA"`` (see :data:`PUBLISHERS`).
    year
        Release year (MCS 2025 -> 2025; the IEA explorer cited as IEA (2024) -> 2024).
    """

    publisher: str
    year: int

    @property
    def label(self) -> str:
        """Short name used in reports: ``MCS 2025``, ``IEA 2024``."""
        return (
            f"MCS {self.year}" if self.publisher == "USGS MCS" else f"{self.publisher} {self.year}"
        )


@cache
def release_of(source: str) -> Release | None:
    """Read the publisher and release year from a ``source`` cell.

    Examples
    --------
    >>> release_of("USGS MCS 2025 data release; MCS2025_World_Data.csv: Cobalt")
    Release(publisher='USGS MCS', year=2025)
    >>> release_of("IEA (2024), Critical Minerals Data Explorer, IEA, Paris (CC BY 4.0)")
    Release(publisher='IEA', year=2024)
    >>> release_of("company report") is None
    True
    """
    for publisher, pattern in _PATTERNS:
        m = pattern.search(str(source))
        if m:
            return Release(publisher, int(m.group(1)))
    return None


@dataclass(frozen=True)
class Replacement:
    """Figures of one release dropped in favour of another's.

    Attributes
    ----------
    kept, dropped
        The release whose tables stand, and the release whose rows of the same
        tables were dropped.
    figures
        Number of rows of ``dropped`` that were dropped.
    kept_imported, dropped_imported
        Whether the kept and the dropped rows are the import's (``True``) or
        were already in the table (``False``).
    """

    kept: Release
    dropped: Release
    figures: int
    kept_imported: bool = True
    dropped_imported: bool = False

    @property
    def reason(self) -> str:
        """Why ``kept`` wins: the newer release, or the publisher's precedence."""
        if self.kept.publisher == self.dropped.publisher:
            return "newer release"
        return f"{self.kept.publisher} before {self.dropped.publisher}"

    def message(self) -> str:
        """One line for the import report.

        Examples
        --------
        >>> Replacement(Release("USGS MCS", 2025), Release("USGS MCS", 2024), 120).message()
        'replaced 120 figures of MCS 2024 with MCS 2025 (newer release)'
        """
        if self.kept_imported and not self.dropped_imported:
            return (
                f"replaced {self.figures:,} figures of {self.dropped.label} with "
                f"{self.kept.label} ({self.reason})"
            )
        if self.dropped_imported and not self.kept_imported:
            return (
                f"kept {self.kept.label} ({self.reason}): {self.figures:,} figures of "
                f"{self.dropped.label} for the same tables were not written"
            )
        return (
            f"left out {self.figures:,} figures of {self.dropped.label}, superseded by "
            f"{self.kept.label} ({self.reason})"
        )


@dataclass(frozen=True)
class MergeResult:
    """A merged table and what the merge replaced."""

    table: pd.DataFrame
    replacements: tuple[Replacement, ...]


_KEY: tuple[str, ...] = ("mineral", "stage", "country", "year")
_GROUP: tuple[str, ...] = ("mineral", "stage", "year")


def _score(release: Release | None, imported: bool) -> int:
    """Order of precedence as one integer (larger wins); -1 for an unknown source."""
    if release is None or release.publisher not in PUBLISHERS:
        return -1
    rank = len(PUBLISHERS) - PUBLISHERS.index(release.publisher)
    return (rank * 10_000 + release.year) * 2 + int(imported)


def merge_production(
    existing: pd.DataFrame,
    new: pd.DataFrame,
    *,
    group: Sequence[str] = _GROUP,
    key: Sequence[str] = _KEY,
) -> MergeResult:
    """Merge newly imported rows into a table by the precedence rule of this module.

    Parameters
    ----------
    existing
        The table already there (a production table, or any table with
        ``source`` and the ``group`` and ``key`` columns, such as ``outlook``).
    new
        The rows being imported.
    group
        Columns of one published table (default mineral, stage, year); one
        publication stands per group.
    key
        Columns of one figure (default mineral, stage, country, year); rows of
        unknown publications are merged on it, the imported row winning.

    Returns
    -------
    MergeResult
        The merged table (rows in ``existing`` then ``new`` order) and one
        :class:`Replacement` per (kept, dropped, imported) combination, the
        largest first.
    """
    group, key = list(group), list(key)
    combined = pd.concat(
        [existing.assign(_imported=False), new.assign(_imported=True)], ignore_index=True
    )
    if combined.empty:
        return MergeResult(combined.drop(columns="_imported"), ())
    releases = combined["source"].astype(str).map(release_of)
    score = pd.Series(
        [_score(r, i) for r, i in zip(releases, combined["_imported"], strict=True)],
        index=combined.index,
    )
    groups = score.groupby([combined[c] for c in group])
    # unknown sources score -1: they never win a group a known release is in
    drop = (score >= 0) & (score < groups.transform("max"))
    replacements: list[Replacement] = []
    if drop.any():
        # the row (a RangeIndex label, so also its position) that wins each group
        at = groups.transform("idxmax")
        winner = at[drop].astype("int64").to_numpy()
        lost = drop.to_numpy()
        rel = releases.to_numpy(dtype=object)
        imported = combined["_imported"].to_numpy(dtype=bool)
        counts: dict[tuple[Release, Release, bool, bool], int] = {}
        for kept, dropped, kept_imp, dropped_imp in zip(
            rel[winner], rel[lost], imported[winner], imported[lost], strict=True
        ):
            if kept == dropped:  # a re-import of the same release: nothing to report
                continue
            k = (kept, dropped, bool(kept_imp), bool(dropped_imp))
            counts[k] = counts.get(k, 0) + 1
        replacements = [Replacement(*k[:2], n, *k[2:]) for k, n in counts.items()]
    table = combined[~drop]
    text_keys = [k for k in key if table[k].dtype == object]
    matched = table.assign(**{k: table[k].fillna("") for k in text_keys})
    table = table[~matched.duplicated(key, keep="last")].drop(columns="_imported")
    replacements.sort(key=lambda r: -r.figures)
    return MergeResult(table.reset_index(drop=True), tuple(replacements))
