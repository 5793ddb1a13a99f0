"""Stress tools: ban sweeps, Monte Carlo risk distributions, one-at-a-time sensitivity.

:func:`sweep` evaluates every single-exporter export ban at once,
:func:`simulate` draws random export disruptions, :func:`sensitivity` moves
each input of each score. All three are exported at the top level
(``riskengine.sweep``...); ``docs/stress.md`` describes what they compute.
"""

from __future__ import annotations

from riskengine.stress.disruptions import DisruptionModel, load_disruption_model
from riskengine.stress.montecarlo import SimulationResult, simulate
from riskengine.stress.sensitivities import SensitivityResult, sensitivity
from riskengine.stress.sweeps import SweepResult, sweep

__all__ = [
    "DisruptionModel",
    "SensitivityResult",
    "SimulationResult",
    "SweepResult",
    "load_disruption_model",
    "sensitivity",
    "simulate",
    "sweep",
]
