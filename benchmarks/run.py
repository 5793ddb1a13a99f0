"""Run the benchmark suite and write ``<out>/<mode>.json`` and ``<out>/<mode>.md``.

Usage (from the repository root)::

    python -m benchmarks.run            # full run, about 5 minutes, peak RSS ~1.6 GB
    python -m benchmarks.run --quick    # under a minute
    python -m benchmarks.run --quick --only toy --only default --repeats 1 --no-processes

For every case every riskengine kernel runs on the sparse flows as the
methods run it; on cases with baselines, the pandas and loop baselines run in
the same process, their results must agree with riskengine's (the run stops
with an ``AgreementError`` otherwise), and riskengine and pandas are timed
alternately. The world-scale case is also written as canonical CSV files and
loaded and scored in fresh processes, and ``riskengine score`` is timed as a
process against ``python -c "import numpy, pandas"``. See
``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import re
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks import baselines as bl
from benchmarks import world
from benchmarks.cases import (
    BACI_DIR,
    ROOT,
    WORLD,
    Case,
    CaseData,
    LongTables,
    baci_extra_tables,
    long_tables,
    registry,
    select,
)
from benchmarks.kernels import KERNELS, TRADE_KERNELS, Kernel
from benchmarks.measure import (
    bytecode_env,
    load_average,
    machine,
    max_rss_bytes,
    peak_memory,
    source_tree,
    time_call,
    time_pair,
    time_process,
    time_process_pair,
    write_results,
)
from benchmarks.report import markdown
from riskengine.methods.base import cell_keys

#: The targets of the benchmark issue.
TARGETS: dict[str, float] = {
    "world_warm_max_s": 10.0,
    "world_warm_max_bytes": 2e9,
    "world_cold_max_s": 40.0,
    "world_cold_max_bytes": 3e9,
    "pandas_speedup_min": 50.0,
    "startup_ratio_max": 1.3,
    "baci_geopolrisk_table_max_s": 2.0,
}

#: Trade rows the loop baseline walks per case (a subset of slices, extrapolated).
LOOP_ROWS = {"full": 200_000, "quick": 20_000}
#: Results the query-loop baseline computes per case, and its time budget.
QUERY_RESULTS = {"full": 20, "quick": 3}
QUERY_BUDGET_S = 10.0
#: Timed runs of the slow baselines (loops) and of the whole methods, at most.
SLOW_REPEATS = 3
#: Case groups whose whole methods are timed too.
METHOD_GROUPS = ("size", "density", "real")
#: The case written as CSV files and run end to end in processes, by mode.
E2E_CASE = {"full": WORLD, "quick": Case("small-csv", "synthetic", "e2e", 10, 50, 5)}
#: Cold and warm process runs of the end-to-end case, by mode.
E2E_REPEATS = {"full": 5, "quick": 1}
#: Paired process runs of the start-up comparison, by mode.
STARTUP_REPEATS = {"full": 21, "quick": 3}

#: ``riskengine score`` run from Python after importing numpy and pandas.
SCORE_AFTER_NUMPY_PANDAS = (
    "import numpy, pandas, sys\n"
    "from riskengine.cli import entry_point\n"
    "sys.argv = ['riskengine', 'score']\n"
    "entry_point()"
)

AXES = {
    "production_hhi": ("mineral", "stage", "year"),
    "import_hhi": ("mineral", "stage", "year", "importer"),
    "geopolrisk": ("mineral", "stage", "year", "importer"),
}


class AgreementError(AssertionError):
    """A baseline and riskengine disagree: one of them is wrong."""


@dataclass(frozen=True)
class Config:
    """Options of one run."""

    mode: str
    repeats: int
    out: Path
    only: list[str] | None
    processes: bool


# --------------------------------------------------------------------------- agreement


def _positions(data: CaseData, columns: Sequence[Any], axes: Sequence[str]) -> tuple:
    ds = data.dataset
    labels = {
        "mineral": ds.minerals,
        "stage": ds.stages,
        "year": ds.years,
        "importer": ds.countries,
    }
    out = []
    for col, axis in zip(columns, axes, strict=True):
        values = np.asarray(col, dtype=np.int64 if axis == "year" else object)
        pos = labels[axis].get_indexer(pd.Index(values))
        if (pos < 0).any():
            raise AgreementError(f"a baseline returned {axis} labels riskengine does not have")
        out.append(pos)
    return tuple(out)


def _at_index(data: CaseData, index: pd.Index, result: np.ndarray, kernel: str) -> np.ndarray:
    cols = [index.get_level_values(n) for n in range(index.nlevels)]
    return result.reshape(data.dataset.shape[: len(AXES[kernel])])[
        _positions(data, cols, AXES[kernel])
    ]


def _at_keys(data: CaseData, keys: list[tuple], result: np.ndarray, kernel: str) -> np.ndarray:
    axes = AXES[kernel]
    cols: list[Any] = list(zip(*keys, strict=True)) if keys else [[] for _ in axes]
    return result.reshape(data.dataset.shape[: len(axes)])[_positions(data, cols, axes)]


def check(
    kernel: str, baseline: str, actual: np.ndarray, expected: np.ndarray, rtol: float = 1e-9
) -> dict:
    """Compare a baseline with riskengine; raise :class:`AgreementError` if they differ."""
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    if actual.shape != expected.shape:
        raise AgreementError(
            f"{kernel}: {baseline} gives {actual.shape} results, riskengine {expected.shape}"
        )
    nan_a, nan_e = np.isnan(actual), np.isnan(expected)
    if (nan_a != nan_e).any():
        bad = int((nan_a != nan_e).sum())
        raise AgreementError(
            f"{kernel}: {baseline} and riskengine disagree on which of {len(actual)} results "
            f"are NaN ({bad} differ)"
        )
    both = ~nan_a
    diff = np.abs(actual[both] - expected[both])
    scale = np.maximum(np.abs(expected[both]), 1e-300)
    rel = float((diff / scale).max()) if diff.size else 0.0
    if not np.allclose(actual[both], expected[both], rtol=rtol, atol=1e-12):
        worst = int(np.argmax(diff - rtol * np.abs(expected[both])))
        raise AgreementError(
            f"{kernel}: {baseline} gives {actual[both][worst]!r}, riskengine "
            f"{expected[both][worst]!r} (max relative difference {rel:.3g}, tolerance {rtol:g})"
        )
    return {"compared": len(actual), "nan": int(nan_a.sum()), "max_rel_diff": rel}


# --------------------------------------------------------------------------- baselines


def _pandas_call(kernel: str, t: LongTables) -> Callable[[], Any]:
    calls: dict[str, Callable[[], Any]] = {
        "production_hhi": lambda: bl.pandas_hhi(t.production),
        "import_mix": lambda: bl.pandas_import_mix(t.trade),
        "import_hhi": lambda: bl.pandas_import_hhi(t.trade),
        "geopolrisk": lambda: bl.pandas_geopolrisk(t.production, t.trade, t.governance),
    }
    return calls[kernel]


def _pandas_agreement(
    kernel: str, data: CaseData, t: LongTables, out: Any, result: np.ndarray
) -> dict:
    if kernel == "import_mix":
        return check(kernel, "pandas", out.to_numpy(), result[t.trade_rows])
    if kernel == "geopolrisk":
        index = pd.MultiIndex.from_frame(out[bl.IMPORTER])
        return check(
            kernel, "pandas", out["score"].to_numpy(), _at_index(data, index, result, kernel)
        )
    return check(kernel, "pandas", out.to_numpy(), _at_index(data, out.index, result, kernel))


def _result_count(kernel: str, data: CaseData, t: LongTables | None) -> int:
    """Count the results of the full table (what the loop computes for every key)."""
    ds = data.dataset
    if kernel == "production_hhi":
        return int(np.count_nonzero(ds.production.sum(axis=-1)))
    usable = data.flows.content > 0
    if kernel == "import_mix":
        return int(usable.sum())
    key, _ = cell_keys(ds, "importer")
    return len(np.unique(key[usable]))


@dataclass(frozen=True)
class LoopSubset:
    """The slices the loop baselines compute, and their rows."""

    production: pd.DataFrame
    trade: pd.DataFrame
    slices: list[tuple[str, str, int]]
    importers: list[tuple[str, str, int, str]]
    fraction: float


def loop_subset(data: CaseData, t: LongTables, max_rows: int) -> LoopSubset:
    """Evenly spaced (mineral, stage, year) slices holding about ``max_rows`` trade rows."""
    n_m, n_s, n_t, _ = data.dataset.shape
    n_slices = n_m * n_s * n_t
    per_slice = max(len(t.trade) / n_slices, 1.0)
    n_pick = int(min(n_slices, max(1, max_rows // per_slice)))
    picked = np.unique(np.linspace(0, n_slices - 1, n_pick).round().astype(np.int64))
    m_p, _, t_p = np.unravel_index(picked, (n_m, n_s, n_t))
    mt = np.unique(m_p * n_t + t_p)
    flows = data.flows
    rows = t.trade_rows
    tm, ts, tt = flows.mineral[rows], flows.stage[rows], flows.year[rows]
    pm, ps, pt = t.production_cells[0], t.production_cells[1], t.production_cells[2]
    trade = t.trade[np.isin((tm * n_s + ts) * n_t + tt, picked)].reset_index(drop=True)
    production = t.production[np.isin(pm * n_t + pt, mt)].reset_index(drop=True)
    in_slice = np.isin((pm * n_s + ps) * n_t + pt, picked)
    slices = sorted(
        set(
            zip(
                t.production["mineral"][in_slice].tolist(),
                t.production["stage"][in_slice].tolist(),
                t.production["year"][in_slice].tolist(),
                strict=True,
            )
        )
    )
    importers = sorted(
        set(
            zip(
                trade["mineral"].tolist(),
                trade["stage"].tolist(),
                trade["year"].tolist(),
                trade["importer"].tolist(),
                strict=True,
            )
        )
    )
    return LoopSubset(production, trade, slices, importers, len(picked) / n_slices)


def _loop_agreement(
    kernel: str, data: CaseData, values: dict[Any, float], result: np.ndarray, t: LongTables
) -> dict:
    got = np.fromiter(values.values(), float, len(values))
    if kernel != "import_mix":
        return check(kernel, "loop", got, _at_keys(data, list(values), result, kernel))
    # per-flow shares: find each (mineral, stage, year, exporter, importer) among the rows
    frame = pd.DataFrame(list(values), columns=[*bl.IMPORTER[:3], "exporter", "importer"])
    ds = data.dataset
    flows = data.flows
    m, s, t_, i = _positions(data, [frame[c] for c in bl.IMPORTER], AXES["import_hhi"])
    e = ds.countries.get_indexer(pd.Index(frame["exporter"].to_numpy(dtype=object)))
    key = flows.key(("mineral", "stage", "year", "exporter", "importer"), (*ds.shape, ds.shape[3]))
    wanted = (((m * ds.shape[1] + s) * ds.shape[2] + t_) * ds.shape[3] + e) * ds.shape[3] + i
    order = np.argsort(key[t.trade_rows], kind="stable")
    at = np.searchsorted(key[t.trade_rows], wanted, sorter=order)
    return check(kernel, "loop", got, result[t.trade_rows][order[at]])


def run_loops(
    kernel: str, data: CaseData, t: LongTables, result: np.ndarray, cfg: Config
) -> dict[str, Any]:
    """Time the loop baseline on a subset of slices, after checking its numbers."""
    sub = loop_subset(data, t, LOOP_ROWS[cfg.mode])
    start = time.perf_counter()
    index = bl.group_rows(sub.production, sub.trade, t.governance)
    setup = time.perf_counter() - start
    keys: list[Any] = sub.slices if kernel == "production_hhi" else sub.importers
    loops: dict[str, Callable[[bl.RowIndex, Any], dict[Any, float]]] = {
        "production_hhi": bl.loop_hhi,
        "import_mix": bl.loop_import_mix,
        "import_hhi": bl.loop_import_hhi,
        "geopolrisk": bl.loop_geopolrisk,
    }
    loop_fn = loops[kernel]
    values = loop_fn(index, keys)
    agree = _loop_agreement(kernel, data, values, result, t)
    timing = time_call(partial(loop_fn, index, keys), min(cfg.repeats, SLOW_REPEATS))
    return {
        **timing.to_dict(),
        "results_timed": len(values),
        "per_result_s": timing.median / max(len(values), 1),
        "slices_fraction": sub.fraction,
        "setup_s": setup,
        "agreement": agree,
        "extrapolated": sub.fraction < 1,
    }


def run_query_loop(
    data: CaseData, t: LongTables, result: np.ndarray, cfg: Config
) -> dict[str, Any]:
    """GeoPolRisk with one DataFrame query per result, on a few results (extrapolated)."""
    sub = loop_subset(data, t, LOOP_ROWS[cfg.mode])
    wanted = sub.importers[: QUERY_RESULTS[cfg.mode]]
    done: dict[tuple[str, str, int, str], float] = {}
    start = time.perf_counter()
    for key in wanted:
        done.update(bl.query_geopolrisk(t.production, t.trade, t.governance, [key]))
        if time.perf_counter() - start > QUERY_BUDGET_S:
            break
    elapsed = time.perf_counter() - start
    agree = check(
        "geopolrisk",
        "query loop",
        np.fromiter(done.values(), float, len(done)),
        _at_keys(data, list(done), result, "geopolrisk"),
    )
    return {
        "median_s": elapsed,
        "results_timed": len(done),
        "per_result_s": elapsed / max(len(done), 1),
        "agreement": agree,
        "extrapolated": True,
    }


def _keyed_pandas(
    kernel: str, data: CaseData, keyed: pd.DataFrame, t: LongTables, result: np.ndarray
) -> tuple[Callable[[], Any], dict]:
    """Return the pandas baseline grouped by precomputed cells, checked against riskengine."""
    if kernel == "import_mix":
        call: Callable[[], Any] = lambda: bl.pandas_import_mix(keyed, "cell")  # noqa: E731
        return call, check(kernel, "pandas (cells)", call().to_numpy(), result[t.trade_rows])
    call = lambda: bl.pandas_import_hhi(keyed, "cell")  # noqa: E731
    out = call()
    key, _ = cell_keys(data.dataset, "importer")
    codes = keyed["cell"].cat.codes.to_numpy()
    cell_key = np.empty(int(codes.max()) + 1, dtype=np.int64)
    cell_key[codes] = key[t.trade_rows]
    expected = result[cell_key[pd.CategoricalIndex(out.index).codes]]
    return call, check(kernel, "pandas (cells)", out.to_numpy(), expected)


# --------------------------------------------------------------------------- cases


def _ratio(num: float | None, den: float | None) -> float | None:
    if num is None or den is None or den <= 0:
        return None
    return num / den


def run_kernel(
    k: Kernel,
    data: CaseData,
    t: LongTables | None,
    keyed: pd.DataFrame | None,
    cfg: Config,
    repeats: int,
) -> dict[str, Any]:
    """Time one kernel on one case, with its floor and (when asked) its baselines."""
    entry: dict[str, Any] = {"kernel": k.name, "complexity": k.complexity}
    gc.collect()
    fn = k.make(data)
    result = fn()
    entry["results"] = _result_count(k.name, data, t)
    if t is not None and k.baseline:
        call = _pandas_call(k.name, t)
        agree = _pandas_agreement(k.name, data, t, call(), result)
        base: dict[str, Any] = {"loop": run_loops(k.name, data, t, result, cfg)}
        if k.name == "geopolrisk":
            base["query_loop"] = run_query_loop(data, t, result, cfg)
        gc.collect()
        paired = time_pair(fn, call, repeats)
        timing = paired.a
        base["pandas"] = {
            **paired.b.to_dict(),
            "peak_bytes": peak_memory(call),
            "rows": len(t.production) if k.name == "production_hhi" else len(t.trade),
            "agreement": agree,
        }
        entry["pandas_speedup"] = paired.to_dict()
        if k.keyed is not None and keyed is not None:
            keyed_fn = k.keyed(data)
            keyed_call, keyed_agree = _keyed_pandas(k.name, data, keyed, t, result)
            check(k.name, "riskengine (cells)", keyed_fn(), result)
            gc.collect()
            pair = time_pair(keyed_fn, keyed_call, repeats)
            entry["keyed"] = {
                "riskengine": pair.a.to_dict(),
                "pandas": {**pair.b.to_dict(), "agreement": keyed_agree},
                "pandas_speedup": pair.to_dict(),
            }
        entry["baselines"] = base
    else:
        timing = time_call(fn, repeats)
    del result
    entry["riskengine"] = {**timing.to_dict(), "peak_bytes": peak_memory(fn)}
    arrays = k.reads(data)
    content = data.flows.content

    def floor() -> None:
        for a in arrays:
            a.sum()
        if k.per_flow:
            content.copy()

    floor_t = time_call(floor, repeats)
    floor_bytes = sum(a.nbytes for a in arrays) + (2 * content.nbytes if k.per_flow else 0)
    re_s = timing.median
    entry["floor"] = {**floor_t.to_dict(), "bytes": int(floor_bytes)}
    entry["floor_ratio"] = _ratio(re_s, floor_t.median)
    if "baselines" in entry:
        base = entry["baselines"]
        re_per_result = re_s / max(entry["results"], 1)
        entry["ratios"] = {
            "pandas_speedup": entry["pandas_speedup"]["median"],
            "riskengine_per_result_s": re_per_result,
            "loop_speedup_per_result": _ratio(base["loop"]["per_result_s"], re_per_result),
        }
        if "query_loop" in base:
            entry["ratios"]["query_loop_speedup_per_result"] = _ratio(
                base["query_loop"]["per_result_s"], re_per_result
            )
    return entry


def _quiet(fn: Callable[..., Any]) -> Callable[..., Any]:
    def call(*args: Any) -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn(*args)

    return call


def run_methods(data: CaseData, cfg: Config) -> list[dict[str, Any]]:
    """Time the whole GeoPolRisk and composite methods on a case, in-process."""
    from riskengine.methods import score

    out = []
    for method in ("geopolrisk", "riskengine"):
        call = _quiet(lambda method=method: score(data.dataset, method=method))
        gc.collect()
        rows = len(call().scores)
        timing = time_call(call, min(cfg.repeats, SLOW_REPEATS))
        out.append(
            {
                "method": method,
                "rows": rows,
                **timing.to_dict(),
                "per_row_s": timing.median / max(rows, 1),
            }
        )
    return out


def run_case(case: Case, cfg: Config) -> dict[str, Any]:
    """Build one case and run every kernel (and baselines where the case has them)."""
    record: dict[str, Any] = {
        "name": case.name,
        "kind": case.kind,
        "group": case.group,
        "description": case.description,
    }
    reason = case.unavailable()
    if reason:
        record.update(status="skipped", reason=reason)
        return record
    start = time.perf_counter()
    data = case.build()
    record["build_s"] = time.perf_counter() - start
    flows = data.flows
    record.update(
        status="ok",
        shape=data.shape,
        flows=len(flows),
        flows_with_quantity=int((flows.content > 0).sum()),
        pair_cells=data.pairs,
        flow_bytes=data.flow_bytes,
        notes=list(data.notes),
        repeats=cfg.repeats,
    )
    tables = keyed = None
    if case.baselines:
        start = time.perf_counter()
        tables = long_tables(data)
        keyed = bl.with_cells(tables.trade)
        record["long_tables_s"] = time.perf_counter() - start
        record["long_rows"] = {"production": len(tables.production), "trade": len(tables.trade)}
    record["kernels"] = [run_kernel(k, data, tables, keyed, cfg, cfg.repeats) for k in KERNELS]
    if case.group in METHOD_GROUPS:
        record["methods"] = run_methods(data, cfg)
    return record


# --------------------------------------------------------------------------- processes


def _cli_script() -> list[str]:
    script = Path(sys.executable).with_name("riskengine")
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "from riskengine.cli import entry_point; entry_point()"]


def importtime(argv: list[str], env: dict[str, str]) -> dict[str, Any]:
    """Cumulative import time of each module a command imports at top level (``-X importtime``).

    One run, with the bytecode cache of the timed runs; ``total_s`` is the sum
    over the top-level imports (each module counted once, where first imported),
    ``beyond_numpy_pandas_s`` the same without numpy and pandas.
    """
    import subprocess

    args = argv[1:] if argv[0] == sys.executable else argv
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    pattern = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|( +)(\S+)")
    top: list[tuple[str, float]] = []
    for line in proc.stderr.splitlines():
        match = pattern.match(line)
        if match and len(match.group(3)) == 1:
            top.append((match.group(4), int(match.group(2)) / 1e6))
    total = sum(s for _, s in top)
    beyond = sum(s for m, s in top if m not in ("numpy", "pandas"))
    top.sort(key=lambda x: -x[1])
    return {
        "total_s": total,
        "beyond_numpy_pandas_s": beyond,
        "modules": [{"module": m, "cumulative_s": s} for m, s in top[:15]],
    }


def run_startup(cfg: Config) -> dict[str, Any]:
    """Time ``riskengine score`` against ``python -c "import numpy, pandas"``, alternated."""
    repeats = STARTUP_REPEATS[cfg.mode]
    score = [*_cli_script(), "score"]
    baseline = [sys.executable, "-c", "import numpy, pandas"]
    with tempfile.TemporaryDirectory(prefix="riskengine-pyc-") as tmp:
        env = bytecode_env(Path(tmp))
        pair = time_process_pair(score, baseline, repeats, cwd=ROOT, env=env)
        others = []
        for name, argv, what in (
            ("python_startup", [sys.executable, "-c", "pass"], "python -c pass (interpreter)"),
            (
                "import_riskengine_cli",
                [sys.executable, "-c", "import riskengine.cli"],
                "python -c 'import riskengine.cli' (interpreter + the CLI's imports)",
            ),
        ):
            others.append(
                {
                    "name": name,
                    "what": what,
                    **time_process(argv, repeats, cwd=ROOT, env=env).to_dict(),
                }
            )
        # numpy and pandas first: what follows is what riskengine adds to them
        imports = importtime([sys.executable, "-c", SCORE_AFTER_NUMPY_PANDAS], env)
    raw: dict[str, Any] | None = None
    if os.environ.get("PYTHONDONTWRITEBYTECODE"):
        # as this environment runs a source checkout: riskengine compiled on every start
        plain = time_process_pair(score, baseline, repeats, cwd=ROOT)
        raw = {
            "score": plain.a.to_dict(),
            "import_numpy_pandas": plain.b.to_dict(),
            "ratio": {
                "median": statistics.median(1 / r for r in plain.ratios),
                "runs": [1 / r for r in plain.ratios],
            },
        }
    return {
        "command": "riskengine score",
        "baseline": 'python -c "import numpy, pandas"',
        "bytecode": "cached (PYTHONPYCACHEPREFIX in a temporary directory, filled by one "
        "untimed run of each command)",
        "score": pair.a.to_dict(),
        "import_numpy_pandas": pair.b.to_dict(),
        "ratio": {
            "median": statistics.median(1 / r for r in pair.ratios),
            "runs": [1 / r for r in pair.ratios],
        },
        "others": others,
        "importtime": imports,
        "without_bytecode": raw,
    }


def run_loads(cfg: Config) -> list[dict[str, Any]]:
    """Load times in-process: the default dataset and the BACI extract."""
    from riskengine.dataset import load_dataset

    loads: list[dict[str, Any]] = []
    call = _quiet(load_dataset)
    loads.append(
        {
            "name": "load_default_dataset",
            "what": "riskengine.load_dataset() of the embedded default dataset from its binary "
            "form (the shipped one, or the user cache when the shipped one is stale), "
            "consistency checks included, in-process",
            **time_call(call, cfg.repeats).to_dict(),
            "peak_bytes": peak_memory(call),
        }
    )
    if cfg.mode == "full" and BACI_DIR.is_dir():
        from riskengine.io.baci import read_baci

        rows = read_baci(BACI_DIR).rows_read
        call = _quiet(lambda: read_baci(BACI_DIR))
        loads.append(
            {
                "name": "read_baci",
                "what": f"riskengine.io.baci.read_baci on the BACI extract ({rows:,} rows, "
                f"30 yearly CSV files), in-process",
                **time_call(call, min(cfg.repeats, SLOW_REPEATS)).to_dict(),
                "peak_bytes": peak_memory(call),
            }
        )
    return loads


def _stages(stages: list[tuple[str, Callable[[Any], Any]]], repeats: int) -> dict[str, Any]:
    """Time a pipeline of stages (each takes the previous stage's output) end to end.

    The last stage must return a :class:`~riskengine.methods.base.ScoreResult`;
    its number of rows is reported.
    """
    totals: list[float] = []
    per_stage: dict[str, list[float]] = {name: [] for name, _ in stages}
    rows = 0
    for _ in range(max(1, repeats)):
        gc.collect()
        value: Any = None
        total = 0.0
        for name, fn in stages:
            start = time.perf_counter()
            value = fn(value)
            took = time.perf_counter() - start
            per_stage[name].append(took)
            total += took
        totals.append(total)
        rows = len(value.scores)
        del value
    return {
        "rows": rows,
        "median_s": float(np.median(totals)),
        "runs_s": totals,
        "stages_median_s": {n: float(np.median(v)) for n, v in per_stage.items()},
    }


def run_end_to_end(cfg: Config) -> list[dict[str, Any]]:
    """Time the full GeoPolRisk table in-process: the default dataset and the BACI extract."""
    from riskengine.dataset import Dataset, load_dataset
    from riskengine.methods.geopolrisk import geopolrisk

    out: list[dict[str, Any]] = []
    out.append(
        {
            "name": "default_geopolrisk",
            "what": "load_dataset() + geopolrisk() on the default data, in-process",
            **_stages(
                [
                    ("load_dataset", _quiet(lambda _: load_dataset())),
                    ("geopolrisk", _quiet(lambda ds: geopolrisk(ds))),
                ],
                cfg.repeats if cfg.mode == "full" else 1,
            ),
        }
    )
    if cfg.mode != "full" or not BACI_DIR.is_dir():
        return out
    from riskengine.io.baci import read_baci
    from riskengine.io.canonical import write_table

    trade = _quiet(lambda: read_baci(BACI_DIR))().trade
    extra = baci_extra_tables(trade, Case("baci", "baci", "real").seed)
    repeats = min(cfg.repeats, SLOW_REPEATS)

    def tables(r: Any) -> dict[str, pd.DataFrame]:
        return {"trade": r.trade, **extra}

    run = _stages(
        [
            ("read_baci", _quiet(lambda _: read_baci(BACI_DIR))),
            ("Dataset.from_tables", _quiet(lambda r: Dataset.from_tables(tables(r)))),
            ("geopolrisk", _quiet(lambda ds: geopolrisk(ds))),
        ],
        repeats,
    )
    out.append(
        {
            "name": "baci_geopolrisk_from_release",
            "what": "read_baci (30 BACI CSV files, 1.26 M rows) + Dataset.from_tables (with the "
            "seeded production and PV tables, prepared beforehand) + geopolrisk(): the full "
            "table for every (mineral, stage, year, importer)",
            **run,
        }
    )
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp) / "data"
        write_table(trade, directory, "trade")
        write_table(extra["production"], directory, "production")
        write_table(extra["governance"], directory, "governance")
        from_csv = _stages(
            [
                ("load_dataset", _quiet(lambda _: load_dataset(directory, cache=False))),
                ("geopolrisk", _quiet(lambda ds: geopolrisk(ds))),
            ],
            repeats,
        )
        with cache_dir(Path(tmp) / "cache"):
            _quiet(load_dataset)(directory)  # builds the cache, untimed
            from_cache = _stages(
                [
                    ("load_dataset", _quiet(lambda _: load_dataset(directory))),
                    ("geopolrisk", _quiet(lambda ds: geopolrisk(ds))),
                ],
                repeats,
            )
    out.append(
        {
            "name": "baci_geopolrisk_from_canonical",
            "what": "load_dataset(cache=False) of the BACI trade written as a canonical dataset "
            "directory (trade.csv, production.csv, governance.csv) + geopolrisk()",
            **from_csv,
        }
    )
    out.append(
        {
            "name": "baci_geopolrisk_from_cache",
            "what": "the same directory with its binary cache built: load_dataset() + geopolrisk()",
            **from_cache,
        }
    )
    return out


@contextmanager
def cache_dir(path: Path) -> Iterator[None]:
    """Point ``$RISKENGINE_CACHE_DIR`` at ``path`` for the duration."""
    old = os.environ.get("RISKENGINE_CACHE_DIR")
    os.environ["RISKENGINE_CACHE_DIR"] = str(path)
    try:
        yield
    finally:
        if old is None:
            del os.environ["RISKENGINE_CACHE_DIR"]
        else:
            os.environ["RISKENGINE_CACHE_DIR"] = old


# --------------------------------------------------------------------------- analysis


def _fit(points: list[dict[str, Any]], field: str, floor: float) -> float | None:
    fit = [p for p in points if p[field] is not None and p[field] >= floor]
    if len(fit) < 2 or fit[-1]["size"] <= fit[0]["size"]:
        return None
    x = np.log([p["size"] for p in fit])
    y = np.log([p[field] for p in fit])
    return float(np.polyfit(x, y, 1)[0])


def scaling(cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Time and peak memory against each swept axis, with the fitted exponent."""
    out: list[dict[str, Any]] = []
    axis_of = {
        "scaling-countries": "countries",
        "scaling-minerals": "minerals",
        "scaling-years": "years",
    }
    for group, axis in axis_of.items():
        members = [c for c in cases if c["group"] == group and c.get("status") == "ok"]
        if len(members) < 2:
            continue
        members.sort(key=lambda c: c["shape"][axis])
        for k in KERNELS:
            points = []
            for c in members:
                e = next(e for e in c["kernels"] if e["kernel"] == k.name)
                points.append(
                    {
                        "size": c["shape"][axis],
                        "flows": c["flows"],
                        "median_s": e["riskengine"]["median_s"],
                        "peak_bytes": e["riskengine"]["peak_bytes"],
                    }
                )
            out.append(
                {
                    "axis": axis,
                    "kernel": k.name,
                    "complexity": k.complexity,
                    "expected_exponent": k.exponents[axis],
                    "time_exponent": _fit(points, "median_s", 1e-3),
                    "memory_exponent": _fit(points, "peak_bytes", 1e6),
                    "points": points,
                }
            )
    return out


def _verdict(measured: float | None, target: float, larger_is_better: bool) -> dict[str, Any]:
    if measured is None or (isinstance(measured, float) and math.isnan(measured)):
        return {"measured": None, "threshold": target, "met": None, "missed_by_factor": None}
    met = measured >= target if larger_is_better else measured <= target
    factor = target / measured if larger_is_better else measured / target
    return {"measured": measured, "threshold": target, "met": met, "missed_by_factor": factor}


def targets(results: dict[str, Any]) -> dict[str, Any]:
    """Every target against its measurement."""
    checks: list[dict[str, Any]] = []
    e2e = results.get("world")
    if e2e and e2e["case"] == WORLD.name:
        for kind, limit_s, limit_b, where in (
            ("warm", "world_warm_max_s", "world_warm_max_bytes", "cache warm"),
            ("cold", "world_cold_max_s", "world_cold_max_bytes", "from the CSV files"),
        ):
            s = e2e["summary"][kind]
            checks.append(
                {
                    "target": f"world load + geopolrisk + riskengine, {where}: "
                    f"< {TARGETS[limit_s]:g} s",
                    "unit": "s",
                    **_verdict(s["wall_s"], TARGETS[limit_s], False),
                }
            )
            checks.append(
                {
                    "target": f"world load + geopolrisk + riskengine, {where}: peak memory "
                    f"< {TARGETS[limit_b] / 1e9:g} GB",
                    "unit": "bytes",
                    **_verdict(s["peak_rss_bytes"], TARGETS[limit_b], False),
                }
            )
    sized = [c for c in results["cases"] if c["group"] == "size" and c.get("status") == "ok"]
    reference = max(sized, key=lambda c: c["flows"]) if sized else None
    if reference is not None:
        for e in reference["kernels"]:
            if e["kernel"] in TRADE_KERNELS and "pandas_speedup" in e:
                checks.append(
                    {
                        "target": f"{e['kernel']} ({reference['name']}): >= 50x faster than pandas",
                        "unit": "x",
                        **_verdict(
                            e["pandas_speedup"]["median"], TARGETS["pandas_speedup_min"], True
                        ),
                    }
                )
    startup = results.get("startup")
    if startup:
        checks.append(
            {
                "target": 'riskengine score <= 1.3x python -c "import numpy, pandas"',
                "unit": "x",
                **_verdict(startup["ratio"]["median"], TARGETS["startup_ratio_max"], False),
            }
        )
    for run in results.get("end_to_end", []):
        if run["name"].startswith("baci_geopolrisk"):
            checks.append(
                {
                    "target": f"{run['name']}: full BACI GeoPolRisk table incl. loading < 2 s",
                    "unit": "s",
                    **_verdict(run["median_s"], TARGETS["baci_geopolrisk_table_max_s"], False),
                }
            )
    return {"reference_case": reference["name"] if reference else None, "checks": checks}


# --------------------------------------------------------------------------- main


def parse(argv: Sequence[str] | None) -> Config:
    """Parse the command line."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small cases only (< 1 minute)")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "benchmarks" / "results", help="output directory"
    )
    parser.add_argument(
        "--only",
        action="append",
        metavar="CASE",
        help="run only this case (repeatable); skips the load times and the runs from files",
    )
    parser.add_argument(
        "--repeats", type=int, help="timed runs per measurement (default 5, quick 3)"
    )
    parser.add_argument(
        "--no-processes",
        action="store_true",
        help="skip the timings that start processes (start-up, world end to end)",
    )
    args = parser.parse_args(argv)
    mode = "quick" if args.quick else "full"
    repeats = args.repeats if args.repeats else (3 if args.quick else 5)
    return Config(mode, repeats, args.out, args.only, not args.no_processes)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the suite; return 0 (an :class:`AgreementError` propagates)."""
    cfg = parse(argv)
    started = time.perf_counter()

    def say(what: str) -> None:
        print(f"[{time.perf_counter() - started:6.1f} s] {what}", flush=True)

    results: dict[str, Any] = {
        "schema": 2,
        "mode": cfg.mode,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "python -m benchmarks.run " + " ".join(sys.argv[1:] if argv is None else argv),
        "machine": machine(),
        "source": source_tree(ROOT),
        "targets": TARGETS,
    }
    cases = []
    for case in select(registry(quick=cfg.mode == "quick"), cfg.only):
        say(f"case {case.name}")
        cases.append(run_case(case, cfg))
    results["cases"] = cases
    whole = not cfg.only
    if whole and cfg.processes:
        say(f"end to end from CSV files in processes ({E2E_CASE[cfg.mode].name})")
        results["world"] = world.run(E2E_CASE[cfg.mode], E2E_REPEATS[cfg.mode])
        say("start-up")
        results["startup"] = run_startup(cfg)
    say("load times")
    results["loads"] = run_loads(cfg) if whole else []
    say("end to end in-process")
    results["end_to_end"] = run_end_to_end(cfg) if whole else []
    results["scaling"] = scaling(cases)
    results["summary"] = targets(results)
    results["machine"]["load_average_at_end"] = load_average()
    results["machine"]["max_rss_bytes"] = max_rss_bytes()
    results["elapsed_s"] = time.perf_counter() - started
    md = markdown(results)
    json_path = write_results(cfg.out, cfg.mode, results, md)
    print(md)
    print(f"wrote {json_path} and {cfg.out / f'{cfg.mode}.md'} in {results['elapsed_s']:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
