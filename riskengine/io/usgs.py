"""Importer for the USGS Mineral Commodity Summaries (MCS) data releases.

Three layouts are read:

* **single CSV** (MCS 2026, ``MCS2026_Commodities_Data.csv``): one cp1252 file
  with the columns ``MCS chapter, Section, Commodity, Country, Statistics,
  Statistics_detail, Unit, Year, Value, Notes, Is critical mineral 2025, Other
  notes``; world production tables, US net import reliance and US import
  sources are sections of it;
* **world table** (MCS 2025, ``MCS2025_World_Data.csv``): one UTF-8 file (with
  BOM) for all commodities, with the columns ``SOURCE, COMMODITY, COUNTRY,
  TYPE, UNIT_MEAS, PROD_2023, PROD_EST_ 2024, PROD_NOTES, CAP_2023, CAP_EST_
  2024, CAP_NOTES, RESERVES_2024, RESERVE_NOTES``; world production only
  (:func:`read_mcs_world_table`);
* **per-commodity directory** (MCS 2023, 2024): ``world/mcs20YY-<code>_world.csv``
  with the columns ``Source, Country, Type, Prod_<unit>[_est]_<year>...,
  Prod_notes, Reserves_<unit>, Reserves_notes`` (units in the column names), and
  ``industry_trends/MCS20YY_Fig2_Net_Import_Reliance.csv`` for US net import
  reliance and the major import sources.

:func:`read_usgs_mcs` dispatches on the path (file or directory) and, for a
file, on its header. Every reader returns an :class:`ImportResult` whose
``production`` table follows the canonical schema
(:data:`riskengine.io.canonical.PRODUCTION`): quantities in metric tonnes of
what the release states (contained content for most metals, gross weight or
oxide equivalent where the USGS says so, named in ``source``).
The mapping of USGS series to riskengine minerals and stages is the table in
:mod:`riskengine.io.usgs_commodities`.

Value conventions of the releases
---------------------------------
``226,000`` is 226000; ``—`` (em dash) means zero; ``W`` (withheld to avoid
disclosing company data), ``NA``, ``XX`` (not applicable), ``E`` (net
exporter), ``s`` (less than half a unit), ``Large``, ``>75``, ``<1`` and ranges
such as ``1,000–2,000`` give an empty quantity with the mark kept in ``flag``.
A figure is ``estimated`` when its column is an ``_est_`` column, when the
country carries the ``e`` estimate mark (``Russiae``), when the notes say
"Estimated" or "estimated in <year>". The MCS 2025 world table writes the
release's ``—`` as an empty cell: there an empty production cell is zero
unless ``PROD_NOTES`` gives its mark (``W for 23-24``, ``NA``, ``na for
2023``, ``XX``, "included with ilmenite"), and the count of cells so read is
given in ``ImportResult.notes``.

"World total" rows are not production rows (they would double count); they
are used to check that the listed countries plus "Other countries" (``XOT``)
add up, within the rounding of the total; differences are reported in
``ImportResult.notes``.

References
----------
U.S. Geological Survey, Mineral Commodity Summaries 2026 data release,
doi:10.5066/P1WKQ63T; MCS 2024 data release, doi:10.5066/P144BA54; MCS 2023
data release, doi:10.5066/P9WCYUI6; MCS 2025 world data
(``MCS2025_World_Data.csv``). Public domain.
"""

from __future__ import annotations

import csv
import io
import logging
import math
import re
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from riskengine.errors import DataError
from riskengine.io.countries import normalise_name, to_iso3
from riskengine.io.precedence import Replacement, merge_production
from riskengine.io.usgs_commodities import (
    Chapter,
    ProductionRule,
    chapter_index,
    production_rule,
    trade_mapping,
)

logger = logging.getLogger(__name__)

__all__ = [
    "IMPORT_RELIANCE_COLUMNS",
    "IMPORT_SOURCES_COLUMNS",
    "MCS_CSV_COLUMNS",
    "PRODUCTION_COLUMNS",
    "RELIANCE_TABLE_COLUMNS",
    "ImportResult",
    "UnmatchedCountryWarning",
    "combine_releases",
    "parse_cell",
    "parse_value",
    "read_mcs_commodities",
    "read_mcs_reliance_table",
    "read_mcs_world_dir",
    "read_mcs_world_table",
    "read_usgs_mcs",
    "resolve_country",
]

#: DOIs of the data releases this importer was built on.
RELEASE_DOIS: dict[int, str] = {
    2023: "10.5066/P9WCYUI6",
    2024: "10.5066/P144BA54",
    2026: "10.5066/P1WKQ63T",
}

#: Header of the single-CSV layout (MCS 2026).
MCS_CSV_COLUMNS: tuple[str, ...] = (
    "MCS chapter",
    "Section",
    "Commodity",
    "Country",
    "Statistics",
    "Statistics_detail",
    "Unit",
    "Year",
    "Value",
    "Notes",
    "Is critical mineral 2025",
    "Other notes",
)

#: Header of the world-table layout (MCS 2025), as written (note the blanks).
MCS_WORLD_COLUMNS: tuple[str, ...] = (
    "SOURCE",
    "COMMODITY",
    "COUNTRY",
    "TYPE",
    "UNIT_MEAS",
    "PROD_2023",
    "PROD_EST_ 2024",
    "PROD_NOTES",
    "CAP_2023",
    "CAP_EST_ 2024",
    "CAP_NOTES",
    "RESERVES_2024",
    "RESERVE_NOTES",
)

#: Columns of :attr:`ImportResult.production` (canonical production table).
PRODUCTION_COLUMNS: tuple[str, ...] = (
    "mineral",
    "stage",
    "country",
    "year",
    "quantity",
    "unit",
    "source",
    "flag",
    "estimated",
)
#: Columns of :attr:`ImportResult.import_reliance`.
IMPORT_RELIANCE_COLUMNS: tuple[str, ...] = (
    "mineral",
    "stage",
    "country",
    "year",
    "net_import_reliance",
    "flag",
    "estimated",
    "product",
    "source",
)
#: Columns of :attr:`ImportResult.us_imports`.
US_IMPORTS_COLUMNS: tuple[str, ...] = (
    "mineral",
    "stage",
    "country",
    "year",
    "quantity",
    "flag",
    "estimated",
    "product",
    "source",
)
#: Columns of :attr:`ImportResult.import_sources`.
IMPORT_SOURCES_COLUMNS: tuple[str, ...] = (
    "mineral",
    "stage",
    "country",
    "partner",
    "period",
    "share",
    "flag",
    "rank",
    "product",
    "source",
)

_WORLD_DIR_EXPECTED = (
    "Source, Country, Type, Prod_<unit>_<year> and/or Prod_<unit>_est_<year> "
    "(unit t, kt, kg, Mt or mmt), Prod_notes, Reserves_<unit>, Reserves_notes"
)
_FIG2_EXPECTED = (
    "Source, Import_Share_Rank (or Import_Share_Order), Commodity, "
    "Net_Import_Reliance_pct_<year>, Major_Import_Sources_<year>_<year>"
)

#: Unit of the 2026 ``Unit`` column -> (multiplier, divisor) to metric tonnes.
_CSV_UNITS: dict[str, tuple[float, float]] = {
    "metric tons": (1.0, 1.0),
    "thousand metric tons": (1e3, 1.0),
    "thousand metric dry tons": (1e3, 1.0),
    "million metric tons": (1e6, 1.0),
    "kilograms": (1.0, 1e3),
}
#: Unit code of the ``Prod_<unit>_<year>`` columns -> (multiplier, divisor) to tonnes.
_WORLD_UNITS: dict[str, tuple[float, float]] = {
    "t": (1.0, 1.0),
    "kt": (1e3, 1.0),
    "kg": (1.0, 1e3),
    "Mt": (1e6, 1.0),
    "mmt": (1e6, 1.0),
}
_NON_MASS_UNITS: dict[str, str] = {
    "mct": "million carats",
    "kct": "thousand carats",
    "mcm": "million cubic metres",
}

#: Partner names that are regions, not countries; their rows are skipped on purpose.
_REGIONS = frozenset({"europe", "african countries", "various"})

_DASHES = frozenset({"—", "–", "-", "−", "--"})
_NUMBER = re.compile(r"^[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?$")
_RANGE = re.compile(r"^(?P<lo>\d[\d,]*(?:\.\d+)?)\s*(?:–|—|-|to)\s*(?P<hi>\d[\d,]*(?:\.\d+)?)$")
_BOUND = re.compile(r"^(?:>|<|≥|≤|more than|less than)\s*\d[\d,]*(?:\.\d+)?%?$", re.I)
_ESTIMATED_NOTE = re.compile(r"(?:^|--)\s*Estimated\b", re.I)
_EST_YEAR = re.compile(r"estimated\s+in\s+(\d{4})", re.I)
_WORLD_FILE = re.compile(r"^mcs(?P<year>\d{4})-(?P<code>.+)_world\.csv$", re.I)
_DATA_NOTE = re.compile(r"^\(Data in (.*?)(?:,?\s*unless otherwise specified)?\)\s*(?:--|$)", re.I)


class UnmatchedCountryWarning(UserWarning):
    """Country names of a release that map to no ISO3 code (their rows are not imported)."""


@dataclass(frozen=True)
class ImportResult:
    """What one USGS MCS release yielded.

    Attributes
    ----------
    production
        Canonical production table (:data:`PRODUCTION_COLUMNS`): quantity in
        metric tonnes (``unit`` = ``"t"``), NaN only with a ``flag``.
    import_reliance
        US net import reliance (:data:`IMPORT_RELIANCE_COLUMNS`) as a fraction of
        apparent consumption; NaN with the release's mark in ``flag`` (``E`` =
        net exporter, ``>75``, ``W``...).
    import_sources
        US major import sources (:data:`IMPORT_SOURCES_COLUMNS`): ``country`` is
        the importer (``USA``), ``partner`` the source country, ``share`` the
        fraction of imports over ``period`` (NaN where the release gives only
        the order, then ``rank`` is set).
    us_imports
        US imports for consumption (:data:`US_IMPORTS_COLUMNS`) from the salient
        statistics, tonnes, by ``product`` (the same ``Commodity: product`` text
        as in ``import_sources``, so the two can be joined); MCS 2026 layout only.
    unmatched_countries
        Country names that map to no ISO3 code; their rows are not imported.
    skipped
        One line per series, file or row group not imported, with the reason.
    notes
        Consistency checks (listed countries vs. world totals) and remarks.
    world_totals
        The release's "World total" rows (``mineral, stage, year, quantity``,
        tonnes; the largest where several map to one mineral and stage), kept for
        checks and shares; they are not production rows.
    release
        Release year (2026 for MCS 2026), or ``None`` when unknown.
    replaced
        For a combination of releases (:func:`combine_releases`): the figures of
        each older release that a newer one replaced.
    """

    production: pd.DataFrame
    import_reliance: pd.DataFrame
    import_sources: pd.DataFrame
    unmatched_countries: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    world_totals: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=["mineral", "stage", "year", "quantity"])
    )
    release: int | None = None
    us_imports: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=list(US_IMPORTS_COLUMNS))
    )
    replaced: tuple[Replacement, ...] = ()


class CountryName(NamedTuple):
    """A source country name resolved to a code.

    Attributes
    ----------
    code
        ISO3 code, ``XOT`` for "Other countries", ``None`` when unmatched or a
        world total.
    qualifier
        Text the source attached to the name (``"recoverable"`` in
        ``"Russia (recoverable)"``), empty when none.
    estimated
        The name carries the ``e`` estimate mark (``"Russiae"``).
    world_total
        The row is a world total.
    """

    code: str | None
    qualifier: str
    estimated: bool
    world_total: bool


# ---------------------------------------------------------------------------
# Cell parsing
# ---------------------------------------------------------------------------


def _clean_text(text: str) -> str:
    """Normalise white space (no-break spaces included) and strip."""
    return re.sub(r"\s+", " ", text.replace("\xa0", " ")).strip()


def parse_cell(text: str) -> tuple[float, str, bool]:
    """Parse one USGS value cell, also reporting an ``e`` estimate mark.

    Like :func:`parse_value`, and ``"e5,000"`` or ``"5,000e"`` (the MCS 2024
    files' estimate mark attached to a number) read as 5000 with
    ``estimated=True``.

    Returns
    -------
    value : float
    flag : str
    estimated : bool
    """
    s = _clean_text(text)
    m = re.match(r"^e\s*(?P<n>[\d,.]+)$|^(?P<m>[\d,.]+)\s*e$", s)
    if m:
        number = m.group("n") or m.group("m")
        if _NUMBER.match(number):
            return float(number.replace(",", "")), "", True
    value, flag = parse_value(s)
    return value, flag, False


def parse_value(text: str) -> tuple[float, str]:
    """Parse one USGS value cell.

    Parameters
    ----------
    text
        The cell as written, e.g. ``"226,000"``, ``"W"``, ``"—"``, ``">75"``.

    Returns
    -------
    value : float
        The number; ``0.0`` for a dash (the USGS zero); NaN when the cell is not
        a number.
    flag : str
        Empty for a number or a dash; otherwise the mark: ``W``, ``NA``, ``XX``,
        ``E``, ``s``, ``>75``, ``Large``..., ``range 1,000–2,000`` for ranges and
        ``blank`` for an empty cell.

    Examples
    --------
    >>> parse_value("226,000")
    (226000.0, '')
    >>> parse_value("—")
    (0.0, '')
    >>> parse_value("W")
    (nan, 'W')
    >>> parse_value("1,000–2,000")
    (nan, 'range 1,000–2,000')
    """
    s = _clean_text(text)
    if not s:
        return math.nan, "blank"
    if s in _DASHES:
        return 0.0, ""
    if _NUMBER.match(s):
        return float(s.replace(",", "")), ""
    if _RANGE.match(s):
        return math.nan, f"range {s}"
    if _BOUND.match(s):
        return math.nan, s.replace(" ", "")
    return math.nan, s


def _to_tonnes(value: float, factor: tuple[float, float]) -> float:
    """Convert with an exact multiplier and divisor (avoids ``839000 * 0.001`` noise)."""
    mul, div = factor
    return value * mul / div if mul != 1.0 or div != 1.0 else value


# ---------------------------------------------------------------------------
# Countries
# ---------------------------------------------------------------------------


def _lookup(name: str) -> tuple[str | None, bool]:
    """Look a name up as written, then without a trailing ``e`` estimate mark."""
    code = to_iso3(name)
    if code is not None:
        return code, False
    stripped = re.sub(r"\d+$", "", name).rstrip()
    if stripped.endswith("e") and len(stripped) > 3:
        code = to_iso3(stripped[:-1])
        if code is not None:
            return code, True
    return None, False


@cache
def resolve_country(raw: str) -> CountryName:
    """Resolve a USGS country cell to ISO3, keeping qualifiers and estimate marks.

    Handles footnote digits (``"New Caledonia11"``), the ``e`` estimate mark
    (``"Russiae"``), qualifiers in parentheses or after a comma
    (``"Russia (recoverable)"``, ``"Kazakhstan, concentrate"``), "Other countries"
    (``XOT``) and world totals.

    Examples
    --------
    >>> resolve_country("Congo (Kinshasa)").code
    'COD'
    >>> resolve_country("Russiae")
    CountryName(code='RUS', qualifier='', estimated=True, world_total=False)
    >>> resolve_country("World total (rounded)").world_total
    True
    """
    name = _clean_text(raw)
    key = normalise_name(name)
    if key.startswith("world total") or key in {"world", "world total"}:
        return CountryName(None, "", False, True)
    code, estimated = _lookup(name)
    if code is not None:
        return CountryName(code, "", estimated, False)
    base, qualifier = name, ""
    m = re.match(r"^(?P<base>.*?)\s*\((?P<q>[^)]*)\)\s*\d*$", name)
    if m:
        base, qualifier = m["base"], m["q"]
    else:
        head, sep, tail = name.rpartition(",")
        if sep and _lookup(head)[0] is not None:
            base, qualifier = head, tail.strip()
    code, estimated = _lookup(base)
    if code is not None:
        return CountryName(code, qualifier, estimated, False)
    return CountryName(None, qualifier, False, False)


# ---------------------------------------------------------------------------
# Shared assembly
# ---------------------------------------------------------------------------


def _release_label(year: int | None) -> str:
    if year is None:
        return "USGS Mineral Commodity Summaries data release"
    doi = RELEASE_DOIS.get(year)
    return f"USGS MCS {year} data release" + (f" (doi:{doi})" if doi else "")


@dataclass
class _Collector:
    """Accumulates records, skips and unmatched names while a release is read."""

    release: int | None
    production: list[dict[str, Any]] = field(default_factory=list)
    totals: dict[tuple[str, str, int], list[float]] = field(default_factory=dict)
    reliance: list[dict[str, Any]] = field(default_factory=list)
    sources: list[dict[str, Any]] = field(default_factory=list)
    imports: list[dict[str, Any]] = field(default_factory=list)
    unmatched: dict[str, list[str]] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    combine: set[tuple[str, str]] = field(default_factory=set)
    skip_counts: dict[str, int] = field(default_factory=dict)

    def skip(self, message: str) -> None:
        """Record a skipped row or series; repeated messages are counted, not repeated."""
        if message not in self.skip_counts:
            self.skipped.append(message)
        self.skip_counts[message] = self.skip_counts.get(message, 0) + 1

    def rule_for(self, chapter: str, series: str, where: str, n: int) -> ProductionRule | None:
        """Return the production rule of a series to import, or record why it is skipped."""
        rule = production_rule(chapter, series)
        if rule is None:
            self.skip(f"{where}: no mapping rule for this series ({n} rows)")
            return None
        if rule.mineral is None:
            self.skip(f"{where}: not imported, {rule.note} ({n} rows)")
            return None
        return rule

    def unmatched_name(self, name: str, where: str) -> None:
        self.unmatched.setdefault(name, []).append(where)

    def add_production(
        self,
        rule: ProductionRule,
        country: CountryName,
        year: int,
        value: float,
        flag: str,
        estimated: bool,
        source: str,
    ) -> None:
        assert rule.mineral is not None
        assert rule.stage is not None
        if rule.combine:
            self.combine.add((rule.mineral, rule.stage))
        if country.world_total:
            if not flag:
                self.totals.setdefault((rule.mineral, rule.stage, year), []).append(value)
            return
        assert country.code is not None
        if country.qualifier:
            source = f"{source} [country entry: {country.qualifier}]"
        self.production.append(
            {
                "mineral": rule.mineral,
                "stage": rule.stage,
                "country": country.code,
                "year": year,
                "quantity": value,
                "unit": "t",
                "source": source,
                "flag": flag,
                "estimated": estimated or country.estimated,
            }
        )

    def result(self) -> ImportResult:
        production = _finish_production(self)
        reliance = _dedupe(
            pd.DataFrame(self.reliance, columns=list(IMPORT_RELIANCE_COLUMNS)),
            ["mineral", "stage", "country", "year"],
            "net import reliance",
            self.skipped,
        )
        sources = _dedupe(
            pd.DataFrame(self.sources, columns=list(IMPORT_SOURCES_COLUMNS)),
            ["mineral", "stage", "country", "partner", "period", "product"],
            "import source",
            self.skipped,
        )
        us_imports = _dedupe(
            pd.DataFrame(self.imports, columns=list(US_IMPORTS_COLUMNS)),
            ["mineral", "stage", "country", "year", "product"],
            "US imports",
            self.skipped,
        )
        us_imports["year"] = us_imports["year"].astype("int64")
        us_imports["quantity"] = us_imports["quantity"].astype(float)
        us_imports["estimated"] = us_imports["estimated"].astype(bool)
        reliance["year"] = reliance["year"].astype("int64")
        reliance["net_import_reliance"] = reliance["net_import_reliance"].astype(float)
        reliance["estimated"] = reliance["estimated"].astype(bool)
        sources["share"] = sources["share"].astype(float)
        sources["rank"] = sources["rank"].astype("Int64")
        unmatched = list(self.unmatched)
        if unmatched:
            detail = "; ".join(
                f"{name!r} ({', '.join(sorted(set(w))[:3])})" for name, w in self.unmatched.items()
            )
            warnings.warn(
                f"{_release_label(self.release)}: {len(unmatched)} country name(s) map to no "
                f"ISO3 code and their rows were not imported: {detail}. Add the spelling to "
                f"riskengine.io.countries.ALIASES.",
                UnmatchedCountryWarning,
                stacklevel=3,
            )
        return ImportResult(
            production=production,
            import_reliance=reliance.reset_index(drop=True),
            import_sources=sources.reset_index(drop=True),
            us_imports=us_imports.reset_index(drop=True),
            unmatched_countries=unmatched,
            skipped=[
                m if self.skip_counts.get(m, 1) == 1 else f"{m} ({self.skip_counts[m]} rows)"
                for m in self.skipped
            ],
            notes=list(self.notes),
            world_totals=pd.DataFrame(
                [
                    {"mineral": m, "stage": st, "year": y, "quantity": max(v)}
                    for (m, st, y), v in sorted(self.totals.items())
                ],
                columns=["mineral", "stage", "year", "quantity"],
            ),
            release=self.release,
        )


def _dedupe(table: pd.DataFrame, key: list[str], what: str, skipped: list[str]) -> pd.DataFrame:
    dup = table.duplicated(key, keep="first")
    for _, row in table[dup].iterrows():
        skipped.append(
            f"duplicate {what} for {', '.join(str(row[k]) for k in key)} "
            f"({row['source']}, product {row['product']!r}); the first row was kept"
        )
    return table[~dup]


def _combine_group(group: pd.DataFrame) -> dict[str, Any]:
    """Sum the parts of a combined series (titanium = ilmenite + rutile)."""
    included = group["flag"].str.lower().str.startswith("included")
    parts = group[~included]
    first = group.iloc[0]
    if parts.empty:
        quantity, flag = math.nan, "; ".join(sorted(set(group["flag"])))
    elif parts["quantity"].isna().any():
        quantity = math.nan
        flag = "; ".join(sorted({f for f in parts["flag"] if f}))
    else:
        quantity, flag = float(parts["quantity"].sum()), ""
    sources = list(dict.fromkeys(group["source"]))
    return {
        "mineral": first["mineral"],
        "stage": first["stage"],
        "country": first["country"],
        "year": first["year"],
        "quantity": quantity,
        "unit": "t",
        "source": " + ".join(sources),
        "flag": flag,
        "estimated": bool(group["estimated"].any()),
    }


def _finish_production(col: _Collector) -> pd.DataFrame:
    table = pd.DataFrame(col.production, columns=list(PRODUCTION_COLUMNS))
    key = ["mineral", "stage", "country", "year"]
    if col.combine and not table.empty:
        is_comb = pd.Series(
            [(m, s) in col.combine for m, s in zip(table["mineral"], table["stage"], strict=True)],
            index=table.index,
        )
        combined = [_combine_group(g) for _, g in table[is_comb].groupby(key, sort=False)]
        table = pd.concat(
            [table[~is_comb], pd.DataFrame(combined, columns=list(PRODUCTION_COLUMNS))],
            ignore_index=True,
        )
    table = _dedupe(table.assign(product=""), key, "production row", col.skipped)
    table = table.drop(columns="product")
    table["year"] = table["year"].astype("int64")
    table["quantity"] = table["quantity"].astype(float)
    table["estimated"] = table["estimated"].astype(bool)
    table = table.sort_values(key, kind="stable").reset_index(drop=True)
    _check_world_totals(table, col)
    return table


def _rounding_tolerance(total: float) -> float:
    """Return the allowed gap between a rounded world total and the sum of its countries.

    Notes
    -----
    USGS rounds world totals to two or three significant digits and the country
    figures themselves are rounded, so the tolerance is half a unit of the
    second significant digit of the total plus 2 % of it:
    ``0.5 * 10**(floor(log10(total)) - 1) + 0.02 * total``.
    """
    if total <= 0:
        return 0.5
    return 0.5 * 10 ** (math.floor(math.log10(total)) - 1) + 0.02 * total


def _check_world_totals(table: pd.DataFrame, col: _Collector) -> None:
    if not col.totals or table.empty:
        return
    grouped = table.groupby(["mineral", "stage", "year"], sort=True)
    for (mineral, stage, year), g in grouped:
        totals = col.totals.get((str(mineral), str(stage), int(year)))  # type: ignore[call-overload]
        if not totals:
            continue
        total = max(totals)
        if g["quantity"].isna().any():
            continue
        listed = float(g["quantity"].sum())
        if abs(listed - total) > _rounding_tolerance(total):
            col.notes.append(
                f"{_release_label(col.release)}: {mineral} {stage} {year}: the listed "
                f"countries incl. 'Other countries' add up to {listed:,.0f} t but the world "
                f"total is {total:,.0f} t ({(listed - total) / total:+.1%}); the country rows "
                f"were imported as published"
            )


def _data_note(other_notes: str) -> str:
    """Extract the "(Data in metric tons, cobalt content, ...)" remark of a 2026 chapter."""
    m = _DATA_NOTE.match(other_notes.strip())
    return m.group(1).strip() if m else ""


# ---------------------------------------------------------------------------
# MCS 2026 single CSV
# ---------------------------------------------------------------------------


def _read_text(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252")


def _release_from_name(name: str) -> int | None:
    m = re.search(r"MCS\s*_?(\d{4})", name, re.I)
    return int(m.group(1)) if m else None


def _read_mcs_csv(p: Path) -> pd.DataFrame:
    """Read the single-CSV release as strings and check its header."""
    if not p.is_file():
        raise DataError(
            f"USGS MCS file {p} does not exist; expected the single-CSV release "
            f"(e.g. MCS2026_Commodities_Data.csv with columns {', '.join(MCS_CSV_COLUMNS)})"
        )
    text = _read_text(p)
    try:
        raw = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, na_filter=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataError(
            f"{p}: cannot be read as CSV ({exc}); expected columns {', '.join(MCS_CSV_COLUMNS)}"
        ) from exc
    raw.columns = [_clean_text(c) for c in raw.columns]
    optional = {"Other notes", "Is critical mineral 2025"}
    missing = [c for c in MCS_CSV_COLUMNS if c not in raw.columns and c not in optional]
    if missing:
        raise DataError(
            f"{p.name}: not a USGS MCS single-CSV release; missing column(s) {', '.join(missing)}",
            [f"expected columns: {', '.join(MCS_CSV_COLUMNS)}", f"found: {', '.join(raw.columns)}"],
        )
    for column in ("Other notes", "Is critical mineral 2025"):
        if column not in raw.columns:
            raw[column] = ""
    return raw


def read_mcs_commodities(path: str | Path, *, release: int | None = None) -> ImportResult:
    """Read the single-CSV release (MCS 2026 ``MCS2026_Commodities_Data.csv``).

    Parameters
    ----------
    path
        The CSV file (cp1252 or UTF-8).
    release
        Release year for the ``source`` column; read from the file name
        (``MCS2026_...``) when omitted.

    Returns
    -------
    ImportResult
        World mine/refinery production by country, US net import reliance and US
        import sources.

    Raises
    ------
    DataError
        When the file is missing or its header lacks the expected columns.

    Notes
    -----
    Sections whose title starts with "World" and whose ``Statistics`` is
    ``Production`` are the production tables; ``Net import reliance`` rows give
    the import reliance (percent / 100), the ``Import Sources`` section the
    import shares (percent / 100). Reserves, capacity and the other US salient
    statistics are not imported and are counted in ``skipped``.
    """
    p = Path(path)
    raw = _read_mcs_csv(p)
    year_of_release = release if release is not None else _release_from_name(p.name)
    col = _Collector(year_of_release)
    label = _release_label(year_of_release)
    index = chapter_index()

    stats = raw["Statistics"].str.strip()
    section = raw["Section"].map(_clean_text)
    is_world = section.str.lower().str.startswith("world")
    is_prod = is_world & (stats == "Production")
    is_nir = stats.str.lower() == "net import reliance"
    is_imp = section.str.lower() == "import sources"
    is_us_imp = (
        ~is_world
        & ~is_imp
        & raw["Statistics_detail"].map(_clean_text).str.startswith("Imports for consumption")
    )
    for what, mask in (
        ("world reserves", is_world & (stats == "Reserves")),
        ("world capacity", is_world & (stats == "Capacity")),
        ("other US salient statistics", ~is_world & ~is_nir & ~is_imp & ~is_us_imp),
    ):
        if mask.any():
            col.skip(
                f"{p.name}: {int(mask.sum())} rows of {what} are not production by country "
                f"and were not imported"
            )

    _mcs_production(raw[is_prod], p.name, label, col, index)
    _mcs_reliance(raw[is_nir], p.name, label, col, index)
    _mcs_import_sources(raw[is_imp], p.name, label, col, index)
    _mcs_us_imports(raw[is_us_imp], p.name, label, col, index)
    return col.result()


def _chapter_of(name: str, index: dict[str, Chapter]) -> Chapter | None:
    return index.get(_clean_text(name).upper())


def _mcs_production(
    rows: pd.DataFrame, fname: str, label: str, col: _Collector, index: dict[str, Chapter]
) -> None:
    detail = rows["Statistics_detail"].map(_clean_text)
    detail = detail.str.replace(r"[:,]\s*rounded$", "", regex=True)
    rows = rows.assign(_detail=detail)
    keys = ["MCS chapter", "Commodity", "Section", "_detail", "Unit"]
    for (chapter_name, commodity, section, det, unit), g in rows.groupby(keys, sort=False):
        chapter = _chapter_of(str(chapter_name), index)
        series = f"{_clean_text(str(commodity))}: {det}"
        where = f"{fname}: {chapter_name} / {series}"
        if chapter is None:
            col.skip(f"{where}: chapter not in the mapping table ({len(g)} rows)")
            continue
        rule = col.rule_for(chapter.name, series, where, len(g))
        if rule is None:
            continue
        unit_key = _clean_text(str(unit)).lower()
        factor = _CSV_UNITS.get(unit_key)
        if factor is None:
            col.skip(f"{where}: unit {unit!r} is not a mass convertible to tonnes ({len(g)} rows)")
            continue
        data_note = _data_note(str(g["Other notes"].iloc[0]))
        source = f"{label}; {_clean_text(str(commodity))}, {_clean_text(str(section))}: "
        series_text = str(det) + (f" ({rule.basis})" if rule.basis else "")
        source += rule.basis if rule.combine else series_text
        if data_note:
            source += f"; data in {data_note}"
        for country_raw, year_raw, value_raw, notes in zip(
            g["Country"], g["Year"], g["Value"], g["Notes"], strict=True
        ):
            country = resolve_country(country_raw)
            if country.code is None and not country.world_total:
                col.unmatched_name(_clean_text(country_raw), f"{chapter.name}")
                continue
            year_s = _clean_text(year_raw)
            if not year_s.isdigit():
                col.skip(f"{where}: year {year_raw!r} is not a year; row not imported")
                continue
            value, flag, marked = parse_cell(value_raw)
            if not flag:
                value = _to_tonnes(value, factor)
            estimated = marked or bool(_ESTIMATED_NOTE.search(notes))
            col.add_production(rule, country, int(year_s), value, flag, estimated, source)


def _percent(value: float, flag: str) -> tuple[float, str]:
    return (value / 100.0, flag) if not flag else (math.nan, flag)


def _mapped_rows(
    rows: pd.DataFrame,
    fname: str,
    col: _Collector,
    index: dict[str, Chapter],
    what: str,
    product_of: Callable[[str], str],
    extra: list[str],
) -> Iterator[tuple[Chapter, str, str, tuple[str, str], list[Any]]]:
    """Rows of a US table whose chapter and product map to a (mineral, stage).

    Yields ``(chapter, commodity, detail, (mineral, stage), [extra values])``;
    rows of unknown chapters or unmapped products are recorded as skipped.
    """
    base = ["MCS chapter", "Commodity", "Statistics_detail"]
    for chapter_name, commodity_raw, detail_raw, *rest in zip(
        *(rows[c] for c in base + extra), strict=True
    ):
        detail = _clean_text(detail_raw)
        commodity = _clean_text(commodity_raw)
        chapter = _chapter_of(chapter_name, index)
        if chapter is None:
            col.skip(f"{fname}: {what} of {chapter_name!r}: unknown chapter")
            continue
        product = product_of(detail)
        mapped = trade_mapping(chapter, commodity, product)
        if isinstance(mapped, str):
            col.skip(
                f"{fname}: {what}, {chapter.name} / {commodity} {product!r}: not imported, {mapped}"
            )
            continue
        yield chapter, commodity, detail, mapped, rest


def _reliance_product(detail: str) -> str:
    product = re.sub(
        r"^.*?net import reliance\s*as a percentage of [^:,]*[:,]?\s*", "", detail, flags=re.I
    )
    return "" if product == detail else product


def _mcs_reliance(
    rows: pd.DataFrame, fname: str, label: str, col: _Collector, index: dict[str, Chapter]
) -> None:
    for chapter, commodity, detail, mapped, (year_raw, value_raw, notes) in _mapped_rows(
        rows, fname, col, index, "net import reliance", _reliance_product,
        ["Year", "Value", "Notes"],
    ):  # fmt: skip
        year_s = _clean_text(year_raw)
        if not year_s.isdigit():
            col.skip(f"{fname}: net import reliance {chapter.name}: year {year_raw!r}")
            continue
        value, flag = _percent(*parse_value(value_raw))
        col.reliance.append(
            {
                "mineral": mapped[0],
                "stage": mapped[1],
                "country": "USA",
                "year": int(year_s),
                "net_import_reliance": value,
                "flag": flag,
                "estimated": bool(_ESTIMATED_NOTE.search(notes)),
                "product": f"{commodity}: {detail}",
                "source": f"{label}; {commodity}, Salient Statistics—United States: {detail}",
            }
        )


#: Columns of :func:`read_mcs_reliance_table`.
RELIANCE_TABLE_COLUMNS: tuple[str, ...] = (
    "chapter",
    "commodity",
    "product",
    "year",
    "published",
    "value",
    "low",
    "high",
    "critical",
    "mineral",
    "stage",
    "note",
    "us_production",
)


def _published_range(value: float, flag: str) -> tuple[float, float]:
    """Bounds (fractions) of a published net import reliance: a number, a bound, E or a range."""
    if not flag:
        return value / 100.0, value / 100.0
    if flag == "E":  # net exporter: reliance 0
        return 0.0, 0.0
    bound = re.match(r"^(>|<|≥|≤)(\d+(?:\.\d+)?)%?$", flag)
    if bound:
        limit = float(bound.group(2)) / 100.0
        return (limit, 1.0) if bound.group(1) in (">", "≥") else (0.0, limit)
    span = _RANGE.match(flag.removeprefix("range "))
    if span:
        return (
            float(span.group("lo").replace(",", "")) / 100.0,
            float(span.group("hi").replace(",", "")) / 100.0,
        )
    return math.nan, math.nan


def read_mcs_reliance_table(path: str | Path) -> pd.DataFrame:
    """Every US net import reliance figure of a single-CSV release, as published.

    Unlike :attr:`ImportResult.import_reliance`, which keeps the figures the
    importer maps to a riskengine mineral, this table has one row per figure
    of the release (every chapter, every form, every year), for comparisons
    with the published figures.

    Parameters
    ----------
    path
        The single-CSV release (MCS 2026 ``MCS2026_Commodities_Data.csv``).

    Returns
    -------
    pandas.DataFrame
        :data:`RELIANCE_TABLE_COLUMNS`: ``chapter``; ``commodity`` and
        ``product`` (the form the figure is for, ``""`` when the statistic
        names none) as written; ``year``; ``published``, the cell as written
        (``"45"``, ``">75"``, ``"E"``, ``"<25"``); ``value``, the fraction for
        a number, else NaN; ``low`` and ``high``, the bounds it states
        (``">75"`` -> 0.75-1, ``"E"`` (net exporter) -> 0-0, a number ->
        itself; NaN for ``W``, ``NA`` and blanks); ``critical``, the column
        "Is critical mineral 2025"; ``mineral`` and ``stage`` as
        :func:`~riskengine.io.usgs_commodities.trade_mapping` maps the figure,
        ``None`` with the reason in ``note`` where it maps to none;
        ``us_production``, the chapter's US production statistics of the year
        as written (``"Production: Mine 200 metric tons; Production: Secondary
        2,050 metric tons"``), which say what the USGS counts as production.

    Raises
    ------
    DataError
        When the file is missing or is not a single-CSV release.
    """
    p = Path(path)
    whole = _read_mcs_csv(p)
    raw = whole[whole["Statistics"].str.strip().str.lower() == "net import reliance"]
    us_prod = whole[
        ~whole["Section"].str.strip().str.lower().str.startswith("world")
        & (whole["Statistics"].str.strip() == "Production")
    ]
    production: dict[tuple[str, str], list[str]] = {}
    for ch, detail, unit, year, value in zip(
        us_prod["MCS chapter"], us_prod["Statistics_detail"], us_prod["Unit"], us_prod["Year"],
        us_prod["Value"], strict=True,
    ):  # fmt: skip
        production.setdefault((_clean_text(ch), _clean_text(year)), []).append(
            f"{_clean_text(detail)} {_clean_text(value)} {_clean_text(unit)}"
        )
    index = chapter_index()
    rows: list[dict[str, Any]] = []
    for chapter_raw, commodity_raw, detail_raw, year_raw, value_raw, critical in zip(
        raw["MCS chapter"], raw["Commodity"], raw["Statistics_detail"], raw["Year"],
        raw["Value"], raw["Is critical mineral 2025"], strict=True,
    ):  # fmt: skip
        year_s = _clean_text(year_raw)
        if not year_s.isdigit():
            continue
        chapter = _chapter_of(chapter_raw, index)
        commodity = _clean_text(commodity_raw)
        product = _reliance_product(_clean_text(detail_raw))
        mapped = (
            trade_mapping(chapter, commodity, product) if chapter is not None else "unknown chapter"
        )
        value, flag = parse_value(value_raw)
        low, high = _published_range(value, flag)
        rows.append(
            {
                "chapter": _clean_text(chapter_raw),
                "commodity": commodity,
                "product": product,
                "year": int(year_s),
                "published": _clean_text(value_raw),
                "value": value / 100.0 if not flag else math.nan,
                "low": low,
                "high": high,
                "critical": _clean_text(critical).lower() == "yes",
                "mineral": None if isinstance(mapped, str) else mapped[0],
                "stage": None if isinstance(mapped, str) else mapped[1],
                "note": mapped if isinstance(mapped, str) else "",
                "us_production": "; ".join(production.get((_clean_text(chapter_raw), year_s), [])),
            }
        )
    return pd.DataFrame(rows, columns=list(RELIANCE_TABLE_COLUMNS))


def _imports_product(detail: str) -> str:
    return re.sub(r"^Imports for consumption[:,]?\s*", "", detail, flags=re.I)


def _mcs_us_imports(
    rows: pd.DataFrame, fname: str, label: str, col: _Collector, index: dict[str, Chapter]
) -> None:
    """US imports for consumption from the salient statistics, in tonnes."""
    for chapter, commodity, detail, mapped, (unit, year_raw, value_raw, notes) in _mapped_rows(
        rows, fname, col, index, "US imports", _imports_product, ["Unit", "Year", "Value", "Notes"]
    ):
        product = _imports_product(detail)
        factor = _CSV_UNITS.get(_clean_text(str(unit)).lower())
        year_s = _clean_text(year_raw)
        if factor is None or not year_s.isdigit():
            col.skip(f"{fname}: US imports, {chapter.name} {product!r}: unit {unit!r} not a mass")
            continue
        value, flag = parse_value(value_raw)
        col.imports.append(
            {
                "mineral": mapped[0],
                "stage": mapped[1],
                "country": "USA",
                "year": int(year_s),
                "quantity": _to_tonnes(value, factor),
                "flag": flag,
                "estimated": bool(_ESTIMATED_NOTE.search(notes)),
                "product": f"{commodity}: {product}",
                "source": f"{label}; {commodity}, Salient Statistics—United States: {detail}",
            }
        )


def _period(text: str) -> str:
    """``"2021–24"`` -> ``"2021-2024"``; ``"2019_2022"`` -> ``"2019-2022"``."""
    m = re.match(r"^\s*(\d{4})\s*[–—_-]\s*(\d{2,4})\s*$", text)
    if not m:
        return _clean_text(text)
    start, end = m.group(1), m.group(2)
    if len(end) == 2:
        end = start[:2] + end
    return f"{start}-{end}"


def _partner(name: str, col: _Collector, where: str) -> str | None:
    """Resolve an import partner; regions and combined partners are skipped on purpose."""
    clean = _clean_text(name)
    if normalise_name(clean) in _REGIONS:
        col.skip(f"{where}: partner {clean!r} is a region, not a country")
        return None
    country = resolve_country(clean)
    if country.code is not None:
        return country.code
    if re.search(r",| and ", clean):
        col.skip(f"{where}: partner {clean!r} names several countries together; share not split")
        return None
    col.unmatched_name(clean, where.split(":")[0])
    return None


def _mcs_import_sources(
    rows: pd.DataFrame, fname: str, label: str, col: _Collector, index: dict[str, Chapter]
) -> None:
    cols = ["MCS chapter", "Commodity", "Country", "Statistics_detail", "Year", "Value"]
    for chapter_name, commodity, partner_raw, detail_raw, year_raw, value_raw in zip(
        *(rows[c] for c in cols), strict=True
    ):
        detail = _clean_text(detail_raw)
        chapter = _chapter_of(chapter_name, index)
        if chapter is None:
            col.skip(f"{fname}: import sources of {chapter_name!r}: unknown chapter")
            continue
        product = "" if detail.lower() in {"all", "total", "total imports"} else detail
        mapped = trade_mapping(chapter, _clean_text(commodity), product)
        where = f"{fname}: import sources {chapter.name} / {_clean_text(commodity)} / {detail}"
        if isinstance(mapped, str):
            col.skip(f"{where}: not imported, {mapped}")
            continue
        partner = _partner(partner_raw, col, where)
        if partner is None:
            continue
        value, flag = _percent(*parse_value(value_raw))
        col.sources.append(
            {
                "mineral": mapped[0],
                "stage": mapped[1],
                "country": "USA",
                "partner": partner,
                "period": _period(year_raw),
                "share": value,
                "flag": flag,
                "rank": None,
                "product": f"{_clean_text(commodity)}: {detail}",
                "source": f"{label}; {_clean_text(commodity)}, Import Sources: {detail}",
            }
        )


# ---------------------------------------------------------------------------
# MCS 2025 world table
# ---------------------------------------------------------------------------

_WORLD_TABLE_FILE = "MCS*_World_Data.csv"
_PROD_HEADER = re.compile(r"^PROD_(?P<est>EST_)?(?P<year>\d{4})$")
_NOTE_MARK = re.compile(r"^(?P<mark>W|NA|XX)\b\.?(?:\s*for\s+(?P<span>[\d\s,–-]+))?\s*$", re.I)
_NOTE_INCLUDED = re.compile(r"\bincluded with (?P<what>[a-z]+)", re.I)
_NOTE_HALF_UNIT = re.compile(r"^less than (?:1/2|one-half|half) (?:a )?unit", re.I)
_NOTE_EST_YEAR = re.compile(r"estimated\s*(?:for|in)?\s*(\d{4})", re.I)
_NOTE_EST = re.compile(r"^\s*estimated\b", re.I)


#: Series of the MCS 2025 world table whose ``UNIT_MEAS`` is wrong, by chapter:
#: (unit written, unit the figures are in). Checked against MCS 2024 and 2026,
#: which give the same years in thousand metric tons: United States industrial
#: sand and gravel 2023 "133000" is 133 Mt, Australia's ilmenite 2023 "400" is
#: 400 kt of TiO2 (the world total of ilmenite and rutile, "9430", is 9.4 Mt).
WORLD_TABLE_UNIT_ERRATA: dict[str, tuple[str, str]] = {
    "SAND AND GRAVEL (INDUSTRIAL)": ("metric tons", "thousand metric tons"),
    "TITANIUM MINERAL CONCENTRATES": ("metric tons", "thousand metric tons"),
}


#: Files of the per-commodity layout (MCS 2023, 2024) whose ``Prod_<unit>`` columns name
#: the wrong unit, by file name: (unit code written, unit code the figures are in,
#: reason). MCS 2023's chromium file names its columns ``Prod_t_2021`` but its notes
#: say thousand metric tons: its world total "42,200" is 42.2 Mt, and MCS 2024 gives
#: 41.9 Mt for 2022.
WORLD_DIR_UNIT_ERRATA: dict[str, tuple[str, str, str]] = {
    "mcs2023-chrom_world.csv": (
        "t",
        "kt",
        "the file's columns say metric tons (Prod_t_2021), its notes 'Units are thousand "
        "metric tons, gross weight' (world total 42,200 = 42.2 Mt; MCS 2024 gives 41.9 Mt "
        "for 2022)",
    ),
}


def _header_names(header: Sequence[str]) -> list[str]:
    """Return world-table column names without blanks, in upper case.

    ``PROD_EST_ 2024`` -> ``PROD_EST_2024``.
    """
    return [_clean_text(h).replace(" ", "").upper() for h in header]


def _is_world_table(header: Sequence[str]) -> bool:
    names = _header_names(header)
    return {"COMMODITY", "COUNTRY", "TYPE"} <= set(names) and any(
        _PROD_HEADER.match(n) for n in names
    )


def _note_years(span: str) -> set[int]:
    """``"23-24"`` -> {2023, 2024}; ``"2023"`` -> {2023}."""
    years = [int(y) + (2000 if len(y) == 2 else 0) for y in re.findall(r"\d{4}|\d{2}", span)]
    if len(years) == 2 and re.search(r"[–-]", span):
        return set(range(min(years), max(years) + 1))
    return set(years)


def _note_marks(note: str, years: Sequence[int]) -> dict[int, str]:
    """Return the mark ``PROD_NOTES`` gives to empty production cells, by year.

    ``"W for 23-24"`` -> W in 2023 and 2024; ``"NA"`` or ``"na"`` -> NA in every
    year; ``"na for 2023"`` -> NA in 2023; ``"xx"`` -> XX; "Less than 1/2 unit" ->
    ``s``; "... included with ilmenite." -> ``included with ilmenite``.
    """
    text = _clean_text(note)
    m = _NOTE_MARK.match(text)
    if m:
        span = _note_years(m["span"]) if m["span"] else set(years)
        return {y: m["mark"].upper() for y in years if y in span}
    if _NOTE_HALF_UNIT.match(text):
        return dict.fromkeys(years, "s")
    inc = _NOTE_INCLUDED.search(text)
    if inc:
        return dict.fromkeys(years, f"included with {inc['what'].lower()}")
    return {}


def _note_estimates(note: str, years: Sequence[int]) -> set[int]:
    """Return the years ``PROD_NOTES`` marks as estimated ("estimated 2023", "Estimated ...")."""
    named = {int(y) for y in _NOTE_EST_YEAR.findall(note)}
    if named:
        return named
    return set(years) if _NOTE_EST.match(note) else set()


def read_mcs_world_table(path: str | Path, *, release: int | None = None) -> ImportResult:
    """Read the one-table world data of MCS 2025 (``MCS2025_World_Data.csv``).

    Parameters
    ----------
    path
        The CSV file (UTF-8 with BOM, or cp1252).
    release
        Release year for the ``source`` column; read from the file name
        (``MCS2025_...``) or the ``SOURCE`` column when omitted.

    Returns
    -------
    ImportResult
        World mine, refinery, smelter and plant production by country for the
        years of the ``PROD_<year>`` and ``PROD_EST_ <year>`` columns. The layout
        has no US import statistics: ``import_reliance`` and ``import_sources``
        are empty.

    Raises
    ------
    DataError
        When the file is missing or its header lacks ``COMMODITY``, ``COUNTRY``,
        ``TYPE``, ``UNIT_MEAS`` or a ``PROD_<year>`` column.

    Notes
    -----
    A series is one (``COMMODITY``, ``TYPE``) pair; the commodity is found in the
    mapping table by its spelling here (trailing blanks removed, ``Gemanium``
    for germanium: :attr:`~riskengine.io.usgs_commodities.Chapter.labels`) and the
    series by ``TYPE``. Figures are estimated when their column is a
    ``PROD_EST_`` column, when ``TYPE`` says "estimated" (the whole series),
    or when ``PROD_NOTES`` says "estimated 2023" (that year) or starts with
    "Estimated" (every year).

    The file writes the release's ``—`` (zero) as an empty cell: an empty
    production cell is read as zero unless ``PROD_NOTES`` marks it (``W for
    23-24``, ``NA``, ``na for 2023``, ``xx``, "included with ilmenite"), in
    which case the quantity is empty and the mark is the ``flag``; the number of
    cells read as zero is reported in ``notes``. Every empty cell of a country
    checked against MCS 2026's 2024 column is a ``—`` there. Two series state
    the wrong unit and are read in the right one, with a note
    (:data:`WORLD_TABLE_UNIT_ERRATA`). A series whose production cells are all
    empty (germanium, capacity and reserves rows) is not imported and is
    listed in ``skipped``.
    """
    p = Path(path)
    if not p.is_file():
        raise DataError(
            f"USGS MCS world table {p} does not exist; expected the MCS 2025 world data "
            f"(e.g. MCS2025_World_Data.csv with columns {', '.join(MCS_WORLD_COLUMNS)})"
        )
    rows = list(csv.reader(io.StringIO(_read_text(p))))
    header = [_clean_text(h) for h in rows[0]] if rows else []
    names = _header_names(header)
    missing = [c for c in ("COMMODITY", "COUNTRY", "TYPE", "UNIT_MEAS") if c not in names]
    prod = [
        _ProdColumn(i, header[i], int(m["year"]), "", bool(m["est"]))
        for i, n in enumerate(names)
        if (m := _PROD_HEADER.match(n))
    ]
    if missing or not prod:
        missing += [] if prod else ["PROD_<year>"]
        raise DataError(
            f"{p.name}: not a USGS MCS world table; missing column(s) {', '.join(missing)}",
            [
                f"expected columns: {', '.join(MCS_WORLD_COLUMNS)}",
                f"found: {', '.join(header) if header else 'an empty file'}",
            ],
        )
    i_com, i_country, i_type, i_unit = (
        names.index(c) for c in ("COMMODITY", "COUNTRY", "TYPE", "UNIT_MEAS")
    )
    i_notes = names.index("PROD_NOTES") if "PROD_NOTES" in names else None
    body = [r + [""] * (len(header) - len(r)) for r in rows[1:] if any(c.strip() for c in r)]
    year_of_release = release if release is not None else _release_from_name(p.name)
    if year_of_release is None and "SOURCE" in names and body:
        year_of_release = _release_from_name(body[0][names.index("SOURCE")])
    col = _Collector(year_of_release)
    label = _release_label(year_of_release)
    years = [pc.year for pc in prod]
    series_rows: dict[tuple[str, str], list[tuple[int, list[str]]]] = {}
    for line, r in enumerate(body, start=2):
        key = (_clean_text(r[i_com]), _clean_text(r[i_type]))
        series_rows.setdefault(key, []).append((line, r))
    if any(n.startswith(("CAP_", "RESERVES_")) for n in names):
        col.skip(
            f"{p.name}: the capacity (CAP_*) and reserves (RESERVES_*) columns are not "
            f"production and were not imported"
        )
    zeros = 0
    for (commodity, series), items in series_rows.items():
        where = f"{p.name}: {commodity} / {series}"
        chapter = chapter_index().get(commodity.upper())
        if chapter is None:
            col.skip(f"{where}: commodity not in the mapping table ({len(items)} rows)")
            continue
        if not any(r[pc.position].strip() for _, r in items for pc in prod):
            col.skip(
                f"{where}: not imported, no production figures (every "
                f"{'/'.join(pc.name for pc in prod)} cell is empty) ({len(items)} rows)"
            )
            continue
        rule = col.rule_for(chapter.name, series, where, len(items))
        if rule is None:
            continue
        units = [_clean_text(r[i_unit]) for _, r in items if r[i_unit].strip()]
        unit = units[0] if units else ""
        erratum = WORLD_TABLE_UNIT_ERRATA.get(chapter.name)
        if erratum is not None and unit.lower() == erratum[0]:
            col.notes.append(
                f"{where}: UNIT_MEAS says {erratum[0]}, but the figures are in {erratum[1]} "
                f"(as in MCS 2024 and 2026); read as {erratum[1]}"
            )
            units = [erratum[1] if u.lower() == erratum[0] else u for u in units]
            unit = erratum[1]
        factor = _CSV_UNITS.get(unit.lower())
        if factor is None or any(u.lower() != unit.lower() for u in units):
            col.skip(
                f"{where}: unit {', '.join(sorted(set(units))) or '(none)'} is not one mass "
                f"convertible to tonnes ({len(items)} rows)"
            )
            continue
        source = f"{label}; {p.name}: {commodity}, "
        source += (
            rule.basis if rule.combine else series + (f" ({rule.basis})" if rule.basis else "")
        )
        whole_series_estimated = bool(re.search(r"\bestimated\b", series, re.I))
        for line, r in items:
            country = resolve_country(r[i_country])
            if country.code is None and not country.world_total:
                col.unmatched_name(_clean_text(r[i_country]), f"{p.name} line {line}")
                continue
            notes = r[i_notes] if i_notes is not None else ""
            marks = _note_marks(notes, years)
            est_years = _note_estimates(notes, years)
            for pc in prod:
                cell = r[pc.position]
                marked = False
                if cell.strip():
                    value, flag, marked = parse_cell(cell)
                elif pc.year in marks:
                    value, flag = math.nan, marks[pc.year]
                elif country.world_total:
                    value, flag = math.nan, "blank"
                else:
                    value, flag = 0.0, ""
                    zeros += 1
                if not flag:
                    value = _to_tonnes(value, factor)
                estimated = marked or pc.estimated or whole_series_estimated or pc.year in est_years
                col.add_production(rule, country, pc.year, value, flag, estimated, source)
    if zeros:
        col.notes.append(
            f"{p.name}: {zeros} empty production cells without a mark in PROD_NOTES were "
            f"read as zero (this file writes the release's '—' as an empty cell)"
        )
    return col.result()


# ---------------------------------------------------------------------------
# MCS 2023 / 2024 per-commodity directory
# ---------------------------------------------------------------------------


class _ProdColumn(NamedTuple):
    position: int
    name: str
    year: int
    unit: str
    estimated: bool


def _prod_columns(header: Sequence[str]) -> tuple[list[_ProdColumn], list[str]]:
    """Find the ``Prod_<unit>[_est]_<year>`` columns; return them and unreadable names."""
    found: list[_ProdColumn] = []
    bad: list[str] = []
    for i, name in enumerate(header):
        h = _clean_text(name)
        if not h.lower().startswith("prod_") or h.lower().startswith("prod_note"):
            continue
        est = bool(re.search(r"_est_", h, re.I))
        parts = re.sub(r"_est_", "_", h, flags=re.I).split("_")
        if len(parts) in (3, 4) and parts[-1].isdigit() and len(parts[-1]) == 4:
            found.append(_ProdColumn(i, h, int(parts[-1]), parts[-2], est))
        else:
            bad.append(h)
    return found, bad


def _world_dir(path: Path) -> Path:
    if (path / "world").is_dir():
        return path / "world"
    if any(_WORLD_FILE.match(f.name) for f in path.glob("*.csv")):
        return path
    raise DataError(
        f"{path} holds no USGS MCS world tables; expected a release directory with "
        f"world/mcs20YY-<code>_world.csv files (columns {_WORLD_DIR_EXPECTED})"
    )


def read_mcs_world_dir(path: str | Path, *, release: int | None = None) -> ImportResult:
    """Read a per-commodity release directory (MCS 2023, MCS 2024 layout).

    Parameters
    ----------
    path
        The release directory (holding ``world/``, optionally ``industry_trends/``)
        or the ``world/`` directory itself.
    release
        Release year for the ``source`` column; read from the file names
        (``mcs2024-cobal_world.csv``) when omitted.

    Returns
    -------
    ImportResult
        Production from every ``world/*_world.csv``; net import reliance and the
        ordered major import sources from ``industry_trends/*Fig2*.csv``.

    Notes
    -----
    A file whose ``Prod_<unit>`` columns name the wrong unit is read in the right
    one (:data:`WORLD_DIR_UNIT_ERRATA`: MCS 2023's chromium file), with a note
    in ``notes`` and ``[unit corrected: ...]`` in the rows' ``source``.
    The net import reliance figure of these releases covers one year, the
    release's own estimate year (2023 in MCS 2024), so its rows are marked
    ``estimated``. The major import sources are listed in descending order of
    share without the shares: ``share`` is NaN, ``flag`` is ``"rank only"`` and
    ``rank`` gives the order. Series of the same chapter that add up to one
    mineral (ilmenite + rutile = titanium concentrates) are summed per country;
    a part marked "included with ..." counts as contained in the other part.

    Raises
    ------
    DataError
        When the directory is missing, holds no world tables, or a file's header
        lacks the ``Country`` and ``Prod_<unit>_<year>`` columns.
    """
    p = Path(path)
    if not p.is_dir():
        raise DataError(
            f"USGS MCS release directory {p} does not exist; expected a directory with "
            f"world/mcs20YY-<code>_world.csv files (e.g. usgs_mcs2024/)"
        )
    world = _world_dir(p)
    files = sorted(f for f in world.glob("*.csv") if _WORLD_FILE.match(f.name))
    years = {int(m["year"]) for f in files if (m := _WORLD_FILE.match(f.name))}
    year_of_release = release if release is not None else (max(years) if years else None)
    col = _Collector(year_of_release)
    label = _release_label(year_of_release)
    problems: list[str] = []
    for f in files:
        _read_world_file(f, label, col, problems)
    if problems:
        raise DataError(f"{len(problems)} USGS world table(s) in {world} cannot be read:", problems)
    trends = world.parent / "industry_trends"
    fig2 = sorted(trends.glob("*Fig2*Net_Import_Reliance*.csv")) if trends.is_dir() else []
    if fig2:
        for f in fig2:
            _read_fig2(f, label, col)
    else:
        col.skip(
            f"{world.parent}: no industry_trends/*Fig2_Net_Import_Reliance.csv; no net import "
            f"reliance or import sources read"
        )
    for other in sorted(trends.glob("*.csv")) if trends.is_dir() else []:
        if other not in fig2:
            col.skip(f"{other.name}: not production or import data; not read")
    return col.result()


def _read_world_file(f: Path, label: str, col: _Collector, problems: list[str]) -> None:
    m = _WORLD_FILE.match(f.name)
    assert m is not None
    code = m["code"].lower()
    chapter = chapter_index().get(code.upper())
    rows = list(csv.reader(io.StringIO(_read_text(f))))
    if not rows:
        problems.append(f"{f.name}: empty file; expected a header {_WORLD_DIR_EXPECTED}")
        return
    header = [_clean_text(h) for h in rows[0]]
    lower = [h.lower() for h in header]
    prod_cols, bad = _prod_columns(header)
    has_other = any(h.startswith(("cap_", "reserves_")) for h in lower)
    if "country" not in lower or not (prod_cols or has_other):
        problems.append(
            f"{f.name}: unexpected header ({', '.join(h for h in header if h)}); expected "
            f"{_WORLD_DIR_EXPECTED}"
        )
        return
    if bad:
        problems.append(
            f"{f.name}: production column(s) {', '.join(bad)} do not read as "
            f"Prod_<unit>[_est]_<year>"
        )
        return
    if chapter is None:
        col.skip(f"{f.name}: file code {code!r} is not in the mapping table")
        return
    if not prod_cols:
        col.skip(f"{f.name}: {chapter.name}: no production columns (capacity only)")
        return
    i_country = lower.index("country")
    i_type = lower.index("type") if "type" in lower else i_country + 1
    type_header = header[i_type] if header[i_type].lower() != "type" else ""
    i_notes = next((i for i, h in enumerate(lower) if h.startswith("prod_note")), None)
    # group rows by series (Type) so that rules and skips are decided once per series
    series_rows: dict[str, list[tuple[int, list[str]]]] = {}
    for line, r in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in r):
            continue
        r = r + [""] * (len(header) - len(r))
        series = _clean_text(r[i_type]) or type_header
        series_rows.setdefault(series, []).append((line, r))
    for series, items in series_rows.items():
        where = f"{f.name}: {chapter.name} / {series or '(no Type)'}"
        rule = col.rule_for(chapter.name, series or chapter.name, where, len(items))
        if rule is None:
            continue
        usable: list[tuple[_ProdColumn, tuple[float, float]]] = []
        erratum = WORLD_DIR_UNIT_ERRATA.get(f.name.lower())
        corrected = [pc.name for pc in prod_cols if erratum and pc.unit == erratum[0]]
        if erratum and corrected:
            col.notes.append(
                f"{where}: column(s) {', '.join(corrected)} say {erratum[0]}, but the figures "
                f"are in {erratum[1]}; read as {erratum[1]} (unit corrected: {erratum[2]})"
            )
        for pc in prod_cols:
            if erratum and pc.unit == erratum[0]:
                pc = pc._replace(unit=erratum[1])
            factor = _WORLD_UNITS.get(pc.unit)
            if factor is None:
                unit = _NON_MASS_UNITS.get(pc.unit.lower(), f"unknown unit code {pc.unit!r}")
                col.skip(f"{where}: column {pc.name}: {unit} is not a mass in tonnes")
                continue
            usable.append((pc, factor))
        source = f"{label}; world/{f.name}: "
        if rule.combine:
            source += rule.basis
        else:
            source += (series or chapter.name) + (f" ({rule.basis})" if rule.basis else "")
        suffix = f" [unit corrected: {erratum[2]}]" if erratum and corrected else ""
        for line, r in items:
            country_raw = r[i_country]
            if not country_raw.strip():
                col.skip(f"{where}: line {line} has values but no country; not imported")
                continue
            country = resolve_country(country_raw)
            if country.code is None and not country.world_total:
                col.unmatched_name(_clean_text(country_raw), f"{f.name} line {line}")
                continue
            notes = r[i_notes] if i_notes is not None else ""
            est_years = {int(y) for y in _EST_YEAR.findall(notes)}
            for pc, factor in usable:
                value, flag, marked = parse_cell(r[pc.position])
                if not flag:
                    value = _to_tonnes(value, factor)
                estimated = marked or pc.estimated or pc.year in est_years
                col.add_production(rule, country, pc.year, value, flag, estimated, source + suffix)


def _read_fig2(f: Path, label: str, col: _Collector) -> None:
    rows = list(csv.reader(io.StringIO(_read_text(f))))
    header = [_clean_text(h) for h in rows[0]] if rows else []
    lower = [h.lower() for h in header]
    i_nir = next((i for i, h in enumerate(lower) if h.startswith("net_import_reliance")), None)
    i_src = next((i for i, h in enumerate(lower) if h.startswith("major_import_sources")), None)
    if "commodity" not in lower or i_nir is None:
        raise DataError(
            f"{f.name}: unexpected header ({', '.join(header)}); expected {_FIG2_EXPECTED}"
        )
    m = re.search(r"(\d{4})$", header[i_nir])
    if m is None:
        raise DataError(
            f"{f.name}: column {header[i_nir]!r} names no year; expected {_FIG2_EXPECTED}"
        )
    year = int(m.group(1))
    period = ""
    if i_src is not None:
        pm = re.search(r"(\d{4})_(\d{4})$", header[i_src])
        period = f"{pm.group(1)}-{pm.group(2)}" if pm else ""
    i_com = lower.index("commodity")
    i_notes = lower.index("notes") if "notes" in lower else None
    index = chapter_index()
    for line, r in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in r):
            continue
        r = r + [""] * (len(header) - len(r))
        label_text = _clean_text(r[i_com])
        head, _, product = label_text.partition(",")
        chapter = index.get(head.strip().upper())
        where = f"{f.name} line {line}: {label_text}"
        if chapter is None:
            col.skip(f"{where}: commodity not in the mapping table")
            continue
        mapped = trade_mapping(chapter, head.strip(), product.strip())
        if isinstance(mapped, str):
            col.skip(f"{where}: not imported, {mapped}")
            continue
        value, flag = _percent(*parse_value(r[i_nir]))
        note = _clean_text(r[i_notes]) if i_notes is not None else ""
        source = f"{label}; industry_trends/{f.name}: {label_text}"
        col.reliance.append(
            {
                "mineral": mapped[0],
                "stage": mapped[1],
                "country": "USA",
                "year": year,
                "net_import_reliance": value,
                "flag": flag,
                "estimated": True,
                "product": label_text,
                "source": source,
            }
        )
        if i_src is None:
            continue
        names = [n for n in (_clean_text(x) for x in r[i_src].split(",")) if n]
        for rank, name in enumerate(names, start=1):
            partner = _partner(name, col, where)
            if partner is None:
                continue
            col.sources.append(
                {
                    "mineral": mapped[0],
                    "stage": mapped[1],
                    "country": "USA",
                    "partner": partner,
                    "period": period,
                    "share": math.nan,
                    "flag": "rank only",
                    "rank": rank,
                    "product": label_text,
                    "source": source + (f" ({note})" if note else ""),
                }
            )


# ---------------------------------------------------------------------------
# Dispatcher and combination
# ---------------------------------------------------------------------------


def read_usgs_mcs(path: str | Path, *, release: int | None = None) -> ImportResult:
    """Read a USGS MCS data release in any of its layouts.

    Parameters
    ----------
    path
        A single-CSV release file (MCS 2026 and later), the world table of MCS
        2025 (``MCS2025_World_Data.csv``; told apart by its header), or a
        directory: a per-commodity release (MCS 2023, 2024: holding ``world/``)
        or one holding one of the two files.
    release
        Release year written in ``source``; detected from the names when omitted.

    Returns
    -------
    ImportResult

    Raises
    ------
    DataError
        When the path does not exist or is not a release of any layout.
    """
    p = Path(path)
    if p.is_file():
        if _is_world_table(_first_line(p)):
            return read_mcs_world_table(p, release=release)
        return read_mcs_commodities(p, release=release)
    if p.is_dir():
        files = sorted(p.glob("MCS*_Commodities_Data.csv")) + sorted(p.glob(_WORLD_TABLE_FILE))
        if files and not (p / "world").is_dir():
            return read_usgs_mcs(files[0], release=release)
        return read_mcs_world_dir(p, release=release)
    raise DataError(
        f"USGS MCS release {p} does not exist; pass the single CSV "
        f"(MCS2026_Commodities_Data.csv), the world table (MCS2025_World_Data.csv) or a "
        f"per-commodity release directory holding world/mcs20YY-<code>_world.csv"
    )


def _first_line(path: Path) -> list[str]:
    """Return the header of a CSV file (its first 64 kB suffice), for layout detection."""
    with path.open("rb") as f:
        head = f.read(1 << 16)
    try:
        text = head.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = head.decode("cp1252", errors="replace")
    return next(csv.reader(io.StringIO(text)), [])


def combine_releases(results: Iterable[ImportResult]) -> ImportResult:
    """Merge several releases, each table taken from the newest release that has it.

    Parameters
    ----------
    results
        Results of :func:`read_usgs_mcs`, in any order; they are merged oldest
        first (results without a release count as oldest, input order breaking
        ties).

    Returns
    -------
    ImportResult
        Production by the precedence rule of :mod:`riskengine.io.precedence`:
        for every (mineral, stage, year) the newest release that publishes it
        gives the whole table; import reliance keyed by (mineral, stage,
        country, year) from the newest release; import sources of every
        release (their periods differ). Lists are concatenated, newest first.
        ``replaced`` counts, per pair of releases, the figures of the older
        release that the newer replaced.

    Notes
    -----
    USGS revises the previous year's estimates in each release, so the newest
    release wins for every table it covers, even where its value is withheld (a
    newer ``W`` replaces an older number: the newer release is the one that
    stands). A country an older release lists for that year but the newer one
    does not (it moved into "Other countries") is dropped with the older table,
    so that no figure is counted twice.
    """
    items = list(results)
    if not items:
        raise ValueError("combine_releases needs at least one ImportResult")
    order = sorted(range(len(items)), key=lambda i: (-(items[i].release or 0), i))
    ranked = [items[i] for i in order]

    def merged(attr: str, key: list[str]) -> pd.DataFrame:
        frames = [getattr(r, attr) for r in ranked]
        table = pd.concat([f for f in frames if not f.empty] or frames[:1], ignore_index=True)
        table = table.drop_duplicates(key, keep="first")
        return table.sort_values(key, kind="stable").reset_index(drop=True)

    key = ["mineral", "stage", "country", "year"]
    production = ranked[-1].production
    replaced: list[Replacement] = []
    for newer in reversed(ranked[:-1]):
        step = merge_production(production, newer.production)
        production = step.table
        replaced += step.replacements
    production = production.sort_values(key, kind="stable").reset_index(drop=True)
    production["estimated"] = production["estimated"].astype(bool)
    reliance = merged("import_reliance", key)
    sources = merged(
        "import_sources", ["mineral", "stage", "country", "partner", "period", "product"]
    )
    unmatched = list(dict.fromkeys(n for r in ranked for n in r.unmatched_countries))
    totals = pd.concat(
        [r.world_totals for r in ranked if not r.world_totals.empty] or [ranked[0].world_totals],
        ignore_index=True,
    )
    totals = totals.drop_duplicates(["mineral", "stage", "year"], keep="first")
    return ImportResult(
        production=production,
        import_reliance=reliance,
        import_sources=sources,
        unmatched_countries=unmatched,
        skipped=[s for r in ranked for s in r.skipped],
        notes=[s for r in ranked for s in r.notes],
        world_totals=totals.sort_values(["mineral", "stage", "year"]).reset_index(drop=True),
        release=ranked[0].release,
        replaced=tuple(replaced),
    )


def shares(production: pd.DataFrame) -> pd.Series:
    """Each country's share of the (mineral, stage, year) total of a production table.

    Parameters
    ----------
    production
        A production table (:data:`PRODUCTION_COLUMNS`).

    Returns
    -------
    Series
        Share indexed like ``production``; NaN where the group has a withheld or
        missing quantity (the total is then unknown).

    Notes
    -----
    ``share_c = q_c / sum_k q_k`` over the rows (countries incl. ``XOT``) of the
    same mineral, stage and year.
    """
    key = [production["mineral"], production["stage"], production["year"]]
    q = production["quantity"].astype(float)
    total = q.groupby(key).transform("sum")
    complete = q.notna().groupby(key).transform("all")
    return (q / total).where(complete & (total > 0), np.nan)
