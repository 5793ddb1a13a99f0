"""What-if scenarios: shocks to production and trade, and the market's answer.

The format of scenario files is validated by :mod:`riskengine.scenarios.models`.
"""

from __future__ import annotations

from riskengine.scenarios.loading import (
    default_scenarios_dir,
    find_scenario,
    list_scenarios,
    load_scenario,
    parse_scenario,
)
from riskengine.scenarios.models import Scenario, json_schema

__all__ = [
    "Scenario",
    "default_scenarios_dir",
    "find_scenario",
    "json_schema",
    "list_scenarios",
    "load_scenario",
    "parse_scenario",
]
