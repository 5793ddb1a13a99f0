"""What riskengine computes in each benchmark: its kernels on a case's dense arrays.

Every kernel names the tensor it reads (its memory-bandwidth floor is one
``numpy`` sum over that tensor), its complexity, and the baselines that compute
the same numbers.

======================== =============== ===================================
kernel                   complexity      reads
======================== =============== ===================================
shares                   O(M·S·T·C)      production; writes one value a cell
hhi                      O(M·S·T·C)      production
import_mix               O(M·S·T·C²)     trade; writes one value a cell
import_hhi               O(M·S·T·C²)     trade
geopolrisk               O(M·S·T·C²)     trade (+ mining production, PV)
import_reliance          O(M·S·T·C²)     trade (+ production)
refinery_feed_mix        O(M·T·C²)       mining-stage trade; writes a C×C mix
upstream_dependency      O(M·T·C³)       refining-stage trade (+ feed mix)
======================== =============== ===================================

M minerals, S stages, T years, C countries.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from benchmarks.cases import Inputs
from riskengine import indices as ix

#: Above this many multiply-adds (M·T·C³) upstream_dependency is not run, by mode.
UPSTREAM_MAX_WORK = {"full": 2e10, "quick": 1e9}


@dataclass(frozen=True)
class Kernel:
    """One riskengine computation benchmarked on a case."""

    name: str
    complexity: str
    exponents: dict[str, int]
    reads: Callable[[Inputs], np.ndarray]
    make: Callable[[Inputs], Callable[[], np.ndarray]]
    baseline: bool = False
    skip: Callable[[Inputs, str], str | None] = lambda x, mode: None


def geopolrisk_score(x: Inputs) -> np.ndarray:
    """GeoPolRisk score of every (mineral, stage, year, importer).

    ``HHI`` of global mining production times the import risk, with the
    governance weight of every exporter from its PV (docs/methods.md).
    """
    hhi_a = ix.hhi(x.production[:, :1])  # (M, 1, T)
    g = ix.geopolrisk_weight(x.pv).astype(x.trade.dtype, copy=False)[..., None]  # (T, E, 1)
    risk = ix.geopolrisk_import_risk(x.trade, g, x.production)  # (M, S, T, I)
    return hhi_a[..., None] * risk


def _upstream(x: Inputs) -> Callable[[], np.ndarray]:
    feed = ix.refinery_feed_mix(x.production[:, 0], x.trade[:, 0])
    refined = x.trade[:, 1]
    return lambda: ix.upstream_dependency(refined, feed)


def _upstream_skip(x: Inputs, mode: str) -> str | None:
    m, t, c = len(x.minerals), len(x.years), len(x.countries)
    work = m * t * c**3
    cap = UPSTREAM_MAX_WORK[mode]
    if work > cap:
        return f"M·T·C³ = {work:.2g} multiply-adds, above the {cap:.0e} cap of the {mode} run"
    return None


def _trade(x: Inputs) -> np.ndarray:
    return x.trade


def _production(x: Inputs) -> np.ndarray:
    return x.production


KERNELS: tuple[Kernel, ...] = (
    Kernel(
        "shares",
        "O(M·S·T·C)",
        {"minerals": 1, "years": 1, "countries": 1},
        _production,
        lambda x: lambda: ix.shares(x.production),
        baseline=True,
    ),
    Kernel(
        "hhi",
        "O(M·S·T·C)",
        {"minerals": 1, "years": 1, "countries": 1},
        _production,
        lambda x: lambda: ix.hhi(x.production),
        baseline=True,
    ),
    Kernel(
        "import_mix",
        "O(M·S·T·C²)",
        {"minerals": 1, "years": 1, "countries": 2},
        _trade,
        lambda x: lambda: ix.import_mix(x.trade),
        baseline=True,
    ),
    Kernel(
        "import_hhi",
        "O(M·S·T·C²)",
        {"minerals": 1, "years": 1, "countries": 2},
        _trade,
        lambda x: lambda: ix.import_hhi(x.trade),
        baseline=True,
    ),
    Kernel(
        "geopolrisk",
        "O(M·S·T·C²)",
        {"minerals": 1, "years": 1, "countries": 2},
        _trade,
        lambda x: lambda: geopolrisk_score(x),
        baseline=True,
    ),
    Kernel(
        "import_reliance",
        "O(M·S·T·C²)",
        {"minerals": 1, "years": 1, "countries": 2},
        _trade,
        lambda x: lambda: ix.import_reliance(x.production, x.trade),
    ),
    Kernel(
        "refinery_feed_mix",
        "O(M·T·C²)",
        {"minerals": 1, "years": 1, "countries": 2},
        lambda x: x.trade[:, 0],
        lambda x: lambda: ix.refinery_feed_mix(x.production[:, 0], x.trade[:, 0]),
    ),
    Kernel(
        "upstream_dependency",
        "O(M·T·C³)",
        {"minerals": 1, "years": 1, "countries": 3},
        lambda x: x.trade[:, 1],
        _upstream,
        skip=_upstream_skip,
    ),
)
