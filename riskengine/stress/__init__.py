"""Stress tools: ban sweeps, Monte Carlo risk distributions, sensitivity."""

from __future__ import annotations

from riskengine.stress.sweeps import SweepResult, sweep

__all__ = ["SweepResult", "sweep"]
