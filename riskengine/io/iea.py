"""Importer for the IEA Critical Minerals Data Explorer workbook (supply sheet).

The workbook (``CM_Data_Explorer_May2024.xlsx``, IEA, CC BY 4.0) holds, on the
sheet ``2 Total supply for key minerals``, mining and refining by country for
six minerals: the base year (2023, observed) and the base-case projections
(2030, 2035, 2040), in kt, the leading four to six countries and "Rest of
world". The sheet is laid out as blocks side by side::

    A2  Total supply for key energy transition minerals, base case (kt)
    B4..E4  2023 2030 2035 2040          H4..K4  2023 2030 2035 2040
    A6  Copper - Mining                  G6  Copper - Refining
    A7  Chile  5311.3 ...                G7  China  11547 ...
    ...
    A13 Rest of world ...                G13 Rest of world ...
    A14 Total ...                        G14 Total ...
    A15 Top 3 share ...                  G15 Top 3 share ...

:func:`read_iea_explorer` finds the year header (the first row with years),
the blocks (a run of year columns and the label column before it), the series
titles (``<Mineral> - <stage>``) and the country rows under them. The first
year of a block is the observed year and goes to the canonical ``production``
table; the later years are projections and go to the ``outlook`` table
(:data:`riskengine.io.canonical.OUTLOOK`), with the scenario the sheet title
names (``base case``). "Rest of world" becomes ``XOT``; the "Total" rows are
used to check that the countries add up; "Top 3 share" rows are not read.

Series and their basis
----------------------
:data:`SERIES` is the table that maps a block title to a riskengine mineral
and stage, with the basis of its figures (from the workbook's notes: lithium
is in lithium content, not carbonate equivalent; magnet rare earth elements
are Pr, Nd, Tb and Dy; graphite demand covers all grades of natural and
synthetic graphite). Two series are **not** the USGS minerals of the same name
and get their own ids:

* ``Graphite - Battery grade`` -> ``battery_graphite`` (refining): battery-grade
  anode graphite made from natural *and synthetic* graphite; booking it as the
  refining of ``natural_graphite`` would put synthetic graphite (from petroleum
  coke) above the natural-graphite mines (China 1,852 kt battery grade against
  1,320 kt mined in 2023).
* ``Magnet rare earth elements`` -> ``magnet_rare_earths`` (mining, refining):
  four elements of the rare earths, not the rare-earth-oxide total of USGS
  ``rare_earths`` (72 kt against 376 kt mined in 2023).

Every row's ``source`` cites "IEA (2024), Critical Minerals Data Explorer, IEA,
Paris" (the citation the workbook's Notice sheet asks for), the licence, the
sheet, the series and its basis.

References
----------
IEA (2024), Critical Minerals Data Explorer, IEA, Paris,
https://www.iea.org/data-and-statistics/data-tools/critical-minerals-data-explorer.
Licence: CC BY 4.0.
"""

from __future__ import annotations

import math
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from riskengine.dims import OTHER_COUNTRIES
from riskengine.errors import DataError
from riskengine.io.canonical import OUTLOOK
from riskengine.io.countries import to_iso3
from riskengine.io.usgs import PRODUCTION_COLUMNS

__all__ = [
    "OUTLOOK_COLUMNS",
    "SERIES",
    "SUPPLY_SHEET",
    "IeaResult",
    "IeaSeries",
    "read_iea_explorer",
]

#: The sheet read.
SUPPLY_SHEET = "2 Total supply for key minerals"

#: Columns of :attr:`IeaResult.outlook`: the canonical ``outlook`` table's.
OUTLOOK_COLUMNS: tuple[str, ...] = tuple(OUTLOOK.column_names)

#: Units of the sheet title -> factor to metric tonnes.
_UNITS: dict[str, float] = {"t": 1.0, "kt": 1e3, "Mt": 1e6}

_CITATION = re.compile(r"(IEA \(\d{4}\), Critical Minerals Data Explorer, IEA, Paris)")
_LICENCE = re.compile(r"Creative Commons Attribution 4\.0|CC BY 4\.0", re.I)


@dataclass(frozen=True)
class IeaSeries:
    """One supply series of the workbook and the riskengine mineral and stage it becomes.

    Parameters
    ----------
    title
        Regular expression matched (case-insensitively, in full) against the
        block title, e.g. ``"Lithium - Chemicals"``.
    mineral, stage
        riskengine mineral id and stage.
    basis
        What the figures measure, written in ``source``.
    """

    title: str
    mineral: str
    stage: str
    basis: str


#: The mapping of the workbook's supply series (first match wins).
SERIES: tuple[IeaSeries, ...] = (
    IeaSeries(r"copper - mining", "copper", "mining", "copper content of mine output"),
    IeaSeries(r"copper - refining", "copper", "refining", "refined copper"),
    IeaSeries(r"cobalt - mining", "cobalt", "mining", "cobalt content of mine output"),
    IeaSeries(r"cobalt - refining", "cobalt", "refining", "refined cobalt, cobalt content"),
    IeaSeries(
        r"lithium - mining",
        "lithium",
        "mining",
        "lithium (Li) content of mine output, not carbonate equivalent",
    ),
    IeaSeries(
        r"lithium - (?:chemicals|refining)",
        "lithium",
        "refining",
        "lithium chemicals, lithium (Li) content, not carbonate equivalent",
    ),
    IeaSeries(r"nickel - mining", "nickel", "mining", "nickel content of mine output"),
    IeaSeries(
        r"nickel - refining",
        "nickel",
        "refining",
        "refined nickel as the IEA counts it (class 1 and class 2 products), nickel content",
    ),
    IeaSeries(
        r"graphite - mining(?: \(natural\))?",
        "natural_graphite",
        "mining",
        "natural graphite, gross weight",
    ),
    IeaSeries(
        r"graphite - battery grade",
        "battery_graphite",
        "refining",
        "battery-grade graphite (anode material from natural and synthetic graphite); "
        "not the refining of natural graphite alone",
    ),
    IeaSeries(
        r"magnet rare earth elements - mining",
        "magnet_rare_earths",
        "mining",
        "magnet rare earth elements (Pr, Nd, Tb, Dy) in mine output; a part of the "
        "rare-earth-oxide total, not comparable with USGS rare_earths",
    ),
    IeaSeries(
        r"magnet rare earth elements - refining",
        "magnet_rare_earths",
        "refining",
        "magnet rare earth elements (Pr, Nd, Tb, Dy), refined",
    ),
)


@dataclass(frozen=True)
class IeaResult:
    """What the IEA explorer's supply sheet yielded.

    Attributes
    ----------
    production
        Canonical production table (observed year only), quantities in metric
        tonnes (``unit`` = ``"t"``).
    outlook
        Canonical outlook table (:data:`OUTLOOK_COLUMNS`): the projections, one
        row per mineral, stage, country, year and scenario, in metric tonnes.
    skipped
        Blocks not imported, with the reason.
    notes
        Consistency checks (countries against the "Total" rows).
    citation
        The citation every row carries, e.g. "IEA (2024), Critical Minerals Data
        Explorer, IEA, Paris".
    edition
        Year of the edition (2024).
    """

    production: pd.DataFrame
    outlook: pd.DataFrame
    skipped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    citation: str = ""
    edition: int | None = None


def _cell(row: int, col: int) -> str:
    """Excel address of a 0-based (row, column): (3, 1) -> ``B4``."""
    letters = ""
    n = col + 1
    while n:
        n, rem = divmod(n - 1, 26)
        letters = chr(65 + rem) + letters
    return f"{letters}{row + 1}"


def _year(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float) and float(value).is_integer() and 1900 <= value <= 2100:
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*(19|20)\d{2}\s*", value):
        return int(value)
    return None


def _text(value: Any) -> str:
    return re.sub(r"\s+", " ", str(value)).strip() if value is not None else ""


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float) and math.isfinite(value):
        return float(value)
    return None


def _load_rows(path: Path) -> tuple[list[list[Any]], str]:
    """Return the supply sheet's cell values and the workbook's citation line."""
    try:
        import openpyxl  # lazily: only the IEA importer needs it
    except ImportError as exc:  # pragma: no cover - openpyxl is a dependency
        raise DataError(
            f"{path.name}: reading xlsx workbooks needs openpyxl; pip install openpyxl"
        ) from exc
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError) as exc:
        raise DataError(
            f"{path.name}: cannot be read as an xlsx workbook ({type(exc).__name__}: {exc}); "
            f"expected the IEA Critical Minerals Data Explorer (CM_Data_Explorer_*.xlsx)"
        ) from exc
    try:
        if SUPPLY_SHEET not in book.sheetnames:
            raise DataError(
                f"{path.name}: no sheet '{SUPPLY_SHEET}'; expected the IEA Critical Minerals "
                f"Data Explorer workbook (sheets found: {', '.join(book.sheetnames)})"
            )
        rows = [list(r) for r in book[SUPPLY_SHEET].iter_rows(values_only=True)]
        notice = ""
        for name in book.sheetnames:
            if name.strip().lower() == "notice":
                notice = " ".join(
                    str(v) for r in book[name].iter_rows(values_only=True) for v in r if v
                )
    finally:
        book.close()
    return rows, notice


def _citation(notice: str, path: Path) -> tuple[str, int]:
    m = _CITATION.search(notice)
    if m:
        citation = m.group(1)
    else:
        year = re.search(r"(20\d{2})", path.stem)
        if year is None:
            raise DataError(
                f"{path.name}: cannot tell the edition: the Notice sheet has no citation "
                f"'IEA (<year>), Critical Minerals Data Explorer, IEA, Paris' and the file name "
                f"no year; rename the file as published (CM_Data_Explorer_May2024.xlsx)"
            )
        citation = f"IEA ({year.group(1)}), Critical Minerals Data Explorer, IEA, Paris"
    edition = int(re.search(r"\((\d{4})\)", citation).group(1))  # type: ignore[union-attr]
    licence = " (CC BY 4.0)" if _LICENCE.search(notice) else ""
    return citation + licence, edition


@dataclass
class _Block:
    label: int  # column of the titles and country names
    years: list[tuple[int, int]]  # (column, year)


def _header(rows: list[list[Any]], where: str) -> tuple[int, list[_Block]]:
    for r, row in enumerate(rows):
        cols = [(c, y) for c, v in enumerate(row) if (y := _year(v)) is not None]
        if len(cols) < 2:
            continue
        blocks: list[_Block] = []
        for c, y in cols:
            if blocks and blocks[-1].years[-1][0] == c - 1:
                blocks[-1].years.append((c, y))
            else:
                blocks.append(_Block(c - 1, [(c, y)]))
        for b in blocks:
            years = [y for _, y in b.years]
            if b.label < 0 or years != sorted(set(years)):
                raise DataError(
                    f"{where}, cell {_cell(r, b.years[0][0])}: the year header "
                    f"({', '.join(map(str, years))}) is not a run of increasing years after a "
                    f"label column; expected the May 2024 layout (years in B4:E4 and H4:K4)"
                )
        return r, blocks
    raise DataError(
        f"{where}: header not found: no row holds years (2023, 2030, ...) in "
        f"consecutive cells; expected the May 2024 layout (years in B4:E4 and H4:K4, "
        f"series titles such as 'Copper - Mining' in A6)"
    )


def _title(rows: list[list[Any]], header_row: int, where: str) -> tuple[str, str, float]:
    """Return the sheet title, its scenario and the unit factor."""
    for r in range(header_row):
        for c, value in enumerate(rows[r]):
            text = _text(value)
            m = re.search(r"\((t|kt|Mt)\)\s*$", text)
            if m:
                scenario = re.search(r",\s*([^,()]+?)\s*\((?:t|kt|Mt)\)\s*$", text)
                if scenario is None:
                    raise DataError(
                        f"{where}, cell {_cell(r, c)}: the title {text!r} names no scenario; "
                        f"expected e.g. 'Total supply for key energy transition minerals, "
                        f"base case (kt)'"
                    )
                return text, scenario.group(1).lower(), _UNITS[m.group(1)]
    raise DataError(
        f"{where}: no title with a unit above the year header (row {header_row + 1}); "
        f"expected e.g. 'Total supply for key energy transition minerals, base case (kt)' in A2"
    )


def _series(title: str) -> IeaSeries | None:
    for s in SERIES:
        if re.fullmatch(s.title, title, re.I):
            return s
    return None


def _country(name: str) -> str | None:
    return to_iso3(name)


def read_iea_explorer(path: str | Path) -> IeaResult:
    """Read the supply sheet of the IEA Critical Minerals Data Explorer workbook.

    Parameters
    ----------
    path
        The workbook, e.g. ``CM_Data_Explorer_May2024.xlsx``.

    Returns
    -------
    IeaResult
        ``production``: the observed (first) year of every series, in tonnes;
        ``outlook``: the projected years, in tonnes, with their scenario.

    Raises
    ------
    DataError
        When the file is missing or not an xlsx workbook, the sheet is missing,
        the year header or the title is not found, or cells do not read (a
        country name without an ISO3 code, a value that is not a number, a
        country listed twice); every bad cell is listed, by sheet and cell.

    Notes
    -----
    Quantities are converted from the title's unit (kt) to metric tonnes:
    ``q_t = q_kt * 1000``, rounded to the gram to drop float noise. The
    countries plus "Rest of world" of each series and year are checked against
    the "Total" row (to 0.05 units plus 0.1 %); differences are reported in
    ``notes``.

    Examples
    --------
    >>> from riskengine.io.iea import read_iea_explorer
    >>> res = read_iea_explorer("CM_Data_Explorer_May2024.xlsx")  # doctest: +SKIP
    >>> res.production.query("mineral == 'cobalt' and stage == 'refining'")  # doctest: +SKIP
    """
    p = Path(path)
    if not p.is_file():
        raise DataError(
            f"IEA workbook {p} does not exist; pass the Critical Minerals Data Explorer "
            f"workbook (CM_Data_Explorer_May2024.xlsx)"
        )
    rows, notice = _load_rows(p)
    where = f"{p.name}, sheet '{SUPPLY_SHEET}'"
    width = max((len(r) for r in rows), default=0)
    rows = [r + [None] * (width - len(r)) for r in rows]
    header_row, blocks = _header(rows, where)
    _, scenario, factor = _title(rows, header_row, where)
    citation, edition = _citation(notice, p)
    reader = _SheetReader(p.name, citation, scenario, factor)
    for block in blocks:
        reader.read_block(rows, header_row, block)
    if reader.problems:
        raise DataError(f"{where}: {len(reader.problems)} cell(s) cannot be read:", reader.problems)
    production, outlook = reader.production, reader.outlook
    prod = pd.DataFrame(production, columns=list(PRODUCTION_COLUMNS))
    prod["year"] = prod["year"].astype("int64")
    prod["quantity"] = prod["quantity"].astype(float)
    prod["estimated"] = prod["estimated"].astype(bool)
    out = pd.DataFrame(outlook, columns=list(OUTLOOK_COLUMNS))
    out["year"] = out["year"].astype("int64")
    out["quantity"] = out["quantity"].astype(float)
    key = ["mineral", "stage", "country", "year"]
    return IeaResult(
        production=prod.sort_values(key, kind="stable").reset_index(drop=True),
        outlook=out.sort_values([*key, "scenario"], kind="stable").reset_index(drop=True),
        skipped=reader.skipped,
        notes=reader.notes,
        citation=citation,
        edition=edition,
    )


@dataclass
class _Row:
    """One country row of a series: its code, label cell and values by year."""

    code: str
    label: str
    cell: str
    values: dict[int, float]
    recomputed: set[int] = field(default_factory=set)


@dataclass
class _SheetReader:
    """Reads the series of the sheet's blocks, collecting rows, skips and problems."""

    fname: str
    citation: str
    scenario: str
    factor: float
    production: list[dict[str, Any]] = field(default_factory=list)
    outlook: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def read_block(self, rows: list[list[Any]], header_row: int, block: _Block) -> None:
        """Read one column block (left: A:E, right: G:K), series by series."""
        series: IeaSeries | None = None
        title = ""
        pending: list[_Row] = []
        for r in range(header_row + 1, len(rows)):
            label = _text(rows[r][block.label])
            values = [rows[r][c] for c, _ in block.years]
            if not label:
                continue
            if all(v is None or _text(v) == "" for v in values):
                if " - " in label:  # a series title
                    self._flush(series, title, pending, block)
                    title, pending = label, []
                    series = _series(label)
                    if series is None:
                        self.skipped.append(
                            f"{self.fname}, cell {_cell(r, block.label)}: series {label!r} is "
                            f"not in riskengine.io.iea.SERIES; not imported"
                        )
                continue
            if series is None:
                continue
            low = label.lower()
            if low.startswith("top ") and "share" in low:
                continue
            if low.startswith("total"):
                self._close(pending, rows[r], r, block, title)
                self._flush(series, title, pending, block)
                series, pending = None, []
                continue
            self._country_row(pending, r, block, label, values, title)
        self._flush(series, title, pending, block)

    def _country_row(
        self,
        pending: list[_Row],
        r: int,
        block: _Block,
        label: str,
        values: list[Any],
        title: str,
    ) -> None:
        cell = _cell(r, block.label)
        code = _country(label)
        if code is None:
            self.problems.append(
                f"cell {cell}: country {label!r} maps to no ISO3 code; add the spelling to "
                f"riskengine.io.countries.ALIASES"
            )
            return
        first = next((row.cell for row in pending if row.code == code), None)
        if first is not None:
            self.problems.append(
                f"cell {cell}: {label!r} is listed twice in {title!r} (first in {first}); keep "
                f"one row per country"
            )
            return
        numbers: dict[int, float] = {}
        for (c, year), value in zip(block.years, values, strict=True):
            number = _number(value)
            if number is None or number < 0:
                unit = {1.0: "t", 1e3: "kt", 1e6: "Mt"}[self.factor]
                got = "an empty cell" if value is None else repr(value)
                self.problems.append(
                    f"cell {_cell(r, c)}: {title}, {label}, {year}: expected a number of {unit} "
                    f">= 0, got {got}"
                )
                continue
            numbers[year] = number
        pending.append(_Row(code, label, cell, numbers))

    def _close(
        self, pending: list[_Row], row: Sequence[Any], r: int, block: _Block, title: str
    ) -> None:
        """Check the rows against the "Total" row; recompute a residual that does not close.

        "Rest of world" is the residual ``total - sum(countries)``. Where the
        sheet's residual leaves a listed country inside it (nickel: Australia
        is listed and also in "Rest of world"), the residual is recomputed from
        the published total and countries, with a note; a gap the residual
        cannot take (countries above the total) is only reported.
        """
        rest = next((x for x in pending if x.code == OTHER_COUNTRIES), None)
        for c, year in block.years:
            total = _number(row[c])
            if total is None:
                continue
            listed = sum(x.values.get(year, 0.0) for x in pending if x.code != OTHER_COUNTRIES)
            given = rest.values.get(year) if rest is not None else None
            gap = total - listed - (given or 0.0)
            if abs(gap) <= 0.05 + 0.001 * abs(total):
                continue
            where = f"{self.fname}, cell {_cell(r, c)}: {title} {year}"
            if rest is not None and given is not None and total - listed >= 0:
                rest.values[year] = round(total - listed, 10)
                rest.recomputed.add(year)
                self.notes.append(
                    f"{where}: 'Rest of world' ({given:,.1f}) plus the listed countries "
                    f"({listed:,.1f}) exceed the total ({total:,.1f}) by {-gap:,.1f}, a listed "
                    f"country counted twice; 'Rest of world' recomputed as total minus the "
                    f"listed countries: {total - listed:,.1f}"
                )
            else:
                self.notes.append(
                    f"{where}: the rows add up to {listed + (given or 0.0):,.1f} but the "
                    f"total is {total:,.1f}; imported as published"
                )

    def _flush(
        self, series: IeaSeries | None, title: str, pending: list[_Row], block: _Block
    ) -> None:
        if series is None:
            return
        observed = block.years[0][1]
        source = f"{self.citation}; sheet '{SUPPLY_SHEET}', {title}: {series.basis}"
        for row in pending:
            for year, number in row.values.items():
                text = source
                if row.code == OTHER_COUNTRIES:
                    text += " (rest of world"
                    if year in row.recomputed:
                        text += ", recomputed as the total minus the listed countries"
                    text += ")"
                record = {
                    "mineral": series.mineral,
                    "stage": series.stage,
                    "country": row.code,
                    "year": year,
                    "quantity": round(number * self.factor, 6),
                    "unit": "t",
                }
                if year == observed:
                    self.production.append(
                        {**record, "source": text, "flag": "", "estimated": False}
                    )
                else:
                    self.outlook.append(
                        {
                            **record,
                            "scenario": self.scenario,
                            "source": f"{text}; {self.scenario} projection",
                        }
                    )
