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

from riskengine import indices as ix
from riskengine.dataset import Dataset, label_frame
from riskengine.dims import OTHER_COUNTRIES, Stage
from riskengine.errors import RiskEngineError
from riskengine.methods.base import (
    MissingGovernance,
    ScoreResult,
    atomistic_weights,
    cell_keys,
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
    pairs = ds.pairs
    f = pairs.content
    key_i, size = cell_keys(ds, "importer")
    key_e, _ = cell_keys(ds, "exporter")
    imports = ix.segment_sum(key_i, f, size).reshape(ds.shape)
    exports = ix.segment_sum(key_e, f, size).reshape(ds.shape)

    gov, used = governance_by_year(ds)
    g = ix.geopolrisk_weight(gov[1])  # (T, C)
    trading = ((exports > 0) | (prod > 0)).any(axis=(0, 1))
    g = handle_missing(
        g, trading & (atom > 0), ds.countries, "WGI political stability (PV)",
        missing_governance, notes,
    )  # fmt: skip

    concentration = _stage_concentration(ds, ix.weighted_hhi(prod, atom), prod, imports, notes)
    supply = prod + imports
    # a country that imports nothing has no import exposure, also when the data list
    # no production for it (an exporter hidden in the source's residual row): 0, not 0/0
    g_exporter = exporter_weights(g, pairs)
    risk = ix.sparse_import_risk(key_i, g_exporter, f, prod.ravel()).reshape(ds.shape)
    import_exposure = np.where(imports > 0, risk, 0.0)
    reliance = ix.net_import_reliance(prod, imports, exports)
    with np.errstate(divide="ignore", invalid="ignore"):
        export_share = np.minimum(exports / supply, 1.0)
    dest = ix.segment_hhi(key_e, f, size).reshape(ds.shape)
    export_conc = np.where(exports > 0, dest * export_share, 0.0)

    upstream = np.zeros_like(import_exposure)
    if Stage.REFINING.value in ds.stages and Stage.MINING.value in ds.stages:
        upstream[:, ds.stages.get_loc(Stage.REFINING.value)] = _upstream(
            ds, prod, imports, exports, supply, g, notes
        )

    factors = {
        "concentration": np.broadcast_to(concentration[..., None], import_exposure.shape),
        "import_exposure": import_exposure,
        "upstream_exposure": upstream,
        "import_reliance": reliance,
        "export_concentration": export_conc,
    }
    applicable = {name: np.ones(n_s, dtype=bool) for name in FACTORS}
    applicable["upstream_exposure"] = np.asarray(ds.stages == Stage.REFINING.value)
    total_w = sum(w[name] * applicable[name].astype(float) for name in FACTORS)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = {name: w[name] * applicable[name] / total_w for name in FACTORS}
    contributions = {name: factors[name] * scale[name][None, :, None, None] for name in FACTORS}
    score = sum(contributions.values())
    assert isinstance(score, np.ndarray)

    active = (imports > 0) | (exports > 0)
    if OTHER_COUNTRIES in ds.countries:
        active[..., ds.countries.get_loc(OTHER_COUNTRIES)] = False
    if stages is not None:
        keep = ds.positions("stage", [stages] if isinstance(stages, str) else stages)
        mask = np.zeros(n_s, dtype=bool)
        mask[keep] = True
        active &= mask[None, :, None, None]
    cells = np.nonzero(active)
    columns: dict[str, np.ndarray] = {
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
    prod: np.ndarray,
    imports: np.ndarray,
    exports: np.ndarray,
    supply: np.ndarray,
    g: np.ndarray,
    notes: list[str],
) -> np.ndarray:
    r"""Upstream exposure ``[mineral, year, country]`` at the refining stage, from sparse flows.

    Each refiner's feed is its retained mine output plus its imports of ore,
    concentrate and intermediates by origin; the governance weight is averaged
    over the feed (:func:`riskengine.indices.feed_origin_weight`), then over
    each importer's refined suppliers.
    """
    n_m, _, n_t, n_c = ds.shape
    pairs = ds.pairs
    s_mine = int(ds.positions("stage", [Stage.MINING.value])[0])
    s_ref = int(ds.positions("stage", [Stage.REFINING.value])[0])
    feed_pos = ds.positions("stage", [s for s in FEED_STAGES if s in ds.stages])
    feed_exports = exports[:, feed_pos].sum(axis=1)  # (M,T,C)
    retained = np.maximum(prod[:, s_mine] - feed_exports, 0.0)
    is_feed = np.isin(pairs.stage, feed_pos)
    feed = pairs.take(is_feed)
    mtc = (n_m, n_t, n_c)
    key_feed = feed.key(("mineral", "year", "importer"), mtc)
    g_own = np.broadcast_to(g[None], mtc)
    weighted, fed = ix.feed_origin_weight(
        retained.ravel(), g_own.ravel(), key_feed, g[feed.year, feed.exporter], feed.content
    )
    weighted = weighted.reshape(mtc)
    fed = fed.reshape(mtc)
    refined_exports = exports[:, s_ref]
    unknown_feed = (fed == 0) & (refined_exports > 0)
    if unknown_feed.any():
        # a refiner whose feed is unknown (no mine output, no feed imports in the data)
        # is taken as its own ore origin
        weighted = np.where(unknown_feed, g_own, weighted)
        # per mineral: how many refiners, and the first few of them
        per_mineral = unknown_feed.any(axis=1)  # (M, C)
        names = ds.countries.to_numpy()
        who = [
            f"{ds.minerals[int(m)]} ({', '.join(names[np.flatnonzero(per_mineral[m])][:5])}"
            + (f" and {n - 5} more" if (n := int(per_mineral[m].sum())) > 5 else "")
            + ")"
            for m in np.flatnonzero(per_mineral.any(axis=1))
        ]
        notes.append(
            "refiners with no known ore feed are taken as their own ore origin: "
            + "; ".join(who[:20])
            + (f"; ... ({len(who)} minerals)" if len(who) > 20 else "")
        )
    refined = pairs.take(pairs.stage == s_ref)
    key_ref = refined.key(("mineral", "year", "importer"), mtc)
    # an ore origin without a PV score (NaN g, policy "nan") makes the factor NaN for
    # the importers whose refined imports embody its ore; a zero share adds 0
    numerator, total = ix.segment_weighted_mean(
        key_ref,
        weighted[refined.mineral, refined.year, refined.exporter],
        refined.content,
        n_m * n_t * n_c,
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        origin = (numerator / total).reshape(mtc)
        has_imports = imports[:, s_ref] > 0
        return np.where(has_imports, origin * imports[:, s_ref] / supply[:, s_ref], 0.0)
