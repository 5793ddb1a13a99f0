"""The :class:`Dataset`: validated tables aligned on one canonical coordinate set.

A dataset directory (see ``docs/data-format.md``) is read and validated by
:mod:`riskengine.io.canonical`, then scattered into dense tensors:

========================  =================================================
``production``            ``[mineral, stage, year, country]``, tonnes
``trade_quantity``        ``[mineral, stage, year, exporter, importer]``, tonnes
``trade_value``           ``[mineral, stage, year, exporter, importer]``, USD
``governance``            ``[indicator, governance_year, country]``, WGI estimates
========================  =================================================

Absent rows are zeros (a country the source does not list produces nothing);
rows the source lists without a figure (withheld, not available) are NaN and
reported by :func:`check_missing_quantities`. Governance has its own year axis
because WGI releases lag production statistics; methods pick the latest
governance year at or before the year they score and record which.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from riskengine.dims import STAGES, WGI_INDICATORS
from riskengine.errors import ConsistencyError, CoordinateError, DataError, UnknownLabelError
from riskengine.io.canonical import read_tables

logger = logging.getLogger(__name__)

DEFAULT_DATA_NAME = "riskengine default dataset"


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


@dataclass(frozen=True, eq=False)
class Dataset:
    """Dense, labelled tensors of one dataset on one canonical coordinate set.

    Build one with :func:`load_dataset` or :meth:`from_tables`; derive subsets
    with :meth:`sel` and modified copies with :meth:`replace_arrays`. Instances
    are never modified in place.

    Attributes
    ----------
    minerals, stages, years, countries : pandas.Index
        The canonical coordinates. ``countries`` is also the exporter, importer
        and partner axis.
    production : ndarray
        ``[mineral, stage, year, country]`` in tonnes; NaN where the source
        lists a country without a figure.
    trade_quantity, trade_value : ndarray or None
        ``[mineral, stage, year, exporter, importer]`` in tonnes and USD; None
        when the dataset has no trade table.
    governance : ndarray
        ``[indicator, governance_year, country]`` WGI estimates (indicators in
        :data:`~riskengine.dims.WGI_INDICATORS` order); NaN where missing.
    governance_years : pandas.Index
        Years of the governance axis.
    mineral_info : pandas.DataFrame
        Mineral attributes indexed by mineral id (name, eol_rir, ...).
    name : str
        Human-readable name (the directory, or the default dataset).
    path : Path or None
        Directory the dataset was read from.
    """

    minerals: pd.Index
    stages: pd.Index
    years: pd.Index
    countries: pd.Index
    production: np.ndarray
    trade_quantity: np.ndarray | None
    trade_value: np.ndarray | None
    governance: np.ndarray
    governance_years: pd.Index
    mineral_info: pd.DataFrame
    name: str = "dataset"
    path: Path | None = None
    sources: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        m, s, t, c = len(self.minerals), len(self.stages), len(self.years), len(self.countries)
        expected = {
            "production": (m, s, t, c),
            "trade_quantity": (m, s, t, c, c),
            "trade_value": (m, s, t, c, c),
            "governance": (len(WGI_INDICATORS), len(self.governance_years), c),
        }
        for attr, shape in expected.items():
            arr = getattr(self, attr)
            if arr is not None and arr.shape != shape:
                raise DataError(
                    f"Dataset.{attr} has shape {arr.shape}, expected {shape} from the "
                    f"coordinates (minerals, stages, years, countries)"
                )

    # ------------------------------------------------------------------ labels
    @property
    def has_trade(self) -> bool:
        """Whether the dataset carries bilateral trade."""
        return self.trade_quantity is not None

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
        pos = index.get_indexer(pd.Index(wanted))
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
            Also accept the names of :data:`riskengine.methods.base.REGIONS`
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
        from riskengine.methods.base import REGIONS

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
        minerals: Sequence[str] | None = None,
        stages: Sequence[str] | None = None,
        years: Sequence[int] | None = None,
    ) -> Dataset:
        """Return the dataset restricted to some minerals, stages or years.

        The country axis is kept whole, so exporters and importers stay aligned.
        """
        mi = self.positions("mineral", minerals) if minerals is not None else slice(None)
        si = self.positions("stage", stages) if stages is not None else slice(None)
        ti = self.positions("year", years) if years is not None else slice(None)

        def take(arr: np.ndarray | None) -> np.ndarray | None:
            if arr is None:
                return None
            out = arr
            for axis, idx in enumerate((mi, si, ti)):
                if not isinstance(idx, slice):
                    out = np.take(out, idx, axis=axis)
            return out

        production = take(self.production)
        assert production is not None
        return replace(
            self,
            minerals=self.minerals if isinstance(mi, slice) else self.minerals[mi],
            stages=self.stages if isinstance(si, slice) else self.stages[si],
            years=self.years if isinstance(ti, slice) else self.years[ti],
            production=production,
            trade_quantity=take(self.trade_quantity),
            trade_value=take(self.trade_value),
        )

    def replace_arrays(self, **arrays: np.ndarray | None) -> Dataset:
        """Return a copy with some tensors replaced (shapes are checked)."""
        allowed = {"production", "trade_quantity", "trade_value", "governance"}
        unknown = set(arrays) - allowed
        if unknown:
            raise UnknownLabelError("array", sorted(unknown), sorted(allowed))
        return replace(self, **arrays)  # type: ignore[arg-type]

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

    # ----------------------------------------------------------------- frames
    def production_frame(self) -> pd.DataFrame:
        """Production as a tidy long table (non-zero entries)."""
        idx = pd.MultiIndex.from_product(
            [self.minerals, self.stages, self.years, self.countries],
            names=["mineral", "stage", "year", "country"],
        )
        s = pd.Series(self.production.reshape(-1), index=idx, name="quantity")
        return s[s.ne(0)].reset_index()

    def __repr__(self) -> str:
        trade = "with trade" if self.has_trade else "no trade"
        years = f"{self.years.min()}-{self.years.max()}" if len(self.years) else "no years"
        return (
            f"<Dataset {self.name!r}: {len(self.minerals)} minerals x {len(self.stages)} stages x "
            f"{len(self.countries)} countries, years {years}, {trade}>"
        )

    # ---------------------------------------------------------- construction
    @classmethod
    def from_tables(
        cls,
        tables: dict[str, pd.DataFrame],
        *,
        minerals: Sequence[str] | None = None,
        years: Sequence[int] | None = None,
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
        minerals, years
            Restrict the dataset to these labels (None keeps all); unknown labels
            raise :class:`~riskengine.errors.UnknownLabelError`.
        name, path
            Provenance recorded on the dataset.
        """
        prod = tables["production"]
        trade = tables.get("trade")
        gov = tables.get("governance")
        info = tables.get("minerals")

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

        production = np.zeros((len(m_idx), len(s_idx), len(t_idx), len(c_idx)))
        production[
            m_idx.get_indexer(pd.Index(prod["mineral"])),
            s_idx.get_indexer(pd.Index(prod["stage"])),
            t_idx.get_indexer(pd.Index(prod["year"])),
            c_idx.get_indexer(pd.Index(prod["country"])),
        ] = prod["quantity"].to_numpy(dtype=float)

        trade_q: np.ndarray | None = None
        trade_v: np.ndarray | None = None
        if trade is not None:
            shape = (len(m_idx), len(s_idx), len(t_idx), len(c_idx), len(c_idx))
            trade_q = np.zeros(shape)
            trade_v = np.zeros(shape)
            key = (
                m_idx.get_indexer(pd.Index(trade["mineral"])),
                s_idx.get_indexer(pd.Index(trade["stage"])),
                t_idx.get_indexer(pd.Index(trade["year"])),
                c_idx.get_indexer(pd.Index(trade["exporter"])),
                c_idx.get_indexer(pd.Index(trade["importer"])),
            )
            trade_q[key] = trade["quantity"].to_numpy(dtype=float)
            trade_v[key] = trade["value_usd"].to_numpy(dtype=float)

        if gov is not None and len(gov):
            g_years = pd.Index(sorted(set(gov["year"].astype(int))), name="governance_year")
            governance = np.full((len(WGI_INDICATORS), len(g_years), len(c_idx)), np.nan)
            ind_idx = pd.Index(list(WGI_INDICATORS))
            governance[
                ind_idx.get_indexer(pd.Index(gov["indicator"])),
                g_years.get_indexer(pd.Index(gov["year"])),
                c_idx.get_indexer(pd.Index(gov["country"])),
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
            trade_quantity=trade_q,
            trade_value=trade_v,
            governance=governance,
            governance_years=g_years,
            mineral_info=mineral_info,
            name=name,
            path=path,
            sources=tuple(sorted(sources)),
        )


# ---------------------------------------------------------------- checks
def check_missing_quantities(ds: Dataset) -> list[Finding]:
    """Production entries the source lists without a figure (withheld, not available)."""
    missing = np.argwhere(np.isnan(ds.production))
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
    if ds.trade_quantity is None:
        return []
    n = int(np.isnan(ds.trade_quantity).sum())
    if not n:
        return []
    return [
        Finding(
            "check_trade_quantities",
            f"{n} trade flow(s) have no quantity (only a value); quantity-based measures "
            f"leave them out",
        )
    ]


CHECKS: tuple[Callable[[Dataset], list[Finding]], ...] = (
    check_missing_quantities,
    check_minerals_described,
    check_trade_quantities,
)


def latest_year(tables: dict[str, pd.DataFrame]) -> int:
    """Latest year with both production and trade (latest production year without trade).

    The default year of ``riskengine score`` and the stress tools.
    """
    years = set(tables["production"]["year"].astype(int))
    if "trade" in tables:
        both = years & set(tables["trade"]["year"].astype(int))
        if both:
            return max(both)
    return max(years)


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
    packaged = Path(str(resources.files("riskengine"))) / "_data"
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
    directory = default_data_dir() if path is None else Path(path)
    return read_tables(directory), directory


def load_dataset(
    path: str | Path | None = None,
    *,
    minerals: Sequence[str] | None = None,
    years: Sequence[int] | None = None,
    strict: bool = False,
) -> Dataset:
    """Read, validate and align a dataset directory.

    Parameters
    ----------
    path
        Dataset directory (``production.csv`` and optionally ``trade.csv``,
        ``governance.csv``, ``minerals.csv``); None loads the embedded default.
    minerals, years
        Load only these labels (faster for big datasets).
    strict
        Turn consistency warnings into a :class:`~riskengine.errors.ConsistencyError`.

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
    tables, directory = read_dataset_tables(path)
    name = DEFAULT_DATA_NAME if path is None else str(directory)
    ds = Dataset.from_tables(tables, minerals=minerals, years=years, name=name, path=directory)
    warn_findings(ds, strict=strict)
    return ds
