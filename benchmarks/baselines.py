r"""Baselines riskengine is measured against, written from docs/methods.md.

Three kinds, all independent of :mod:`riskengine.indices`:

* **pandas**: the straightforward implementation a user writes on the long
  tables (``groupby`` + ``transform``/``sum`` + ``merge``), vectorized pandas
  idioms, no ``apply``.
* **loop**: a plain Python loop per result, the way the reference
  implementation of GeoPolRisk (geopolrisk-py) computes one (mineral,
  importer, year) at a time, recomputing the HHI for each. The rows are
  grouped by key beforehand (:func:`group_rows`, timed separately as set-up),
  so each result only walks its own rows: the strongest form of a loop.
* **query loop**: the same per-result loop, but each result selects its rows
  from the long tables with boolean masks, as a loop over database or
  DataFrame queries does (geopolrisk-py queries SQLite per result, about 18 ms
  a result there).

Formulas (docs/methods.md):

.. math::

    S_c = P_c / \sum P, \quad HHI = \sum_c S_c^2, \quad
    A_{ei} = F_{ei} / \sum_{e'} F_{e'i}, \quad HHI^{imp}_i = \sum_e A_{ei}^2

    g_e = \mathrm{clip}((2.5 - PV_e)/5, 0, 1), \quad
    ImportRisk_i = \frac{\sum_e g_e f_{ei}}{p_i + \sum_e f_{ei}}, \quad
    Score_i = HHI_{mining} \cdot ImportRisk_i

A country without a production row produces nothing (0); a missing PV score
(NaN) makes every result that uses it NaN.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

WGI_MAX = 2.5
NAN = math.nan

SLICE = ["mineral", "stage", "year"]
IMPORTER = ["mineral", "stage", "year", "importer"]

Key3 = tuple[str, str, int]
Key4 = tuple[str, str, int, str]


# --------------------------------------------------------------------------- pandas


def pandas_shares(production: pd.DataFrame) -> pd.Series:
    """Share of every production row in its (mineral, stage, year) total."""
    total = production.groupby(SLICE)["quantity"].transform("sum")
    return production["quantity"] / total


def pandas_hhi(production: pd.DataFrame) -> pd.Series:
    """HHI per (mineral, stage, year), indexed by those labels."""
    total = production.groupby(SLICE)["quantity"].transform("sum")
    return production.assign(sq=(production["quantity"] / total) ** 2).groupby(SLICE)["sq"].sum()


def pandas_import_mix(trade: pd.DataFrame) -> pd.Series:
    """Share of every trade row in its importer's total imports (same row order)."""
    total = trade.groupby(IMPORTER)["quantity"].transform("sum")
    return trade["quantity"] / total


def pandas_import_hhi(trade: pd.DataFrame) -> pd.Series:
    """HHI of each importer's suppliers, indexed by (mineral, stage, year, importer)."""
    total = trade.groupby(IMPORTER)["quantity"].transform("sum")
    return trade.assign(sq=(trade["quantity"] / total) ** 2).groupby(IMPORTER)["sq"].sum()


def pandas_geopolrisk(
    production: pd.DataFrame, trade: pd.DataFrame, governance: pd.DataFrame
) -> pd.DataFrame:
    """GeoPolRisk per (mineral, stage, year, importer) with imports.

    Returns a frame indexed by (mineral, stage, year, importer) with ``hhi``,
    ``import_risk`` and ``score``.
    """
    mine = production[production["stage"] == "mining"]
    mine_total = mine.groupby(["mineral", "year"])["quantity"].transform("sum")
    hhi = (
        mine.assign(sq=(mine["quantity"] / mine_total) ** 2)
        .groupby(["mineral", "year"])["sq"]
        .sum()
        .rename("hhi")
    )
    weights = governance.assign(g=((WGI_MAX - governance["pv"]) / (2 * WGI_MAX)).clip(0.0, 1.0))
    weights = weights.rename(columns={"country": "exporter"})[["year", "exporter", "g"]]
    flows = trade.merge(weights, on=["year", "exporter"], how="left")
    flows["gf"] = flows["g"] * flows["quantity"]
    grouped = flows.groupby(IMPORTER)
    result = pd.DataFrame(
        {
            "numerator": grouped["gf"].sum(skipna=False),
            "imports": grouped["quantity"].sum(),
        }
    )
    own = production.rename(columns={"country": "importer", "quantity": "own_production"})
    result = result.join(own.set_index(IMPORTER)["own_production"], how="left")
    # no production row: the importer produces nothing
    result["own_production"] = result["own_production"].fillna(0.0)
    result["import_risk"] = result["numerator"] / (result["own_production"] + result["imports"])
    result = result.join(hhi, on=["mineral", "year"])
    result["score"] = result["hhi"] * result["import_risk"]
    return result[["hhi", "import_risk", "score"]]


# --------------------------------------------------------------------------- loops


@dataclass
class RowIndex:
    """Rows of the long tables grouped by key, in plain Python containers."""

    production: dict[Key3, list[tuple[str, float]]]
    own: dict[Key4, float]
    imports: dict[Key4, list[tuple[str, float]]]
    pv: dict[tuple[int, str], float]


def group_rows(production: pd.DataFrame, trade: pd.DataFrame, governance: pd.DataFrame) -> RowIndex:
    """Group the rows by key with a plain loop (the loop baselines' set-up)."""
    prod: dict[Key3, list[tuple[str, float]]] = {}
    own: dict[Key4, float] = {}
    for m, s, t, c, q in zip(
        production["mineral"].tolist(),
        production["stage"].tolist(),
        production["year"].tolist(),
        production["country"].tolist(),
        production["quantity"].tolist(),
        strict=True,
    ):
        prod.setdefault((m, s, t), []).append((c, q))
        own[(m, s, t, c)] = q
    imports: dict[Key4, list[tuple[str, float]]] = {}
    for m, s, t, e, i, q in zip(
        trade["mineral"].tolist(),
        trade["stage"].tolist(),
        trade["year"].tolist(),
        trade["exporter"].tolist(),
        trade["importer"].tolist(),
        trade["quantity"].tolist(),
        strict=True,
    ):
        imports.setdefault((m, s, t, i), []).append((e, q))
    pv = {
        (t, c): v
        for t, c, v in zip(
            governance["year"].tolist(),
            governance["country"].tolist(),
            governance["pv"].tolist(),
            strict=True,
        )
    }
    return RowIndex(prod, own, imports, pv)


def _total(rows: list[tuple[str, float]]) -> float:
    total = 0.0
    for _, q in rows:
        total += q
    return total


def loop_shares(index: RowIndex, keys: Iterable[Key3]) -> dict[tuple[str, str, int, str], float]:
    """Share of every producer, one (mineral, stage, year) at a time."""
    out: dict[tuple[str, str, int, str], float] = {}
    for m, s, t in keys:
        rows = index.production[(m, s, t)]
        total = _total(rows)
        for c, q in rows:
            out[(m, s, t, c)] = q / total
    return out


def _hhi(rows: list[tuple[str, float]]) -> float:
    if not rows:
        return NAN
    total = _total(rows)
    hhi = 0.0
    for _, q in rows:
        share = q / total
        hhi += share * share
    return hhi


def loop_hhi(index: RowIndex, keys: Iterable[Key3]) -> dict[Key3, float]:
    """HHI of every (mineral, stage, year)."""
    return {key: _hhi(index.production[key]) for key in keys}


def loop_import_mix(
    index: RowIndex, keys: Iterable[Key4]
) -> dict[tuple[str, str, int, str, str], float]:
    """Import share of every supplier, one (mineral, stage, year, importer) at a time."""
    out: dict[tuple[str, str, int, str, str], float] = {}
    for m, s, t, i in keys:
        rows = index.imports[(m, s, t, i)]
        total = _total(rows)
        for e, q in rows:
            out[(m, s, t, e, i)] = q / total
    return out


def loop_import_hhi(index: RowIndex, keys: Iterable[Key4]) -> dict[Key4, float]:
    """HHI of the suppliers of every (mineral, stage, year, importer)."""
    return {key: _hhi(index.imports[key]) for key in keys}


def _weight(pv: float) -> float:
    if pv != pv:  # NaN: no governance score
        return NAN
    return min(max((WGI_MAX - pv) / (2 * WGI_MAX), 0.0), 1.0)


def geopolrisk_one(index: RowIndex, m: str, s: str, t: int, i: str) -> float:
    """GeoPolRisk score of one (mineral, stage, year, importer), from scratch."""
    hhi = _hhi(index.production.get((m, "mining", t), []))
    numerator = 0.0
    imports = 0.0
    for e, q in index.imports.get((m, s, t, i), []):
        numerator += _weight(index.pv.get((t, e), NAN)) * q
        imports += q
    own = index.own.get((m, s, t, i), 0.0)
    return hhi * (numerator / (own + imports))


def loop_geopolrisk(index: RowIndex, keys: Iterable[Key4]) -> dict[Key4, float]:
    """GeoPolRisk score of every (mineral, stage, year, importer) in ``keys``."""
    return {key: geopolrisk_one(index, *key) for key in keys}


def query_geopolrisk(
    production: pd.DataFrame,
    trade: pd.DataFrame,
    governance: pd.DataFrame,
    keys: Iterable[Key4],
) -> dict[Key4, float]:
    """GeoPolRisk per result, each selecting its rows from the long tables.

    The shape of a loop over database queries (geopolrisk-py runs SQL queries
    per material, country and year): for every result, select the mining
    production of the mineral and year, the importer's flows and own
    production, and the exporters' PV, then compute.
    """
    out: dict[Key4, float] = {}
    for m, s, t, i in keys:
        mine = production.loc[
            (production["mineral"] == m)
            & (production["stage"] == "mining")
            & (production["year"] == t),
            "quantity",
        ]
        shares = mine / mine.sum()
        hhi = float((shares * shares).sum()) if len(mine) else NAN
        flows = trade.loc[
            (trade["mineral"] == m)
            & (trade["stage"] == s)
            & (trade["year"] == t)
            & (trade["importer"] == i),
            ["exporter", "quantity"],
        ]
        gov = governance[governance["year"] == t].set_index("country")["pv"]
        g = ((WGI_MAX - gov.reindex(flows["exporter"]).to_numpy()) / (2 * WGI_MAX)).clip(0, 1)
        numerator = float((g * flows["quantity"].to_numpy()).sum())
        own_rows = production.loc[
            (production["mineral"] == m)
            & (production["stage"] == s)
            & (production["year"] == t)
            & (production["country"] == i),
            "quantity",
        ]
        own = float(own_rows.sum())
        out[(m, s, t, i)] = hhi * numerator / (own + float(flows["quantity"].sum()))
    return out
