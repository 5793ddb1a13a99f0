"""riskengine's own composite score: what GeoPolRisk and the EU method leave out.

GeoPolRisk looks at one importer's direct suppliers; the EU method at one
region's sourcing. Neither follows ore through the refining stage, and neither
sees the exposure of exporters to concentrated buyers (Peru sells about three
quarters of its copper concentrate to China). The composite adds both, and
reports every factor's contribution so that the parts add up to the score.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from riskengine import indices as ix
from riskengine.dataset import Dataset, label_frame
from riskengine.dims import OTHER_COUNTRIES, Stage
from riskengine.errors import RiskEngineError
from riskengine.flows import Flows
from riskengine.methods.base import (
    MissingGovernance,
    ScoreResult,
    atomistic_weights,
    check_method_args,
    concentration_table,
    exporter_weights,
    governance_by_year,
    handle_missing,
    mineral_basis,
    production_notes,
    require_trade,
    resolve_params,
    trade_notes,
)

#: Default factor weights; they sum to 1.
DEFAULT_WEIGHTS: dict[str, float] = {
    "concentration": 0.25,
    "import_exposure": 0.25,
    "upstream_exposure": 0.15,
    "import_reliance": 0.20,
    "export_concentration": 0.15,
}

FACTORS: tuple[str, ...] = tuple(DEFAULT_WEIGHTS)


def _check_weights(weights: Mapping[str, float]) -> dict[str, float]:
    unknown = set(weights) - set(FACTORS)
    if unknown:
        raise RiskEngineError(
            f"unknown factor weight(s) {', '.join(sorted(unknown))}; the factors are "
            f"{', '.join(FACTORS)}"
        )
    merged = {**DEFAULT_WEIGHTS, **weights}
    bad = {k: v for k, v in merged.items() if not (v >= 0 and np.isfinite(v))}
    if bad or sum(merged.values()) <= 0:
        raise RiskEngineError(f"factor weights must be finite, >= 0 and not all 0; got {merged}")
    return merged


def composite(
    dataset: Dataset,
    *,
    minerals: Sequence[str] | str | None = None,
    stages: Sequence[str] | str | None = None,
    years: Sequence[int] | int | None = None,
    weights: Mapping[str, float] | None = None,
    missing_governance: MissingGovernance = "nan",
    baseline: Dataset | None = None,
) -> ScoreResult:
    r"""Score the composite supply-chain risk of every country, mineral and stage.

    Parameters
    ----------
    dataset
        Dataset with production (mining and refining), trade and WGI ``PV``.
    minerals, stages, years
        Restrict the output (None = all).
    weights
        Factor weights overriding :data:`DEFAULT_WEIGHTS` (any non-negative
        numbers; they are normalised to sum to 1 over the factors that apply).
    missing_governance
        ``"nan"`` (default), ``"raise"`` or a number for suppliers without a PV
        score.
    baseline
        The dataset ``dataset`` was shocked from (same coordinates), to score
        a shock as the supply it costs (Notes, "After a shock"); None scores
        ``dataset`` as it is.

    Returns
    -------
    ScoreResult
        Rows per (mineral, stage, year, country) with each factor (0-1), its
        contribution ``contrib_<factor>`` and ``score`` = the sum of the
        contributions (0-1).

    Notes
    -----
    With :math:`g` the GeoPolRisk governance weight of the WGI political
    stability estimate, :math:`f_{ec}` the flows into country :math:`c`,
    :math:`p_c` its production, :math:`F_c = \sum_e f_{ec}` and
    :math:`X_c = \sum_i f_{ci}`:

    .. math::

        \text{concentration} &= \sum_k S_k^2 \quad\text{(world production at the stage)} \\
        \text{import\_exposure}_c &= \frac{\sum_e g_e f_{ec}}{p_c + F_c} \\
        \text{upstream\_exposure}_c &= \frac{F_c}{p_c + F_c}\sum_k g_k U_{kc}
            \quad\text{(refining only)} \\
        \text{import\_reliance}_c &= \mathrm{clip}\left(
            \frac{F_c - X_c}{p_c + F_c - X_c}, 0, 1\right) \\
        \text{export\_concentration}_c &= HHI^{dest}_c \cdot
            \min\left(\frac{X_c}{p_c + F_c}, 1\right) \\
        \text{score}_c &= \sum_j \tilde w_j\, \text{factor}_{j,c},
            \qquad \tilde w_j = w_j / \sum_{j \in \text{applicable}} w_{j}

    :math:`U_{kc}` is the ore-origin mix of :math:`c`'s refined imports
    (:func:`riskengine.indices.upstream_dependency`): the refined product a
    country buys from :math:`e` embodies ore from where :math:`e`'s refineries
    source it (:func:`riskengine.indices.refinery_feed_mix`): its mine output
    not exported as ore, concentrate or intermediate, plus its imports of
    those (:data:`FEED_STAGES`). A refiner whose feed is unknown (no mine
    output and no feed imports in the data) is taken as its own origin, with a
    note. Outside the refining stage the upstream factor does not apply and its
    weight is spread over the others. Every quantity is contained content; all
    sums run over the sparse flows (segment sums), never over a dense
    exporter x importer tensor. A stage without production statistics
    (intermediate, component) takes the concentration of the stage it is made
    from (:data:`UPSTREAM_STAGE`), with a note. A country that
    imports nothing has import and upstream exposure 0 (not 0/0 where the
    data list no production for it).

    **After a shock** (``baseline`` given), a country whose supply
    :math:`p_c + F_c` fell is scored against the supply it had: the tonnes
    it no longer receives count at the highest risk, 1, and supply it gained
    in their place at no less than the risk of what it lost
    (:func:`riskengine.indices.loss_weighted_mean`, for its imports and for
    each refiner's feed); as an exporter it is measured on the exports it
    had, :math:`f^0` (its reliance and export concentration, over its
    baseline supply: what it can no longer sell is still owed to its buyers);
    output lost by a producer stays in the world concentration as that
    producer's (:math:`\max(p^0, p^1)`). The score of a country whose supply
    fell therefore never falls; a country whose supply did not fall is scored
    on what it receives. Quantities (``imports_t`` ...) are the shocked ones.
    """
    check_method_args("riskengine", dataset, minerals, stages, missing_governance)
    w = _check_weights(weights or {})
    ds = resolve_params(dataset, minerals, None, years)
    require_trade(ds, "riskengine")
    notes: list[str] = []
    prod = production_notes(ds, notes)
    trade_notes(ds, notes)
    atom = atomistic_weights(ds)
    _n_m, n_s, _n_t, _n_c = ds.shape
    before = None if baseline is None else _baseline_for(ds, baseline, minerals, years)
    pairs, f0 = _joined_pairs(ds, before)
    f = pairs.content
    size = int(np.prod(ds.shape))
    if before is None:
        key_i, key_e = ds.cell_key("importer"), ds.cell_key("exporter")
    else:
        key_i = pairs.key(("mineral", "stage", "year", "importer"), ds.shape)
        key_e = pairs.key(("mineral", "stage", "year", "exporter"), ds.shape)
    imports = ix.segment_sum(key_i, f, size).reshape(ds.shape)
    exports = ix.segment_sum(key_e, f, size).reshape(ds.shape)
    prod0 = prod if before is None else np.where(before.production_missing, 0.0, before.production)
    imports0 = ix.segment_sum(key_i, f0, size).reshape(ds.shape)
    exports0 = exports if before is None else ix.segment_sum(key_e, f0, size).reshape(ds.shape)
    hit = _fell(prod + imports, prod0 + imports0)
    # a country short of supply is measured, as an exporter, on the exports it had
    owed = np.where(hit.ravel()[key_e], f0, f)
    exports_used = ix.segment_sum(key_e, owed, size).reshape(ds.shape)

    gov, used = governance_by_year(ds)
    g = ix.geopolrisk_weight(gov[1])  # (T, C)
    trading = ((exports > 0) | (prod > 0)).any(axis=(0, 1))
    g = handle_missing(
        g, trading & (atom > 0), ds.countries, "WGI political stability (PV)",
        missing_governance, notes,
    )  # fmt: skip

    # output a producer lost stays in the world concentration as its own
    concentration = _stage_concentration(
        ds, ix.weighted_hhi(np.maximum(prod, prod0), atom), prod, imports, notes
    )
    supply = np.where(hit, prod0 + imports0, prod + imports)
    # a country that imports nothing has no import exposure, also when the data list
    # no production for it (an exporter hidden in the source's residual row): 0, not 0/0
    g_exporter = exporter_weights(g, pairs)
    own = np.arange(size)
    numerator, total = ix.loss_weighted_mean(
        np.concatenate([key_i, own]),
        np.concatenate([g_exporter, np.zeros(size)]),
        np.concatenate([f0, prod0.ravel()]),
        np.concatenate([f, prod.ravel()]),
        size,
        *LOSS_TOLERANCE,
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        risk = (numerator / total).reshape(ds.shape)
    imports_used = np.where(hit, prod0 + imports0 - prod, imports)
    dest = ix.segment_hhi(key_e, owed, size).reshape(ds.shape)

    upstream = np.zeros(ds.shape)
    if Stage.REFINING.value in ds.stages and Stage.MINING.value in ds.stages:
        upstream[:, ds.stages.get_loc(Stage.REFINING.value)] = _upstream(
            ds, pairs, f0, prod, prod0, np.maximum(exports, exports0), g, notes
        )

    factors = factor_values(
        concentration, prod, imports_used, exports_used, supply, risk, dest, upstream
    )
    refining = np.array([s == Stage.REFINING.value for s in ds.stages])
    contributions, score = weigh(factors, w, refining[None, :, None, None])

    # a country the shock hit stays scored even when it trades nothing any more
    active = (imports > 0) | (exports > 0) | (hit & ((imports0 > 0) | (exports0 > 0)))
    if OTHER_COUNTRIES in ds.countries:
        active[..., ds.countries.get_loc(OTHER_COUNTRIES)] = False
    if stages is not None:
        keep = ds.positions("stage", [stages] if isinstance(stages, str) else stages)
        mask = np.zeros(n_s, dtype=bool)
        mask[keep] = True
        active &= mask[None, :, None, None]
    cells = np.nonzero(active)
    columns: dict[str, np.ndarray | pd.Index] = {
        "hhi": factors["concentration"][cells],
        "score": score[cells],
    }
    for name in FACTORS:
        columns[name] = factors[name][cells]
    for name in FACTORS:
        columns[f"contrib_{name}"] = contributions[name][cells]
    columns["destination_hhi"] = dest[cells]
    columns["imports_t"] = imports[cells]
    columns["exports_t"] = exports[cells]
    columns["production_t"] = prod[cells]
    columns["basis"] = mineral_basis(ds)[cells[0]]
    frame = label_frame(
        {
            "mineral": (ds.minerals, cells[0]),
            "stage": (ds.stages, cells[1]),
            "year": (ds.years, cells[2]),
            "country": (ds.countries, cells[3]),
        },
        columns,
    )
    return ScoreResult(
        method="riskengine",
        scores=frame,
        concentration=concentration_table(ds, prod),
        factors=tuple(f"contrib_{name}" for name in FACTORS),
        params={
            "weights": w,
            "missing_governance": missing_governance,
            "governance_year": used,
        },
        dataset=ds.name,
        notes=tuple(notes),
    )


def factor_values(
    concentration: np.ndarray,
    production: np.ndarray,
    imports: np.ndarray,
    exports: np.ndarray,
    supply: np.ndarray,
    risk: np.ndarray,
    destination_hhi: np.ndarray,
    upstream: np.ndarray,
) -> dict[str, np.ndarray]:
    r"""Return the composite's factors from the sums they are made of (:func:`composite`).

    Arrays ``[..., country]`` (any leading axes), ``concentration`` without the
    country axis: ``risk`` is the import-weighted governance
    :math:`\sum_e g_e f_{ec} / (p_c + F_c)`, ``destination_hhi`` the
    exports' destination HHI and ``upstream`` the upstream exposure (0 outside
    refining). A country that imports nothing has import exposure 0; one that
    exports nothing, export concentration 0. The sensitivity analysis builds
    the same sums for perturbed copies and calls this too.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        export_share = np.minimum(exports / supply, 1.0)
    return {
        "concentration": np.broadcast_to(concentration[..., None], production.shape),
        "import_exposure": np.where(imports > 0, risk, 0.0),
        "upstream_exposure": upstream,
        "import_reliance": ix.net_import_reliance(production, imports, exports),
        "export_concentration": np.where(exports > 0, destination_hhi * export_share, 0.0),
    }


def weigh(
    factors: Mapping[str, np.ndarray], weights: Mapping[str, float], refining: np.ndarray
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    r"""Contributions :math:`x_j \tilde w_j` and the score :math:`\sum_j x_j \tilde w_j`.

    :math:`\tilde w_j = w_j a_j / \sum_k w_k a_k`, with :math:`a_j` whether
    factor :math:`j` applies: every factor everywhere but the upstream one,
    which applies where ``refining`` is true (a boolean array broadcast
    against the factors). ``weights`` has every factor of :data:`FACTORS`.
    """
    applies = {
        name: refining if name == "upstream_exposure" else np.ones_like(refining)
        for name in FACTORS
    }
    total = sum(weights[name] * applies[name].astype(float) for name in FACTORS)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = {name: weights[name] * applies[name] / total for name in FACTORS}
    contributions = {name: factors[name] * scale[name] for name in FACTORS}
    score = sum(contributions.values())
    assert isinstance(score, np.ndarray)
    return contributions, score


#: ``(atol, rtol)`` below which a fall of supply is rounding, not a loss: one gram,
#: or a billionth of the supply (the scenario engine's rounding rule, ``TINY``).
LOSS_TOLERANCE: tuple[float, float] = (1e-6, 1e-9)


def _fell(after: np.ndarray, before: np.ndarray) -> np.ndarray:
    """Cells whose supply fell by more than :data:`LOSS_TOLERANCE`."""
    atol, rtol = LOSS_TOLERANCE
    return after < before - np.maximum(atol, rtol * before)


#: Stages without production statistics of their own and the stage whose
#: concentration stands in for theirs: intermediates (hydroxide, matte) are made
#: next to the mines, components (magnets) from refined metal.
UPSTREAM_STAGE: dict[str, str] = {
    Stage.INTERMEDIATE.value: Stage.MINING.value,
    Stage.COMPONENT.value: Stage.REFINING.value,
}


def _stage_concentration(
    ds: Dataset, hhi: np.ndarray, prod: np.ndarray, imports: np.ndarray, notes: list[str]
) -> np.ndarray:
    """HHI per (mineral, stage, year), a stage without production taking its upstream stage's.

    Sources publish no production of intermediates or components; where a
    mineral has none at such a stage in a year, the concentration of the
    stage it is made from (:data:`UPSTREAM_STAGE`) is used, and a note names
    the minerals traded at that stage.
    """
    out = hhi.copy()
    world = prod.sum(axis=-1)  # (M,S,T)
    traded = imports.sum(axis=-1) > 0
    for stage, upstream in UPSTREAM_STAGE.items():
        if stage not in ds.stages or upstream not in ds.stages:
            continue
        s = int(ds.positions("stage", [stage])[0])
        u = int(ds.positions("stage", [upstream])[0])
        use = (world[:, s] == 0) & (world[:, u] > 0) & traded[:, s]
        if use.any():
            out[:, s] = np.where(use, hhi[:, u], hhi[:, s])
            names = sorted({str(ds.minerals[int(m)]) for m in np.flatnonzero(use.any(axis=-1))})
            notes.append(
                f"no {stage} production for {', '.join(names[:20])}"
                + (" ..." if len(names) > 20 else "")
                + f"; the concentration factor at that stage is the {upstream} stage's"
            )
    return out


#: Stages whose trade feeds refineries: ore and concentrate, and intermediates.
FEED_STAGES: tuple[str, ...] = (Stage.MINING.value, Stage.INTERMEDIATE.value)


def _upstream(
    ds: Dataset,
    pairs: Flows,
    f0: np.ndarray,
    prod: np.ndarray,
    prod0: np.ndarray,
    exports: np.ndarray,
    g: np.ndarray,
    notes: list[str],
) -> np.ndarray:
    r"""Upstream exposure ``[mineral, year, country]`` at the refining stage, from sparse flows.

    Each refiner's feed is its retained mine output plus its imports of ore,
    concentrate and intermediates by origin; the governance weight is averaged
    over the feed, then over each importer's refined suppliers, both with
    :func:`riskengine.indices.loss_weighted_mean` (``f0``, ``prod0``: the
    baseline of a shock; equal to the flows and production otherwise).
    ``exports`` are each country's exports before or after the shock,
    whichever is larger: a refiner whose feed is unknown is its own ore origin
    also once a shock has stopped its exports.
    """
    n_m, _, n_t, n_c = ds.shape
    mtc = (n_m, n_t, n_c)
    size = n_m * n_t * n_c
    s_mine = int(ds.positions("stage", [Stage.MINING.value])[0])
    s_ref = int(ds.positions("stage", [Stage.REFINING.value])[0])
    feed_pos = ds.positions("stage", [s for s in FEED_STAGES if s in ds.stages])
    is_feed = np.isin(pairs.stage, feed_pos)
    feed = pairs.take(is_feed)
    key_feed = feed.key(("mineral", "year", "importer"), mtc)
    key_out = feed.key(("mineral", "year", "exporter"), mtc)

    def retained(mine: np.ndarray, flows: np.ndarray) -> np.ndarray:
        return ix.retained_output(mine.ravel(), ix.segment_sum(key_out, flows, size))

    own = np.arange(size)
    g_own = np.broadcast_to(g[None], mtc).ravel()
    fed_w, fed = ix.loss_weighted_mean(
        np.concatenate([key_feed, own]),
        np.concatenate([g[feed.year, feed.exporter], g_own]),
        np.concatenate([f0[is_feed], retained(prod0[:, s_mine], f0[is_feed])]),
        np.concatenate([feed.content, retained(prod[:, s_mine], feed.content)]),
        size,
        *LOSS_TOLERANCE,
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        weighted = (fed_w / fed).reshape(mtc)
    fed = fed.reshape(mtc)
    refined_exports = exports[:, s_ref]
    unknown_feed = (fed == 0) & (refined_exports > 0)
    g_own = g_own.reshape(mtc)
    if unknown_feed.any():
        # a refiner whose feed is unknown (no mine output, no feed imports in the data)
        # is taken as its own ore origin
        weighted = np.where(unknown_feed, g_own, weighted)
        # per mineral: how many refiners, and the first few of them (of the first 20)
        per_mineral = unknown_feed.any(axis=1)  # (M, C)
        names = ds.countries.to_numpy()
        listed = np.flatnonzero(per_mineral.any(axis=1))
        who = [
            f"{ds.minerals[int(m)]} ({', '.join(names[np.flatnonzero(per_mineral[m])][:5])}"
            + (f" and {n - 5} more" if (n := int(per_mineral[m].sum())) > 5 else "")
            + ")"
            for m in listed[:20]
        ]
        notes.append(
            "refiners with no known ore feed are taken as their own ore origin: "
            + "; ".join(who)
            + (f"; ... ({len(listed)} minerals)" if len(listed) > 20 else "")
        )
    is_ref = pairs.stage == s_ref
    refined = pairs.take(is_ref)
    key_ref = refined.key(("mineral", "year", "importer"), mtc)
    # an ore origin without a PV score (NaN g, policy "nan") makes the factor NaN for
    # the importers whose refined imports embody its ore; a zero share adds 0
    numerator, total = ix.loss_weighted_mean(
        np.concatenate([key_ref, own]),
        np.concatenate([weighted[refined.mineral, refined.year, refined.exporter], np.zeros(size)]),
        np.concatenate([f0[is_ref], prod0[:, s_ref].ravel()]),
        np.concatenate([refined.content, prod[:, s_ref].ravel()]),
        size,
        *LOSS_TOLERANCE,
    )
    imported = ix.segment_sum(key_ref, np.maximum(refined.content, f0[is_ref]), size)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(imported.reshape(mtc) > 0, (numerator / total).reshape(mtc), 0.0)


def _baseline_for(
    ds: Dataset,
    baseline: Dataset,
    minerals: Sequence[str] | str | None,
    years: Sequence[int] | int | None,
) -> Dataset:
    """Select the baseline of a shocked dataset as ``ds`` was selected (same coordinates)."""
    if not isinstance(baseline, Dataset):
        from riskengine.errors import bad_argument

        raise bad_argument(
            "composite", "baseline", "a Dataset", baseline, "pass the dataset that was shocked"
        )
    before = resolve_params(baseline, minerals, None, years)
    for dim in ("minerals", "stages", "years", "countries"):
        if not getattr(before, dim).equals(getattr(ds, dim)):
            raise RiskEngineError(
                f"the baseline dataset has other {dim} than the shocked one; pass the dataset "
                "the shock was applied to (riskengine.apply_scenario keeps its coordinates)"
            )
    return before


def _joined_pairs(ds: Dataset, baseline: Dataset | None) -> tuple[Flows, np.ndarray]:
    """Join the pairs of ``ds`` and of its baseline on one index: (pairs, baseline tonnes).

    A pair present on one side only has 0 tonnes on the other. Without a
    baseline the pairs are ``ds.pairs`` and the baseline tonnes their own.
    """
    pairs = ds.pairs
    if baseline is None:
        return pairs, pairs.content
    old = baseline.pairs
    new_keys, old_keys = ds.pair_key(), baseline.pair_key()
    n = len(old_keys)
    # a shock that only lowers or removes flows keeps to the baseline's pairs: each
    # shocked pair is looked up there (both sides sorted and unique, as Dataset.pairs)
    at = np.searchsorted(old_keys, new_keys)
    if (
        n
        and (at < n).all()
        and (old_keys[np.minimum(at, n - 1)] == new_keys).all()
        and bool(np.all(old_keys[1:] > old_keys[:-1]))
        and bool(np.all(new_keys[1:] > new_keys[:-1]))
    ):
        shocked = np.zeros(n)
        shocked[at] = pairs.content
        return old.with_content(shocked), old.content
    keys = np.concatenate([new_keys, old_keys])
    # both sides are sorted by the key (Dataset.pairs), so a stable sort only merges two
    # runs; the union and each pair's place in it are then those of np.unique
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    first = np.ones(len(keys), dtype=bool)
    np.not_equal(ordered[1:], ordered[:-1], out=first[1:])
    union = ordered[first]
    inverse = np.empty(len(keys), dtype=np.intp)
    inverse[order] = np.cumsum(first) - 1
    after = np.bincount(inverse[: len(pairs)], weights=pairs.content, minlength=len(union))
    before = np.bincount(inverse[len(pairs) :], weights=old.content, minlength=len(union))
    m, s, t, c = ds.shape
    dims = ("mineral", "stage", "year", "exporter", "importer")
    coords = np.unravel_index(union, (m, s, t, c, c))
    joined = Flows.build(**dict(zip(dims, coords, strict=True)), content=after)
    return joined, before
