"""Shared pieces of the scoring methods: results, governance weights, regions.

Methods are pure functions ``(dataset, **params) -> ScoreResult``. This module
holds what they share so that each method module is only its formulas.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np
import pandas as pd

from riskengine import indices as ix
from riskengine.dataset import Dataset, RiskEngineWarning, label_frame
from riskengine.dims import OTHER_COUNTRIES, REGIONS, WGI_INDICATORS
from riskengine.errors import (
    DataError,
    RiskEngineError,
    UnknownLabelError,
    bad_argument,
    check_labels,
)
from riskengine.flows import Flows
from riskengine.notes import Note
from riskengine.results import Result

logger = logging.getLogger(__name__)

MissingGovernance = Literal["nan", "raise"] | float


@dataclass(frozen=True, kw_only=True)
class ScoreResult(Result):
    """Labelled result of a scoring method.

    Attributes
    ----------
    method : str
        Method name.
    scores : pandas.DataFrame
        One row per (mineral, stage, year, country) scored, with the method's
        headline ``score``, the supply ``hhi`` and every factor. Tonnes are
        contained content of the mineral (its basis: ``minerals.csv``).
    concentration : pandas.DataFrame
        One row per (mineral, stage, year): HHI (0-1 and 0-10,000), CR-1,
        CR-3, the largest producer and the effective number of producers.
    factors : tuple of str
        Columns of ``scores`` holding per-factor contributions that add up to
        ``score`` (empty when the method is multiplicative).
    params, dataset, notes
        See :class:`~riskengine.results.Result`.
    """

    TABLES: ClassVar[tuple[str, ...]] = ("scores", "concentration")

    scores: pd.DataFrame
    concentration: pd.DataFrame
    factors: tuple[str, ...] = ()

    def top(self, n: int = 10, by: str = "score") -> pd.DataFrame:
        """Return the ``n`` rows with the largest ``by`` (NaN last)."""
        return self.scores.sort_values(by, ascending=False, na_position="last").head(n)


def check_method_args(
    method: str,
    dataset: object,
    minerals: object,
    stages: object,
    missing_governance: object,
    *,
    scale: tuple[float, float, str] = (0.0, 1.0, "governance weight g"),
) -> None:
    """Check a scoring method's common arguments once, at its entry.

    ``scale`` is the range and name of the governance value a numeric
    ``missing_governance`` stands for (it replaces that value of the suppliers
    without a score, so it must lie in the value's range).
    """
    where = f"method {method!r}"
    if not isinstance(dataset, Dataset):
        raise bad_argument(
            where, "dataset", "a Dataset", dataset, "load one with riskengine.load_dataset()"
        )
    check_labels(where, "minerals", minerals)
    check_labels(where, "stages", stages)
    low, high, what = scale
    policy = missing_governance
    if isinstance(policy, str) and policy in ("nan", "raise"):
        return
    number = isinstance(policy, int | float | np.integer | np.floating) and not isinstance(
        policy, bool
    )
    if number and np.isfinite(float(policy)) and low <= float(policy) <= high:  # type: ignore[arg-type]
        return
    raise bad_argument(
        where,
        "missing_governance",
        f"'nan', 'raise' or a number between {low:g} and {high:g} (the {what} assumed for "
        f"suppliers without a score)",
        policy,
        f"pass e.g. missing_governance={(low + high) / 2:g}",
    )


def resolve_params(
    ds: Dataset,
    minerals: Sequence[str] | str | None,
    stages: Sequence[str] | str | None,
    years: Sequence[int] | int | None,
) -> Dataset:
    """Restrict the dataset to the requested labels (errors name the valid ones).

    A single string or year is one label (``minerals="cobalt"``), never a
    sequence of letters.
    """
    if minerals is None and stages is None and years is None:
        return ds
    return ds.sel(minerals=minerals, stages=stages, years=years)


def governance_by_year(ds: Dataset) -> tuple[np.ndarray, dict[int, int | None]]:
    """Governance estimates for every dataset year: ``[indicator, year, country]``.

    Each year uses the latest governance year at or before it.
    """
    out = np.full((len(WGI_INDICATORS), len(ds.years), len(ds.countries)), np.nan)
    used: dict[int, int | None] = {}
    for t, year in enumerate(ds.years):
        out[:, t, :], used[int(year)] = ds.governance_at(int(year))
    return out, used


def handle_missing(
    values: np.ndarray,
    needed: np.ndarray,
    countries: pd.Index,
    what: str,
    policy: MissingGovernance,
    notes: list[str],
) -> np.ndarray:
    """Apply the missing-governance policy to a ``[..., country]`` array.

    Parameters
    ----------
    values
        Governance-derived values per country (NaN = missing).
    needed
        Boolean mask, same shape, of the entries a computation uses.
    countries
        Labels of the last axis.
    what
        Name of the quantity for messages.
    policy
        ``"nan"`` leaves them NaN (results that use them are NaN) and warns;
        ``"raise"`` raises :class:`DataError`; a number fills them with that
        value and warns.
    notes
        List the warning text is appended to.
    """
    gap = np.isnan(values) & needed
    if not gap.any():
        return values
    names = sorted(
        f"{OTHER_COUNTRIES} (other countries)" if c == OTHER_COUNTRIES else c
        for c in {str(countries[int(i)]) for i in np.nonzero(gap)[-1]}
    )
    listed = ", ".join(names[:25]) + (f" ... ({len(names)} in all)" if len(names) > 25 else "")
    if policy == "raise":
        raise DataError(
            f"no {what} for {len(names)} countries that the computation needs: {listed}. "
            f"Add their WGI estimates to governance.csv, or pass missing_governance='nan' "
            f"(results using them become NaN) or a number to use for them"
        )
    if isinstance(policy, float | int) and not isinstance(policy, bool):
        text = f"no {what} for {listed}; using {policy} as requested (missing_governance)"
        effect = f"{policy} assumed (missing_governance)"
        out = np.where(gap, float(policy), values)
    elif policy == "nan":
        text = (
            f"no {what} for {listed}; results that depend on them are NaN "
            f"(pass missing_governance=<value> to assume a score)"
        )
        effect = "results that depend on them are NaN"
        out = values
    else:
        raise RiskEngineError(
            f"missing_governance must be 'nan', 'raise' or a number, got {policy!r}"
        )
    msg = Note(
        text,
        "governance_missing",
        items=names,
        label=f"supplier(s) without a {what} score; {effect}",
    )
    notes.append(msg)
    warnings.warn(msg, RiskEngineWarning, stacklevel=3)
    return out


def production_notes(ds: Dataset, notes: list[str]) -> np.ndarray:
    """Production ``[mineral, stage, year, country]``, noting figures the source withholds.

    Withheld or unavailable figures are 0 in :attr:`Dataset.production` (left
    out of shares); the note says how many.
    """
    n = int(ds.production_missing.sum())
    if n:
        msg = Note(
            f"{n} production figure(s) are missing in the source and are left out of shares",
            "production_withheld",
            total=n,
        )
        notes.append(msg)
        logger.info(msg)
    return ds.production


def trade_notes(ds: Dataset, notes: list[str]) -> None:
    """Note the trade flows that quantity measures leave out (no quantity, screened)."""
    if ds.trade is None:
        return
    n = int((~ds.trade.has_quantity).sum())
    if n:
        notes.append(
            Note(
                f"{n} trade flow(s) without a quantity are left out of quantity measures",
                "trade_without_quantity",
                total=n,
            )
        )
    screened = int(ds.trade.screened.sum())
    if screened:
        notes.append(
            Note(
                f"{screened} trade flow(s) with an outlier unit value are left out of quantity "
                f"measures (riskengine data check lists them)",
                "trade_screened",
                total=screened,
            )
        )


def mineral_basis(ds: Dataset) -> pd.Index:
    """Return what each mineral's tonnes are counted in (``basis`` of ``minerals.csv``).

    Every ``*_t`` column of a result is contained content on this basis; a
    mineral without a stated basis reads ``contained content``. One label per
    mineral, in dataset order (``mineral_basis(ds)[codes]`` labels rows).
    """
    cached: pd.Index | None = ds.__dict__.get("_basis")
    if cached is not None:
        return cached
    out = np.full(len(ds.minerals), "contained content", dtype=object)
    info = ds.mineral_info
    if "basis" in info.columns and len(info):
        pos = info.index.get_indexer(ds.minerals)
        stated = info["basis"].to_numpy(dtype=object)[np.maximum(pos, 0)]
        given = (pos >= 0) & pd.notna(stated)
        given[given] = stated[given] != ""
        out[given] = stated[given]
    basis = ds.__dict__["_basis"] = pd.Index(out, dtype="str")  # a dataset never changes
    return basis


def cell_keys(ds: Dataset, side: str) -> tuple[np.ndarray, int]:
    """Flat ``[mineral, stage, year, country]`` cell of each pair's ``side`` (importer/exporter)."""
    m, s, t, c = ds.shape
    return ds.cell_key(side), m * s * t * c


def exporter_weights(g: np.ndarray, pairs: Flows) -> np.ndarray:
    """Weight ``g[year, exporter]`` of every pair, gathered from the flat array (one pass)."""
    return g.ravel()[pairs.year.astype(np.int64) * g.shape[-1] + pairs.exporter]


def region_matrix(
    ds: Dataset, regions: Mapping[str, Sequence[str]] | Sequence[str] | None
) -> tuple[list[str], np.ndarray]:
    """Membership matrix ``R[country, region]`` for the requested regions.

    ``regions`` may name built-in regions (:data:`REGIONS`) or map new names to
    ISO3 members.
    """
    if regions is None:
        return [], np.zeros((len(ds.countries), 0))
    spec: dict[str, Sequence[str]] = {}
    if isinstance(regions, Mapping):
        spec = dict(regions)
    else:
        for name in regions:
            if name not in REGIONS:
                raise UnknownLabelError("region", [name], REGIONS)
            spec[name] = REGIONS[name]
    names = list(spec)
    mat = np.zeros((len(ds.countries), len(names)))
    for j, name in enumerate(names):
        members = [m for m in spec[name] if m in ds.countries]
        mat[ds.countries.get_indexer(pd.Index(members)), j] = 1.0
    return names, mat


def atomistic_weights(ds: Dataset) -> np.ndarray:
    """Per-country weights for sums of squared shares: 0 for the residual, 1 otherwise.

    The residual "other countries" row of a source is many small producers, not
    one: it counts in totals (so shares close) but adds nothing to ``Σ S²``.
    """
    weights = np.ones(len(ds.countries))
    if OTHER_COUNTRIES in ds.countries:
        weights[ds.countries.get_loc(OTHER_COUNTRIES)] = 0.0
    return weights


def concentration_table(ds: Dataset, production: np.ndarray) -> pd.DataFrame:
    """HHI, CR-1, CR-3, top producer and effective suppliers per (mineral, stage, year).

    The residual "other countries" row counts in the totals but neither in the
    sum of squares nor among the largest producers (:func:`atomistic_weights`).

    Parameters
    ----------
    ds
        Dataset giving the labels.
    production
        ``[mineral, stage, year, country]`` with missing figures already handled.
    """
    h = ix.weighted_hhi(production, atomistic_weights(ds))
    total = production.sum(axis=-1)
    ranked = np.where(atomistic_weights(ds) > 0, production, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        sorted_shares = -np.sort(-ranked, axis=-1)[..., :3] / total[..., None]
    cells = np.nonzero(total > 0)
    top = ranked.argmax(axis=-1)[cells]
    return label_frame(
        {
            "mineral": (ds.minerals, cells[0]),
            "stage": (ds.stages, cells[1]),
            "year": (ds.years, cells[2]),
        },
        {
            "hhi": h[cells],
            "hhi_10000": h[cells] * 10_000,
            "cr1": sorted_shares[..., 0][cells],
            "cr3": sorted_shares.sum(axis=-1)[cells],
            "top_producer": ds.countries.to_numpy()[top],
            "effective_producers": 1.0 / h[cells],
            "world_production_t": total[cells],
            "basis": mineral_basis(ds)[cells[0]],
        },
    )


def require_trade(ds: Dataset, method: str) -> None:
    """Raise a clear error when the dataset has no trade."""
    if ds.trade is None:
        raise DataError(
            f"method {method!r} needs bilateral trade, but the dataset {ds.name!r} has no "
            f"trade.csv; add one (see docs/data-format.md) or use a dataset with trade"
        )
