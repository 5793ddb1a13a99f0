"""riskengine: supply-chain risk of critical minerals.

The public API is flat::

    import riskengine
    ds = riskengine.load_dataset()              # embedded default data
    result = riskengine.score(ds, method="geopolrisk")
    result.to_frame()

Names are imported on first use (PEP 562), so ``import riskengine`` and the
``riskengine --help`` start-up do not pay for pandas, scipy or pydantic.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from riskengine.errors import (
    ConsistencyError,
    DataError,
    RiskEngineError,
    ScenarioError,
    UnknownLabelError,
)

if TYPE_CHECKING:
    from riskengine.dataset import Dataset, RiskEngineWarning, check_dataset, load_dataset
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

#: Public name -> module that defines it.
_LAZY: dict[str, str] = {
    "Dataset": "riskengine.dataset",
    "RiskEngineWarning": "riskengine.dataset",
    "check_dataset": "riskengine.dataset",
    "load_dataset": "riskengine.dataset",
    "METHODS": "riskengine.methods",
    "ScoreResult": "riskengine.methods",
    "score": "riskengine.methods",
    "Scenario": "riskengine.scenarios",
    "ScenarioResult": "riskengine.scenarios",
    "apply_scenario": "riskengine.scenarios",
    "load_scenario": "riskengine.scenarios",
    "run_scenario": "riskengine.scenarios",
    "simulate": "riskengine.stress.montecarlo",
    "sensitivity": "riskengine.stress.sensitivities",
    "sweep": "riskengine.stress.sweeps",
}


def __getattr__(name: str) -> Any:
    if name == "__version__":
        # read from the package metadata on first use: importlib.metadata costs
        # about 10 ms of every command's start-up
        from importlib.metadata import PackageNotFoundError, version

        try:
            value = version("riskengine")
        except PackageNotFoundError:  # pragma: no cover - running from a source tree
            value = "0+unknown"
        globals()["__version__"] = value
        return value
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'riskengine' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


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
