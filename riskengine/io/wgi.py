"""Reader for the World Bank Worldwide Governance Indicators (WGI).

The WGI (Kaufmann & Kraay) score six dimensions of governance, each an
estimate on a standard-normal scale (about -2.5 weak to +2.5 strong):
Voice and Accountability (VA), Political Stability and Absence of
Violence/Terrorism (PV), Government Effectiveness (GE), Regulatory Quality
(RQ), Rule of Law (RL) and Control of Corruption (CC).

:func:`read_wgi` reads the World Bank's bulk CSV in either of its layouts into
riskengine's canonical ``governance`` table (``country, year, indicator,
value, source``), keeping only the estimates (``.EST``):

* the wide layout of ``WGIData_<first>_<last>_release<year>.csv`` (2023 release
  and the World Bank DataBank exports): ``Country Name, Country Code,
  Indicator Name, Indicator Code, 1996, 1998, ...`` with a byte-order mark, a
  trailing comma (an empty last column), indicator codes such as ``PV.EST``,
  ``PV.STD.ERR``, and ``..`` or empty cells for missing values;
* the long layout of the newer releases (``wgidataset``): ``codeindyr, code,
  countryname, year, indicator, estimate, stddev, nsource, pctrank, ...``,
  indicator in lower case (``pv``).

Territories
-----------
The WGI score sovereign states and some territories (Puerto Rico, Hong Kong,
Greenland, Aruba...), not all: New Caledonia, French Polynesia, Curaçao,
Gibraltar and other dependencies that trade minerals have no estimates, so
every score that weighs their share by governance would be NaN.
:data:`TERRITORY_SOVEREIGN` is the documented mapping of such a territory to
the state responsible for its defence, foreign affairs and (in most cases)
its courts, whose estimates it takes; :func:`apply_sovereign_mapping` writes
them as rows of their own, their ``source`` saying ``estimate of <sovereign>
applied to <territory> (sovereign mapping)``. :func:`read_wgi` applies it by
default and says which territories it filled in ``WgiResult.notes``. A
territory the release scores itself keeps its own estimates. Disputed
territories without an administering sovereign recognised by the UN (Western
Sahara) are deliberately not mapped.
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from riskengine.dims import WGI_INDICATORS
from riskengine.errors import DataError
from riskengine.io.canonical import GOVERNANCE
from riskengine.io.countries import country_name, iso3_codes, to_iso3

logger = logging.getLogger(__name__)

#: Licence note carried by every source string.
LICENCE = "CC BY 4.0"

#: Cells read as missing. A missing estimate gives no row, never 0.
MISSING_MARKS: frozenset[str] = frozenset({"", "..", "#N/A", "NA", "N/A", "NaN", "nan"})

#: World Bank codes of regions, income groups and lending groups. They are not
#: countries: their rows are reported in ``WgiResult.aggregate_codes``.
WB_AGGREGATES: dict[str, str] = {
    "AFE": "Africa Eastern and Southern",
    "AFW": "Africa Western and Central",
    "ARB": "Arab World",
    "CEB": "Central Europe and the Baltics",
    "CSS": "Caribbean small states",
    "EAP": "East Asia & Pacific (excluding high income)",
    "EAR": "Early-demographic dividend",
    "EAS": "East Asia & Pacific",
    "ECA": "Europe & Central Asia (excluding high income)",
    "ECS": "Europe & Central Asia",
    "EMU": "Euro area",
    "EUU": "European Union",
    "FCS": "Fragile and conflict affected situations",
    "HIC": "High income",
    "HPC": "Heavily indebted poor countries (HIPC)",
    "IBD": "IBRD only",
    "IBT": "IDA & IBRD total",
    "IDA": "IDA total",
    "IDB": "IDA blend",
    "IDX": "IDA only",
    "INX": "Not classified",
    "LAC": "Latin America & Caribbean (excluding high income)",
    "LCN": "Latin America & Caribbean",
    "LDC": "Least developed countries: UN classification",
    "LIC": "Low income",
    "LMC": "Lower middle income",
    "LMY": "Low & middle income",
    "LTE": "Late-demographic dividend",
    "MEA": "Middle East & North Africa",
    "MIC": "Middle income",
    "MNA": "Middle East & North Africa (excluding high income)",
    "NAC": "North America",
    "OED": "OECD members",
    "OSS": "Other small states",
    "PRE": "Pre-demographic dividend",
    "PSS": "Pacific island small states",
    "PST": "Post-demographic dividend",
    "SAS": "South Asia",
    "SSA": "Sub-Saharan Africa (excluding high income)",
    "SSF": "Sub-Saharan Africa",
    "SST": "Small states",
    "TEA": "East Asia & Pacific (IDA & IBRD countries)",
    "TEC": "Europe & Central Asia (IDA & IBRD countries)",
    "TLA": "Latin America & the Caribbean (IDA & IBRD countries)",
    "TMN": "Middle East & North Africa (IDA & IBRD countries)",
    "TSA": "South Asia (IDA & IBRD)",
    "TSS": "Sub-Saharan Africa (IDA & IBRD countries)",
    "UMC": "Upper middle income",
    "WLD": "World",
}

#: Codes of older World Bank releases that differ from ISO 3166-1 alpha-3.
WB_LEGACY_CODES: dict[str, str] = {
    "ADO": "AND",  # Andorra
    "KSV": "XKX",  # Kosovo
    "ROM": "ROU",  # Romania
    "TMP": "TLS",  # Timor-Leste
    "WBG": "PSE",  # West Bank and Gaza
    "ZAR": "COD",  # Congo, Dem. Rep.
}

#: Territories without WGI estimates of their own -> (sovereign, reason). Each
#: takes the estimates of the state that holds sovereignty over it and is
#: responsible for its defence and foreign affairs; the reason names the status.
#: Only territories the WGI do not score are listed (Aruba, Bermuda, Cayman
#: Islands, Greenland, Guam, Hong Kong, Macao, Puerto Rico, Réunion... have
#: their own estimates). Political stability can differ from the sovereign's
#: (New Caledonia's 2024 unrest is not in France's score): the rows name the
#: mapping in their ``source``, and a user can replace them with their own figures.
TERRITORY_SOVEREIGN: dict[str, tuple[str, str]] = {
    "ATF": ("FRA", "French Southern and Antarctic Lands: French overseas territory"),
    "BES": (
        "NLD",
        "Bonaire, Sint Eustatius and Saba: special municipalities of the Netherlands",
    ),
    "BLM": ("FRA", "Saint Barthélemy: French overseas collectivity"),
    "CCK": ("AUS", "Cocos (Keeling) Islands: Australian external territory"),
    "CUW": (
        "NLD",
        "Curaçao: constituent country of the Kingdom of the Netherlands, which keeps "
        "defence and foreign affairs",
    ),
    "CXR": ("AUS", "Christmas Island: Australian external territory"),
    "FLK": (
        "GBR",
        "Falkland Islands: British overseas territory (sovereignty claimed by Argentina)",
    ),
    "FRO": (
        "DNK",
        "Faroe Islands: self-governing part of the Kingdom of Denmark, which keeps "
        "defence and foreign affairs",
    ),
    "GGY": ("GBR", "Guernsey: British Crown dependency"),
    "GIB": ("GBR", "Gibraltar: British overseas territory"),
    "GLP": (
        "FRA",
        "Guadeloupe: French overseas department and region, part of France (the WGI score "
        "Martinique, French Guiana and Réunion, not Guadeloupe)",
    ),
    "IMN": ("GBR", "Isle of Man: British Crown dependency"),
    "IOT": (
        "GBR",
        "British Indian Ocean Territory: British overseas territory (sovereignty claimed "
        "by Mauritius; the 2025 treaty ceding it was not in force in the WGI years)",
    ),
    "MAF": ("FRA", "Saint Martin (French part): French overseas collectivity"),
    "MNP": ("USA", "Northern Mariana Islands: commonwealth in union with the United States"),
    "MSR": ("GBR", "Montserrat: British overseas territory"),
    "MYT": ("FRA", "Mayotte: French overseas department and region, part of France"),
    "NCL": ("FRA", "New Caledonia: French sui generis collectivity"),
    "NFK": ("AUS", "Norfolk Island: Australian external territory"),
    "PCN": ("GBR", "Pitcairn Islands: British overseas territory"),
    "PYF": ("FRA", "French Polynesia: French overseas collectivity"),
    "SHN": (
        "GBR",
        "Saint Helena, Ascension and Tristan da Cunha: British overseas territory",
    ),
    "SPM": ("FRA", "Saint Pierre and Miquelon: French overseas collectivity"),
    "SXM": (
        "NLD",
        "Sint Maarten: constituent country of the Kingdom of the Netherlands, which keeps "
        "defence and foreign affairs",
    ),
    "TCA": ("GBR", "Turks and Caicos Islands: British overseas territory"),
    "TKL": ("NZL", "Tokelau: dependent territory of New Zealand"),
    "UMI": ("USA", "United States Minor Outlying Islands: unincorporated US territories"),
    "VGB": ("GBR", "British Virgin Islands: British overseas territory"),
    "WLF": ("FRA", "Wallis and Futuna: French overseas collectivity"),
}

#: Wording of the ``source`` of a mapped row (after the release's own source).
SOVEREIGN_SOURCE = "estimate of {sovereign} applied to {territory} (sovereign mapping)"

_WIDE_CODE = ("Country Code",)
_WIDE_INDICATOR = ("Indicator Code", "Series Code")
_WIDE_NAME = ("Country Name",)
_YEAR_COLUMN = re.compile(r"^(\d{4})(?: \[YR\d{4}\])?$")
_EST_CODE = re.compile(r"^(VA|PV|GE|RQ|RL|CC)\.EST$")
_LONG_REQUIRED = ("code", "countryname", "year", "indicator", "estimate")
_TERRITORY_COLUMNS = ("territory", "sovereign", "estimates", "years", "reason")


@dataclass(frozen=True)
class WgiResult:
    """What :func:`read_wgi` read.

    Attributes
    ----------
    governance
        Canonical governance table ``country, year, indicator, value, source``:
        one row per available estimate, sorted by country, year and indicator
        (in the order VA PV GE RQ RL CC).
    unmatched_codes
        Codes that are neither a country riskengine knows nor a World Bank
        aggregate (e.g. ``ANT`` Netherlands Antilles, dissolved in 2010), with
        ``code, name, values`` (number of estimates left out).
    aggregate_codes
        World Bank region and income-group codes found (``WLD``, ``SSF``...),
        same columns; they are not countries and are left out.
    layout
        ``"wide"`` or ``"long"``.
    source
        Source string written on every row read from the release (rows of the
        sovereign mapping add ``estimate of <sovereign> applied to <territory>
        (sovereign mapping)`` to it).
    territories
        The sovereign mapping applied (:func:`apply_sovereign_mapping`):
        ``territory, sovereign, estimates, years, reason``, one row per
        territory that took its sovereign's estimates; empty when none did.
    notes
        What was filled in, one line per territory, e.g. ``NCL (New Caledonia)
        takes the estimates of FRA (France): 30 estimates, 2018-2022; New
        Caledonia: French sui generis collectivity``.
    """

    governance: pd.DataFrame
    unmatched_codes: pd.DataFrame
    aggregate_codes: pd.DataFrame
    layout: str
    source: str
    territories: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=list(_TERRITORY_COLUMNS))
    )
    notes: list[str] = field(default_factory=list)


def _read_text(path: Path) -> pd.DataFrame:
    kwargs: dict[str, object] = {"dtype": str, "keep_default_na": False, "na_filter": False}
    try:
        return pd.read_csv(path, encoding="utf-8-sig", **kwargs)  # type: ignore[call-overload]
    except UnicodeDecodeError:
        return pd.read_csv(path, encoding="cp1252", **kwargs)  # type: ignore[call-overload]
    except pd.errors.EmptyDataError as exc:
        raise DataError(f"{path.name} is empty; expected the WGI bulk CSV") from exc
    except pd.errors.ParserError as exc:
        raise DataError(f"{path.name} cannot be read as CSV ({exc})") from exc


def _first(columns: Iterable[str], candidates: Iterable[str]) -> str | None:
    present = set(columns)
    return next((c for c in candidates if c in present), None)


def _wide_to_long(raw: pd.DataFrame, name: str) -> pd.DataFrame:
    """Return ``code, name, indicator, year, cell, line`` from the wide layout."""
    code_col = _first(raw.columns, _WIDE_CODE)
    ind_col = _first(raw.columns, _WIDE_INDICATOR)
    name_col = _first(raw.columns, _WIDE_NAME)
    year_cols = {c: int(m.group(1)) for c in raw.columns if (m := _YEAR_COLUMN.match(c))}
    if code_col is None or ind_col is None or name_col is None or not year_cols:
        raise DataError(_header_message(name, list(raw.columns)))
    codes = raw[code_col].str.strip()
    indicator = raw[ind_col].str.strip()
    footer = (codes == "") & (indicator == "")
    est = indicator.str.extract(_EST_CODE, expand=False)
    keep = est.notna() & ~footer
    if not keep.any():
        raise DataError(
            f"{name}: no estimate rows; expected indicator codes VA.EST, PV.EST, GE.EST, "
            f"RQ.EST, RL.EST, CC.EST in column '{ind_col}'"
        )
    sub = raw.loc[keep]
    parts = []
    for col, year in year_cols.items():
        parts.append(
            pd.DataFrame(
                {
                    "code": codes[keep].to_numpy(),
                    "name": sub[name_col].str.strip().to_numpy(),
                    "indicator": est[keep].to_numpy(),
                    "year": year,
                    "cell": sub[col].str.strip().to_numpy(),
                    "line": np.flatnonzero(keep.to_numpy()) + 2,
                    "column": col,
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def _long_to_long(raw: pd.DataFrame, name: str) -> pd.DataFrame:
    lower = {c.strip().lower(): c for c in raw.columns}
    missing = [c for c in _LONG_REQUIRED if c not in lower]
    if missing:
        raise DataError(_header_message(name, list(raw.columns)))
    indicator = raw[lower["indicator"]].str.strip().str.upper()
    keep = indicator.isin(WGI_INDICATORS)
    years = raw[lower["year"]].str.strip()
    year_num = pd.to_numeric(years, errors="coerce")
    bad = keep & (year_num.isna() | (year_num != np.round(year_num)))
    if bad.any():
        raise DataError(
            f"{name} has years that are not whole numbers:",
            [
                f"{name} line {i + 2}, column '{lower['year']}': expected a year such as "
                f"2022, got {years.iloc[i]!r}"
                for i in np.flatnonzero(bad.to_numpy())
            ],
        )
    return pd.DataFrame(
        {
            "code": raw.loc[keep, lower["code"]].str.strip().to_numpy(),
            "name": raw.loc[keep, lower["countryname"]].str.strip().to_numpy(),
            "indicator": indicator[keep].to_numpy(),
            "year": year_num[keep].astype(int).to_numpy(),
            "cell": raw.loc[keep, lower["estimate"]].str.strip().to_numpy(),
            "line": np.flatnonzero(keep.to_numpy()) + 2,
            "column": lower["estimate"],
        }
    )


def _header_message(name: str, columns: list[str]) -> str:
    shown = ", ".join(columns[:8]) + (", ..." if len(columns) > 8 else "")
    return (
        f"{name} line 1: not a WGI bulk CSV (header {shown}). Expected either the wide "
        f"layout 'Country Name, Country Code, Indicator Name, Indicator Code, 1996, "
        f"1998, ...' or the long layout 'code, countryname, year, indicator, estimate'"
    )


def _classify(codes: pd.Series, names: pd.Series) -> dict[str, str | None]:
    """Map every distinct code to ISO3, or None for aggregates and unknown codes."""
    valid = iso3_codes()
    out: dict[str, str | None] = {}
    for code, name in dict(zip(codes, names, strict=True)).items():
        if code in valid:
            out[code] = code
        elif code in WB_LEGACY_CODES:
            out[code] = WB_LEGACY_CODES[code]
        elif code in WB_AGGREGATES:
            out[code] = None
        else:
            iso = to_iso3(name) if name else None
            out[code] = iso if iso in valid else None
    return out


def _release_source(path: Path, years: np.ndarray) -> str:
    m = re.search(r"release[_-]?(\d{4})", path.name, flags=re.IGNORECASE)
    if m is not None:
        release = m.group(1)
    elif len(years):
        release = str(int(years.max()) + 1)
        logger.info(
            "%s: release year not in the file name; taken as %s (the World Bank publishes "
            "year N's scores in the release of year N+1)",
            path.name,
            release,
        )
    else:
        return f"World Bank WGI ({LICENCE})"
    return f"World Bank WGI {release} release ({LICENCE})"


def read_wgi(
    path: str | Path,
    years: Iterable[int] | None = None,
    *,
    source: str | None = None,
    territories: Mapping[str, tuple[str, str]] | None = TERRITORY_SOVEREIGN,
) -> WgiResult:
    """Read the World Bank WGI bulk CSV into the canonical governance table.

    Parameters
    ----------
    path
        The bulk CSV, wide layout (``WGIData_1996_2022_release2023.csv``) or
        long layout (``code, countryname, year, indicator, estimate, ...``).
    years
        Years to keep; ``None`` keeps every year. A requested year the file
        does not have is an error (the WGI have no 1997, 1999 or 2001).
    source
        Source string for every row. By default
        ``World Bank WGI <release> release (CC BY 4.0)``, the release year taken
        from the file name (``release2023``), else the last data year + 1.
    territories
        Territories without estimates of their own -> (sovereign, reason), whose
        rows are filled in with the sovereign's estimates
        (:func:`apply_sovereign_mapping`); by default
        :data:`TERRITORY_SOVEREIGN`. ``None`` or ``{}`` reads the release as
        published.

    Returns
    -------
    WgiResult
        The governance table, the codes left out (aggregates, unknown) and the
        sovereign mapping applied (``territories``, ``notes``).

    Raises
    ------
    DataError
        When the file is missing, its header is neither layout, an estimate is
        not a number or lies outside [-5, 5], a (country, year, indicator) is
        given twice, or a requested year is absent.

    Warns
    -----
    UserWarning
        When codes with estimates are neither countries nor World Bank
        aggregates (listed in ``unmatched_codes``; their rows are left out).

    Notes
    -----
    Only the estimates (``VA.EST`` ... ``CC.EST``; ``estimate`` in the long
    layout) are read; standard errors, numbers of sources and percentile ranks
    are not. Missing estimates (``..`` or an empty cell) give no row: never 0,
    never a neutral value. Country codes are the World Bank's, ISO3 for
    countries (``XKX`` Kosovo is valid in riskengine); codes of older releases
    (``ROM``, ``ZAR``, ``TMP``, ``ADO``, ``KSV``, ``WBG``) are translated.
    Territories of ``territories`` that the release does not score take their
    sovereign's estimates, in rows whose ``source`` says so, and every such
    mapping is listed in ``notes``: documented, never silent.

    References
    ----------
    Kaufmann, D. and Kraay, A. Worldwide Governance Indicators, World Bank,
    www.govindicators.org. Licence CC BY 4.0.
    """
    path = Path(path)
    if path.is_dir():
        raise DataError(
            f"WGI path {path} is a directory; pass the World Bank bulk CSV file inside it "
            f"(e.g. {path / 'WGIData_1996_2022_release2023.csv'})"
        )
    if not path.is_file():
        raise DataError(
            f"WGI file {path} does not exist; pass the World Bank bulk CSV "
            f"(e.g. WGIData_1996_2022_release2023.csv)"
        )
    raw = _read_text(path)
    raw.columns = [str(c).strip().lstrip("\ufeff") for c in raw.columns]
    name = path.name
    if _first(raw.columns, _WIDE_CODE) is not None:
        layout = "wide"
        cells = _wide_to_long(raw, name)
    elif "code" in {c.lower() for c in raw.columns}:
        layout = "long"
        cells = _long_to_long(raw, name)
    else:
        raise DataError(_header_message(name, list(raw.columns)))

    present = cells["cell"].map(lambda c: c not in MISSING_MARKS).to_numpy(dtype=bool)
    values = pd.to_numeric(cells["cell"].where(present), errors="coerce").to_numpy()
    bad = present & ~np.isfinite(np.nan_to_num(values, nan=np.inf))
    problems = [
        f"{name} line {r.line}, column '{r.column}': expected a number or '..', got {r.cell!r}"
        for r in cells[bad].itertuples(index=False)
    ]
    out_of_range = present & ~bad & (np.abs(np.nan_to_num(values)) > 5.0)
    problems += [
        f"{name} line {r.line}, column '{r.column}': estimate {r.cell} outside [-5, 5]; "
        f"WGI estimates lie between about -2.5 and 2.5 (percentile ranks are not read)"
        for r in cells[out_of_range].itertuples(index=False)
    ]
    if problems:
        raise DataError(f"{name} has {len(problems)} invalid estimate(s):", problems)
    cells = cells.assign(value=values)[present]

    all_years = np.unique(cells["year"].to_numpy())
    if years is not None:
        wanted = sorted({int(y) for y in years})
        missing_years = sorted(set(wanted) - set(all_years.tolist()))
        if missing_years:
            raise DataError(
                f"{name} has no estimates for year(s) {', '.join(map(str, missing_years))}; "
                f"it has {', '.join(map(str, all_years.tolist()))}"
            )
        cells = cells[cells["year"].isin(wanted)]

    iso_of = _classify(cells["code"], cells["name"])
    cells = cells.assign(country=cells["code"].map(iso_of))
    left_out = cells[cells["country"].isna()]
    counts = (
        left_out.groupby(["code", "name"], sort=True).size().rename("values").reset_index()
        if len(left_out)
        else pd.DataFrame({"code": [], "name": [], "values": []})
    )
    is_agg = counts["code"].isin(list(WB_AGGREGATES))
    aggregates = counts[is_agg].reset_index(drop=True)
    unmatched = counts[~is_agg].reset_index(drop=True)
    if len(unmatched):
        listing = "; ".join(
            f"{r.code} {r.name!r} ({r.values} estimates)" for r in unmatched.itertuples()
        )
        warnings.warn(
            f"{name}: {len(unmatched)} code(s) are neither a country riskengine knows nor a "
            f"World Bank aggregate; their estimates are left out: {listing}. "
            f"See WgiResult.unmatched_codes.",
            stacklevel=2,
        )
    if len(aggregates):
        logger.info(
            "%s: %d World Bank aggregate code(s) left out: %s",
            name,
            len(aggregates),
            ", ".join(aggregates["code"]),
        )

    gov = cells[cells["country"].notna()]
    dup = gov.duplicated(["country", "year", "indicator"], keep=False)
    if dup.any():
        rows = gov[dup].sort_values(["country", "year", "indicator"])
        raise DataError(
            f"{name} gives some estimates twice:",
            [
                f"{name} line {r.line}: {r.code} {r.indicator} {r.year} (also on another line)"
                for r in rows.itertuples(index=False)
            ],
        )
    src = source if source is not None else _release_source(path, all_years)
    order = {ind: n for n, ind in enumerate(WGI_INDICATORS)}
    gov = gov.assign(_order=gov["indicator"].map(order)).sort_values(
        ["country", "year", "_order"], kind="stable"
    )
    table = pd.DataFrame(
        {
            "country": gov["country"].astype(str).to_numpy(),
            "year": gov["year"].astype(np.int64).to_numpy(),
            "indicator": gov["indicator"].astype(str).to_numpy(),
            "value": gov["value"].astype(float).to_numpy(),
            "source": src,
        },
        columns=GOVERNANCE.column_names,
    )
    logger.info("%s: %d governance estimates (%s layout)", name, len(table), layout)
    mapped = apply_sovereign_mapping(table, territories or {})
    for note in mapped.notes:
        logger.info("%s: %s", name, note)
    return WgiResult(
        governance=mapped.governance,
        unmatched_codes=unmatched,
        aggregate_codes=aggregates,
        layout=layout,
        source=src,
        territories=mapped.territories,
        notes=mapped.notes,
    )


@dataclass(frozen=True)
class SovereignMapping:
    """What :func:`apply_sovereign_mapping` did.

    Attributes
    ----------
    governance
        The governance table with the territories' rows added, sorted by
        country, year and indicator.
    territories
        ``territory, sovereign, estimates, years, reason``: one row per
        territory that took estimates.
    notes
        One line per such territory.
    """

    governance: pd.DataFrame
    territories: pd.DataFrame
    notes: list[str]


def _span(years: Iterable[int]) -> str:
    ys = sorted(set(years))
    return str(ys[0]) if len(ys) == 1 else f"{ys[0]}-{ys[-1]}"


def apply_sovereign_mapping(
    governance: pd.DataFrame,
    territories: Mapping[str, tuple[str, str]] = TERRITORY_SOVEREIGN,
) -> SovereignMapping:
    """Give territories without WGI estimates the estimates of their sovereign.

    Parameters
    ----------
    governance
        A canonical governance table (``country, year, indicator, value,
        source``).
    territories
        Territory ISO3 code -> (sovereign ISO3 code, reason); by default
        :data:`TERRITORY_SOVEREIGN`.

    Returns
    -------
    SovereignMapping
        The table with one added row per (territory, year, indicator) that the
        table lacks and the sovereign has, its ``source`` the sovereign row's
        source followed by ``; estimate of <sovereign> applied to <territory>
        (sovereign mapping)``; the mapping applied and one note per territory.

    Notes
    -----
    A territory keeps every estimate the table already gives it: only the
    missing (year, indicator) cells are filled. Nothing is filled where the
    sovereign has no estimate either.

    Examples
    --------
    >>> g = pd.DataFrame({"country": ["FRA"], "year": [2022], "indicator": ["PV"],
    ...                   "value": [0.33], "source": ["World Bank WGI 2023 release"]})
    >>> out = apply_sovereign_mapping(g, {"NCL": ("FRA", "French collectivity")})
    >>> out.governance["country"].tolist(), out.governance["value"].tolist()
    (['FRA', 'NCL'], [0.33, 0.33])
    >>> out.governance.loc[1, "source"]
    'World Bank WGI 2023 release; estimate of FRA applied to NCL (sovereign mapping)'
    """
    columns = list(governance.columns)
    empty = pd.DataFrame(columns=list(_TERRITORY_COLUMNS))
    if not territories or governance.empty:
        return SovereignMapping(governance, empty, [])
    have = set(zip(governance["country"], governance["year"], governance["indicator"], strict=True))
    by_country = dict(tuple(governance.groupby("country", sort=False)))
    added: list[pd.DataFrame] = []
    rows: list[dict[str, object]] = []
    notes: list[str] = []
    for territory, (sovereign, reason) in sorted(territories.items()):
        if sovereign not in by_country:
            continue
        src = by_country[sovereign]
        lacks = np.array(
            [
                (territory, year, indicator) not in have
                for year, indicator in zip(src["year"], src["indicator"], strict=True)
            ],
            dtype=bool,
        )
        if not lacks.any():
            continue
        fill = src[lacks].assign(
            country=territory,
            source=src.loc[lacks, "source"].astype(str)
            + "; "
            + SOVEREIGN_SOURCE.format(sovereign=sovereign, territory=territory),
        )
        added.append(fill[columns])
        span = _span(fill["year"].astype(int))
        rows.append(
            {
                "territory": territory,
                "sovereign": sovereign,
                "estimates": len(fill),
                "years": span,
                "reason": reason,
            }
        )
        notes.append(
            f"{territory} ({country_name(territory)}) takes the estimates of {sovereign} "
            f"({country_name(sovereign)}): {len(fill)} estimates, {span}; {reason}"
        )
    if not added:
        return SovereignMapping(governance, empty, [])
    order = {ind: n for n, ind in enumerate(WGI_INDICATORS)}
    table = pd.concat([governance, *added], ignore_index=True)
    table = (
        table.assign(_order=table["indicator"].map(order))
        .sort_values(["country", "year", "_order"], kind="stable")
        .drop(columns="_order")
        .reset_index(drop=True)
    )
    return SovereignMapping(table, pd.DataFrame(rows, columns=list(_TERRITORY_COLUMNS)), notes)
