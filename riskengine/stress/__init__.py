"""Stress tools: ban sweeps, Monte Carlo risk distributions, sensitivity."""

from __future__ import annotations

from riskengine.stress.disruptions import DisruptionModel, load_disruption_model
from riskengine.stress.montecarlo import SimulationResult, simulate
from riskengine.stress.sweeps import SweepResult, sweep

__all__ = [
    "DisruptionModel",
    "SimulationResult",
    "SweepResult",
    "load_disruption_model",
    "simulate",
    "sweep",
]
