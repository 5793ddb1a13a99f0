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
from riskengine.dataset import Dataset, label_frame
from riskengine.dims import Stage
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
    region_matrix,
    require_trade,
    resolve_params,
    trade_notes,
)

#: Characterisation-factor reference of geopolrisk-py: copper's score x price.
COPPER_REFERENCE = 0.409412948


def geopolrisk(
    dataset: Dataset,
    *,
    minerals: Sequence[str] | str | None = None,
    stages: Sequence[str] | str | None = None,
    years: Sequence[int] | int | None = None,
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
    importer none of whose flows has a value has no price (NaN). Quantities
    are contained content, so the price is per kilogram of contained mineral;
    on trade rows that name no product (geopolrisk-py's own BACI inputs) the
    quantity is the recorded one and the results are geopolrisk-py's. Every
    sum runs over the sparse flows (segment sums keyed by the importer cell).

    References
    ----------
    Gemechu, E. D., Helbig, C., Sonnemann, G., Thorenz, A., & Tuma, A. (2016).
    Import-based indicator for the geopolitical supply risk of raw materials in
    life cycle sustainability assessments. Journal of Industrial Ecology, 20(1),
    154-165. doi:10.1111/jiec.12279.
    Koyamparambath, A., et al. geopolrisk-py (characterisation factors).
    """
    check_method_args("geopolrisk", dataset, minerals, stages, missing_governance)
    full = dataset
    ds = resolve_params(dataset, minerals, stages, years)
    require_trade(ds, "geopolrisk")
    notes: list[str] = []
    hpos = full.positions("stage", [hhi_stage])[0]
    m_full = full.minerals.get_indexer(ds.minerals)
    t_full = full.years.get_indexer(ds.years)
    rows = full.production[m_full][..., t_full, :]
    if full.production_missing[m_full][:, hpos][..., t_full, :].any():
        notes.append(
            f"{hhi_stage} production figure(s) missing in the source are left out of HHI_A"
        )
    mine = rows[:, hpos : hpos + 1]
    # minerals with no production at all at hhi_stage (gallium: USGS reports only
    # primary, i.e. refined, output) take HHI_A from the first other stage with output
    no_output = ~(mine > 0).any(axis=(1, 2, 3))
    fallback_used: dict[str, list[str]] = {}
    for m in np.flatnonzero(no_output):
        for s_alt in range(len(full.stages)):
            if s_alt != hpos and (rows[m, s_alt] > 0).any():
                mine[m, 0] = rows[m, s_alt]
                fallback_used.setdefault(str(full.stages[s_alt]), []).append(
                    str(ds.minerals[int(m)])
                )
                break
    for alt, names in fallback_used.items():
        notes.append(
            f"no {hhi_stage} production for {', '.join(names)}; HHI_A uses their {alt} "
            f"production instead"
        )
    # the "other countries" residual counts in the total, not in the sum of squares
    hhi_a = ix.weighted_hhi(mine, atomistic_weights(full))[:, 0]  # (M, T)

    prod = production_notes(ds, notes)
    trade_notes(ds, notes)
    n_m, n_s, n_t, _n_c = ds.shape
    pairs = ds.pairs
    f = pairs.content
    key_i, size = cell_keys(ds, "importer")
    key_e, _ = cell_keys(ds, "exporter")

    gov, used = governance_by_year(ds)
    g = ix.geopolrisk_weight(gov[1])  # (T, C): WGI_INDICATORS[1] == "PV"
    exports = ix.segment_sum(key_e, f, size).reshape(ds.shape)
    exporting = np.asarray((exports > 0).any(axis=(0, 1)))
    g = handle_missing(
        g, exporting, ds.countries, "WGI political stability (PV)", missing_governance, notes
    )
    g_exporter = exporter_weights(g, pairs)

    # countries: one segment sum per quantity over the flows into each importer cell
    import_risk = ix.sparse_import_risk(key_i, g_exporter, f, prod.ravel()).reshape(ds.shape)
    qty = ix.segment_sum(key_i, f, size).reshape(ds.shape)
    priced_qty = ix.segment_sum(key_i, pairs.priced, size).reshape(ds.shape)
    value = ix.segment_sum(key_i, pairs.priced_value, size).reshape(ds.shape)
    if np.any(pairs.has_quantity & ~pairs.has_value):
        # flows with a quantity but no value (e.g. derived from USGS import shares):
        # the unit value comes from the flows that have both
        notes.append(
            f"{int((pairs.has_quantity & ~pairs.has_value).sum())} trade flow(s) have a "
            f"quantity but no value; prices use the flows that have both"
        )
    # regions: the flows into members, with imports from members at g = 0 (still in
    # the denominator), summed per (mineral, stage, year)
    region_names, R = region_matrix(ds, regions)
    n_r = len(region_names)
    key_msy = pairs.key(("mineral", "stage", "year"), (n_m, n_s, n_t))
    region_risk = np.zeros((n_m, n_s, n_t, n_r))
    region_qty = np.zeros_like(region_risk)
    region_priced = np.zeros_like(region_risk)
    region_value = np.zeros_like(region_risk)
    region_prod = prod @ R  # (M,S,T,R)
    for r in range(n_r):
        member = R[:, r] > 0
        into = member[pairs.importer]
        k = key_msy[into]
        weight = np.where(member[pairs.exporter[into]], 0.0, g_exporter[into])
        region_risk[..., r] = ix.sparse_import_risk(
            k, weight, f[into], region_prod[..., r].ravel()
        ).reshape(n_m, n_s, n_t)
        region_qty[..., r] = ix.segment_sum(k, f[into], n_m * n_s * n_t).reshape(n_m, n_s, n_t)
        region_priced[..., r] = ix.segment_sum(k, pairs.priced[into], n_m * n_s * n_t).reshape(
            n_m, n_s, n_t
        )
        region_value[..., r] = ix.segment_sum(k, pairs.priced_value[into], n_m * n_s * n_t).reshape(
            n_m, n_s, n_t
        )

    # totals of every importer and of each region's members (intra-region flows are in
    # both members' imports and exports, so they cancel in the net of the reliance)
    exports_all = np.concatenate([exports, exports @ R], axis=-1)
    import_risk = np.concatenate([import_risk, region_risk], axis=-1)  # (M,S,T,C+R)
    qty = np.concatenate([qty, region_qty], axis=-1)
    priced_qty = np.concatenate([priced_qty, region_priced], axis=-1)
    value = np.concatenate([value, region_value], axis=-1)
    p_all = np.concatenate([prod, region_prod], axis=-1)
    reliance = ix.net_import_reliance(p_all, qty, exports_all)
    score = hhi_a[:, None, :, None] * import_risk
    with np.errstate(divide="ignore", invalid="ignore"):
        price = value / priced_qty / 1000.0  # USD per kg of contained content
    cf = score * price / COPPER_REFERENCE

    importers = pd.Index(list(ds.countries) + region_names)
    cells = np.nonzero(qty > 0)
    frame = label_frame(
        {
            "mineral": (ds.minerals, cells[0]),
            "stage": (ds.stages, cells[1]),
            "year": (ds.years, cells[2]),
            "country": (importers, cells[3]),
        },
        {
            "hhi": hhi_a[cells[0], cells[2]],
            "import_risk": import_risk[cells],
            "score": score[cells],
            "price_usd_per_kg": price[cells],
            "cf": cf[cells],
            "imports_t": qty[cells],
            "exports_t": exports_all[cells],
            "production_t": p_all[cells],
            "import_reliance": reliance[cells],
            "basis": mineral_basis(ds)[cells[0]],
        },
    )
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
