"""Benchmark the stress tools on the default data and write ``results/stress.json``.

Usage (from the repository root)::

    python -m benchmarks.bench_stress            # full: every ban, 10,000 and 100,000 draws
    python -m benchmarks.bench_stress --quick    # five minerals, 10,000 and 20,000 draws

Measured:

* **sweep vs loop** - :func:`riskengine.sweep` over every single-exporter ban
  of the default data's latest year (to all importers, severity 1, and
  targeted at the USA), against a loop of :func:`riskengine.run_scenario` over a
  seeded random sample of the same bans, extrapolated to all of them (time per
  ban times the number of bans). The sample's results are checked against the
  sweep's before any time is reported (shortfalls to 1e-12 of the country's
  gross volume, score changes to 1e-9).
* **Monte Carlo draws per second** - :func:`riskengine.simulate` on the whole
  default data at 10,000 and 100,000 draws (quick: 10,000 and 20,000), and the
  peak memory traced during a run at the smallest and the largest ``n`` (it
  should not grow with ``n``).

The main suite (``benchmarks/run.py``) has a fixed case registry for its
array kernels; these end-to-end measurements run on their own.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import riskengine
from benchmarks.measure import load_average, machine, max_rss_bytes, peak_memory, write_results
from riskengine.cluster import default_jobs
from riskengine.scenarios.models import ExportBan, Scenario
from riskengine.stress import montecarlo as mc
from riskengine.stress.montecarlo import local_mode

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
QUICK_MINERALS = ["cobalt", "copper", "lithium", "natural_graphite", "rare_earths"]
SAMPLE = {"full": 40, "quick": 8}
DRAWS = {"full": (10_000, 100_000), "quick": (10_000, 20_000)}
SEED = 20240601


class AgreementError(AssertionError):
    """The sweep and the scenario engine disagree on a sampled ban."""


def _scenario(row: pd.Series, year: int, target: str | None) -> Scenario:
    return Scenario(
        name="benchmark ban",
        description="one ban of the sweep",
        year=year,
        sources=["benchmarks/bench_stress.py"],
        shocks=[
            ExportBan(
                type="export_ban",
                exporters=[row["exporter"]],
                minerals=[row["mineral"]],
                stage=row["stage"],
                importers=[target] if target else "all",
                severity=float(row["severity"]),
            )
        ],
    )


def _check(ds: riskengine.Dataset, result: Any, ban: int, engine: Any) -> float:
    """Largest disagreement of one ban, relative to the tolerance; raise above 1."""
    year = result.year
    sub = ds.sel(years=[year], minerals=[result.bans.set_index("ban").loc[ban, "mineral"]])
    p = sub.production[:, :, 0]
    f = sub.trade_array()[:, :, 0]
    volume = p + f.sum(axis=-1) + f.sum(axis=-2)
    mine = result.impact(ban)
    merged = engine.importers.merge(
        mine,
        left_on=["stage", "country"],
        right_on=["affected_stage", "country"],
        how="outer",
        suffixes=("_e", "_s"),
    )
    mineral = sub.minerals.get_loc(result.bans.set_index("ban").loc[ban, "mineral"])
    stage = merged["stage_e"].fillna(merged["affected_stage"])
    scale = volume[
        mineral,
        sub.stages.get_indexer(pd.Index(stage)),
        sub.countries.get_indexer(pd.Index(merged["country"])),
    ]
    a = merged["shortfall_t_e"].fillna(0.0).to_numpy()
    b = merged["shortfall_t_s"].fillna(0.0).to_numpy()
    worst = float(np.max(np.abs(a - b) / np.maximum(1e-9 * np.abs(a), 1e-12 * scale), initial=0))
    scores = engine.score_changes().merge(
        mine[["affected_stage", "country", "score_change"]],
        left_on=["stage", "country"],
        right_on=["affected_stage", "country"],
        how="left",
    )
    want = scores["delta"].to_numpy()
    got = scores["score_change"].to_numpy()
    got = np.where(np.isnan(got) & ~np.isnan(want), 0.0, got)
    finite = ~np.isnan(want)
    if (np.isnan(got) != np.isnan(want)).any():
        raise AgreementError(f"ban {ban}: the sweep and the engine disagree on NaN scores")
    score_err = np.abs(got[finite] - want[finite]) / (1e-9 * np.abs(want[finite]) + 1e-12)
    worst = max(worst, float(np.max(score_err, initial=0)))
    if worst > 1:
        raise AgreementError(f"ban {ban}: sweep and run_scenario differ ({worst:.3g} x tolerance)")
    return worst


def bench_sweep(
    ds: riskengine.Dataset, mode: str, minerals: list[str] | None, target: str | None
) -> dict[str, Any]:
    """Time one sweep and a sampled loop over run_scenario; check they agree."""
    started = time.perf_counter()
    result = riskengine.sweep(ds, minerals=minerals, target=target)
    sweep_s = time.perf_counter() - started
    n_bans = len(result.bans)
    rng = np.random.default_rng(SEED)
    sample = rng.choice(
        result.bans["ban"].to_numpy(), size=min(SAMPLE[mode], n_bans), replace=False
    )
    loop_s = 0.0
    worst = 0.0
    for ban in sample:
        row = result.bans.set_index("ban").loc[int(ban)]
        assert isinstance(row, pd.Series)
        sc = _scenario(row, result.year, target)
        t0 = time.perf_counter()
        engine = riskengine.run_scenario(ds, sc)
        loop_s += time.perf_counter() - t0
        worst = max(worst, _check(ds, result, int(ban), engine))
    per_ban = loop_s / len(sample)
    return {
        "name": f"sweep-{'all' if target is None else target}",
        "year": result.year,
        "minerals": "all" if minerals is None else minerals,
        "target": target or "all",
        "bans": n_bans,
        "impact_rows": len(result.impacts),
        "sweep_s": sweep_s,
        "sweep_ms_per_ban": 1000 * sweep_s / n_bans,
        "loop_sample": len(sample),
        "loop_s_per_ban": per_ban,
        "loop_s_extrapolated": per_ban * n_bans,
        "speedup": per_ban * n_bans / sweep_s,
        "agreement_worst_over_tolerance": worst,
    }


def bench_simulate(ds: riskengine.Dataset, mode: str) -> list[dict[str, Any]]:
    """Draws per second at each n, and the peak memory at the smallest and largest n."""
    out: list[dict[str, Any]] = []
    first_market: pd.DataFrame | None = None
    last_market: pd.DataFrame | None = None
    for n, market in ((n, market) for n in DRAWS[mode] for market in (False, True)):
        started = time.perf_counter()
        result = riskengine.simulate(ds, n=n, seed=SEED, market=market)
        wall = time.perf_counter() - started
        if market and first_market is None:
            first_market = result.summary
        if market:
            last_market = result.summary
        out.append(
            {
                "name": f"simulate-{n}" + ("-market" if market else ""),
                "n": n,
                "market": market,
                "series": len(result.summary),
                "cells": len(result.cells),
                "batch_size": result.batch_size,
                "wall_s": wall,
                "draw_s": result.elapsed_s,
                "draws_per_s": result.draws_per_s,
                "draws_per_s_wall": n / wall,
            }
        )
    jobs = default_jobs(None)
    for record in out:
        record["jobs"] = jobs
        record["parallel"] = local_mode(int(record["n"]), jobs)
    for record in (out[0], out[1], out[-2], out[-1]):
        draws, market = int(record["n"]), bool(record["market"])
        run = partial(riskengine.simulate, ds, n=draws, seed=1, market=market)
        record["peak_memory_bytes"] = peak_memory(run)  # this process's
        if record["parallel"] == "processes":
            # what each worker holds: one unit of draws, computed here the same way
            plan = mc.plan_simulation(ds, market=market)
            limits = mc.threshold_tonnes(plan, mc.THRESHOLDS)
            unit = partial(mc.unit_statistics, plan, 1, draws, 0, mc.DEFAULT_BATCH, limits)
            record["worker_peak_memory_bytes"] = peak_memory(unit)
    for first, second in zip(out[::2], out[1::2], strict=True):
        second["market_cost"] = first["draws_per_s"] / second["draws_per_s"]
    # the same draws with one job: what the threads (smallest n) and the worker
    # processes (largest n) bring, and that they change nothing
    for record, reference in ((out[1], first_market), (out[-1], last_market)):
        started = time.perf_counter()
        one = riskengine.simulate(ds, n=int(record["n"]), seed=SEED, market=True, jobs=1)
        record["one_job_wall_s"] = time.perf_counter() - started
        record["jobs_speedup"] = record["one_job_wall_s"] / record["wall_s"]
        if reference is None or not one.summary.equals(reference):
            raise AgreementError(
                f"simulate n={record['n']}: one job and {jobs} jobs ({record['parallel']}) disagree"
            )
    return out


def markdown(doc: dict[str, Any]) -> str:
    """Short Markdown summary of a run."""
    lines = [
        f"# riskengine stress benchmarks ({doc['mode']})",
        "",
        f"{doc['machine']['cpu']}, {doc['machine']['cores']} cores; {doc['dataset']}",
        "",
        "| sweep | bans | sweep s | ms/ban | loop s/ban (sample) | loop s (all, extrapolated) "
        "| speed-up |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in doc["sweep"]:
        lines.append(
            f"| {s['name']} | {s['bans']:,} | {s['sweep_s']:.2f} | {s['sweep_ms_per_ban']:.2f} "
            f"| {s['loop_s_per_ban']:.3f} ({s['loop_sample']}) | {s['loop_s_extrapolated']:.0f} "
            f"| {s['speedup']:.0f}x |"
        )
    lines += [
        "",
        "| Monte Carlo | market response | series | cells | jobs | draws/s | wall s "
        "| peak memory (process + workers) | cost of the market response |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for m in doc["simulate"]:
        peak = m.get("peak_memory_bytes")
        memory = "-" if peak is None else f"{peak / 2**20:,.0f} MiB"
        if peak is not None and "worker_peak_memory_bytes" in m:
            memory += f" + {m['jobs']} x {m['worker_peak_memory_bytes'] / 2**20:,.0f} MiB"
        cost = m.get("market_cost")
        lines.append(
            f"| n = {m['n']:,} | {'yes' if m.get('market') else 'no'} | {m['series']:,} "
            f"| {m['cells']:,} | {m.get('jobs', 1)} ({m.get('parallel', '-')}) "
            f"| {m['draws_per_s']:,.0f} "
            f"| {m['wall_s']:.1f} | {memory} "
            f"| {'-' if cost is None else f'{cost:.1f}x slower'} |"
        )
        if "jobs_speedup" in m:
            lines.append(
                f"| n = {m['n']:,}, one job | yes | | | 1 | "
                f"{m['n'] / m['one_job_wall_s']:,.0f} | {m['one_job_wall_s']:.1f} | | "
                f"({m['parallel']}: {m['jobs_speedup']:.2f}x faster) |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks, write ``results/stress.json`` and print a summary."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_stress")
    parser.add_argument("--quick", action="store_true", help="five minerals, fewer draws")
    parser.add_argument("--out", type=Path, default=RESULTS, help="output directory")
    args = parser.parse_args(argv)
    mode = "quick" if args.quick else "full"
    host = machine()  # with the load average before the run
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = riskengine.load_dataset()
        year = ds.latest_year()
        ds = ds.sel(years=[year])
        minerals = QUICK_MINERALS if args.quick else None
        import scipy.optimize  # noqa: F401 - imported once, before anything is timed

        started = datetime.now(UTC).isoformat(timespec="seconds")
        sweeps = [bench_sweep(ds, mode, minerals, None), bench_sweep(ds, mode, minerals, "USA")]
        sims = bench_simulate(ds, mode)
    doc = {
        "mode": mode,
        "started": started,
        "dataset": f"{ds.name}, year {year}",
        "machine": host,
        "load_average_at_end": load_average(),
        "max_rss_bytes": max_rss_bytes(),
        "sweep": sweeps,
        "simulate": sims,
    }
    path = write_results(args.out, "stress" if mode == "full" else "stress-quick", doc, None)
    print(markdown(doc))
    print(f"\nwrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
