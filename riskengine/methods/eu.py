"""EU critical raw materials supply risk (European Commission 2017 guidelines)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from riskengine import indices as ix
from riskengine.dataset import Dataset
from riskengine.errors import RiskEngineError, UnknownLabelError
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

ExportRestrictions = Mapping[str, float | Mapping[str, float]]


def _restriction_factors(
    ds: Dataset, restrictions: ExportRestrictions | None, known: pd.Index
) -> np.ndarray:
    """``t[mineral, country]``: 1 by default, the given factor where set.

    Minerals are checked against ``known`` (the whole dataset's), so a typo is an
    error while a mineral left out of the current selection is simply not used.
    """
    t = np.ones((len(ds.minerals), len(ds.countries)))
    for country, spec in (restrictions or {}).items():
        c = ds.positions("country", [country])[0]
        if isinstance(spec, Mapping):
            unknown = [m for m in spec if m not in known]
            if unknown:
                raise UnknownLabelError("mineral", unknown, known)
            for mineral, factor in spec.items():
                if mineral in ds.minerals:
                    t[ds.minerals.get_loc(mineral), c] = float(factor)
        else:
            t[:, c] = float(spec)
    return t


def eu_supply_risk(
    dataset: Dataset,
    *,
    minerals: Sequence[str] | None = None,
    stages: Sequence[str] | None = None,
    years: Sequence[int] | None = None,
    regions: Mapping[str, Sequence[str]] | Sequence[str] | None = ("EU27",),
    export_restrictions: ExportRestrictions | None = None,
    missing_governance: MissingGovernance = "nan",
) -> ScoreResult:
    r"""EU supply risk (SR) of a region or country, per mineral and stage.

    Parameters
    ----------
    dataset
        Dataset with production, trade, governance (all six WGI estimates) and,
        where known, ``eol_rir`` and ``substitution_index`` in ``minerals.csv``.
    minerals, stages, years
        Restrict the computation (None = all).
    regions
        Whose sourcing is assessed: built-in region names (``"EU27"``), a
        mapping of new names to ISO3 members, or single ISO3 codes given as a
        mapping ``{"JPN": ["JPN"]}``.
    export_restrictions
        Trade-adjustment factors ``t_c``: ``{"IDN": {"nickel": 1.3}}`` or
        ``{"CHN": 1.2}`` (all minerals). Default 1; the guidelines use 1.1-1.5
        for exporters with export restrictions and 0.8 for partners whose trade
        agreement disciplines them.
    missing_governance
        ``"nan"`` (default), ``"raise"`` or a number, for producers or suppliers
        without WGI estimates (see :func:`riskengine.methods.base.handle_missing`).

    Returns
    -------
    ScoreResult
        Rows per (mineral, stage, year, region) with ``score`` (= SR),
        ``hhi_wgi_global``, ``hhi_wgi_sourcing``, ``import_reliance``, the
        ``eol_rir`` and ``substitution_index`` used, and the contributions
        ``global_supply`` + ``sourcing`` that add up to SR.

    Notes
    -----
    .. math::

        WGI_{10,c} &= 2\,(2.5 - \overline{WGI}_c) \\
        HHI_{WGI,t} &= \sum_c S_c^2\, WGI_{10,c}\, t_c \\
        IR &= \frac{M - X}{P + M - X}\ \text{(extra-region trade)} \\
        SR &= \left[HHI^{GS}_{WGI,t}\,\frac{IR}{2}
               + HHI^{EU}_{WGI,t}\left(1 - \frac{IR}{2}\right)\right]
               (1 - EoL_{RIR})\, SI_{SR}

    ``GS`` is global supply (production shares) and ``EU`` the region's actual
    sourcing (members' own production plus imports by origin from outside).
    The EU reports the larger SR of the extraction and processing stages; see
    :meth:`ScoreResult.top` or group by mineral. Where ``eol_rir`` or
    ``substitution_index`` is unknown the term is left out (factor 1) and a
    note says so. The residual "other countries" row counts in the totals
    but not in the sum of squares (it is many small producers).

    References
    ----------
    European Commission (2017). Methodology for establishing the EU list of
    critical raw materials: guidelines. doi:10.2873/769526.
    """
    ds = resolve_params(dataset, minerals, stages, years)
    flows_all, _ = require_trade(ds, "eu")
    notes: list[str] = []
    prod = clean_quantities(ds.production, "production", notes)
    flows = clean_quantities(flows_all, "trade quantity", notes)

    gov, used = governance_by_year(ds)
    mean_wgi = gov.mean(axis=0)  # NaN unless all six estimates are known
    w10 = ix.wgi10(mean_wgi)  # (T, C)
    t_factor = _restriction_factors(ds, export_restrictions, dataset.minerals)  # (M, C)
    atom = atomistic_weights(ds)

    region_names, R = region_matrix(ds, regions)
    if not region_names:
        raise RiskEngineError(
            "the eu method needs at least one region or country to assess; pass "
            "regions=['EU27'] or a mapping such as {'JPN': ['JPN']}"
        )
    outside = 1.0 - R  # (C, R)
    # extra-region imports by origin and exports
    imports_by_origin = np.einsum("mstei,ir,er->mster", flows, R, outside)
    imports = imports_by_origin.sum(axis=-2)  # (M,S,T,R)
    exports = np.einsum("mstei,er,ir->mstr", flows, R, outside)
    own = prod @ R  # (M,S,T,R)
    net = imports - exports
    with np.errstate(divide="ignore", invalid="ignore"):
        ir = np.clip(np.where(net < 0, 0.0, net / (own + net)), 0.0, 1.0)

    producing = (prod > 0).any(axis=(0, 1))  # (T, C)
    sourcing = np.einsum("mstc,cr->mstcr", prod, R) + imports_by_origin  # (M,S,T,C,R)
    supplying = (sourcing > 0).any(axis=(0, 1, 4))
    w10 = handle_missing(
        w10,
        (producing | supplying) & (atom > 0),
        ds.countries,
        "WGI estimates (all six)",
        missing_governance,
        notes,
    )
    # the residual has no governance score (NaN) and weight 0: 0, not NaN x 0
    weight = np.where(atom > 0, w10[None, None] * t_factor[:, None, None, :], 0.0)  # (M,1,T,C)
    hhi_gs = ix.weighted_hhi(prod, weight)  # (M,S,T)
    hhi_eu = ix.weighted_hhi(np.moveaxis(sourcing, -1, -2), weight[..., None, :])  # (M,S,T,R)

    eol = _attribute(ds, "eol_rir", 0.0, "end-of-life recycling input rate", notes)
    si = _attribute(ds, "substitution_index", 1.0, "substitution index", notes)
    factor = ((1.0 - eol) * si)[:, None, None, None]
    global_part = hhi_gs[..., None] * ir / 2.0 * factor
    sourcing_part = hhi_eu * (1.0 - ir / 2.0) * factor
    sr = global_part + sourcing_part

    idx = pd.MultiIndex.from_product(
        [ds.minerals, ds.stages, ds.years, region_names],
        names=["mineral", "stage", "year", "country"],
    )
    shape = sr.shape
    frame = pd.DataFrame(
        {
            "hhi": np.broadcast_to(ix.weighted_hhi(prod, atom)[..., None], shape).ravel(),
            "score": sr.ravel(),
            "hhi_wgi_global": np.broadcast_to(hhi_gs[..., None], shape).ravel(),
            "hhi_wgi_sourcing": hhi_eu.ravel(),
            "import_reliance": ir.ravel(),
            "eol_rir": np.broadcast_to(eol[:, None, None, None], shape).ravel(),
            "substitution_index": np.broadcast_to(si[:, None, None, None], shape).ravel(),
            "global_supply": global_part.ravel(),
            "sourcing": sourcing_part.ravel(),
        },
        index=idx,
    ).reset_index()
    frame = frame[np.isfinite(frame["hhi"])].reset_index(drop=True)
    return ScoreResult(
        method="eu",
        scores=frame,
        concentration=concentration_table(ds, prod),
        factors=("global_supply", "sourcing"),
        params={
            "regions": region_names,
            "export_restrictions": dict(export_restrictions or {}),
            "missing_governance": missing_governance,
            "governance_year": used,
        },
        dataset=ds.name,
        notes=tuple(notes),
    )


def _attribute(ds: Dataset, column: str, neutral: float, what: str, notes: list[str]) -> np.ndarray:
    """Per-mineral attribute from ``minerals.csv``; ``neutral`` (with a note) where unknown."""
    info = ds.mineral_info
    if column in info.columns:
        values = info[column].reindex(ds.minerals).to_numpy(dtype=float)
    else:
        values = np.full(len(ds.minerals), np.nan)
    unknown = [m for m, v in zip(ds.minerals, values, strict=True) if np.isnan(v)]
    if unknown:
        notes.append(
            f"no {what} for {', '.join(unknown)}; the term is left out (factor "
            f"{'1' if neutral == 1.0 else '1 - 0'})"
        )
    return np.where(np.isnan(values), neutral, values)
