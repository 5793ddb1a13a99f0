"""riskengine: supply-chain risk of critical minerals.

The public API is flat::

    import riskengine
    ds = riskengine.load_dataset()              # embedded default data
    result = riskengine.score(ds, method="geopolrisk")
    result.to_frame()
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from riskengine.dataset import Dataset, RiskEngineWarning, check_dataset, load_dataset
from riskengine.errors import (
    ConsistencyError,
    DataError,
    RiskEngineError,
    ScenarioError,
    UnknownLabelError,
)
from riskengine.methods import METHODS, ScoreResult, score
from riskengine.scenarios import (
    Scenario,
    ScenarioResult,
    apply_scenario,
    load_scenario,
    run_scenario,
)
from riskengine.stress.montecarlo import simulate
from riskengine.stress.sensitivities import sensitivity
from riskengine.stress.sweeps import sweep

try:
    __version__ = version("riskengine")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0+unknown"

__all__ = [
    "METHODS",
    "ConsistencyError",
    "DataError",
    "Dataset",
    "RiskEngineError",
    "RiskEngineWarning",
    "Scenario",
    "ScenarioError",
    "ScenarioResult",
    "ScoreResult",
    "UnknownLabelError",
    "__version__",
    "apply_scenario",
    "check_dataset",
    "load_dataset",
    "load_scenario",
    "run_scenario",
    "score",
    "sensitivity",
    "simulate",
    "sweep",
]
