"""Registry of seeded benchmark cases, from toy size to world scale, on sparse flows.

A case builds a :class:`CaseData`: a :class:`riskengine.Dataset` (production
``[mineral, stage, year, country]``, trade as sparse :class:`~riskengine.flows.Flows`,
governance) and the WGI political stability estimate ``pv[year, country]`` the
methods use for each year. :func:`long_tables` turns it into the long tables a
pandas user works with (one row per non-zero figure), so that riskengine and the
baselines read exactly the same numbers.

Synthetic cases are generated one mineral at a time, each from its own seeded
generator (``numpy.random.default_rng([seed, mineral])``), straight into
coordinates: no dense exporter x importer tensor is ever built, and the data
do not depend on chunking. The world-scale case (100 minerals x 2 stages x 30
years x 249 x 249 countries at 1 % density, 3.7 M flows) costs about 250 MB.
:func:`synthetic_tables` gives the same data as canonical tables, which
:mod:`benchmarks.world` writes as CSV files.

Real cases: the embedded default dataset, and the CEPII BACI extract in
``../shared/data/baci_hs92_minerals`` (when present) read with
:func:`riskengine.io.baci.read_baci`. BACI has trade only, so that case gets
seeded synthetic production and governance on BACI's own labels.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from riskengine.dataset import Dataset
from riskengine.dims import OTHER_COUNTRIES, WGI_INDICATORS
from riskengine.flows import Flows

ROOT = Path(__file__).resolve().parents[1]
#: The BACI extract shipped next to the repository (absent on most machines).
BACI_DIR = ROOT.parent / "shared" / "data" / "baci_hs92_minerals"

#: Share of exporter x importer pairs with a flow in every synthetic slice: real
#: trade is about that sparse (the BACI HS92 mineral extract fills 1.2 % of the
#: pairs of the (mineral, stage) slices it covers, the default data 0.35 %).
DENSITY = 0.01
#: Share of countries producing a mineral at a stage in a given year.
PRODUCER_FRACTION = 0.2
#: Share of countries (at least one) without a governance score (no PV in any
#: year), as for the territories the WGI does not cover.
MISSING_PV_FRACTION = 0.01
#: The two stages of the synthetic cases (the composite's upstream factor needs both).
SYNTHETIC_STAGES: tuple[str, ...] = ("mining", "refining")
FIRST_YEAR = 1995
#: Label of the synthetic tables' ``source`` column.
SYNTHETIC_SOURCE = "synthetic (benchmarks.cases, seeded)"


@dataclass(frozen=True)
class CaseData:
    """A case's dataset, with what the kernels read besides it."""

    dataset: Dataset
    notes: tuple[str, ...] = ()

    @cached_property
    def pv(self) -> np.ndarray:
        """WGI PV ``[year, country]``: the latest governance year at or before each year."""
        from riskengine.methods.base import governance_by_year

        gov, _ = governance_by_year(self.dataset)
        return gov[WGI_INDICATORS.index("PV")]

    @property
    def flows(self) -> Flows:
        """The flows summed over products, one per (mineral, stage, year, exporter, importer)."""
        return self.dataset.pairs

    @property
    def shape(self) -> dict[str, int]:
        """Sizes of the axes."""
        m, s, t, c = self.dataset.shape
        return {"minerals": m, "stages": s, "years": t, "countries": c}

    @property
    def pairs(self) -> int:
        """Exporter x importer cells of the (mineral, stage, year) slices that have trade."""
        flows = self.flows
        m, s, t, c = self.dataset.shape
        slices = np.unique(flows.key(("mineral", "stage", "year"), (m, s, t)))
        return len(slices) * c * c

    @property
    def flow_bytes(self) -> int:
        """Bytes of the flows' arrays."""
        flows = self.flows
        return sum(getattr(flows, name).nbytes for name in flows.__dataclass_fields__)


@dataclass(frozen=True)
class LongTables:
    """The same data as long tables (non-zero figures only), as a pandas user has them.

    Text labels are categoricals (their codes made once, at load, as
    riskengine's coordinates are), years integers. ``production_cells`` gives
    each production row's position in ``Dataset.production``,
    ``trade_rows`` each trade row's position in ``Dataset.pairs``; the
    baselines never see them, the runner uses them to compare results.
    """

    production: pd.DataFrame
    trade: pd.DataFrame
    governance: pd.DataFrame
    production_cells: tuple[np.ndarray, ...]
    trade_rows: np.ndarray


@dataclass(frozen=True)
class Case:
    """One benchmark case.

    Attributes
    ----------
    name
        Unique name (used by ``--only``).
    kind
        ``"synthetic"``, ``"default"`` (the embedded dataset) or ``"baci"``.
    group
        ``"size"`` (the size ladder, with baselines), ``"density"``,
        ``"real"``, or a scaling sweep ``"scaling-countries"``,
        ``"scaling-minerals"``, ``"scaling-years"`` (riskengine only).
    minerals, countries, years
        Sizes of a synthetic case (two stages always).
    density
        Share of exporter x importer pairs with a flow.
    seed
        Seed of the generators.
    baselines
        Run the pandas and loop baselines on this case.
    """

    name: str
    kind: str
    group: str
    minerals: int = 0
    countries: int = 0
    years: int = 0
    density: float = DENSITY
    seed: int = 20260101
    baselines: bool = True
    description: str = field(default="", compare=False)

    def unavailable(self) -> str | None:
        """Why this case cannot run here (None when it can)."""
        if self.kind != "baci":
            return None
        if not BACI_DIR.is_dir():
            return f"the BACI extract is not at {BACI_DIR}"
        return None

    def build(self) -> CaseData:
        """Build the case's data."""
        if self.kind == "synthetic":
            return synthetic_case(
                self.minerals, self.countries, self.years, self.density, self.seed
            )
        if self.kind == "default":
            return default_case()
        if self.kind == "baci":
            return baci_case(self.seed)
        raise ValueError(f"unknown case kind {self.kind!r}")


# --------------------------------------------------------------------------- synthetic


def country_codes(n: int) -> list[str]:
    """Return the first ``n`` ISO 3166-1 alpha-3 codes in alphabetical order (at most 249)."""
    import pycountry

    codes = sorted(c.alpha_3 for c in pycountry.countries)
    if n > len(codes):
        raise ValueError(f"at most {len(codes)} countries, got {n}")
    return codes[:n]


@dataclass(frozen=True)
class Synthetic:
    """Seeded synthetic data in coordinates (see :func:`synthetic`)."""

    minerals: list[str]
    years: list[int]
    countries: list[str]
    production: np.ndarray
    flows: dict[str, np.ndarray]
    pv: np.ndarray
    notes: tuple[str, ...]


def synthetic(
    n_minerals: int, n_countries: int, n_years: int, density: float, seed: int = 0
) -> Synthetic:
    """Seeded synthetic data, generated one mineral at a time.

    Production: each country produces a mineral at a stage in a year with
    probability :data:`PRODUCER_FRACTION`, a log-normal quantity (median
    ~3,000 t, heavy tailed, so that concentration varies). Trade: each
    (exporter, importer) pair with ``exporter != importer`` trades with
    probability ``density``, a log-normal quantity (median ~150 t) and a
    log-normal unit value (median ~3,000 USD/t). PV: uniform on [-2.5, 2.5],
    missing for :data:`MISSING_PV_FRACTION` of the countries.
    """
    n_stages = len(SYNTHETIC_STAGES)
    production = np.zeros((n_minerals, n_stages, n_years, n_countries))
    parts: dict[str, list[np.ndarray]] = {
        k: [] for k in ("mineral", "stage", "year", "exporter", "importer", "content", "value")
    }
    diag = np.arange(n_countries)
    for m in range(n_minerals):
        rng = np.random.default_rng([seed, m])
        producers = rng.random((n_stages, n_years, n_countries)) < PRODUCER_FRACTION
        production[m][producers] = rng.lognormal(8.0, 2.0, int(producers.sum()))
        links = rng.random((n_stages, n_years, n_countries, n_countries), dtype=np.float32)
        mask = links < density
        del links
        mask[..., diag, diag] = False
        s, t, e, i = np.nonzero(mask)
        del mask
        content = rng.lognormal(5.0, 2.0, len(s))
        parts["mineral"].append(np.full(len(s), m, dtype=np.int32))
        for name, codes in (("stage", s), ("year", t), ("exporter", e), ("importer", i)):
            parts[name].append(codes.astype(np.int32))
        parts["content"].append(content)
        parts["value"].append(content * rng.lognormal(8.0, 0.5, len(s)))
    rng = np.random.default_rng([seed, 1_000_000])
    pv = rng.uniform(-2.5, 2.5, (n_years, n_countries))
    n_missing = max(1, round(MISSING_PV_FRACTION * n_countries))
    pv[:, rng.choice(n_countries, n_missing, replace=False)] = np.nan
    return Synthetic(
        minerals=[f"m{m:03d}" for m in range(n_minerals)],
        years=list(range(FIRST_YEAR, FIRST_YEAR + n_years)),
        countries=country_codes(n_countries),
        production=production,
        flows={k: np.concatenate(v) for k, v in parts.items()},
        pv=pv,
        notes=(
            f"synthetic, seed {seed}; trade density {density:g}, producer fraction "
            f"{PRODUCER_FRACTION:g}, PV missing for {n_missing} "
            f"countr{'y' if n_missing == 1 else 'ies'}",
        ),
    )


def synthetic_case(
    n_minerals: int, n_countries: int, n_years: int, density: float, seed: int = 0
) -> CaseData:
    """Build a synthetic :class:`CaseData`, its dataset straight from coordinates."""
    syn = synthetic(n_minerals, n_countries, n_years, density, seed)
    flows = Flows.build(**syn.flows)
    governance = np.full((len(WGI_INDICATORS), n_years, n_countries), np.nan)
    governance[WGI_INDICATORS.index("PV")] = syn.pv
    ds = Dataset(
        minerals=pd.Index(syn.minerals, name="mineral"),
        stages=pd.Index(list(SYNTHETIC_STAGES), name="stage"),
        years=pd.Index(syn.years, name="year", dtype="int64"),
        countries=pd.Index(syn.countries, name="country"),
        production=syn.production,
        production_missing=np.zeros(syn.production.shape, dtype=bool),
        trade=flows,
        governance=governance,
        governance_years=pd.Index(syn.years, name="governance_year", dtype="int64"),
        mineral_info=pd.DataFrame(index=pd.Index([], name="mineral")),
        name=f"synthetic {n_minerals}x{len(SYNTHETIC_STAGES)}x{n_years}x{n_countries}",
    )
    return CaseData(ds, syn.notes)


def synthetic_tables(syn: Synthetic) -> dict[str, pd.DataFrame]:
    """Return the synthetic data as canonical tables (``docs/data-format.md``).

    ``trade`` names no product, so its quantity is contained content; PV of the
    countries without a score has no row, as in the WGI files.
    """
    stages = pd.Index(list(SYNTHETIC_STAGES))
    minerals = pd.Index(syn.minerals)
    countries = pd.Index(syn.countries)
    years = np.asarray(syn.years, dtype=np.int64)
    m, s, t, c = np.nonzero(syn.production)
    production = pd.DataFrame(
        {
            "mineral": pd.Categorical.from_codes(m, minerals),
            "stage": pd.Categorical.from_codes(s, stages),
            "country": pd.Categorical.from_codes(c, countries),
            "year": years[t],
            "quantity": syn.production[m, s, t, c],
            "unit": "t",
            "source": SYNTHETIC_SOURCE,
        }
    )
    f = syn.flows
    trade = pd.DataFrame(
        {
            "mineral": pd.Categorical.from_codes(f["mineral"], minerals),
            "stage": pd.Categorical.from_codes(f["stage"], stages),
            "exporter": pd.Categorical.from_codes(f["exporter"], countries),
            "importer": pd.Categorical.from_codes(f["importer"], countries),
            "year": years[f["year"]],
            "quantity": f["content"],
            "value_usd": f["value"],
            "source": SYNTHETIC_SOURCE,
        }
    )
    t_idx, c_idx = np.nonzero(~np.isnan(syn.pv))
    governance = pd.DataFrame(
        {
            "country": pd.Categorical.from_codes(c_idx, countries),
            "year": years[t_idx],
            "indicator": "PV",
            "value": syn.pv[t_idx, c_idx],
            "source": SYNTHETIC_SOURCE,
        }
    )
    return {"production": production, "trade": trade, "governance": governance}


# --------------------------------------------------------------------------- real data


def default_case() -> CaseData:
    """Load the embedded default dataset, as ``riskengine.load_dataset()`` returns it."""
    from riskengine.dataset import load_dataset

    ds = load_dataset(check=False)
    return CaseData(ds, ("the embedded default dataset (data/)",))


def baci_extra_tables(trade: pd.DataFrame, seed: int) -> dict[str, pd.DataFrame]:
    """Seeded synthetic production and PV tables on the labels of a BACI trade table.

    BACI has no production and no governance; GeoPolRisk needs both. The
    tables are canonical (validated by :meth:`riskengine.Dataset.from_tables`
    like any other) and marked ``synthetic`` in ``source``.
    """
    minerals = sorted(set(trade["mineral"]))
    stages = sorted(set(trade["stage"]))
    years = sorted({int(y) for y in trade["year"]})
    countries = sorted(set(trade["exporter"]) | set(trade["importer"]))
    rng = np.random.default_rng([seed, 2])
    grid = pd.MultiIndex.from_product(
        [minerals, stages, countries, years], names=["mineral", "stage", "country", "year"]
    ).to_frame(index=False)
    prod = grid[rng.random(len(grid)) < PRODUCER_FRACTION].reset_index(drop=True)
    prod["quantity"] = rng.lognormal(8.0, 2.0, len(prod))
    prod["unit"] = "t"
    prod["source"] = SYNTHETIC_SOURCE
    gov = pd.MultiIndex.from_product([countries, years], names=["country", "year"]).to_frame(
        index=False
    )
    gov = gov[gov["country"] != OTHER_COUNTRIES].reset_index(drop=True)
    gov["indicator"] = "PV"
    gov["value"] = rng.uniform(-2.5, 2.5, len(gov))
    gov["source"] = SYNTHETIC_SOURCE
    return {"production": prod, "governance": gov}


def baci_case(seed: int) -> CaseData:
    """Read the BACI extract (real trade, in contained content); add seeded production and PV."""
    from riskengine.io.baci import read_baci

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = read_baci(BACI_DIR)
        tables = {"trade": result.trade, **baci_extra_tables(result.trade, seed)}
        ds = Dataset.from_tables(tables, name=result.source)
    return CaseData(
        ds,
        (
            f"{result.source}: {result.rows_read:,} source rows, {len(result.trade):,} trade "
            f"rows (real, converted to contained content with the product catalogue); "
            f"production and PV synthetic, seed {seed}",
        ),
    )


# --------------------------------------------------------------------------- long tables


def _labels(index: pd.Index, codes: np.ndarray) -> pd.Categorical:
    return pd.Categorical.from_codes(np.asarray(codes), categories=index.astype(str))


def long_tables(data: CaseData) -> LongTables:
    """Return the non-zero figures of a case as long tables with categorical labels.

    Columns are those of riskengine's canonical tables (``mineral, stage,
    year, country|exporter|importer, quantity``; governance ``year, country,
    pv``), quantities in contained tonnes as the methods use them (flows whose
    quantity is unknown or screened out have none and are left out), so the
    baselines start from what a user reads from ``production.csv`` and
    ``trade.csv`` with ``dtype="category"``.
    """
    ds = data.dataset
    years = ds.years.to_numpy(dtype=np.int64)
    cells = np.nonzero(ds.production)
    production = pd.DataFrame(
        {
            "mineral": _labels(ds.minerals, cells[0]),
            "stage": _labels(ds.stages, cells[1]),
            "year": years[cells[2]],
            "country": _labels(ds.countries, cells[3]),
            "quantity": ds.production[cells],
        }
    )
    flows = data.flows
    rows = np.flatnonzero(flows.content > 0)
    trade = pd.DataFrame(
        {
            "mineral": _labels(ds.minerals, flows.mineral[rows]),
            "stage": _labels(ds.stages, flows.stage[rows]),
            "year": years[flows.year[rows]],
            "exporter": _labels(ds.countries, flows.exporter[rows]),
            "importer": _labels(ds.countries, flows.importer[rows]),
            "quantity": flows.content[rows],
        }
    )
    t_idx, c_idx = np.meshgrid(np.arange(len(years)), np.arange(len(ds.countries)), indexing="ij")
    governance = pd.DataFrame(
        {
            "year": years[t_idx.ravel()],
            "country": _labels(ds.countries, c_idx.ravel()),
            "pv": data.pv.ravel(),
        }
    )
    return LongTables(production, trade, governance, cells, rows)


# --------------------------------------------------------------------------- registry


def _synthetic(
    name: str,
    group: str,
    m: int,
    c: int,
    t: int,
    *,
    baselines: bool = True,
    density: float = DENSITY,
) -> Case:
    return Case(
        name=name,
        kind="synthetic",
        group=group,
        minerals=m,
        countries=c,
        years=t,
        density=density,
        baselines=baselines,
        description=f"{m} minerals x 2 stages x {t} years x {c} x {c} countries, "
        f"density {density:g}",
    )


#: The world-scale case of the issue: 100 minerals x 2 stages x 30 years x 249 countries.
WORLD = _synthetic("world", "size", 100, 249, 30)


def registry(quick: bool = False) -> list[Case]:
    """Every case of the full run, or of the quick run.

    The size ladder (with baselines) goes from toy size to world scale; the
    density cases hold the size and vary the share of exporter x importer
    pairs with a flow; the scaling sweeps vary one axis at a time
    (riskengine only).
    """
    real = [
        Case("default", "default", "real", description="the embedded default dataset"),
        Case(
            "baci",
            "baci",
            "real",
            description="CEPII BACI HS92 V202401b mineral extract, 1995-2024 (real trade), "
            "seeded synthetic production and PV",
        ),
    ]
    if quick:
        return [
            _synthetic("toy", "size", 3, 20, 3),
            _synthetic("small", "size", 10, 50, 5),
            real[0],
            *(_synthetic(f"countries-{c}", "scaling-countries", 3, c, 3, baselines=False)
              for c in (25, 50, 100)),
            *(_synthetic(f"minerals-{m}", "scaling-minerals", m, 50, 3, baselines=False)
              for m in (1, 3, 10)),
            *(_synthetic(f"years-{t}", "scaling-years", 3, 50, t, baselines=False)
              for t in (1, 3, 10)),
        ]  # fmt: skip
    return [
        _synthetic("toy", "size", 3, 20, 3),
        _synthetic("small", "size", 10, 50, 5),
        _synthetic("medium", "size", 30, 150, 10),
        _synthetic("large", "size", 100, 249, 10),
        WORLD,
        *(_synthetic(f"density-{d:g}", "density", 10, 249, 10, density=d)
          for d in (0.001, DENSITY, 0.1)),
        *real,
        *(_synthetic(f"countries-{c}", "scaling-countries", 30, c, 10, baselines=False)
          for c in (25, 50, 100, 249)),
        *(_synthetic(f"minerals-{m}", "scaling-minerals", m, 249, 10, baselines=False)
          for m in (3, 10, 30, 100)),
        *(_synthetic(f"years-{t}", "scaling-years", 30, 249, t, baselines=False)
          for t in (1, 3, 10, 30)),
    ]  # fmt: skip


def select(cases: list[Case], only: list[str] | None) -> Iterator[Case]:
    """Yield the cases named in ``only`` (all when None); unknown names raise."""
    if not only:
        yield from cases
        return
    names = {c.name for c in cases}
    unknown = [n for n in only if n not in names]
    if unknown:
        raise SystemExit(
            f"unknown case(s) {', '.join(unknown)}; this mode has {', '.join(sorted(names))}"
        )
    yield from (c for c in cases if c.name in set(only))
