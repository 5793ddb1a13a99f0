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
    "ScenarioError",
    "ScoreResult",
    "UnknownLabelError",
    "__version__",
    "check_dataset",
    "load_dataset",
    "score",
]
