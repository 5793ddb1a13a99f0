"""Pieces the stress tools share: year and label resolution, one mineral's dense block."""

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
from riskengine.methods.composite import FEED_STAGES

#: Called after each chunk of work with ``(done, total)``; the CLI draws a progress bar.
Progress = Callable[[int, int], None]

#: Parameters the stress tools choose themselves and a method must not receive.
RESERVED_PARAMS: tuple[str, ...] = ("minerals", "stages", "years")


def resolve_year(ds: Dataset, year: int | None) -> int:
    """Return ``year`` checked against the dataset, or :meth:`Dataset.latest_year`.

    The default is the year ``riskengine score`` picks: the latest with both
    production and trade.
    """
    if year is None:
        return ds.latest_year()
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
class MineralBlock:
    """One mineral of one year as dense arrays over the countries active in it.

    Attributes
    ----------
    mineral : str
    idx : ndarray
        Positions of the active countries on the dataset's country axis (in
        dataset order): those with production, exports or imports of the
        mineral at any stage. The others hold only zeros, and every mechanism
        of the engine keeps them at zero.
    countries : pandas.Index
        Their labels.
    production : ndarray
        ``[stage, country]`` contained tonnes (withheld figures as 0).
    flows : ndarray
        ``[stage, exporter, importer]`` contained tonnes (flows without a
        quantity as 0).
    """

    mineral: str
    idx: np.ndarray
    countries: pd.Index
    production: np.ndarray
    flows: np.ndarray


@dataclass(frozen=True)
class YearTensors:
    """One year of a dataset, handing out dense blocks one mineral at a time.

    Attributes
    ----------
    dataset : Dataset
        The dataset restricted to the year (all minerals and stages).
    year : int
    s_mine, s_ref : int or None
        Positions of the mining and refining stages.
    feed : tuple of int
        Positions of the stages that feed refineries
        (:data:`~riskengine.methods.composite.FEED_STAGES`).
    """

    dataset: Dataset
    year: int
    s_mine: int | None
    s_ref: int | None
    feed: tuple[int, ...]

    def block(self, mineral: str) -> MineralBlock:
        """Return the production and flows of ``mineral`` over its active countries."""
        ds = self.dataset.sel(minerals=[mineral])
        n_s, n_c = len(ds.stages), len(ds.countries)
        production = ds.production[0, :, 0, :]
        pairs = ds.pairs.take(ds.pairs.content > 0)
        active = np.asarray((production > 0).any(axis=0))
        active[pairs.exporter] = True
        active[pairs.importer] = True
        idx = np.flatnonzero(active)
        local = np.full(n_c, -1)
        local[idx] = np.arange(len(idx))
        n = len(idx)
        flows = pairs.recode(exporter=local, importer=local).dense("content", (1, n_s, 1, n, n))
        return MineralBlock(
            mineral=mineral,
            idx=idx,
            countries=ds.countries[idx],
            production=np.ascontiguousarray(production[:, idx]),
            flows=flows[0, :, 0],
        )


def year_tensors(ds: Dataset, year: int) -> YearTensors:
    """Select one year of a dataset with trade (the stress tools act on trade flows)."""
    if ds.trade is None:
        raise DataError(
            f"the dataset {ds.name!r} has no bilateral trade (trade.csv); export bans and "
            f"disruptions act on trade flows"
        )
    sub = ds.sel(years=[year])
    stages = list(sub.stages)
    s_mine = stages.index(Stage.MINING.value) if Stage.MINING.value in stages else None
    s_ref = stages.index(Stage.REFINING.value) if Stage.REFINING.value in stages else None
    feed = tuple(stages.index(s) for s in FEED_STAGES if s in stages)
    return YearTensors(sub, int(year), s_mine, s_ref, feed)


def reemit(caught: Iterable[warnings.WarningMessage], seen: set[str]) -> None:
    """Warn once per distinct message among ``caught``."""
    for w in caught:
        text = str(w.message)
        if text not in seen:
            seen.add(text)
            warnings.warn(w.message, w.category, stacklevel=3)


def label_positions(values: pd.Series, labels: pd.Index) -> np.ndarray:
    """Return the position of each of ``values`` in ``labels`` (-1 where absent).

    Each distinct value is looked up once.
    """
    codes, uniques = pd.factorize(values)
    where = labels.get_indexer(pd.Index(uniques))
    return np.where(codes >= 0, where[codes] if len(where) else -1, -1)


def frame_or_empty(parts: list[pd.DataFrame], columns: Sequence[str]) -> pd.DataFrame:
    """Concatenate frames, or an empty frame with ``columns``."""
    parts = [p for p in parts if len(p)]
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=float) for c in columns})
    return pd.concat(parts, ignore_index=True)
