"""One process against a local Dask cluster: the stress tools' throughput and memory.

Usage (from the repository root, with ``pip install -e ".[test,bench]"``)::

    python -m benchmarks.bench_cluster           # 1 M draws, 64,000 with the market, cobalt pairs
    python -m benchmarks.bench_cluster --quick   # 100,000 and 32,000 draws, lithium pairs
    python -m benchmarks.bench_cluster --draws 200000 --workers 2 --repeats 2

Measured, each case on the default data's latest year, the baseline (one
process, ``client=False``) and the cluster run alternated ``--repeats`` times:

* **Monte Carlo** - :func:`riskengine.simulate` of ``--draws`` first-order
  draws (``market=False``) over every mineral (1 M by default), and of
  ``--market-draws`` draws with the market response (``market=True``, 64,000
  by default: each draw runs the engine's pass-through, propagation and price);
* **pairwise sweep** - :func:`riskengine.sweep` of every two-exporter ban
  (``pairs=True``) of one mineral (cobalt by default).

Every run happens in a fresh process (the cluster runs in a fresh local
cluster of ``--workers`` processes, one thread each, started by
:func:`riskengine.cluster.local_cluster`), so that each process's peak
resident set size is that run's. The cluster's result is checked to equal the
baseline's bit for bit before anything is reported. Reported per case: wall
time and throughput of both, ``speedup`` (baseline time over cluster time, the
median of the pairs), ``efficiency`` (speedup over the number of workers),
the CPU seconds of the baseline against those of the workers and the client
together (what distribution costs, whatever else the machine runs), peak RSS
of the baseline process, of each worker and of the client, and the per-task
overhead two ways: the round trip of an empty task through
:func:`riskengine.cluster.map_ordered` (submission, scheduling, result), and
the time the workers were not computing a task,
``(workers x wall - sum of task compute times) / tasks``, which also holds
the start-up, the scatter of the shared data and the idle tail. Results go
to ``results/cluster.json`` and ``results/cluster.md`` (``cluster-quick.*``
in quick mode).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import statistics
import sys
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.measure import load_average, machine, max_rss_bytes, write_results

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
SEED = 20240601
EMPTY_TASKS = 200


def _noop() -> None:
    """Do nothing: a task that measures the per-task overhead."""


def _cpu() -> float:
    """CPU seconds (user and system) this process and its finished children have used.

    The children are the worker processes a run without Dask forks
    (``simulate``'s ``jobs``); they have ended when the run returns.
    """
    use = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return use.ru_utime + use.ru_stime + kids.ru_utime + kids.ru_stime


def _dataset() -> Any:
    import riskengine

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = riskengine.load_dataset()
        return ds.sel(years=[ds.latest_year()])


def _job(ds: Any, case: dict[str, Any], client: Any) -> tuple[Any, int]:
    """Run one case; return a comparable form of its result and its units of work."""
    import riskengine

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if case["kind"] == "simulate":
            res = riskengine.simulate(
                ds, n=case["draws"], seed=SEED, market=case["market"], client=client
            )
            return tuple(res.to_frame(t) for t in res.TABLES), case["draws"]
        res = riskengine.sweep(ds, minerals=[case["mineral"]], pairs=True, client=client)
        return (res.bans, res.market_table, res.impacts), len(res.bans)


def _one_process(case: dict[str, Any], out: Any) -> None:
    """Child process: the baseline run."""
    ds = _dataset()
    cpu = _cpu()
    started = time.perf_counter()
    result, units = _job(ds, case, False)
    wall = time.perf_counter() - started
    out.put(
        {
            "wall_s": wall,
            "cpu_s": _cpu() - cpu,
            "units": units,
            "peak_rss_bytes": max_rss_bytes(),
            # the largest of the run's local worker processes, if it forked any
            "local_worker_peak_rss_bytes": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            * 1024,
            "result": result,
        }
    )


def _on_cluster(case: dict[str, Any], workers: int, out: Any) -> None:
    """Child process: the same run on a fresh local cluster, with its task stream."""
    from distributed import Client, get_task_stream

    from riskengine.cluster import local_cluster, map_ordered

    ds = _dataset()
    with local_cluster(workers) as cluster, Client(cluster, set_as_default=False) as client:
        client.wait_for_workers(workers)
        worker_cpu = client.run(_cpu)
        cpu = _cpu()
        with get_task_stream(client=client) as stream:
            started = time.perf_counter()
            result, units = _job(ds, case, client)
            wall = time.perf_counter() - started
        client_cpu = _cpu() - cpu
        worker_cpu = {w: c - worker_cpu[w] for w, c in client.run(_cpu).items()}
        compute = [
            s["stop"] - s["start"]
            for task in stream.data
            for s in task["startstops"]
            if s["action"] == "compute" and not str(task["key"]).startswith("_noop")
        ]
        peaks = client.run(max_rss_bytes)
        t0 = time.perf_counter()
        list(map_ordered(client, _noop, [()] * EMPTY_TASKS, name="_noop"))
        per_empty = (time.perf_counter() - t0) / EMPTY_TASKS
    out.put(
        {
            "wall_s": wall,
            "units": units,
            "tasks": len(compute),
            "task_compute_s": sum(compute),
            "idle_per_task_s": (workers * wall - sum(compute)) / max(len(compute), 1),
            "empty_task_s": per_empty,
            "worker_cpu_s": sum(worker_cpu.values()),
            "client_cpu_s": client_cpu,
            "worker_peak_rss_bytes": sorted(peaks.values()),
            "client_peak_rss_bytes": max_rss_bytes(),
            "result": result,
        }
    )


def _units_alone(units: int, out: Any) -> None:
    """Child process: ``units`` x 16,000 first-order draws, no Dask (the calibration)."""
    import numpy as np

    from riskengine.stress import montecarlo as mc

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plan = mc.plan_simulation(_dataset(), market=False)
    limits = np.zeros((len(mc.THRESHOLDS), plan.n_series))
    started = time.perf_counter()
    n = units * mc.UNIT_BLOCKS * mc.STREAM_BLOCK
    for unit in range(len(mc.unit_ranges(n))):
        mc.unit_statistics(plan, SEED, n, unit, 1000, limits)
    out.put({"wall_s": time.perf_counter() - started})


def calibrate(workers: int, units: int = 2) -> dict[str, Any]:
    """How much faster ``workers`` plain processes run than one, on this machine now.

    One process computes ``workers * units`` units of draws; then ``workers``
    processes compute ``units`` each at once, without Dask. Their ratio is the
    parallelism the machine offers (other load, shared cores, memory
    bandwidth): the ceiling of any cluster's speed-up here.
    """
    ctx = mp.get_context("spawn")
    alone = _spawn(_units_alone, workers * units)["wall_s"]
    out = ctx.Queue()
    procs = [ctx.Process(target=_units_alone, args=(units, out)) for _ in range(workers)]
    for proc in procs:
        proc.start()
    walls = [out.get()["wall_s"] for _ in procs]
    for proc in procs:
        proc.join()
    return {"one_process_s": alone, "processes_s": walls, "speedup": alone / max(walls)}


def _spawn(target: Any, *args: Any) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    proc = ctx.Process(target=target, args=(*args, out))
    proc.start()
    record = out.get()
    proc.join()
    if proc.exitcode:
        raise RuntimeError(f"{target.__name__} exited with {proc.exitcode}")
    return dict(record)


def _same(a: Any, b: Any) -> bool:
    import pandas as pd

    pairs = zip(a, b, strict=True) if isinstance(a, tuple) else [(a, b)]
    try:
        for x, y in pairs:
            pd.testing.assert_frame_equal(x, y, check_exact=True)
    except AssertionError:
        return False
    return True


def bench(case: dict[str, Any], workers: int, repeats: int) -> dict[str, Any]:
    """Alternate the baseline and the cluster run; check they agree; summarise."""
    base: list[dict[str, Any]] = []
    cluster: list[dict[str, Any]] = []
    for _ in range(repeats):
        base.append(_spawn(_one_process, case))
        cluster.append(_spawn(_on_cluster, case, workers))
        if not _same(base[-1].pop("result"), cluster[-1].pop("result")):
            raise AssertionError(f"{case['name']}: the cluster's result differs from one process")
    ratios = [b["wall_s"] / c["wall_s"] for b, c in zip(base, cluster, strict=True)]
    speedup = statistics.median(ratios)
    units = base[0]["units"]
    one_s = statistics.median(b["wall_s"] for b in base)
    two_s = statistics.median(c["wall_s"] for c in cluster)
    one_cpu = statistics.median(b["cpu_s"] for b in base)
    two_cpu = statistics.median(c["worker_cpu_s"] + c["client_cpu_s"] for c in cluster)
    return {
        **case,
        "workers": workers,
        "one_process_cpu_s": one_cpu,
        "cluster_cpu_s": two_cpu,
        "cpu_overhead": two_cpu / one_cpu - 1.0,
        "units": units,
        "one_process_s": one_s,
        "cluster_s": two_s,
        "one_process_per_s": units / one_s,
        "cluster_per_s": units / two_s,
        "speedup": speedup,
        "speedup_runs": ratios,
        "efficiency": speedup / workers,
        "one_process_peak_rss_bytes": max(b["peak_rss_bytes"] for b in base),
        "local_worker_peak_rss_bytes": max(b["local_worker_peak_rss_bytes"] for b in base),
        "worker_peak_rss_bytes": max(max(c["worker_peak_rss_bytes"]) for c in cluster),
        "client_peak_rss_bytes": max(c["client_peak_rss_bytes"] for c in cluster),
        "tasks": cluster[0]["tasks"],
        "empty_task_s": statistics.median(c["empty_task_s"] for c in cluster),
        "idle_per_task_s": statistics.median(c["idle_per_task_s"] for c in cluster),
        "runs": {"one_process": base, "cluster": cluster},
    }


def markdown(doc: dict[str, Any]) -> str:
    """Short Markdown summary of a run."""
    mib = 2**20
    lines = [
        f"# riskengine on a local Dask cluster ({doc['mode']})",
        "",
        f"{doc['machine']['cpu']}, {doc['machine']['cores']} cores; {doc['dataset']}; "
        f"load average {doc['machine']['load_average_at_start']} at start, "
        f"{doc['load_average_at_end']} at end",
        "",
        "| case | units | no Dask s | cluster s | per s (no Dask / cluster) | speed-up "
        "| efficiency | CPU s (no Dask / cluster) | peak RSS no Dask (+ local worker) "
        "| per Dask worker | client | empty task "
        "| idle per task |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for c in doc["cases"]:
        lines.append(
            f"| {c['name']} | {c['units']:,} | {c['one_process_s']:.1f} | {c['cluster_s']:.1f} "
            f"| {c['one_process_per_s']:,.0f} / {c['cluster_per_s']:,.0f} | {c['speedup']:.2f}x "
            f"| {c['efficiency']:.0%} | {c['one_process_cpu_s']:.0f} / {c['cluster_cpu_s']:.0f} "
            f"({c['cpu_overhead']:+.0%}) | {c['one_process_peak_rss_bytes'] / mib:,.0f} MiB"
            + (
                f" (+ {c['local_worker_peak_rss_bytes'] / mib:,.0f} MiB) "
                if c.get("local_worker_peak_rss_bytes")
                else " "
            )
            + f"| {c['worker_peak_rss_bytes'] / mib:,.0f} MiB "
            f"| {c['client_peak_rss_bytes'] / mib:,.0f} MiB "
            f"| {1000 * c['empty_task_s']:.1f} ms | {1000 * c['idle_per_task_s']:.0f} ms |"
        )
    cap = doc["machine_parallelism"]
    lines += [
        "",
        f"Machine parallelism now: {len(cap['processes_s'])} plain processes (no Dask) ran "
        f"{cap['speedup']:.2f}x as fast as one on the same draws: the ceiling of the speed-up "
        f"here (other load, shared cores).",
        "",
        f"Cluster: {doc['cases'][0]['workers']} worker processes, one thread each "
        "(riskengine.cluster.local_cluster), client in its own process. No Dask: riskengine's "
        "default on one machine (client=False, jobs = the cores: local worker processes when "
        "the jobs share the Monte Carlo's equal units, or have two chunks of bans each, "
        "else threads); results equal bit for bit "
        "(checked). Units: draws (Monte Carlo), bans (sweep). CPU: user and system seconds "
        "of the run without Dask (its local workers included), and of the Dask workers and "
        "the client (which hosts the scheduler) together; the difference is what distribution "
        "costs whatever else runs on the machine.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the cases, write ``results/cluster.json`` and ``.md``, print the summary."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_cluster")
    parser.add_argument("--quick", action="store_true", help="100,000 draws, a smaller mineral")
    parser.add_argument("--draws", type=int, help="first-order draws (default 1,000,000)")
    parser.add_argument(
        "--market-draws", type=int, help="draws with the market response (default 64,000)"
    )
    parser.add_argument("--mineral", help="mineral of the pairwise sweep (default cobalt)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--repeats", type=int, default=1, help="alternated runs of each")
    parser.add_argument("--out", type=Path, default=RESULTS, help="output directory")
    args = parser.parse_args(argv)
    mode = "quick" if args.quick else "full"
    draws = args.draws or (100_000 if args.quick else 1_000_000)
    market_draws = args.market_draws or (32_000 if args.quick else 64_000)
    mineral = args.mineral or ("lithium" if args.quick else "cobalt")
    host = machine()
    started = datetime.now(UTC).isoformat(timespec="seconds")
    cases = [
        {"name": f"simulate-{draws}", "kind": "simulate", "draws": draws, "market": False},
        {
            "name": f"simulate-market-{market_draws}",
            "kind": "simulate",
            "draws": market_draws,
            "market": True,
        },
        {"name": f"sweep-pairs-{mineral}", "kind": "sweep", "mineral": mineral},
    ]
    print("calibration ...", file=sys.stderr)
    capacity = calibrate(args.workers)
    results = []
    for case in cases:
        print(f"{case['name']} ...", file=sys.stderr)
        results.append(bench(case, args.workers, args.repeats))
    doc = {
        "mode": mode,
        "started": started,
        "dataset": "riskengine default dataset, latest year",
        "machine": host,
        "load_average_at_end": load_average(),
        "machine_parallelism": capacity,
        "cases": results,
    }
    stem = "cluster" if mode == "full" else "cluster-quick"
    write_results(args.out, stem, doc, markdown(doc))
    print(markdown(doc))
    print(f"\nwrote {args.out / stem}.json and .md", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
