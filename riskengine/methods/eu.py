"""EU critical raw materials supply risk (European Commission 2017 guidelines)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from riskengine import indices as ix
from riskengine.dataset import Dataset, label_frame
from riskengine.errors import RiskEngineError, UnknownLabelError
from riskengine.methods.base import (
    MissingGovernance,
    ScoreResult,
    atomistic_weights,
    cell_keys,
    check_method_args,
    concentration_table,
    governance_by_year,
    handle_missing,
    mineral_basis,
    production_notes,
    region_matrix,
    require_trade,
    resolve_params,
    trade_notes,
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
    minerals: Sequence[str] | str | None = None,
    stages: Sequence[str] | str | None = None,
    years: Sequence[int] | int | None = None,
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
    check_method_args(
        "eu", dataset, minerals, stages, missing_governance, scale=(0.0, 10.0, "WGI10 score")
    )
    ds = resolve_params(dataset, minerals, stages, years)
    require_trade(ds, "eu")
    notes: list[str] = []
    prod = production_notes(ds, notes)
    trade_notes(ds, notes)

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
    # extra-region imports by origin and exports, as segment sums over the sparse flows
    n_m, n_s, n_t, n_c = ds.shape
    pairs = ds.pairs
    f = pairs.content
    key_e, size = cell_keys(ds, "exporter")
    key_msy = pairs.key(("mineral", "stage", "year"), (n_m, n_s, n_t))
    n_r = len(region_names)
    imports_by_origin = np.zeros((n_m, n_s, n_t, n_c, n_r))
    exports = np.zeros((n_m, n_s, n_t, n_r))
    for r in range(n_r):
        member = R[:, r] > 0
        inward = member[pairs.importer] & ~member[pairs.exporter]
        outward = member[pairs.exporter] & ~member[pairs.importer]
        imports_by_origin[..., r] = ix.segment_sum(key_e[inward], f[inward], size).reshape(ds.shape)
        exports[..., r] = ix.segment_sum(key_msy[outward], f[outward], n_m * n_s * n_t).reshape(
            n_m, n_s, n_t
        )
    imports = imports_by_origin.sum(axis=-2)  # (M,S,T,R)
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

    shape = sr.shape
    hhi = np.broadcast_to(ix.weighted_hhi(prod, atom)[..., None], shape)
    cells = np.nonzero(np.isfinite(hhi))
    frame = label_frame(
        {
            "mineral": (ds.minerals, cells[0]),
            "stage": (ds.stages, cells[1]),
            "year": (ds.years, cells[2]),
            "country": (pd.Index(region_names), cells[3]),
        },
        {
            "hhi": hhi[cells],
            "score": sr[cells],
            "hhi_wgi_global": np.broadcast_to(hhi_gs[..., None], shape)[cells],
            "hhi_wgi_sourcing": hhi_eu[cells],
            "import_reliance": ir[cells],
            "imports_t": imports[cells],
            "exports_t": exports[cells],
            "production_t": own[cells],
            "eol_rir": np.broadcast_to(eol[:, None, None, None], shape)[cells],
            "substitution_index": np.broadcast_to(si[:, None, None, None], shape)[cells],
            "global_supply": global_part[cells],
            "sourcing": sourcing_part[cells],
            "basis": mineral_basis(ds)[cells[0]],
        },
    )
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
