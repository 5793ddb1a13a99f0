r"""Apply a scenario's shocks to a dataset's quantities.

The engine works on the scenario's baseline year and the minerals its
shocks name: a dense block of production ``P[m, s, c]`` and flows
``F[m, s, e, i]`` (:meth:`~riskengine.dataset.Dataset.trade_array`), in
contained tonnes per year while the shock lasts (figures the source withholds
and flows without a quantity count as 0). Shocks act on quantities, never on
shares; indices and scores are recomputed from the shocked quantities by the
scoring methods.

For every mineral, stages are processed upstream first (``mining``,
``intermediate``, ``refining``, ``component``), and within a stage in this
order:

1. **propagation** (refining only): when less ore or intermediate reaches a
   refiner, its refined output and refined exports fall in the same
   proportion;
2. ``production_disruption``: output cut (below);
3. ``export_ban`` then ``export_quota``: flows scaled down;
4. **trade deflection** of targeted bans (:func:`~riskengine.scenarios.market.deflect`);
5. ``partnership``: flows redirected, then re-sourcing
   (:func:`~riskengine.scenarios.market.redirect`);
6. **pass-through**: importers that lost supply pass the share they
   re-export on to their own buyers (:func:`~riskengine.scenarios.market.pass_through`);
7. ``new_supply``: production raised, sold to importers short of supply.

Then demand shocks, stockpile draws and the price response are computed per
mineral and stage.

Cutting a country's output
--------------------------
When country ``c`` loses a fraction ``f`` of its output (disruption, or ``phi``
by propagation), its production and each of its export flows fall by ``f``;
its own use falls by ``f * max(P_c - X_c, 0)``.

Propagation across stages
-------------------------
Refineries are fed by the feed stages,
:data:`~riskengine.methods.composite.FEED_STAGES` (ore and concentrate at
``mining``; mattes, hydroxides, MHP, blister copper at ``intermediate``), as
in the composite's upstream factor. A refiner's feed is the mine output it
keeps plus its imports at the feed stages:
``feed_e = max(P^{mine}_e - X^{feed}_e, 0) + sum_k F^{feed}_{ke}`` with
``F^{feed} = F^{mine} + F^{intermediate}`` and ``X^{feed}_e`` its exports of
both. After the shocks at the feed stages, refined output and exports are
cut by ``phi_e = 1 - min(feed'_e / feed_e, 1)``: a loss from each origin
counts in proportion to its share of the feed mix. Refineries are taken to
run at capacity in the baseline: more feed does not raise refined output,
less feed lowers it. A refiner with refined exports but no recorded refined
output has its exports cut. Nothing propagates from ``mining`` to
``intermediate`` (a mine disruption does not cut the country's hydroxide or
matte exports: shock the ``intermediate`` stage for that) nor from
``refining`` to ``component``.

Shortfall
---------
With ``C0 = max(P + M - X, 0)`` the baseline apparent consumption, ``dA`` the
change in what stays in the country and ``k`` the demand multiplier, the
shortfall is ``max(C0 (k - 1) - dA, 0)`` tonnes per year while the shock
lasts; stockpile draws reduce it.

Price
-----
The price of every touched pair is the two-region model,
:func:`~riskengine.scenarios.market.two_region_price`. The restricting
countries are the exporters of the scenario's export bans (severity > 0) and
quotas on the pair; the rest of the world is outside. The volume they keep
is the ledger's ``withheld + quota_withheld`` (after trade deflection; a ban
naming some importers is ``targeted``); production lost (disrupted or
propagated) less stockpile draws, and the demand change outside, add to the
outside gap as extra demand. ``D_E`` and ``D_R`` are the baseline apparent
consumption inside and outside; the horizon is the scenario's
``duration_months``; ``market.elasticities`` replaces the mineral's ``eta``.
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np
import pandas as pd

from riskengine import indices as ix
from riskengine.dataset import Dataset
from riskengine.dims import OTHER_COUNTRIES, REGIONS, STAGES, Stage
from riskengine.errors import AmbiguousLabelError, ScenarioError
from riskengine.flows import AMOUNTS, Flows
from riskengine.io.countries import country_name
from riskengine.methods.composite import FEED_STAGES
from riskengine.scenarios import market as mk
from riskengine.scenarios.models import (
    DemandShock,
    ExportBan,
    ExportQuota,
    NewSupply,
    Partnership,
    ProductionDisruption,
    Scenario,
    StockpileRelease,
    format_path,
)

logger = logging.getLogger(__name__)

Loc = tuple[str | int, ...]

#: Order in which the stages of a mineral are shocked: upstream first.
STAGE_ORDER: tuple[str, ...] = STAGES


# ------------------------------------------------------------------ labels
@dataclass
class ResolvedShock:
    """A shock with its labels mapped to dataset positions."""

    index: int
    shock: Any
    minerals: list[int]
    stages: list[int]
    countries: dict[str, np.ndarray] = field(default_factory=dict)
    all_importers: bool = False
    #: Country names and what each became (``shocks[0].exporters[0]: 'China' resolved to CHN``).
    resolved: list[str] = field(default_factory=list)


class _Labels:
    """Map a scenario's labels to dataset positions, collecting every problem."""

    def __init__(self, ds: Dataset, scenario: Scenario) -> None:
        self.ds = ds
        self.scenario = scenario
        self.problems: list[str] = []
        self.resolved: list[str] = []

    def fail(self, loc: Loc, message: str) -> None:
        self.problems.append(f"{self.scenario.locate(loc)}: {message}")

    def minerals(self, values: Iterable[str], loc: Loc) -> list[int]:
        out = []
        valid = ", ".join(map(str, self.ds.minerals))
        for j, value in enumerate(values):
            if value in self.ds.minerals:
                out.append(_pos(self.ds.minerals, value))
            else:
                where = (*loc, j) if loc[-1] == "minerals" else loc
                self.fail(where, f"unknown mineral {value!r} in this dataset; valid: {valid}")
        return out

    def countries(self, values: Iterable[str], loc: Loc, *, regions: bool = False) -> np.ndarray:
        out: list[int] = []
        index = self.ds.countries
        plural = loc[-1] in ("exporters", "importers", "holders")
        for j, value in enumerate(values):
            where = (*loc, j) if plural else loc
            if regions and value.upper() in REGIONS:
                members = [c for c in REGIONS[value.upper()] if c in index]
                out.extend(_pos(index, c) for c in members)
                continue
            try:
                code = self.ds.country_code(value)
            except AmbiguousLabelError as exc:
                self.fail(where, str(exc))
                continue
            if code is not None and value != code:
                self.resolved.append(
                    f"{format_path(where)}: {value!r} resolved to {code} ({country_name(code)})"
                )
            if code is None:
                shown = ", ".join(str(c) for c in list(index)[:40])
                more = f", ... ({len(index)} in all)" if len(index) > 40 else ""
                extra = f"; regions: {', '.join(REGIONS)}" if regions else ""
                self.fail(
                    where,
                    f"unknown country {value!r}; use an ISO3 code or a country name known "
                    f"to the dataset; valid: {shown}{more}{extra}",
                )
            else:
                out.append(_pos(index, code))
        return np.unique(np.asarray(out, dtype=int))


def _pos(index: pd.Index, label: object) -> int:
    """Position of a label known to be in ``index``."""
    return int(index.get_indexer(pd.Index([label]))[0])


def resolve(ds: Dataset, scenario: Scenario) -> list[ResolvedShock]:
    """Map every mineral, stage and country of the scenario to the dataset.

    Raises
    ------
    ScenarioError
        Listing every unknown label as ``file:line: shocks[i].field: ...``
        with the valid choices, and a baseline year the dataset lacks.
    """
    labels = _Labels(ds, scenario)
    if scenario.year not in {int(y) for y in ds.years}:
        labels.fail(
            ("year",),
            f"the dataset {ds.name!r} has no year {scenario.year}; valid: "
            + ", ".join(str(int(y)) for y in ds.years),
        )
    for mineral in scenario.market.elasticities:
        if mineral not in ds.minerals:
            labels.fail(
                ("market", "elasticities", mineral),
                f"unknown mineral {mineral!r} in this dataset; valid: "
                + ", ".join(map(str, ds.minerals)),
            )
    out: list[ResolvedShock] = []
    for i, shock in enumerate(scenario.shocks):
        loc: Loc = ("shocks", i)
        mineral_field = "minerals" if isinstance(shock, ExportBan) else "mineral"
        minerals = labels.minerals(shock.minerals_of(), (*loc, mineral_field))
        stages = [_pos(ds.stages, s) for s in shock.stages_of() if s in ds.stages]
        item = ResolvedShock(index=i, shock=shock, minerals=minerals, stages=stages)
        start = len(labels.resolved)
        for name in ("exporters", "exporter", "country", "holders", "importer", "partner"):
            value = getattr(shock, name, None)
            if value is not None:
                values = [value] if isinstance(value, str) else list(value)
                item.countries[name] = labels.countries(values, (*loc, name))
        importers = getattr(shock, "importers", None)
        if importers in ("all", "world"):
            item.all_importers = True
        elif importers is not None:
            item.countries["importers"] = labels.countries(
                importers, (*loc, "importers"), regions=True
            )
        item.resolved = labels.resolved[start:]
        out.append(item)
    if labels.problems:
        origin = scenario.origin or "scenario"
        if len(labels.problems) == 1:
            raise ScenarioError(labels.problems[0])
        raise ScenarioError(
            f"{origin}: {len(labels.problems)} labels do not match the dataset {ds.name!r}:\n"
            + "\n".join(f"  {p}" for p in labels.problems)
        )
    return out


# ---------------------------------------------------------------- ledgers
@dataclass
class PairLedger:
    """Tonnes per year moved by the shocks on one mineral and stage.

    Production-side entries are in production units; trade-side entries in
    trade units (see the module notes on units).
    """

    production_lost: float = 0.0
    propagated_loss: float = 0.0
    blocked: float = 0.0
    deflected: float = 0.0
    withheld: float = 0.0
    quota_withheld: float = 0.0
    redirected: float = 0.0
    partnership_surplus: float = 0.0
    passed_on: float = 0.0
    new_supply: float = 0.0
    stockpile_draw: float = 0.0
    demand_change: float = 0.0


@dataclass
class PairPrice:
    """Inputs and result of the two-region price of one mineral and stage.

    ``restricting`` is boolean ``[c]``; tonnes are per year.
    """

    restricting: np.ndarray
    targeted: bool
    withheld: float
    outside_consumption: float
    inside_consumption: float
    demand_change: float
    price: mk.TwoRegionPrice


def pair_price(
    mineral: str,
    consumption0: np.ndarray,
    restricting: np.ndarray,
    targeted: bool,
    ledger: PairLedger,
    outside_demand_change: float,
    months: float,
    eta: float | None = None,
) -> PairPrice:
    """Two-region price of one pair from its ledger (module notes, "Price").

    The stress sweep prices its bans with this same function.
    """
    inside = float(consumption0[restricting].sum())
    outside = float(consumption0[~restricting].sum())
    withheld = ledger.withheld + ledger.quota_withheld
    extra = (
        ledger.production_lost
        + ledger.propagated_loss
        - ledger.stockpile_draw
        + outside_demand_change
    )
    price = mk.two_region_price(
        withheld,
        outside,
        inside,
        months,
        mk.market_parameters(mineral, eta),
        targeted=targeted,
        demand_change=extra,
    )
    return PairPrice(restricting, targeted, withheld, outside, inside, extra, price)


@dataclass
class Simulation:
    """Shocked quantities of the scenario year and what happened on the way.

    Attributes
    ----------
    scenario : Scenario
    dataset : Dataset
        The baseline restricted to the scenario's minerals and year; all
        arrays below use its coordinates.
    production0, production : ndarray
        ``[mineral, stage, country]`` contained tonnes before and after
        (withheld figures counted as 0).
    flows0, flows : ndarray or None
        ``[mineral, stage, exporter, importer]`` contained tonnes before and
        after (the dense block of :meth:`~riskengine.dataset.Dataset.trade_array`);
        None when the dataset has no trade.
    adjust : ndarray
        ``[m, s, c]`` correction of ``dP + dM - dX`` for countries whose
        exports exceed their output (the output cut rule above).
    pairs : list of (int, int)
        Mineral and stage positions the scenario touches.
    ledgers : dict
        :class:`PairLedger` per touched pair.
    demand : ndarray
        Demand multipliers ``[m, s, c]``.
    stock, stock_draw : ndarray
        Stock available (tonnes) and drawn (tonnes per year) ``[m, s, c]``.
    gross_shortfall : ndarray
        Shortfall before stockpile draws ``[m, s, c]``.
    prices : dict
        :class:`PairPrice` per touched pair.
    notes : list of str
        What the engine could not do or chose, in words.
    """

    scenario: Scenario
    dataset: Dataset
    production0: np.ndarray
    production: np.ndarray
    flows0: np.ndarray | None
    flows: np.ndarray | None
    adjust: np.ndarray
    pairs: list[tuple[int, int]]
    ledgers: dict[tuple[int, int], PairLedger]
    demand: np.ndarray
    stock: np.ndarray
    stock_draw: np.ndarray
    gross_shortfall: np.ndarray
    prices: dict[tuple[int, int], PairPrice]
    notes: list[str]

    @property
    def year(self) -> int:
        """Baseline year."""
        return self.scenario.year

    def consumption0(self, m: int, s: int) -> np.ndarray:
        """Baseline apparent consumption ``max(P + M - X, 0)`` of a pair."""
        f0 = None if self.flows0 is None else self.flows0[m, s]
        return consumption(self.production0[m, s], f0)

    def supply_change(self, m: int, s: int) -> np.ndarray:
        """Change ``dA`` in what stays in each country."""
        f0 = None if self.flows0 is None else self.flows0[m, s]
        f1 = None if self.flows is None else self.flows[m, s]
        return supply_change(
            self.production0[m, s], f0, self.production[m, s], f1, self.adjust[m, s]
        )


def refinery_feed(mine: np.ndarray, feed_flows: np.ndarray) -> np.ndarray:
    """Refinery feed ``max(P^{mine} - X^{feed}, 0) + M^{feed}`` per country.

    ``feed_flows`` is ``[..., e, i]``, the flows of the feed stages summed
    (:data:`~riskengine.methods.composite.FEED_STAGES`); ``mine`` is
    ``[..., c]``. :func:`feed_totals` is the same from export and import totals.
    """
    return feed_totals(mine, feed_flows.sum(axis=-1), feed_flows.sum(axis=-2))


def feed_totals(mine: np.ndarray, exports: np.ndarray, imports: np.ndarray) -> np.ndarray:
    """Refinery feed ``max(P^{mine} - X^{feed}, 0) + M^{feed}`` from totals ``[..., c]``."""
    return ix.retained_output(mine, exports) + imports


def feed_loss(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """Fraction of each refiner's feed lost, ``phi = 1 - min(feed' / feed, 1)`` (module notes).

    ``before`` and ``after`` are refinery feeds (:func:`refinery_feed`) with
    any leading batch axes. More feed does not raise refined output
    (refineries run at capacity): phi >= 0; losses below ``1e-12`` are
    rounding and count as 0.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(before > 0, after / before, 1.0)
    loss = np.clip(1.0 - ratio, 0.0, 1.0)
    loss[loss < 1e-12] = 0.0
    return loss


def cut_output(
    production: np.ndarray, flows: np.ndarray | None, frac: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cut each country's output and exports by ``frac`` (module notes), in place.

    Parameters
    ----------
    production
        ``P[..., c]``, cut in place.
    flows
        ``F[..., e, i]`` or None, rows scaled in place by ``1 - frac``.
    frac
        ``[..., c]`` fraction of output lost.

    Returns
    -------
    lost : ndarray
        Production lost, per member of the batch.
    adjust : ndarray
        ``[..., c]`` correction of ``dP + dM - dX`` for countries whose
        export cut exceeds their output cut (exports from stocks or re-exports).
    unrecorded : ndarray
        Exports lost by countries without recorded output, per member.
    """
    exports = None if flows is None else flows.sum(axis=-1)
    lost, adjust = output_cut(production, exports, frac)
    unrecorded = np.zeros(lost.shape[:-1])
    if flows is not None:
        unrecorded = np.where(production <= 0, exports * frac, 0.0).sum(axis=-1)
        flows *= (1.0 - frac)[..., :, None]
    production -= lost
    np.maximum(production, 0.0, out=production)
    return lost.sum(axis=-1), adjust, unrecorded


def output_cut(
    production: np.ndarray, exports: np.ndarray | None, frac: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Output lost, ``P frac``, and the correction of ``dA`` when exports fall by more.

    The rule of :func:`cut_output` on totals ``[..., c]``: exports fall by
    ``X frac``; where that exceeds the output lost (exports from stocks or
    re-exports) the excess, ``-max(X frac - P frac, 0)``, is the correction
    of ``dP + dM - dX`` (``exports`` None: no correction).
    """
    lost = production * frac
    if exports is None:
        return lost, np.zeros_like(lost)
    return lost, -np.maximum(exports * frac - lost, 0.0)


def balance(production: np.ndarray, flows: np.ndarray | None) -> np.ndarray:
    """``P + M - X`` per country, over any leading axes (``flows`` None: ``P``)."""
    if flows is None:
        return production.copy()
    return production + flows.sum(axis=-2) - flows.sum(axis=-1)


def consumption(production: np.ndarray, flows: np.ndarray | None) -> np.ndarray:
    """Apparent consumption ``max(P + M - X, 0)`` per country, over any leading axes."""
    return np.maximum(balance(production, flows), 0.0)


def supply_change(
    production0: np.ndarray,
    flows0: np.ndarray | None,
    production: np.ndarray,
    flows: np.ndarray | None,
    adjust: np.ndarray,
) -> np.ndarray:
    """Change ``dA = (P' + M' - X') - (P + M - X) + adj`` of what stays in each country.

    ``adj`` corrects countries whose export cut exceeds their output cut
    (:func:`cut_output`); any leading axes.
    """
    return balance(production, flows) - balance(production0, flows0) + adjust


@dataclass
class RowResponse:
    """What row-scaling shocks did to one mineral, for a batch (:func:`respond_rows`).

    Shocked flows of stage ``s`` are ``diag(row_factors[s][b]) F0[s]``
    (``[batch, exporter]`` per stage). Output changes only at the refining
    stage, where lost feed cuts it: ``lost`` and ``cut_adjust`` are
    ``[batch, refiners]`` on the columns ``refiners`` of that stage.
    Ledger tonnes are ``[batch, stage]``.
    """

    production0: np.ndarray
    prepared: list[mk.PassThrough]
    s_ref: int | None
    row_factors: list[np.ndarray]
    refiners: np.ndarray
    lost: np.ndarray
    cut_adjust: np.ndarray
    withheld: np.ndarray
    passed_on: np.ndarray
    propagated_loss: np.ndarray

    @property
    def rows(self) -> np.ndarray:
        """Row factors ``[batch, stage, exporter]``."""
        return np.stack(self.row_factors, axis=1)

    @property
    def production(self) -> np.ndarray:
        """Output after the shocks, ``[batch, stage, country]``."""
        k = len(self.withheld)
        out = np.broadcast_to(self.production0, (k, *self.production0.shape)).copy()
        if self.s_ref is not None:
            c = self.refiners
            out[:, self.s_ref, c] = np.maximum(out[:, self.s_ref, c] - self.lost, 0.0)
        return out

    @property
    def adjust(self) -> np.ndarray:
        """Correction of ``dP + dM - dX`` ``[batch, stage, country]`` (:func:`cut_output`)."""
        out = np.zeros((len(self.withheld), *self.production0.shape))
        if self.s_ref is not None:
            out[:, self.s_ref, self.refiners] = self.cut_adjust
        return out

    def supply_change(self, s: int, columns: np.ndarray) -> np.ndarray:
        """Change ``dA = dP + dM - dX`` (+ the cut's correction) at ``s``, ``[columns, batch]``.

        The change of what stays in each country (:meth:`Simulation.supply_change`),
        from the row factors ``r``: ``dM = F0^T (r - 1)`` and ``dX = (r - 1) X0``.
        """
        pt = self.prepared[s]
        deficit_t = np.ascontiguousarray((1.0 - self.row_factors[s]).T)  # [exporter, batch]
        change = np.asarray(pt.base[:, columns].T @ deficit_t)
        np.negative(change, out=change)
        change += deficit_t[columns] * pt.exports0[columns, None]
        if s == self.s_ref and len(self.refiners):
            at = np.flatnonzero(np.isin(columns, self.refiners))
            where = np.searchsorted(self.refiners, columns[at])
            change[at] -= self.lost[:, where].T
            change[at] += self.cut_adjust[:, where].T
        return change


def respond_rows(
    production0: np.ndarray,
    flows0: list[Any],
    scale: np.ndarray,
    feed: list[int],
    s_mine: int | None,
    s_ref: int | None,
    prepared: list[mk.PassThrough] | None = None,
) -> RowResponse:
    """Run the engine on shocks that scale exporters' rows, for a batch of shocks at once.

    Export disruptions and bans on all importers scale each exporter's row
    of one stage by ``1 - severity``; nothing is deflected (a ban on all
    buyers deflects nothing). Stages are processed upstream first as in
    :func:`simulate`: at the refining stage the feed lost upstream is
    propagated first (:func:`feed_loss`, :func:`cut_output`), then the
    stage's own shocks, then pass-through
    (:meth:`~riskengine.scenarios.market.PassThrough.cut`). Every step keeps
    the flows of each stage of the form ``diag(rows) F0``, so a member of the
    batch costs vectors, not matrices, and only the columns a step can
    change are computed: refiners for propagation, passers for pass-through.

    Parameters
    ----------
    production0
        ``P[stage, country]``.
    flows0
        Per stage, ``F0[e, i]`` (dense or scipy sparse).
    scale
        ``[batch, stage, exporter]``: the factor each shock leaves on an
        exporter's row (1: not shocked); a broadcast view is fine.
    feed, s_mine, s_ref
        Positions of the feed stages, the mining stage and the refining
        stage (None when absent).
    prepared
        :class:`~riskengine.scenarios.market.PassThrough` of each stage, when
        the caller runs many batches on one baseline (None: prepared here).

    Returns
    -------
    RowResponse

    See Also
    --------
    ExporterResponse : the same response prepared for a fixed set of
        shocked exporters and batches of their deficits (the Monte Carlo's
        draws), returning the supply change of chosen countries.
    """
    k, n_s, _ = scale.shape
    if prepared is None:
        prepared = [mk.PassThrough.prepare(flows0[s], production0[s]) for s in range(n_s)]
    factors: list[np.ndarray] = []
    refiners = np.zeros(0, dtype=np.intp)
    lost = np.zeros((k, 0))
    cut_adjust = np.zeros((k, 0))
    withheld = np.zeros((k, n_s))
    passed = np.zeros((k, n_s))
    propagated = np.zeros((k, n_s))
    for s in range(n_s):
        pt = prepared[s]
        total = scale[:, s]
        if s == s_ref and feed:
            # refiners: output or exports at the stage; their feed after the
            # upstream shocks, whose flows are diag(rows) F0 (X = rows X0)
            refiners = np.flatnonzero((production0[s] > 0) | (pt.exports0 > 0))
            mine = production0[s_mine, refiners] if s_mine is not None else np.zeros(len(refiners))
            x0 = np.sum([prepared[f].exports0[refiners] for f in feed], axis=0)
            m0 = np.sum([prepared[f].imports0[refiners] for f in feed], axis=0)
            x1, m1 = np.zeros((k, len(refiners))), np.zeros((k, len(refiners)))
            for f in feed:
                if prepared[f].exports0.any():  # a stage without trade adds nothing
                    x1 += factors[f][:, refiners] * prepared[f].exports0[refiners]
                    m1 += np.asarray(factors[f] @ prepared[f].base[:, refiners])
            phi = feed_loss(feed_totals(mine, x0, m0), feed_totals(mine, x1, m1))
            lost, cut_adjust = output_cut(production0[s, refiners], pt.exports0[refiners], phi)
            propagated[:, s] = lost.sum(axis=1)
            total = total.copy()
            total[:, refiners] *= 1.0 - phi
        traded = np.flatnonzero(pt.exports0 > 0)
        if not len(traded):  # no trade at the stage: nothing withheld or passed on
            factors.append(total)
            continue
        # withheld by the stage's own shocks, from what propagation left
        withheld[:, s] = (1.0 - scale[:, s, traded]) @ pt.exports0[traded]
        if s == s_ref and feed:
            withheld[:, s] -= ((1.0 - scale[:, s, refiners]) * phi) @ pt.exports0[refiners]
        moved, cut = pt.cut(total)
        rows_s = np.array(total, copy=True)
        if len(moved) and cut.size:
            if len(moved) == k:  # most often every member moved
                rows_s[:, pt.passers] -= cut / pt.exports0[pt.passers]
            else:
                rows_s[np.ix_(moved, pt.passers)] -= cut / pt.exports0[pt.passers]
            passed[moved, s] = cut.sum(axis=1)
        factors.append(rows_s)
    return RowResponse(
        production0,
        prepared,
        s_ref,
        factors,
        refiners,
        lost,
        cut_adjust,
        withheld,
        passed,
        propagated,
    )


def _dense(matrix: np.ndarray, rows: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """``matrix[rows][:, columns]`` (a copy)."""
    return matrix[np.ix_(rows, columns)]


def _indicator(rows: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """``[rows, columns]``: 1 where the two label the same country."""
    return (rows[:, None] == columns[None, :]).astype(float)


def _rows_of(
    hits: tuple[np.ndarray, np.ndarray, np.ndarray], rows: np.ndarray, width: int
) -> np.ndarray:
    """Rows ``rows`` (sorted, distinct) of the array whose nonzeros are ``(row, column, value)``."""
    member, column, value = hits
    at = np.minimum(np.searchsorted(rows, member), len(rows) - 1)
    keep = rows[at] == member
    out = np.zeros((len(rows), width))
    out[at[keep], column[keep]] = value[keep]
    return out


@dataclass
class _LinearStage:
    """The maps of one stage of :class:`ExporterResponse` (``J`` shocked, ``R`` refiners).

    A member's deficits at the stage are ``d`` on ``J`` plus, at the refining
    stage, ``f`` on ``R`` (the feed lost). Without a bound, the passers pass
    on ``d @ q_cells + f @ q_refiners`` tonnes; a capped member's imports
    lost are ``d @ into_cells + f @ into_refiners``.
    """

    passers: np.ndarray
    q_cells: np.ndarray  # [J, passers]
    q_refiners: np.ndarray  # [R, passers]
    into_cells: np.ndarray  # [J, passers]
    into_refiners: np.ndarray  # [R, passers]
    bound_cells: tuple[np.ndarray, np.ndarray]  # positions in J of passers, theirs among passers
    bound_refiners: tuple[np.ndarray, np.ndarray]  # the same in R
    exports_p: np.ndarray  # X0 of the passers
    cell_passer: np.ndarray  # [J]: position among the passers, -1 for none
    exceed: np.ndarray  # [passers]: X0 + tol where a passer could pass on more than X0
    # without being shocked itself, inf elsewhere
    q_sum_cells: np.ndarray  # [J]: tonnes passed on in all per unit deficit
    q_sum_refiners: np.ndarray  # [R]

    @classmethod
    def prepare(
        cls, pt: mk.PassThrough, base: np.ndarray, cells: np.ndarray, refiners: np.ndarray
    ) -> _LinearStage:
        r"""Prepare the free pass-through per unit deficit on ``cells`` and ``refiners``.

        :math:`Q = (K^{-1}\,\mathrm{diag}(x)\,F_0[U, r]^T)^T`, ``U`` the columns.
        """
        r = pt.passers
        x = np.minimum(pt.share[r], 1.0 - 1e-9)  # as the fixed point (market._fixed_point)

        def maps(columns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            into = _dense(base, columns, r)  # [U, passers]: F0[U, r]
            return np.ascontiguousarray((into * x[None, :]) @ pt.k_inv.T), into

        def bound(columns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            at = np.flatnonzero(np.isin(columns, r))
            return at, np.searchsorted(r, columns[at])

        q_cells, into_cells = maps(cells)
        q_refiners, into_refiners = maps(refiners)
        bound_cells = bound(cells)
        cell_passer = np.full(len(cells), -1, dtype=np.intp)
        cell_passer[bound_cells[0]] = bound_cells[1]
        # deficits are at most 1: a passer whose free cut, all deficits at 1,
        # stays within its exports reaches no bound unless it is shocked itself
        most = q_cells.sum(axis=0) + q_refiners.sum(axis=0)
        return cls(
            passers=r,
            q_cells=q_cells,
            q_refiners=q_refiners,
            into_cells=into_cells,
            into_refiners=into_refiners,
            bound_cells=bound_cells,
            bound_refiners=bound(refiners),
            exports_p=pt.exports0[r],
            cell_passer=cell_passer,
            exceed=np.where(
                most > pt.exports0[r], pt.exports0[r] + mk.pass_tolerance(pt.exports0), np.inf
            ),
            q_sum_cells=q_cells.sum(axis=1),
            q_sum_refiners=q_refiners.sum(axis=1),
        )

    def per_passer(self, base: np.ndarray, at: np.ndarray) -> np.ndarray:
        """``[passers, at]``: the change of what stays in ``at`` per tonne a passer cuts.

        A passer that cuts ``P`` tonnes scales its row by ``1 - P / X_0``.
        """
        return (
            _indicator(self.passers, at) - _dense(base, self.passers, at) / self.exports_p[:, None]
        )


@dataclass
class ExporterBatch:
    """What :meth:`ExporterResponse.respond` returns for a batch.

    ``change[t]`` is ``dA`` at the columns of the ``t``-th tracked entry,
    ``[columns, batch]``, as :meth:`RowResponse.supply_change` returns it;
    the ledger tonnes are ``[batch, stage]`` as in :class:`RowResponse`;
    ``bound`` counts, per stage, the members at whose pass-through a bound
    binds.
    """

    change: list[np.ndarray]
    withheld: np.ndarray
    passed_on: np.ndarray
    propagated_loss: np.ndarray
    bound: np.ndarray


@dataclass
class ExporterResponse:
    r""":func:`respond_rows` for deficits on a fixed set of exporters, prepared once.

    A Monte Carlo draw disrupts a few exporters ``J`` of a mineral, the same
    fraction ``d`` of their exports at every stage. Where no passer's
    pass-through reaches its bound, every step of :func:`respond_rows` is
    linear in ``d``, or element-wise in linear terms, so a member of a batch
    costs a few products of its sparse ``d`` with matrices fixed by the
    baseline:

    * pass-through without a bound is :math:`P = K^{-1}(x \circ L)`
      (:class:`~riskengine.scenarios.market.PassThrough`) with the imports
      lost :math:`L = F_0[J, r]^T d`, hence :math:`P = Q d` with
      :math:`Q = K^{-1}\,\mathrm{diag}(x)\,F_0[J, r]^T` (``r`` the passers);
    * the row deficits after pass-through are ``d`` on ``J`` plus
      :math:`P / X_0` on the passers, and the change of what stays in
      country ``i`` is :math:`dA_i = -\sum_e F_{0,ei} D_e + D_i X_{0,i}`,
      a fixed matrix times ``d``;
    * at the refining stage the refiners' feed exports and imports lost are
      fixed matrices times ``d``; the feed-loss fraction :math:`\phi`
      (:func:`feed_loss` of :func:`feed_totals`, with their clipping and
      the retained-output kink) and the output cut (:func:`output_cut`) are
      computed element by element as in :func:`respond_rows`, and the
      refiners' added deficit :math:`\phi (1 - d)` enters the same maps
      (only refiners whose feed the shocked exporters reach, directly or
      through passers, can lose any).

    A member at whose pass-through a bound binds (a passer would pass on more
    than it still exports: about 4 % of the members of a Monte Carlo run on
    the default data) has its cut solved by the engine's fixed point
    (:meth:`~riskengine.scenarios.market.PassThrough.solve`) and its
    correction carried through the same maps. The results agree with
    :func:`respond_rows` to rounding; the tests compare them on random
    batches.
    """

    production0: np.ndarray
    prepared: list[mk.PassThrough]
    feed: list[int]
    s_mine: int | None
    s_ref: int | None
    exporters: np.ndarray  # J
    cell_exports: np.ndarray  # [J, stage]: X0
    tracked: list[tuple[int, np.ndarray]]
    stages: list[_LinearStage]
    change_cells: list[np.ndarray]  # per tracked entry, [J, columns]
    change_refiners: list[np.ndarray]  # per tracked entry, [R, columns]
    change_passers: list[np.ndarray]  # per tracked entry, [passers, columns]
    refiner_rows: list[tuple[np.ndarray, np.ndarray]]  # per tracked entry: rows at R, their R
    refiners: np.ndarray  # R, block positions (refining stage with feed)
    cell_refiner: np.ndarray  # [J]: position in R, -1 for none
    feed_x: np.ndarray  # [J, R]: refiners' feed exports lost per unit d
    feed_m: np.ndarray  # [J, R]: refiners' feed imports lost per unit d
    feed_passers: dict[int, tuple[np.ndarray, np.ndarray]]  # feed stage: [passers, R] x and m

    @classmethod
    def prepare(
        cls,
        production0: np.ndarray,
        flows0: list[Any],
        feed: list[int],
        s_mine: int | None,
        s_ref: int | None,
        exporters: np.ndarray,
        tracked: list[tuple[int, np.ndarray]],
        prepared: list[mk.PassThrough] | None = None,
    ) -> ExporterResponse:
        """Prepare the response of one mineral's baseline to deficits on ``exporters``.

        ``production0``, ``flows0``, ``feed``, ``s_mine``, ``s_ref`` and
        ``prepared`` are those of :func:`respond_rows`; ``exporters`` are
        distinct block positions; ``tracked`` lists the ``(stage, columns)``
        whose ``dA`` :meth:`respond` returns.
        """
        n_s = production0.shape[0]
        if prepared is None:
            prepared = [mk.PassThrough.prepare(flows0[s], production0[s]) for s in range(n_s)]
        cells = np.asarray(exporters, dtype=np.intp)
        tracked = [(int(s), np.asarray(c, dtype=np.intp)) for s, c in tracked]
        none = np.zeros(0, dtype=np.intp)
        bases = [pt.base.toarray() for pt in prepared]  # the block's flows, dense
        stages = [_LinearStage.prepare(prepared[s], bases[s], cells, none) for s in range(n_s)]
        # refiners whose feed the cells reach, directly or through passers;
        # every other refiner's feed, output and exports stay as they were
        refiners = none
        feed_x = np.zeros((len(cells), 0))
        feed_m = np.zeros((len(cells), 0))
        feed_passers: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        if s_ref is not None and feed:
            pt = prepared[s_ref]
            refiners = np.flatnonzero((production0[s_ref] > 0) | (pt.exports0 > 0))
            feed_x = np.zeros((len(cells), len(refiners)))
            feed_m = np.zeros((len(cells), len(refiners)))
            for f in feed:
                pt, st = prepared[f], stages[f]
                # passers' cuts lower their exports (x) and their buyers' imports (m)
                x_r = _indicator(st.passers, refiners)
                m_r = _dense(bases[f], st.passers, refiners) / st.exports_p[:, None]
                feed_passers[f] = (x_r, m_r)
                feed_x += _indicator(cells, refiners) * pt.exports0[refiners][None, :]
                feed_x += st.q_cells @ x_r
                feed_m += _dense(bases[f], cells, refiners) + st.q_cells @ m_r
            reach = np.flatnonzero((feed_x != 0).any(axis=0) | (feed_m != 0).any(axis=0))
            refiners, feed_x, feed_m = refiners[reach], feed_x[:, reach], feed_m[:, reach]
            feed_passers = {f: (x[:, reach], m[:, reach]) for f, (x, m) in feed_passers.items()}
            stages[s_ref] = _LinearStage.prepare(prepared[s_ref], bases[s_ref], cells, refiners)
        change_cells: list[np.ndarray] = []
        change_refiners: list[np.ndarray] = []
        change_passers: list[np.ndarray] = []
        refiner_rows: list[tuple[np.ndarray, np.ndarray]] = []
        for s, at in tracked:
            pt, st = prepared[s], stages[s]
            per_passer = st.per_passer(bases[s], at)  # [passers, at]
            for columns, q, out in (
                (cells, st.q_cells, change_cells),
                (refiners if s == s_ref else none, st.q_refiners, change_refiners),
            ):
                direct = _indicator(columns, at) * pt.exports0[at][None, :]
                direct -= _dense(bases[s], columns, at)
                out.append(np.ascontiguousarray(direct + q @ per_passer))
            change_passers.append(per_passer)
            rows = np.flatnonzero(np.isin(at, refiners)) if s == s_ref else none
            refiner_rows.append((rows, np.searchsorted(refiners, at[rows])))
        at = np.flatnonzero(np.isin(cells, refiners))
        cell_refiner = np.full(len(cells), -1, dtype=np.intp)
        cell_refiner[at] = np.searchsorted(refiners, cells[at])
        return cls(
            production0=production0,
            prepared=prepared,
            feed=list(feed),
            s_mine=s_mine,
            s_ref=s_ref,
            exporters=cells,
            cell_exports=np.stack([pt.exports0[cells] for pt in prepared], axis=1),
            tracked=tracked,
            stages=stages,
            change_cells=change_cells,
            change_refiners=change_refiners,
            change_passers=change_passers,
            refiner_rows=refiner_rows,
            refiners=refiners,
            cell_refiner=cell_refiner,
            feed_x=feed_x,
            feed_m=feed_m,
            feed_passers=feed_passers,
        )

    def respond(self, deficit: Any) -> ExporterBatch:
        """Run the engine's response on a batch of deficits ``[batch, exporters]``.

        ``deficit[b, j]`` in [0, 1] is the fraction of its exports exporter
        ``exporters[j]`` withholds at every stage (``1 - scale`` of
        :func:`respond_rows`); a scipy sparse array (CSR) or a dense one.
        """
        from scipy import sparse

        d = sparse.csr_array(deficit)
        k, n_s = d.shape[0], len(self.stages)
        # the batch's nonzero deficits: member, exporter, value
        hits = (np.repeat(np.arange(k), np.diff(d.indptr)), d.indices, d.data)
        withheld = np.asarray(d @ self.cell_exports)  # [batch, stage]
        passed = np.zeros((k, n_s))
        propagated = np.zeros((k, n_s))
        bound = np.zeros(n_s, dtype=np.int64)
        change: list[np.ndarray] = [np.zeros((0, k))] * len(self.tracked)
        corrections: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        for s, st in enumerate(self.stages):
            pt = self.prepared[s]
            extra: np.ndarray | None = None  # the refiners' deficit from feed lost
            lost = cut_adjust = np.zeros((k, 0))
            if s == self.s_ref and len(self.refiners):
                phi = self._feed_loss(d, corrections)
                r = self.refiners
                lost, cut_adjust = output_cut(self.production0[s, r], pt.exports0[r], phi)
                propagated[:, s] = lost.sum(axis=1)
                own = np.zeros_like(phi)  # the refiners' own deficits
                at = self.cell_refiner[hits[1]]
                on = at >= 0
                own[hits[0][on], at[on]] = hits[2][on]
                withheld[:, s] -= (own * phi) @ pt.exports0[r]
                extra = phi * (1.0 - own)
            if len(st.passers):
                rows, cut = self._bound(d, hits, st, extra, mk.pass_tolerance(pt.exports0))
                passed[:, s] = d @ st.q_sum_cells
                if extra is not None:
                    passed[:, s] += extra @ st.q_sum_refiners
                if len(rows):
                    hit = np.zeros_like(cut)  # deficit of each passer's own row
                    dense = _rows_of(hits, rows, len(self.exporters))
                    hit[:, st.bound_cells[1]] = dense[:, st.bound_cells[0]]
                    lost_in = dense @ st.into_cells
                    if extra is not None:
                        hit[:, st.bound_refiners[1]] += extra[rows][:, st.bound_refiners[0]]
                        lost_in += extra[rows] @ st.into_refiners
                    solved = pt.solve((1.0 - hit) * st.exports_p, lost_in)
                    corrections[s] = (rows, solved - cut)
                    passed[rows, s] = solved.sum(axis=1)
                    bound[s] = len(rows)
            for t, (ts, _) in enumerate(self.tracked):
                if ts != s:
                    continue
                out = np.asarray(d @ self.change_cells[t])  # [batch, columns]
                if extra is not None:
                    out += extra @ self.change_refiners[t]
                if s in corrections:
                    rows, delta = corrections[s]
                    out[rows] += delta @ self.change_passers[t]
                at, where = self.refiner_rows[t]
                if len(at):
                    out[:, at] += cut_adjust[:, where] - lost[:, where]
                change[t] = out.T
        return ExporterBatch(change, withheld, passed, propagated, bound)

    @staticmethod
    def _bound(
        d: Any,
        hits: tuple[np.ndarray, np.ndarray, np.ndarray],
        st: _LinearStage,
        extra: np.ndarray | None,
        tol: float,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Members at whose pass-through a bound binds, and their free cuts ``[rows, passers]``.

        A passer binds where its free cut exceeds its exports after the
        shocks, ``(1 - e) X_0`` (``e`` its own row's deficit), by more than
        ``tol``: only a shocked passer can, or one whose free cut may exceed
        its baseline exports (``st.exceed`` holds ``X_0 + tol`` for those).
        """
        cut = np.asarray(d @ st.q_cells)
        if extra is not None:
            cut += extra @ st.q_refiners
        member, cell, value = hits
        j = st.cell_passer[cell]
        on = j >= 0
        member, j, e = member[on], j[on], value[on]
        if extra is not None:  # refiners that are passers lose feed too: their rows' deficit
            own = np.zeros_like(cut)
            own[member, j] = e
            own[:, st.bound_refiners[1]] += extra[:, st.bound_refiners[0]]
            rows = np.flatnonzero((cut > (1.0 - own) * st.exports_p + tol).any(axis=1))
        else:
            bound = np.asarray((cut > st.exceed).any(axis=1))
            bound[member[cut[member, j] > (1.0 - e) * st.exports_p[j] + tol]] = True
            rows = np.flatnonzero(bound)
        return rows, cut[rows]

    def _feed_loss(
        self, d: Any, corrections: dict[int, tuple[np.ndarray, np.ndarray]]
    ) -> np.ndarray:
        """``phi [batch, refiners]``: the fraction of its feed each refiner lost."""
        r = self.refiners
        mine = self.production0[self.s_mine, r] if self.s_mine is not None else np.zeros(len(r))
        x0 = np.sum([self.prepared[f].exports0[r] for f in self.feed], axis=0)
        m0 = np.sum([self.prepared[f].imports0[r] for f in self.feed], axis=0)
        dx = np.asarray(d @ self.feed_x)
        dm = np.asarray(d @ self.feed_m)
        for f, (x_r, m_r) in self.feed_passers.items():
            if f in corrections:
                rows, delta = corrections[f]
                dx[rows] += delta @ x_r
                dm[rows] += delta @ m_r
        return feed_loss(feed_totals(mine, x0, m0), feed_totals(mine, x0 - dx, m0 - dm))


class _Engine:
    def __init__(self, ds: Dataset, scenario: Scenario, shocks: list[ResolvedShock]) -> None:
        self.ds = ds
        self.sc = scenario
        self.shocks = shocks
        self.notes: list[str] = [note for item in shocks for note in item.resolved]
        self.p0 = ds.production[:, :, 0, :].copy()
        self.p = self.p0.copy()
        self.f0: np.ndarray | None = None
        self.f: np.ndarray | None = None
        if ds.has_trade:
            self.f0 = ds.trade_array()[:, :, 0]
            self.f = self.f0.copy()
        shape = self.p0.shape
        self.adjust = np.zeros(shape)
        self.demand = np.ones(shape)
        self.stock = np.zeros(shape)
        self.stock_draw = np.zeros(shape)
        self.gross = np.zeros(shape)
        self.ledgers: dict[tuple[int, int], PairLedger] = defaultdict(PairLedger)
        self.targeted: dict[tuple[int, int], np.ndarray] = {}
        self.restricted: dict[tuple[int, int], np.ndarray] = {}
        self.prices: dict[tuple[int, int], PairPrice] = {}
        self.by_pair: dict[tuple[int, int], list[ResolvedShock]] = defaultdict(list)
        for item in shocks:
            for m in item.minerals:
                for s in item.stages:
                    self.by_pair[(m, s)].append(item)

    # ------------------------------------------------------------ helpers
    def name(self, m: int, s: int) -> str:
        return f"{self.ds.minerals[m]}/{self.ds.stages[s]}"

    def where(self, item: ResolvedShock) -> str:
        label = f" ({item.shock.label})" if item.shock.label else ""
        return f"shocks[{item.index}] {item.shock.type}{label}"

    def codes(self, positions: Iterable[int]) -> str:
        return ", ".join(str(self.ds.countries[int(c)]) for c in positions)

    def flows_of(self, m: int, s: int) -> np.ndarray | None:
        return None if self.f is None else self.f[m, s]

    def has_trade(self, m: int, s: int) -> bool:
        return self.f0 is not None and bool(self.f0[m, s].sum() > 0)

    def has_data(self, m: int, s: int) -> bool:
        return self.has_trade(m, s) or bool(self.p0[m, s].sum() > 0)

    def consumption0(self, m: int, s: int) -> np.ndarray:
        f0 = None if self.f0 is None else self.f0[m, s]
        return consumption(self.p0[m, s], f0)

    def shortfall(self, m: int, s: int) -> np.ndarray:
        """Return the shortfall before stockpile draws, ``[c]``."""
        f0 = None if self.f0 is None else self.f0[m, s]
        change = supply_change(
            self.p0[m, s], f0, self.p[m, s], self.flows_of(m, s), self.adjust[m, s]
        )
        need = self.consumption0(m, s) * (self.demand[m, s] - 1.0)
        return np.maximum(need - change, 0.0)

    def cut_output(self, m: int, s: int, frac: np.ndarray) -> tuple[float, float]:
        """Cut output and exports of each country by ``frac`` (:func:`cut_output`).

        Returns production lost and exports lost by countries without
        recorded output (trade units).
        """
        f = self.flows_of(m, s)
        lost, adjust, unrecorded = cut_output(
            self.p[m, s][None], None if f is None else f[None], frac[None]
        )
        self.adjust[m, s] += adjust[0]
        return float(lost[0]), float(unrecorded[0])

    # -------------------------------------------------------------- steps
    def run(self) -> Simulation:
        for item in self.shocks:
            if isinstance(item.shock, DemandShock):
                self._demand(item)
        pairs: list[tuple[int, int]] = []
        for m in sorted({m for m, _ in self.by_pair}):
            feed_changed: list[str] = []
            for stage in STAGE_ORDER:
                if stage not in self.ds.stages:
                    continue
                s = _pos(self.ds.stages, stage)
                items = self.by_pair.get((m, s), [])
                propagated = False
                if stage == Stage.REFINING.value and feed_changed:
                    propagated = self._propagate(m, feed_changed)
                if items and not self.has_data(m, s):
                    shocks = ", ".join(f"shocks[{item.index}]" for item in items)
                    self.notes.append(
                        f"{self.name(m, s)}: the dataset has neither production nor trade in "
                        f"{self.sc.year}; {shocks} change nothing there"
                    )
                    continue
                if items or (propagated and self.has_data(m, s)):
                    pairs.append((m, s))
                    if items and self.p0[m, s].sum() <= 0:
                        self.notes.append(
                            f"{self.name(m, s)}: the dataset records no production in "
                            f"{self.sc.year}; the price is measured against world trade and "
                            f"production-based measures (concentration) are not available"
                        )
                self._stage(m, s, items)
                if stage in FEED_STAGES and items:
                    feed_changed.append(stage)
        for m, s in pairs:
            for item in self.by_pair.get((m, s), []):
                if isinstance(item.shock, StockpileRelease):
                    self._stockpile(item, m, s)
            self.gross[m, s] = self.shortfall(m, s)
            self._price(m, s)
        return Simulation(
            scenario=self.sc,
            dataset=self.ds,
            production0=self.p0,
            production=self.p,
            flows0=self.f0,
            flows=self.f,
            adjust=self.adjust,
            pairs=pairs,
            ledgers={pair: self.ledgers[pair] for pair in pairs},
            demand=self.demand,
            stock=self.stock,
            stock_draw=self.stock_draw,
            gross_shortfall=self.gross,
            prices=self.prices,
            notes=self.notes,
        )

    def _stage(self, m: int, s: int, items: list[ResolvedShock]) -> None:
        n = len(self.ds.countries)
        self.targeted[(m, s)] = np.zeros((n, n), dtype=bool)
        self.restricted[(m, s)] = np.zeros(n, dtype=bool)
        led = self.ledgers[(m, s)]
        for item in items:
            if isinstance(item.shock, ProductionDisruption):
                self._disrupt(item, m, s)
        blocked = np.zeros((n, n))
        for item in items:
            if isinstance(item.shock, ExportBan):
                blocked += self._ban(item, m, s)
        for item in items:
            if isinstance(item.shock, ExportQuota):
                self._quota(item, m, s)
        f = self.flows_of(m, s)
        if f is not None and blocked.sum() > 0:
            new, ledger = mk.deflect(
                f,
                self.p[m, s],
                blocked,
                self.targeted[(m, s)],
                self.restricted[(m, s)],
                self.sc.market.deflection,
            )
            f[...] = new
            led.blocked += float(ledger.blocked)
            led.deflected += float(ledger.deflected)
            led.withheld += float(ledger.withheld)
        for item in items:
            if isinstance(item.shock, Partnership):
                self._partnership(item, m, s)
        if f is not None and self.f0 is not None and (f != self.f0[m, s]).any():
            batch = f[None].copy()
            led.passed_on += float(mk.pass_through(batch, self.f0[m, s], self.p0[m, s])[0])
            f[...] = batch[0]
        for item in items:
            if isinstance(item.shock, NewSupply):
                self._new_supply(item, m, s)

    def _propagate(self, m: int, changed: list[str]) -> bool:
        """Cut refined output where less feed reaches refiners (module notes).

        ``changed`` names the feed stages the scenario shocked (for the notes).
        """
        s_ref = _pos(self.ds.stages, Stage.REFINING.value)
        n = len(self.ds.countries)
        feed_pos = [_pos(self.ds.stages, s) for s in FEED_STAGES if s in self.ds.stages]
        ore0 = np.zeros((n, n)) if self.f0 is None else self.f0[m, feed_pos].sum(axis=0)
        ore1 = np.zeros((n, n)) if self.f is None else self.f[m, feed_pos].sum(axis=0)
        mine0 = mine1 = np.zeros(n)
        if Stage.MINING.value in self.ds.stages:
            s_mine = _pos(self.ds.stages, Stage.MINING.value)
            mine0, mine1 = self.p0[m, s_mine], self.p[m, s_mine]
        loss = feed_loss(refinery_feed(mine0, ore0), refinery_feed(mine1, ore1))
        if not loss.any():
            return False
        f_ref = self.flows_of(m, s_ref)
        refiners = (self.p[m, s_ref] > 0) | (
            f_ref.sum(axis=1) > 0 if f_ref is not None else np.zeros(n, dtype=bool)
        )
        hit = (loss > 0) & refiners
        mineral = self.ds.minerals[m]
        what = " and ".join("ore" if s == Stage.MINING.value else s for s in changed)
        if not hit.any():
            lost_feed = refinery_feed(mine0, ore0) - refinery_feed(mine1, ore1)
            worst = [int(c) for c in np.argsort(-lost_feed)[:8] if lost_feed[c] > 0]
            more = int((loss > 0).sum()) - len(worst)
            self.notes.append(
                f"{mineral}: less {what} reaches {self.codes(worst)}"
                + (f" and {more} more" if more > 0 else "")
                + f", which record no refined output or exports of {mineral}; "
                f"nothing to propagate"
            )
            return False
        lost, unrecorded = self.cut_output(m, s_ref, np.where(hit, loss, 0.0))
        self.ledgers[(m, s_ref)].propagated_loss += lost
        top = [int(c) for c in np.argsort(-np.where(hit, loss, 0.0))[:8] if hit[c]]
        self.notes.append(
            f"{mineral}: less {what} reaches refiners, whose refined output falls by "
            f"{lost:,.0f} t"
            + (f" and exports without recorded output by {unrecorded:,.0f} t" if unrecorded else "")
            + " ("
            + ", ".join(f"{self.ds.countries[c]} -{loss[c]:.1%}" for c in top)
            + ")"
        )
        return True

    def _disrupt(self, item: ResolvedShock, m: int, s: int) -> None:
        c = item.countries["country"]
        frac = np.zeros(len(self.ds.countries))
        frac[c] = item.shock.fraction_lost
        if self.p[m, s, c].sum() <= 0:
            withheld = bool(self.ds.production_missing[m, s, 0, c].any())
            why = "is withheld in the source" if withheld else f"is not recorded for {self.sc.year}"
            self.notes.append(
                f"{self.where(item)}: the production of {self.name(m, s)} in {self.codes(c)} "
                f"{why}; the disruption changes nothing"
            )
            return
        lost, _ = self.cut_output(m, s, frac)
        self.ledgers[(m, s)].production_lost += lost

    def _ban(self, item: ResolvedShock, m: int, s: int) -> np.ndarray:
        shock = item.shock
        n = len(self.ds.countries)
        blocked = np.zeros((n, n))
        exporters = item.countries["exporters"]
        f = self.flows_of(m, s)
        if shock.severity <= 0:
            return blocked
        if f is None or not self.has_trade(m, s):
            self.notes.append(
                f"{self.where(item)}: the dataset has no bilateral trade for {self.name(m, s)} "
                f"in {self.sc.year}; the ban changes nothing there"
            )
            return blocked
        pair = np.zeros((n, n), dtype=bool)
        if item.all_importers:
            pair[exporters, :] = True
        else:
            pair[np.ix_(exporters, item.countries["importers"])] = True
        np.fill_diagonal(pair, False)
        self.targeted[(m, s)] |= pair
        self.restricted[(m, s)][exporters] = True
        blocked = mk.block(f[None], pair[None], shock.severity)[0]
        if blocked.sum() <= 0:
            self.notes.append(
                f"{self.where(item)}: {self.codes(exporters)} exported no {self.name(m, s)} to "
                f"the targeted importers in {self.sc.year}; the ban changes nothing there"
            )
        return blocked

    def _quota(self, item: ResolvedShock, m: int, s: int) -> None:
        shock = item.shock
        e = int(item.countries["exporter"][0])
        f = self.flows_of(m, s)
        if f is None or self.f0 is None or not self.has_trade(m, s):
            self.notes.append(
                f"{self.where(item)}: the dataset has no bilateral trade for {self.name(m, s)} "
                f"in {self.sc.year}; the quota changes nothing"
            )
            return
        self.restricted[(m, s)][e] = True
        baseline = float(self.f0[m, s, e].sum())
        cap = shock.cap_tonnes if shock.cap_tonnes is not None else shock.cap_fraction * baseline
        current = float(f[e].sum())
        if current <= cap:
            self.notes.append(
                f"{self.where(item)}: {self.ds.countries[e]} exports {current:,.0f} t of "
                f"{self.name(m, s)}, within the cap of {cap:,.0f} t; the quota changes nothing"
            )
            return
        f[e] *= cap / current
        self.ledgers[(m, s)].quota_withheld += current - cap

    def _partnership(self, item: ResolvedShock, m: int, s: int) -> None:
        i = int(item.countries["importer"][0])
        p = int(item.countries["partner"][0])
        f = self.flows_of(m, s)
        if f is None or not self.has_trade(m, s):
            self.notes.append(
                f"{self.where(item)}: the dataset has no bilateral trade for {self.name(m, s)} "
                f"in {self.sc.year}; the partnership changes nothing"
            )
            return
        if i == p:
            self.notes.append(f"{self.where(item)}: importer and partner are the same country")
            return
        if self.targeted[(m, s)][p, i]:
            self.notes.append(
                f"{self.where(item)}: {self.ds.countries[p]} bans exports of {self.name(m, s)} "
                f"to {self.ds.countries[i]} in this scenario; the partnership is not applied"
            )
            return
        new, ledger = mk.redirect(
            f,
            self.p[m, s],
            i,
            p,
            item.shock.share,
            self.restricted[(m, s)],
            self.sc.market.deflection,
        )
        f[...] = new
        led = self.ledgers[(m, s)]
        led.redirected += ledger.redirected
        led.partnership_surplus += ledger.surplus
        if ledger.redirected <= 0:
            self.notes.append(
                f"{self.where(item)}: {self.ds.countries[p]} exported no {self.name(m, s)} to "
                f"buyers other than {self.ds.countries[i]} in {self.sc.year}; nothing to redirect"
            )

    def _new_supply(self, item: ResolvedShock, m: int, s: int) -> None:
        c = int(item.countries["country"][0])
        added = float(item.shock.tonnes_per_year)
        short = self.shortfall(m, s)
        self.p[m, s, c] += added
        self.ledgers[(m, s)].new_supply += added
        rest = added - min(added, short[c])
        f = self.flows_of(m, s)
        if rest <= 0 or f is None:
            return
        buyers = short.copy()
        buyers[c] = 0.0
        buyers[self.targeted[(m, s)][c]] = 0.0
        if self.restricted[(m, s)][c] and not self.targeted[(m, s)][c].any():
            buyers[:] = 0.0  # under a quota: its exports cannot grow
        need = float(buyers.sum())
        if need > 0:
            f[c] += buyers * min(1.0, rest / need)

    def _demand(self, item: ResolvedShock) -> None:
        for m in item.minerals:
            for s in item.stages:
                if item.all_importers:
                    self.demand[m, s] *= item.shock.multiplier
                else:
                    self.demand[m, s, item.countries["importers"]] *= item.shock.multiplier

    def _stockpile(self, item: ResolvedShock, m: int, s: int) -> None:
        shock = item.shock
        holders = item.countries["holders"]
        base = self.consumption0(m, s)[holders]
        need = np.maximum(self.shortfall(m, s) - self.stock_draw[m, s], 0.0)[holders]
        if shock.tonnes is not None:
            weights = need if need.sum() > 0 else base
            if weights.sum() <= 0:
                weights = np.ones(len(holders))
            stock = shock.tonnes * weights / weights.sum()
        else:
            stock = shock.days_of_consumption / 365.0 * base
        rate = stock * 12.0 / self.sc.months
        draw = np.minimum(rate, need)
        self.stock[m, s, holders] += stock
        self.stock_draw[m, s, holders] += draw
        self.ledgers[(m, s)].stockpile_draw += float(draw.sum())
        if need.sum() <= 0:
            self.notes.append(
                f"{self.where(item)}: {self.codes(holders)} have no shortfall of "
                f"{self.name(m, s)}; nothing is drawn"
            )

    def _price(self, m: int, s: int) -> None:
        led = self.ledgers[(m, s)]
        c0 = self.consumption0(m, s)
        change = c0 * (self.demand[m, s] - 1.0)
        led.demand_change = float(change.sum())
        restricting = np.zeros(len(self.ds.countries), dtype=bool)
        targeted = False
        for item in self.by_pair.get((m, s), []):
            if isinstance(item.shock, ExportBan) and item.shock.severity > 0:
                restricting[item.countries["exporters"]] = True
                targeted = targeted or not item.all_importers
            elif isinstance(item.shock, ExportQuota):
                restricting[item.countries["exporter"]] = True
        mineral = str(self.ds.minerals[m])
        override = self.sc.market.elasticities.get(mineral)
        result = pair_price(
            mineral,
            c0,
            restricting,
            targeted,
            led,
            float(change[~restricting].sum()),
            self.sc.months,
            None if override is None else override.eta,
        )
        if result.price.note:
            self.notes.append(f"{self.name(m, s)}: {result.price.note}")
        self.prices[(m, s)] = result


def simulate(dataset: Dataset, scenario: Scenario) -> Simulation:
    """Run the shocks of ``scenario`` on the baseline year of ``dataset``.

    Parameters
    ----------
    dataset
        The baseline dataset.
    scenario
        The scenario (see :func:`riskengine.load_scenario`).

    Returns
    -------
    Simulation
        Shocked quantities of the year for the minerals the scenario names,
        ledgers, shortfalls and prices.

    Raises
    ------
    ScenarioError
        When a label of the scenario is not in the dataset.
    """
    shocks = resolve(dataset, scenario)
    touched = sorted({m for item in shocks for m in item.minerals})
    sub = dataset.sel(minerals=[str(dataset.minerals[m]) for m in touched], years=[scenario.year])
    return _Engine(sub, scenario, resolve(sub, scenario)).run()


def shocked_dataset(dataset: Dataset, sim: Simulation) -> Dataset:
    """``dataset`` with the scenario year of the touched minerals replaced.

    Flows are changed where they are stored, product by product: every flow
    of an exporter-importer pair whose contained tonnes went from ``q0`` to
    ``q1`` has its contained and gross tonnes and its value scaled by
    ``q1 / q0`` (a pair cut to 0 is dropped). A pair that had no quantity
    and now has one (deflection, new supply) gets a new flow naming no
    product, valued at the exporter's average unit value of the mineral and
    stage that year (the world average when the exporter had no priced
    exports; no value when there is none). Flows and production figures the
    scenario does not change stay as they were, withheld figures included.

    Parameters
    ----------
    dataset
        The baseline the simulation ran on, or any dataset containing its
        minerals and year (the full dataset, or :attr:`Simulation.dataset`).
    sim
        The simulation.
    """
    m_idx = dataset.positions("mineral", list(sim.dataset.minerals))
    s_idx = dataset.positions("stage", list(sim.dataset.stages))
    t = int(dataset.positions("year", [sim.year])[0])
    mi, si = np.ix_(m_idx, s_idx)
    production = np.where(dataset.production_missing, np.nan, dataset.production)
    withheld = dataset.production_missing[mi, si, t]
    production[mi, si, t] = np.where(
        withheld & (sim.production == sim.production0), np.nan, sim.production
    )
    out = dataset.replace_arrays(production=production)
    if dataset.trade is None or sim.flows is None or sim.flows0 is None:
        return out
    return replace(out, trade=_shocked_flows(dataset.trade, dataset.shape, sim, m_idx, s_idx, t))


def _shocked_flows(
    trade: Flows,
    shape: tuple[int, int, int, int],
    sim: Simulation,
    m_idx: np.ndarray,
    s_idx: np.ndarray,
    t: int,
) -> Flows:
    """Apply the simulation's block to the flows of ``trade`` (see :func:`shocked_dataset`)."""
    assert sim.flows is not None
    assert sim.flows0 is not None
    q0, q1 = sim.flows0, sim.flows
    n_m, n_s, _, _ = shape
    m_map = np.full(n_m, -1)
    m_map[m_idx] = np.arange(len(m_idx))
    s_map = np.full(n_s, -1)
    s_map[s_idx] = np.arange(len(s_idx))
    bm, bs = m_map[trade.mineral], s_map[trade.stage]
    block = np.flatnonzero((bm >= 0) & (bs >= 0) & (trade.year == t))
    e, i = trade.exporter[block], trade.importer[block]
    before = q0[bm[block], bs[block], e, i]
    after = q1[bm[block], bs[block], e, i]
    factor = np.ones(len(trade))
    with np.errstate(divide="ignore", invalid="ignore"):
        factor[block] = np.where((before > 0) & (after != before), after / before, 1.0)
    scaled = Flows(
        **{
            f.name: getattr(trade, f.name) * factor if f.name in AMOUNTS else getattr(trade, f.name)
            for f in fields(Flows)
        }
    ).take(factor > 0)

    # pairs with a quantity now and none before: new flows, at the exporter's unit value
    cm, cs, ce, ci = np.nonzero((q0 <= 0) & (q1 > 0))
    if not len(cm):
        return scaled
    k = len(m_idx) * len(s_idx)
    key_e = (bm[block] * len(s_idx) + bs[block]) * shape[3] + e
    key_ms = bm[block] * len(s_idx) + bs[block]
    priced = trade.priced[block]
    priced_value = trade.priced_value[block]
    size = k * shape[3]
    with np.errstate(divide="ignore", invalid="ignore"):
        unit_e = np.bincount(key_e, weights=priced_value, minlength=size) / np.bincount(
            key_e, weights=priced, minlength=size
        )
        unit_w = np.bincount(key_ms, weights=priced_value, minlength=k) / np.bincount(
            key_ms, weights=priced, minlength=k
        )
    ms = cm * len(s_idx) + cs
    unit = unit_e[ms * shape[3] + ce]
    unit = np.where(np.isfinite(unit), unit, unit_w[ms])
    added = Flows.build(
        mineral=m_idx[cm],
        stage=s_idx[cs],
        year=np.full(len(cm), t),
        exporter=ce,
        importer=ci,
        content=q1[cm, cs, ce, ci],
        value=np.where(np.isfinite(unit), q1[cm, cs, ce, ci] * unit, np.nan),
    )
    return Flows(
        **{
            f.name: np.concatenate([getattr(scaled, f.name), getattr(added, f.name)])
            for f in fields(Flows)
        }
    )


def apply_scenario(dataset: Dataset, scenario: Scenario) -> Dataset:
    """Return a new dataset with the scenario's shocks applied.

    Only the scenario's baseline year of the minerals it names changes;
    ``dataset`` itself is not modified.

    Parameters
    ----------
    dataset
        Baseline dataset.
    scenario
        Scenario to apply.

    Returns
    -------
    Dataset
        Same coordinates; shocked production and trade (quantities and
        values) in ``scenario.year``.

    Raises
    ------
    ScenarioError
        When a mineral, country or the year of the scenario is not in the
        dataset.
    """
    return shocked_dataset(dataset, simulate(dataset, scenario))


#: Tonnes below which a shortfall or a change is rounding noise (one gram).
TINY = 1e-6

IMPORTER_COLUMNS: tuple[str, ...] = (
    "mineral",
    "stage",
    "year",
    "country",
    "shortfall_t",
    "shortfall_pct",
    "cover_days",
    "extra_cost_usd",
    "price_change_pct",
    "consumption_t",
    "demand_t",
    "supply_change_t",
    "shortfall_gross_t",
    "stockpile_t",
    "stockpile_draw_t",
    "shortfall_over_duration_t",
    "stockpile_cover_days",
    "unit_value_usd_t",
)


def unit_values(ds: Dataset) -> np.ndarray:
    """World unit value ``[mineral, stage]`` in USD per contained tonne, first year of ``ds``.

    Value over contained tonnes of the flows that carry both (screened flows
    left out); NaN where no flow is priced.
    """
    n_m, n_s = len(ds.minerals), len(ds.stages)
    out = np.full((n_m, n_s), np.nan)
    if ds.trade is None:
        return out
    pairs = ds.trade.take(ds.trade.year == 0)
    key = pairs.mineral.astype(np.int64) * n_s + pairs.stage
    value = np.bincount(key, weights=pairs.priced_value, minlength=n_m * n_s)
    tonnes = np.bincount(key, weights=pairs.priced, minlength=n_m * n_s)
    with np.errstate(divide="ignore", invalid="ignore"):
        out[...] = np.where(tonnes > 0, value / tonnes, np.nan).reshape(n_m, n_s)
    return out


def importer_table(sim: Simulation) -> pd.DataFrame:
    r"""Per importer of every touched pair: what the shock costs it, in tonnes, days and dollars.

    Columns (tonnes are contained tonnes per year while the shock lasts):

    - ``shortfall_t``: :math:`\max(C_0 (k - 1) - dA, 0)` less stockpile draws
      (module notes, "Shortfall"); ``shortfall_pct`` of demand :math:`k C_0`;
    - ``cover_days``: days the importer's usable stocks cover its shortfall
      before stockpile draws, :math:`365 (s_m C_0 / 12 + S) / \text{gross}`,
      with :math:`s_m` the market model's ``stock_months`` (central value,
      ``riskengine/market_parameters.csv``) and :math:`S` a stockpile the
      scenario releases; NaN without a shortfall;
    - ``extra_cost_usd``: what the supply it still gets costs more at the
      shocked price over the shock,
      :math:`(k C_0 - \text{shortfall}) \cdot v \cdot \Delta p \cdot h / 12`,
      with :math:`v` the world unit value of the mineral and stage that year
      (``unit_value_usd_t``, USD per contained tonne from the trade values),
      :math:`\Delta p` the price change the importer faces (inside the
      restricting countries for them, outside for everyone else) and
      :math:`h` the duration in months; negative where the price falls;
    - ``price_change_pct``: that price change, in %;
    - the rest: baseline consumption, demand, supply change, the gross
      shortfall, stockpile held and drawn, the shortfall over the duration and
      the cover of the released stockpile alone (``stockpile_cover_days``).
    """
    ds = sim.dataset
    values = unit_values(ds)
    rows: list[pd.DataFrame] = []
    for m, s in sim.pairs:
        c0 = sim.consumption0(m, s)
        change = sim.supply_change(m, s)
        demand = c0 * sim.demand[m, s]
        gross = np.where(sim.gross_shortfall[m, s] > TINY, sim.gross_shortfall[m, s], 0.0)
        draw = np.minimum(sim.stock_draw[m, s], gross)
        short = np.maximum(gross - draw, 0.0)
        short[short <= TINY] = 0.0
        change[np.abs(change) <= TINY] = 0.0
        stock = sim.stock[m, s]
        mineral = str(ds.minerals[m])
        stock_months = mk.market_parameters(mineral).values["stock_months"][0]
        usable = stock_months / 12.0 * c0 + stock
        price = sim.prices.get((m, s))
        if price is None:
            faced = np.full(len(ds.countries), np.nan)
        else:
            inside = price.price.inside if np.isfinite(price.price.inside) else 0.0
            faced = np.where(price.restricting, inside, price.price.outside)
        with np.errstate(divide="ignore", invalid="ignore"):
            pct = np.where(demand > 0, 100.0 * short / demand, np.nan)
            cover = np.where(gross > 0, stock / (gross / 365.0), np.nan)
            cover_all = np.where(gross > 0, usable / (gross / 365.0), np.nan)
        bought = np.maximum(demand - short, 0.0)
        cost = bought * values[m, s] * faced * sim.scenario.months / 12.0
        keep = ((c0 > 0) | (gross > 0) | (stock > 0) | (change != 0)) & (
            ds.countries != OTHER_COUNTRIES
        )
        frame = pd.DataFrame(
            {
                "mineral": mineral,
                "stage": str(ds.stages[s]),
                "year": sim.year,
                "country": ds.countries,
                "shortfall_t": short,
                "shortfall_pct": pct,
                "cover_days": cover_all,
                "extra_cost_usd": np.where(bought > 0, cost, 0.0),
                "price_change_pct": 100.0 * faced,
                "consumption_t": c0,
                "demand_t": demand,
                "supply_change_t": change,
                "shortfall_gross_t": gross,
                "stockpile_t": stock,
                "stockpile_draw_t": draw,
                "shortfall_over_duration_t": short * sim.scenario.months / 12.0,
                "stockpile_cover_days": cover,
                "unit_value_usd_t": values[m, s],
            }
        )
        rows.append(frame[keep])
    if not rows:
        return pd.DataFrame(columns=list(IMPORTER_COLUMNS))
    return pd.concat(rows, ignore_index=True)


def market_table(sim: Simulation) -> pd.DataFrame:
    """Per mineral and stage: world supply, what moved where, price change.

    ``price_change_pct`` is the outside price of the two-region model (module
    notes, "Price"), ``price_change_low_pct`` and ``price_change_high_pct``
    its band, ``price_change_inside_pct`` the price inside the restricting
    countries (NaN when there are none or they record no consumption).
    """
    ds = sim.dataset
    records: list[dict[str, Any]] = []
    for m, s in sim.pairs:
        led = sim.ledgers.get((m, s), PairLedger())
        price = sim.prices.get((m, s))
        records.append(
            {
                "mineral": str(ds.minerals[m]),
                "stage": str(ds.stages[s]),
                "year": sim.year,
                "world_production_t": float(sim.production0[m, s].sum()),
                "world_production_shocked_t": float(sim.production[m, s].sum()),
                "world_trade_t": float(sim.flows0[m, s].sum())
                if sim.flows0 is not None
                else math.nan,
                "world_trade_shocked_t": float(sim.flows[m, s].sum())
                if sim.flows is not None
                else math.nan,
                "production_lost_t": led.production_lost,
                "propagated_loss_t": led.propagated_loss,
                "blocked_t": led.blocked,
                "deflected_t": led.deflected,
                "withheld_t": led.withheld,
                "quota_withheld_t": led.quota_withheld,
                "redirected_t": led.redirected,
                "partnership_surplus_t": led.partnership_surplus,
                "passed_on_t": led.passed_on,
                "new_supply_t": led.new_supply,
                "stockpile_draw_t": led.stockpile_draw,
                "demand_change_t": led.demand_change,
                "gap_fraction": price.price.gap_fraction if price else math.nan,
                "price_change_pct": 100.0 * price.price.outside if price else math.nan,
                "price_change_inside_pct": 100.0 * price.price.inside if price else math.nan,
                "price_change_low_pct": 100.0 * price.price.outside_low if price else math.nan,
                "price_change_high_pct": 100.0 * price.price.outside_high if price else math.nan,
            }
        )
    return pd.DataFrame.from_records(records)


TWO_REGION_COLUMNS: tuple[str, ...] = (
    "mineral",
    "stage",
    "year",
    "months",
    "restricting",
    "withheld_t",
    "outside_consumption_t",
    "inside_consumption_t",
    "gap_fraction",
    "price_change_pct",
    "price_change_low_pct",
    "price_change_high_pct",
    "price_change_inside_pct",
    "price_change_inside_low_pct",
    "price_change_inside_high_pct",
    "note",
)


def two_region_table(sim: Simulation) -> pd.DataFrame:
    """Per mineral and stage: the price outside and inside the restricting countries.

    See :func:`~riskengine.scenarios.market.two_region_price`.

    The price the engine computed (:attr:`Simulation.prices`, module notes
    "Price") with its inputs and the inside band.
    """
    ds = sim.dataset
    records: list[dict[str, Any]] = []
    for m, s in sim.pairs:
        pp = sim.prices[(m, s)]
        price = pp.price
        mineral = str(ds.minerals[m])
        records.append(
            {
                "mineral": mineral,
                "stage": str(ds.stages[s]),
                "year": sim.year,
                "months": sim.scenario.months,
                "restricting": ", ".join(str(c) for c in ds.countries[pp.restricting]),
                "withheld_t": pp.withheld,
                "outside_consumption_t": pp.outside_consumption,
                "inside_consumption_t": pp.inside_consumption,
                "gap_fraction": price.gap_fraction,
                "price_change_pct": 100.0 * price.outside,
                "price_change_low_pct": 100.0 * price.outside_low,
                "price_change_high_pct": 100.0 * price.outside_high,
                "price_change_inside_pct": 100.0 * price.inside,
                "price_change_inside_low_pct": 100.0 * price.inside_low,
                "price_change_inside_high_pct": 100.0 * price.inside_high,
                "note": price.note,
            }
        )
    return pd.DataFrame.from_records(records, columns=list(TWO_REGION_COLUMNS))
