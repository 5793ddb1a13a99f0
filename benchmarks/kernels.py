"""What riskengine computes in each benchmark: its kernels on a case's sparse flows.

Each kernel is the computation as the scoring methods run it
(:mod:`riskengine.methods`): the output cell of every flow is computed from
its integer coordinates on each call (:func:`riskengine.methods.base.cell_keys`,
as the methods do), then reduced with segment sums (:func:`numpy.bincount`).
The production-side kernel works on the small dense production array, as the
methods do. Each kernel names the arrays one call must read (its floor is one
``numpy`` sum over each of them) and the baselines that compute the same numbers.

======================== ====================== =====================================
kernel                   complexity             computes
======================== ====================== =====================================
production_hhi           O(M·S·T·C)             HHI of production per (mineral, stage,
                                                year), the residual "XOT" row in the
                                                totals only (``weighted_hhi``)
import_mix               O(F + M·S·T·C)         each flow's share of its importer's
                                                imports: one bincount + one gather
import_hhi               O(F + M·S·T·C)         HHI of each importer's suppliers
                                                (``segment_hhi``)
geopolrisk               O(F + M·S·T·C)         GeoPolRisk import risk
                                                (``sparse_import_risk``) x HHI of mining
                                                production: the score per importer cell
import_reliance          O(F + M·S·T·C)         net import reliance from the importer
                                                and exporter segment sums
======================== ====================== =====================================

F flows, M minerals, S stages, T years, C countries. The ``*_keyed`` variants
(import mix and import HHI) take the importer cell of every flow computed
beforehand, to show what computing it once at load would save; their pandas
counterparts group by one precomputed categorical column.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from benchmarks.cases import CaseData
from riskengine import indices as ix
from riskengine.dims import Stage
from riskengine.methods.base import atomistic_weights, cell_keys


@dataclass(frozen=True)
class Kernel:
    """One riskengine computation benchmarked on a case.

    Attributes
    ----------
    name
        Kernel name (the baselines are keyed by it).
    complexity
        Its cost in flows and cells.
    exponents
        Expected growth of its time with each swept axis at fixed density.
    reads
        The arrays one call reads (its floor sums each once).
    make
        Returns the call to time.
    baseline
        Whether the pandas and loop baselines compute it.
    per_flow
        Whether it writes one value per flow (its floor adds a copy of the flows).
    keyed
        The same computation with the importer cells computed beforehand.
    """

    name: str
    complexity: str
    exponents: dict[str, int]
    reads: Callable[[CaseData], list[np.ndarray]]
    make: Callable[[CaseData], Callable[[], np.ndarray]]
    baseline: bool = False
    per_flow: bool = False
    keyed: Callable[[CaseData], Callable[[], np.ndarray]] | None = None


def mining_position(data: CaseData) -> int:
    """Return the position of the mining stage (GeoPolRisk's HHI stage)."""
    return int(data.dataset.positions("stage", [Stage.MINING.value])[0])


def production_hhi(data: CaseData) -> np.ndarray:
    """HHI of production per (mineral, stage, year), as the methods' concentration."""
    ds = data.dataset
    return ix.weighted_hhi(ds.production, atomistic_weights(ds))


def _mix(flows: np.ndarray, key: np.ndarray, size: int) -> np.ndarray:
    total = ix.segment_sum(key, flows, size)
    with np.errstate(divide="ignore", invalid="ignore"):
        return flows / total[key]


def import_mix(data: CaseData) -> np.ndarray:
    r"""Share of every flow in its importer's imports.

    .. math:: A_n = f_n / \sum_{m:\ key_m = key_n} f_m
    """
    key, size = cell_keys(data.dataset, "importer")
    return _mix(data.flows.content, key, size)


def import_hhi(data: CaseData) -> np.ndarray:
    """HHI of the suppliers of every (mineral, stage, year, importer) cell (flat, NaN: none)."""
    key, size = cell_keys(data.dataset, "importer")
    return ix.segment_hhi(key, data.flows.content, size)


def geopolrisk_score(data: CaseData) -> np.ndarray:
    r"""GeoPolRisk score ``[mineral, stage, year, importer]`` from the sparse flows.

    :math:`HHI_{A}` of mining production (per mineral and year) times the import
    risk :math:`\sum_e g_e f_{ei} / (p_i + \sum_e f_{ei})` with
    :math:`g_e = \mathrm{clip}((2.5 - PV_e) / 5, 0, 1)`, as
    :func:`riskengine.methods.geopolrisk.geopolrisk` computes it for countries
    (without its regions, its stage fallback for minerals without mine
    production, its prices and the labelling of the result).
    """
    ds = data.dataset
    flows = data.flows
    key, _ = cell_keys(ds, "importer")
    g = ix.geopolrisk_weight(data.pv)  # (T, C)
    risk = ix.sparse_import_risk(
        key, g[flows.year, flows.exporter], flows.content, ds.production.ravel()
    ).reshape(ds.shape)
    s = mining_position(data)
    hhi_a = ix.weighted_hhi(ds.production[:, s], atomistic_weights(ds))  # (M, T)
    return hhi_a[:, None, :, None] * risk


def import_reliance(data: CaseData) -> np.ndarray:
    """Net import reliance per (mineral, stage, year, country), from two segment sums."""
    ds = data.dataset
    f = data.flows.content
    key_i, size = cell_keys(ds, "importer")
    key_e, _ = cell_keys(ds, "exporter")
    imports = ix.segment_sum(key_i, f, size)
    exports = ix.segment_sum(key_e, f, size)
    return ix.net_import_reliance(ds.production.ravel(), imports, exports)


def _keyed_mix(data: CaseData) -> Callable[[], np.ndarray]:
    key, size = cell_keys(data.dataset, "importer")
    f = data.flows.content
    return lambda: _mix(f, key, size)


def _keyed_hhi(data: CaseData) -> Callable[[], np.ndarray]:
    key, size = cell_keys(data.dataset, "importer")
    f = data.flows.content
    return lambda: ix.segment_hhi(key, f, size)


def _importer_side(data: CaseData) -> list[np.ndarray]:
    f = data.flows
    return [f.mineral, f.stage, f.year, f.importer, f.content]


def _both_sides(data: CaseData) -> list[np.ndarray]:
    return [*_importer_side(data), data.flows.exporter]


def _geopolrisk_reads(data: CaseData) -> list[np.ndarray]:
    return [*_both_sides(data), data.dataset.production]


def _production(data: CaseData) -> list[np.ndarray]:
    return [data.dataset.production]


TRADE_EXPONENTS = {"minerals": 1, "years": 1, "countries": 2}

KERNELS: tuple[Kernel, ...] = (
    Kernel(
        "production_hhi",
        "O(M·S·T·C)",
        {"minerals": 1, "years": 1, "countries": 1},
        _production,
        lambda d: lambda: production_hhi(d),
        baseline=True,
    ),
    Kernel(
        "import_mix",
        "O(F + M·S·T·C)",
        TRADE_EXPONENTS,
        _importer_side,
        lambda d: lambda: import_mix(d),
        baseline=True,
        per_flow=True,
        keyed=_keyed_mix,
    ),
    Kernel(
        "import_hhi",
        "O(F + M·S·T·C)",
        TRADE_EXPONENTS,
        _importer_side,
        lambda d: lambda: import_hhi(d),
        baseline=True,
        keyed=_keyed_hhi,
    ),
    Kernel(
        "geopolrisk",
        "O(F + M·S·T·C)",
        TRADE_EXPONENTS,
        _geopolrisk_reads,
        lambda d: lambda: geopolrisk_score(d),
        baseline=True,
    ),
    Kernel(
        "import_reliance",
        "O(F + M·S·T·C)",
        TRADE_EXPONENTS,
        _both_sides,
        lambda d: lambda: import_reliance(d),
    ),
)

#: The trade-side kernels the ">= 50x pandas" target is about.
TRADE_KERNELS: tuple[str, ...] = ("import_mix", "import_hhi", "geopolrisk")
