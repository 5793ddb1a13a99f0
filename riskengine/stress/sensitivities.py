r"""One-at-a-time sensitivity of scores to their inputs.

For every score of the chosen method (mineral, stage, country) and every
input it depends on, the input is moved by ``-h`` and ``+h`` of itself (10 %
by default) while everything else stays put, and the score is recomputed by
the method. The central elasticity is

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

The perturbed variants are scored in one call of the method per chunk, laid
side by side on the dataset's year axis (each with its own governance).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar, cast

import numpy as np
import pandas as pd

from riskengine.dataset import Dataset
from riskengine.dims import OTHER_COUNTRIES, REGIONS
from riskengine.errors import (
    RiskEngineError,
    UnknownLabelError,
    bad_argument,
    check_int,
    check_labels,
    check_number,
)
from riskengine.indices import WGI_MAX
from riskengine.methods import DEFAULT_METHOD
from riskengine.results import Result
from riskengine.stress._common import (
    Progress,
    YearTensors,
    check_method,
    check_params,
    frame_or_empty,
    resolve_minerals,
    resolve_stages,
    resolve_year,
    year_tensors,
)
from riskengine.stress._fold import restrict, score_years

logger = logging.getLogger(__name__)

#: Default relative step of the perturbation.
DEFAULT_STEP = 0.1
#: Variants scored together.
DEFAULT_CHUNK = 64
INPUT_KINDS: tuple[str, ...] = ("governance", "production", "flow", "parameter", "content")

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
        rows = t[(t["mineral"] == mineral) & (t["country"] == country)]
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


@dataclass
class _Variant:
    """One input moved to a low and a high value (``span``: their distance over ``value``)."""

    kind: str
    label: str
    stage: str
    value: float
    low: float = np.nan
    high: float = np.nan
    span: float = np.nan
    basis: str = ""


def _scaled(kind: str, label: str, stage: str, value: float, step: float) -> _Variant:
    """Return an input moved by ``-step`` and ``+step`` of itself."""
    return _Variant(kind, label, stage, value, value * (1 - step), value * (1 + step), 2 * step)


def _perturbed_governance(gov: np.ndarray, c: int, factor: float) -> np.ndarray:
    out = gov.copy()
    out[:, c] = WGI_MAX - (WGI_MAX - gov[:, c]) * factor
    return out


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
    **params: Any,
) -> SensitivityResult:
    """One-at-a-time elasticities of every score to its inputs.

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
        Variants scored in one method call.
    progress
        Called with ``(minerals done, minerals)``.
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
    yt = year_tensors(dataset, year_)
    seen: set[str] = set()
    parts: list[pd.DataFrame] = []
    for done, mineral in enumerate(mineral_list, start=1):
        parts.append(
            _mineral_sensitivity(
                yt,
                mineral,
                stage_list,
                target,
                method,
                step,
                set(inputs),
                chunk_size,
                params,
                seen,
                groups,
            )
        )
        if progress is not None:
            progress(done, len(mineral_list))
    table = frame_or_empty(parts, COLUMNS)
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


def _mineral_sensitivity(
    yt: YearTensors,
    mineral: str,
    stages: list[str],
    target: list[str] | None,
    method: str,
    step: float,
    kinds: set[str],
    chunk_size: int,
    params: Mapping[str, Any],
    seen: set[str],
    groups: Mapping[str, list[str]],
) -> pd.DataFrame:
    block = yt.block(mineral)
    idx = block.idx
    if not len(idx):
        return pd.DataFrame(columns=list(COLUMNS))
    countries = block.countries
    p0, f0 = block.production, block.flows
    base = restrict(yt.dataset, mineral, idx)
    gov0, _ = base.governance_at(yt.year)
    stage_names = [str(s) for s in base.stages]
    if target is None:
        is_target = np.ones(len(countries), dtype=bool)
    else:
        spec = {**REGIONS, **groups}
        members = {m for t in target if t in spec for m in spec[t]}
        is_target = countries.isin([*target, *members])

    variants: list[_Variant] = [_Variant("baseline", "", "", np.nan)]
    prod: list[np.ndarray] = [p0]
    flow: list[np.ndarray] = [f0]
    gov: list[np.ndarray] = [gov0]
    State = tuple[np.ndarray, np.ndarray, np.ndarray]

    def add(variant: _Variant, low: State, high: State) -> None:
        for p, f, g in (low, high):
            prod.append(p)
            flow.append(f)
            gov.append(g)
        variants.append(variant)

    if "governance" in kinds:
        for c in range(len(countries)):
            if countries[c] == OTHER_COUNTRIES:
                continue
            # PV for GeoPolRisk and the composite; the six estimates' mean for the EU method
            values = gov0[:, c] if method == "eu" else gov0[1:2, c]
            if np.isnan(values).any() or np.all(values == WGI_MAX):
                continue
            wgi = float(values.mean())
            add(
                _Variant(
                    "governance",
                    str(countries[c]),
                    "",
                    wgi,
                    WGI_MAX - (WGI_MAX - wgi) * (1 - step),
                    WGI_MAX - (WGI_MAX - wgi) * (1 + step),
                    2 * step,
                ),
                (p0, f0, _perturbed_governance(gov0, c, 1 - step)),
                (p0, f0, _perturbed_governance(gov0, c, 1 + step)),
            )
    if "production" in kinds:
        for s, stage in enumerate(stage_names):
            for producer in np.flatnonzero(p0[s] > 0):
                lo, hi = p0.copy(), p0.copy()
                lo[s, producer] *= 1 - step
                hi[s, producer] *= 1 + step
                label = str(countries[int(producer)])
                add(
                    _scaled("production", label, stage, float(p0[s, producer]), step),
                    (lo, f0, gov0),
                    (hi, f0, gov0),
                )
    if "flow" in kinds:
        for s, stage in enumerate(stage_names):
            e_idx, i_idx = np.nonzero(f0[s] > 0)
            keep = is_target[e_idx] | is_target[i_idx]
            for e, i in zip(e_idx[keep], i_idx[keep], strict=True):
                lo, hi = f0.copy(), f0.copy()
                lo[s, e, i] *= 1 - step
                hi[s, e, i] *= 1 + step
                add(
                    _scaled(
                        "flow", f"{countries[e]}->{countries[i]}", stage, float(f0[s, e, i]), step
                    ),
                    (p0, lo, gov0),
                    (p0, hi, gov0),
                )
    if "content" in kinds:
        for variant, lo, hi in _content_variants(yt, mineral, idx):
            add(variant, (p0, lo, gov0), (p0, hi, gov0))

    frames: list[pd.DataFrame] = []
    n_var = len(prod)
    for start in range(0, n_var, chunk_size):
        stop = min(start + chunk_size, n_var)
        scored = score_years(
            base,
            np.stack(prod[start:stop]),
            np.stack(flow[start:stop]),
            np.stack(gov[start:stop], axis=1),
            method,
            params,
            seen,
        )
        scored["copy"] += start
        frames.append(scored)
    scores = pd.concat(frames, ignore_index=True)
    if "parameter" in kinds:
        scores, extra = _parameter_variants(base, p0, f0, method, params, step, seen, scores, n_var)
        variants.extend(extra)
    return _assemble(mineral, scores, variants, stages, target)


def _content_variants(
    yt: YearTensors, mineral: str, idx: np.ndarray
) -> Iterator[tuple[_Variant, np.ndarray, np.ndarray]]:
    """Yield every ranged product of ``mineral`` with its flows at both ends of the range.

    The flows ``[stage, exporter, importer]`` are contained tonnes on the
    block's countries ``idx``, every other product at its central fraction:
    the block :meth:`YearTensors.block` builds, from
    :meth:`Dataset.with_content`.
    """
    ds = yt.dataset.sel(minerals=[mineral])
    tr = ds.trade
    products = ds.products
    if tr is None or not len(tr) or not len(products):
        return
    central = products["content"].to_numpy(dtype=float)
    low = products["content_low"].to_numpy(dtype=float)
    high = products["content_high"].to_numpy(dtype=float)
    used = np.unique(tr.product[(tr.product >= 0) & tr.usable & (tr.gross > 0)])
    n_s, n = len(ds.stages), len(idx)
    local = np.full(len(ds.countries), -1)
    local[idx] = np.arange(n)

    def flows(row: int, fraction: float) -> np.ndarray:
        f = central.copy()
        f[row] = fraction
        pairs = ds.with_content(f).pairs.recode(exporter=local, importer=local)
        return pairs.dense("content", (1, n_s, 1, n, n))[0, :, 0]

    for row in used:
        p = int(row)
        if not low[p] < high[p]:  # no range (or NaN): nothing to move
            continue
        item = products.iloc[p]
        variant = _Variant(
            "content",
            str(item["product"]),
            str(item["stage"]),
            float(central[p]),
            float(low[p]),
            float(high[p]),
            float((high[p] - low[p]) / central[p]) if central[p] else np.nan,
            str(item["basis"]),
        )
        yield variant, flows(p, low[p]), flows(p, high[p])


def _parameter_variants(
    base: Dataset,
    production: np.ndarray,
    flows: np.ndarray,
    method: str,
    params: Mapping[str, Any],
    step: float,
    seen: set[str],
    scores: pd.DataFrame,
    offset: int,
) -> tuple[pd.DataFrame, list[_Variant]]:
    """Score the method with each numeric parameter moved by -step and +step.

    ``production`` ``[stage, country]`` and ``flows`` ``[stage, exporter,
    importer]`` are the mineral's block on ``base``'s countries.
    """
    from riskengine.stress._fold import score_copies

    variants: list[_Variant] = []
    frames = [scores]
    copy = offset
    p1, f1 = production[None], flows[None]

    def run(label: str, value: float, low: dict[str, Any], high: dict[str, Any], ds: Any) -> None:
        nonlocal copy
        for kw, d in ((low, ds[0]), (high, ds[1])):
            frame = score_copies(d, p1, f1, method, {**params, **kw}, seen)
            frame["copy"] = copy
            frames.append(frame)
            copy += 1
        variants.append(_scaled("parameter", label, "", value, step))

    if method == "riskengine":
        from riskengine.methods.composite import DEFAULT_WEIGHTS

        weights = {**DEFAULT_WEIGHTS, **dict(params.get("weights") or {})}
        for name, w in weights.items():
            if w <= 0:
                continue
            run(
                f"weight {name}", w,
                {"weights": {**weights, name: w * (1 - step)}},
                {"weights": {**weights, name: w * (1 + step)}},
                (base, base),
            )  # fmt: skip
    elif method == "eu":
        mineral = str(base.minerals[0])
        info = base.mineral_info
        for column in ("eol_rir", "substitution_index"):
            if column not in info.columns or mineral not in info.index:
                continue
            value = float(np.asarray(info.loc[mineral, column], dtype=float))
            if not np.isfinite(value) or value == 0:
                continue
            variants_ds = []
            for factor in (1 - step, 1 + step):
                changed = info.copy()
                changed.loc[mineral, column] = value * factor
                variants_ds.append(replace(base, mineral_info=changed))
            run(column, value, {}, {}, tuple(variants_ds))
    return pd.concat(frames, ignore_index=True), variants


def _assemble(
    mineral: str,
    scores: pd.DataFrame,
    variants: list[_Variant],
    stages: list[str],
    target: list[str] | None,
) -> pd.DataFrame:
    scores = scores[scores["stage"].isin(stages)]
    if target is not None:
        scores = scores[scores["country"].isin(target)]
    base = scores[scores["copy"] == 0].set_index(["stage", "country"])["value"]
    rest = scores[scores["copy"] > 0]
    var_id = (rest["copy"].to_numpy() - 1) // 2 + 1
    side = np.where((rest["copy"].to_numpy() - 1) % 2 == 0, "low", "high")
    wide = (
        rest.assign(variant=var_id, side=side)
        .pivot_table(
            index=["variant", "stage", "country"],
            columns="side",
            values="value",
            aggfunc="first",
            dropna=False,
        )
        .reset_index()
    )
    if wide.empty:
        return pd.DataFrame(columns=list(COLUMNS))
    keys = pd.MultiIndex.from_arrays([wide["stage"], wide["country"]])
    wide["score"] = base.reindex(keys).to_numpy()
    wide["swing"] = wide["high"] - wide["low"]
    # a swing within rounding of the score (effects that cancel exactly) is no swing
    noise = 1e-12 * np.maximum(np.abs(wide["score"].fillna(0.0)), 1e-300)
    wide = wide[np.abs(wide["swing"].fillna(0.0)) > noise]
    v = wide["variant"].to_numpy(dtype=int)
    span = np.array([variants[j].span for j in v], dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        elasticity = np.where(
            wide["score"] != 0, wide["swing"].to_numpy() / (span * wide["score"].to_numpy()), np.nan
        )
    out = pd.DataFrame(
        {
            "mineral": mineral,
            "stage": wide["stage"].to_numpy(),
            "country": wide["country"].to_numpy(),
            "kind": [variants[j].kind for j in v],
            "input": [variants[j].label for j in v],
            "input_stage": [variants[j].stage for j in v],
            "basis": [variants[j].basis for j in v],
            "value": [variants[j].value for j in v],
            "input_low": [variants[j].low for j in v],
            "input_high": [variants[j].high for j in v],
            "score": wide["score"].to_numpy(),
            "score_low": wide["low"].to_numpy(),
            "score_high": wide["high"].to_numpy(),
            "swing": wide["swing"].to_numpy(),
            "elasticity": elasticity,
        }
    )
    order = out["swing"].abs()
    out = out.assign(_o=-order).sort_values(["stage", "country", "_o"], kind="stable")
    return out.drop(columns="_o").reset_index(drop=True)


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
