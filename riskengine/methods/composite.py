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
from riskengine.dataset import Dataset
from riskengine.dims import Stage
from riskengine.errors import RiskEngineError
from riskengine.methods.base import (
    MissingGovernance,
    ScoreResult,
    atomistic_weights,
    clean_quantities,
    concentration_table,
    governance_by_year,
    handle_missing,
    require_trade,
    resolve_params,
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
    minerals: Sequence[str] | None = None,
    stages: Sequence[str] | None = None,
    years: Sequence[int] | None = None,
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
    source it (:func:`riskengine.indices.refinery_feed_mix`). A refiner whose
    feed is unknown (no mine output and no ore imports in the data) is taken
    as its own origin, with a note. At the mining stage the upstream factor
    does not apply and its weight is spread over the others. A country that
    imports nothing has import and upstream exposure 0 (not 0/0 where the
    data list no production for it).
    """
    w = _check_weights(weights or {})
    ds = resolve_params(dataset, minerals, None, years)
    flows_all, _ = require_trade(ds, "riskengine")
    notes: list[str] = []
    prod = clean_quantities(ds.production, "production", notes)
    flows = clean_quantities(flows_all, "trade quantity", notes)
    atom = atomistic_weights(ds)

    gov, used = governance_by_year(ds)
    g = ix.geopolrisk_weight(gov[1])  # (T, C)
    trading = (flows.sum(axis=-1) > 0).any(axis=(0, 1)) | (prod > 0).any(axis=(0, 1))
    g = handle_missing(
        g, trading & (atom > 0), ds.countries, "WGI political stability (PV)",
        missing_governance, notes,
    )  # fmt: skip

    concentration = ix.weighted_hhi(prod, atom)  # (M,S,T)
    imports, exports = ix.imports_exports(flows)  # (M,S,T,C)
    supply = prod + imports
    # a country that imports nothing has no import exposure, also when the data list
    # no production for it (an exporter hidden in the source's residual row): 0, not 0/0
    import_exposure = np.where(
        imports > 0, ix.geopolrisk_import_risk(flows, g[None, None, :, :, None], prod), 0.0
    )
    reliance = ix.import_reliance(prod, flows)
    with np.errstate(divide="ignore", invalid="ignore"):
        export_share = np.minimum(exports / supply, 1.0)
    dest = ix.destination_hhi(flows)
    export_conc = np.where(exports > 0, dest * export_share, 0.0)

    upstream = np.zeros_like(import_exposure)
    s_mine = ds.stages.get_loc(Stage.MINING.value)
    s_ref = ds.stages.get_loc(Stage.REFINING.value)
    feed = ix.refinery_feed_mix(prod[:, s_mine], flows[:, s_mine])  # (M,T,E,K)
    unknown_feed = np.isnan(feed).any(axis=-1) & (flows[:, s_ref].sum(axis=-1) > 0)
    if unknown_feed.any():
        eye = np.broadcast_to(np.eye(len(ds.countries)), feed.shape)
        feed = np.where(np.isnan(feed), eye, feed)
        who = sorted(
            {f"{ds.minerals[m]}/{ds.countries[e]}" for m, _, e in np.argwhere(unknown_feed)}
        )
        notes.append(
            f"refiners with no known ore feed are taken as their own ore origin: "
            f"{', '.join(who[:20])}" + (" ..." if len(who) > 20 else "")
        )
    # an ore origin without a PV score (NaN g, policy "nan") makes the factor NaN for
    # the importers whose refined imports embody its ore; a zero share adds 0
    weighted_origin = ix.weighted_upstream_exposure(flows[:, s_ref], feed, g[None])  # (M,T,C)
    with np.errstate(invalid="ignore"):
        has_imports = imports[:, s_ref] > 0
        upstream[:, s_ref] = np.where(
            has_imports, weighted_origin * imports[:, s_ref] / supply[:, s_ref], 0.0
        )

    factors = {
        "concentration": np.broadcast_to(concentration[..., None], import_exposure.shape),
        "import_exposure": import_exposure,
        "upstream_exposure": upstream,
        "import_reliance": reliance,
        "export_concentration": export_conc,
    }
    applicable = {name: np.ones(len(ds.stages), dtype=bool) for name in FACTORS}
    applicable["upstream_exposure"] = np.asarray(ds.stages == Stage.REFINING.value)
    total_w = sum(w[name] * applicable[name].astype(float) for name in FACTORS)
    contributions = {
        name: factors[name] * (w[name] * applicable[name] / total_w)[None, :, None, None]
        for name in FACTORS
    }
    score = sum(contributions.values())
    assert isinstance(score, np.ndarray)

    idx = pd.MultiIndex.from_product(
        [ds.minerals, ds.stages, ds.years, ds.countries],
        names=["mineral", "stage", "year", "country"],
    )
    columns: dict[str, np.ndarray] = {
        "hhi": factors["concentration"].ravel(),
        "score": score.ravel(),
    }
    for name in FACTORS:
        columns[name] = factors[name].ravel()
    for name in FACTORS:
        columns[f"contrib_{name}"] = contributions[name].ravel()
    columns["destination_hhi"] = dest.ravel()
    columns["imports_t"] = imports.ravel()
    columns["exports_t"] = exports.ravel()
    columns["production_t"] = prod.ravel()
    frame = pd.DataFrame(columns, index=idx).reset_index()
    active = (frame["imports_t"] > 0) | (frame["exports_t"] > 0)
    frame = frame[active & (frame["country"] != "XOT")]
    if stages is not None:
        ds.positions("stage", stages)
        frame = frame[frame["stage"].isin(list(stages))]
    return ScoreResult(
        method="riskengine",
        scores=frame.reset_index(drop=True),
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
