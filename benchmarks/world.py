"""End to end from canonical CSV files, each run in a fresh process.

The world-scale synthetic case (:data:`benchmarks.cases.WORLD`: 100 minerals x
2 stages x 30 years x 249 countries, 3.7 M flows) is written as
``production.csv``, ``trade.csv`` and ``governance.csv`` in a temporary
directory with riskengine's own canonical writer
(:func:`riskengine.io.canonical.write_table`); then each run is a new Python
process that loads it with ``riskengine.load_dataset(directory)`` and scores
it with ``riskengine.score(ds, method="geopolrisk")`` and
``riskengine.score(ds, method="riskengine")`` for all years, and reports its
own times and its peak resident set size: ``VmHWM`` of ``/proc/self/status``,
the high-water mark of the process's own memory (``getrusage(RUSAGE_SELF).ru_maxrss``
is no good here: on Linux it carries over the resident set of the parent the
process was forked from, gigabytes when the benchmark runner has just held
the world case).

* **cold**: an empty cache directory (``$RISKENGINE_CACHE_DIR``): the CSV
  files are read, validated and converted, and the binary cache is written;
* **warm**: the same cache directory again: the dataset comes from the cache.

Cold and warm runs alternate (cold, warm, cold, warm ...), each cold run with
a new empty cache directory. The CSV files stay in the operating system's page
cache between runs: "cold" is about riskengine's cache, not the disk.

Usage: ``python -m benchmarks.world DIRECTORY`` is one run (it prints one JSON
line); :func:`run` is the parent side, called by ``python -m benchmarks.run``.
"""

from __future__ import annotations

import json
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

#: Taken when this module starts in a run's process, before riskengine, numpy
#: and pandas are imported.
START = time.perf_counter()


def peak_rss() -> int:
    """Peak resident set size of this process in bytes (``VmHWM``; ``ru_maxrss`` elsewhere)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def child(directory: str) -> dict[str, Any]:
    """Load and score ``directory`` through the public API; return times and peak memory."""
    import warnings

    import riskengine
    import riskengine.dataset
    import riskengine.methods  # what load_dataset and score import, timed here

    stages: dict[str, float] = {}
    mark = time.perf_counter()
    stages["import"] = mark - START
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = riskengine.load_dataset(directory)
        now = time.perf_counter()
        stages["load_dataset"], mark = now - mark, now
        rows = {}
        for method in ("geopolrisk", "riskengine"):
            result = riskengine.score(ds, method=method)
            rows[method] = len(result.scores)
            now = time.perf_counter()
            stages[method], mark = now - mark, now
            del result
    return {
        "stages_s": stages,
        "in_process_s": time.perf_counter() - START,
        "peak_rss_bytes": peak_rss(),
        "flows": len(ds.trade) if ds.trade is not None else 0,
        "years": len(ds.years),
        "rows": rows,
    }


def write_case(case: Any, directory: Path) -> dict[str, Any]:
    """Write a synthetic case as canonical CSV files; return rows, bytes and seconds."""
    from benchmarks.cases import synthetic, synthetic_tables
    from riskengine.io.canonical import write_table

    start = time.perf_counter()
    syn = synthetic(case.minerals, case.countries, case.years, case.density, case.seed)
    tables = synthetic_tables(syn)
    del syn
    files: dict[str, dict[str, int]] = {}
    for name, table in tables.items():
        path = write_table(table, directory, name)
        files[path.name] = {"rows": len(table), "bytes": path.stat().st_size}
    return {"files": files, "write_s": time.perf_counter() - start}


def _one(directory: Path, cache: Path, env: dict[str, str]) -> dict[str, Any]:
    from benchmarks.measure import run_process

    root = Path(__file__).resolve().parents[1]
    wall, out = run_process(
        [sys.executable, "-m", "benchmarks.world", str(directory)],
        cwd=root,
        env={**env, "RISKENGINE_CACHE_DIR": str(cache)},
    )
    record: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    record["wall_s"] = wall
    record["cache_bytes"] = sum(p.stat().st_size for p in cache.glob("*.npz"))
    return record


def run(case: Any, repeats: int) -> dict[str, Any]:
    """Write ``case`` as CSV files and time ``repeats`` cold and warm runs, alternated."""
    import statistics

    from benchmarks.measure import bytecode_env, run_process

    with tempfile.TemporaryDirectory(prefix="riskengine-bench-") as tmp:
        base = Path(tmp)
        data = base / "data"
        written = write_case(case, data)
        env = bytecode_env(base / "pycache")
        # compile riskengine's modules once into the bytecode cache, untimed
        run_process(
            [sys.executable, "-c", "import riskengine.methods, riskengine.io.canonical"], env=env
        )
        runs: dict[str, list[dict[str, Any]]] = {"cold": [], "warm": []}
        for r in range(max(1, repeats)):
            cache = base / f"cache-{r}"
            cache.mkdir()
            runs["cold"].append(_one(data, cache, env))
            runs["warm"].append(_one(data, cache, env))
    summary: dict[str, Any] = {}
    for kind, items in runs.items():
        summary[kind] = {
            "wall_s": statistics.median(i["wall_s"] for i in items),
            "peak_rss_bytes": max(i["peak_rss_bytes"] for i in items),
            "stages_s": {
                name: statistics.median(i["stages_s"][name] for i in items)
                for name in items[0]["stages_s"]
            },
        }
    first = runs["cold"][0]
    return {
        "case": case.name,
        "description": case.description,
        "flows": first["flows"],
        "years": first["years"],
        "rows": first["rows"],
        **written,
        "cache_bytes": first["cache_bytes"],
        "repeats": max(1, repeats),
        "summary": summary,
        "runs": runs,
    }


if __name__ == "__main__":
    print(json.dumps(child(sys.argv[1])))
