r"""Stress sweep: every single-exporter export ban, evaluated in one vectorized pass.

For one year of a dataset the sweep evaluates every ban "exporter ``e`` stops
a fraction ``severity`` of its exports of mineral ``m`` at stage ``s``" (to all
importers, or to one targeted importer ``t``) - every exporter with such
exports, every mineral, every stage - and ranks them: for each importer, the
bans that hurt it most; for each exporter, the importers it could hurt most.

What is computed
----------------
Each ban is the scenario with one :class:`~riskengine.scenarios.models.ExportBan`
``{exporters: e, minerals: m, stage: s, importers: all or t, severity}`` and
the given ``market`` parameters, and the sweep reproduces what
:func:`riskengine.run_scenario` reports for it (see ``docs/stress.md``):

* ``blocked_t``: tonnes the ban removes from each importer's imports,
  ``B_ei = severity * F_ei`` (first-order, before any market response);
* the engine's market response, step for step: trade deflection of a
  targeted ban (:func:`riskengine.scenarios.market.deflect`), pass-through by
  re-exporters (:func:`riskengine.scenarios.market.pass_through`), and for a
  ban at a stage that feeds refineries (mining, intermediate) the
  propagation to refined output and exports;
* per importer and affected stage, ``supply_change_t`` (``dA``, the change in
  what stays in the country), ``shortfall_t = max(-dA, 0)`` with the engine's
  one-gram rounding rule, and ``shortfall_pct`` of baseline demand;
* per ban and affected stage, the ledger (blocked, deflected, withheld, passed
  on, propagated loss) and the price change
  (the two-region model, :func:`riskengine.scenarios.engine.pair_price`);
* per scored country (and region), the method's score on the baseline and on
  the shocked flows and its change, computed by the method itself on all the
  shocked copies at once (:mod:`riskengine.stress._fold`).

How it is vectorized
--------------------
Bans are grouped by mineral and stage and evaluated in batches, every
mechanism on the ban axis at once (the engine's own functions, which take a
leading batch axis). Only the countries that produce or trade the mineral are
kept on the country axes (the others hold zeros that no mechanism changes).
A ban on all importers scales its exporters' rows of the flows, and so do
pass-through and the propagation to refiners: the shocked flows of a stage
are ``diag(r) F0``, one factor per ban and exporter, and the whole response
is the engine's :func:`~riskengine.scenarios.engine.respond_rows`. A targeted
ban moves flows between pairs (deflection): its stage is an array
``F[ban, exporter, importer]`` of ``k n^2`` numbers for ``k`` bans and ``n``
countries, the refining stage it reaches keeps row factors. Memory is bounded
by ``chunk_size``. The method scores the shocked copies of a chunk of such
batches, sparse, and the baseline in one call. Prices are one scalar per ban,
solved with the engine's own function.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
import pandas as pd

from riskengine.cluster import default_jobs, resolve_client
from riskengine.dataset import Dataset, label_column
from riskengine.dims import OTHER_COUNTRIES
from riskengine.errors import RiskEngineError, bad_argument, check_int, check_labels, check_number
from riskengine.flows import Flows
from riskengine.methods import DEFAULT_METHOD
from riskengine.results import Result
from riskengine.scenarios import market as mk
from riskengine.scenarios.engine import (
    TINY,
    RowResponse,
    consumption,
    feed_loss,
    output_cut,
    refinery_feed,
    respond_rows,
    supply_change,
)
from riskengine.scenarios.models import Market
from riskengine.stress._common import (
    Progress,
    YearTensors,
    check_method,
    check_params,
    frame_or_empty,
    label_positions,
    resolve_minerals,
    resolve_stages,
    resolve_year,
    year_tensors,
)
from riskengine.stress._fold import restrict, score_copies
from riskengine.stress.pairs import PAIR_SEP, pair_candidates

if TYPE_CHECKING:
    from distributed import Client

logger = logging.getLogger(__name__)

#: Memory a chunk of bans may take, in bytes: a batch of ``k`` bans of a
#: mineral traded by ``n`` countries over ``S`` stages holds at most
#: ``CHUNK_ARRAYS * k * S n^2`` float64 numbers at its peak (a targeted ban's
#: ``[ban, e, i]`` flows and the market response's temporaries); the method
#: scores the copies of a chunk of such batches, ``PAIR_ARRAYS`` numbers per
#: flow of a copy (:func:`_batches_per_chunk`).
CHUNK_BYTES = 512 * 2**20
CHUNK_ARRAYS = 12
PAIR_ARRAYS = 80

#: A score change up to this is rounding (scores lie in [0, 1]): alone it makes no
#: impact row, so the rows of a ban do not depend on how its copy was batched.
SCORE_TINY = 1e-12


#: Price columns of the sweep, as in :func:`riskengine.scenarios.engine.market_table`.
PRICE_COLUMNS: tuple[str, ...] = (
    "gap_fraction",
    "price_change_pct",
    "price_change_inside_pct",
    "price_change_low_pct",
    "price_change_high_pct",
)


BAN_COLUMNS: tuple[str, ...] = (
    "ban",
    "mineral",
    "stage",
    "exporter",
    "target",
    "severity",
    "blocked_t",
    "deflected_t",
    "withheld_t",
    "passed_on_t",
    "propagated_loss_t",
    *PRICE_COLUMNS,
    "refining_price_change_pct",
    "importers_short",
    "max_shortfall_pct",
    "max_score_change",
)

MARKET_COLUMNS: tuple[str, ...] = (
    "ban",
    "mineral",
    "stage",
    "exporter",
    "target",
    "severity",
    "affected_stage",
    "world_production_t",
    "world_trade_t",
    "blocked_t",
    "deflected_t",
    "withheld_t",
    "passed_on_t",
    "propagated_loss_t",
    *PRICE_COLUMNS,
)

IMPACT_COLUMNS: tuple[str, ...] = (
    "ban",
    "mineral",
    "stage",
    "exporter",
    "target",
    "severity",
    "affected_stage",
    "country",
    "consumption_t",
    "blocked_t",
    "supply_change_t",
    "shortfall_t",
    "shortfall_pct",
    "score_baseline",
    "score_shocked",
    "score_change",
)

RankBy = Literal["shortfall_pct", "shortfall_t", "score_change", "blocked_t"]
RANK_BY: tuple[str, ...] = ("shortfall_pct", "shortfall_t", "score_change", "blocked_t")


# ------------------------------------------------------------------ result
@dataclass(frozen=True, kw_only=True)
class SweepResult(Result):
    """Every single-exporter ban of one year, and what each does.

    Attributes
    ----------
    year : int
        Year of the dataset the bans are applied to.
    severity : float
        Fraction of the banned flows stopped.
    target : str or None
        The one importer every ban targets; None when bans target all importers.
    market : Market
        Market parameters (deflection, elasticities).
    bans : pandas.DataFrame
        One row per ban: ``ban`` (id), ``mineral``, ``stage``, ``exporter``,
        ``target`` ("all" or ISO3), ``severity``, the ledger at the ban's stage
        (``blocked_t``, ``deflected_t``, ``withheld_t``, ``passed_on_t``), the
        refined output lost by propagation (``propagated_loss_t``), the
        two-region price at the ban's stage (``gap_fraction``,
        ``price_change_pct`` outside, ``price_change_inside_pct`` and the band
        ``price_change_low_pct``, ``price_change_high_pct``),
        ``refining_price_change_pct`` of a ban at a stage that feeds
        refineries (mining, intermediate), ``importers_short``,
        ``max_shortfall_pct`` and ``max_score_change``.
    market_table : pandas.DataFrame
        One row per ban and stage the engine touches (the ban's stage, and the
        refining stage when a ban at a feed stage reaches refiners): the columns of
        :attr:`riskengine.ScenarioResult.market` that a ban moves.
    impacts : pandas.DataFrame
        One row per ban, affected stage and country (or region) where
        something changes: ``consumption_t``, ``blocked_t``,
        ``supply_change_t``, ``shortfall_t``, ``shortfall_pct`` (as in
        :attr:`riskengine.ScenarioResult.importers`), ``score_baseline``,
        ``score_shocked`` and ``score_change`` (as in
        :meth:`riskengine.ScenarioResult.score_changes`). Regions have scores
        only. A score change up to :data:`SCORE_TINY` and tonnes up to a gram
        are rounding and make no row on their own.
    elapsed_s : float
        Wall time of the sweep.
    pairs : bool
        True for a sweep of two-exporter bans (:mod:`riskengine.stress.pairs`),
        whose ``exporter`` column holds both exporters, ``"CHN+COD"``.
    method, dataset, params, notes
        See :class:`~riskengine.results.Result`: the scoring method of the
        score columns, the dataset's name, the method's parameters, and what
        the sweep skipped or could not do.
    """

    TABLES: ClassVar[tuple[str, ...]] = ("impacts", "bans", "market", "ranking", "exposure")

    year: int
    severity: float
    target: str | None
    market: Market
    bans: pd.DataFrame
    market_table: pd.DataFrame
    impacts: pd.DataFrame
    elapsed_s: float = 0.0
    pairs: bool = False

    def to_frame(self, table: str | None = None) -> pd.DataFrame:
        """Return a table: ``impacts`` (default), ``bans``, ``market``, ``ranking`` or ``exposure``.

        ``"ranking"`` and ``"exposure"`` are :meth:`ranking` and
        :meth:`exposure` with their defaults.

        Raises
        ------
        UnknownLabelError
            For another table name, listing the valid ones.
        """
        name = self.TABLES[0] if table is None else table
        if name == "market":
            return self.market_table.copy()
        if name == "ranking":
            return self.ranking()
        if name == "exposure":
            return self.exposure()
        return super().to_frame(name)

    def impact(self, ban: int) -> pd.DataFrame:
        """Rows of :attr:`impacts` of one ban."""
        return self.impacts[self.impacts["ban"] == ban].reset_index(drop=True)

    def find(
        self, exporter: str, mineral: str, stage: str, target: str | None = None
    ) -> int | None:
        """Id of the ban of ``exporter`` on ``mineral``/``stage`` (None when not swept)."""
        b = self.bans
        hit = b[
            (b["exporter"] == exporter)
            & (b["mineral"] == mineral)
            & (b["stage"] == stage)
            & (b["target"] == (target or "all"))
        ]
        return int(hit["ban"].iloc[0]) if len(hit) else None

    def ranking(
        self,
        by: RankBy = "shortfall_pct",
        top: int | None = 10,
        importers: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """For each importer, the bans that hurt it most.

        Parameters
        ----------
        by
            ``"shortfall_pct"`` (default: shortfall as % of demand, comparable
            across minerals of very different market sizes),
            ``"shortfall_t"``, ``"score_change"`` (largest score increase) or
            ``"blocked_t"``.
        top
            Bans kept per importer (None keeps all).
        importers
            Restrict to these countries or regions.

        Returns
        -------
        pandas.DataFrame
            ``country, rank`` and the :attr:`impacts` columns, rows with a
            positive ``by`` only, ranked within each country (ties by
            ``shortfall_t`` then ban id).
        """
        _check_by(by)
        frame = self.impacts
        if importers is not None:
            frame = frame[frame["country"].isin(list(importers))]
        frame = frame[frame[by] > 0]
        ordered = frame.sort_values(
            ["country", by, "shortfall_t", "ban"],
            ascending=[True, False, False, True],
            kind="stable",
            na_position="last",
        )
        ordered = ordered.assign(rank=ordered.groupby("country").cumcount() + 1)
        if top is not None:
            ordered = ordered[ordered["rank"] <= top]
        cols = ["country", "rank", *[c for c in IMPACT_COLUMNS if c != "country"]]
        return ordered[cols].reset_index(drop=True)

    def worst(
        self, by: RankBy = "shortfall_pct", top: int = 10, *, floor: float | None = None
    ) -> pd.DataFrame:
        """Rank single (importer, ban) impacts by ``by``, among importers that matter.

        Parameters
        ----------
        by
            Ranking measure (see :meth:`ranking`).
        top
            Rows returned.
        floor
            Least share of the world's apparent consumption of the mineral at
            the affected stage an importer must have to be ranked
            (default :data:`riskengine.views.MAJOR_IMPORTER_SHARE`, 1 %): a
            country that consumes a few tonnes is 100 % short of anything, and
            would otherwise lead every table. World consumption is summed over
            the countries the sweep records at that stage (every buyer of an
            exporter that a ban reaches). ``0`` ranks every importer.
        """
        from riskengine.views import MAJOR_IMPORTER_SHARE

        _check_by(by)
        share = MAJOR_IMPORTER_SHARE if floor is None else floor
        keys = ["mineral", "affected_stage"]
        frame = self.impacts
        each = frame.drop_duplicates([*keys, "country"])
        world = each.groupby(keys)["consumption_t"].sum()
        total = world.reindex(pd.MultiIndex.from_frame(frame[keys])).to_numpy()
        keep = (frame[by] > 0) & (frame["consumption_t"].to_numpy() >= share * total)
        return (
            frame[keep]
            .sort_values([by, "shortfall_t", "ban"], ascending=[False, False, True])
            .head(top)
            .reset_index(drop=True)
        )

    def exposure(
        self,
        by: RankBy = "shortfall_pct",
        top: int | None = 10,
        exporters: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """For each exporter, the importers its bans could hurt most.

        Each (exporter, importer) pair keeps its worst ban (over minerals and
        stages); pairs are then ranked within each exporter by ``by``.

        Parameters
        ----------
        by
            As in :meth:`ranking`.
        top
            Importers kept per exporter (None keeps all).
        exporters
            Restrict to these exporters.
        """
        _check_by(by)
        frame = self.impacts
        if exporters is not None:
            frame = frame[frame["exporter"].isin(list(exporters))]
        frame = frame[frame[by] > 0]
        frame = frame.sort_values(
            ["exporter", "country", by, "ban"],
            ascending=[True, True, False, True],
            kind="stable",
            na_position="last",
        )
        worst = frame.drop_duplicates(["exporter", "country"], keep="first")
        worst = worst.sort_values(
            ["exporter", by, "country"], ascending=[True, False, True], kind="stable"
        )
        worst = worst.assign(rank=worst.groupby("exporter").cumcount() + 1)
        if top is not None:
            worst = worst[worst["rank"] <= top]
        cols = [
            "exporter",
            "rank",
            "country",
            *[c for c in IMPACT_COLUMNS if c not in ("exporter", "country")],
        ]
        return worst[cols].reset_index(drop=True)


def _check_by(by: str) -> None:
    if by not in RANK_BY:
        from riskengine.errors import UnknownLabelError

        raise UnknownLabelError("ranking measure", [by], RANK_BY)


# ------------------------------------------------------- batched mechanics
def ban_pairs(n: int, exporters: np.ndarray, target: int | None) -> np.ndarray:
    """Boolean ``[ban, e, i]``: the flows each ban stops.

    Ban ``b`` stops the exports of every exporter in ``exporters[b]`` (one
    per ban, or a row of several banning together) to every other country,
    or to ``target`` only - the pairs of one ``ExportBan`` of the engine.
    """
    ex = np.asarray(exporters, dtype=int).reshape(len(exporters), -1)
    k = len(ex)
    pairs = np.zeros((k, n, n), dtype=bool)
    bans = np.repeat(np.arange(k), ex.shape[1])
    if target is None:
        pairs[bans, ex.ravel(), :] = True
    else:
        pairs[bans, ex.ravel(), target] = True
    diag = np.arange(n)
    pairs[:, diag, diag] = False  # a country never bans its flow to itself
    return pairs


def apply_bans(
    flows0: np.ndarray, exporters: np.ndarray, target: int | None, severity: float
) -> tuple[np.ndarray, np.ndarray]:
    """Shocked flows ``F[ban, e, i]`` and the blocked tonnes ``B[ban, i]``.

    Ban ``b`` scales the flows of ``exporters[b]`` (one exporter, or a row of
    exporters banning together) to every other country (or to ``target``
    only) by ``1 - severity``: the engine's
    :func:`~riskengine.scenarios.market.block` on :func:`ban_pairs`.
    """
    flows = np.repeat(flows0[None], len(exporters), axis=0)
    blocked = mk.block(flows, ban_pairs(flows0.shape[0], exporters, target), severity)
    return flows, blocked.sum(axis=1)


# ------------------------------------------------------------ one mineral
#: Ledger entries of a ban, per stage (:class:`riskengine.scenarios.engine.PairLedger`).
LEDGER: tuple[str, ...] = ("blocked", "deflected", "withheld", "passed_on", "propagated_loss")


@dataclass
class _Chunk:
    """What a chunk of bans of one mineral and stage did (``k`` bans).

    The shocked flows of ban ``b`` at stage ``s`` are ``diag(rows[b, s]) F0[s]``,
    except at the ban's stage when ``flows`` is given (a targeted ban: deflection
    moves flows between pairs), where they are ``flows[b]``.
    """

    stage: int
    exporters: np.ndarray  # local positions [k], or [k, 2] for pairs
    production: np.ndarray  # [k, S, n]
    rows: np.ndarray  # [k, S, n] row factors of the flows
    flows: np.ndarray | None  # [k, n, n] at the ban's stage, or None (row factors)
    change: np.ndarray  # [k, S, n] supply change dA (0 at stages a ban leaves alone)
    touched: np.ndarray  # [k, S] bool: stage is one of the engine's pairs
    blocked: np.ndarray  # [k, n] blocked tonnes per importer
    ledger: dict[str, np.ndarray]  # [k, S] each
    withheld: np.ndarray  # [k] tonnes the exporter keeps (ban stage)

    @classmethod
    def join(cls, parts: list[_Chunk], flows0: np.ndarray) -> _Chunk:
        """One chunk of the bans of ``parts`` (chunks of one stage), in order.

        ``flows0`` are the baseline flows of the stage, for a part whose flows
        there are row factors when another's are not.
        """
        if len(parts) == 1:
            return parts[0]
        stage = parts[0].stage

        def cat(name: str) -> np.ndarray:
            return np.concatenate([getattr(part, name) for part in parts])

        flows = None
        if any(part.flows is not None for part in parts):
            flows = np.concatenate([
                part.rows[:, stage, :, None] * flows0 if part.flows is None else part.flows
                for part in parts
            ])  # fmt: skip
        return cls(
            stage=stage, exporters=cat("exporters"), production=cat("production"),
            rows=cat("rows"), flows=flows, change=cat("change"), touched=cat("touched"),
            blocked=cat("blocked"), withheld=cat("withheld"),
            ledger={key: np.concatenate([part.ledger[key] for part in parts]) for key in LEDGER},
        )  # fmt: skip


class _Mineral:
    """One mineral of the sweep year on its active countries."""

    def __init__(self, yt: YearTensors, mineral: str) -> None:
        block = yt.block(mineral)
        self.name = mineral
        self.idx = block.idx
        self.countries = block.countries
        self.p0 = block.production
        self.f0 = block.flows
        self.exports0 = self.f0.sum(axis=2)  # [S, n]
        self.pairs = [np.nonzero(f) for f in self.f0]  # per stage: (exporters, importers)
        self.s_mine = yt.s_mine
        self.s_ref = yt.s_ref
        self.feed = yt.feed
        self.base = restrict(yt.dataset, mineral, self.idx)
        self.stage_names = [str(s) for s in yt.dataset.stages]
        self.stage_index = pd.Index(self.stage_names)
        self.consumption0 = consumption(self.p0, self.f0)  # [S, n]
        self.named = np.asarray(self.countries != OTHER_COUNTRIES)  # not the residual row
        self._prepared: list[mk.PassThrough] | None = None

    @property
    def prepared(self) -> list[mk.PassThrough]:
        """Pass-through of every stage, prepared once on the baseline."""
        if self._prepared is None:
            self._prepared = [
                mk.PassThrough.prepare(f, p) for f, p in zip(self.f0, self.p0, strict=True)
            ]
        return self._prepared

    def run(
        self,
        stage: int,
        exporters: np.ndarray,
        target: int | None,
        severity: float,
        delta: float,
    ) -> _Chunk:
        """Run the engine's mechanics on a chunk of bans of one stage (a batch).

        A ban on all importers scales its exporters' rows by ``1 - severity``
        and deflects nothing: the whole response is the engine's
        :func:`~riskengine.scenarios.engine.respond_rows`. A targeted ban is
        blocked and deflected on the ``[ban, e, i]`` flows of its stage.
        """
        n_stages, n = self.p0.shape
        k = len(exporters)
        banned = np.asarray(exporters, dtype=int).reshape(k, -1)
        touched = np.zeros((k, n_stages), dtype=bool)
        touched[:, stage] = True
        ledger = {key: np.zeros((k, n_stages)) for key in LEDGER}
        if target is None and not np.diagonal(self.f0[stage])[banned].any():
            # (a flow of an exporter to itself would stay: not a row scaling)
            blocked = (self.f0[stage][banned] * severity).sum(axis=1)
            scale = np.ones((k, n_stages, n))
            scale[np.arange(k)[:, None], stage, banned] = 1.0 - severity
            res = respond_rows(
                self.p0, list(self.f0), scale, list(self.feed), self.s_mine, self.s_ref,
                self.prepared,
            )  # fmt: skip
            rows, production, adjust = res.rows, res.production, res.adjust
            ledger["passed_on"] = res.passed_on
            ledger["propagated_loss"] = res.propagated_loss
            if self.s_ref is not None:  # refiners short of feed: output or exports cut
                touched[:, self.s_ref] |= (production[:, self.s_ref] != self.p0[self.s_ref]).any(
                    axis=1
                ) | (rows[:, self.s_ref] != 1.0).any(axis=1)
            flows = None
            withheld = blocked.sum(axis=1)  # a ban on all importers deflects nothing
        else:
            res = None
            pairs = ban_pairs(n, exporters, target)
            flows = np.repeat(self.f0[stage][None], k, axis=0)
            blocked_pairs = mk.block(flows, pairs, severity)
            blocked = blocked_pairs.sum(axis=1)
            if target is None:
                withheld = blocked.sum(axis=1)
            else:
                restricting = np.asarray(pairs.any(axis=2))
                flows, led = mk.deflect(
                    flows, self.p0[stage], blocked_pairs, pairs, restricting, delta
                )
                ledger["deflected"][:, stage] = led.deflected
                withheld = led.withheld
            ledger["passed_on"][:, stage] = mk.pass_through(flows, self.f0[stage], self.p0[stage])
            rows = np.ones((k, n_stages, n))
            production = np.repeat(self.p0[None], k, axis=0)
            adjust = np.zeros((k, n_stages, n))
            if stage in self.feed and self.s_ref is not None:
                self._propagate(stage, flows, production, rows, adjust, touched, ledger)
        ledger["blocked"][:, stage] = blocked.sum(axis=1)
        ledger["withheld"][:, stage] = withheld
        change = self.supply_change(stage, production, rows, flows, adjust, touched, res)
        return _Chunk(
            stage, exporters, production, rows, flows, change, touched, blocked, ledger, withheld
        )

    def _propagate(
        self,
        stage: int,
        flows: np.ndarray,
        production: np.ndarray,
        rows: np.ndarray,
        adjust: np.ndarray,
        touched: np.ndarray,
        ledger: dict[str, np.ndarray],
    ) -> None:
        """Cut refined output and exports where less feed reaches refiners (the engine's rule).

        ``flows`` are the shocked flows ``[ban, e, i]`` of the feed stage
        ``stage``. The cut scales refiners' rows, so the refining stage keeps
        row factors: the cut is :func:`~riskengine.scenarios.engine.output_cut`
        on its export totals, and pass-through is
        :meth:`~riskengine.scenarios.market.PassThrough.rows`.
        """
        sr = self.s_ref
        assert sr is not None
        feed = list(self.feed)
        mine = np.zeros(self.p0.shape[1]) if self.s_mine is None else self.p0[self.s_mine]
        after = np.zeros_like(flows)  # the feed flows after the bans
        for s in feed:
            after += flows if s == stage else self.f0[s]
        loss = feed_loss(
            refinery_feed(mine, self.f0[feed].sum(axis=0)), refinery_feed(mine[None], after)
        )
        refiners = (self.p0[sr] > 0) | (self.exports0[sr] > 0)
        hit = (loss > 0) & refiners[None]
        cut = np.flatnonzero(hit.any(axis=1))
        if not len(cut):
            return
        p = production[cut, sr]
        frac = np.where(hit[cut], loss[cut], 0.0)
        lost, adjust[cut, sr] = output_cut(p, self.exports0[sr], frac)
        g, by_country = self.prepared[sr].rows(1.0 - frac)
        rows[cut, sr] = (1.0 - frac) * g
        ledger["propagated_loss"][cut, sr] = lost.sum(axis=1)
        ledger["passed_on"][cut, sr] = by_country.sum(axis=1)
        production[cut, sr] = np.maximum(p - lost, 0.0)
        touched[cut, sr] = True

    def copies(self, chunk: _Chunk) -> Flows:
        """Return the flows of every ban of a chunk and, last, the baseline's: ``k + 1`` copies.

        Sparse, ``mineral`` the copy: the non-zero cells, in key order, as
        :meth:`Flows.from_dense` would give them from the dense
        ``[copy, stage, 1, e, i]`` flows; a stage of row factors only visits
        the pairs of its baseline flows.
        """
        k, n_stages, n = chunk.production.shape
        values, stages, exporter, importer = [], [], [], []
        for s in range(n_stages):
            if s == chunk.stage and chunk.flows is not None:
                e, i = np.divmod(np.arange(n * n), n)
                values.append(np.concatenate([chunk.flows, self.f0[s][None]]).reshape(k + 1, n * n))
            else:
                e, i = self.pairs[s]
                factors = np.concatenate([chunk.rows[:, s, e], np.ones((1, len(e)))])
                values.append(factors * self.f0[s, e, i])
            stages.append(np.full(len(e), s))
            exporter.append(e)
            importer.append(i)
        table = np.concatenate(values, axis=1)  # [ban, cell]
        cells = np.flatnonzero(table)
        ban, j = np.divmod(cells, table.shape[1])
        tonnes = table.ravel()[cells]
        return Flows.build(
            mineral=ban,
            stage=np.concatenate(stages)[j],
            year=np.zeros(len(cells), dtype=np.int32),
            exporter=np.concatenate(exporter)[j],
            importer=np.concatenate(importer)[j],
            content=tonnes,
            value=tonnes,
        )

    def supply_change(
        self,
        stage: int,
        production: np.ndarray,
        rows: np.ndarray,
        flows: np.ndarray | None,
        adjust: np.ndarray,
        touched: np.ndarray,
        response: RowResponse | None,
    ) -> np.ndarray:
        """Change ``dA = dP + dM - dX`` (+ the cuts' correction) of every ban, ``[k, S, n]``.

        As :func:`riskengine.scenarios.engine.importer_table` measures it; 0 at
        the stages a ban leaves alone. Bans that only scale rows take it from the
        engine's response (:meth:`~riskengine.scenarios.engine.RowResponse.supply_change`);
        the others from their flows (:func:`~riskengine.scenarios.engine.supply_change`):
        ``flows`` at the ban's ``stage``, ``diag(rows) F0`` elsewhere.
        """
        n = production.shape[-1]
        change = np.zeros_like(production)
        for s in np.flatnonzero(touched.any(axis=0)):
            if response is not None:
                change[:, s] = response.supply_change(int(s), np.arange(n)).T
                continue
            if s == stage and flows is not None:
                shocked = flows
            else:
                shocked = rows[:, s, :, None] * self.f0[s]
            change[:, s] = supply_change(
                self.p0[s], self.f0[s], production[:, s], shocked, adjust[:, s]
            )
        return change


# ---------------------------------------------------------------- pricing
def _prices(md: _Mineral, chunk: _Chunk, market: Market, targeted: bool) -> dict[str, np.ndarray]:
    """Two-region price per ban and touched stage, on the ban axis.

    What the engine's :func:`~riskengine.scenarios.engine.pair_price` computes
    for one ban, for a whole chunk: the restricting countries are the banning
    exporters at the ban's stage (none at the refining stage a feed-stage ban
    propagates to), the volume they withhold and the output lost by
    propagation drive the outside gap
    (:func:`~riskengine.scenarios.market.two_region_prices`), over the scenario
    default of 12 months; the band is the lower and higher of the parameter
    ends.
    """
    k, n_stages = chunk.touched.shape
    out = {col: np.full((k, n_stages), np.nan) for col in PRICE_COLUMNS}
    override = market.elasticities.get(md.name)
    params = mk.market_parameters(md.name, None if override is None else override.eta)
    c0 = md.consumption0  # [S, n]
    n = c0.shape[1]
    for s in range(n_stages):
        bans = np.flatnonzero(chunk.touched[:, s])
        if not len(bans):
            continue
        restricting = np.zeros((len(bans), n), dtype=bool)
        withheld = np.zeros(len(bans))
        if s == chunk.stage:
            exporters = np.asarray(chunk.exporters).reshape(len(chunk.exporters), -1)[bans]
            restricting[np.repeat(np.arange(len(bans)), exporters.shape[1]), exporters.ravel()] = (
                True
            )
            withheld = chunk.ledger["withheld"][bans, s]
        inside = np.where(restricting, c0[s], 0.0).sum(axis=1)
        outside = np.where(restricting, 0.0, c0[s]).sum(axis=1)
        lost = chunk.ledger["propagated_loss"][bans, s]
        p = mk.two_region_prices(
            withheld, outside, inside, 12.0, params, targeted=targeted, demand_change=lost
        )
        out["gap_fraction"][bans, s] = p["gap_fraction"]
        out["price_change_pct"][bans, s] = 100.0 * p["outside"]
        out["price_change_inside_pct"][bans, s] = 100.0 * p["inside"]
        out["price_change_low_pct"][bans, s] = 100.0 * p["outside_low"]
        out["price_change_high_pct"][bans, s] = 100.0 * p["outside_high"]
    return out


# ----------------------------------------------------------------- sweep
def _chunk_for(n_countries: int, n_stages: int) -> int:
    """Bans per batch that keep a batch within :data:`CHUNK_BYTES`."""
    per_ban = CHUNK_ARRAYS * n_stages * max(n_countries, 1) ** 2 * 8
    return max(1, min(1024, CHUNK_BYTES // per_ban))


def _batches_per_chunk(md: _Mineral, batch: int) -> int:
    """Batches of ``batch`` bans whose copies the method scores in one call.

    The market response runs batch by batch (a batch is what the engine's
    mechanics see at once); the copies of up to ``S`` batches are scored
    together as long as the method's temporaries (:data:`PAIR_ARRAYS` numbers
    per flow of a copy) and the batches' ``[ban, e, i]`` flows of one stage
    stay within :data:`CHUNK_BYTES`. Fewer, larger calls of the method.
    """
    n_stages, n = md.p0.shape
    flows = sum(len(e) for e, _ in md.pairs)
    per_ban = 8 * (PAIR_ARRAYS * max(flows, 1) + CHUNK_ARRAYS * n * n)
    return max(1, min(n_stages, CHUNK_BYTES // (per_ban * batch)))


def _candidates(f0: np.ndarray, target: int | None, allowed: np.ndarray | None) -> np.ndarray:
    """Return the exporters (local positions) whose ban blocks something."""
    if target is None:
        off = f0.copy()
        np.fill_diagonal(off, 0.0)
        ok = off.sum(axis=1) > 0
    else:
        ok = f0[:, target] > 0
        ok[target] = False
    if allowed is not None:
        ok &= allowed
    return np.flatnonzero(ok)


def sweep(
    dataset: Dataset,
    *,
    year: int | None = None,
    minerals: Sequence[str] | str | None = None,
    stages: Sequence[str] | str | None = None,
    exporters: Sequence[str] | str | None = None,
    target: str | None = None,
    severity: float = 1.0,
    method: str = DEFAULT_METHOD,
    market: Market | Mapping[str, Any] | None = None,
    chunk_size: int | None = None,
    progress: Progress | None = None,
    pairs: bool = False,
    client: Client | Literal[False] | None = None,
    jobs: int | None = None,
    **params: Any,
) -> SweepResult:
    r"""Evaluate every single-exporter export ban of one year in one vectorized pass.

    Parameters
    ----------
    dataset
        Dataset with production, trade and governance.
    year
        Year the bans are applied to (default: the latest year with both
        production and trade).
    minerals, stages
        Restrict the sweep (default: every mineral and stage).
    exporters
        Restrict the banning exporters (ISO3 or names; default: every country
        with exports of the product); with ``pairs``, the pairs with at least
        one of them.
    target
        One importer (ISO3 or name) every ban targets; None bans exports to
        all importers. A targeted ban's blocked volume is deflected as the
        scenario engine does (``market.deflection``).
    severity
        Fraction of the banned flows stopped, in (0, 1].
    method
        Scoring method whose score change is reported.
    market
        Market parameters (:class:`riskengine.scenarios.models.Market` or a
        mapping of its fields): deflection, elasticities.
    chunk_size
        Bans evaluated together. None (default) sizes each mineral's batches
        to stay within :data:`CHUNK_BYTES` (at most ``CHUNK_ARRAYS * k * S n^2 * 8``
        bytes for ``k`` bans of a mineral traded by ``n`` countries over ``S``
        stages), and the method scores a few batches at once where its memory
        allows (:func:`_batches_per_chunk`).
    progress
        Called with ``(bans done, bans in all)`` after each chunk.
    pairs
        Ban every two exporters of a mineral and stage together instead (N-2,
        on all importers; :mod:`riskengine.stress.pairs`): ``N (N - 1) / 2``
        bans for ``N`` exporters, the ``exporter`` column holding both.
    client
        A Dask ``distributed.Client`` to evaluate the chunks on; None
        (default) uses the current client if the caller made one, else this
        machine (``jobs``); False always this machine (see
        :mod:`riskengine.cluster`). The result is the same, bit for bit.
    jobs
        Cores to use on this machine (default: one per core the process may
        use, at most :data:`~riskengine.cluster.MAX_JOBS`; ignored on a
        cluster). With at least two chunks per job the chunks are evaluated in
        ``jobs`` worker processes forked from this one
        (:func:`riskengine.cluster.pooled`; Linux, no other Python thread
        running), and added in chunk order; otherwise one after the other. The
        result does not depend on it.
    **params
        Parameters of the method (``regions``, ``weights``,
        ``missing_governance``...).

    Returns
    -------
    SweepResult

    Raises
    ------
    UnknownLabelError
        For an unknown mineral, stage, country, year or method.
    RiskEngineError
        For a severity outside (0, 1], a chunk size below 1, or ``pairs`` with
        a ``target``.

    Notes
    -----
    For ban ``b = (e, m, s, t, sigma)`` the sweep's numbers are those of
    :func:`riskengine.run_scenario` on the scenario holding that one
    ``export_ban`` with the same ``market`` (the tests check a random sample
    of bans to 1e-9). With ``F`` the year's flows of ``m`` at ``s``:

    .. math::

        B_{ei} &= \sigma F_{ei} \quad (i \ne e;\ i = t \text{ when targeted}) \\
        F' &= \text{pass\_through}(\text{deflect}(F - B)) \\
        dA_i &= (P'_i + M'_i - X'_i) - (P_i + M_i - X_i) + adj_i \\
        \text{shortfall}_i &= \max(-dA_i, 0)

    and for a ban at a stage that feeds refineries (mining, intermediate) the
    same at the refining stage after propagation.
    Score changes are ``score(shocked) - score(baseline)`` of the method on
    all the mineral's stages. See ``docs/stress.md``.

    Examples
    --------
    >>> import riskengine
    >>> ds = riskengine.load_dataset()
    >>> result = riskengine.sweep(ds, minerals=["cobalt"], stages=["refining"])
    >>> result.ranking(top=3, importers=["USA"]).columns[:3].tolist()
    ['country', 'rank', 'ban']
    """
    started = time.perf_counter()
    check_method(method)
    if not isinstance(dataset, Dataset):
        raise bad_argument(
            "sweep", "dataset", "a Dataset", dataset, "load one with riskengine.load_dataset()"
        )
    check_params(params, "sweep")
    for arg, value in (("minerals", minerals), ("stages", stages), ("exporters", exporters)):
        check_labels("sweep", arg, value)
    check_int("sweep", "year", year, optional=True)
    check_int("sweep", "jobs", jobs, minimum=1, optional=True)
    check_number("sweep", "severity", severity)
    if not (0.0 < float(severity) <= 1.0):
        raise RiskEngineError(f"severity must be in (0, 1], got {severity}")
    if chunk_size is not None and chunk_size < 1:
        raise RiskEngineError(f"chunk_size must be at least 1, got {chunk_size}")
    if not isinstance(pairs, bool | np.bool_):
        raise RiskEngineError(f"pairs must be True or False, got {pairs!r}")
    if pairs and target is not None:
        raise RiskEngineError(
            f"pairs=True bans two exporters' exports to all importers; drop target={target!r}"
        )
    runner = resolve_client(client, "sweep")
    mkt = market if isinstance(market, Market) else Market.model_validate(dict(market or {}))
    for mineral in mkt.elasticities:
        dataset.positions("mineral", [mineral])
    year_ = resolve_year(dataset, year)
    mineral_list = resolve_minerals(dataset, minerals)
    stage_list = resolve_stages(dataset, stages)
    exporter_list = dataset.resolve_countries(exporters)
    target_list = dataset.resolve_countries(target)
    target_code = target_list[0] if target_list else None
    yt = year_tensors(dataset, year_)

    notes: list[str] = []
    seen: set[str] = set()
    plans: list[tuple[_Mineral, int, list[np.ndarray], int | None]] = []
    for mineral in mineral_list:
        md = _Mineral(yt, mineral)
        t_local: int | None = None
        if target_code is not None:
            where = np.flatnonzero(md.countries == target_code)
            if not len(where):
                continue  # the target does not trade this mineral
            t_local = int(where[0])
        allowed = None if exporter_list is None else md.countries.isin(exporter_list)
        for stage in stage_list:
            s = int(yt.dataset.positions("stage", [stage])[0])
            cands = (
                pair_candidates(md.f0[s], allowed)
                if pairs
                else _candidates(md.f0[s], t_local, allowed)
            )
            size = chunk_size or _chunk_for(len(md.countries), len(md.stage_names))
            batches = [cands[start : start + size] for start in range(0, len(cands), size)]
            group = 1 if chunk_size else _batches_per_chunk(md, size)
            for start in range(0, len(batches), group):
                plans.append((md, int(s), batches[start : start + group], t_local))
    total = sum(len(b) for p in plans for b in p[2])
    logger.info("sweep %s: %d bans in %d chunks", year_, total, len(plans))

    ban_parts: list[pd.DataFrame] = []
    market_parts: list[pd.DataFrame] = []
    impact_parts: list[pd.DataFrame] = []
    done = 0
    for bans, markets, impacts in _run_chunks(
        plans, target_code, float(severity), mkt, method, params, seen, runner, default_jobs(jobs)
    ):
        ban_parts.append(bans)
        market_parts.append(markets)
        impact_parts.append(impacts)
        done += len(bans)
        if progress is not None:
            progress(done, total)
    if target_code is not None and not total:
        notes.append(f"no exporter sells the selected products to {target_code} in {year_}")
    return SweepResult(
        method=method,
        dataset=dataset.name,
        params=dict(params),
        notes=tuple(notes),
        year=year_,
        severity=float(severity),
        target=target_code,
        market=mkt,
        bans=frame_or_empty(ban_parts, BAN_COLUMNS),
        market_table=frame_or_empty(market_parts, MARKET_COLUMNS),
        impacts=frame_or_empty(impact_parts, IMPACT_COLUMNS),
        elapsed_s=time.perf_counter() - started,
        pairs=bool(pairs),
    )


Tables = tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]


def _chunk_tables(
    md: _Mineral,
    stage: int,
    batches: list[np.ndarray],
    t_local: int | None,
    ids: np.ndarray,
    target: str | None,
    severity: float,
    market: Market,
    method: str,
    params: dict[str, Any],
    seen: set[str],
) -> Tables:
    """Evaluate one chunk of bans and label it (a task on a cluster).

    The market response runs batch by batch; the method scores the copies of
    every ban of the chunk and the baseline in one call (the last copy is the
    baseline).
    """
    parts = [md.run(stage, b, t_local, severity, market.deflection) for b in batches]
    chunk = _Chunk.join(parts, md.f0[stage])
    prices = _prices(md, chunk, market, t_local is not None)
    production = np.concatenate([chunk.production, md.p0[None]])
    scores = score_copies(
        md.base, production, md.copies(chunk), method, params, seen, baseline=(md.p0, md.f0)
    )
    return _tables(md, chunk, ids, target, severity, prices, scores)


def _run_chunks(
    plans: list[tuple[_Mineral, int, list[np.ndarray], int | None]],
    target: str | None,
    severity: float,
    market: Market,
    method: str,
    params: dict[str, Any],
    seen: set[str],
    client: Client | None,
    jobs: int = 1,
) -> Iterator[Tables]:
    """Tables of every chunk in plan order: here, in local worker processes or on a cluster.

    Ban ids follow the plan. Each mineral is sent to the workers once.
    """
    from riskengine.cluster import map_partitions

    minerals = list({md.name: md for md, *_ in plans}.values())
    tasks: list[tuple[Any, ...]] = []
    next_id = 0
    for md, s, batches, t_local in plans:
        bans = sum(len(b) for b in batches)
        ids = np.arange(next_id, next_id + bans)
        next_id += bans
        tasks.append((md, s, batches, t_local, ids, target, severity, market, method, params,
                      seen))  # fmt: skip
    yield from map_partitions(
        client, _chunk_tables, tasks, name="sweep", objects=minerals, seen=seen, jobs=jobs
    )


def _tables(
    md: _Mineral,
    chunk: _Chunk,
    ids: np.ndarray,
    target: str | None,
    severity: float,
    prices: dict[str, np.ndarray],
    scores: pd.DataFrame,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Labelled tables of one chunk; ``scores`` of copy ``k`` are the baseline's."""
    k, n_stages, n = chunk.production.shape
    stage_index = md.stage_index
    exporter = md.countries.to_numpy()[chunk.exporters]
    if exporter.ndim == 2:  # pairs: both exporters in one label
        exporter = np.array([PAIR_SEP.join(map(str, p)) for p in exporter], dtype=object)
    exporters = pd.Index(exporter)
    ban_stage = md.stage_names[chunk.stage]

    def ban_columns(b: np.ndarray) -> dict[str, Any]:
        """Columns that name the ban of each row."""
        return {
            "ban": ids[b],
            "mineral": md.name,
            "stage": ban_stage,
            "exporter": label_column(exporters, b),
            "target": target or "all",
            "severity": severity,
        }

    # ---- per (ban, stage, country): shortfalls as importer_table computes them
    c0 = md.consumption0  # [S, n]
    change = chunk.change.copy()
    gross = np.maximum(-change, 0.0)
    gross = np.where(gross > TINY, gross, 0.0)
    short = np.maximum(gross - 0.0, 0.0)
    short[short <= TINY] = 0.0
    change[np.abs(change) <= TINY] = 0.0
    blocked = np.zeros((k, n_stages, n))
    blocked[:, chunk.stage] = chunk.blocked
    touched = chunk.touched[:, :, None]
    short = np.where(touched, short, 0.0)
    change = np.where(touched, change, 0.0)
    keep_engine = touched & ((short > 0) | (change != 0) | (blocked > 0))
    keep_engine &= md.named[None, None, :]

    # ---- one label axis: the countries, then regions the method scores, sorted
    codes, scored = pd.factorize(scores["country"])
    labels = pd.Index(sorted({*map(str, md.countries), *scored}))
    cpos = labels.get_indexer(md.countries)
    n_labels = len(labels)

    def spread(values: np.ndarray, fill: float) -> np.ndarray:
        out = np.full((*values.shape[:-1], n_labels), fill, dtype=values.dtype)
        out[..., cpos] = values
        return out

    # score changes: shocked copies against the baseline (rows on either side, as compare())
    values = np.full((k + 1, n_stages, n_labels), np.nan)
    values[
        scores["copy"].to_numpy(dtype=int),
        label_positions(scores["stage"], stage_index),
        labels.get_indexer(pd.Index(scored))[codes],
    ] = scores["value"].to_numpy(dtype=float)
    before, after = values[k:], values[:k]
    delta = after - before
    nan_b, nan_a = np.isnan(before), np.isnan(after)
    with np.errstate(invalid="ignore"):
        keep_score = ~(nan_b & nan_a) & ((nan_b != nan_a) | (np.abs(delta) > SCORE_TINY))
    keep = spread(keep_engine, False) | keep_score
    b_i, s_i, c_i = np.nonzero(keep)
    consumption = spread(c0, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        pct = np.where(
            consumption[None] > 0, 100.0 * spread(short, 0.0) / consumption[None], np.nan
        )
    shortfall = spread(short, 0.0)[b_i, s_i, c_i]
    shortfall_pct = pct[b_i, s_i, c_i]
    score_change = delta[b_i, s_i, c_i]
    impacts = pd.DataFrame(
        {
            **ban_columns(b_i),
            "affected_stage": label_column(stage_index, s_i),
            "country": label_column(labels, c_i),
            "consumption_t": consumption[s_i, c_i],
            "blocked_t": spread(blocked, 0.0)[b_i, s_i, c_i],
            "supply_change_t": spread(change, 0.0)[b_i, s_i, c_i],
            "shortfall_t": shortfall,
            "shortfall_pct": shortfall_pct,
            "score_baseline": before[0, s_i, c_i],
            "score_shocked": after[b_i, s_i, c_i],
            "score_change": score_change,
        }
    )

    # ---- market rows: (ban, touched stage)
    wp = md.p0.sum(axis=1)
    wt = md.f0.sum(axis=(1, 2))
    b_m, s_m = np.nonzero(chunk.touched)
    markets = pd.DataFrame(
        {
            **ban_columns(b_m),
            "affected_stage": label_column(stage_index, s_m),
            "world_production_t": wp[s_m],
            "world_trade_t": wt[s_m],
            **{f"{key}_t": chunk.ledger[key][b_m, s_m] for key in LEDGER},
            **{col: prices[col][b_m, s_m] for col in PRICE_COLUMNS},
        }
    )

    # ---- one row per ban: its impacts summed up (rows of bans that moved nothing: none)
    s_ban = chunk.stage
    importers_short = np.bincount(b_i[shortfall > 0], minlength=k).astype(np.int64)
    max_pct = np.full(k, np.nan)
    np.fmax.at(max_pct, b_i, shortfall_pct)
    max_score = np.full(k, np.nan)
    np.fmax.at(max_score, b_i, score_change)
    refining = np.full(k, np.nan)
    if md.s_ref is not None and md.s_ref != s_ban:
        refining = np.where(
            chunk.touched[:, md.s_ref], prices["price_change_pct"][:, md.s_ref], np.nan
        )
    bans = pd.DataFrame(
        {
            **ban_columns(np.arange(k)),
            "blocked_t": chunk.ledger["blocked"][:, s_ban],
            "deflected_t": chunk.ledger["deflected"][:, s_ban],
            "withheld_t": chunk.ledger["withheld"][:, s_ban],
            "passed_on_t": chunk.ledger["passed_on"].sum(axis=1),
            "propagated_loss_t": chunk.ledger["propagated_loss"].sum(axis=1),
            **{col: prices[col][:, s_ban] for col in PRICE_COLUMNS},
            "refining_price_change_pct": refining,
            "importers_short": importers_short,
            "max_shortfall_pct": max_pct,
            "max_score_change": max_score,
        }
    )
    return bans, markets, impacts
