"""The :class:`Dataset`: validated tables on one canonical coordinate set, flows kept sparse.

A dataset directory (see ``docs/data-format.md``) is read and validated by
:mod:`riskengine.io.canonical`, traded products are converted to contained
content with the product catalogue (:mod:`riskengine.products`), and the tables
are stored as

========================  =================================================
``production``            ``[mineral, stage, year, country]``, contained tonnes
                          (0 where the source gives no figure; see
                          ``production_missing``)
``trade``                 :class:`~riskengine.flows.Flows`, one entry per
                          (mineral, stage, year, exporter, importer, product):
                          contained and gross tonnes, USD, missing flags
``pairs``                 the flows summed over products, one entry per
                          (mineral, stage, year, exporter, importer)
``governance``            ``[indicator, governance_year, country]``, WGI estimates
========================  =================================================

Production holds at most one number per country and is small; trade is kept
sparse because real flows fill about 1 % of the exporter x importer pairs: time
and memory follow the number of flows. Where a matrix is needed (the scenario
engine's deflection), :meth:`Dataset.trade_array` builds a dense block for a
small selection. Governance has its own year axis because WGI releases lag
production statistics; methods pick the latest governance year at or before the
year they score and record which.

A validated dataset is cached in a binary form keyed by a hash of its input
files (:func:`load_dataset`); the embedded default dataset ships one.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import warnings
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cache, cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from riskengine.dims import STAGES, WGI_INDICATORS
from riskengine.errors import ConsistencyError, CoordinateError, DataError, UnknownLabelError
from riskengine.flows import COORDS, FLAGS, Flows

logger = logging.getLogger(__name__)

DEFAULT_DATA_NAME = "riskengine default dataset"

#: Flows whose unit value (USD per gross tonne) lies more than this many orders of
#: magnitude below the value-weighted median of their product and year are
#: screened out of quantity measures (``docs/methods.md``, "Unit-value screen").
UNIT_VALUE_ORDERS = 2.0

#: A world-import to world-production ratio above this (contained tonnes, one
#: mineral, stage and year) means a basis error rather than re-exports
#: (``docs/methods.md``, "Contained content").
IMPORT_PRODUCTION_LIMIT = 1.6

#: Largest dense trade block :meth:`Dataset.trade_array` builds, in cells.
DENSE_LIMIT = 200_000_000

#: Columns of the product table a dataset keeps (see :mod:`riskengine.products`).
PRODUCT_COLUMNS: tuple[str, ...] = (
    "product",
    "mineral",
    "stage",
    "content",
    "content_low",
    "content_high",
    "basis",
    "source",
)


class RiskEngineWarning(UserWarning):
    """A data gap or inconsistency that does not stop the computation."""


@dataclass(frozen=True)
class Finding:
    """One result of a consistency check.

    Parameters
    ----------
    check
        Name of the check function.
    message
        What was found, naming the items, and what to do about it.
    items
        The labels concerned.
    """

    check: str
    message: str
    items: tuple[str, ...] = ()


def _empty_products() -> pd.DataFrame:
    return _no_products().copy()


@cache
def _no_products() -> pd.DataFrame:
    """Build the empty product table (once; every dataset gets a copy)."""
    return pd.DataFrame(
        {c: pd.Series(dtype=float if "content" in c else object) for c in PRODUCT_COLUMNS}
    )


@dataclass(frozen=True, eq=False)
class Dataset:
    """Labelled production, sparse trade and governance of one dataset.

    Build one with :func:`load_dataset`, :meth:`from_tables` or
    :meth:`from_arrays`; derive subsets with :meth:`sel` and modified copies
    with :meth:`replace_arrays` or :meth:`with_content`. Instances are never
    modified in place.

    Attributes
    ----------
    minerals, stages, years, countries : pandas.Index
        The canonical coordinates. ``countries`` is also the exporter, importer
        and partner axis.
    production : ndarray
        ``[mineral, stage, year, country]`` in contained tonnes; 0 where the
        source lists a country without a figure (see ``production_missing``).
    production_missing : ndarray of bool
        Where the source lists a country without a figure (withheld, n/a).
    trade : Flows or None
        Bilateral flows, one entry per (mineral, stage, year, exporter,
        importer, product), in contained tonnes; None without a trade table.
    governance : ndarray
        ``[indicator, governance_year, country]`` WGI estimates (indicators in
        :data:`~riskengine.dims.WGI_INDICATORS` order); NaN where missing.
    governance_years : pandas.Index
        Years of the governance axis.
    mineral_info : pandas.DataFrame
        Mineral attributes indexed by mineral id (name, basis, eol_rir, ...).
    products : pandas.DataFrame
        The product-catalogue rows the flows refer to (``trade.product`` is a
        row position): product id, mineral, stage, content fraction with its
        range, basis and source.
    name : str
        Human-readable name (the directory, or the default dataset).
    path : Path or None
        Directory the dataset was read from.
    sources : tuple of str
        Every source named by a row.
    """

    minerals: pd.Index
    stages: pd.Index
    years: pd.Index
    countries: pd.Index
    production: np.ndarray
    production_missing: np.ndarray
    trade: Flows | None
    governance: np.ndarray
    governance_years: pd.Index
    mineral_info: pd.DataFrame
    products: pd.DataFrame = field(default_factory=_empty_products)
    name: str = "dataset"
    path: Path | None = None
    sources: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        m, s, t, c = len(self.minerals), len(self.stages), len(self.years), len(self.countries)
        expected = {
            "production": (m, s, t, c),
            "production_missing": (m, s, t, c),
            "governance": (len(WGI_INDICATORS), len(self.governance_years), c),
        }
        for attr, shape in expected.items():
            arr = getattr(self, attr)
            if arr.shape != shape:
                raise DataError(
                    f"Dataset.{attr} has shape {arr.shape}, expected {shape} from the "
                    f"coordinates (minerals, stages, years, countries)"
                )
        if self.trade is not None and len(self.trade):
            for dim, size in (
                ("mineral", m),
                ("stage", s),
                ("year", t),
                ("exporter", c),
                ("importer", c),
            ):
                codes = getattr(self.trade, dim)
                if codes.min() < 0 or codes.max() >= size:
                    raise DataError(
                        f"Dataset.trade.{dim} has codes outside 0..{size - 1}, the "
                        f"{dim} coordinates"
                    )

    @property
    def shape(self) -> tuple[int, int, int, int]:
        """``(minerals, stages, years, countries)``."""
        return (len(self.minerals), len(self.stages), len(self.years), len(self.countries))

    @cached_property
    def pairs(self) -> Flows:
        """The flows summed over products: one entry per (mineral, stage, year, exporter, importer).

        Sorted by that key. Quantity measures work on these (shares and sums of
        squares need one number per exporter-importer pair).
        """
        if self.trade is None:
            return Flows.empty()
        if not len(self.trade) or (self.trade.product < 0).all():
            # rows that name no product are unique per pair already (the table's key)
            return self.trade
        m, s, t, c = self.shape
        return self.trade.aggregate(
            ("mineral", "stage", "year", "exporter", "importer"), (m, s, t, c, c)
        )

    def cell_key(self, side: str) -> np.ndarray:
        """Flat ``[mineral, stage, year, country]`` cell of every pair's ``side``, computed once.

        ``side`` is ``"importer"`` or ``"exporter"``; the keys of :attr:`pairs`
        index the segment sums of every method (cached on the instance).
        """
        cache: dict[str, np.ndarray] = self.__dict__.setdefault("_cell_keys", {})
        if side not in cache:
            cache[side] = self.pairs.key(("mineral", "stage", "year", side), self.shape)
        return cache[side]

    def pair_key(self) -> np.ndarray:
        """Flat ``[mineral, stage, year, exporter, importer]`` cell of every pair, computed once.

        The key :attr:`pairs` are sorted by (cached on the instance).
        """
        cache: dict[str, np.ndarray] = self.__dict__.setdefault("_cell_keys", {})
        if "pair" not in cache:
            m, s, t, c = self.shape
            cache["pair"] = self.pairs.key(
                ("mineral", "stage", "year", "exporter", "importer"), (m, s, t, c, c)
            )
        return cache["pair"]

    # ------------------------------------------------------------------ labels
    @property
    def has_trade(self) -> bool:
        """Whether the dataset carries bilateral trade."""
        return self.trade is not None

    def positions(self, dim: str, labels: Iterable[Any]) -> np.ndarray:
        """Integer positions of ``labels`` on dimension ``dim``.

        Raises
        ------
        UnknownLabelError
            Naming every unknown label and the valid ones.
        """
        index = self._index(dim)
        wanted = list(labels)
        if dim == "year":
            try:
                wanted = [int(w) for w in wanted]
            except (TypeError, ValueError) as exc:
                raise UnknownLabelError("year", wanted, index) from exc
        # a label -> position table per axis, built once (methods look stages up often)
        tables: dict[str, dict[Any, int]] = self.__dict__.setdefault("_positions", {})
        table = tables.get(dim)
        if table is None:
            table = tables[dim] = {label: i for i, label in enumerate(index)}
        pos = np.array([_lookup(table, w) for w in wanted], dtype=np.intp)
        if (pos < 0).any():
            raise UnknownLabelError(
                dim, [w for w, p in zip(wanted, pos, strict=True) if p < 0], index
            )
        return pos

    def country_code(self, value: str) -> str | None:
        """Return the dataset's label for an ISO3 code or a country name (None if unknown).

        ``"chn"`` and ``"China"`` both give ``"CHN"``; source spellings such as
        ``"Congo (Kinshasa)"`` go through :func:`riskengine.io.countries.to_iso3`.
        """
        from riskengine.io.countries import to_iso3

        text = str(value).strip()
        code = text.upper() if text.upper() in self.countries else to_iso3(text)
        return code if code is not None and code in self.countries else None

    def resolve_countries(
        self,
        values: Iterable[str] | str | None,
        *,
        regions: bool = False,
        extra: Iterable[str] = (),
    ) -> list[str] | None:
        """Map ISO3 codes or country names to the dataset's labels, in order, once each.

        Parameters
        ----------
        values
            Codes or names (one string or several); None passes through.
        regions
            Also accept the names of :data:`riskengine.dims.REGIONS`
            (returned upper-cased, as the region name).
        extra
            Further labels accepted as they are (e.g. regions a method was given).

        Raises
        ------
        UnknownLabelError
            Naming every value that matches no country, with the valid labels.
        """
        if values is None:
            return None
        from riskengine.dims import REGIONS

        accepted = set(extra)
        out: list[str] = []
        unknown: list[str] = []
        for value in [values] if isinstance(values, str) else list(values):
            text = str(value)
            code: str | None
            if text in accepted:
                code = text
            elif regions and text.upper() in REGIONS:
                code = text.upper()
            else:
                code = self.country_code(text)
            if code is None:
                unknown.append(text)
            else:
                out.append(code)
        if unknown:
            valid = [*accepted, *(REGIONS if regions else ()), *map(str, self.countries)]
            raise UnknownLabelError("country", unknown, valid)
        return list(dict.fromkeys(out))

    def _index(self, dim: str) -> pd.Index:
        names = {
            "mineral": self.minerals,
            "stage": self.stages,
            "year": self.years,
            "country": self.countries,
            "exporter": self.countries,
            "importer": self.countries,
            "partner": self.countries,
            "governance_year": self.governance_years,
        }
        if dim not in names:
            raise UnknownLabelError("dimension", [dim], names)
        return names[dim]

    def align(self, values: pd.Series | pd.DataFrame, dim: str, what: str) -> np.ndarray:
        """Return ``values`` ordered on the dataset's ``dim`` coordinates.

        Raises
        ------
        CoordinateError
            When the labels differ, listing the extra and the missing ones.
        """
        index = self._index(dim)
        labels = values.index
        extra = labels.difference(index)
        missing = index.difference(labels)
        if len(extra) or len(missing):
            raise CoordinateError(what, dim, extra, missing)
        return values.reindex(index).to_numpy()

    # ----------------------------------------------------------------- subsets
    def sel(
        self,
        *,
        minerals: Sequence[str] | str | None = None,
        stages: Sequence[str] | str | None = None,
        years: Sequence[int] | int | None = None,
    ) -> Dataset:
        """Return the dataset restricted to some minerals, stages or years.

        The country axis is kept whole, so exporters and importers stay aligned.
        A single string (or year) is one label, not a sequence of letters.
        """
        picks: dict[str, np.ndarray | None] = {}
        for dim, wanted in (("mineral", minerals), ("stage", stages), ("year", years)):
            if wanted is None:
                picks[dim] = None
            else:
                one = isinstance(wanted, str | int | np.integer)
                labels = [wanted] if one else list(wanted)  # type: ignore[arg-type]
                picks[dim] = self.positions(dim, labels)
        if all(p is None for p in picks.values()):
            return self

        def take(arr: np.ndarray) -> np.ndarray:
            out = arr
            for axis, dim in enumerate(("mineral", "stage", "year")):
                idx = picks[dim]
                if idx is not None:
                    out = np.take(out, idx, axis=axis)
            return out

        trade = self.trade
        if trade is not None:
            maps = {}
            for dim, size in (
                ("mineral", len(self.minerals)),
                ("stage", len(self.stages)),
                ("year", len(self.years)),
            ):
                idx = picks[dim]
                if idx is not None:
                    table = np.full(size, -1, dtype=np.int64)
                    table[idx] = np.arange(len(idx))
                    maps[dim] = table
            trade = _select_flows(trade, maps, picks["year"])
        coords = {}
        for dim, attr in (("mineral", "minerals"), ("stage", "stages"), ("year", "years")):
            idx = picks[dim]
            coords[attr] = getattr(self, attr) if idx is None else getattr(self, attr)[idx]
        return replace(
            self,
            **coords,
            production=take(self.production),
            production_missing=take(self.production_missing),
            trade=trade,
        )

    def replace_arrays(
        self,
        *,
        production: np.ndarray | None = None,
        trade: np.ndarray | None = None,
        trade_value: np.ndarray | None = None,
        governance: np.ndarray | None = None,
    ) -> Dataset:
        """Return a copy with some quantities replaced by dense arrays (shapes are checked).

        Parameters
        ----------
        production
            ``[mineral, stage, year, country]`` contained tonnes; NaN marks a
            figure the source does not give.
        trade, trade_value
            ``[mineral, stage, year, exporter, importer]`` contained tonnes and
            USD: the dense form of a small selection (:meth:`trade_array`),
            e.g. after a scenario's shocks. Its non-zero cells become the new
            flows (one per pair, no product named); NaN marks an unknown
            quantity. ``trade_value`` without ``trade`` keeps the quantities.
        governance
            ``[indicator, governance_year, country]``.
        """
        changes: dict[str, Any] = {}
        m, s, t, c = self.shape
        if production is not None:
            if production.shape != (m, s, t, c):
                raise DataError(f"production has shape {production.shape}, expected {(m, s, t, c)}")
            changes["production_missing"] = np.isnan(production)
            changes["production"] = np.nan_to_num(production, nan=0.0)
        if trade is not None or trade_value is not None:
            shape = (m, s, t, c, c)
            quantity = self.trade_array() if trade is None else trade
            value = trade_value
            for label, arr in (("trade", quantity), ("trade_value", value)):
                if arr is not None and arr.shape != shape:
                    raise DataError(f"{label} has shape {arr.shape}, expected {shape}")
            changes["trade"] = Flows.from_dense(quantity, value)
        if governance is not None:
            changes["governance"] = governance
        return replace(self, **changes)

    def with_content(self, fractions: np.ndarray) -> Dataset:
        r"""Return a copy whose flows use other content fractions of their products.

        Parameters
        ----------
        fractions
            One contained fraction per row of :attr:`products` (e.g. a Monte
            Carlo draw between ``content_low`` and ``content_high``).

        Notes
        -----
        .. math:: q^{content}_n = q^{gross}_n \cdot f_{product(n)}

        Flows that name no product keep their contained quantity.
        """
        if self.trade is None:
            return self
        f = np.asarray(fractions, dtype=float)
        if f.shape != (len(self.products),):
            raise DataError(
                f"fractions has shape {f.shape}, expected ({len(self.products)},): one per "
                f"product of the dataset"
            )
        tr = self.trade
        named = tr.product >= 0
        content = np.where(named, tr.gross * f[np.maximum(tr.product, 0)], tr.content)
        content = np.where(tr.usable, content, 0.0)
        new = replace(tr, content=content, priced=np.where(tr.has_value & tr.usable, content, 0.0))
        return replace(self, trade=new)

    def trade_array(self, what: str = "content") -> np.ndarray:
        """Dense ``[mineral, stage, year, exporter, importer]`` block of the flows.

        Parameters
        ----------
        what
            ``"content"`` (contained tonnes, the default), ``"gross"`` or ``"value"``.

        Raises
        ------
        DataError
            When the block would exceed :data:`DENSE_LIMIT` cells: select the
            minerals and the year first (:meth:`sel`).
        """
        m, s, t, c = self.shape
        shape = (m, s, t, c, c)
        if int(np.prod(shape, dtype=np.int64)) > DENSE_LIMIT:
            raise DataError(
                f"a dense trade block of {m} minerals x {s} stages x {t} years x {c}^2 "
                f"countries is too large; select the minerals and year first (Dataset.sel)"
            )
        if self.trade is None:
            return np.zeros(shape)
        return self.pairs.dense(what, shape)

    # -------------------------------------------------------------- governance
    def governance_year_for(self, year: int) -> int | None:
        """Latest governance year at or before ``year`` (None when there is none)."""
        candidates = [int(y) for y in self.governance_years if int(y) <= int(year)]
        return max(candidates) if candidates else None

    def governance_at(self, year: int) -> tuple[np.ndarray, int | None]:
        """Governance matrix ``[indicator, country]`` used for ``year``.

        Returns the estimates of :meth:`governance_year_for` and that year; an
        all-NaN matrix and None when the dataset has no governance that early.
        """
        gyear = self.governance_year_for(year)
        if gyear is None:
            return np.full((len(WGI_INDICATORS), len(self.countries)), np.nan), None
        return self.governance[:, self.governance_years.get_loc(gyear), :], gyear

    def years_with(self, what: str) -> list[int]:
        """Years in which the dataset has ``"production"`` figures or ``"trade"`` flows."""
        if what == "production":
            present = (self.production > 0).any(axis=(0, 1, 3))
        elif what == "trade":
            present = np.zeros(len(self.years), dtype=bool)
            if self.trade is not None and len(self.trade):
                present = np.bincount(self.trade.year, minlength=len(self.years)) > 0
        else:
            raise UnknownLabelError("table", [what], ["production", "trade"])
        return [int(y) for y in self.years[np.flatnonzero(present)]]

    def latest_year(self) -> int:
        """Latest year with both production and trade (latest with production without trade).

        The default year of ``riskengine score`` and the stress tools.
        """
        with_prod = (self.production > 0).any(axis=(0, 1, 3))
        if self.trade is not None and len(self.trade):
            with_trade = np.bincount(self.trade.year, minlength=len(self.years)) > 0
            both = np.flatnonzero(with_prod & with_trade)
            if len(both):
                return int(self.years[both[-1]])
        years = np.flatnonzero(with_prod)
        if len(years):
            return int(self.years[years[-1]])
        if not len(self.years):
            raise DataError(f"the dataset {self.name!r} has no years")
        return int(self.years[-1])

    # ----------------------------------------------------------------- frames
    def production_frame(self) -> pd.DataFrame:
        """Production as a tidy long table (non-zero entries), contained tonnes."""
        cells = np.nonzero(self.production)
        return label_frame(
            {
                "mineral": (self.minerals, cells[0]),
                "stage": (self.stages, cells[1]),
                "year": (self.years, cells[2]),
                "country": (self.countries, cells[3]),
            },
            {"quantity": self.production[cells]},
        )

    def trade_frame(self, *, by_product: bool = False) -> pd.DataFrame:
        """Trade as a tidy long table: contained and gross tonnes, USD, flags.

        Parameters
        ----------
        by_product
            One row per product (the flows as loaded) instead of per pair.
        """
        tr = (self.trade if by_product else self.pairs) or Flows.empty()
        coords = {
            "mineral": (self.minerals, tr.mineral),
            "stage": (self.stages, tr.stage),
            "year": (self.years, tr.year),
            "exporter": (self.countries, tr.exporter),
            "importer": (self.countries, tr.importer),
        }
        if by_product:
            ids = pd.Index([*self.products["product"].astype(str).tolist(), ""])
            coords["product"] = (ids, np.where(tr.product < 0, len(ids) - 1, tr.product))
        return label_frame(
            coords,
            {
                "content_t": tr.content,
                "gross_t": tr.gross,
                "value_usd": np.where(tr.has_value, tr.value, np.nan),
                "has_quantity": tr.has_quantity,
                "screened": tr.screened,
            },
        )

    def __repr__(self) -> str:
        trade = f"{len(self.trade):,} flows" if self.trade is not None else "no trade"
        years = f"{self.years.min()}-{self.years.max()}" if len(self.years) else "no years"
        return (
            f"<Dataset {self.name!r}: {len(self.minerals)} minerals x {len(self.stages)} stages x "
            f"{len(self.countries)} countries, years {years}, {trade}>"
        )

    # ---------------------------------------------------------- construction
    @classmethod
    def from_arrays(
        cls,
        *,
        minerals: Sequence[str] | pd.Index,
        years: Sequence[int] | pd.Index,
        countries: Sequence[str] | pd.Index,
        production: np.ndarray,
        trade: np.ndarray | None = None,
        trade_value: np.ndarray | None = None,
        governance: np.ndarray | None = None,
        governance_years: Sequence[int] | pd.Index = (),
        stages: Sequence[str] | pd.Index = STAGES,
        mineral_info: pd.DataFrame | None = None,
        name: str = "dataset",
    ) -> Dataset:
        """Build a dataset from dense arrays (small synthetic cases, tests).

        Parameters
        ----------
        minerals, years, countries, stages
            Coordinates.
        production
            ``[mineral, stage, year, country]`` contained tonnes, NaN = not given.
        trade, trade_value
            ``[mineral, stage, year, exporter, importer]`` contained tonnes and
            USD (None: no trade; no values). Zero cells are no flow.
        governance, governance_years
            ``[indicator, governance_year, country]`` WGI estimates.
        mineral_info, name
            Attributes and provenance.
        """
        c_idx = _axis(countries, "country")
        g_years = pd.Index(
            [int(y) for y in governance_years], name="governance_year", dtype="int64"
        )
        base = cls(
            minerals=_axis(minerals, "mineral"),
            stages=_axis(stages, "stage"),
            years=pd.Index([int(y) for y in years], name="year", dtype="int64"),
            countries=c_idx,
            production=np.nan_to_num(np.asarray(production, dtype=float), nan=0.0),
            production_missing=np.isnan(np.asarray(production, dtype=float)),
            trade=None,
            governance=(
                np.full((len(WGI_INDICATORS), len(g_years), len(c_idx)), np.nan)
                if governance is None
                else np.asarray(governance, dtype=float)
            ),
            governance_years=g_years,
            mineral_info=(
                pd.DataFrame(index=pd.Index([], name="mineral"))
                if mineral_info is None
                else mineral_info
            ),
            name=name,
        )
        if trade is None:
            return base
        return base.replace_arrays(
            trade=np.asarray(trade, dtype=float),
            trade_value=None if trade_value is None else np.asarray(trade_value, dtype=float),
        )

    @classmethod
    def from_tables(
        cls,
        tables: dict[str, pd.DataFrame],
        *,
        products: pd.DataFrame | None = None,
        minerals: Sequence[str] | str | None = None,
        years: Sequence[int] | int | None = None,
        name: str = "dataset",
        path: Path | None = None,
    ) -> Dataset:
        """Build a dataset from validated canonical tables.

        Parameters
        ----------
        tables
            ``{"production": ..., "trade": ..., "governance": ..., "minerals": ...}``
            as returned by :func:`riskengine.io.canonical.read_tables`;
            only ``production`` is required.
        products
            The product catalogue (:func:`riskengine.products.load_products`);
            None loads the packaged one (extended by ``path/products.csv``).
        minerals, years
            Restrict the dataset to these labels (None keeps all); unknown labels
            raise :class:`~riskengine.errors.UnknownLabelError`.
        name, path
            Provenance recorded on the dataset.

        Raises
        ------
        DataError
            When a trade row names a product the catalogue does not list for its
            mineral, or at another stage (every such row is listed).

        Notes
        -----
        A trade row naming a product carries the product's gross weight; its
        contained quantity is ``quantity x content`` with the catalogue's
        central content fraction. A row naming no product is taken as
        contained content at its stage (a note says how many). Flows failing
        the unit-value screen (:func:`screen_unit_values`) are kept with their
        value but left out of quantity measures, with a note naming them.
        """
        prod = tables["production"]
        trade = tables.get("trade")
        gov = tables.get("governance")
        info = tables.get("minerals")
        if minerals is not None and isinstance(minerals, str):
            minerals = [minerals]
        if years is not None and isinstance(years, int | np.integer):
            years = [int(years)]

        def labels(column: str, *frames: pd.DataFrame | None) -> set[Any]:
            found: set[Any] = set()
            for frame in frames:
                if frame is not None:
                    found.update(frame[column].unique().tolist())
            return found

        all_minerals = sorted(labels("mineral", prod, trade))
        all_years = sorted(int(y) for y in labels("year", prod, trade))
        if minerals is not None:
            unknown = [m for m in minerals if m not in all_minerals]
            if unknown:
                raise UnknownLabelError("mineral", unknown, all_minerals)
            all_minerals = [m for m in all_minerals if m in set(minerals)]
        if years is not None:
            wanted = {int(y) for y in years}
            unknown_y = sorted(wanted - set(all_years))
            if unknown_y:
                raise UnknownLabelError("year", unknown_y, all_years)
            all_years = [y for y in all_years if y in wanted]
        if minerals is not None or years is not None:
            mineral_set, year_set = set(all_minerals), set(all_years)
            prod = prod[prod["mineral"].isin(mineral_set) & prod["year"].isin(year_set)]
            if trade is not None:
                trade = trade[trade["mineral"].isin(mineral_set) & trade["year"].isin(year_set)]

        countries = (
            labels("country", prod, gov) | labels("exporter", trade) | labels("importer", trade)
        )
        m_idx = pd.Index(all_minerals, name="mineral")
        s_idx = pd.Index(list(STAGES), name="stage")
        t_idx = pd.Index(all_years, name="year", dtype="int64")
        c_idx = pd.Index(sorted(countries), name="country")

        shape = (len(m_idx), len(s_idx), len(t_idx), len(c_idx))
        production = np.zeros(shape)
        cell = (
            _codes(prod["mineral"], m_idx),
            _codes(prod["stage"], s_idx),
            _codes(prod["year"], t_idx),
            _codes(prod["country"], c_idx),
        )
        quantity = prod["quantity"].to_numpy(dtype=float)
        if "product" in prod.columns:
            quantity = quantity * _production_content(prod, products, path)
        production[cell] = np.nan_to_num(quantity, nan=0.0)
        missing = np.zeros(shape, dtype=bool)
        missing[cell] = np.isnan(quantity)

        product_table = _empty_products()
        flows: Flows | None = None
        if trade is not None:
            flows, product_table = _trade_flows(trade, products, path, m_idx, s_idx, t_idx, c_idx)

        if gov is not None and len(gov):
            g_years = pd.Index(sorted(set(gov["year"].astype(int))), name="governance_year")
            governance = np.full((len(WGI_INDICATORS), len(g_years), len(c_idx)), np.nan)
            governance[
                _codes(gov["indicator"], pd.Index(list(WGI_INDICATORS))),
                _codes(gov["year"], g_years),
                _codes(gov["country"], c_idx),
            ] = gov["value"].to_numpy(dtype=float)
        else:
            g_years = pd.Index([], name="governance_year", dtype="int64")
            governance = np.full((len(WGI_INDICATORS), 0, len(c_idx)), np.nan)

        if info is not None:
            mineral_info = info.set_index("mineral")
        else:
            mineral_info = pd.DataFrame(index=pd.Index([], name="mineral"))
        sources = {
            str(s)
            for table in (prod, trade, gov, info)
            if table is not None and "source" in table.columns
            for s in table["source"].dropna().unique()
            if s
        }
        return cls(
            minerals=m_idx,
            stages=s_idx,
            years=t_idx,
            countries=c_idx,
            production=production,
            production_missing=missing,
            trade=flows,
            governance=governance,
            governance_years=g_years,
            mineral_info=mineral_info,
            products=product_table,
            name=name,
            path=path,
            sources=tuple(sorted(sources)),
        )


def _axis(labels: Sequence[str] | pd.Index, name: str) -> pd.Index:
    """Coordinate index ``name`` of ``labels`` (an index of strings is kept as it is)."""
    if isinstance(labels, pd.Index) and labels.dtype == "str":
        return labels.rename(name)
    return pd.Index(list(labels), name=name)


def _select_flows(trade: Flows, maps: dict[str, np.ndarray], years: np.ndarray | None) -> Flows:
    """Recode flows to a selection.

    A run of consecutive years is a slice (views, no copy) when the flows are in
    year order, as :meth:`Dataset.from_tables` stores them.
    """
    if years is not None and len(years) and set(maps) == {"year"}:
        first, last = int(years.min()), int(years.max())
        consecutive = np.array_equal(np.sort(years), np.arange(first, last + 1))
        y = trade.year
        if consecutive and (len(y) < 2 or bool(np.all(y[1:] >= y[:-1]))):
            lo, hi = np.searchsorted(y, [first, last + 1])
            part = trade.take(slice(int(lo), int(hi)))
            return replace(part, year=maps["year"][part.year].astype(np.int32))
    return trade.recode(**maps)


def _lookup(table: dict[Any, int], label: Any) -> int:
    """Position of ``label`` in a label -> position table (-1: not there, or not a label)."""
    try:
        return table.get(label, -1)
    except TypeError:  # unhashable
        return -1


def label_column(labels: pd.Index, codes: np.ndarray) -> Any:
    """Return ``labels[codes]`` as a column of a frame.

    A typed index (strings, integers) hands over its own array: no object per row.
    """
    taken = labels.take(np.asarray(codes, dtype=np.intp))
    return taken.to_numpy() if taken.dtype == object else taken.array


def label_frame(
    coords: dict[str, tuple[pd.Index, np.ndarray]], columns: Mapping[str, np.ndarray | pd.Index]
) -> pd.DataFrame:
    """Tidy frame from integer codes and values: the one place kernel output gets labels.

    Parameters
    ----------
    coords
        ``{name: (labels, codes)}``: each output row's label is ``labels[codes]``.
    columns
        ``{name: values}``, one value per row (an array, or an index of labels).

    Examples
    --------
    >>> label_frame({"country": (pd.Index(["CHN", "JPN"]), np.array([1, 0]))},
    ...             {"score": np.array([0.5, 0.25])}).to_dict("list")
    {'country': ['JPN', 'CHN'], 'score': [0.5, 0.25]}
    """
    data: dict[str, Any] = {name: label_column(*coord) for name, coord in coords.items()}
    data.update(columns)
    return pd.DataFrame(data)


def _catalogue_rows(
    table: pd.DataFrame,
    file: str,
    products: pd.DataFrame | None,
    path: Path | None,
) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """Catalogue row of every row of ``table`` that names a product (-1 for the others).

    Returns the rows, the mask of rows naming a product and the mapped catalogue.

    Raises
    ------
    DataError
        Naming the file, line and column of every row whose product is not in the
        catalogue for its mineral, or sits at another stage there.
    """
    named = table["product"].fillna("").astype(str).to_numpy()
    has_product = named != ""
    rows = np.full(len(table), -1, dtype=np.int64)
    if not has_product.any():
        return rows, has_product, _empty_products()
    if products is None:
        from riskengine.products import load_products

        products = load_products(path)
    catalogue = products[products["mineral"].fillna("") != ""].reset_index(drop=True)
    key = pd.MultiIndex.from_arrays(
        [catalogue["product"].astype(str), catalogue["mineral"].astype(str)]
    )
    lines = np.flatnonzero(has_product)
    minerals = table["mineral"].to_numpy()[lines]
    pos = key.get_indexer(pd.MultiIndex.from_arrays([named[lines], minerals]))
    stage_cat = catalogue["stage"].to_numpy()[np.maximum(pos, 0)]
    stage_row = table["stage"].to_numpy()[lines]
    problems: list[str] = []
    for i in np.flatnonzero(pos < 0)[:50]:
        problems.append(
            f"{file} line {int(table.index[lines[i]]) + 2}, column 'product': "
            f"{named[lines[i]]!r} is not in the product catalogue for mineral "
            f"{minerals[i]!r}; add a row for it to products.csv in the dataset directory "
            f"(docs/data-format.md)"
        )
    wrong = (pos >= 0) & (stage_cat != stage_row)
    for i in np.flatnonzero(wrong)[:50]:
        problems.append(
            f"{file} line {int(table.index[lines[i]]) + 2}, column 'stage': "
            f"{named[lines[i]]!r} is a {stage_cat[i]} product in the catalogue, got "
            f"{stage_row[i]!r}; write {stage_cat[i]!r} or correct the catalogue row"
        )
    if problems:
        extra = int((pos < 0).sum() + wrong.sum()) - len(problems)
        if extra > 0:
            problems.append(f"... and {extra} more rows")
        raise DataError(
            f"{file}{'' if path is None else f' in {path}'} names products it cannot "
            f"convert to contained content:",
            problems,
        )
    rows[lines] = pos
    return rows, has_product, catalogue


def _production_content(
    prod: pd.DataFrame, products: pd.DataFrame | None, path: Path | None
) -> np.ndarray:
    """Content fraction of every production row (1 where no product is named)."""
    rows, named, catalogue = _catalogue_rows(prod, "production.csv", products, path)
    fraction = np.ones(len(prod))
    fraction[named] = catalogue["content"].to_numpy(dtype=float)[rows[named]]
    return fraction


def _codes(values: pd.Series, index: pd.Index) -> np.ndarray:
    """Positions of ``values`` in ``index`` (all must be present)."""
    return index.get_indexer(pd.Index(values))


def _trade_flows(
    trade: pd.DataFrame,
    products: pd.DataFrame | None,
    path: Path | None,
    m_idx: pd.Index,
    s_idx: pd.Index,
    t_idx: pd.Index,
    c_idx: pd.Index,
) -> tuple[Flows, pd.DataFrame]:
    """Flows in contained content from a validated trade table (see :meth:`Dataset.from_tables`)."""
    n = len(trade)
    quantity = trade["quantity"].to_numpy(dtype=float)
    product_row = np.full(n, -1, dtype=np.int64)
    fraction = np.ones(n)
    table = _empty_products()
    if "product" in trade.columns:
        rows, has_product, catalogue = _catalogue_rows(trade, "trade.csv", products, path)
        if has_product.any():
            used, local = np.unique(rows[has_product], return_inverse=True)
            table = catalogue.iloc[used][list(PRODUCT_COLUMNS)].reset_index(drop=True)
            product_row[has_product] = local
            fraction[has_product] = table["content"].to_numpy(dtype=float)[local]
        legacy = int((~has_product).sum())
    else:
        legacy = n
    if legacy:
        # the documented meaning of a row without a product, not a data gap:
        # logged here and counted by ``riskengine data check`` (content_basis_rows)
        logger.info(
            "%d trade row(s) name no product: their quantity is contained content at its stage",
            legacy,
        )
    value = trade["value_usd"].to_numpy(dtype=float)
    year = _codes(trade["year"], t_idx)
    group = np.where(
        product_row >= 0,
        product_row,
        len(table) + _codes(trade["mineral"], m_idx) * len(s_idx) + _codes(trade["stage"], s_idx),
    )
    screened = screen_unit_values(group, year, quantity, value)
    flows = Flows.build(
        mineral=_codes(trade["mineral"], m_idx),
        stage=_codes(trade["stage"], s_idx),
        year=year,
        exporter=_codes(trade["exporter"], c_idx),
        importer=_codes(trade["importer"], c_idx),
        product=product_row,
        content=quantity * fraction,
        gross=quantity,
        value=value,
        screened=screened,
    )
    # flows are kept in year order, so that one year is one contiguous slice
    return flows.take(np.argsort(flows.year, kind="stable")), table


def screen_unit_values(
    group: np.ndarray, year: np.ndarray, quantity: np.ndarray, value: np.ndarray
) -> np.ndarray:
    r"""Flows whose unit value marks a mis-recorded (inflated) quantity.

    Parameters
    ----------
    group
        Product of each flow (any integer code; flows of one product share it).
    year
        Year code of each flow.
    quantity, value
        Gross tonnes and US dollars (NaN where unknown).

    Returns
    -------
    ndarray of bool
        True for flows to leave out of quantity measures.

    Notes
    -----
    With :math:`u_n = \log_{10}(v_n / q_n)` the unit value of flow :math:`n` in
    USD per tonne and :math:`\tilde u_{p,t}` the value-weighted median over the
    flows of its product and year that have both a value and a quantity, a
    flow is screened when

    .. math:: u_n < \tilde u_{p,t} - 2

    i.e. when its unit value is below a hundredth of what half of the product's
    trade by value was paid that year. The median is weighted by value so that
    the mis-recorded tonnages themselves (large quantities, small values) do not
    move it, while bulk low-grade trade that carries real value (Philippine
    laterite nickel ore at about $20/t) sets it. Only the low side is screened:
    an inflated quantity inflates every share and balance, a deflated one is a
    small flow. Rare-earth compounds (HS 284690) trade at thousands of dollars
    per tonne; Benin's 40.7 kt at $53/t in BACI 2024 is screened. Only the
    quantity is distrusted: the value stays.
    """
    n = len(quantity)
    out = np.zeros(n, dtype=bool)
    ok = (quantity > 0) & (value > 0) & np.isfinite(quantity) & np.isfinite(value)
    if not ok.any():
        return out
    idx = np.flatnonzero(ok)
    u = np.log10(value[idx] / quantity[idx])
    w = value[idx]
    g = group[idx].astype(np.int64) * (int(year.max()) + 1) + year[idx]
    order = np.lexsort((u, g))
    g_sorted, u_sorted, w_sorted = g[order], u[order], w[order]
    starts = np.concatenate(([0], np.flatnonzero(g_sorted[1:] != g_sorted[:-1]) + 1))
    sizes = np.diff(np.append(starts, len(g_sorted)))
    run = np.repeat(np.arange(len(starts)), sizes)
    cum = np.cumsum(w_sorted)
    before = np.concatenate(([0.0], cum))[starts]  # value of earlier groups
    within = cum - before[run]
    half = 0.5 * np.add.reduceat(w_sorted, starts)
    # first flow of each group whose cumulative value reaches half the group's value
    reached = within >= half[run]
    first = np.full(len(starts), len(g_sorted) - 1)
    hits = np.flatnonzero(reached)
    np.minimum.at(first, run[hits], hits)
    median = u_sorted[first]
    low = u_sorted < median[run] - UNIT_VALUE_ORDERS
    out[idx[order[low]]] = True
    return out


# ---------------------------------------------------------------- checks
def check_missing_quantities(ds: Dataset) -> list[Finding]:
    """Production entries the source lists without a figure (withheld, not available)."""
    missing = np.argwhere(ds.production_missing)
    if not len(missing):
        return []
    items = tuple(
        f"{ds.minerals[m]}/{ds.stages[s]}/{ds.years[t]}/{ds.countries[c]}" for m, s, t, c in missing
    )
    return [
        Finding(
            "check_missing_quantities",
            f"{len(items)} production figure(s) are withheld or not available in the source "
            f"and are left out of shares: {', '.join(items[:12])}"
            + (" ..." if len(items) > 12 else ""),
            items,
        )
    ]


def check_minerals_described(ds: Dataset) -> list[Finding]:
    """Minerals with data but no row in ``minerals.csv`` (when that table exists)."""
    if ds.mineral_info.empty:
        return []
    undescribed = tuple(m for m in ds.minerals if m not in ds.mineral_info.index)
    if not undescribed:
        return []
    return [
        Finding(
            "check_minerals_described",
            f"minerals with data but no row in minerals.csv: {', '.join(undescribed)}; "
            f"add them so their names and attributes are known",
            undescribed,
        )
    ]


def check_trade_quantities(ds: Dataset) -> list[Finding]:
    """Trade flows with a value but no quantity."""
    if ds.trade is None:
        return []
    n = int((~ds.trade.has_quantity).sum())
    if not n:
        return []
    return [
        Finding(
            "check_trade_quantities",
            f"{n} trade flow(s) have no quantity (only a value); quantity-based measures "
            f"leave them out",
        )
    ]


def check_unit_values(ds: Dataset) -> list[Finding]:
    """Flows left out of quantity measures because their unit value marks a mis-recorded quantity.

    See :func:`screen_unit_values`; the message names the largest such flows.
    """
    if ds.trade is None or not ds.trade.screened.any():
        return []
    tr = ds.trade
    idx = np.flatnonzero(tr.screened)
    top = idx[np.argsort(-tr.gross[idx], kind="stable")][:8]
    items = tuple(
        f"{ds.countries[tr.exporter[i]]}->{ds.countries[tr.importer[i]]} "
        f"{ds.minerals[tr.mineral[i]]}/{ds.stages[tr.stage[i]]} {ds.years[tr.year[i]]} "
        f"{tr.gross[i]:,.0f} t at ${tr.value[i] / tr.gross[i]:,.0f}/t"
        for i in top
    )
    return [
        Finding(
            "check_unit_values",
            f"{len(idx):,} trade flow(s) have a unit value below 1/{10**UNIT_VALUE_ORDERS:,.0f} "
            f"of the value-weighted median of their product and year and are left out of "
            f"quantity measures (mis-recorded quantities), largest: " + "; ".join(items),
            items,
        )
    ]


def import_production_balance(ds: Dataset) -> pd.DataFrame:
    r"""World imports against world production, per mineral, stage and year, in contained tonnes.

    Returns
    -------
    pandas.DataFrame
        ``mineral, stage, year, imports_t, production_t, ratio`` for every
        (mineral, stage, year) with both trade and production, largest ratio
        first.

    Notes
    -----
    .. math:: r_{m,s,t} = \frac{\sum_{e,i} F_{m,s,t,e,i}}{\sum_c P_{m,s,t,c}}

    Re-exports allow some excess over 1; a ratio far above
    :data:`IMPORT_PRODUCTION_LIMIT` (1.6) means traded gross weight is being
    compared with contained metal, or a product sits at the wrong stage
    (``docs/methods.md``, "Contained content").
    """
    m, s, t, _ = ds.shape
    imports = np.zeros((m, s, t))
    if ds.trade is not None and len(ds.trade):
        key = ds.trade.key(("mineral", "stage", "year"), (m, s, t))
        imports = (
            np.bincount(key, weights=ds.trade.content, minlength=m * s * t)
            .reshape(m, s, t)
            .astype(float)
        )
    world = ds.production.sum(axis=-1)
    cells = np.nonzero((imports > 0) & (world > 0))
    frame = label_frame(
        {
            "mineral": (ds.minerals, cells[0]),
            "stage": (ds.stages, cells[1]),
            "year": (ds.years, cells[2]),
        },
        {"imports_t": imports[cells], "production_t": world[cells]},
    )
    frame["ratio"] = frame["imports_t"] / frame["production_t"]
    return frame.sort_values("ratio", ascending=False, kind="stable").reset_index(drop=True)


def check_import_production_balance(ds: Dataset) -> list[Finding]:
    """Mineral/stage/year cells whose world imports exceed 1.6 x world production."""
    table = import_production_balance(ds)
    over = table[table["ratio"] > IMPORT_PRODUCTION_LIMIT]
    if over.empty:
        return []
    items = tuple(
        f"{r.mineral}/{r.stage}/{r.year} {r.ratio:.1f}x" for r in over.itertuples(index=False)
    )
    return [
        Finding(
            "check_import_production_balance",
            f"world imports exceed {IMPORT_PRODUCTION_LIMIT}x world production (contained "
            f"tonnes) for {len(items)} mineral/stage/year(s): {', '.join(items[:12])}"
            + (" ..." if len(items) > 12 else "")
            + "; check the products' content fractions and stages (riskengine data check)",
            items,
        )
    ]


CHECKS: tuple[Callable[[Dataset], list[Finding]], ...] = (
    check_missing_quantities,
    check_minerals_described,
    check_trade_quantities,
    check_unit_values,
    check_import_production_balance,
)


def warn_findings(ds: Dataset, *, strict: bool = False) -> list[Finding]:
    """Run :func:`check_dataset` and issue every finding as a :class:`RiskEngineWarning`."""
    findings = check_dataset(ds, strict=strict)
    for finding in findings:
        warnings.warn(finding.message, RiskEngineWarning, stacklevel=3)
    return findings


def check_dataset(ds: Dataset, *, strict: bool = False) -> list[Finding]:
    """Run every consistency check.

    Parameters
    ----------
    ds
        The dataset.
    strict
        Raise :class:`~riskengine.errors.ConsistencyError` on any finding
        instead of returning it.

    Returns
    -------
    list of Finding
    """
    findings = [f for check in CHECKS for f in check(ds)]
    if strict and findings:
        raise ConsistencyError(
            f"the dataset {ds.name!r} fails {len(findings)} consistency check(s) "
            f"(strict mode; pass strict=False to continue with warnings):",
            [f.message for f in findings],
        )
    return findings


# ---------------------------------------------------------------- loading
@cache
def default_data_dir() -> Path:
    """Directory of the embedded default dataset.

    The wheel ships it as ``riskengine/_data``; in a source checkout it is the
    top-level ``data/`` folder.
    """
    packaged = Path(__file__).resolve().parent / "_data"
    if packaged.is_dir():
        return packaged
    checkout = Path(__file__).resolve().parents[1] / "data"
    if checkout.is_dir():
        return checkout
    raise DataError(
        "the embedded default dataset is missing from this installation; reinstall "
        "riskengine or pass a dataset directory"
    )


def read_dataset_tables(path: str | Path | None = None) -> tuple[dict[str, pd.DataFrame], Path]:
    """Read and validate the canonical tables of a dataset directory.

    Returns the tables and the resolved directory (the default dataset when
    ``path`` is None).
    """
    from riskengine.io.canonical import read_tables

    directory = default_data_dir() if path is None else Path(path)
    return read_tables(directory), directory


#: Name of the pre-validated binary form shipped beside the default dataset's tables.
SHIPPED_CACHE = "dataset.npz"

#: Version of the binary layout; a cache of another version is rebuilt.
CACHE_VERSION = 3

#: The canonical tables (:data:`riskengine.io.canonical.SCHEMAS`), named here so that
#: finding a dataset's files does not import the validator.
TABLE_NAMES: tuple[str, ...] = (
    "production",
    "trade",
    "governance",
    "minerals",
    "export_shares",
    "outlook",
)


def input_files(directory: Path) -> list[Path]:
    """List the files a dataset is built from: its tables and its ``products.csv``.

    The packaged product catalogue counts too: a change to it changes every
    dataset's contained quantities.
    """
    files = []
    for name in TABLE_NAMES:
        for suffix in (".csv", ".csv.gz"):
            if (candidate := directory / f"{name}{suffix}").is_file():
                files.append(candidate)
                break
    own = directory / "products.csv"
    if own.is_file():
        files.append(own)
    packaged = Path(__file__).resolve().parent / "products.csv"
    if packaged.is_file():
        files.append(packaged)
    return files


#: Modules whose code decides what a dataset's binary form holds; a change to any
#: of them changes every cache key, so no cache outlives the code that wrote it.
LOADER_MODULES: tuple[str, ...] = (
    "dataset.py",
    "flows.py",
    "products.py",
    "io/canonical.py",
    "io/countries.py",
)


def input_hash(directory: Path) -> str:
    """BLAKE2 hash of the dataset's input files and of the code that loads them.

    Covers the names and contents of :func:`input_files`, the loader modules
    (:data:`LOADER_MODULES`) and :data:`CACHE_VERSION`. Each file's own digest
    is remembered with its size and modification time (:func:`file_digest`), so
    unchanged inputs are not read again.
    """
    h = hashlib.blake2b(digest_size=16)
    h.update(f"riskengine-dataset-v{CACHE_VERSION}".encode())
    package = Path(__file__).resolve().parent
    known = _read_digests()
    seen: dict[str, list[Any]] = {}
    for file in [*input_files(directory), *(package / m for m in LOADER_MODULES)]:
        h.update(file.name.encode())
        h.update(file_digest(file, known, seen).encode())
    if any(known.get(k) != v for k, v in seen.items()):
        _write_digests({**known, **seen})
    return h.hexdigest()


#: File, under :func:`cache_dir`, remembering each input's (size, mtime, digest).
DIGESTS_FILE = "input-digests.json"


def file_digest(file: Path, known: dict[str, list[Any]], seen: dict[str, list[Any]]) -> str:
    """BLAKE2 digest of ``file``, reused from ``known`` while its size and mtime are unchanged.

    The same rule as Python's bytecode cache: a file rewritten with the same
    size within one modification-time tick would be missed; every tool that
    writes riskengine's tables replaces the file, which changes its mtime.
    """
    stat = file.stat()
    key = str(file.resolve())
    entry = known.get(key)
    if entry is not None and entry[:2] == [stat.st_size, stat.st_mtime_ns]:
        seen[key] = entry
        return str(entry[2])
    digest = hashlib.blake2b(file.read_bytes(), digest_size=16).hexdigest()
    seen[key] = [stat.st_size, stat.st_mtime_ns, digest]
    return digest


def _read_digests() -> dict[str, list[Any]]:
    import json

    try:
        data = json.loads((cache_dir() / DIGESTS_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_digests(digests: dict[str, list[Any]]) -> None:
    """Write the digests file atomically; a failure only costs re-reading the inputs."""
    import json

    target = cache_dir() / DIGESTS_FILE
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{DIGESTS_FILE}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as out:
                json.dump(digests, out)
            os.replace(tmp, target)
        finally:
            Path(tmp).unlink(missing_ok=True)
    except OSError as exc:
        logger.info("could not write %s (%s)", target, exc)


def cache_dir() -> Path:
    """Where validated datasets are cached: ``$RISKENGINE_CACHE_DIR``, else the user cache.

    ``$XDG_CACHE_HOME/riskengine`` or ``~/.cache/riskengine``.
    """
    env = os.environ.get("RISKENGINE_CACHE_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "riskengine"


def save_binary(ds: Dataset, file: Path, key: str) -> None:
    """Write ``ds`` in the binary form, atomically (temporary file, then rename).

    A reader sees the old file or the new one, never a partial one.
    """
    arrays: dict[str, np.ndarray] = {
        "key": np.array(key),
        "name": np.array(ds.name),
        "minerals": ds.minerals.to_numpy(dtype=str),
        "stages": ds.stages.to_numpy(dtype=str),
        "years": ds.years.to_numpy(dtype=np.int64),
        "countries": ds.countries.to_numpy(dtype=str),
        # production is mostly zeros: stored as its non-zero or missing cells
        "production_cells": (cells := _production_cells(ds)),
        "production_values": ds.production.ravel()[cells],
        "production_missing": ds.production_missing.ravel()[cells],
        "governance": ds.governance,
        "governance_years": ds.governance_years.to_numpy(dtype=np.int64),
        "sources": np.array(ds.sources, dtype=str),
        "info_index": ds.mineral_info.index.to_numpy(dtype=str),
        "info_columns": np.array(list(ds.mineral_info.columns), dtype=str),
        "product_columns": np.array(list(ds.products.columns), dtype=str),
        "has_trade": np.array(ds.trade is not None),
    }
    for column in ds.mineral_info.columns:
        arrays[f"info:{column}"] = _column_array(ds.mineral_info[column])
    for column in ds.products.columns:
        arrays[f"product:{column}"] = _column_array(ds.products[column])
    if ds.trade is not None:
        # three stacked arrays (codes, amounts, flags): fewer members to read back
        tr = ds.trade
        codes = np.stack([getattr(tr, name) for name in COORDS])
        arrays["trade:codes"] = codes.astype(_smallest_int(codes))
        arrays["trade:amounts"] = np.stack([getattr(tr, name) for name in STORED_AMOUNTS])
        arrays["trade:flags"] = np.stack([getattr(tr, name) for name in FLAGS])
    file.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=file.parent, prefix=f".{file.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            np.savez(out, **arrays)  # type: ignore[arg-type]
            out.flush()
            os.fsync(out.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; a cache is ordinary data
        os.replace(tmp, file)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


#: Flow amounts stored in the binary form; ``priced`` and ``priced_value`` are
#: recomputed from them and the flags when it is read.
STORED_AMOUNTS: tuple[str, ...] = ("content", "gross", "value")


def _production_cells(ds: Dataset) -> np.ndarray:
    """Flat positions of the production cells that hold a figure or a missing mark."""
    return np.flatnonzero((ds.production != 0) | ds.production_missing)


def _smallest_int(values: np.ndarray) -> type[np.signedinteger]:
    """Return the narrowest signed integer type holding ``values`` (codes, -1 included)."""
    top = int(values.max()) if len(values) else 0
    for kind in (np.int8, np.int16, np.int32):
        if top <= np.iinfo(kind).max:
            return kind
    return np.int64


def _column_array(column: pd.Series) -> np.ndarray:
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        return column.to_numpy(dtype=float)
    if pd.api.types.is_bool_dtype(column):
        return column.to_numpy(dtype=bool)
    return column.fillna("").astype(str).to_numpy(dtype=str)


def load_binary(file: Path, key: str | None, *, path: Path | None = None) -> Dataset | None:
    """Read a dataset written by :func:`save_binary`; None when absent, stale or unreadable."""
    try:
        with np.load(file, allow_pickle=False) as z:
            if key is not None and str(z["key"]) != key:
                return None
            data = {k: z[k] for k in z.files}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        logger.info("ignoring the dataset cache %s (%s)", file, exc)
        return None
    info = pd.DataFrame(
        {c: data[f"info:{c}"] for c in data["info_columns"]},
        index=pd.Index(data["info_index"].astype(object), name="mineral"),
    )
    for c in info.columns:
        if info[c].dtype.kind == "U":
            info[c] = info[c].astype(object).where(info[c] != "", None)
    products = pd.DataFrame({c: data[f"product:{c}"] for c in data["product_columns"]})
    for c in products.columns:
        if products[c].dtype.kind == "U":
            products[c] = products[c].astype(object)
    trade = None
    if bool(data["has_trade"]):
        stored = {
            **dict(zip(COORDS, data["trade:codes"], strict=True)),
            **dict(zip(STORED_AMOUNTS, data["trade:amounts"], strict=True)),
            **dict(zip(FLAGS, data["trade:flags"], strict=True)),
        }
        priced = stored["has_value"] & stored["has_quantity"] & ~stored["screened"]
        trade = Flows(
            **stored,
            priced=np.where(priced, stored["content"], 0.0),
            priced_value=np.where(priced, stored["value"], 0.0),
        )
    shape = (len(data["minerals"]), len(data["stages"]), len(data["years"]), len(data["countries"]))
    production = np.zeros(shape)
    production_missing = np.zeros(shape, dtype=bool)
    production.ravel()[data["production_cells"]] = data["production_values"]
    production_missing.ravel()[data["production_cells"]] = data["production_missing"]
    return Dataset(
        minerals=pd.Index(data["minerals"].astype(object), name="mineral"),
        stages=pd.Index(data["stages"].astype(object), name="stage"),
        years=pd.Index(data["years"], name="year", dtype="int64"),
        countries=pd.Index(data["countries"].astype(object), name="country"),
        production=production,
        production_missing=production_missing,
        trade=trade,
        governance=data["governance"],
        governance_years=pd.Index(data["governance_years"], name="governance_year", dtype="int64"),
        mineral_info=info,
        products=products,
        name=str(data["name"]),
        path=path,
        sources=tuple(data["sources"].tolist()),
    )


def build_dataset(directory: Path, name: str) -> Dataset:
    """Read, validate and convert a dataset directory (no cache)."""
    tables, directory = read_dataset_tables(directory)
    return Dataset.from_tables(tables, name=name, path=directory)


def load_dataset(
    path: str | Path | None = None,
    *,
    minerals: Sequence[str] | str | None = None,
    years: Sequence[int] | int | None = None,
    strict: bool = False,
    cache: bool = True,
    check: bool = True,
) -> Dataset:
    """Read, validate and align a dataset directory, through the binary cache.

    Parameters
    ----------
    path
        Dataset directory (``production.csv`` and optionally ``trade.csv``,
        ``governance.csv``, ``minerals.csv``, ``products.csv``); None loads the
        embedded default.
    minerals, years
        Keep only these labels.
    strict
        Turn consistency warnings into a :class:`~riskengine.errors.ConsistencyError`.
    cache
        Use the binary cache: the validated dataset is stored under
        :func:`cache_dir` keyed by a hash of the input files (rebuilt when any
        changes, written atomically); the embedded dataset ships its own
        (``data/dataset.npz``). False reads and validates the tables.
    check
        Run the consistency checks (:func:`check_dataset`) on what is returned
        and issue the findings as warnings. False skips them (a caller that
        selects a year or minerals afterwards checks its own selection).

    Returns
    -------
    Dataset

    Raises
    ------
    DataError
        Listing every invalid row of every table at once.

    Examples
    --------
    >>> ds = load_dataset()
    >>> "cobalt" in ds.minerals
    True
    """
    directory = default_data_dir() if path is None else Path(path)
    if not directory.is_dir():
        raise DataError(
            f"dataset directory {directory} does not exist; pass a directory holding "
            f"production.csv (and optionally trade.csv, governance.csv, minerals.csv)"
        )
    from riskengine.io.atomic import settle

    settle(directory)  # an import interrupted after its commit point is finished first
    name = DEFAULT_DATA_NAME if path is None else str(directory)
    ds: Dataset | None = None
    ds = _cached(directory, name) if cache else build_dataset(directory, name)
    ds = replace(ds, name=name, path=directory)
    if minerals is not None or years is not None:
        ds = ds.sel(minerals=minerals, years=years)
    if check:
        warn_findings(ds, strict=strict)
    return ds


def _cached(directory: Path, name: str) -> Dataset:
    """Return the dataset of ``directory`` from the binary cache, building it when stale."""
    try:
        key = input_hash(directory)
    except OSError as exc:
        raise DataError(f"cannot read the dataset in {directory}: {exc}") from exc
    shipped = directory / SHIPPED_CACHE
    if shipped.is_file():
        ds = load_binary(shipped, key, path=directory)
        if ds is not None:
            return ds
    file = cache_dir() / f"dataset-{key}.npz"
    if file.is_file():
        ds = load_binary(file, key, path=directory)
        if ds is not None:
            return ds
    ds = build_dataset(directory, name)
    try:
        save_binary(ds, file, key)
    except OSError as exc:
        logger.info("could not write the dataset cache %s (%s)", file, exc)
    return ds
