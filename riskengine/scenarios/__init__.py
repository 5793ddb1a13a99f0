"""What-if scenarios: shocks to production and trade, and the market's answer.

::

    import riskengine
    ds = riskengine.load_dataset()
    scenario = riskengine.load_scenario("cn-gallium-germanium-controls-2023")
    result = riskengine.run_scenario(ds, scenario, method="riskengine")
    result.to_frame("importers")      # shortfall, stockpile cover, price
    result.to_frame()                 # every score: baseline, shocked, delta

The format of scenario files is documented in ``scenarios/README.md`` and
validated by :mod:`riskengine.scenarios.models`; the mechanics are in
:mod:`riskengine.scenarios.engine` and :mod:`riskengine.scenarios.market`.
"""

from __future__ import annotations

from riskengine.scenarios.engine import apply_scenario, simulate
from riskengine.scenarios.loading import (
    default_scenarios_dir,
    find_scenario,
    list_scenarios,
    load_scenario,
    parse_scenario,
)
from riskengine.scenarios.models import Scenario, json_schema
from riskengine.scenarios.result import ScenarioResult, run_scenario

__all__ = [
    "Scenario",
    "ScenarioResult",
    "apply_scenario",
    "default_scenarios_dir",
    "find_scenario",
    "json_schema",
    "list_scenarios",
    "load_scenario",
    "parse_scenario",
    "run_scenario",
    "simulate",
]
