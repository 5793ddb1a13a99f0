"""The stress benchmark runs end to end on a small dataset (timings are not asserted)."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

import riskengine
from benchmarks import bench_stress
from riskengine.stress.montecarlo import local_mode

DATA = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "stress" / "data"


def test_bench_stress_checks_agreement_and_reports(monkeypatch: pytest.MonkeyPatch) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = riskengine.load_dataset(DATA)
    record = bench_stress.bench_sweep(ds, "quick", None, None)
    assert record["bans"] == 11
    assert record["loop_sample"] == 8
    assert record["agreement_worst_over_tolerance"] <= 1.0
    monkeypatch.setitem(bench_stress.DRAWS, "quick", (1000, 2000))
    sims = bench_stress.bench_simulate(ds, "quick")
    # every draw count without and with the market response
    assert [(s["n"], s["market"]) for s in sims] == [
        (1000, False), (1000, True), (2000, False), (2000, True),
    ]  # fmt: skip
    assert all(s["draws_per_s"] > 0 for s in sims)
    assert all("peak_memory_bytes" in s for s in sims)
    assert all(s["market_cost"] > 0 for s in sims[1::2])
    # the one-job runs agreed with the parallel ones (smallest and largest n)
    assert sims[1]["jobs_speedup"] > 0
    assert sims[-1]["jobs_speedup"] > 0
    assert sims[1]["parallel"] == local_mode(1000, sims[1]["jobs"])
    text = bench_stress.markdown(
        {"mode": "quick", "machine": {"cpu": "cpu", "cores": 2}, "dataset": "fixture",
         "sweep": [record], "simulate": sims}
    )  # fmt: skip
    assert "| sweep-all | 11 |" in text
    assert "| n = 1,000 | yes |" in text
    assert "| n = 1,000, one job | yes |" in text
