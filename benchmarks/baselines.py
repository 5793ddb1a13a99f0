r"""Baselines riskengine is measured against, written from docs/methods.md.

Three kinds, all independent of :mod:`riskengine.indices`:

* **pandas**: the implementation a user writes on the long tables, with the
  fast idioms: text labels as categoricals, ``groupby(..., sort=False,
  observed=True)``, ``transform("sum")`` for per-row shares, one grouped sum of
  ``q`` and ``q²`` for an HHI, ``merge`` on columns; vectorized, no ``apply``.
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
(NaN) makes every result that uses it NaN; the residual "other countries" row
(``XOT``) counts in production totals but adds nothing to sums of squares.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

from riskengine.dims import OTHER_COUNTRIES as OTHER

WGI_MAX = 2.5
NAN = math.nan

SLICE = ["mineral", "stage", "year"]
IMPORTER = ["mineral", "stage", "year", "importer"]

Key3 = tuple[str, str, int]
Key4 = tuple[str, str, int, str]


# --------------------------------------------------------------------------- pandas


def _atomistic(frame: pd.DataFrame, column: str) -> pd.Series:
    """Return the quantities, 0 for the residual "other countries" row (not a producer)."""
    return frame["quantity"].where(frame[column] != OTHER, 0.0)


def pandas_hhi(production: pd.DataFrame) -> pd.Series:
    """HHI per (mineral, stage, year), indexed by those labels.

    The residual row counts in the total but not in the sum of squares.
    """
    atom = _atomistic(production, "country")
    sums = (
        production.assign(q2=atom * atom)
        .groupby(SLICE, sort=False, observed=True)[["quantity", "q2"]]
        .sum()
    )
    return sums["q2"] / sums["quantity"] ** 2


def pandas_import_mix(trade: pd.DataFrame, by: str | list[str] = IMPORTER) -> pd.Series:
    """Share of every trade row in its importer's total imports (same row order).

    ``by`` is the grouping: the four label columns, or one precomputed
    ``cell`` column (see :func:`with_cells`).
    """
    total = trade.groupby(by, sort=False, observed=True)["quantity"].transform("sum")
    return trade["quantity"] / total


def pandas_import_hhi(trade: pd.DataFrame, by: str | list[str] = IMPORTER) -> pd.Series:
    r"""HHI of each importer's suppliers, indexed by (mineral, stage, year, importer).

    One grouped sum of the quantities and of their squares:
    :math:`\sum_e (f_e / F)^2 = \sum_e f_e^2 / F^2`.
    """
    q = trade["quantity"]
    sums = trade.assign(q2=q * q).groupby(by, sort=False, observed=True)[["quantity", "q2"]].sum()
    return sums["q2"] / sums["quantity"] ** 2


def with_cells(trade: pd.DataFrame) -> pd.DataFrame:
    """Return the trade table with one categorical ``cell`` column naming the importer cell.

    The pandas counterpart of riskengine's importer cells computed once: the
    group number of every row (``ngroup``) as categorical codes, so that a
    ``groupby("cell")`` starts from ready codes.
    """
    codes = trade.groupby(IMPORTER, sort=False, observed=True).ngroup().to_numpy()
    cells = pd.Categorical.from_codes(codes, categories=pd.RangeIndex(int(codes.max()) + 1))
    return trade.assign(cell=cells)


def pandas_geopolrisk(
    production: pd.DataFrame, trade: pd.DataFrame, governance: pd.DataFrame
) -> pd.DataFrame:
    """GeoPolRisk per (mineral, stage, year, importer) with imports.

    Returns a frame with the columns ``mineral, stage, year, importer, hhi,
    import_risk, score``. The PV weights are merged onto the flows, the
    grouped sums merged with the importer's own production and the mining HHI
    (``merge`` on columns: joining on a four-level index costs ten times more).
    """
    mine = production[production["stage"] == "mining"]
    atom = _atomistic(mine, "country")
    sums = mine.assign(q2=atom * atom).groupby(["mineral", "year"], sort=False, observed=True)[
        ["quantity", "q2"]
    ]
    totals = sums.sum()
    hhi = (totals["q2"] / totals["quantity"] ** 2).rename("hhi").reset_index()
    weights = governance.assign(g=((WGI_MAX - governance["pv"]) / (2 * WGI_MAX)).clip(0.0, 1.0))
    weights = weights.rename(columns={"country": "exporter"})[["year", "exporter", "g"]]
    flows = trade.merge(weights, on=["year", "exporter"], how="left")
    flows["gf"] = flows["g"] * flows["quantity"]
    grouped = flows.groupby(IMPORTER, sort=False, observed=True)
    result = pd.DataFrame(
        {
            "numerator": grouped["gf"].sum(skipna=False),
            "imports": grouped["quantity"].sum(),
        }
    ).reset_index()
    own = production.rename(columns={"country": "importer", "quantity": "own_production"})
    result = result.merge(own[[*IMPORTER, "own_production"]], on=IMPORTER, how="left")
    # no production row: the importer produces nothing
    result["own_production"] = result["own_production"].fillna(0.0)
    result["import_risk"] = result["numerator"] / (result["own_production"] + result["imports"])
    result = result.merge(hhi, on=["mineral", "year"], how="left")
    result["score"] = result["hhi"] * result["import_risk"]
    return result[[*IMPORTER, "hhi", "import_risk", "score"]]


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


def _hhi(rows: list[tuple[str, float]]) -> float:
    if not rows:
        return NAN
    total = _total(rows)
    hhi = 0.0
    for c, q in rows:
        if c != OTHER:
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
            ["country", "quantity"],
        ]
        shares = _atomistic(mine, "country") / mine["quantity"].sum()
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
