"""GeoPolRisk: geopolitical supply risk of importers (Gemechu et al. 2016).

The method multiplies global production concentration by an importer's
governance-weighted import dependence, and turns the result into a
characterisation factor for life-cycle assessment.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from riskengine import indices as ix
from riskengine.dataset import Dataset
from riskengine.dims import Stage
from riskengine.methods.base import (
    MissingGovernance,
    ScoreResult,
    atomistic_weights,
    clean_quantities,
    concentration_table,
    governance_by_year,
    handle_missing,
    region_matrix,
    require_trade,
    resolve_params,
)

#: Characterisation-factor reference of geopolrisk-py: copper's score x price.
COPPER_REFERENCE = 0.409412948


def geopolrisk(
    dataset: Dataset,
    *,
    minerals: Sequence[str] | None = None,
    stages: Sequence[str] | None = None,
    years: Sequence[int] | None = None,
    regions: Mapping[str, Sequence[str]] | Sequence[str] | None = ("EU27",),
    hhi_stage: str = Stage.MINING.value,
    missing_governance: MissingGovernance = "nan",
) -> ScoreResult:
    r"""Score every importer with the GeoPolRisk method.

    Parameters
    ----------
    dataset
        Dataset with production, trade and governance (WGI ``PV``).
    minerals, stages, years
        Restrict the computation (None = all). ``stages`` selects the traded
        stage whose imports are weighted.
    regions
        Regions scored as one importer (built-in names such as ``"EU27"``, or a
        mapping of a new name to ISO3 members). Imports from members get
        ``g = 0`` but stay in the denominator.
    hhi_stage
        Stage whose global production gives ``HHI_A`` (mining, as published). A
        mineral with no production at that stage (gallium, whose USGS series is
        primary refined output) uses the other stage, and a note says so.
    missing_governance
        What to do with exporters that have flows but no PV score: ``"nan"``
        (default; affected scores are NaN, with a warning), ``"raise"``, or a
        number to assume (geopolrisk-py uses 0.5 without saying so).

    Returns
    -------
    ScoreResult
        Rows per (mineral, stage, year, country) with ``hhi``, ``import_risk``,
        ``score``, ``price_usd_per_kg`` and ``cf``.

    Notes
    -----
    .. math::

        HHI_A &= \sum_k P_k^2 / (\sum_k P_k)^2 \\
        g_e &= \mathrm{clip}((2.5 - PV_e)/5, 0, 1) \\
        ImportRisk_{Ac} &= \frac{\sum_e g_e f_{Ace}}{p_{Ac} + \sum_e f_{Ace}} \\
        Score_{Ac} &= HHI_A \cdot ImportRisk_{Ac} \\
        Price_{Ac} &= \sum_e v_{Ace} / \sum_e f_{Ace}\ \text{(USD/kg)} \\
        CF_{Ac} &= Score_{Ac} \cdot Price_{Ac} / 0.409412948

    A source's residual "other countries" row (``XOT``) counts in the total
    production but not in the sum of squares of ``HHI_A`` (it is many small
    producers, not one), as in :func:`~riskengine.methods.base.concentration_table`.
    Flows whose quantity the source does not give are left out of both the
    numerator and the denominator, with a note. The price uses only flows with
    both a value and a quantity (a note says when some have no value); an
    importer none of whose flows has a value has no price (NaN).

    References
    ----------
    Gemechu, E. D., Helbig, C., Sonnemann, G., Thorenz, A., & Tuma, A. (2016).
    Import-based indicator for the geopolitical supply risk of raw materials in
    life cycle sustainability assessments. Journal of Industrial Ecology, 20(1),
    154-165. doi:10.1111/jiec.12279.
    Koyamparambath, A., et al. geopolrisk-py (characterisation factors).
    """
    full = dataset
    ds = resolve_params(dataset, minerals, stages, years)
    flows_all, values_all = require_trade(ds, "geopolrisk")
    notes: list[str] = []
    hpos = full.positions("stage", [hhi_stage])[0]
    rows = full.production[full.minerals.get_indexer(ds.minerals)][
        ..., full.years.get_indexer(ds.years), :
    ]
    mine = clean_quantities(rows[:, hpos : hpos + 1], f"{hhi_stage} production", notes)
    # minerals with no production at all at hhi_stage (gallium: USGS reports only
    # primary, i.e. refined, output) take HHI_A from the other stage, with a note
    alt = next(s for s in range(len(full.stages)) if s != hpos)
    alt_rows = np.nan_to_num(rows[:, alt : alt + 1])
    fallback = ~(mine > 0).any(axis=(1, 2, 3)) & (alt_rows > 0).any(axis=(1, 2, 3))
    if fallback.any():
        mine = np.where(fallback[:, None, None, None], alt_rows, mine)
        notes.append(
            f"no {hhi_stage} production for {', '.join(ds.minerals[fallback])}; "
            f"HHI_A uses their {full.stages[alt]} production instead"
        )
    # the "other countries" residual counts in the total, not in the sum of squares
    hhi_a = ix.weighted_hhi(mine, atomistic_weights(full))  # (M, 1, T)

    prod = clean_quantities(ds.production, "production", notes)
    unknown = np.isnan(flows_all)
    n_unknown = int(unknown.sum())
    if n_unknown:
        notes.append(
            f"{n_unknown} trade flow(s) without a quantity are left out of import risk and price"
        )
        flows = np.where(unknown, 0.0, flows_all)
        values = np.where(unknown, 0.0, values_all)
    else:
        flows, values = flows_all, values_all
    del unknown

    gov, used = governance_by_year(ds)
    pv = gov[1]  # (T, C): WGI_INDICATORS[1] == "PV"
    g = ix.geopolrisk_weight(pv)
    exporting = (flows.sum(axis=-1) > 0).any(axis=(0, 1))  # (T, E)
    g = handle_missing(
        g, exporting, ds.countries, "WGI political stability (PV)", missing_governance, notes
    )

    # countries: the kernel on the full tensor, weights broadcast (no copy)
    import_risk_c = ix.geopolrisk_import_risk(flows, g[None, None, :, :, None], prod)
    qty_c = flows.sum(axis=-2)
    value_c = values.sum(axis=-2)
    # regions: flows aggregated over members first, then the same kernel on the small
    # (exporter x region) tensor; imports from members weigh 0 but stay in the denominator
    region_names, R = region_matrix(ds, regions)
    flows_r = flows @ R  # (M,S,T,E,R)
    weight_r = g[:, :, None] * (1.0 - R)[None, :, :]  # (T,E,R)
    import_risk_r = ix.geopolrisk_import_risk(flows_r, weight_r[None, None], prod @ R)
    import_risk = np.concatenate([import_risk_c, import_risk_r], axis=-1)  # (M,S,T,I+R)
    qty = np.concatenate([qty_c, flows_r.sum(axis=-2)], axis=-1)
    value = np.concatenate([value_c, (values @ R).sum(axis=-2)], axis=-1)
    p_all = np.concatenate([prod, prod @ R], axis=-1)

    score = hhi_a[..., None] * import_risk
    priced_qty = qty
    if np.isnan(value).any():
        # flows with a quantity but no value (e.g. derived from USGS import shares):
        # the unit value comes from the flows that have both
        no_value = np.isnan(values)
        notes.append(
            f"{int(no_value.sum())} trade flow(s) have a quantity but no value; "
            f"prices use the flows that have both"
        )
        q_valued = np.where(no_value, 0.0, flows)
        v_known = np.where(no_value, 0.0, values)
        priced_qty = np.concatenate([q_valued.sum(axis=-2), (q_valued @ R).sum(axis=-2)], axis=-1)
        value = np.concatenate([v_known.sum(axis=-2), (v_known @ R).sum(axis=-2)], axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        price = value / priced_qty / 1000.0  # USD per kg
    cf = score * price / COPPER_REFERENCE

    importers = list(ds.countries) + region_names
    idx = pd.MultiIndex.from_product(
        [ds.minerals, ds.stages, ds.years, importers], names=["mineral", "stage", "year", "country"]
    )
    frame = pd.DataFrame(
        {
            "hhi": np.broadcast_to(hhi_a[..., None], score.shape).ravel(),
            "import_risk": import_risk.ravel(),
            "score": score.ravel(),
            "price_usd_per_kg": price.ravel(),
            "cf": cf.ravel(),
            "imports_t": qty.ravel(),
            "own_production_t": p_all.ravel(),
        },
        index=idx,
    ).reset_index()
    frame = frame[frame["imports_t"] > 0].reset_index(drop=True)
    return ScoreResult(
        method="geopolrisk",
        scores=frame,
        concentration=concentration_table(ds, prod),
        params={
            "hhi_stage": hhi_stage,
            "regions": region_names,
            "missing_governance": missing_governance,
            "governance_year": used,
            "cf_reference": COPPER_REFERENCE,
        },
        dataset=ds.name,
        notes=tuple(notes),
    )
