"""Registry of seeded benchmark cases, from toy size to world scale.

A case builds :class:`Inputs`: dense arrays in riskengine's layout
(``production[mineral, stage, year, country]``,
``trade[mineral, stage, year, exporter, importer]`` and the WGI political
stability estimate ``pv[year, country]``). :func:`long_tables` turns them into
the long tables a pandas user works with (one row per non-zero figure), so that
riskengine and the baselines read exactly the same numbers.

Synthetic cases are generated one mineral at a time into a preallocated array,
each mineral from its own seeded generator (``numpy.random.default_rng([seed,
mineral])``): the data do not depend on chunking and no temporary is larger than
one mineral's slice, so the world-scale case (100 minerals x 2 stages x 30
years x 250 x 250 countries, 375 M cells) costs its own 1.5 GB in float32 and
little more.

Real cases: the embedded default dataset, and the CEPII BACI extract in
``../shared/data/baci_hs92_minerals`` (when present) read with
:func:`riskengine.io.baci.read_baci`. BACI has trade only, so that case gets
seeded synthetic production and governance on BACI's own labels.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from riskengine.dims import STAGES

ROOT = Path(__file__).resolve().parents[1]
#: The BACI extract shipped next to the repository (absent on most machines).
BACI_DIR = ROOT.parent / "shared" / "data" / "baci_hs92_minerals"

#: Share of non-zero flows in the populated slices of the BACI HS92 mineral
#: extract: 1,003,339 flows over 53 (mineral, stage) pairs x 30 years x 228^2
#: country pairs = 1.2 %. (Over the whole dense tensor, where about half the
#: mineral-stage slices have no HS code, it is 0.6 %.) Synthetic cases fill
#: every slice at this density unless they say otherwise.
BACI_DENSITY = 0.012
#: Share of countries producing a mineral at a stage in a given year.
PRODUCER_FRACTION = 0.2
#: Share of countries (at least one) without a governance score (NaN in every
#: year), as for the territories the WGI does not cover (the default data lacks
#: PV for Curaçao and New Caledonia).
MISSING_PV_FRACTION = 0.01
FIRST_YEAR = 1995


@dataclass(frozen=True)
class Inputs:
    """Dense inputs of one case, in riskengine's layout, with their labels."""

    minerals: tuple[str, ...]
    stages: tuple[str, ...]
    years: tuple[int, ...]
    countries: tuple[str, ...]
    production: np.ndarray
    trade: np.ndarray
    pv: np.ndarray
    notes: tuple[str, ...] = ()

    @property
    def shape(self) -> dict[str, int]:
        """Sizes of the axes."""
        return {
            "minerals": len(self.minerals),
            "stages": len(self.stages),
            "years": len(self.years),
            "countries": len(self.countries),
        }

    @property
    def cells(self) -> int:
        """Number of cells of the trade tensor."""
        return int(self.trade.size)


@dataclass(frozen=True)
class LongTables:
    """The same data as long tables (non-zero figures only), as a pandas user has them.

    ``*_pos`` give, for every row, its position in the dense arrays; the
    baselines never see them, the runner uses them to compare results.
    """

    production: pd.DataFrame
    trade: pd.DataFrame
    governance: pd.DataFrame
    production_pos: tuple[np.ndarray, ...]
    trade_pos: tuple[np.ndarray, ...]


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
        Share of non-zero trade flows of a synthetic case.
    dtype
        Float type of the synthetic arrays.
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
    density: float = BACI_DENSITY
    dtype: str = "float64"
    seed: int = 20260101
    baselines: bool = True
    description: str = field(default="", compare=False)

    def unavailable(self) -> str | None:
        """Why this case cannot run here (None when it can)."""
        if self.kind != "baci":
            return None
        if not BACI_DIR.is_dir():
            return f"the BACI extract is not at {BACI_DIR}"
        try:
            from riskengine.io.baci import read_baci  # noqa: F401
        except ImportError:
            return "riskengine.io.baci.read_baci is not available yet"
        return None

    def build(self) -> Inputs:
        """Build the case's inputs."""
        if self.kind == "synthetic":
            return synthetic_inputs(
                self.minerals, self.countries, self.years, self.density, self.dtype, self.seed
            )
        if self.kind == "default":
            return default_inputs()
        if self.kind == "baci":
            return baci_inputs(self.seed)
        raise ValueError(f"unknown case kind {self.kind!r}")


# --------------------------------------------------------------------------- synthetic


def synthetic_inputs(
    n_minerals: int,
    n_countries: int,
    n_years: int,
    density: float,
    dtype: str = "float64",
    seed: int = 0,
) -> Inputs:
    """Seeded synthetic inputs, generated one mineral at a time.

    Production: each country produces a mineral at a stage in a year with
    probability :data:`PRODUCER_FRACTION`, a log-normal quantity (median
    ~3,000 t, heavy tailed, so that concentration varies). Trade: each
    (exporter, importer) pair with ``exporter != importer`` trades with
    probability ``density``, a log-normal quantity. PV: uniform on
    [-2.5, 2.5], missing (NaN) for :data:`MISSING_PV_FRACTION` of the countries.
    """
    n_stages = len(STAGES)
    production = np.zeros((n_minerals, n_stages, n_years, n_countries), dtype=dtype)
    trade = np.zeros((n_minerals, n_stages, n_years, n_countries, n_countries), dtype=dtype)
    diag = np.arange(n_countries)
    for m in range(n_minerals):
        rng = np.random.default_rng([seed, m])
        producers = rng.random((n_stages, n_years, n_countries)) < PRODUCER_FRACTION
        production[m][producers] = rng.lognormal(8.0, 2.0, int(producers.sum()))
        links = rng.random((n_stages, n_years, n_countries, n_countries), dtype=np.float32)
        mask = links < density
        del links
        mask[..., diag, diag] = False
        trade[m][mask] = rng.lognormal(5.0, 2.0, int(mask.sum()))
    rng = np.random.default_rng([seed, 1_000_000])
    pv = rng.uniform(-2.5, 2.5, (n_years, n_countries))
    n_missing = max(1, round(MISSING_PV_FRACTION * n_countries))
    pv[:, rng.choice(n_countries, n_missing, replace=False)] = np.nan
    return Inputs(
        minerals=tuple(f"m{m:03d}" for m in range(n_minerals)),
        stages=STAGES,
        years=tuple(range(FIRST_YEAR, FIRST_YEAR + n_years)),
        countries=tuple(f"C{c:03d}" for c in range(n_countries)),
        production=production,
        trade=trade,
        pv=pv.astype(dtype),
        notes=(
            f"synthetic, seed {seed}, {dtype}; trade density {density:g}, "
            f"producer fraction {PRODUCER_FRACTION:g}, PV missing for {n_missing} "
            f"countr{'y' if n_missing == 1 else 'ies'}",
        ),
    )


# --------------------------------------------------------------------------- real data


def inputs_from_dataset(ds: object, notes: tuple[str, ...]) -> Inputs:
    """Build the inputs of a :class:`riskengine.Dataset`, prepared as the methods do.

    Missing quantities are 0, as in :attr:`riskengine.Dataset.production` and
    :meth:`riskengine.Dataset.trade_array` (a dense block: this case's
    dataset must stay below :data:`riskengine.dataset.DENSE_LIMIT` cells); PV
    is the latest governance year at or before each year
    (:func:`riskengine.methods.base.governance_by_year`).
    """
    from riskengine.dataset import Dataset
    from riskengine.methods.base import governance_by_year

    assert isinstance(ds, Dataset)
    if ds.trade is None:
        raise ValueError(f"dataset {ds.name!r} has no trade")
    gov, _ = governance_by_year(ds)
    return Inputs(
        minerals=tuple(ds.minerals),
        stages=tuple(ds.stages),
        years=tuple(int(y) for y in ds.years),
        countries=tuple(ds.countries),
        production=ds.production,
        trade=ds.trade_array(),
        pv=gov[1],
        notes=notes,
    )


def default_inputs() -> Inputs:
    """Build the inputs of the embedded default dataset."""
    from riskengine.dataset import load_dataset

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = load_dataset()
    return inputs_from_dataset(ds, ("the embedded default dataset (riskengine/data)",))


def baci_extra_tables(trade: pd.DataFrame, seed: int) -> dict[str, pd.DataFrame]:
    """Seeded synthetic production and PV tables on the labels of a BACI trade table.

    BACI has no production and no governance; GeoPolRisk needs both. The
    tables are canonical (validated by :func:`riskengine.dataset.Dataset.
    from_tables` like any other) and marked ``synthetic`` in ``source``.
    """
    minerals = sorted(set(trade["mineral"]))
    years = sorted({int(y) for y in trade["year"]})
    countries = sorted(set(trade["exporter"]) | set(trade["importer"]))
    rng = np.random.default_rng([seed, 2])
    grid = pd.MultiIndex.from_product(
        [minerals, list(STAGES), countries, years], names=["mineral", "stage", "country", "year"]
    ).to_frame(index=False)
    prod = grid[rng.random(len(grid)) < PRODUCER_FRACTION].reset_index(drop=True)
    prod["quantity"] = rng.lognormal(8.0, 2.0, len(prod))
    prod["unit"] = "t"
    prod["source"] = "synthetic (benchmarks.cases, seeded)"
    gov = pd.MultiIndex.from_product([countries, years], names=["country", "year"]).to_frame(
        index=False
    )
    gov["indicator"] = "PV"
    gov["value"] = rng.uniform(-2.5, 2.5, len(gov))
    gov["source"] = "synthetic (benchmarks.cases, seeded)"
    return {"production": prod, "governance": gov}


def baci_inputs(seed: int) -> Inputs:
    """Build the inputs of the BACI extract (real trade) with seeded production and PV."""
    from riskengine.dataset import Dataset
    from riskengine.io.baci import read_baci

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = read_baci(BACI_DIR)
        tables = {"trade": result.trade, **baci_extra_tables(result.trade, seed)}
        ds = Dataset.from_tables(tables, name=result.source)
    return inputs_from_dataset(
        ds,
        (
            f"{result.source}: {result.rows_read:,} source rows, {len(result.trade):,} flows "
            f"(real); production and PV synthetic, seed {seed}",
        ),
    )


# --------------------------------------------------------------------------- long tables


def _labels(values: tuple[str, ...], codes: np.ndarray) -> pd.api.extensions.ExtensionArray:
    return pd.array(np.asarray(values, dtype=object)[codes], dtype="str")


def long_tables(inputs: Inputs) -> LongTables:
    """Return the non-zero figures of ``inputs`` as long tables with string labels.

    Columns are those of riskengine's canonical tables (``mineral, stage,
    year, country|exporter|importer, quantity``; governance ``year, country,
    pv``), quantities in float64, so the baselines start from what a user
    reads from ``production.csv`` and ``trade.csv``.
    """
    p_pos = np.nonzero(inputs.production)
    production = pd.DataFrame(
        {
            "mineral": _labels(inputs.minerals, p_pos[0]),
            "stage": _labels(inputs.stages, p_pos[1]),
            "year": np.asarray(inputs.years, dtype=np.int64)[p_pos[2]],
            "country": _labels(inputs.countries, p_pos[3]),
            "quantity": inputs.production[p_pos].astype(np.float64),
        }
    )
    parts = [np.nonzero(inputs.trade[m]) for m in range(len(inputs.minerals))]
    t_pos = tuple(
        np.concatenate(
            [np.full(len(p[0]), m, dtype=np.intp) for m, p in enumerate(parts)]
            if axis == 0
            else [p[axis - 1] for p in parts]
        )
        for axis in range(5)
    )
    del parts
    trade = pd.DataFrame(
        {
            "mineral": _labels(inputs.minerals, t_pos[0]),
            "stage": _labels(inputs.stages, t_pos[1]),
            "year": np.asarray(inputs.years, dtype=np.int64)[t_pos[2]],
            "exporter": _labels(inputs.countries, t_pos[3]),
            "importer": _labels(inputs.countries, t_pos[4]),
            "quantity": inputs.trade[t_pos].astype(np.float64),
        }
    )
    t_idx, c_idx = np.meshgrid(
        np.arange(len(inputs.years)), np.arange(len(inputs.countries)), indexing="ij"
    )
    governance = pd.DataFrame(
        {
            "year": np.asarray(inputs.years, dtype=np.int64)[t_idx.ravel()],
            "country": _labels(inputs.countries, c_idx.ravel()),
            "pv": inputs.pv.ravel().astype(np.float64),
        }
    )
    return LongTables(production, trade, governance, p_pos, t_pos)


# --------------------------------------------------------------------------- registry


def _synthetic(
    name: str,
    group: str,
    m: int,
    c: int,
    t: int,
    *,
    baselines: bool = True,
    density: float = BACI_DENSITY,
    dtype: str = "float64",
) -> Case:
    return Case(
        name=name,
        kind="synthetic",
        group=group,
        minerals=m,
        countries=c,
        years=t,
        density=density,
        dtype=dtype,
        baselines=baselines,
        description=f"{m} minerals x 2 stages x {t} years x {c} x {c} countries, "
        f"density {density:g}, {dtype}",
    )


def registry(quick: bool = False) -> list[Case]:
    """Every case of the full run, or of the quick run.

    The size ladder (with baselines) goes from toy size to world scale; the
    density cases hold the size and vary the share of non-zero flows; the
    scaling sweeps vary one axis at a time (riskengine only).
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
        _synthetic("large", "size", 100, 250, 10),
        _synthetic("world", "size", 100, 250, 30, dtype="float32"),
        *(_synthetic(f"density-{d:g}", "density", 10, 250, 10, density=d)
          for d in (BACI_DENSITY, 0.1, 1.0)),
        *real,
        *(_synthetic(f"countries-{c}", "scaling-countries", 10, c, 10, baselines=False)
          for c in (25, 50, 100, 250)),
        *(_synthetic(f"minerals-{m}", "scaling-minerals", m, 250, 10, baselines=False)
          for m in (1, 10, 100)),
        *(_synthetic(f"years-{t}", "scaling-years", 10, 250, t, baselines=False)
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
