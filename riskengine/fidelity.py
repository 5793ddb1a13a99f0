r"""Fidelity of a dataset to published figures: US import reliance, IEA shares, Peru's copper.

The functions compare a :class:`~riskengine.dataset.Dataset` with figures the
publishers print themselves, so that every difference can be seen with its
cause. ``data/fidelity.py`` runs them on the default data and writes
``docs/fidelity.md``.

Import reliance computed from production and trade
--------------------------------------------------
The USGS net import reliance (NIR) of a commodity is

.. math:: NIR = \frac{M - X \pm \Delta S}{P + M - X \pm \Delta S}

over the commodity in all its forms (ores, intermediates, refined metal,
compounds), where :math:`P` is US production as the USGS counts it for that
commodity (secondary production from scrap included) and :math:`\Delta S`
government and industry stock changes. The data hold neither scrap nor
stocks; riskengine's figure for a published statistic is

.. math:: IR = \mathrm{clip}\left(\frac{\sum_{s \in S}(M_s - X_s)}
          {P_{s_0} + \sum_{s \in S}(M_s - X_s)}, 0, 1\right)

* :math:`P_{s_0}` is US production at the stage :math:`s_0` the USGS measures
  the commodity's production at: the stage the importer maps the statistic to
  (:func:`riskengine.io.usgs_commodities.trade_mapping`; the chapter's
  ``stage``): refinery, smelter or plant output for the metals the USGS treats
  as refined commodities (copper, cobalt, nickel, lead, zinc, tin, aluminium,
  gallium...), mine output for the others (barite, fluorspar, graphite,
  phosphate rock...). A figure withheld by the USGS (``W``) counts as 0 and
  the row says so.
* :math:`S`, the forms summed, is every stage of the mineral from mining to
  refining (``component``, manufactured products such as magnets, is not a
  form of the commodity) **unless the USGS figure is for one form**: its
  statistic names the form ("refined metal", "ores and concentrates",
  "compounds and metals") or the USGS publishes separate figures for forms of
  one mineral (titanium sponge and titanium mineral concentrates); then
  :math:`S = \{s_0\}`.
* :math:`M_s, X_s` are US imports and exports at stage :math:`s` in contained
  tonnes (flows whose quantity is unknown or screened out count 0).

A net exporter has IR 0, which the USGS prints as ``E``. Summing net imports of
ore and refined metal with refinery production counts imported ore refined in
the US twice; the per-stage figures are shown beside the commodity figure.

References
----------
U.S. Geological Survey, Mineral Commodity Summaries 2026, Appendix A (net
import reliance); IEA (2024), Critical Minerals Data Explorer.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from riskengine.dataset import Dataset
from riskengine.io.usgs_commodities import STAGE_KEYWORDS

__all__ = [
    "PRODUCTION_STAGE",
    "STAGES_OF_A_COMMODITY",
    "TOLERANCE",
    "build_report",
    "export_destinations",
    "form_stage",
    "reliance",
    "reliance_comparison",
    "reliance_summary",
    "render_markdown",
    "share_comparison",
    "stage_balance",
    "stage_concentration",
    "top_shares",
]

#: Within this many percentage points of the USGS figure counts as agreement.
TOLERANCE = 0.15

#: Stages that hold forms of a commodity (``component`` holds manufactured goods).
STAGES_OF_A_COMMODITY: tuple[str, ...] = ("mining", "intermediate", "refining")

#: Minerals whose USGS production, for the net import reliance, is mine output although
#: the importer places their US import statistics at the refining stage, with the
#: USGS statistic that says so (MCS 2026, salient statistics). For every other mineral
#: the production stage is the importer's (:attr:`Chapter.stage` or the trade rule).
PRODUCTION_STAGE: dict[str, tuple[str, str]] = {
    "beryllium": ("mining", "Production, mine shipments"),
    "gold": ("mining", "Production: Mine"),
    "palladium": ("mining", "Mine production: Palladium"),
    "platinum": ("mining", "Mine production: Platinum"),
    "rhenium": (
        "mining",
        "Production (the US figure of the world table's Mine production: rhenium recovered "
        "from molybdenum concentrates)",
    ),
    "silver": (
        "mining",
        "Production: Mine (apparent consumption = mine + secondary + imports - exports)",
    ),
}

_TOTAL = re.compile(STAGE_KEYWORDS[0][0], re.I)


def form_stage(product: str) -> str | None:
    """Return the stage of the form a USGS statistic names, ``None`` for all forms.

    Examples
    --------
    >>> form_stage("Refined zinc"), form_stage("Ores and concentrates"), form_stage("")
    ('refining', 'mining', None)
    >>> form_stage("all forms of arsenic") is None, form_stage("Total") is None
    (True, True)
    """
    if not product or _TOTAL.search(product):
        return None
    for pattern, stage in STAGE_KEYWORDS[1:]:
        if stage and re.search(pattern, product, re.I):
            return stage
    return None


def reliance(production: float, net_imports: float) -> float:
    r"""Net import reliance from production and net imports, in [0, 1].

    Notes
    -----
    .. math:: IR = \mathrm{clip}\left(\frac{N}{P + N}, 0, 1\right)

    with :math:`N` net imports; a net exporter has 0; 0/0 is NaN.

    Examples
    --------
    >>> reliance(100.0, 300.0 + 50.0 - 10.0) == 340 / 440
    True
    >>> reliance(100.0, -5.0), math.isnan(reliance(0.0, 0.0))
    (0.0, True)
    """
    if net_imports < 0:
        return 0.0
    total = production + net_imports
    if total <= 0:
        return math.nan
    return min(max(net_imports / total, 0.0), 1.0)


def stage_balance(ds: Dataset, country: str, year: int) -> pd.DataFrame:
    """Production, imports and exports of one country per mineral and stage, contained tonnes.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``(mineral, stage)`` over every mineral and stage of the
        dataset: ``production_t``, ``withheld`` (the source lists the country
        without a figure), ``listed`` (the production table of that mineral,
        stage and year exists), ``imports_t``, ``exports_t``, ``world_trade_t``
        (all flows of the mineral and stage in the year) and ``ir`` (the
        stage's own import reliance).
    """
    m, s, _, _ = ds.shape
    ti = ds.years.get_loc(year)
    ci = ds.countries.get_loc(country)
    prod = ds.production[:, :, ti, ci]
    withheld = ds.production_missing[:, :, ti, ci]
    listed = (ds.production[:, :, ti, :] > 0).any(-1) | ds.production_missing[:, :, ti, :].any(-1)
    imports = np.zeros((m, s))
    exports = np.zeros((m, s))
    world = np.zeros((m, s))
    tr = ds.pairs
    if len(tr):
        content = np.where(tr.usable, tr.content, 0.0)
        key = tr.mineral.astype(np.int64) * s + tr.stage
        this_year = tr.year == ti
        for out, mask in (
            (imports, this_year & (tr.importer == ci)),
            (exports, this_year & (tr.exporter == ci)),
            (world, this_year),
        ):
            out += np.bincount(key[mask], weights=content[mask], minlength=m * s).reshape(m, s)
    frame = pd.DataFrame(
        {
            "production_t": prod.ravel(),
            "withheld": withheld.ravel(),
            "listed": listed.ravel(),
            "imports_t": imports.ravel(),
            "exports_t": exports.ravel(),
            "world_trade_t": world.ravel(),
        },
        index=pd.MultiIndex.from_product([ds.minerals, ds.stages], names=["mineral", "stage"]),
    )
    frame["ir"] = [
        reliance(p, mi - x)
        for p, mi, x in zip(
            frame["production_t"], frame["imports_t"], frame["exports_t"], strict=True
        )
    ]
    return frame


@dataclass(frozen=True)
class _Scope:
    production_stage: str
    stages: tuple[str, ...]
    one_form: bool


def _scopes(published: pd.DataFrame, stages: Sequence[str]) -> list[_Scope | None]:
    """Production stage and the stages summed, per published figure."""
    mapped = published.dropna(subset=["mineral"])
    forms = mapped.groupby(["year", "mineral"])["stage"].nunique()
    out: list[_Scope | None] = []
    for r in published.itertuples(index=False):
        if not isinstance(r.mineral, str):
            out.append(None)
            continue
        stage = PRODUCTION_STAGE.get(str(r.mineral), (str(r.stage), ""))[0]
        one_form = form_stage(str(r.product)) is not None or forms.get((r.year, r.mineral), 1) > 1
        summed = (stage,) if one_form else tuple(x for x in STAGES_OF_A_COMMODITY if x in stages)
        out.append(_Scope(stage, summed, one_form))
    return out


def _in_range(ours: float, low: float, high: float, value: float) -> bool:
    if math.isnan(ours) or math.isnan(low):
        return False
    if not math.isnan(value) or low == high:  # a number (or E = 0): within the tolerance
        centre = value if not math.isnan(value) else low
        return abs(ours - centre) <= TOLERANCE + 1e-9
    return low - 1e-9 <= ours <= high + 1e-9


def _difference(ours: float, low: float, high: float, value: float) -> float:
    """Points from the published figure (a bound or range: from its nearest end)."""
    if math.isnan(ours) or math.isnan(low):
        return math.nan
    if not math.isnan(value):
        return ours - value
    if ours < low:
        return ours - low
    if ours > high:
        return ours - high
    return 0.0


def reliance_comparison(
    ds: Dataset,
    published: pd.DataFrame,
    year: int,
    *,
    country: str = "USA",
    causes: Mapping[tuple[str, str], str] | None = None,
) -> pd.DataFrame:
    """Riskengine's import reliance beside every published figure of one year.

    Parameters
    ----------
    ds
        The dataset.
    published
        :func:`riskengine.io.usgs.read_mcs_reliance_table`.
    year
        The year compared.
    country
        ISO3 code of the country the figures are for.
    causes
        Documented causes of known differences by ``(mineral, stage)``, put
        before the causes read from the data.

    Returns
    -------
    pandas.DataFrame
        One row per published figure of ``year``: ``commodity, product,
        critical, published, low, high, mineral, stage`` (the importer's),
        ``production_stage``, ``scope`` (the stages summed), ``production_t``,
        ``net_imports_t``, ``ir`` (riskengine's, the module's formula),
        ``stage_ir`` (the production stage's own figure),
        ``difference`` (points, as a fraction), ``within`` and ``cause``.
    """
    rows = published[published["year"] == year].reset_index(drop=True)
    balance: dict[Any, Any] = stage_balance(ds, country, year).to_dict("index")
    causes = causes or {}
    records = []
    scopes = _scopes(rows, list(ds.stages))
    for r, scope in zip(rows.to_dict("records"), scopes, strict=True):
        rec: dict[str, Any] = {
            "commodity": r["commodity"],
            "product": r["product"],
            "critical": bool(r["critical"]),
            "published": r["published"] or "blank",
            "low": r["low"],
            "high": r["high"],
            "mineral": r["mineral"] if isinstance(r["mineral"], str) else "",
            "stage": r["stage"] if isinstance(r["stage"], str) else "",
            "production_stage": "",
            "scope": "",
            "production_t": math.nan,
            "net_imports_t": math.nan,
            "ir": math.nan,
            "stage_ir": math.nan,
        }
        mineral = str(r["mineral"])
        if scope is None or mineral not in ds.minerals:
            reason = r["note"] if scope is None else f"{mineral} is not in the data"
            rec.update(difference=math.nan, within=False, cause=f"no US data: {reason}")
            records.append(rec)
            continue
        b = {str(st): balance[(mineral, st)] for st in ds.stages}
        ps = scope.production_stage
        p = float(b[ps]["production_t"])
        net = float(sum(b[st]["imports_t"] - b[st]["exports_t"] for st in scope.stages))
        ours = reliance(p, net)
        low, high, value = float(r["low"]), float(r["high"]), float(r["value"])
        within = _in_range(ours, low, high, value)
        rec.update(
            production_stage=ps,
            scope="+".join(scope.stages) + (" (one form)" if scope.one_form else ""),
            production_t=p,
            net_imports_t=net,
            ir=ours,
            stage_ir=float(b[ps]["ir"]),
            difference=_difference(ours, low, high, value),
            within=within,
            cause="" if within else _cause(b, scope, r, ours, causes.get((mineral, ps))),
        )
        records.append(rec)
    return pd.DataFrame(records)


def _cause(
    b: Mapping[str, Mapping[str, Any]],
    scope: _Scope,
    r: Mapping[Any, Any],
    ours: float,
    documented: str | None,
) -> str:
    """Name the causes of a miss: documented ones first, then what the data show."""
    if math.isnan(float(r["low"])):
        return f"no published figure ({r['published'] or 'blank'})"
    parts = [documented] if documented else []
    ps = scope.production_stage
    if b[ps]["withheld"]:
        parts.append(f"US {ps} production withheld (W) in the release, counted as 0")
    elif b[ps]["production_t"] == 0:
        if b[ps]["listed"]:
            parts.append(f"no US figure in the {ps} production table")
        else:
            parts.append(f"no {ps} production table for the year in the data")
    secondary = _secondary(str(r.get("us_production") or ""))
    if secondary and ours > float(r["high"]):
        parts.append(f"secondary production from scrap not in the data (USGS: {secondary})")
    untraded = [
        st for st in scope.stages if b[st]["world_trade_t"] == 0 and (st == ps or b[st]["listed"])
    ]
    if untraded:
        forms = " and ".join(untraded)
        parts.append(f"no trade of the {forms} form in the data (not in the BACI extracts)")
    if not parts and ours < float(r["low"]):
        absent = [st for st in scope.stages if b[st]["world_trade_t"] == 0]
        if absent:
            forms = " and ".join(absent)
            parts.append(f"no trade of the {forms} form in the data (not in the BACI extracts)")
    if not parts:
        side = "above" if ours > float(r["high"]) else "below"
        parts.append(f"computed figure {side} the published one (no documented cause)")
    return "; ".join(parts)


_SECONDARY = re.compile(r"secondar|scrap|residue|spent catalyst", re.I)
_FIGURE = re.compile(r"\s(\d[\d,.]*)\s")


def _secondary(us_production: str) -> str:
    """Return the USGS's US secondary production statistics that carry a figure, as written."""
    found = [
        part.strip()
        for part in us_production.split(";")
        if _SECONDARY.search(part) and _FIGURE.search(f"{part} ")
    ]
    return "; ".join(found)


def top_shares(
    production: pd.DataFrame, by: Iterable[str] = ("mineral", "stage", "year")
) -> pd.DataFrame:
    """Top-1 and top-3 country shares of production, per group.

    ``production`` holds ``country`` and ``quantity``; ``XOT`` (other
    countries, "Rest of world") counts in the total, never as a country.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``by``: ``total_t``, ``top1_country``, ``top1``, ``top3``,
        ``hhi`` (0-1, named countries) and ``countries`` (named countries).
    """
    keys = list(by)
    out = {}
    for key, g in production[production["quantity"] > 0].groupby(keys):
        total = float(g["quantity"].sum())
        named = g[g["country"] != "XOT"].sort_values("quantity", ascending=False, kind="stable")
        shares = named["quantity"].to_numpy() / total
        out[key] = {
            "total_t": total,
            "top1_country": str(named["country"].iloc[0]) if len(named) else "",
            "top1": float(shares[:1].sum()),
            "top3": float(shares[:3].sum()),
            "hhi": float((shares**2).sum()),
            "countries": len(named),
        }
    frame = pd.DataFrame.from_dict(out, orient="index")
    frame.index = pd.MultiIndex.from_tuples(frame.index, names=keys)
    return frame


def share_comparison(ds: Dataset, published: pd.DataFrame, year: int) -> pd.DataFrame:
    """Top-1 and top-3 shares of the dataset against a publisher's own table.

    ``published`` is a production table (e.g. the IEA explorer's,
    :attr:`riskengine.io.iea.IeaResult.production`); every (mineral, stage) it
    has in ``year`` gets a row: ``top1_country``, ``top1``, ``top3`` of the
    dataset, ``published_top1_country``, ``published_top1``,
    ``published_top3`` and the differences ``d_top1``, ``d_top3``.
    """
    theirs = top_shares(published[published["year"] == year], ("mineral", "stage"))
    prod = ds.production_frame()
    ours = top_shares(prod[prod["year"] == year], ("mineral", "stage"))
    frame = theirs[["top1_country", "top1", "top3"]].add_prefix("published_")
    frame = frame.join(ours[["top1_country", "top1", "top3"]], how="left")
    frame["d_top1"] = frame["top1"] - frame["published_top1"]
    frame["d_top3"] = frame["top3"] - frame["published_top3"]
    return frame


def stage_concentration(ds: Dataset, stage: str = "refining") -> pd.DataFrame:
    """HHI, CR-3 and the number of named countries per mineral and year at one stage.

    Only tables with production by at least two named countries are kept
    (a single country or a world total is not a distribution by country).
    """
    prod = ds.production_frame()
    shares = top_shares(prod[prod["stage"] == stage], ("mineral", "year"))
    shares = shares[shares["countries"] >= 2]
    return shares.rename(columns={"top3": "cr3"})[
        ["countries", "top1_country", "top1", "cr3", "hhi"]
    ]


def export_destinations(
    ds: Dataset, exporter: str, mineral: str, years: Iterable[int], top: int = 3
) -> pd.DataFrame:
    """Rank an exporter's destinations per stage and year, by value, with tonnage shares.

    Returns
    -------
    pandas.DataFrame
        ``stage, year, rank, importer, share_value, share_tonnes, total_usd,
        total_t``; shares of the exporter's total of that stage and year.
    """
    tf = ds.trade_frame()
    tf = tf[
        (tf["exporter"] == exporter) & (tf["mineral"] == mineral) & tf["year"].isin(list(years))
    ]
    tf = tf.assign(tonnes=np.where(tf["has_quantity"] & ~tf["screened"], tf["content_t"], 0.0))
    rows = []
    for (stage, year), g in tf.groupby(["stage", "year"]):
        value = g.groupby("importer")["value_usd"].sum()
        tonnes = g.groupby("importer")["tonnes"].sum()
        ranked = value.sort_values(ascending=False, kind="stable")
        for rank, importer in enumerate(ranked.index[:top], start=1):
            rows.append(
                {
                    "stage": stage,
                    "year": year,
                    "rank": rank,
                    "importer": importer,
                    "share_value": float(value[importer] / value.sum()),
                    "share_tonnes": float(tonnes[importer] / tonnes.sum())
                    if tonnes.sum()
                    else math.nan,
                    "total_usd": float(value.sum()),
                    "total_t": float(tonnes.sum()),
                }
            )
    return pd.DataFrame(rows)


# ------------------------------------------------------------------ the report

#: Where the report reads the releases, relative to the releases directory.
USGS_MCS2026 = "usgs_mcs2026/MCS2026_Commodities_Data.csv"
IEA_WORKBOOK = "iea_critical_minerals_2024/CM_Data_Explorer_May2024.xlsx"

#: The year of the US import reliance comparison and of the IEA comparison.
RELIANCE_YEAR = 2024
IEA_YEAR = 2023

#: Minerals of the IEA's top-3 refining average (graphite: battery grade; rare earths:
#: magnet rare earths) and the IEA's published average for 2024 (METHODS.md §8).
IEA_TOP3_MINERALS: tuple[str, ...] = (
    "copper", "lithium", "nickel", "cobalt", "battery_graphite", "magnet_rare_earths",
)  # fmt: skip
IEA_TOP3_PUBLISHED = 0.86

#: Published destination shares of Peru's copper exports (METHODS.md §2).
PERU_COPPER_PUBLISHED: tuple[tuple[str, str, float, float], ...] = (
    ("Peruvian export statistics, early 2025 (all copper)", "CHN", 0.742, math.nan),
    ("Peruvian export statistics, early 2025 (all copper)", "JPN", 0.06, math.nan),
    ("BACI HS92 2022, HS 2603 copper ore and concentrates", "CHN", 0.751, 0.762),
    ("BACI HS92 2022, HS 2603 copper ore and concentrates", "JPN", 0.082, 0.089),
)


def _pct(x: Any, digits: int = 1) -> str:
    return "" if x is None or pd.isna(x) else f"{100 * float(x):.{digits}f}"


def _t(x: Any) -> str:
    return "" if x is None or pd.isna(x) else f"{float(x):,.0f}"


def _table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c).replace("|", "/") for c in row) + " |" for row in rows]
    return [*lines, ""]


def reliance_summary(table: pd.DataFrame) -> dict[str, int]:
    """Count the critical commodities of :func:`reliance_comparison` that agree.

    ``critical``: critical figures with a published value (a number, a bound,
    a range or E); ``within``: of those, within the tolerance or inside the
    range; ``covered``: of those, the ones the data hold the mineral of;
    ``within_covered``: within among the covered.
    """
    crit = table[table["critical"] & table["low"].notna()]
    covered = crit[~crit["cause"].str.startswith("no US data")]
    return {
        "critical": len(crit),
        "within": int(crit["within"].sum()),
        "covered": len(covered),
        "within_covered": int(covered["within"].sum()),
    }


def render_markdown(
    reliance_table: pd.DataFrame,
    iea: pd.DataFrame,
    concentration: pd.DataFrame,
    peru: pd.DataFrame,
    balance: pd.DataFrame,
) -> str:
    """Render the fidelity report as Markdown from the comparison tables of this module."""
    s = reliance_summary(reliance_table)
    out = [
        "# Fidelity of the default data to published figures",
        "",
        "Generated by `python data/fidelity.py` from the default data (`data/`) and the "
        "official releases (`../shared/data`); do not edit by hand. Sources: U.S. Geological "
        "Survey, Mineral Commodity Summaries 2026; IEA (2024), Critical Minerals Data "
        "Explorer (CC BY 4.0); CEPII BACI (Etalab 2.0).",
        "",
        "## Summary",
        "",
        f"* US net import reliance {RELIANCE_YEAR}, computed from production and trade: "
        f"**{s['within']} of {s['critical']}** critical-mineral figures of the USGS "
        f'(MCS 2026, column "Is critical mineral 2025") within {100 * TOLERANCE:.0f} points '
        f"or inside the published range ({s['within'] / max(s['critical'], 1):.0%}; target "
        f"80 %); {s['within_covered']} of the {s['covered']} the data hold the mineral of "
        f"({s['within_covered'] / max(s['covered'], 1):.0%}).",
    ]
    top3 = iea[(iea.index.get_level_values("stage") == "refining")]
    top3 = top3[top3.index.get_level_values("mineral").isin(IEA_TOP3_MINERALS)]
    out.append(
        f"* Top-3 refining share {IEA_YEAR} of {', '.join(IEA_TOP3_MINERALS)}: "
        f"{_pct(float(top3['top3'].mean()))} % in the data, "
        f"{_pct(float(top3['published_top3'].mean()))} % in the IEA explorer; "
        "IEA's published average for 2024: "
        f"{100 * IEA_TOP3_PUBLISHED:.0f} %."
    )
    per_year = concentration.groupby(level="year").size()
    out.append(
        "* Minerals with refining production by at least two named countries: "
        + ", ".join(f"{n} in {y}" for y, n in per_year.items())
        + "."
    )
    out += [
        "",
        "## US net import reliance",
        "",
        "riskengine's figure is `clip(N / (P + N), 0, 1)`: `P` US production at the stage the "
        "USGS counts the commodity's production at (`stage`; mine output where the USGS "
        "counts mine output, see `riskengine.fidelity.PRODUCTION_STAGE`), `N` US net imports "
        "in contained tonnes summed over the forms the USGS figure covers (`scope`: all "
        "stages from mining to refining, or one form where the USGS figure is for one). "
        "`stage IR` is the production stage's own figure. USGS figures: a bound (`>75`) "
        "or `E` (net exporter, 0 %) is met inside the range, or within 15 points of 0 for `E`; "
        "the difference of a bound is from its nearest end. The USGS counts secondary "
        "production from scrap and stock changes, which the data do not hold.",
        "",
    ]
    rows = []
    for r in reliance_table.itertuples(index=False):
        name = f"{r.commodity!s}: {r.product!s}" if r.product else str(r.commodity)
        rows.append(
            [
                name,
                "yes" if r.critical else "",
                r.published,
                r.mineral,
                r.production_stage,
                r.scope,
                _t(r.production_t),
                _t(r.net_imports_t),
                _pct(r.ir),
                _pct(r.stage_ir),
                _pct(r.difference),
                "yes" if r.within else "no",
                r.cause,
            ]
        )
    out += _table(
        [
            "USGS figure", "critical", "USGS %", "mineral", "production stage", "scope",
            "US production t", "net imports t", "riskengine %", "stage IR %", "difference",
            "within", "cause of the difference",
        ],
        rows,
    )  # fmt: skip
    out += [
        f"## IEA top-1 and top-3 shares, {IEA_YEAR}",
        "",
        "Shares of world production (the explorer's \"Rest of world\" and the USGS's "
        '"other countries" count in the total, never as a country). Where the USGS '
        "publishes the table (mining of copper, cobalt, lithium, nickel, graphite; copper "
        "refining) the data hold the USGS's figures, not the IEA's.",
        "",
    ]
    out += _table(
        [
            "mineral", "stage", "top-1 (data)", "top-1 %", "top-1 (IEA)", "top-1 % IEA",
            "top-3 %", "top-3 % IEA", "difference top-3",
        ],
        [
            [r.mineral, r.stage, r.top1_country, _pct(r.top1), r.published_top1_country,
             _pct(r.published_top1), _pct(r.top3), _pct(r.published_top3), _pct(r.d_top3)]
            for r in iea.reset_index().itertuples(index=False)
        ],
    )  # fmt: skip
    latest = int(concentration.index.get_level_values("year").max())
    out += [
        "## Refining concentration by country",
        "",
        "Tables of refining production with at least two named countries, per year: "
        + ", ".join(f"{y}: {n}" for y, n in per_year.items())
        + ". HHI (0-1) and CR-3 for "
        + ", ".join(str(y) for y in sorted(set(concentration.index.get_level_values("year")))[-3:])
        + ":",
        "",
    ]
    recent = concentration[concentration.index.get_level_values("year") >= latest - 2]
    out += _table(
        ["mineral", "year", "countries", "top-1", "top-1 %", "CR-3 %", "HHI"],
        [
            [
                r.mineral,
                r.year,
                r.countries,
                r.top1_country,
                _pct(r.top1),
                _pct(r.cr3),
                f"{r.hhi:.3f}",
            ]
            for r in recent.reset_index().itertuples(index=False)
        ],
    )
    out += [
        "## Peru's copper export destinations",
        "",
        "The data (BACI; 2024 refined cathodes from the HS17 extract), the three leading "
        "destinations per stage and year by value, with their share of contained tonnes:",
        "",
    ]
    out += _table(
        ["stage", "year", "rank", "destination", "share by value %", "share by tonnes %",
         "total USD", "total t (contained)"],
        [
            [r.stage, r.year, r.rank, r.importer, _pct(r.share_value), _pct(r.share_tonnes),
             _t(r.total_usd), _t(r.total_t)]
            for r in peru.itertuples(index=False)
        ],
    )  # fmt: skip
    out += ["Published figures (METHODS.md §2):", ""]
    out += _table(
        ["source", "destination", "share by value %", "share by tonnes %"],
        [[src, c, _pct(v), _pct(q)] for src, c, v, q in PERU_COPPER_PUBLISHED],
    )
    out += [
        "## Import/production balance, worst rows",
        "",
        "World imports against world production in contained tonnes "
        "(`riskengine.dataset.import_production_balance`); above 1.6 the basis or the stage "
        'of a product is suspect (data/README.md, "Checks").',
        "",
    ]
    out += _table(
        ["mineral", "stage", "year", "imports t", "production t", "ratio"],
        [
            [r.mineral, r.stage, r.year, _t(r.imports_t), _t(r.production_t), f"{r.ratio:.2f}"]
            for r in balance.head(10).itertuples(index=False)
        ],
    )
    return "\n".join(out).rstrip() + "\n"


def build_report(ds: Dataset, releases: Path) -> str:
    """Build the fidelity report of ``ds`` against the releases in ``releases`` (Markdown).

    Reads the MCS 2026 CSV (:data:`USGS_MCS2026`) and the IEA explorer
    (:data:`IEA_WORKBOOK`); deterministic for given inputs.
    """
    from riskengine.dataset import import_production_balance
    from riskengine.io.iea import read_iea_explorer
    from riskengine.io.usgs import read_mcs_reliance_table

    published = read_mcs_reliance_table(releases / USGS_MCS2026)
    reliance_table = reliance_comparison(ds, published, RELIANCE_YEAR)
    iea = share_comparison(ds, read_iea_explorer(releases / IEA_WORKBOOK).production, IEA_YEAR)
    concentration = stage_concentration(ds, "refining")
    peru = export_destinations(ds, "PER", "copper", (2022, RELIANCE_YEAR))
    balance = import_production_balance(ds)
    return render_markdown(reliance_table, iea, concentration, peru, balance)
