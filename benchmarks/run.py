"""Run the benchmark suite and write ``<out>/<mode>.json`` and ``<out>/<mode>.md``.

Usage (from the repository root)::

    python -m benchmarks.run            # full run, several minutes, needs ~10 GB of RAM
    python -m benchmarks.run --quick    # under a minute
    python -m benchmarks.run --quick --only toy --only default --repeats 1 --no-processes

For every case every riskengine kernel is timed against the memory-bandwidth
floor (one ``numpy`` sum over the tensor it reads); on cases with baselines,
the pandas and loop baselines are run in the same process and their results
must agree with riskengine's (the run stops with an ``AgreementError``
otherwise). See ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks import baselines as bl
from benchmarks.cases import (
    BACI_DIR,
    ROOT,
    Case,
    Inputs,
    LongTables,
    baci_extra_tables,
    long_tables,
    registry,
    select,
)
from benchmarks.kernels import KERNELS, Kernel
from benchmarks.measure import (
    load_average,
    machine,
    max_rss_bytes,
    peak_memory,
    time_call,
    time_process,
)
from benchmarks.report import markdown

#: The targets of the benchmark issue.
TARGETS: dict[str, float] = {
    "pandas_speedup_min": 50.0,
    "loop_speedup_per_result_min": 1000.0,
    "floor_ratio_max": 3.0,
    "baci_geopolrisk_table_max_s": 2.0,
    "cli_score_max_s": 1.0,
}

#: Trade rows the loop baseline walks per case (a subset of slices, extrapolated).
LOOP_ROWS = {"full": 300_000, "quick": 20_000}
#: Results the query-loop baseline computes per case, and its time budget.
QUERY_RESULTS = {"full": 20, "quick": 3}
QUERY_BUDGET_S = 10.0
#: Tensors above this size are timed at most 3 times (once in a quick run, where
#: their peak memory is not measured either).
BIG_BYTES = {"full": 4e8, "quick": 1e8}

AXES = {
    "shares": ("mineral", "stage", "year", "country"),
    "hhi": ("mineral", "stage", "year"),
    "import_mix": ("mineral", "stage", "year", "exporter", "importer"),
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


def _positions(x: Inputs, columns: Sequence[Any], axes: Sequence[str]) -> tuple:
    labels = {
        "mineral": x.minerals,
        "stage": x.stages,
        "year": x.years,
        "country": x.countries,
        "exporter": x.countries,
        "importer": x.countries,
    }
    out = []
    for col, axis in zip(columns, axes, strict=True):
        pos = pd.Index(labels[axis]).get_indexer(pd.Index(col))
        if (pos < 0).any():
            raise AgreementError(f"a baseline returned {axis} labels riskengine does not have")
        out.append(pos)
    return tuple(out)


def _expected_from_index(x: Inputs, index: pd.Index, result: np.ndarray, kernel: str) -> np.ndarray:
    axes = AXES[kernel]
    cols = [index.get_level_values(n) for n in range(index.nlevels)]
    return result[_positions(x, cols, axes)]


def _expected_from_keys(
    x: Inputs, keys: list[tuple], result: np.ndarray, kernel: str
) -> np.ndarray:
    axes = AXES[kernel]
    cols: list[Any] = list(zip(*keys, strict=True)) if keys else [[] for _ in axes]
    return result[_positions(x, cols, axes)]


def check(
    kernel: str, baseline: str, actual: np.ndarray, expected: np.ndarray, rtol: float
) -> dict:
    """Compare a baseline with riskengine; raise :class:`AgreementError` if they differ."""
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
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
        "shares": lambda: bl.pandas_shares(t.production),
        "hhi": lambda: bl.pandas_hhi(t.production),
        "import_mix": lambda: bl.pandas_import_mix(t.trade),
        "import_hhi": lambda: bl.pandas_import_hhi(t.trade),
        "geopolrisk": lambda: bl.pandas_geopolrisk(t.production, t.trade, t.governance),
    }
    return calls[kernel]


def _pandas_expected(kernel: str, x: Inputs, t: LongTables, out: Any, result: np.ndarray) -> tuple:
    if kernel == "shares":
        return out.to_numpy(), result[t.production_pos]
    if kernel == "import_mix":
        return out.to_numpy(), result[t.trade_pos]
    if kernel == "geopolrisk":
        return out["score"].to_numpy(), _expected_from_index(x, out.index, result, kernel)
    return out.to_numpy(), _expected_from_index(x, out.index, result, kernel)


def _result_count(kernel: str, x: Inputs, t: LongTables) -> int:
    """Count the results of the full table (what the loop computes for every key)."""
    if kernel == "shares":
        return len(t.production)
    if kernel == "hhi":
        return int(np.count_nonzero(x.production.sum(axis=-1)))
    if kernel == "import_mix":
        return len(t.trade)
    return int(np.count_nonzero(x.trade.sum(axis=-2)))


@dataclass(frozen=True)
class LoopSubset:
    """The slices the loop baselines compute, and their rows."""

    production: pd.DataFrame
    trade: pd.DataFrame
    slices: list[tuple[str, str, int]]
    importers: list[tuple[str, str, int, str]]
    fraction: float


def loop_subset(x: Inputs, t: LongTables, max_rows: int) -> LoopSubset:
    """Evenly spaced (mineral, stage, year) slices holding about ``max_rows`` trade rows."""
    n_m, n_s, n_t = len(x.minerals), len(x.stages), len(x.years)
    n_slices = n_m * n_s * n_t
    per_slice = max(len(t.trade) / n_slices, 1.0)
    n_pick = int(min(n_slices, max(1, max_rows // per_slice)))
    picked = np.unique(np.linspace(0, n_slices - 1, n_pick).round().astype(np.int64))
    m_p, _, t_p = np.unravel_index(picked, (n_m, n_s, n_t))
    mt = np.unique(m_p * n_t + t_p)
    tm, ts, tt = t.trade_pos[0], t.trade_pos[1], t.trade_pos[2]
    pm, ps, pt = t.production_pos[0], t.production_pos[1], t.production_pos[2]
    trade = t.trade[np.isin((tm * n_s + ts) * n_t + tt, picked)].reset_index(drop=True)
    prod_rows = np.isin(pm * n_t + pt, mt)
    production = t.production[prod_rows].reset_index(drop=True)
    in_slice = np.isin((pm * n_s + ps) * n_t + pt, picked)
    slices = sorted(
        set(
            zip(
                t.production["mineral"][in_slice],
                t.production["stage"][in_slice],
                t.production["year"][in_slice].tolist(),
                strict=True,
            )
        )
    )
    importers = sorted(
        set(
            zip(
                trade["mineral"],
                trade["stage"],
                trade["year"].tolist(),
                trade["importer"],
                strict=True,
            )
        )
    )
    return LoopSubset(production, trade, slices, importers, len(picked) / n_slices)


def run_baselines(
    kernel: str, x: Inputs, t: LongTables, result: np.ndarray, cfg: Config, repeats: int
) -> dict[str, Any]:
    """Time the pandas, loop and (GeoPolRisk) query-loop baselines of one kernel."""
    rtol = 2e-4 if x.trade.dtype == np.float32 else 1e-9
    out: dict[str, Any] = {"results": _result_count(kernel, x, t)}

    call = _pandas_call(kernel, t)
    first = call()
    actual, expected = _pandas_expected(kernel, x, t, first, result)
    agree = check(kernel, "pandas", actual, expected, rtol)
    del first, actual, expected
    out["pandas"] = {
        **time_call(call, repeats).to_dict(),
        "peak_bytes": peak_memory(call),
        "rows": len(t.trade) if kernel not in ("shares", "hhi") else len(t.production),
        "agreement": agree,
    }

    sub = loop_subset(x, t, LOOP_ROWS[cfg.mode])
    start = time.perf_counter()
    index = bl.group_rows(sub.production, sub.trade, t.governance)
    setup = time.perf_counter() - start
    keys: list[Any] = sub.slices if kernel in ("shares", "hhi") else sub.importers
    loops: dict[str, Callable[[bl.RowIndex, Any], dict[Any, float]]] = {
        "shares": bl.loop_shares,
        "hhi": bl.loop_hhi,
        "import_mix": bl.loop_import_mix,
        "import_hhi": bl.loop_import_hhi,
        "geopolrisk": bl.loop_geopolrisk,
    }
    loop_fn = loops[kernel]
    values = loop_fn(index, keys)
    agree = check(
        kernel,
        "loop",
        np.fromiter(values.values(), float, len(values)),
        _expected_from_keys(x, list(values), result, kernel),
        rtol,
    )
    timing = time_call(partial(loop_fn, index, keys), repeats)
    out["loop"] = {
        **timing.to_dict(),
        "results_timed": len(values),
        "per_result_s": timing.median / max(len(values), 1),
        "slices_fraction": sub.fraction,
        "setup_s": setup,
        "agreement": agree,
        "extrapolated": len(values) < out["results"],
    }
    if kernel == "geopolrisk":
        out["query_loop"] = run_query_loop(x, t, sub, result, cfg, rtol)
    return out


def run_query_loop(
    x: Inputs, t: LongTables, sub: LoopSubset, result: np.ndarray, cfg: Config, rtol: float
) -> dict[str, Any]:
    """GeoPolRisk with one DataFrame query per result, on a few results (extrapolated)."""
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
        _expected_from_keys(x, list(done), result, "geopolrisk"),
        rtol,
    )
    return {
        "median_s": elapsed,
        "results_timed": len(done),
        "per_result_s": elapsed / max(len(done), 1),
        "agreement": agree,
        "extrapolated": True,
    }


# --------------------------------------------------------------------------- cases


def _ratio(num: float | None, den: float | None) -> float | None:
    if num is None or den is None or den <= 0:
        return None
    return num / den


def run_kernel(
    k: Kernel,
    x: Inputs,
    t: LongTables | None,
    cfg: Config,
    repeats: int,
    floors: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    """Time one kernel on one case, with its floors and (when asked) its baselines."""
    entry: dict[str, Any] = {"kernel": k.name, "complexity": k.complexity}
    reason = k.skip(x, cfg.mode)
    if reason:
        entry.update(status="skipped", reason=reason)
        return entry
    gc.collect()
    fn = k.make(x)
    result = fn()
    if t is not None and k.baseline:
        entry["baselines"] = run_baselines(k.name, x, t, result, cfg, repeats)
    del result
    timing = time_call(fn, repeats)
    big = x.trade.nbytes >= BIG_BYTES[cfg.mode]
    peak = None if cfg.mode == "quick" and big else peak_memory(fn)
    entry["riskengine"] = {**timing.to_dict(), "peak_bytes": peak}
    tensor = k.reads(x)
    key = f"{tensor.shape}:{tensor.__array_interface__['data'][0]}"
    if key not in floors:
        floors[key] = {
            "sum": time_call(lambda: tensor.sum(), repeats).to_dict(),
            "copy": time_call(lambda: tensor.copy(), repeats).to_dict(),
            "bytes": int(tensor.nbytes),
        }
    floor = floors[key]
    re_s = timing.median
    entry["floor"] = floor
    entry["floor_ratio"] = _ratio(re_s, floor["sum"]["median_s"])
    entry["copy_floor_ratio"] = _ratio(re_s, floor["copy"]["median_s"])
    entry["bandwidth_gb_s"] = floor["bytes"] / re_s / 1e9
    base = entry.get("baselines")
    if base:
        pandas_s = base["pandas"]["median_s"]
        re_per_result = re_s / max(base["results"], 1)
        entry["ratios"] = {
            "riskengine_over_pandas": _ratio(re_s, pandas_s),
            "pandas_speedup": _ratio(pandas_s, re_s),
            "riskengine_per_result_s": re_per_result,
            "riskengine_over_loop_per_result": _ratio(re_per_result, base["loop"]["per_result_s"]),
            "loop_speedup_per_result": _ratio(base["loop"]["per_result_s"], re_per_result),
        }
        if "query_loop" in base:
            entry["ratios"]["query_loop_speedup_per_result"] = _ratio(
                base["query_loop"]["per_result_s"], re_per_result
            )
    return entry


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
    x = case.build()
    record["build_s"] = time.perf_counter() - start
    record.update(
        status="ok",
        shape=x.shape,
        dtype=str(x.trade.dtype),
        trade_cells=x.cells,
        trade_nonzero=int(np.count_nonzero(x.trade)),
        trade_bytes=int(x.trade.nbytes),
        notes=list(x.notes),
    )
    big = x.trade.nbytes >= BIG_BYTES[cfg.mode]
    repeats = min(cfg.repeats, 3 if cfg.mode == "full" else 1) if big else cfg.repeats
    record["repeats"] = repeats
    tables = None
    if case.baselines:
        start = time.perf_counter()
        tables = long_tables(x)
        record["long_tables_s"] = time.perf_counter() - start
        record["long_rows"] = {"production": len(tables.production), "trade": len(tables.trade)}
    floors: dict[str, dict[str, Any]] = {}
    record["kernels"] = [run_kernel(k, x, tables, cfg, repeats, floors) for k in KERNELS]
    return record


# --------------------------------------------------------------------------- loads


def _quiet(fn: Callable[..., Any]) -> Callable[..., Any]:
    def call(*args: Any) -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn(*args)

    return call


def _cli_argv() -> list[str]:
    script = Path(sys.executable).with_name("riskengine")
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "from riskengine.cli import entry_point; entry_point()"]


def run_loads(cfg: Config) -> list[dict[str, Any]]:
    """Load times: the default dataset, the BACI extract, and the CLI as a process."""
    from riskengine.dataset import load_dataset

    loads: list[dict[str, Any]] = []
    call = _quiet(load_dataset)
    loads.append(
        {
            "name": "load_default_dataset",
            "what": "riskengine.load_dataset() of the embedded default dataset, in-process",
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
                **time_call(call, min(cfg.repeats, 3)).to_dict(),
                "peak_bytes": peak_memory(call),
            }
        )
    if cfg.processes:
        cli = [*_cli_argv(), "score"]
        for name, argv, what in (
            ("python_startup", [sys.executable, "-c", "pass"], "python -c pass (interpreter)"),
            (
                "import_riskengine_cli",
                [sys.executable, "-c", "import riskengine.cli"],
                "python -c 'import riskengine.cli' (interpreter + imports)",
            ),
            ("cli_score", cli, "riskengine score on the default data, end to end, as a process"),
        ):
            loads.append(
                {
                    "name": name,
                    "what": what,
                    "argv": argv,
                    **time_process(argv, cfg.repeats, cwd=ROOT).to_dict(),
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
    """Time the full GeoPolRisk table from files: the default dataset and the BACI extract."""
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
    repeats = min(cfg.repeats, 3)

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
        directory = Path(tmp)
        write_table(trade, directory, "trade")
        write_table(extra["production"], directory, "production")
        write_table(extra["governance"], directory, "governance")
        run = _stages(
            [
                ("load_dataset", _quiet(lambda _: load_dataset(directory))),
                ("geopolrisk", _quiet(lambda ds: geopolrisk(ds))),
            ],
            repeats,
        )
    out.append(
        {
            "name": "baci_geopolrisk_from_canonical",
            "what": "load_dataset() of the BACI trade written as a canonical dataset directory "
            "(trade.csv, production.csv, governance.csv) + geopolrisk()",
            **run,
        }
    )
    return out


# --------------------------------------------------------------------------- analysis


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
                if "riskengine" not in e:
                    continue
                points.append(
                    {
                        "size": c["shape"][axis],
                        "median_s": e["riskengine"]["median_s"],
                        "peak_bytes": e["riskengine"]["peak_bytes"],
                    }
                )
            fit = [p for p in points if p["median_s"] >= 1e-3]
            exponent = None
            if len(fit) >= 2 and fit[-1]["size"] > fit[0]["size"]:
                exponent = float(
                    np.polyfit(
                        np.log([p["size"] for p in fit]), np.log([p["median_s"] for p in fit]), 1
                    )[0]
                )
            mem = [p for p in points if p["peak_bytes"] is not None and p["peak_bytes"] > 1e6]
            mem_exponent = None
            if len(mem) >= 2 and mem[-1]["size"] > mem[0]["size"]:
                mem_exponent = float(
                    np.polyfit(
                        np.log([p["size"] for p in mem]), np.log([p["peak_bytes"] for p in mem]), 1
                    )[0]
                )
            out.append(
                {
                    "axis": axis,
                    "kernel": k.name,
                    "complexity": k.complexity,
                    "expected_exponent": k.exponents[axis],
                    "time_exponent": exponent,
                    "memory_exponent": mem_exponent,
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


def targets(cases: list[dict[str, Any]], loads: list[dict], e2e: list[dict]) -> dict[str, Any]:
    """Every target against its measurement (at the largest size case that ran)."""
    sized = [c for c in cases if c["group"] == "size" and c.get("status") == "ok"]
    checks: list[dict[str, Any]] = []
    reference = max(sized, key=lambda c: c["trade_cells"]) if sized else None
    if reference is not None:
        for e in reference["kernels"]:
            if "riskengine" not in e:
                continue
            r = e.get("ratios", {})
            if r:
                checks.append(
                    {
                        "target": f"{e['kernel']}: >= 50x faster than pandas",
                        **_verdict(r["pandas_speedup"], TARGETS["pandas_speedup_min"], True),
                    }
                )
                checks.append(
                    {
                        "target": f"{e['kernel']}: >= 1000x faster per result than the loop",
                        **_verdict(
                            r["loop_speedup_per_result"],
                            TARGETS["loop_speedup_per_result_min"],
                            True,
                        ),
                    }
                )
            checks.append(
                {
                    "target": f"{e['kernel']}: within 3x of the memory-bandwidth floor",
                    **_verdict(e["floor_ratio"], TARGETS["floor_ratio_max"], False),
                }
            )
    for run in e2e:
        if run["name"].startswith("baci_geopolrisk"):
            checks.append(
                {
                    "target": f"{run['name']}: full BACI GeoPolRisk table incl. loading < 2 s",
                    **_verdict(run["median_s"], TARGETS["baci_geopolrisk_table_max_s"], False),
                }
            )
    for load in loads:
        if load["name"] == "cli_score":
            checks.append(
                {
                    "target": "riskengine score on the default data < 1 s wall-clock",
                    **_verdict(load["median_s"], TARGETS["cli_score_max_s"], False),
                }
            )
    return {"reference_case": reference["name"] if reference else None, "checks": checks}


def scenarios_status() -> dict[str, str]:
    """Say why the single-ban loop vs vectorized sweep benchmark is not run."""
    import importlib.util

    present = [
        name
        for name in ("riskengine.scenarios", "riskengine.stress")
        if importlib.util.find_spec(name) is not None
    ]
    return {
        "status": "not run",
        "reason": "the loop over single-ban scenarios vs the vectorized sweep is not "
        "benchmarked yet (packages present: " + (", ".join(present) or "none") + ")",
    }


# --------------------------------------------------------------------------- main


def parse(argv: Sequence[str] | None) -> Config:
    """Parse the command line."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small cases only (< 1 minute)")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "benchmarks" / "results", help="output directory"
    )
    parser.add_argument(
        "--only", action="append", metavar="CASE", help="run only this case (repeatable)"
    )
    parser.add_argument(
        "--repeats", type=int, help="timed runs per measurement (default 5, quick 3)"
    )
    parser.add_argument(
        "--no-processes",
        action="store_true",
        help="skip the timings that start processes (CLI start-up)",
    )
    args = parser.parse_args(argv)
    mode = "quick" if args.quick else "full"
    repeats = args.repeats if args.repeats else (3 if args.quick else 5)
    return Config(mode, repeats, args.out, args.only, not args.no_processes)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the suite; return 0 (an :class:`AgreementError` propagates)."""
    cfg = parse(argv)
    started = time.perf_counter()
    results: dict[str, Any] = {
        "schema": 1,
        "mode": cfg.mode,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "python -m benchmarks.run " + " ".join(sys.argv[1:] if argv is None else argv),
        "machine": machine(),
        "targets": TARGETS,
    }
    cases = []
    for case in select(registry(quick=cfg.mode == "quick"), cfg.only):
        print(f"[{time.perf_counter() - started:6.1f} s] case {case.name}", flush=True)
        cases.append(run_case(case, cfg))
    results["cases"] = cases
    print(f"[{time.perf_counter() - started:6.1f} s] load times", flush=True)
    results["loads"] = run_loads(cfg) if not cfg.only else []
    print(f"[{time.perf_counter() - started:6.1f} s] end to end", flush=True)
    results["end_to_end"] = run_end_to_end(cfg) if not cfg.only else []
    results["scenarios"] = scenarios_status()
    results["scaling"] = scaling(cases)
    results["summary"] = targets(cases, results["loads"], results["end_to_end"])
    results["machine"]["load_average_at_end"] = load_average()
    results["machine"]["max_rss_bytes"] = max_rss_bytes()
    results["elapsed_s"] = time.perf_counter() - started
    cfg.out.mkdir(parents=True, exist_ok=True)
    json_path = cfg.out / f"{cfg.mode}.json"
    json_path.write_text(json.dumps(results, indent=1) + "\n")
    md = markdown(results)
    (cfg.out / f"{cfg.mode}.md").write_text(md)
    print(md)
    print(f"wrote {json_path} and {cfg.out / f'{cfg.mode}.md'} in {results['elapsed_s']:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
