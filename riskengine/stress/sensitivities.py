r"""One-at-a-time sensitivity of scores to their inputs.

For every score of the chosen method (mineral, stage, country) and every
input it depends on, the input is moved by ``-h`` and ``+h`` of itself (10 %
by default) while everything else stays put, and the score is recomputed. The
central elasticity is

.. math:: \varepsilon = \frac{S(x (1 + h)) - S(x (1 - h))}{2 h\, S(x)}

(the percentage change of the score per percent change of the input; NaN when
the score is 0). Inputs:

``governance``
    A country's governance, moved through its distance to the best WGI
    score, ``r = 2.5 - WGI`` (all six estimates alike), which the methods'
    weights are proportional to: GeoPolRisk's ``g = r / 5`` and the EU's
    ``WGI_10 = 2 r``. The elasticity is with respect to that risk weight.
``production``
    A country's production of the mineral at one stage (moves production
    shares, concentration, own supply and refinery feed).
``flow``
    One trade flow ``exporter -> importer`` at one stage (moves import
    shares, export shares, reliance); flows into or out of the scored
    countries.
``parameter``
    Method parameters: the composite's factor weights; the EU method's
    end-of-life recycling input rate and substitution index of the mineral.
``content``
    The content fraction ``f`` of one traded product (a row of the dataset's
    product catalogue, :attr:`~riskengine.dataset.Dataset.products`) that the
    mineral's flows use, moved to the ends of its documented range instead of
    by ``h``: every flow of the product becomes ``content_t = gross_t x f``
    with ``f = content_low`` and ``f = content_high``
    (:meth:`~riskengine.dataset.Dataset.with_content`). Products without a
    range (``content_low == content_high``) are skipped. The elasticity is
    the arc elasticity over that range,

    .. math:: \varepsilon = \frac{S(f_{high}) - S(f_{low})}{S(f)}
              \Big/ \frac{f_{high} - f_{low}}{f},

    which is the formula above for a range of ``f (1 - h) .. f (1 + h)``.
``elasticity``
    With a ``scenario``: each touched mineral's short-run price elasticity
    ``eta`` of the two-region price model and the market's deflection,
    against the scenario's price change (the score does not depend on them).

How the perturbed scores are computed
-------------------------------------
The composite (``method="riskengine"``) is scored once, on the year
(:func:`~riskengine.methods.composite.composite`); no variant is scored again.

* Factor weights, in closed form. The score is a weighted mean of the
  factors,

  .. math:: S(w) = \sum_j \tilde w_j\, x_j, \qquad
            \tilde w_j = \frac{w_j a_j}{\sum_k w_k a_k},

  with :math:`a_j = 1` where factor :math:`j` applies (upstream exposure at
  the refining stage only, every other factor everywhere), so the score at a
  moved weight is the factors :math:`x_j` of that one run recombined.
* Governance, production, flows and content fractions, by updating the sums
  a variant changes. A variant changes a few numbers of one mineral's block
  of active countries: one governance weight :math:`g_c`, one production
  :math:`p_{sc}`, one flow :math:`f_{sei}`, or the flows of one product. Only
  the sums that contain them are updated:

  .. math::

      F_{si} &\mathrel{+}= \Delta f_{sei}, \qquad
      X_{se} \mathrel{+}= \Delta f_{sei}, \qquad
      Q_{se} \mathrel{+}= \Delta (f_{sei}^2), \\
      N_{si} &\mathrel{+}= g_e\, \Delta f_{sei} + \Delta g_c\, f_{sci}

  (imports, exports, sum of squared destinations, weighted imports
  :math:`N_{si} = \sum_e g_e f_{sei}` of the scored countries); the world
  concentration of the stage is recomputed over the one changed production
  row; each refiner's retained mine output
  :math:`R_e = \max(p^{mine}_e - X^{feed}_e, 0)`, feed and feed-origin weight
  :math:`\bar g_e = (R_e g_e + \sum_k g_k f^{feed}_{ke}) / (R_e + \sum_k
  f^{feed}_{ke})` are updated for every copy at once, and the scored
  countries' refined imports weighted by :math:`\bar g_e`. The factors are
  then the composite's formulas on the updated sums,

  .. math::

      \text{import\_exposure} = \frac{N}{p + F}, \quad
      \text{import\_reliance} = \mathrm{clip}\Big(\frac{F - X}{p + F - X}, 0, 1\Big),
      \quad \text{export\_concentration} = \frac{Q}{X^2} \min\Big(\frac{X}{p + F}, 1\Big),
      \quad \text{upstream\_exposure} = \frac{\sum_e \bar g_e f^{ref}_{ei}}{p^{ref}_i + F^{ref}_i},

  each 0 where its quantity is (no imports, no exports), and the weights
  combine them as above. Every variant multiplies a positive quantity by a
  positive factor, so no flow or production appears or vanishes and the
  scored cells are those of the one run.

The results equal re-scoring every perturbed dataset with the composite, to
rounding (``tests/test_stress_sensitivity.py`` checks that row by row).
GeoPolRisk and the EU method are scored by the method itself: the perturbed
copies of a mineral, many per call, laid side by side on the dataset's year
axis (each with its own governance).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, cast

import numpy as np
import pandas as pd

from riskengine import indices as ix
from riskengine.cluster import default_jobs, map_partitions, resolve_client
from riskengine.dataset import Dataset
from riskengine.dims import OTHER_COUNTRIES, REGIONS, Stage
from riskengine.errors import (
    RiskEngineError,
    UnknownLabelError,
    bad_argument,
    check_int,
    check_labels,
    check_number,
)
from riskengine.indices import WGI_MAX
from riskengine.methods import DEFAULT_METHOD, score
from riskengine.methods.base import MissingGovernance, handle_missing
from riskengine.methods.composite import FACTORS, UPSTREAM_STAGE, factor_values, weigh
from riskengine.results import Result
from riskengine.stress._common import (
    MineralBlock,
    Progress,
    YearTensors,
    check_method,
    check_params,
    frame_or_empty,
    reemit,
    resolve_minerals,
    resolve_stages,
    resolve_year,
    year_tensors,
)
from riskengine.stress._fold import restrict, score_copies, score_years

if TYPE_CHECKING:
    from distributed import Client

logger = logging.getLogger(__name__)

#: Default relative step of the perturbation.
DEFAULT_STEP = 0.1
#: Variants scored together by a method without a closed form (GeoPolRisk, EU).
DEFAULT_CHUNK = 64
INPUT_KINDS: tuple[str, ...] = ("governance", "production", "flow", "parameter", "content")
#: Numbers per array of one chunk of composite copies (bounds the memory).
CHUNK_CELLS = 1 << 20

COLUMNS: tuple[str, ...] = (
    "mineral",
    "stage",
    "country",
    "kind",
    "input",
    "input_stage",
    "basis",
    "value",
    "input_low",
    "input_high",
    "score",
    "score_low",
    "score_high",
    "swing",
    "elasticity",
)


@dataclass(frozen=True, kw_only=True)
class SensitivityResult(Result):
    """One-at-a-time sensitivities of scores.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per score (``mineral``, ``stage``, ``country``) and input that
        moves it: ``kind`` and ``input`` (label; the product id for
        ``content``), ``input_stage``, ``basis`` (``content`` rows: how the
        fraction is known - ``chemistry``, ``assumption`` or ``source``; empty
        otherwise), the input's ``value``, ``input_low`` / ``input_high`` (its
        value in the low and high variants: ``1 - step`` / ``1 + step`` of
        itself, the WGI estimate whose risk weight moved so for
        ``governance``, ``content_low`` / ``content_high`` for ``content``),
        ``score`` (baseline), ``score_low`` / ``score_high`` (the score in
        those variants), ``swing`` (high - low) and ``elasticity``; sorted by
        score and decreasing ``|swing|``.
    year : int
    step : float
    prices : pandas.DataFrame
        With a scenario: the price change of each touched mineral and stage
        against the market inputs (same columns, ``score`` holding the price
        change in %). Empty otherwise.
    method, dataset, params, notes
        See :class:`~riskengine.results.Result`: the scoring method, the
        dataset's name and the method's parameters.
    """

    TABLES: ClassVar[tuple[str, ...]] = ("table", "prices")

    table: pd.DataFrame
    year: int
    step: float
    prices: pd.DataFrame

    def tornado(
        self, mineral: str, country: str, stage: str | None = None, top: int | None = 10
    ) -> pd.DataFrame:
        """Rows of one score, largest swing first (the bars of a tornado chart).

        Raises
        ------
        UnknownLabelError
            When the table has no such score.
        """
        t = self.table
        where = self._scores.get((mineral, country))
        rows = t.iloc[where if where is not None else []]
        if stage is not None:
            rows = rows[rows["stage"] == stage]
        if rows.empty:
            have = sorted(
                {
                    f"{m}/{s}/{c}"
                    for m, s, c in t[["mineral", "stage", "country"]].itertuples(index=False)
                }
            )
            raise UnknownLabelError("score", [f"{mineral}/{stage or '*'}/{country}"], have)
        rows = rows.reindex(rows["swing"].abs().sort_values(ascending=False).index)
        return rows.head(top).reset_index(drop=True) if top else rows.reset_index(drop=True)

    @cached_property
    def _scores(self) -> dict[tuple[str, str], np.ndarray]:
        """Positions of each ``(mineral, country)``'s rows in :attr:`table`."""
        groups = self.table.groupby(["mineral", "country"], sort=False, observed=True).indices
        return cast(dict[tuple[str, str], np.ndarray], groups)


#: What a variant is: the table's input columns, and ``span`` (its range over its value).
_META: dict[str, type] = {
    "kind": object,
    "input": object,
    "input_stage": object,
    "basis": object,
    "value": float,
    "input_low": float,
    "input_high": float,
    "span": float,
}
#: Integer columns (the copy, then coordinates) of each kind of change; the new value follows.
_CHANGE_KINDS: dict[str, int] = {"governance": 2, "production": 3, "flows": 4}


@dataclass
class _Variants:
    """Inputs moved one at a time, and the changes that make their copies of a block.

    Variant ``j`` has two copies of the mineral's block: copy ``2 j`` with the
    input at its low value, copy ``2 j + 1`` at its high value. The changes
    are columns in copy order:

    ``governance``
        ``(copy, country, factor)``: the country's distance to the best WGI
        score, ``2.5 - WGI``, times ``factor``.
    ``production``
        ``(copy, stage, country, tonnes)``: one production figure replaced.
    ``flows``
        ``(copy, stage, exporter, importer, tonnes)``: flows replaced.
    """

    size: int = 0
    columns: dict[str, list[np.ndarray]] = field(
        default_factory=lambda: {name: [] for name in _META}
    )
    parts: dict[str, list[tuple[np.ndarray, ...]]] = field(
        default_factory=lambda: {name: [] for name in _CHANGE_KINDS}
    )

    def __len__(self) -> int:
        return self.size

    def add(
        self,
        kind: str,
        labels: Sequence[str] | np.ndarray,
        stage: str,
        value: np.ndarray | Sequence[float],
        low: np.ndarray | Sequence[float],
        high: np.ndarray | Sequence[float],
        span: float,
        basis: str = "",
        **changes: tuple[np.ndarray, ...],
    ) -> None:
        """Append variants; the copies of ``changes`` count from 0 for the first of them."""
        k = len(labels)
        given = {
            "kind": np.full(k, kind, dtype=object),
            "input": np.asarray(labels, dtype=object).reshape(k),
            "input_stage": np.full(k, stage, dtype=object),
            "basis": np.full(k, basis, dtype=object),
            "value": np.asarray(value, dtype=float),
            "input_low": np.asarray(low, dtype=float),
            "input_high": np.asarray(high, dtype=float),
            "span": np.full(k, span, dtype=float),
        }
        for name, values in given.items():
            self.columns[name].append(values)
        for name, columns in changes.items():
            copy, *rest = columns
            self.parts[name].append((np.asarray(copy, dtype=np.int64) + 2 * self.size, *rest))
        self.size += k

    def changes(self, name: str, start: int, stop: int) -> list[np.ndarray]:
        """Columns of the changes ``name`` of copies ``start <= copy < stop``."""
        parts = self.parts[name]
        width = _CHANGE_KINDS[name]
        if not parts:
            return [np.zeros(0, dtype=np.int64)] * width + [np.zeros(0)]
        columns = [np.concatenate(col) for col in zip(*parts, strict=True)]
        copy = columns[0]
        lo, hi = np.searchsorted(copy, [start, stop])
        return [col[lo:hi] for col in columns]

    def meta(self) -> dict[str, np.ndarray]:
        """Return what each variant is: the table's input columns and ``span``, one entry each."""
        return {
            name: np.concatenate(cols) if cols else np.zeros(0, dtype=dtype)
            for (name, dtype), cols in zip(_META.items(), self.columns.values(), strict=True)
        }


def _both(low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Interleave the low and high values of ``k`` variants: copies ``0 .. 2 k - 1``."""
    return np.column_stack((low, high)).ravel()


def sensitivity(
    dataset: Dataset,
    *,
    minerals: Sequence[str] | str | None = None,
    countries: Sequence[str] | str | None = None,
    stages: Sequence[str] | str | None = None,
    year: int | None = None,
    method: str = DEFAULT_METHOD,
    step: float = DEFAULT_STEP,
    inputs: Sequence[str] = INPUT_KINDS,
    scenario: Any = None,
    chunk_size: int = DEFAULT_CHUNK,
    progress: Progress | None = None,
    client: Client | Literal[False] | None = None,
    jobs: int | None = None,
    **params: Any,
) -> SensitivityResult:
    r"""One-at-a-time elasticities of every score to its inputs.

    Parameters
    ----------
    dataset
        Dataset with production, trade and governance.
    minerals, stages
        Scores to analyse (default: all).
    countries
        Scored countries (or regions, for methods that score them) to analyse;
        flows into and out of them are perturbed (default: every scored
        country - every flow of the mineral, which takes longer).
    year
        Year (default: latest with production and trade).
    method
        Scoring method.
    step
        Relative perturbation ``h`` (0 < h < 1).
    inputs
        Kinds of input to perturb: ``governance``, ``production``, ``flow``,
        ``parameter``, ``content`` (content fractions over their range).
    scenario
        A scenario (object, file or bundled name): also report the
        sensitivity of its price changes to each mineral's ``eta`` and the
        deflection (:attr:`SensitivityResult.prices`).
    chunk_size
        Variants scored in one call of a method scored by re-running it
        (GeoPolRisk, EU; the composite is not re-run).
    progress
        Called with ``(minerals done, minerals)``.
    client
        A Dask ``distributed.Client``: GeoPolRisk and EU rescore each
        mineral as one task on it (the composite is one closed-form pass,
        always here); None (default) uses the current client if the caller
        made one, else this machine (``jobs``); False always this machine
        (:mod:`riskengine.cluster`). The result is the same, bit for bit.
    jobs
        Cores to use on this machine for GeoPolRisk and EU (default: one per
        core the process may use, at most :data:`~riskengine.cluster.MAX_JOBS`;
        ignored on a cluster and for the composite): with at least two minerals
        per job, the minerals are scored in ``jobs`` worker processes forked
        from this one (:func:`riskengine.cluster.map_partitions`; Linux, no
        other Python thread running). The result does not depend on it.
    **params
        Parameters of the method.

    Returns
    -------
    SensitivityResult

    Raises
    ------
    UnknownLabelError
        For an unknown mineral, stage, country, method or input kind.
    RiskEngineError
        For a step outside (0, 1).

    Notes
    -----
    The composite's variants are computed from one run of it: the weights in
    closed form, :math:`S(w) = \sum_j w_j a_j x_j / \sum_k w_k a_k`, the other
    inputs by updating the sums they enter (module docstring).

    Examples
    --------
    >>> import riskengine
    >>> ds = riskengine.load_dataset()
    >>> res = riskengine.sensitivity(ds, minerals=["cobalt"], countries=["USA"])
    >>> res.tornado("cobalt", "USA", "refining", top=3)["kind"].tolist()  # doctest: +SKIP
    ['flow', 'governance', 'parameter']
    """
    check_method(method)
    if not isinstance(dataset, Dataset):
        raise bad_argument(
            "sensitivity",
            "dataset",
            "a Dataset",
            dataset,
            "load one with riskengine.load_dataset()",
        )
    check_params(params, "sensitivity")
    for arg, value in (("minerals", minerals), ("countries", countries), ("stages", stages)):
        check_labels("sensitivity", arg, value)
    check_int("sensitivity", "year", year, optional=True)
    check_int("sensitivity", "jobs", jobs, minimum=1, optional=True)
    check_number("sensitivity", "step", step)
    if not 0.0 < step < 1.0:
        raise RiskEngineError(f"step must be in (0, 1), got {step}")
    unknown = [k for k in inputs if k not in INPUT_KINDS]
    if unknown:
        raise UnknownLabelError("input kind", unknown, INPUT_KINDS)
    year_ = resolve_year(dataset, year)
    mineral_list = resolve_minerals(dataset, minerals)
    stage_list = resolve_stages(dataset, stages)
    custom = params.get("regions")
    groups: dict[str, list[str]] = {}
    if isinstance(custom, Mapping):
        groups = {str(k): [str(m) for m in v] for k, v in custom.items()}
    target = dataset.resolve_countries(countries, regions=True, extra=groups)
    spec = {**REGIONS, **groups}
    perturbed = None if target is None else [*target, *(m for t in target for m in spec.get(t, ()))]
    job = _Job(
        yt=year_tensors(dataset, year_),
        stages=stage_list,
        target=target,
        perturbed=perturbed,
        method=method,
        step=step,
        kinds=frozenset(inputs),
        params=params,
        seen=set(),
    )
    if method == "riskengine":
        parts = _composite_parts(job, mineral_list, progress)
    else:
        parts = []
        runner = resolve_client(client, "sensitivity")
        tasks = ((job, mineral, chunk_size) for mineral in mineral_list)
        for part in map_partitions(
            runner, _rescored_part, tasks, name="sensitivity", objects=[job], seen=job.seen,
            jobs=default_jobs(jobs),
        ):  # fmt: skip
            parts.append(part)
            if progress is not None:
                progress(len(parts), len(mineral_list))
    table = _table([p for p in parts if p is not None])
    prices = _price_sensitivity(dataset, scenario, step) if scenario is not None else None
    return SensitivityResult(
        method=method,
        dataset=dataset.name,
        params=dict(params),
        table=table,
        year=year_,
        step=step,
        prices=prices if prices is not None else pd.DataFrame(columns=list(COLUMNS)),
    )


@dataclass(frozen=True)
class _Job:
    """What one call of :func:`sensitivity` works on.

    ``target`` are the scored labels (None: all); ``perturbed`` the countries
    whose flows are moved (the targets and the members of target regions).
    """

    yt: YearTensors
    stages: list[str]
    target: list[str] | None
    perturbed: list[str] | None
    method: str
    step: float
    kinds: frozenset[str]
    params: Mapping[str, Any]
    seen: set[str]


def _enumerate(job: _Job, block: MineralBlock, governance: np.ndarray) -> _Variants:
    """Every input of one mineral's block moved down and up, in the table's variant order.

    ``governance`` is ``[indicator, country]`` on the block's countries.
    """
    step = job.step
    v = _Variants()
    countries = block.countries.to_numpy(dtype=object)
    p0, f0 = block.production, block.flows
    if "governance" in job.kinds:
        # PV for GeoPolRisk and the composite; the six estimates' mean for the EU method
        values = governance if job.method == "eu" else governance[1:2]
        usable = ~np.isnan(values).any(axis=0) & ~(values == WGI_MAX).all(axis=0)
        cs = np.flatnonzero(usable & (countries != OTHER_COUNTRIES))
        wgi = np.ascontiguousarray(values[:, cs].T).mean(axis=1)
        v.add(
            "governance", countries[cs], "", wgi,
            WGI_MAX - (WGI_MAX - wgi) * (1 - step), WGI_MAX - (WGI_MAX - wgi) * (1 + step),
            2 * step,
            governance=(
                np.arange(2 * len(cs)), np.repeat(cs, 2), np.tile([1 - step, 1 + step], len(cs))
            ),
        )  # fmt: skip
    stage_names = [str(s) for s in job.yt.dataset.stages]
    if "production" in job.kinds:
        for s, stage in enumerate(stage_names):
            cs = np.flatnonzero(p0[s] > 0)
            value = p0[s, cs]
            low, high = value * (1 - step), value * (1 + step)
            v.add(
                "production", countries[cs], stage, value, low, high, 2 * step,
                production=(
                    np.arange(2 * len(cs)), np.full(2 * len(cs), s), np.repeat(cs, 2),
                    _both(low, high),
                ),
            )  # fmt: skip
    if "flow" in job.kinds:
        moved = (
            np.ones(len(countries), dtype=bool)
            if job.perturbed is None
            else np.isin(countries, job.perturbed)
        )
        for s, stage in enumerate(stage_names):
            e_idx, i_idx = np.nonzero(f0[s] > 0)
            keep = moved[e_idx] | moved[i_idx]
            e, i = e_idx[keep], i_idx[keep]
            value = f0[s, e, i]
            low, high = value * (1 - step), value * (1 + step)
            labels = [f"{a}->{b}" for a, b in zip(countries[e], countries[i], strict=True)]
            v.add(
                "flow", labels, stage, value, low, high, 2 * step,
                flows=(
                    np.arange(2 * len(e)), np.full(2 * len(e), s), np.repeat(e, 2),
                    np.repeat(i, 2), _both(low, high),
                ),
            )  # fmt: skip
    if "content" in job.kinds:
        _content_variants(job.yt, block, v)
    return v


def _content_variants(yt: YearTensors, block: MineralBlock, v: _Variants) -> None:
    r"""Add every ranged product of the mineral, its flows at both ends of the range.

    A copy's flows are those of :meth:`Dataset.with_content` with the
    product's fraction moved and every other product at its central one: each
    trade row's contained tonnes :math:`q_n = q^{gross}_n f_{product(n)}` (0
    where not usable), summed per exporter-importer pair as
    :attr:`Dataset.pairs` sums them (in the same order, so to the same
    bits). Only the pairs with a row of the product change; they are the
    copy's changes.
    """
    ds = yt.dataset
    products = ds.products
    if ds.trade is None or not len(products):
        return
    tr = ds.trade.take(ds.trade.mineral == ds.minerals.get_loc(block.mineral))
    if not len(tr):
        return
    central = products["content"].to_numpy(dtype=float)
    low = products["content_low"].to_numpy(dtype=float)
    high = products["content_high"].to_numpy(dtype=float)
    named = tr.product >= 0
    content = np.where(
        tr.usable, np.where(named, tr.gross * central[np.maximum(tr.product, 0)], tr.content), 0.0
    )
    n_c = len(ds.countries)
    # the order Flows.aggregate sums the rows of a pair in (one mineral, one year)
    key = (tr.stage.astype(np.int64) * n_c + tr.exporter) * n_c + tr.importer
    order = np.argsort(key, kind="stable")
    first = np.concatenate(([True], key[order][1:] != key[order][:-1]))
    starts = np.flatnonzero(first)
    pair = np.empty(len(key), dtype=np.int64)
    pair[order] = np.cumsum(first) - 1
    stage, rest = np.divmod(key[order][starts], n_c * n_c)
    local = np.full(n_c, -1)
    local[block.idx] = np.arange(len(block.idx))
    exporter, importer = local[rest // n_c], local[rest % n_c]
    labels = products["product"].to_numpy(dtype=object)
    stages = products["stage"].to_numpy(dtype=object)
    bases = products["basis"].to_numpy(dtype=object)
    for row in np.unique(tr.product[named & tr.usable & (tr.gross > 0)]):
        p = int(row)
        if not low[p] < high[p]:  # no range (or NaN): nothing to move
            continue
        rows = tr.product == p
        moved = np.unique(pair[rows])
        moved = moved[(exporter[moved] >= 0) & (importer[moved] >= 0)]
        at = (stage[moved], exporter[moved], importer[moved])
        columns: list[list[np.ndarray]] = [[], [], [], [], []]
        for copy, fraction in enumerate((low[p], high[p])):
            q = content.copy()
            q[rows] = np.where(tr.usable[rows], tr.gross[rows] * fraction, 0.0)
            sums = np.add.reduceat(q[order], starts)[moved]
            differ = sums != block.flows[at]
            values = (np.full(int(differ.sum()), copy), *(x[differ] for x in at), sums[differ])
            for col, value in zip(columns, values, strict=True):
                col.append(value)
        v.add(
            "content", [str(labels[p])], str(stages[p]), [central[p]], [low[p]], [high[p]],
            float((high[p] - low[p]) / central[p]) if central[p] else np.nan, str(bases[p]),
            flows=tuple(np.concatenate(col) for col in columns),
        )  # fmt: skip


# ----------------------------------------------------------------- composite
def _composite_parts(
    job: _Job, minerals: list[str], progress: Progress | None
) -> list[dict[str, np.ndarray] | None]:
    """Return the composite's table rows, mineral by mineral, from one run of the composite."""
    yt = job.yt
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run = score(yt.dataset, method="riskengine", minerals=minerals, stages=job.stages,
                    **job.params)  # fmt: skip
    reemit(caught, job.seen)
    frame = run.scores
    if job.target is not None:
        frame = frame[frame["country"].isin(job.target)]
    columns = {name: frame[name].to_numpy(dtype=float) for name in ("score", *FACTORS)}
    stage_col = frame["stage"].to_numpy(dtype=object)
    country_col = frame["country"].to_numpy(dtype=object)
    rows_of = frame.groupby("mineral", sort=False, observed=True).indices
    weights = cast(dict[str, float], run.params["weights"])
    policy = cast(MissingGovernance, run.params["missing_governance"])
    governance = yt.dataset.governance_at(yt.year)[0]
    stages = yt.dataset.stages
    parts: list[dict[str, np.ndarray] | None] = []
    for done, mineral in enumerate(minerals, start=1):
        rows = rows_of.get(mineral)
        if rows is not None:
            block = yt.block(mineral)
            cells_s = stages.get_indexer(pd.Index(stage_col[rows]))
            cells_c = block.countries.get_indexer(pd.Index(country_col[rows]))
            v = _enumerate(job, block, governance[:, block.idx])
            sums = _CompositeBlock(yt, block, governance[:, block.idx], policy)
            low, high = sums.scores(v, cells_s, cells_c, weights)
            if "parameter" in job.kinds:
                refining = stage_col[rows] == Stage.REFINING.value
                factors = {name: columns[name][rows] for name in FACTORS}
                w_low, w_high = _weight_variants(v, weights, job.step, factors, refining)
                low, high = np.vstack([low, w_low]), np.vstack([high, w_high])
            parts.append(
                _rows(mineral, stage_col[rows], country_col[rows], columns["score"][rows], low,
                      high, v)
            )  # fmt: skip
        if progress is not None:
            progress(done, len(minerals))
    return parts


def _weight_variants(
    v: _Variants,
    weights: Mapping[str, float],
    step: float,
    factors: Mapping[str, np.ndarray],
    refining: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Scores ``[variant, cell]`` with each positive factor weight moved down and up.

    Closed form: the factors of the one run recombined with the moved weight
    (:func:`~riskengine.methods.composite.weigh`); no copy is scored.
    """
    low: list[np.ndarray] = []
    high: list[np.ndarray] = []
    for name, w in weights.items():
        if w <= 0:
            continue
        low.append(weigh(factors, {**weights, name: w * (1 - step)}, refining)[1])
        high.append(weigh(factors, {**weights, name: w * (1 + step)}, refining)[1])
        v.add("parameter", [f"weight {name}"], "", [w], [w * (1 - step)], [w * (1 + step)],
              2 * step)  # fmt: skip
    shape = (len(low), len(refining))
    return np.reshape(low, shape), np.reshape(high, shape)


class _CompositeBlock:
    r"""The sums the composite's factors are made of, on one mineral's block of one year.

    :meth:`scores` scores copies of the block that differ from it by a few
    changes (:class:`_Variants`) by updating only the sums the changes enter
    (module docstring). Flows are ``f[stage, exporter, importer]``, production
    ``p[stage, country]``, contained tonnes on the block's countries.
    """

    def __init__(
        self,
        yt: YearTensors,
        block: MineralBlock,
        governance: np.ndarray,
        policy: MissingGovernance,
    ) -> None:
        p0, f0 = block.production, block.flows
        self.p0, self.f0 = p0, f0
        self.imports = f0.sum(axis=1)
        self.exports = f0.sum(axis=2)
        self.squares = np.einsum("sei,sei->se", f0, f0)
        self.atom = np.asarray(block.countries != OTHER_COUNTRIES, dtype=float)
        self.pv = governance[1]
        trading = ((self.exports > 0) | (p0 > 0)).any(axis=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the composite's run has issued them
            g = handle_missing(
                ix.geopolrisk_weight(self.pv), trading & (self.atom > 0), block.countries,
                "WGI political stability (PV)", policy, [],
            )  # fmt: skip
        self.g = g
        unknown = np.isnan(g)
        self.g0 = np.where(unknown, 0.0, g)
        # weighted imports N[s, i] = sum_e g_e f[s, e, i]; NaN where a used weight is unknown
        self.numerator = np.einsum("e,sei->si", self.g0, f0)
        self.unknown = (unknown[None, :, None] & (f0 != 0)).any(axis=1)
        self.hhi = ix.weighted_hhi(p0, self.atom)
        stages = [str(s) for s in yt.dataset.stages]
        world = p0.sum(axis=-1)
        traded = self.imports.sum(axis=-1) > 0
        # stages without production take the concentration of the stage they are made from
        self.fallback = [
            (stages.index(s), stages.index(u))
            for s, u in UPSTREAM_STAGE.items()
            if s in stages and u in stages
            and world[stages.index(s)] == 0 and world[stages.index(u)] > 0
            and traded[stages.index(s)]
        ]  # fmt: skip
        self.refining = np.asarray([s == Stage.REFINING.value for s in stages])
        self.s_mine, self.s_ref, self.feed = yt.s_mine, yt.s_ref, list(yt.feed)
        if self.s_mine is not None and self.s_ref is not None:
            feed = f0[self.feed].sum(axis=0)
            self.feed_flows = feed
            self.feed_exports = self.exports[self.feed].sum(axis=0)
            self.feed_imports = self.imports[self.feed].sum(axis=0)
            self.feed_numerator = self.g0 @ feed
            self.feed_unknown = (unknown[:, None] & (feed != 0)).any(axis=0)

    def scores(
        self,
        v: _Variants,
        cell_stage: np.ndarray,
        cell_country: np.ndarray,
        weights: Mapping[str, float],
    ) -> tuple[np.ndarray, np.ndarray]:
        """Scores ``[variant, cell]`` of the low and the high copies, at the cells given.

        ``cell_stage`` and ``cell_country`` are positions on the dataset's
        stages and the block's countries.
        """
        targets, column = np.unique(cell_country, return_inverse=True)
        n_copies = 2 * len(v)
        out = np.empty((n_copies, len(cell_stage)))
        width = max(len(self.g), self.p0.shape[0] * len(targets))
        chunk = max(1, CHUNK_CELLS // width)
        for start in range(0, n_copies, chunk):
            stop = min(start + chunk, n_copies)
            out[start:stop] = self._chunk(v, start, stop, targets, weights)[:, cell_stage, column]
        return out[0::2], out[1::2]

    def _chunk(
        self, v: _Variants, start: int, stop: int, targets: np.ndarray, weights: Mapping[str, float]
    ) -> np.ndarray:
        """Scores ``[copy, stage, target]`` of copies ``start .. stop - 1``."""
        k = stop - start
        at = np.full(len(self.g), -1)
        at[targets] = np.arange(len(targets))

        def rows(base: np.ndarray) -> np.ndarray:
            return np.repeat(base[None][..., targets], k, axis=0)

        prod, imports, exports = rows(self.p0), rows(self.imports), rows(self.exports)
        squares, numerator = rows(self.squares), rows(self.numerator)
        conc = np.repeat(self.hhi[None], k, axis=0)

        r, s, c, new = v.changes("production", start, stop)
        r = r - start
        mine = at[c] >= 0
        prod[r[mine], s[mine], at[c[mine]]] = new[mine]
        if len(r):  # the stage's concentration over its changed production row
            changed = self.p0[s]
            changed[np.arange(len(r)), c] = new
            conc[r, s] = ix.weighted_hhi(changed, self.atom)
        for s_, u in self.fallback:
            conc[:, s_] = conc[:, u]

        r, s, e, i, new = v.changes("flows", start, stop)
        r = r - start
        old = self.f0[s, e, i]
        d = new - old
        into = at[i] >= 0
        cell = (r[into], s[into], at[i[into]])
        np.add.at(imports, cell, d[into])
        np.add.at(numerator, cell, self.g0[e[into]] * d[into])
        out = at[e] >= 0
        cell = (r[out], s[out], at[e[out]])
        np.add.at(exports, cell, d[out])
        np.add.at(squares, cell, (new * new - old * old)[out])

        r, c, factor = v.changes("governance", start, stop)
        r = r - start
        g_new = ix.geopolrisk_weight(WGI_MAX - (WGI_MAX - self.pv[c]) * factor)
        numerator[r] += (g_new - self.g0[c])[:, None, None] * np.moveaxis(
            self.f0[:, c][..., targets], 1, 0
        )
        numerator = np.where(self.unknown[None][..., targets], np.nan, numerator)

        supply = prod + imports
        upstream = np.zeros(prod.shape)
        with np.errstate(divide="ignore", invalid="ignore"):
            risk = numerator / supply
            destination = squares / (exports * exports)
            if self.s_mine is not None and self.s_ref is not None:
                upstream[:, self.s_ref] = self._upstream(
                    v, (start, stop), (self.s_mine, self.s_ref), targets, at,
                    (supply[:, self.s_ref], imports[:, self.s_ref]),
                )  # fmt: skip
        factors = factor_values(conc, prod, imports, exports, supply, risk, destination, upstream)
        return weigh(factors, weights, self.refining[:, None])[1]

    def _upstream(
        self,
        v: _Variants,
        copies: tuple[int, int],
        stages: tuple[int, int],
        targets: np.ndarray,
        at: np.ndarray,
        refined: tuple[np.ndarray, np.ndarray],
    ) -> np.ndarray:
        r"""Upstream exposure ``[copy, target]``: refined imports weighted by the refiners' feed.

        Each refiner's feed-origin weight :math:`\bar g_e` is recomputed for
        every copy from its updated retained mine output, feed and feed
        numerator. ``copies`` is ``(start, stop)``, ``stages`` the positions of
        the mining and refining stages, ``at`` the target position of each
        block country (-1: none), ``refined`` the targets' supply and imports
        at the refining stage ``[copy, target]``.
        """
        start, stop = copies
        s_mine, s_ref = stages
        supply, imports = refined
        k = stop - start

        def rows(base: np.ndarray) -> np.ndarray:
            return np.repeat(base[None], k, axis=0)

        g, mine = rows(self.g), rows(self.p0[s_mine])
        fed_out, fed_in = rows(self.feed_exports), rows(self.feed_imports)
        fed_num = rows(self.feed_numerator)

        r, s, c, new = v.changes("production", start, stop)
        hit = s == s_mine
        mine[r[hit] - start, c[hit]] = new[hit]

        r, s, e, i, new = v.changes("flows", start, stop)
        r = r - start
        d = new - self.f0[s, e, i]
        hit = np.isin(s, self.feed)
        np.add.at(fed_out, (r[hit], e[hit]), d[hit])
        np.add.at(fed_in, (r[hit], i[hit]), d[hit])
        np.add.at(fed_num, (r[hit], i[hit]), self.g0[e[hit]] * d[hit])

        rg, c, factor = v.changes("governance", start, stop)
        rg = rg - start
        g_new = ix.geopolrisk_weight(WGI_MAX - (WGI_MAX - self.pv[c]) * factor)
        g[rg, c] = g_new
        fed_num[rg] += (g_new - self.g0[c])[:, None] * self.feed_flows[c]

        retained = ix.retained_output(mine, fed_out)
        own = np.where(retained != 0, retained * g, 0.0)
        fed = retained + fed_in
        weight = (np.where(self.feed_unknown, np.nan, fed_num) + own) / fed
        # a refiner with no known feed is its own ore origin (no variant makes a positive
        # flow 0, so the refiners with exports are the block's)
        weight = np.where((fed == 0) & (self.exports[s_ref] > 0), g, weight)

        flows = self.f0[s_ref][:, targets]
        known = ~np.isnan(weight)
        wz = np.where(known, weight, 0.0)
        numerator = wz @ flows
        # NaN where a used refiner's weight is unknown (the changed flows are used ones)
        lost = (~known).astype(float) @ (flows != 0).astype(float) > 0
        into = (s == s_ref) & (at[i] >= 0)
        rr, ee, tt = r[into], e[into], at[i[into]]
        np.add.at(numerator, (rr, tt), wz[rr, ee] * d[into])
        return np.where(imports > 0, np.where(lost, np.nan, numerator) / supply, 0.0)


# ------------------------------------------------------------ other methods
def _rescored_part(job: _Job, mineral: str, chunk_size: int) -> dict[str, np.ndarray] | None:
    """One mineral's table rows, every copy scored by the method (GeoPolRisk, EU)."""
    yt = job.yt
    block = yt.block(mineral)
    if not len(block.idx):
        return None
    base = restrict(yt.dataset, mineral, block.idx)
    gov0, _ = base.governance_at(yt.year)
    v = _enumerate(job, block, gov0)
    n_copies = 1 + 2 * len(v)  # copy 0 is the baseline, copy 1 + r the variants' copy r
    frames = []
    for start in range(0, n_copies, chunk_size):
        stop = min(start + chunk_size, n_copies)
        prod, flows, gov = _materialize(v, block, gov0, start, stop)
        scored = score_years(base, prod, flows, gov, job.method, job.params, job.seen)
        scored["copy"] += start
        frames.append(scored)
    scores = pd.concat(frames, ignore_index=True)
    if "parameter" in job.kinds and job.method == "eu":
        scores = _eu_parameters(job, base, block, scores, n_copies, v)
    scores = scores[scores["stage"].isin(job.stages)]
    if job.target is not None:
        scores = scores[scores["country"].isin(job.target)]
    cells = pd.MultiIndex.from_arrays([scores["stage"], scores["country"]]).unique()
    if not len(cells):
        return None
    table = np.full((1 + 2 * len(v), len(cells)), np.nan)
    position = cells.get_indexer(pd.MultiIndex.from_arrays([scores["stage"], scores["country"]]))
    table[scores["copy"].to_numpy(dtype=int), position] = scores["value"].to_numpy(dtype=float)
    return _rows(
        mineral,
        cells.get_level_values(0).to_numpy(dtype=object),
        cells.get_level_values(1).to_numpy(dtype=object),
        table[0],
        table[1::2],
        table[2::2],
        v,
    )


def _materialize(
    v: _Variants, block: MineralBlock, gov0: np.ndarray, start: int, stop: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Production, flows and governance of copies ``start .. stop - 1`` (copy 0: baseline).

    Returns ``[copy, stage, country]``, ``[copy, stage, exporter, importer]``
    and ``[indicator, copy, country]``; variant copy ``r`` is copy ``r + 1``.
    """
    k = stop - start
    prod = np.repeat(block.production[None], k, axis=0)
    flows = np.repeat(block.flows[None], k, axis=0)
    gov = np.repeat(gov0[:, None], k, axis=1)
    r, s, c, new = v.changes("production", start - 1, stop - 1)
    prod[r + 1 - start, s, c] = new
    r, s, e, i, new = v.changes("flows", start - 1, stop - 1)
    flows[r + 1 - start, s, e, i] = new
    r, c, factor = v.changes("governance", start - 1, stop - 1)
    gov[:, r + 1 - start, c] = WGI_MAX - (WGI_MAX - gov0[:, c]) * factor
    return prod, flows, gov


def _eu_parameters(
    job: _Job,
    base: Dataset,
    block: MineralBlock,
    scores: pd.DataFrame,
    offset: int,
    v: _Variants,
) -> pd.DataFrame:
    """Score the EU method with the mineral's EoL-RIR and substitution index moved by -/+ step.

    The copies are numbered from ``offset`` on, after the other variants'.
    """
    step = job.step
    frames = [scores]
    copy = offset
    mineral = str(base.minerals[0])
    info = base.mineral_info
    for column in ("eol_rir", "substitution_index"):
        if column not in info.columns or mineral not in info.index:
            continue
        value = float(np.asarray(info.loc[mineral, column], dtype=float))
        if not np.isfinite(value) or value == 0:
            continue
        for factor in (1 - step, 1 + step):
            changed = info.copy()
            changed.loc[mineral, column] = value * factor
            frame = score_copies(
                replace(base, mineral_info=changed), block.production[None], block.flows[None],
                job.method, job.params, job.seen,
            )  # fmt: skip
            frame["copy"] = copy
            frames.append(frame)
            copy += 1
        v.add("parameter", [column], "", [value], [value * (1 - step)], [value * (1 + step)],
              2 * step)  # fmt: skip
    return pd.concat(frames, ignore_index=True)


# ------------------------------------------------------------------- table
def _rows(
    mineral: str,
    stage: np.ndarray,
    country: np.ndarray,
    base: np.ndarray,
    low: np.ndarray,
    high: np.ndarray,
    v: _Variants,
) -> dict[str, np.ndarray]:
    """Table rows of one mineral: every variant and cell whose swing is more than rounding.

    ``stage``, ``country`` and ``base`` (the score) are per cell; ``low`` and
    ``high`` are ``[variant, cell]``.
    """
    swing = high - low
    # a swing within rounding of the score (effects that cancel exactly) is no swing
    noise = 1e-12 * np.maximum(np.abs(np.where(np.isnan(base), 0.0, base)), 1e-300)
    j, c = np.nonzero(np.abs(np.where(np.isnan(swing), 0.0, swing)) > noise)
    meta = v.meta()
    score_ = base[c]
    swing_ = swing[j, c]
    with np.errstate(divide="ignore", invalid="ignore"):
        elasticity = np.where(score_ != 0, swing_ / (meta["span"][j] * score_), np.nan)
    return {
        "mineral": np.full(len(j), mineral, dtype=object),
        "stage": stage[c],
        "country": country[c],
        **{name: meta[name][j] for name in meta if name != "span"},
        "score": score_,
        "score_low": low[j, c],
        "score_high": high[j, c],
        "swing": swing_,
        "elasticity": elasticity,
        "variant": j,
        "order": np.zeros(len(j), dtype=np.int64),
    }


def _table(parts: list[dict[str, np.ndarray]]) -> pd.DataFrame:
    """Return every mineral's rows in one frame, by mineral, stage, country and decreasing swing.

    Ties in ``|swing|`` keep the variant order (governance, production, flow,
    content, parameter).
    """
    for n, part in enumerate(parts):
        part["order"][:] = n
    parts = [p for p in parts if len(p["variant"])]
    if not parts:
        return frame_or_empty([], COLUMNS)
    cols = {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}
    stage_rank = np.unique(cols["stage"], return_inverse=True)[1]
    country_rank = np.unique(cols["country"], return_inverse=True)[1]
    order = np.lexsort(
        (cols["variant"], -np.abs(cols["swing"]), country_rank, stage_rank, cols["order"])
    )
    return pd.DataFrame({name: cols[name][order] for name in COLUMNS})


def _price_sensitivity(dataset: Dataset, scenario: Any, step: float) -> pd.DataFrame:
    """Price change of a scenario against its market inputs (eta, deflection)."""
    from riskengine.scenarios import load_scenario
    from riskengine.scenarios.engine import market_table, simulate
    from riskengine.scenarios.market import market_parameters
    from riskengine.scenarios.models import Elasticity, Scenario

    sc = (
        scenario
        if isinstance(scenario, Scenario)
        else load_scenario(scenario if isinstance(scenario, str | Path) else str(scenario))
    )

    def prices(s: Scenario) -> pd.DataFrame:
        return market_table(simulate(dataset, s))[["mineral", "stage", "price_change_pct"]]

    base = prices(sc).set_index(["mineral", "stage"])["price_change_pct"]
    rows: list[dict[str, Any]] = []
    touched = sorted({m for shock in sc.shocks for m in shock.minerals_of()})

    def record(
        label: str, value: float, low: Scenario, high: Scenario, kind: str, high_value: float
    ) -> None:
        lo = prices(low).set_index(["mineral", "stage"])["price_change_pct"]
        hi = prices(high).set_index(["mineral", "stage"])["price_change_pct"]
        for key_, b in base.items():
            key = cast(tuple[str, str], key_)
            swing = float(hi.get(key, np.nan) - lo.get(key, np.nan))
            if not np.isfinite(swing) or swing == 0:
                continue
            rows.append(
                {
                    "mineral": key[0], "stage": key[1], "country": "world", "kind": kind,
                    "input": label, "input_stage": "", "basis": "", "value": value,
                    "input_low": value * (1 - step), "input_high": high_value, "score": b,
                    "score_low": lo.get(key, np.nan), "score_high": hi.get(key, np.nan),
                    "swing": swing,
                    "elasticity": swing / (2 * step * b) if b else np.nan,
                }
            )  # fmt: skip

    def with_market(**changes: Any) -> Scenario:
        return sc.model_copy(update={"market": sc.market.model_copy(update=changes)})

    for mineral in touched:
        if mineral not in dataset.minerals:
            continue
        override = sc.market.elasticities.get(mineral)
        eta = market_parameters(mineral).values["eta"][0] if override is None else override.eta
        variants = []
        for factor in (1 - step, 1 + step):
            el = dict(sc.market.elasticities)
            el[mineral] = Elasticity(eta=eta * factor)
            variants.append(with_market(elasticities=el))
        record(
            f"eta {mineral}", eta, variants[0], variants[1], "elasticity", eta * (1 + step)
        )  # fmt: skip
    d = sc.market.deflection
    if d > 0:
        record(
            "deflection",
            d,
            with_market(deflection=d * (1 - step)),
            with_market(deflection=min(d * (1 + step), 1.0)),
            "market",
            min(d * (1 + step), 1.0),
        )
    return pd.DataFrame(rows, columns=list(COLUMNS))
