r"""Monte Carlo distribution of shortfalls and prices under random export disruptions.

Each draw decides, for every exporter ``e`` and mineral ``m`` of the
:class:`~riskengine.stress.disruptions.DisruptionModel`, whether ``e``
disrupts its exports of ``m`` (probability ``p_em``) and with which severity
``s_em``; draws are evaluated as arrays, a batch of draws at a time.

Shortfall of a draw
-------------------
A disruption scales every export flow of ``e`` (every stage of ``m``) by
``1 - s_em``: each draw is a batch member of the scenario engine with export
bans of severity ``s_em`` on all importers
(:func:`~riskengine.scenarios.engine.respond_rows`), and by default
(``market=True``) it runs the engine's market response: re-exporters pass
part of what they lose on to their buyers (the pass-through fixed point,
:class:`~riskengine.scenarios.market.PassThrough`), and lost ore and
intermediates cut refined output and exports (propagation). The shortfall
of importer ``i`` at stage ``s`` is the engine's ``max(-dA, 0)``, ``dA``
the change of what stays in the country; and the outside price of every
mineral and stage is the two-region model
(:func:`~riskengine.scenarios.market.price_response`, central parameters,
a year's horizon), with the exporters disrupted in the draw as the
restricting countries (table ``prices``). A draw disrupts a few of a
mineral's exporters, and the engine's response to them is prepared once per
mineral (:class:`~riskengine.scenarios.engine.ExporterResponse`): where no
pass-through bound binds it is linear in the severities, so a block of
draws costs products of its sparse severities with fixed matrices, and the
few draws in which a bound binds are solved by the engine's fixed point.

With ``market=False`` a draw is first order - the direct loss, without
pass-through or propagation:

.. math::

    \text{shortfall}_i = \max\Bigl(\sum_e s_e F_{ei} - s_i X_i,\ 0\Bigr)

(an importer that is disrupted itself keeps the exports it holds back;
values up to one gram count as 0, the engine's rounding rule). Content
grades (below) are drawn on the first-order loss only.

Content grades
--------------
With ``grades=True`` each draw also draws the content fraction ``f_p`` of
every traded product ``p`` with a range in the product catalogue
(``content_low < content_high``), one fraction per product per draw, shared
by all flows of the product, and converts the flows before the losses are
computed:

.. math:: F_{ei}(f) = \sum_n \text{gross}_n f_{p(n)}
          = F_{ei} + \sum_p (f_p - c_p) G^p_{ei}

(``c_p`` the central fraction, ``G^p`` the product's gross tonnes; flows that
name no product keep their tonnes). ``f_p`` is triangular on
``(content_low, content, content_high)``: bounded by the documented range,
most likely at the catalogue's central value, and needing nothing the
catalogue does not give (a uniform draw would treat the central value as no
likelier than the bounds of an assumed range). Its mean ``(low + content +
high) / 3`` differs from the central value when the range is asymmetric, so
the mean shortfall moves with the range, as it should. Baseline consumption
and the thresholds stay at the central fractions. Per series,
``grade_mean_t`` and ``grade_sd_t`` give the mean and standard deviation of
the change the drawn fractions make to a draw's shortfall (the same
disruptions at central fractions as the reference): the spread the grades
alone add.

Statistics and their errors
---------------------------
Per importer, mineral and stage, over ``n`` draws: the mean shortfall and
its standard error ``sd / sqrt(n)``; the probability of any shortfall and of a
shortfall above each threshold (a fraction of baseline apparent
consumption), with ``sqrt(p (1 - p) / n)``; the value-at-risk ``VaR_a`` (the
``ceil(a n)``-th smallest draw) at 95 % and 99 %, with the distribution-free
error ``(Q(a + d) - Q(a - d)) / 2``, ``d = sqrt(a (1 - a) / n)`` (the half-width of
the order-statistic confidence interval, Conover 1999, sec. 3.2); and the
expected shortfall ``ES_a`` (mean of the ``n - floor(a n)`` largest draws) with
the error of Manistre & Hancock (2005),
``sqrt((V_a + a (ES_a - VaR_a)^2) / (n (1 - a)))``, ``V_a`` the variance of
the tail draws.

Bounded memory
--------------
Draws are not kept. Each series accumulates sums, exceedance counts and a
histogram of its positive draws on ``N_BINS`` logarithmic bins spanning
``DECADES`` decades below its largest possible shortfall (its imports from
exporters at risk), with the count, sum, sum of squares, smallest and
largest draw of every bin. Quantiles are read from the histogram: exact
when the rank falls on a bin whose draws are all equal (the atoms of
discrete disruption patterns), otherwise interpolated between the bin's
smallest and largest draw (the bins are 5.5 % wide, so the error is below
that and, at ``n >= 10,000``, well below the Monte Carlo error). Memory is
``O(series x N_BINS + (jobs + 1) x batch_size x (cells + series))`` in
one process whatever ``n`` (``jobs`` batches under way while one is added),
and ``O(series x N_BINS + batch_size x (cells + series))`` in each of
``jobs`` worker processes.

Reproducibility
---------------
Random numbers come in fixed blocks of ``STREAM_BLOCK`` draws; block ``b``
has its own streams, seeded with ``SeedSequence(seed, spawn_key=(b,))``
(one child for occurrences, one for severities, and a third,
``spawn_key=(b, 2)``, for content grades, so that turning grades on leaves
the disruptions of every draw as they were). The occurrence stream gives
each cell the draws it is disrupted in as geometric gaps (:func:`occurrences`:
a number per disruption, not one per cell and draw), cell by cell; the
severity stream then gives the disruptions their severities in that order.
A block is always drawn whole, so a short last block holds the first draws
of the full one. A batch is a whole number of blocks. Sums are accumulated
block by block in order within a *unit* of at most ``UNIT_BLOCKS`` blocks
(:func:`unit_ranges`: the units depend on ``n`` alone), and then unit by
unit in order; a unit is also what one task computes on a Dask cluster
(``client=``, :mod:`riskengine.cluster`) or one call of a local worker
process (``jobs=``, :func:`local_mode`), and the caller adds the units'
statistics in unit order. So the result does not
depend on ``batch_size``, on ``jobs``, on the number of workers or on which
worker computed which unit - not even in the last bit - and the first ``n``
draws of a longer run are the draws of a run of ``n``.

References
----------
Conover, W. J. (1999). Practical Nonparametric Statistics, 3rd ed. Wiley.
Manistre, B. J., & Hancock, G. H. (2005). Variance of the CTE estimator.
North American Actuarial Journal, 9(2), 129-156.
doi:10.1080/10920277.2005.10596195.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, cast

import numpy as np
import pandas as pd

from riskengine.cluster import default_jobs, resolve_client
from riskengine.dataset import Dataset, RiskEngineWarning
from riskengine.dims import OTHER_COUNTRIES
from riskengine.errors import (
    DataError,
    RiskEngineError,
    UnknownLabelError,
    bad_argument,
    check_int,
    check_labels,
)
from riskengine.results import Result
from riskengine.scenarios.engine import TINY, ExporterResponse
from riskengine.scenarios.market import (
    PassThrough,
    market_parameters,
    price_response,
    reexport_share,
)
from riskengine.stress._common import (
    MineralBlock,
    Progress,
    YearTensors,
    resolve_minerals,
    resolve_stages,
    resolve_year,
    year_tensors,
)
from riskengine.stress.disruptions import (
    INDICATOR_INDEX,
    DisruptionModel,
    Severity,
    as_model,
)

if TYPE_CHECKING:
    from distributed import Client
    from numpy.typing import ArrayLike
    from scipy import sparse

logger = logging.getLogger(__name__)

#: Horizon of a draw's price, months: a disruption lasts the year of the draw.
PRICE_HORIZON_MONTHS = 12.0
#: Draws per random stream block (the unit of reproducibility).
STREAM_BLOCK = 2000
#: Histogram bins per series, and the decades they span below the largest shortfall.
N_BINS = 256
DECADES = 6.0
#: Default thresholds: shortfall above 5, 10 and 25 % of baseline apparent consumption.
THRESHOLDS: tuple[float, ...] = (0.05, 0.10, 0.25)
#: Levels of value-at-risk and expected shortfall.
LEVELS: tuple[float, ...] = (0.95, 0.99)
#: Default draws per batch (a multiple of :data:`STREAM_BLOCK`).
DEFAULT_BATCH = 2000
#: Gaps drawn per cell beyond its expected number: this many standard deviations, plus
#: this many gaps; few cells run short and take more (:func:`occurrences`).
GAP_SIGMAS = 4.0
#: Draws binned at a time by the accumulator (a few hundred series of a block).
_CHUNK_VALUES = 1 << 18
#: Most blocks per unit: statistics are summed block by block within a unit, then unit
#: by unit (the order that makes a result independent of batches and workers); one unit
#: is one task on a Dask cluster (:func:`unit_ranges`).
UNIT_BLOCKS = 16
#: Child of a block's seed sequence that draws content grades (0 and 1 draw disruptions).
GRADE_STREAM = 2
#: Distribution of a drawn content fraction (see the module notes).
GRADE_DISTRIBUTION = "triangular(content_low, content, content_high)"
#: Columns of :attr:`SimulationResult.grades`.
GRADE_COLUMNS: tuple[str, ...] = (
    "product",
    "mineral",
    "stage",
    "basis",
    "content",
    "content_low",
    "content_high",
    "mean",
    "sd",
    "gross_at_risk_t",
)


# ----------------------------------------------------------------- plan
@dataclass
class _Stage:
    """One mineral and stage: sparse flows from the mineral's cells to its series."""

    flows_t: sparse.csr_array  # [series of this stage, cells of the mineral]
    offset: int  # first series position
    own_rows: np.ndarray  # local series rows that are cells themselves
    own_cells: np.ndarray  # their cell (local to the mineral)
    own_exports: np.ndarray  # their exports at the stage
    # with grades: (product row, gross tonnes [series, cells], own rows' gross exports)
    grades: list[tuple[int, sparse.csr_array, np.ndarray]] = field(default_factory=list)


@dataclass
class _Response:
    """What the market response of one mineral needs, fixed before drawing.

    ``engine`` holds the block's baseline production and pass-through, and the
    block position of each cell of the mineral (``engine.exporters``).
    """

    flows: list[sparse.csr_array]  # per stage, [n, n]
    tracked: list[tuple[int, np.ndarray, int]]  # (stage, block rows, first series)
    priced: list[tuple[int, int, np.ndarray]]  # (stage, price series, consumption [n])
    params: dict[str, float]  # central market parameters of the mineral
    engine: ExporterResponse  # the engine's response to the cells' deficits


@dataclass
class _MineralPlan:
    cells: slice  # cells of the mineral in the cell axis
    stages: list[_Stage]
    response: _Response | None = None  # with the market response


@dataclass
class Grades:
    """Content fractions a simulation draws, one per product of the dataset.

    Attributes
    ----------
    low, mode, high : ndarray
        ``content_low``, ``content`` and ``content_high`` of every row of the
        dataset's product table (``mode`` also for products not drawn).
    drawn : ndarray of bool
        Products with a range (``low < high``); the others keep ``mode``.
    bound : ndarray
        Largest possible shortfall of every series: its exposure with every
        drawn product at ``content_high``.
    table : pandas.DataFrame
        The drawn products the simulated flows use (:data:`GRADE_COLUMNS`).
    """

    low: np.ndarray
    mode: np.ndarray
    high: np.ndarray
    drawn: np.ndarray
    bound: np.ndarray
    table: pd.DataFrame


@dataclass
class Plan:
    """Everything a draw needs, fixed before drawing.

    Attributes
    ----------
    cells : pandas.DataFrame
        One row per (exporter, mineral) at risk: ``exporter``, ``mineral``,
        ``probability``, ``severity`` (distribution), ``alpha``, ``beta``,
        ``value``, ``mean_severity``, ``source`` (``mapping``, ``override``
        or ``missing governance``) and ``exports_t`` (all stages).
    series : pandas.DataFrame
        One row per (mineral, stage, importer) that can be short:
        ``consumption_t`` (baseline apparent consumption), ``exposure_t``
        (imports from exporters at risk: the largest first-order shortfall)
        and ``reexport_share`` (exports over production plus imports: the
        share of a loss passed on to the importer's buyers). With the market
        response every importer (and every refiner) is tracked, since
        pass-through and propagation reach beyond the direct buyers.
    prices : pandas.DataFrame
        With the market response, the (mineral, stage) pairs whose outside
        price is drawn; they follow the series on the accumulator's axis.
    """

    cells: pd.DataFrame
    series: pd.DataFrame
    probability: np.ndarray
    fixed: np.ndarray  # severity of fixed cells, NaN for beta cells
    alpha: np.ndarray
    beta: np.ndarray
    minerals: list[_MineralPlan]
    upper: np.ndarray  # [series] exposure
    consumption: np.ndarray  # [series]
    grades: Grades | None = None  # content fractions drawn, if any
    market: bool = False  # draws run the engine's market response
    prices: pd.DataFrame = field(default_factory=pd.DataFrame)  # price series, with market

    @property
    def n_cells(self) -> int:
        """Number of (exporter, mineral) cells."""
        return len(self.probability)

    @property
    def n_series(self) -> int:
        """Number of (mineral, stage, importer) series."""
        return len(self.upper)

    @property
    def bound(self) -> np.ndarray:
        """Largest possible shortfall of every series (the exposure, at the highest grades)."""
        return self.upper if self.grades is None else self.grades.bound

    @property
    def floor(self) -> np.ndarray:
        """Largest value of every series that counts as none: :data:`TINY` tonnes, 0 for prices."""
        floor = np.full(self.n_series, TINY)
        floor[len(self.series) :] = 0.0
        return floor

    @cached_property
    def one_beta(self) -> tuple[float, float] | None:
        """``(alpha, beta)`` when every Beta-distributed cell has the same, else None."""
        drawn = np.isnan(self.fixed)
        a, b = self.alpha[drawn], self.beta[drawn]
        if len(a) and (a == a[0]).all() and (b == b[0]).all():
            return float(a[0]), float(b[0])
        return None


def _cell_parameters(
    ds: Dataset,
    year: int,
    model: DisruptionModel,
    exporters: np.ndarray,
    minerals: list[str],
    cell_mineral: np.ndarray,
) -> tuple[np.ndarray, list[Severity], list[str]]:
    """Probability, severity and source of every cell."""
    gov, _ = ds.governance_at(year)
    estimate = gov[INDICATOR_INDEX[model.probability.indicator]][exporters]
    missing = np.isnan(estimate)
    mapping = model.probability
    source = np.where(missing, "missing governance", "mapping").astype(object)
    if mapping.constant is not None:
        source[:] = "constant"
    prob = mapping.probability(np.where(missing, 0.0, estimate))
    severities: list[Severity] = [model.severity] * len(exporters)
    overridden = np.zeros(len(exporters), dtype=bool)
    for j, item in enumerate(model.overrides):
        try:
            codes = ds.resolve_countries([item.country])
        except UnknownLabelError as exc:
            raise RiskEngineError(f"{model.where(('overrides', j, 'country'))}: {exc}") from exc
        assert codes is not None
        if item.mineral is not None and item.mineral not in ds.minerals:
            raise RiskEngineError(
                f"{model.where(('overrides', j, 'mineral'))}: unknown mineral "
                f"{item.mineral!r}; valid: {', '.join(map(str, ds.minerals))}"
            )
        c = ds.countries.get_loc(codes[0])
        hit = exporters == c
        if item.mineral is not None:
            hit &= cell_mineral == (
                minerals.index(item.mineral) if item.mineral in minerals else -1
            )
        if item.probability is not None:
            prob[hit] = item.probability
            overridden |= hit
            source[hit] = "override"
        if item.severity is not None:
            for k in np.flatnonzero(hit):
                severities[k] = item.severity
            source[hit & ~overridden] = "override (severity)"
    gap = missing & ~overridden & (mapping.constant is None)
    if gap.any():
        names = sorted({str(ds.countries[c]) for c in exporters[gap]})
        listed = ", ".join(names)
        if mapping.missing_value == "raise":
            raise DataError(
                f"no WGI {mapping.indicator} estimate for exporters {listed}; add them to "
                f"governance.csv, give them a probability in the disruption model's "
                f"overrides, or set probability.missing_value to a WGI estimate to assume"
            )
        value = float(mapping.missing_value)
        prob[gap] = mapping.probability(np.full(int(gap.sum()), value))
        warnings.warn(
            f"no WGI {mapping.indicator} estimate for exporters {listed}; their disruption "
            f"probability assumes {mapping.indicator} = {value:g} (probability.missing_value)",
            RiskEngineWarning,
            stacklevel=4,
        )
    return prob, severities, [str(s) for s in source]


def plan_simulation(
    dataset: Dataset,
    *,
    year: int | None = None,
    minerals: Sequence[str] | str | None = None,
    stages: Sequence[str] | str | None = None,
    importers: Sequence[str] | str | None = None,
    model: DisruptionModel | Mapping[str, Any] | str | Path | None = None,
    probability: float | Mapping[str, float | Mapping[str, float]] | None = None,
    severity: float | tuple[float, float] | Severity | None = None,
    grades: bool = False,
    market: bool = True,
) -> Plan:
    """Fix the cells at risk, their parameters and the series a simulation tracks.

    Parameters are those of :func:`simulate`.
    """
    from scipy import sparse

    if market and grades:
        raise RiskEngineError(
            "grades=True draws content fractions for the first-order shortfall only; "
            "pass market=False with grades=True (--no-market --grades)"
        )

    mdl = as_model(model, probability, severity)
    year_ = resolve_year(dataset, year)
    mineral_list = resolve_minerals(dataset, minerals)
    stage_list = resolve_stages(dataset, stages)
    importer_list = dataset.resolve_countries(importers)
    yt = year_tensors(dataset, year_)
    ds = yt.dataset
    s_pos = [int(p) for p in ds.positions("stage", stage_list)]
    blocks = [yt.block(mineral) for mineral in mineral_list]

    exporters_l: list[np.ndarray] = []  # local to each mineral's block
    mineral_l: list[np.ndarray] = []
    for k, block in enumerate(blocks):
        f = block.flows[s_pos].copy()
        idx = np.arange(f.shape[1])
        f[:, idx, idx] = 0.0
        exporting = (f.sum(axis=2) > 0).any(axis=0)
        e = np.flatnonzero(exporting)
        exporters_l.append(e)
        mineral_l.append(np.full(len(e), k))
    local = np.concatenate(exporters_l) if exporters_l else np.zeros(0, dtype=int)
    cell_mineral = np.concatenate(mineral_l) if mineral_l else np.zeros(0, dtype=int)
    exporters = (  # positions on the dataset's country axis
        np.concatenate([b.idx[e] for b, e in zip(blocks, exporters_l, strict=True)])
        if blocks
        else np.zeros(0, dtype=int)
    )
    prob, severities, source = _cell_parameters(
        ds, year_, mdl, exporters, mineral_list, cell_mineral
    )
    at_risk = prob > 0
    exporters, cell_mineral, prob = exporters[at_risk], cell_mineral[at_risk], prob[at_risk]
    local = local[at_risk]
    severities = [s for s, keep in zip(severities, at_risk, strict=True) if keep]
    source = [s for s, keep in zip(source, at_risk, strict=True) if keep]

    products = ds.products
    low = products["content_low"].to_numpy(dtype=float)
    mode = products["content"].to_numpy(dtype=float)
    high = products["content_high"].to_numpy(dtype=float)
    drawn = (low < high) if grades else np.zeros(len(products), dtype=bool)  # NaN: not drawn
    gross_at_risk = np.zeros(len(products))
    bound: list[np.ndarray] = []

    plans: list[_MineralPlan] = []
    series: list[dict[str, Any]] = []
    upper: list[np.ndarray] = []
    consumption: list[np.ndarray] = []
    reexport: list[np.ndarray] = []
    cell_exports = np.zeros(len(exporters))
    offset = 0
    countries = ds.countries.to_numpy()
    price_rows: list[dict[str, Any]] = []
    exposures: list[np.ndarray] = []
    for k, (mineral, block) in enumerate(zip(mineral_list, blocks, strict=True)):
        if market:
            cells = np.flatnonzero(cell_mineral == k)
            sl = slice(int(cells[0]), int(cells[-1]) + 1) if len(cells) else slice(0, 0)
            labels = block.countries.to_numpy(dtype=object)
            keep = labels != OTHER_COUNTRIES
            if importer_list is not None:
                keep &= np.isin(labels, importer_list)
            response, rows_added = _plan_response(
                yt, mineral, block, local[sl], s_pos, keep, offset, len(price_rows)
            )
            for s in s_pos:
                cell_exports[sl] += response.flows[s].toarray()[local[sl]].sum(axis=1)
            for s, rows, _ in response.tracked:
                f = response.flows[s].toarray()
                p = block.production[s]
                supply = p + f.sum(axis=0)
                c0 = np.maximum(supply - f.sum(axis=1), 0.0)
                exposures.append(f[local[sl]].sum(axis=0)[rows])
                upper.append(supply[rows])
                consumption.append(c0[rows])
                reexport.append(reexport_share(f, p)[rows])
                series.extend(
                    {"mineral": mineral, "stage": str(ds.stages[s]), "country": str(labels[c])}
                    for c in rows
                )
            offset += rows_added
            for s, _, c0 in response.priced:
                price_rows.append(
                    {
                        "mineral": mineral,
                        "stage": str(ds.stages[s]),
                        "bound": _price_bound(response, s, c0),
                    }
                )
            plans.append(_MineralPlan(cells=sl, stages=[], response=response))
            continue
        cells = np.flatnonzero(cell_mineral == k)
        sl = slice(int(cells[0]), int(cells[-1]) + 1) if len(cells) else slice(0, 0)
        e = local[sl]
        labels = block.countries.to_numpy(dtype=object)
        not_residual = labels != OTHER_COUNTRIES
        wanted = (
            np.ones(len(labels), dtype=bool)
            if importer_list is None
            else np.isin(labels, importer_list)
        )
        stages_plan: list[_Stage] = []
        gross = _gross_by_product(ds, mineral, block.idx, drawn) if drawn.any() else {}
        for s in s_pos:
            f = block.flows[s].copy()
            np.fill_diagonal(f, 0.0)
            p = block.production[s]
            from_cells = f[e]  # [cells, importers]
            cell_exports[sl] += from_cells.sum(axis=1)
            exposure = from_cells.sum(axis=0)
            rows = np.flatnonzero((exposure > 0) & not_residual & wanted)
            if not len(rows):
                continue
            c0 = np.maximum(p + f.sum(axis=0) - f.sum(axis=1), 0.0)
            share = reexport_share(f, p)
            own_map = {int(c): j for j, c in enumerate(e)}
            own_rows = np.array([r for r, c in enumerate(rows) if int(c) in own_map], dtype=int)
            own_cells = np.array([own_map[int(rows[r])] for r in own_rows], dtype=int)
            graded: list[tuple[int, sparse.csr_array, np.ndarray]] = []
            most = exposure[rows].copy()
            for row, g_all in gross.items():
                g = g_all[s].copy()
                np.fill_diagonal(g, 0.0)
                g_cells = g[e][:, rows]  # [cells, series]
                if not g_cells.any():
                    continue
                graded.append(
                    (
                        row,
                        sparse.csr_array(np.ascontiguousarray(g_cells.T)),
                        g.sum(axis=1)[rows[own_rows]],
                    )
                )
                gross_at_risk[row] += g_cells.sum()
                most += (high[row] - mode[row]) * g_cells.sum(axis=0)
            stages_plan.append(
                _Stage(
                    flows_t=sparse.csr_array(np.ascontiguousarray(from_cells[:, rows].T)),
                    offset=offset,
                    own_rows=own_rows,
                    own_cells=own_cells,
                    own_exports=f.sum(axis=1)[rows[own_rows]],
                    grades=graded,
                )
            )
            offset += len(rows)
            bound.append(most)
            upper.append(exposure[rows])
            consumption.append(c0[rows])
            reexport.append(share[rows])
            series.extend(
                {"mineral": mineral, "stage": str(ds.stages[s]), "country": str(labels[c])}
                for c in rows
            )
        plans.append(_MineralPlan(cells=sl, stages=stages_plan))

    cells_frame = pd.DataFrame(
        {
            "exporter": countries[exporters],
            "mineral": [mineral_list[k] for k in cell_mineral],
            "probability": prob,
            "severity": [s.distribution for s in severities],
            "alpha": [s.alpha if s.distribution == "beta" else np.nan for s in severities],
            "beta": [s.beta if s.distribution == "beta" else np.nan for s in severities],
            "value": [s.value if s.value is not None else np.nan for s in severities],
            "mean_severity": [s.mean for s in severities],
            "source": source,
            "exports_t": cell_exports,
        }
    )
    series_frame = pd.DataFrame(series, columns=["mineral", "stage", "country"])
    up = np.concatenate(upper) if upper else np.zeros(0)
    cons = np.concatenate(consumption) if consumption else np.zeros(0)
    series_frame["consumption_t"] = cons
    # with the market response a series can lose more than its imports from the
    # exporters at risk (a refiner losing feed): its bound is its supply
    series_frame["exposure_t"] = np.concatenate(exposures) if market and exposures else up
    series_frame["reexport_share"] = np.concatenate(reexport) if reexport else np.zeros(0)
    # price series follow the shortfall series on the accumulator's axis: the change
    # of the outside price in %, over a "consumption" of 100 so that a threshold t
    # reads as a price rise above 100 t %
    prices = pd.DataFrame(price_rows, columns=["mineral", "stage", "bound"])
    up = np.concatenate([up, prices["bound"].to_numpy(dtype=float)])
    cons = np.concatenate([cons, np.full(len(prices), 100.0)])
    prices = prices.drop(columns="bound")
    series_frame.attrs["year"] = year_
    fixed = np.array(
        [s.value if s.distribution == "fixed" else np.nan for s in severities], dtype=float
    )
    grade_plan = None
    if grades:
        used = np.flatnonzero(gross_at_risk > 0)
        a, c, b = low[used], mode[used], high[used]
        table = products.iloc[used][["product", "mineral", "stage", "basis"]].reset_index(drop=True)
        table["content"], table["content_low"], table["content_high"] = c, a, b
        table["mean"] = (a + b + c) / 3.0
        table["sd"] = np.sqrt((a * a + b * b + c * c - a * b - a * c - b * c) / 18.0)
        table["gross_at_risk_t"] = gross_at_risk[used]
        grade_plan = Grades(
            low=low,
            mode=mode,
            high=high,
            drawn=drawn,
            bound=np.concatenate(bound) if bound else np.zeros(0),
            table=table[list(GRADE_COLUMNS)],
        )
    return Plan(
        cells=cells_frame,
        series=series_frame,
        probability=prob.astype(float),
        fixed=fixed,
        alpha=np.array([s.alpha for s in severities], dtype=float),
        beta=np.array([s.beta for s in severities], dtype=float),
        minerals=plans,
        upper=up,
        consumption=cons,
        grades=grade_plan,
        market=market,
        prices=prices,
    )


def _plan_response(
    yt: YearTensors,
    mineral: str,
    block: MineralBlock,
    cells: np.ndarray,
    s_pos: list[int],
    keep: np.ndarray,
    offset: int,
    price_index: int,
) -> tuple[_Response, int]:
    """Prepare the market response of one mineral: baseline, pass-through, tracked series.

    A country is tracked at a stage when it imports there, or refines at the
    refining stage (it can lose feed); a price series is kept for every
    stage at which the cells export, and for the refining stage when a feed
    stage is shocked.
    """
    from scipy import sparse

    n_s = block.production.shape[0]
    flows = []
    for s in range(n_s):
        f = block.flows[s].copy()
        np.fill_diagonal(f, 0.0)
        flows.append(sparse.csr_array(f))
    prepared = [PassThrough.prepare(flows[s], block.production[s]) for s in range(n_s)]
    tracked: list[tuple[int, np.ndarray, int]] = []
    priced: list[tuple[int, int, np.ndarray]] = []
    added = 0
    feed = list(yt.feed)
    shocks_feed = any(prepared[f].exports0[cells].sum() > 0 for f in feed)
    for s in s_pos:
        p = block.production[s]
        imports0 = prepared[s].imports0
        refines = s == yt.s_ref
        rows = np.flatnonzero(((imports0 > 0) | (refines & (p > 0))) & keep)
        if len(rows):
            tracked.append((s, rows, offset + added))
            added += len(rows)
        c0 = np.maximum(p + imports0 - prepared[s].exports0, 0.0)
        shocked = prepared[s].exports0[cells].sum() > 0 or (refines and shocks_feed)
        if shocked and c0.sum() > 0:
            priced.append((s, price_index + len(priced), c0))
    engine = ExporterResponse.prepare(
        block.production, flows, feed, yt.s_mine, yt.s_ref, cells,
        [(s, rows) for s, rows, _ in tracked], prepared,
    )  # fmt: skip
    return (
        _Response(
            flows=flows,
            tracked=tracked,
            priced=priced,
            params=market_parameters(mineral).pick("central"),
            engine=engine,
        ),
        added,
    )


def _price_bound(response: _Response, s: int, c0: np.ndarray) -> float:
    """Largest outside price change (%) of a draw: every cell withholding all it exports."""
    engine = response.engine
    cells = engine.exporters
    withheld = float(engine.prepared[s].exports0[cells].sum())
    outside = float(np.delete(c0, cells).sum())
    extra = float(engine.production0[s].sum()) if s == engine.s_ref else 0.0
    x_out, _, _ = price_response(
        withheld, outside, 0.0, PRICE_HORIZON_MONTHS, response.params, demand_change=extra
    )
    bound = 100.0 * float(np.expm1(min(float(x_out), 700.0)))
    return bound if np.isfinite(bound) and bound > 0 else 1.0


def _gross_by_product(
    ds: Dataset, mineral: str, idx: np.ndarray, drawn: np.ndarray
) -> dict[int, np.ndarray]:
    """Gross tonnes ``[stage, exporter, importer]`` of each drawn product of ``mineral``.

    On the countries ``idx`` of the mineral's block; only the flows that
    enter quantity measures (:attr:`~riskengine.flows.Flows.usable`), whose
    contained tonnes are ``gross x content``.
    """
    tr = ds.sel(minerals=[mineral]).trade
    if tr is None or not len(tr):
        return {}
    named = tr.product >= 0
    keep = named & tr.usable & (tr.gross > 0)
    keep[named] &= drawn[tr.product[named]]
    if not keep.any():
        return {}
    tr = tr.take(keep)
    n_s, n = len(ds.stages), len(idx)
    local = np.full(len(ds.countries), -1)
    local[idx] = np.arange(n)
    out: dict[int, np.ndarray] = {}
    for row in np.unique(tr.product):
        one = tr.take(tr.product == row).recode(exporter=local, importer=local)
        out[int(row)] = one.dense("gross", (1, n_s, 1, n, n))[0, :, 0]
    return out


# ---------------------------------------------------------------- draws
def block_severities(plan: Plan, entropy: int, block: int, n_draws: int) -> np.ndarray:
    """Severities ``[draw, cell]`` of one block (0 where a cell is not disrupted).

    Block ``block`` covers draws ``block * STREAM_BLOCK`` onwards; ``n_draws``
    (at most :data:`STREAM_BLOCK`) of them are returned, so a short last block
    holds the first draws of the full block.
    """
    cells, draws, values = _block_hits(plan, entropy, block, n_draws)
    out = np.zeros((n_draws, plan.n_cells))
    out[draws, cells] = values
    return out


def occurrences(
    rng: np.random.Generator, probability: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray]:
    r"""Draws, of ``n``, in which each cell is disrupted: ``(cells, draws)``, cell by cell.

    Each cell is disrupted in each draw independently with its probability
    :math:`p`: the gaps between its disrupted draws are geometric,
    :math:`G = \lceil E / \lambda \rceil` with :math:`E` standard exponential
    and :math:`\lambda = -\ln(1 - p)`, so that
    :math:`P(G = k) = (1 - p)^{k - 1} p`. Drawing the gaps costs a number per
    disruption (about 6 % of the cells in a draw on the default data)
    instead of one per cell and draw. The cells take their gaps from
    ``rng`` in turn, :data:`GAP_SIGMAS` standard deviations more than they
    need on average; the few that run short take more, in turn, until
    every cell has passed draw ``n``. Returned ordered by cell, then draw.
    """
    with np.errstate(divide="ignore"):
        rate = -np.log1p(-np.minimum(probability, 1.0))  # inf where p = 1: every draw
    todo = np.flatnonzero(probability > 0)
    reached = np.full(len(todo), -1.0)  # each cell's last disrupted draw so far
    found: list[tuple[np.ndarray, np.ndarray]] = []
    while len(todo):
        p = np.minimum(probability[todo], 1.0)
        mean = (n - 1 - reached) * p  # disruptions still to come, on average
        count = np.ceil(mean + GAP_SIGMAS * np.sqrt(mean * (1.0 - p)) + GAP_SIGMAS)
        count = np.maximum(count, 1.0).astype(np.int64)  # at least one: a cell always moves on
        gaps = rng.exponential(np.repeat(1.0 / rate[todo], count))  # E / lambda
        np.ceil(gaps, out=gaps)
        np.maximum(gaps, 1.0, out=gaps)  # p = 1: E / inf = 0
        np.minimum(gaps, n + 1.0, out=gaps)  # beyond the block anyway: sums stay exact
        at = np.cumsum(gaps)  # integers, exact in float
        starts = np.cumsum(count) - count  # each cell's first gap
        at += np.repeat(reached - (at[starts] - gaps[starts]), count)  # within each cell
        ends = starts + count - 1
        cell = np.repeat(todo, count)
        inside = at < n
        found.append((cell[inside], at[inside].astype(np.int64)))
        last = at[ends]
        short = last < n  # may have more disruptions in the block
        todo, reached = todo[short], last[short]
    if len(found) == 1:
        return found[0]
    cells = np.concatenate([c for c, _ in found])
    draws = np.concatenate([d for _, d in found])
    order = np.argsort(cells, kind="stable")  # merges the rounds' runs; each later round
    return cells[order], draws[order]  # continues its cells after the earlier one


def _block_hits(
    plan: Plan, entropy: int, block: int, n_draws: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the disruptions of :func:`block_severities`: ``(cells, draws, severities)``.

    Ordered by cell, then draw. The whole block is drawn, then cut to
    ``n_draws``, so that a short last block holds the first draws of the
    full block.
    """
    seq = np.random.SeedSequence(entropy, spawn_key=(block,))
    occurrence, severity = (np.random.default_rng(s) for s in seq.spawn(2))
    cells, draws = occurrences(occurrence, plan.probability, STREAM_BLOCK)
    values = plan.fixed[cells]
    is_beta = np.isnan(values)
    if is_beta.any():
        c = cells[is_beta]
        if plan.one_beta is not None:  # one distribution: the same draws, faster
            values[is_beta] = severity.beta(*plan.one_beta, size=len(c))
        else:
            values[is_beta] = severity.beta(plan.alpha[c], plan.beta[c])
    keep = draws < n_draws
    return cells[keep], draws[keep], values[keep]


def _by_mineral(
    plan: Plan, hits: sparse.csc_array
) -> Iterator[tuple[_MineralPlan, sparse.csr_array]]:
    """Yield each mineral with a market response and its severities ``[draw, its cells]``.

    ``hits`` are the severities ``[draw, cell]`` by column (CSC): a mineral's
    cells are consecutive columns. Minerals none of whose cells is disrupted
    are left out.
    """
    from scipy import sparse as sp

    k = hits.shape[0]
    for mp in plan.minerals:
        lo, hi = mp.cells.start, mp.cells.stop
        a, b = int(hits.indptr[lo]), int(hits.indptr[hi])
        if mp.response is None or a == b:
            continue
        own = (hits.data[a:b], hits.indices[a:b], hits.indptr[lo : hi + 1] - a)
        yield mp, sp.csc_array(own, shape=(k, hi - lo)).tocsr()


def triangular_quantile(
    u: ArrayLike, low: ArrayLike, mode: ArrayLike, high: ArrayLike
) -> np.ndarray:
    r"""Quantile function of the triangular distribution on ``(low, mode, high)``.

    Notes
    -----
    With :math:`w = b - a` and :math:`u_c = (c - a) / w`,

    .. math::

        Q(u) = \begin{cases} a + \sqrt{u\, w\, (c - a)} & u < u_c \\
               b - \sqrt{(1 - u)\, w\, (b - c)} & u \ge u_c \end{cases}

    (Johnson, Kotz & Balakrishnan 1995, ch. 26). Where ``low == high`` the
    value is ``mode``. The arguments broadcast against each other.
    """
    u, low, mode, high = (np.asarray(x, dtype=float) for x in (u, low, mode, high))
    width = high - low
    with np.errstate(divide="ignore", invalid="ignore"):
        cut = np.where(width > 0, (mode - low) / width, 0.0)
        left = low + np.sqrt(u * width * (mode - low))
        right = high - np.sqrt((1.0 - u) * width * (high - mode))
    return np.where(width > 0, np.where(u < cut, left, right), mode)


def block_grades(plan: Plan, entropy: int, block: int, n_draws: int) -> np.ndarray:
    """Content fractions ``[draw, product]`` of one block (every row of the product table).

    One uniform number per product and draw from the block's grade stream
    (``SeedSequence(entropy, spawn_key=(block, GRADE_STREAM))``), turned into
    a fraction by :func:`triangular_quantile`; products without a range keep
    their central fraction. Like :func:`block_severities`, a short last block
    holds the first draws of the full block.
    """
    g = plan.grades
    if g is None:
        raise RiskEngineError("this simulation plan draws no grades (plan_simulation(grades=True))")
    seq = np.random.SeedSequence(entropy, spawn_key=(block, GRADE_STREAM))
    u = np.random.default_rng(seq).random((n_draws, len(g.mode)))
    return np.where(g.drawn, triangular_quantile(u, g.low, g.mode, g.high), g.mode)


def _clip(loss: np.ndarray) -> np.ndarray:
    """``max(loss, 0)`` with values up to :data:`TINY` set to 0, in place."""
    np.copyto(loss, 0.0, where=loss <= TINY)
    return loss


class _Buffers:
    """Arrays of shortfalls handed back once added, for the next batches to fill.

    A fresh array of a batch's shortfalls (tens of MB) costs a page fault per
    page on its first writes, and the faults of threads wait on each other;
    reusing the arrays of added batches costs one pass of zeros instead.
    """

    def __init__(self) -> None:
        import threading

        self._free: list[np.ndarray] = []
        self._lock = threading.Lock()

    def take(self, shape: tuple[int, int]) -> np.ndarray:
        """Return an array of zeros of ``shape``: a handed-back one if there is one."""
        with self._lock:
            at = next((i for i, a in enumerate(self._free) if a.shape == shape), None)
            buffer = None if at is None else self._free.pop(at)
        if buffer is None:
            return np.zeros(shape)
        buffer.fill(0.0)
        return buffer

    def give(self, buffer: np.ndarray) -> None:
        """Hand an array back (its values are no longer needed)."""
        with self._lock:
            self._free.append(buffer)


def _shortfalls(
    plan: Plan,
    severities: np.ndarray,
    fractions: np.ndarray | None,
    buffers: _Buffers | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Shortfalls ``[series, draw]`` with ``fractions``, and at the central fractions.

    The second array is None without ``fractions``. The first is taken from
    ``buffers`` when given; with the market response it is not cleared
    (:func:`_evaluate`).
    """
    n_draws = severities.shape[0]
    shape = (plan.n_series, n_draws)
    out = np.zeros(shape) if buffers is None else buffers.take(shape)
    if plan.market:
        from scipy import sparse as sp

        hits = sp.csc_array(severities)
        # one stream block at a time: a draw's numbers never depend on the batch
        for first in range(0, n_draws, STREAM_BLOCK):
            part = slice(first, min(first + STREAM_BLOCK, n_draws))
            block = hits if n_draws <= STREAM_BLOCK else hits[part]
            for mp, d in _by_mineral(plan, block):
                _respond(plan, mp, d, out[:, part])
        return out, None
    central: np.ndarray | None = None
    delta: np.ndarray | None = None
    if fractions is not None and plan.grades is not None:
        central = np.zeros((plan.n_series, n_draws))
        delta = np.ascontiguousarray((fractions - plan.grades.mode[None, :]).T)  # [product, draw]
    for mp in plan.minerals:
        if not mp.stages:
            continue
        sev_t = np.ascontiguousarray(severities[:, mp.cells].T)  # [cells, draws]
        for st in mp.stages:
            loss = np.asarray(st.flows_t @ sev_t)  # [series, draws]
            if len(st.own_rows):
                loss[st.own_rows] -= sev_t[st.own_cells] * st.own_exports[:, None]
            rows = slice(st.offset, st.offset + loss.shape[0])
            if central is not None and delta is not None:
                central[rows] = _clip(loss.copy())
                for product, gross_t, own_gross in st.grades:
                    term = np.asarray(gross_t @ sev_t)
                    if len(st.own_rows):
                        term[st.own_rows] -= sev_t[st.own_cells] * own_gross[:, None]
                    term *= delta[product][None, :]
                    loss += term
            out[rows] = _clip(loss)
    return out, central


def _respond(plan: Plan, mp: _MineralPlan, severities: sparse.csr_array, out: np.ndarray) -> None:
    """Shortfalls and prices of one mineral for a block of draws, with the market response.

    Each draw scales the rows of the disrupted exporters at every stage of
    the mineral by ``1 - s_em`` (``severities``, ``[draw, cells of the
    mineral]``), and the scenario engine's mechanics run on the batch
    (:meth:`~riskengine.scenarios.engine.ExporterResponse.respond`, which
    agrees with :func:`~riskengine.scenarios.engine.respond_rows`):
    pass-through by re-exporters and propagation of lost ore and
    intermediates to refined output. The shortfall is ``max(-dA, 0)`` as in
    the engine (``-dA`` is written; values up to :data:`TINY` count as none,
    :func:`_evaluate`); the outside price is the two-region model (central
    parameters, a year's horizon) with the disrupted exporters as the
    restricting countries.
    """
    r = mp.response
    assert r is not None
    res = r.engine.respond(severities)
    for change, (_, rows, first) in zip(res.change, r.tracked, strict=True):
        np.negative(change, out=out[first : first + len(rows)])  # not clipped: see _evaluate
    # a draw that disrupts none of the mineral's exporters moves no price
    counts = np.diff(severities.indptr)
    draws = np.flatnonzero(counts)
    member = np.repeat(np.arange(len(counts)), counts)
    for s, j, c0 in r.priced:
        # consumption of the disrupted exporters (inside) and of the rest (outside)
        weights = c0[r.engine.exporters][severities.indices]
        inside = np.bincount(member, weights=weights, minlength=len(counts))[draws]
        outside = c0.sum() - inside
        x_out, _, _ = price_response(
            res.withheld[draws, s], outside, inside, PRICE_HORIZON_MONTHS, r.params,
            demand_change=res.propagated_loss[draws, s],
        )  # fmt: skip
        with np.errstate(over="ignore", invalid="ignore"):
            change = 100.0 * np.expm1(np.minimum(x_out, 700.0))
        undefined = ~np.isfinite(change)
        if undefined.any():
            # everyone who consumes is disrupted: there is no outside market to price
            row = plan.prices.iloc[j]
            warnings.warn(
                f"{row['mineral']}/{row['stage']}: in some draws every country that "
                "consumes is disrupted, so there is no outside market; those draws count "
                "as no outside price change in the prices table",
                RiskEngineWarning,
                stacklevel=2,
            )
        out[len(plan.series) + j, draws] = np.where(undefined, 0.0, np.maximum(change, 0.0))


def shortfalls(
    plan: Plan, severities: np.ndarray, fractions: np.ndarray | None = None
) -> np.ndarray:
    """Shortfall of every series in every draw, ``[series, draw]``.

    ``max(sum_e s_e F_ei - s_i X_i, 0)`` with values up to :data:`TINY` set to
    0 (see the module notes). With ``fractions`` (``[draw, product]``, from
    :func:`block_grades`) each draw's flows are first converted with its
    content fractions. The product with the sparse flows is computed row by
    row, so a draw's values do not depend on the other draws of the batch.
    """
    return _clip(_shortfalls(plan, severities, fractions)[0])


def _iter_blocks(
    plan: Plan, entropy: int, n: int, batch_size: int
) -> Iterator[tuple[int, np.ndarray, np.ndarray | None]]:
    """Yield ``(first draw, shortfalls, shortfalls at central grades or None)`` per batch."""
    blocks_per_batch = max(1, -(-batch_size // STREAM_BLOCK))
    n_blocks = -(-n // STREAM_BLOCK)
    for first_block in range(0, n_blocks, blocks_per_batch):
        blocks = range(first_block, min(first_block + blocks_per_batch, n_blocks))
        values, central = _evaluate(plan, entropy, n, blocks)
        yield first_block * STREAM_BLOCK, _clip(values), central


def _evaluate(
    plan: Plan, entropy: int, n: int, blocks: range, buffers: _Buffers | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Shortfalls ``[series, draws]`` of consecutive blocks of a run of ``n``.

    And the same draws at central grades (None without grades); the
    shortfalls' array is taken from ``buffers`` when given. With the market
    response the shortfalls are not cleared: values up to :data:`TINY`,
    gains (negative) among them, stand for none (the accumulator counts them
    so; :func:`_clip` clears them). That saves a pass over every block.
    """
    if plan.market:
        return _shortfalls(plan, _hits(plan, entropy, n, blocks), None, buffers)
    parts = []
    fractions = []
    for b in blocks:
        size = min(STREAM_BLOCK, n - b * STREAM_BLOCK)
        parts.append(block_severities(plan, entropy, b, size))
        if plan.grades is not None:
            fractions.append(block_grades(plan, entropy, b, size))
    return _shortfalls(
        plan,
        np.concatenate(parts, axis=0),
        np.concatenate(fractions, axis=0) if fractions else None,
        buffers,
    )


def _hits(plan: Plan, entropy: int, n: int, blocks: range) -> sparse.csc_array:
    """Severities ``[draw, cell]`` of consecutive blocks, as :func:`block_severities`, in CSC."""
    from scipy import sparse as sp

    cells, draws, values = [], [], []
    first = 0
    for b in blocks:
        size = min(STREAM_BLOCK, n - b * STREAM_BLOCK)
        c, d, v = _block_hits(plan, entropy, b, size)
        keep = v != 0  # a severity of 0 disrupts nothing
        cells.append(c[keep])
        draws.append(d[keep] + first)
        values.append(v[keep])
        first += size
    cell, draw, value = (np.concatenate(x) for x in (cells, draws, values))
    if len(blocks) > 1:  # cell by cell, the blocks in order
        order = np.argsort(cell, kind="stable")
        cell, draw, value = cell[order], draw[order], value[order]
    indptr = np.zeros(plan.n_cells + 1, dtype=np.int64)
    np.cumsum(np.bincount(cell, minlength=plan.n_cells), out=indptr[1:])
    return sp.csc_array((value, draw, indptr), shape=(first, plan.n_cells))


def iter_blocks(
    plan: Plan, entropy: int, n: int, batch_size: int
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(first draw, shortfalls [series, draws])`` batch by batch.

    With a plan that draws grades, the shortfalls use each draw's content
    fractions.
    """
    for first, values, _ in _iter_blocks(plan, entropy, n, batch_size):
        yield first, values


# ---------------------------------------------------------- accumulators
@dataclass
class _Accumulator:
    """Running statistics of every series (bounded memory)."""

    upper: np.ndarray
    thresholds: np.ndarray  # [T, series] in tonnes (NaN where consumption <= 0)
    floor: np.ndarray  # [series] the largest value that counts as none (Plan.floor)
    n: int = 0
    effect: np.ndarray = field(default_factory=lambda: np.zeros((2, 0)))  # grades: sum, sum sq
    above: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.int64))
    counts: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    sums: np.ndarray = field(default_factory=lambda: np.zeros(0))
    sumsq: np.ndarray = field(default_factory=lambda: np.zeros(0))
    mins: np.ndarray = field(default_factory=lambda: np.zeros(0))
    maxs: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def __post_init__(self) -> None:
        s = len(self.upper)
        self.effect = np.zeros((2, s))
        self.above = np.zeros((len(self.thresholds), s), dtype=np.int64)
        self.counts = np.zeros(s * N_BINS, dtype=np.int64)
        self.sums = np.zeros(s * N_BINS)
        self.sumsq = np.zeros(s * N_BINS)
        self.mins = np.full(s * N_BINS, np.inf)
        self.maxs = np.full(s * N_BINS, -np.inf)
        with np.errstate(divide="ignore"):
            self._log_upper = np.log10(np.where(self.upper > 0, self.upper, 1.0))
        # a draw up to its floor counts as none, so never above a threshold
        self._limits = np.maximum(self.thresholds, self.floor[None, :])  # NaN stays NaN

    def add(self, values: np.ndarray, central: np.ndarray | None = None) -> None:
        """Add one block of draws ``[series, draws]`` (and the same draws at central grades).

        A draw up to its series' ``floor`` (:data:`TINY` tonnes; a gain is
        negative) counts as none, as if cleared by :func:`_clip`.

        A few hundred series at a time, so that a block is read from memory
        once and every statistic works on data in cache; each statistic is a
        per-series reduction (a bin's draws are added in the same order), so
        the result does not depend on the chunking.
        """
        n_series, n_draws = values.shape
        self.n += n_draws
        step = max(1, _CHUNK_VALUES // max(n_draws, 1))
        for first in range(0, n_series, step):
            part = slice(first, first + step)
            self._add_series(values[part], None if central is None else central[part], part)

    def _add_series(self, values: np.ndarray, central: np.ndarray | None, part: slice) -> None:
        """Add the draws of the series ``part`` (rows of ``values``) to their statistics."""
        if central is not None:
            d = values - central
            self.effect[0, part] += d.sum(axis=1)
            self.effect[1, part] += np.einsum("sd,sd->s", d, d)
        positive = values > self.floor[part, None]  # up to the floor is none (_evaluate)
        counts = np.count_nonzero(positive, axis=1)
        for t, limit in enumerate(self._limits):  # NaN limits count nothing
            self.above[t, part] += np.count_nonzero(values > limit[part, None], axis=1)
        self._bin(values[positive], counts, int(part.start))

    def _bin(self, x: np.ndarray, counts: np.ndarray, first: int) -> None:
        """Add the positive draws ``x`` of series ``first, first + 1, ...`` to their histograms.

        ``x`` holds the positive draws of each series in turn, ``counts`` of them.
        """
        n_series = len(counts)
        if not len(x):
            return
        # bin of each positive draw on its series' logarithmic grid
        pos = np.log10(x)
        pos -= np.repeat(self._log_upper[first : first + n_series], counts)
        pos += DECADES
        pos *= N_BINS / DECADES
        np.clip(pos, 0, N_BINS - 1, out=pos)
        flat = pos.astype(np.int64)  # truncated: the floor, as pos >= 0
        flat += np.repeat(np.arange(0, n_series * N_BINS, N_BINS), counts)
        size = n_series * N_BINS
        part = slice(first * N_BINS, first * N_BINS + size)
        self.counts[part] += np.bincount(flat, minlength=size)
        self.sums[part] += np.bincount(flat, weights=x, minlength=size)
        self.sumsq[part] += np.bincount(flat, weights=x * x, minlength=size)
        np.minimum.at(self.mins[part], flat, x)
        np.maximum.at(self.maxs[part], flat, x)

    def merge(self, later: _Accumulator) -> None:
        """Add the statistics of the draws that follow (the next unit's), in place."""
        self.n += later.n
        self.effect += later.effect
        self.above += later.above
        self.counts += later.counts
        self.sums += later.sums
        self.sumsq += later.sumsq
        np.minimum(self.mins, later.mins, out=self.mins)
        np.maximum(self.maxs, later.maxs, out=self.maxs)

    _BINNED: ClassVar[tuple[tuple[str, float], ...]] = (
        ("counts", 0),
        ("sums", 0.0),
        ("sumsq", 0.0),
        ("mins", np.inf),
        ("maxs", -np.inf),
    )

    def __getstate__(self) -> dict[str, Any]:
        """Pickle the histogram's occupied bins only (a unit sent back by a worker).

        Bin positions and counts travel as 32-bit integers where they fit (a
        third less to send).
        """
        state = dict(self.__dict__)
        occupied = np.flatnonzero(self.counts)
        state["_occupied"] = occupied.astype(np.min_scalar_type(len(self.counts)))
        for name, _ in self._BINNED:
            state[name] = state[name][occupied]
        if len(occupied) and state["counts"].max() < np.iinfo(np.int32).max:
            state["counts"] = state["counts"].astype(np.int32)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        occupied = state.pop("_occupied")
        size = len(state["upper"]) * N_BINS
        for name, empty in self._BINNED:
            dtype = np.int64 if name == "counts" else np.float64
            full = np.full(size, empty, dtype=dtype)
            full[occupied] = state[name]
            state[name] = full
        self.__dict__.update(state)

    # ----------------------------------------------------------- reading
    @property
    def total(self) -> np.ndarray:
        """Sum of every series' draws (every positive draw is in a bin)."""
        return self.sums.reshape(len(self.upper), N_BINS).sum(axis=1)

    @property
    def total_sq(self) -> np.ndarray:
        """Sum of the squares of every series' draws."""
        return self.sumsq.reshape(len(self.upper), N_BINS).sum(axis=1)

    @property
    def positive(self) -> np.ndarray:
        """Positive draws of every series."""
        return self.counts.reshape(len(self.upper), N_BINS).sum(axis=1)

    def _grid(self) -> tuple[np.ndarray, ...]:
        s = len(self.upper)
        shape = (s, N_BINS)
        return (
            self.counts.reshape(shape),
            self.sums.reshape(shape),
            self.sumsq.reshape(shape),
            self.mins.reshape(shape),
            self.maxs.reshape(shape),
        )

    def quantile(self, level: np.ndarray | float) -> np.ndarray:
        """Empirical quantile ``X_(ceil(level n))`` of every series from the histogram."""
        counts, _, _, mins, maxs = self._grid()
        s = len(self.upper)
        level_arr = np.broadcast_to(np.asarray(level, dtype=float), (s,))
        rank = np.clip(np.ceil(level_arr * self.n - 1e-9), 1, self.n).astype(np.int64)
        zeros = self.n - self.positive
        r = rank - zeros  # rank among the positive draws
        out = np.zeros(s)
        go = r > 0
        if not go.any():
            return out
        cum = np.cumsum(counts[go], axis=1)
        k = np.argmax(cum >= r[go][:, None], axis=1)
        rows = np.arange(len(k))
        c = counts[go][rows, k]
        j = r[go] - (cum[rows, k] - c)
        lo, hi = mins[go][rows, k], maxs[go][rows, k]
        with np.errstate(divide="ignore", invalid="ignore"):
            value = np.where(c > 1, lo + (hi - lo) * (j - 1) / (c - 1), lo)
        out[go] = value
        return out

    def tail(self, level: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return the expected shortfall, tail variance and tail size at ``level``.

        The tail is the ``n - floor(level n)`` largest draws.
        """
        counts, sums, sumsq, mins, maxs = self._grid()
        s = len(self.upper)
        k_tail = self.n - int(np.floor(level * self.n + 1e-9))
        k_tail = max(k_tail, 1)
        top = counts[:, ::-1]
        cum = np.cumsum(top, axis=1)
        enough = cum[:, -1] >= k_tail
        kb = np.where(enough, np.argmax(cum >= k_tail, axis=1), N_BINS - 1)  # from the top
        rows = np.arange(s)
        c = top[rows, kb]
        above = cum[rows, kb] - c
        j = np.where(enough, k_tail - above, c)  # draws taken from the partial bin
        mask = np.arange(N_BINS)[None, :] < kb[:, None]
        sum_full = np.where(mask, sums[:, ::-1], 0.0).sum(axis=1)
        sq_full = np.where(mask, sumsq[:, ::-1], 0.0).sum(axis=1)
        lo = mins[:, ::-1][rows, kb]
        hi = maxs[:, ::-1][rows, kb]
        with np.errstate(divide="ignore", invalid="ignore"):
            step = np.where(c > 1, (hi - lo) / (c - 1), 0.0)
            part_sum = np.where(j > 0, j * hi - step * j * (j - 1) / 2.0, 0.0)
            part_mean = np.where(j > 0, part_sum / j, 0.0)
            part_sq = np.where(c == j, sumsq[:, ::-1][rows, kb], j * part_mean**2)
            part_sum = np.where(c == j, sums[:, ::-1][rows, kb], part_sum)
        total = sum_full + part_sum  # the rest of the tail, if any, is zeros
        total_sq = sq_full + part_sq
        es = total / k_tail
        var = np.maximum(total_sq / k_tail - es**2, 0.0)
        return es, var, np.full(s, k_tail)


# ---------------------------------------------------------------- result
@dataclass(frozen=True, kw_only=True)
class SimulationResult(Result):
    """Distribution of shortfalls over Monte Carlo draws.

    Attributes
    ----------
    summary : pandas.DataFrame
        One row per (mineral, stage, country) that can be short: baseline
        ``consumption_t``, ``exposure_t`` (imports from exporters at risk),
        ``reexport_share`` (see :class:`Plan`; the first-order shortfall of a
        re-exporter is overstated, since its buyers' share is not passed on),
        ``mean_shortfall_t`` and ``mean_shortfall_se_t``,
        ``mean_shortfall_pct`` (of consumption), ``p_shortfall`` (probability
        of any shortfall) and ``p_above_<k>pct`` (shortfall above ``k`` % of
        consumption), each with ``_se``, and ``var95_t``, ``es95_t``,
        ``var99_t``, ``es99_t`` with their ``_se_t``. With grades, the
        statistics include the drawn content fractions, and ``grade_mean_t``
        and ``grade_sd_t`` are the mean and standard deviation of the change
        the drawn fractions make to a draw's shortfall (against the same
        draw at central fractions).
    prices : pandas.DataFrame
        With the market response: per mineral and stage at which exporters at
        risk sell, the distribution of the change of the price outside the
        disrupted exporters (two-region model, central parameters, a year's
        horizon), in %: ``mean_price_change_pct`` with its ``_se``,
        ``p_price_rise`` and ``p_price_above_<k>pct``, and
        ``price_change_p95_pct``/``_es95``/``_p99``/``_es99``.
    cells : pandas.DataFrame
        The disruption probability and severity used for every (exporter,
        mineral) at risk, and where each comes from.
    grades : pandas.DataFrame
        With grades: the products whose content fraction is drawn, with their
        ``content`` (mode), ``content_low``, ``content_high``, ``basis``, the
        distribution's ``mean`` and ``sd`` and ``gross_at_risk_t`` (gross
        tonnes exported by exporters at risk to tracked importers). Empty
        otherwise.
    n : int
        Number of draws.
    seed : int
        The seed (entropy); the same seed reproduces the result.
    year : int
    batch_size : int
    thresholds : tuple of float
    elapsed_s : float
        Wall time of the draws and statistics (not of the set-up).
    model : DisruptionModel
    method, dataset, params, notes
        See :class:`~riskengine.results.Result` (``method`` is ``"simulate"``;
        ``params`` holds the selection: minerals, stages, importers, and
        ``grades`` with ``grade_distribution``).
    """

    TABLES: ClassVar[tuple[str, ...]] = ("summary", "prices", "cells", "grades")

    summary: pd.DataFrame
    cells: pd.DataFrame
    prices: pd.DataFrame = field(default_factory=pd.DataFrame)
    grades: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame({c: pd.Series(dtype=object) for c in GRADE_COLUMNS})
    )
    n: int
    seed: int
    year: int
    batch_size: int
    thresholds: tuple[float, ...]
    elapsed_s: float
    model: DisruptionModel

    @property
    def draws_per_s(self) -> float:
        """Draws per second of wall time."""
        return self.n / self.elapsed_s if self.elapsed_s > 0 else float("nan")

    def top(self, n: int = 10, by: str = "es95_pct") -> pd.DataFrame:
        """Return the ``n`` series with the largest ``by`` (``es95_pct``: ES95, % of demand)."""
        frame = self.summary
        if by.endswith("_pct") and by not in frame.columns:
            base = by.removesuffix("_pct") + "_t"
            if base not in frame.columns:
                raise UnknownLabelError("column", [by], list(frame.columns))
            with np.errstate(divide="ignore", invalid="ignore"):
                c = frame["consumption_t"].to_numpy(dtype=float)
                values = np.where(c > 0, 100.0 * frame[base].to_numpy(dtype=float) / c, np.nan)
            frame = frame.assign(**{by: values})
        if by not in frame.columns:
            raise UnknownLabelError("column", [by], list(frame.columns))
        return frame.sort_values(by, ascending=False, na_position="last").head(n)


def _pct_name(t: float) -> str:
    return f"p_above_{100 * t:g}pct".replace(".", "_")


def simulate(
    dataset: Dataset,
    *,
    n: int = 10_000,
    seed: int | None = None,
    year: int | None = None,
    minerals: Sequence[str] | str | None = None,
    stages: Sequence[str] | str | None = None,
    importers: Sequence[str] | str | None = None,
    model: DisruptionModel | Mapping[str, Any] | str | Path | None = None,
    probability: float | Mapping[str, float | Mapping[str, float]] | None = None,
    severity: float | tuple[float, float] | Severity | None = None,
    thresholds: Sequence[float] = THRESHOLDS,
    batch_size: int = DEFAULT_BATCH,
    grades: bool = False,
    progress: Progress | None = None,
    client: Client | Literal[False] | None = None,
    market: bool = True,
    jobs: int | None = None,
) -> SimulationResult:
    r"""Simulate random export disruptions and summarise the shortfalls they cause.

    Parameters
    ----------
    dataset
        Dataset with production, trade and governance.
    n
        Number of draws.
    seed
        Seed of the random streams; None draws one from the operating system
        (recorded in the result, so the run can be repeated).
    year
        Year of the flows (default: latest with production and trade).
    minerals, stages
        Restrict the simulation (default: all).
    importers
        Importers whose shortfall is tracked (default: all).
    model
        :class:`~riskengine.stress.disruptions.DisruptionModel`, a mapping of
        its fields, or a YAML file (see that module for the default mapping
        from governance to probability and the severity distribution).
    probability
        Keyword override: one probability for every exporter and mineral, or
        ``{"CHN": 0.1}`` / ``{"CHN": {"gallium": 0.5}}``.
    severity
        Keyword override: a fixed severity, or ``(alpha, beta)`` of a Beta
        distribution.
    thresholds
        Fractions of baseline apparent consumption for ``p_above_*``.
    batch_size
        Draws evaluated together (rounded up to a multiple of
        :data:`STREAM_BLOCK`, at most :data:`UNIT_BLOCKS` blocks); it bounds
        memory and does not change the result.
    grades
        Also draw the content fraction of every traded product with a range
        in the product catalogue, once per draw, triangular on
        ``(content_low, content, content_high)``, and convert the flows with
        it before the losses are computed (see the module notes). Off by
        default; turning it on leaves the disruption draws unchanged.
    progress
        Called with ``(draws done, n)`` after each batch (after each unit
        on a cluster).
    client
        A Dask ``distributed.Client`` to compute the units
        (:func:`unit_ranges`) on; None (default) uses the current client
        if the caller made one, else this machine (``jobs``); False always
        this machine (see :mod:`riskengine.cluster`). The result is the same,
        bit for bit.
    market
        Run the market response (pass-through, propagation, prices; default)
        or first-order losses only.
    jobs
        Cores to use on this machine (default: one per core the process may
        use, at most :data:`~riskengine.cluster.MAX_JOBS`; ignored on a
        cluster). A run whose units the jobs share equally
        (:func:`unit_ranges`: more than 32,000 draws make four equal units or
        a multiple of four) computes its units in ``jobs`` worker processes
        forked from this one, a unit per call as on a cluster, where forking is safe
        (:func:`riskengine.cluster.can_fork_workers`: Linux, no other Python
        thread running); otherwise the units run one after the other, their
        batches on ``jobs`` threads. Processes because the engine's
        Python-level work holds the interpreter lock: two threads reach about
        1.4 times one, two processes up to twice. The result does not depend
        on it.

    Returns
    -------
    SimulationResult

    Raises
    ------
    UnknownLabelError
        For an unknown mineral, stage, country or year.
    RiskEngineError
        For an invalid model, ``n < 1``, thresholds outside (0, 1] or
        ``grades`` not a bool.

    Notes
    -----
    See the module documentation for the shortfall of a draw and the
    estimators; the disruption model's defaults are in
    :mod:`riskengine.stress.disruptions`.

    Examples
    --------
    >>> import riskengine
    >>> ds = riskengine.load_dataset()
    >>> result = riskengine.simulate(ds, n=2000, seed=1, minerals=["cobalt"])
    >>> "es99_t" in result.summary.columns
    True
    """
    if not isinstance(dataset, Dataset):
        raise bad_argument(
            "simulate", "dataset", "a Dataset", dataset, "load one with riskengine.load_dataset()"
        )
    check_int("simulate", "n", n)
    check_int("simulate", "seed", seed, minimum=0, optional=True)
    check_int("simulate", "jobs", jobs, minimum=1, optional=True)
    check_int("simulate", "year", year, optional=True)
    for arg, value in (("minerals", minerals), ("stages", stages), ("importers", importers)):
        check_labels("simulate", arg, value)
    if n < 1:
        raise RiskEngineError(f"n must be at least 1, got {n}")
    if batch_size < 1:
        raise RiskEngineError(f"batch_size must be at least 1, got {batch_size}")
    thr = tuple(float(t) for t in thresholds)
    if any(not 0.0 < t <= 1.0 for t in thr):
        raise RiskEngineError(f"thresholds are fractions of consumption in (0, 1], got {thr}")
    if not isinstance(grades, bool | np.bool_):
        raise RiskEngineError(
            f"grades must be True or False (draw content fractions or not), got {grades!r}"
        )
    runner = resolve_client(client, "simulate")
    plan = plan_simulation(
        dataset,
        year=year,
        minerals=minerals,
        stages=stages,
        importers=importers,
        model=model,
        probability=probability,
        severity=severity,
        grades=bool(grades),
        market=bool(market),
    )
    entropy = int(cast(int, np.random.SeedSequence().entropy)) if seed is None else int(seed)
    batch = min(max(1, -(-batch_size // STREAM_BLOCK)), UNIT_BLOCKS) * STREAM_BLOCK
    limits = threshold_tonnes(plan, thr)
    acc = _Accumulator(plan.bound, limits, plan.floor)
    started = time.perf_counter()
    for part in _units(plan, entropy, n, batch, limits, progress, runner, default_jobs(jobs)):
        acc.merge(part)
    stats = _summary(plan, acc, thr)
    summary = stats.iloc[: len(plan.series)].reset_index(drop=True)
    prices = _price_table(stats.iloc[len(plan.series) :], thr)
    notes: list[str] = []
    if plan.grades is not None:
        m = acc.effect[0] / n
        summary["grade_mean_t"] = m
        summary["grade_sd_t"] = np.sqrt(
            np.maximum(acc.effect[1] / n - m**2, 0.0) * (n / (n - 1) if n > 1 else 0.0)
        )
        notes.append(_grades_note(plan.grades.table))
    elapsed = time.perf_counter() - started
    logger.info("simulate: %d draws, %d series in %.2f s", n, plan.n_series, elapsed)
    return SimulationResult(
        method="simulate",
        dataset=dataset.name,
        params={
            "minerals": minerals,
            "stages": stages,
            "importers": importers,
            "grades": bool(grades),
            "grade_distribution": GRADE_DISTRIBUTION if grades else None,
            "market": bool(market),
        },
        notes=tuple(notes),
        summary=summary,
        prices=prices,
        cells=plan.cells,
        grades=(
            plan.grades.table
            if plan.grades is not None
            else pd.DataFrame({c: pd.Series(dtype=object) for c in GRADE_COLUMNS})
        ),
        n=n,
        seed=entropy,
        year=int(plan.series.attrs["year"]),
        batch_size=batch,
        thresholds=thr,
        elapsed_s=elapsed,
        model=as_model(model, probability, severity),
    )


def threshold_tonnes(plan: Plan, thresholds: Sequence[float]) -> np.ndarray:
    """Thresholds in tonnes ``[threshold, series]``: fractions of baseline consumption.

    NaN where a series has no consumption (it then counts no exceedance).
    """
    with np.errstate(invalid="ignore"):
        return np.array(
            [np.where(plan.consumption > 0, t * plan.consumption, np.nan) for t in thresholds]
        ).reshape(len(thresholds), plan.n_series)


def unit_statistics(
    plan: Plan,
    entropy: int,
    n: int,
    unit: int,
    batch_size: int,
    limits: np.ndarray,
    progress: Progress | None = None,
    threads: int = 1,
) -> _Accumulator:
    """Statistics of the draws of one unit of a run of ``n`` draws.

    Unit ``unit`` holds the blocks ``unit_ranges(n)[unit]``; they are
    evaluated ``batch_size`` draws at a time and added block by block in
    order. ``limits`` are the thresholds in
    tonnes ``[threshold, series]``; ``progress`` is called after each batch
    with the draws of the run done so far. With ``threads > 1`` the batches
    are evaluated on that many threads (:func:`riskengine.cluster.threaded`)
    while this thread adds the finished ones, still in order.
    """
    from riskengine.cluster import threaded

    own = unit_ranges(n)[unit]
    first, stop = own.start, own.stop
    per_batch = min(max(1, batch_size // STREAM_BLOCK), UNIT_BLOCKS)
    acc = _Accumulator(plan.bound, limits, plan.floor)
    batches = [range(b, min(b + per_batch, stop)) for b in range(first, stop, per_batch)]
    buffers = _Buffers()
    done = threaded(partial(_evaluate, plan, entropy, n, buffers=buffers), batches, threads)
    for blocks, (values, central) in zip(batches, done, strict=True):
        end = blocks.stop
        for j in range(0, values.shape[1], STREAM_BLOCK):
            # the same contiguous block whatever the batch: sums do not depend on it
            block = np.ascontiguousarray(values[:, j : j + STREAM_BLOCK])
            acc.add(
                block,
                None if central is None else np.ascontiguousarray(central[:, j : j + STREAM_BLOCK]),
            )
        buffers.give(values)  # added: the next batches may fill it
        if progress is not None:
            progress(min(end * STREAM_BLOCK, n), n)
    return acc


def local_mode(n: int, jobs: int) -> Literal["processes", "threads", "one thread"]:
    """How a run of ``n`` draws uses ``jobs`` cores on this machine (:func:`simulate`).

    Its units are the partitions of :func:`riskengine.cluster.local_mode`:
    ``processes`` compute the units, ``threads`` the batches of one unit at a
    time.
    """
    from riskengine.cluster import local_mode as mode

    return mode(len(unit_ranges(n)), jobs, balanced=True)


def unit_ranges(n: int) -> list[range]:
    """Return the blocks of each unit of a run of ``n`` draws.

    At most :data:`UNIT_BLOCKS` blocks per unit; a run of more than one unit
    has a multiple of :data:`~riskengine.cluster.MAX_JOBS` units (as far as
    it has blocks), of sizes differing by at most one block, the larger
    first, so that one, two or four worker processes get equal shares. The
    units depend on ``n`` only: the result never depends on ``jobs``.
    """
    from riskengine.cluster import MAX_JOBS

    n_blocks = -(-n // STREAM_BLOCK)
    n_units = -(-n_blocks // UNIT_BLOCKS)
    if n_units > 1:
        n_units = min(n_blocks, -(-n_units // MAX_JOBS) * MAX_JOBS)
    size, larger = divmod(n_blocks, n_units)
    sizes = [size + 1] * larger + [size] * (n_units - larger)
    stops = np.cumsum(sizes).tolist()
    return [range(stop - k, stop) for k, stop in zip(sizes, stops, strict=True)]


def _units(
    plan: Plan,
    entropy: int,
    n: int,
    batch_size: int,
    limits: np.ndarray,
    progress: Progress | None,
    client: Client | None,
    jobs: int = 1,
) -> Iterator[_Accumulator]:
    """Yield the statistics of every unit in order: computed here, or on the cluster.

    On this machine (:func:`local_mode`) the units are computed in ``jobs``
    worker processes (:func:`riskengine.cluster.pooled`, a unit per call as on
    a cluster), or one after the other, their batches on ``jobs`` threads.
    """
    from riskengine.cluster import map_partitions, one_blas_thread

    units = unit_ranges(n)
    if client is None and local_mode(n, jobs) != "processes":
        for unit in range(len(units)):
            with one_blas_thread():  # as on a worker: the same bits on any machine
                part = unit_statistics(plan, entropy, n, unit, batch_size, limits, progress, jobs)
            yield part
        return
    tasks = ((plan, entropy, n, u, batch_size, limits) for u in range(len(units)))
    parts = map_partitions(
        client,
        unit_statistics,
        tasks,
        name="simulate",
        objects=[plan, limits],
        jobs=jobs,
        balanced=True,
    )
    for unit, part in enumerate(parts):
        if progress is not None:
            progress(min(units[unit].stop * STREAM_BLOCK, n), n)
        yield part


def _grades_note(table: pd.DataFrame) -> str:
    """Say which content fractions were drawn, and how."""
    if table.empty:
        return (
            "grades: no product of the simulated flows has a content range "
            "(content_low < content_high); every draw uses the central fractions"
        )
    count = len(table)
    return (
        f"grades: the content fraction of {count} product{'s' if count != 1 else ''} drawn "
        f"once per draw from {GRADE_DISTRIBUTION} (content_t = gross_t x f; the grades "
        f"table lists them); consumption and thresholds use the central fractions; grade_mean_t "
        f"and grade_sd_t are the change the drawn fractions make to a draw's shortfall"
    )


#: Columns of :attr:`SimulationResult.prices` and the statistics they come from.
PRICE_STATISTICS: dict[str, str] = {
    "mean_shortfall_t": "mean_price_change_pct",
    "mean_shortfall_se_t": "mean_price_change_se_pct",
    "p_shortfall": "p_price_rise",
    "var95_t": "price_change_p95_pct",
    "es95_t": "price_change_es95_pct",
    "var99_t": "price_change_p99_pct",
    "es99_t": "price_change_es99_pct",
}


def _price_table(stats: pd.DataFrame, thresholds: tuple[float, ...]) -> pd.DataFrame:
    """Select the price rows of the statistics, named as prices (% change of the outside price)."""
    names = dict(PRICE_STATISTICS)
    for t in thresholds:
        names[_pct_name(t)] = f"p_price_above_{100 * t:g}pct".replace(".", "_")
    frame = stats[["mineral", "stage", *names]].rename(columns=names)
    return frame.reset_index(drop=True)


def _summary(plan: Plan, acc: _Accumulator, thresholds: tuple[float, ...]) -> pd.DataFrame:
    """Statistics of every series on the accumulator's axis: shortfalls, then prices."""
    n = acc.n
    frame = pd.concat([plan.series, plan.prices], ignore_index=True)
    c = plan.consumption
    mean = acc.total / n
    var = np.maximum(acc.total_sq / n - mean**2, 0.0) * (n / (n - 1) if n > 1 else 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        frame["mean_shortfall_t"] = mean
        frame["mean_shortfall_se_t"] = np.sqrt(var / n)
        frame["mean_shortfall_pct"] = np.where(c > 0, 100.0 * mean / c, np.nan)
        p = acc.positive / n
        frame["p_shortfall"] = p
        frame["p_shortfall_se"] = np.sqrt(p * (1.0 - p) / n)
        for t, thr in enumerate(thresholds):
            q = np.where(c > 0, acc.above[t] / n, np.nan)
            name = _pct_name(thr)
            frame[name] = q
            frame[f"{name}_se"] = np.sqrt(q * (1.0 - q) / n)
    for level in LEVELS:
        tag = f"{100 * level:g}"
        var_a = acc.quantile(level)
        d = np.sqrt(level * (1.0 - level) / n)
        hi = acc.quantile(min(level + d, 1.0))
        lo = acc.quantile(max(level - d, 0.0))
        es, tail_var, _ = acc.tail(level)
        frame[f"var{tag}_t"] = var_a
        frame[f"var{tag}_se_t"] = (hi - lo) / 2.0
        frame[f"es{tag}_t"] = es
        frame[f"es{tag}_se_t"] = np.sqrt(
            (tail_var + level * (es - var_a) ** 2) / (n * (1.0 - level))
        )
    return frame.reset_index(drop=True)
