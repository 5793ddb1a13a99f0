"""Pieces the stress tools share: year and label resolution, one year's tensors."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from riskengine.dataset import Dataset
from riskengine.dims import Stage
from riskengine.errors import DataError, RiskEngineError, UnknownLabelError

#: Called after each chunk of work with ``(done, total)``; the CLI draws a progress bar.
Progress = Callable[[int, int], None]

#: Parameters the stress tools choose themselves and a method must not receive.
RESERVED_PARAMS: tuple[str, ...] = ("minerals", "stages", "years")


def default_year(ds: Dataset) -> int:
    """Latest year with both production and trade (else the latest with production).

    This is the year ``riskengine score`` picks by default.
    """
    latest_production: int | None = None
    for t in range(len(ds.years) - 1, -1, -1):
        if not (ds.production[:, :, t] > 0).any():
            continue
        if latest_production is None:
            latest_production = int(ds.years[t])
        if ds.trade_quantity is None or (ds.trade_quantity[:, :, t] > 0).any():
            return int(ds.years[t])
    if latest_production is not None:
        return latest_production
    if not len(ds.years):
        raise DataError(f"the dataset {ds.name!r} has no years")
    return int(ds.years[-1])


def resolve_year(ds: Dataset, year: int | None) -> int:
    """Return ``year`` checked against the dataset, or :func:`default_year`."""
    if year is None:
        return default_year(ds)
    ds.positions("year", [year])
    return int(year)


def resolve_minerals(ds: Dataset, minerals: Sequence[str] | str | None) -> list[str]:
    """Mineral ids to work on (all when None), in dataset order; unknown ids raise."""
    if minerals is None:
        return [str(m) for m in ds.minerals]
    wanted = [minerals] if isinstance(minerals, str) else list(minerals)
    ds.positions("mineral", wanted)
    keep = set(wanted)
    return [str(m) for m in ds.minerals if m in keep]


def resolve_stages(ds: Dataset, stages: Sequence[str] | str | None) -> list[str]:
    """Stages to work on (all when None); unknown stages raise."""
    if stages is None:
        return [str(s) for s in ds.stages]
    wanted = [stages] if isinstance(stages, str) else list(stages)
    ds.positions("stage", wanted)
    keep = set(wanted)
    return [str(s) for s in ds.stages if s in keep]


def check_params(params: dict[str, Any], what: str) -> None:
    """Refuse method parameters the stress tools set themselves."""
    for reserved in RESERVED_PARAMS:
        if reserved in params:
            raise RiskEngineError(
                f"{what} selects {reserved} itself; pass them as its own arguments, not as "
                f"method parameters ({reserved}=)"
            )


def check_method(method: str) -> None:
    """Raise :class:`UnknownLabelError` for a method that does not exist."""
    from riskengine.methods import METHODS

    if method not in METHODS:
        raise UnknownLabelError("method", [method], METHODS)


@dataclass(frozen=True)
class YearTensors:
    """One year of a dataset with withheld figures counted as 0.

    Attributes
    ----------
    dataset : Dataset
        The dataset restricted to the year (all minerals, both stages).
    year : int
    production : ndarray
        ``[mineral, stage, country]``.
    flows : ndarray
        ``[mineral, stage, exporter, importer]`` (zeros when there is no trade).
    s_mine, s_ref : int or None
        Positions of the mining and refining stages.
    """

    dataset: Dataset
    year: int
    production: np.ndarray
    flows: np.ndarray
    s_mine: int | None
    s_ref: int | None


def year_tensors(ds: Dataset, year: int) -> YearTensors:
    """Select one year and replace withheld figures (NaN) by 0, as the scenario engine does."""
    if ds.trade_quantity is None:
        raise DataError(
            f"the dataset {ds.name!r} has no bilateral trade (trade.csv); export bans and "
            f"disruptions act on trade flows"
        )
    sub = ds.sel(years=[year])
    assert sub.trade_quantity is not None
    production = np.nan_to_num(sub.production[:, :, 0, :], nan=0.0)
    flows = np.nan_to_num(sub.trade_quantity[:, :, 0], nan=0.0)
    stages = list(sub.stages)
    s_mine = stages.index(Stage.MINING.value) if Stage.MINING.value in stages else None
    s_ref = stages.index(Stage.REFINING.value) if Stage.REFINING.value in stages else None
    return YearTensors(sub, int(year), production, flows, s_mine, s_ref)


def active_countries(production: np.ndarray, flows: np.ndarray) -> np.ndarray:
    """Positions of countries with any production, export or import in ``[stage, ...]`` arrays.

    Countries outside this set hold only zeros for the mineral, and every
    mechanism of the engine keeps them at zero.
    """
    active = (production > 0).any(axis=0)
    active |= (flows > 0).any(axis=(0, 2)) | (flows > 0).any(axis=(0, 1))
    return np.flatnonzero(active)


def reemit(caught: Iterable[warnings.WarningMessage], seen: set[str]) -> None:
    """Warn once per distinct message among ``caught``."""
    for w in caught:
        text = str(w.message)
        if text not in seen:
            seen.add(text)
            warnings.warn(w.message, w.category, stacklevel=3)


def frame_or_empty(parts: list[pd.DataFrame], columns: Sequence[str]) -> pd.DataFrame:
    """Concatenate frames, or an empty frame with ``columns``."""
    parts = [p for p in parts if len(p)]
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=float) for c in columns})
    return pd.concat(parts, ignore_index=True)
