"""Score many shocked copies of one dataset slice in one call of a method.

The scoring methods are vectorized over minerals (and years). To score ``K``
shocked versions of one mineral at once, the copies are laid side by side on
the mineral axis of a new :class:`~riskengine.dataset.Dataset` (the mineral
``cobalt`` becomes ``cobalt@0``, ``cobalt@1``, ...), the method runs once, and
the rows are mapped back to the copies. Every copy is scored by the very code
:func:`riskengine.score` runs on one mineral, so the result is the method's
own, not a re-implementation.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import fields, replace
from typing import Any

import numpy as np
import pandas as pd

from riskengine.dataset import Dataset
from riskengine.flows import Flows
from riskengine.methods import against_baseline, score
from riskengine.stress._common import label_positions, reemit

#: Separator between a mineral id and the copy number in folded datasets.
SEP = "@"


def restrict(ds: Dataset, mineral: str, countries: np.ndarray) -> Dataset:
    """One mineral of a one-year dataset on a subset of the country axis.

    Parameters
    ----------
    ds
        A dataset with one year.
    mineral
        Mineral id.
    countries
        Positions of the countries to keep (in dataset order); flows from or
        to the others are dropped.
    """
    sub = ds.sel(minerals=[mineral])
    idx = np.asarray(countries, dtype=int)
    local = np.full(len(sub.countries), -1)
    local[idx] = np.arange(len(idx))
    return replace(
        sub,
        countries=sub.countries[idx],
        production=sub.production[..., idx],
        production_missing=sub.production_missing[..., idx],
        trade=None if sub.trade is None else sub.trade.recode(exporter=local, importer=local),
        governance=sub.governance[..., idx],
    )


def _fold(
    base: Dataset,
    *,
    minerals: Sequence[str] | pd.Index,
    years: Sequence[int] | pd.Index,
    production: np.ndarray,
    flows: Flows,
    governance: np.ndarray,
    governance_years: Sequence[int] | pd.Index,
    mineral_info: pd.DataFrame,
) -> Dataset:
    """Build a dataset on ``base``'s stages and countries from folded production and flows.

    ``flows`` are on the folded coordinates (:func:`sparse_flows`).
    """
    folded = Dataset.from_arrays(
        minerals=minerals,
        years=years,
        countries=base.countries,
        stages=base.stages,
        production=production,
        governance=governance,
        governance_years=governance_years,
        mineral_info=mineral_info,
        name=base.name,
    )
    return replace(folded, trade=flows)


def sparse_flows(flows: np.ndarray) -> Flows:
    """Flows of dense ``[mineral, stage, year, exporter, importer]`` tonnes (the non-zero cells).

    Trade values equal the contained tonnes (a unit value of 1 USD/t): the
    scores the stress tools report do not use values.
    """
    return Flows.from_dense(flows, flows)


def _tile(flows: Flows, k: int) -> Flows:
    """``k`` copies of one mineral's flows, copy ``j`` as mineral ``j`` (in key order)."""
    out = {f.name: np.tile(getattr(flows, f.name), k) for f in fields(flows)}
    out["mineral"] = np.repeat(np.arange(k, dtype=np.int32), len(flows))
    return Flows(**out)


def _params_for_copies(
    method: str, params: Mapping[str, Any], mineral: str, names: list[str]
) -> dict[str, Any]:
    """Rewrite per-mineral parameters so that they apply to every copy."""
    out = dict(params)
    spec = out.get("export_restrictions")
    if method == "eu" and isinstance(spec, Mapping):
        rewritten: dict[str, Any] = {}
        for country, value in spec.items():
            if isinstance(value, Mapping):
                rewritten[country] = {
                    name: value[mineral] for name in names if mineral in value
                } or {}
            else:
                rewritten[country] = value
        out["export_restrictions"] = rewritten
    return out


def score_copies(
    base: Dataset,
    production: np.ndarray,
    flows: np.ndarray | Flows,
    method: str,
    params: Mapping[str, Any],
    seen: set[str],
    measure: str = "score",
    baseline: tuple[np.ndarray, np.ndarray] | None = None,
) -> pd.DataFrame:
    """Score ``K`` copies of a one-mineral, one-year dataset in one method call.

    Parameters
    ----------
    base
        One mineral and one year (:func:`restrict`); gives labels, governance
        and mineral attributes.
    production
        ``[copy, stage, country]``.
    flows
        ``[copy, stage, exporter, importer]`` tonnes, or the same as
        :class:`~riskengine.flows.Flows` whose ``mineral`` is the copy (one
        year, values as :func:`sparse_flows` gives them).
    method, params
        Scoring method and its parameters.
    seen
        Warning texts already issued (each distinct warning is issued once).
    measure
        Column of the method's score table to return.
    baseline
        ``(production [stage, country], flows [stage, exporter, importer])``
        the copies were shocked from: a method that scores a shock against its
        baseline (:func:`riskengine.methods.against_baseline`) gets it, folded
        the same way.

    Returns
    -------
    pandas.DataFrame
        ``copy, stage, country, value`` for every row the method scores.
    """
    mineral = str(base.minerals[0])
    k = production.shape[0]
    names = [f"{mineral}{SEP}{i}" for i in range(k)]
    info = base.mineral_info
    if mineral in info.index:
        folded_info = info.iloc[np.full(k, info.index.get_loc(mineral))]
    else:
        folded_info = info.reindex(pd.Index([mineral] * k, name=info.index.name))
    index_name = str(info.index.name) if info.index.name else "mineral"
    folded_info.index = pd.Index(np.asarray(names, dtype=object), name=index_name)
    folded = _fold(
        base,
        minerals=names,
        years=base.years,
        production=production[:, :, None, :],
        flows=flows if isinstance(flows, Flows) else sparse_flows(flows[:, :, None]),
        governance=base.governance,
        governance_years=base.governance_years,
        mineral_info=folded_info,
    )
    kwargs = _params_for_copies(method, params, mineral, names)
    if baseline is not None:
        p0, f0 = baseline
        # the same k copies of the baseline serve every chunk of that size: folded once
        # (the entry holds the baseline arrays it was folded from, and is used for them only)
        cache: dict[int, tuple[np.ndarray, np.ndarray, Dataset]] = base.__dict__.setdefault(
            "_unshocked", {}
        )
        entry = cache.get(k)
        if entry is None or entry[0] is not p0 or entry[1] is not f0:
            entry = cache[k] = (
                p0,
                f0,
                _fold(
                    base,
                    minerals=names,
                    years=base.years,
                    production=np.broadcast_to(
                        p0[None, :, None, :], production[:, :, None, :].shape
                    ),
                    flows=_tile(sparse_flows(f0[None, :, None]), k),
                    governance=base.governance,
                    governance_years=base.governance_years,
                    mineral_info=folded_info,
                ),
            )
        kwargs.update(against_baseline(method, entry[2]))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = score(folded, method=method, **kwargs)
    reemit(caught, seen)
    frame = result.scores
    if measure not in frame.columns:
        from riskengine.errors import UnknownLabelError

        raise UnknownLabelError(
            "measure", [measure], [c for c in frame.columns if c not in SCORE_KEYS]
        )
    return pd.DataFrame(
        {
            "copy": label_positions(frame["mineral"], pd.Index(names, dtype=object)),
            "stage": _labels(frame["stage"]),
            "country": _labels(frame["country"]),
            "value": frame[measure].to_numpy(dtype=float),
        }
    )


SCORE_KEYS: tuple[str, ...] = ("mineral", "stage", "year", "country")


def _labels(column: pd.Series) -> Any:
    """Return a label column's values for a new frame (typed labels as they are)."""
    return column.to_numpy() if column.dtype == object else column.array


def score_years(
    base: Dataset,
    production: np.ndarray,
    flows: np.ndarray,
    governance: np.ndarray,
    method: str,
    params: Mapping[str, Any],
    seen: set[str],
    measure: str = "score",
) -> pd.DataFrame:
    """Score ``K`` variants of one mineral and year, each with its own governance.

    The variants are laid on the year axis (years ``1 .. K``, each with its
    own governance year), so that governance can differ between them.

    Parameters
    ----------
    base
        One mineral and one year (:func:`restrict`).
    production
        ``[variant, stage, country]``.
    flows
        ``[variant, stage, exporter, importer]``.
    governance
        ``[indicator, variant, country]`` WGI estimates.
    method, params, seen, measure
        As in :func:`score_copies`.

    Returns
    -------
    pandas.DataFrame
        ``copy, stage, country, value``.
    """
    k = production.shape[0]
    years = pd.Index(np.arange(1, k + 1), name="year", dtype="int64")
    folded = _fold(
        base,
        minerals=base.minerals,
        years=years,
        production=np.moveaxis(production, 0, 1)[None],
        flows=sparse_flows(np.moveaxis(flows, 0, 1)[None]),
        governance=governance,
        governance_years=years,
        mineral_info=base.mineral_info,
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = score(folded, method=method, **params)
    reemit(caught, seen)
    frame = result.scores
    if measure not in frame.columns:
        from riskengine.errors import UnknownLabelError

        raise UnknownLabelError(
            "measure", [measure], [c for c in frame.columns if c not in SCORE_KEYS]
        )
    return pd.DataFrame(
        {
            "copy": frame["year"].to_numpy(dtype=int) - 1,
            "stage": _labels(frame["stage"]),
            "country": _labels(frame["country"]),
            "value": frame[measure].to_numpy(dtype=float),
        }
    )
