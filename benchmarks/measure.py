"""Timing, peak memory and the machine description.

Times are wall-clock (:func:`time.perf_counter`), one call per run; the
summary statistic is the median. Two computations compared with each other
are timed alternately (A B A B ...) and their ratio is the median of the
ratios of each pair, so that a drift in the machine's speed hits both alike.
The runner collects garbage once before each kernel's measurements, not
inside them (a collection costs tens of milliseconds once pandas is loaded).
Peak memory is the largest amount of memory allocated and still held during
one call, as traced by :mod:`tracemalloc` (numpy reports its array buffers to
it), measured in a separate, untimed call because tracing slows Python code
down; processes report their own peak resident set size.
"""

from __future__ import annotations

import os
import platform
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Timing:
    """Wall-clock times of repeated runs, in seconds."""

    runs: tuple[float, ...]

    @property
    def median(self) -> float:
        """Median run time."""
        return statistics.median(self.runs)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return {
            "median_s": self.median,
            "min_s": min(self.runs),
            "max_s": max(self.runs),
            "runs_s": list(self.runs),
        }


def time_call(fn: Callable[[], object], repeats: int) -> Timing:
    """Time ``repeats`` calls of ``fn`` (results are dropped between runs)."""
    runs = []
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        result = fn()
        runs.append(time.perf_counter() - start)
        del result
    return Timing(tuple(runs))


@dataclass(frozen=True)
class Paired:
    """Two computations timed alternately, with the ratio of each pair (B / A)."""

    a: Timing
    b: Timing

    @property
    def ratios(self) -> tuple[float, ...]:
        """B's time over A's, run by run."""
        return tuple(b / a for a, b in zip(self.a.runs, self.b.runs, strict=True))

    @property
    def ratio(self) -> float:
        """Median of the pairwise ratios B / A."""
        return statistics.median(self.ratios)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary of the ratio."""
        return {
            "median": self.ratio,
            "min": min(self.ratios),
            "max": max(self.ratios),
            "runs": list(self.ratios),
        }


def time_pair(fn_a: Callable[[], object], fn_b: Callable[[], object], repeats: int) -> Paired:
    """Time ``fn_a`` and ``fn_b`` alternately, ``repeats`` calls each (A first)."""
    a: list[float] = []
    b: list[float] = []
    for _ in range(max(1, repeats)):
        for fn, runs in ((fn_a, a), (fn_b, b)):
            start = time.perf_counter()
            result = fn()
            runs.append(time.perf_counter() - start)
            del result
    return Paired(Timing(tuple(a)), Timing(tuple(b)))


def peak_memory(fn: Callable[[], object]) -> int:
    """Peak bytes allocated (and held at the same time) during one call of ``fn``."""
    tracemalloc.start()
    try:
        result = fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    del result
    return int(peak)


def run_process(
    argv: Sequence[str], cwd: Path | None = None, env: Mapping[str, str] | None = None
) -> tuple[float, str]:
    """Run a process to its end; return its wall-clock time and its standard output.

    Raises
    ------
    RuntimeError
        When the process exits with a non-zero code (with its stderr).
    """
    start = time.perf_counter()
    proc = subprocess.run(
        list(argv),
        cwd=cwd,
        env=None if env is None else dict(env),
        capture_output=True,
        check=False,
    )
    took = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(
            f"{' '.join(argv)} exited with {proc.returncode}: {proc.stderr.decode()[-2000:]}"
        )
    return took, proc.stdout.decode()


def time_process(
    argv: Sequence[str],
    repeats: int,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> Timing:
    """Wall-clock time of a process, start to exit, ``repeats`` times."""
    return Timing(tuple(run_process(argv, cwd, env)[0] for _ in range(max(1, repeats))))


def time_process_pair(
    argv_a: Sequence[str],
    argv_b: Sequence[str],
    repeats: int,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> Paired:
    """Time two processes alternately (A B A B ...), after one untimed run of each."""
    run_process(argv_a, cwd, env)
    run_process(argv_b, cwd, env)
    a: list[float] = []
    b: list[float] = []
    for _ in range(max(1, repeats)):
        a.append(run_process(argv_a, cwd, env)[0])
        b.append(run_process(argv_b, cwd, env)[0])
    return Paired(Timing(tuple(a)), Timing(tuple(b)))


def bytecode_env(prefix: Path) -> dict[str, str]:
    """Return this process's environment with Python's bytecode cache on, under ``prefix``.

    An installed package has its compiled bytecode; a process started here with
    ``PYTHONDONTWRITEBYTECODE`` set would compile riskengine's modules from
    source on every start. The cache goes to ``prefix``
    (``PYTHONPYCACHEPREFIX``), not into the source tree; the first run of a
    command fills it, so processes are timed after one untimed run.
    """
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(prefix)
    return env


def max_rss_bytes() -> int:
    """Largest resident set size of this process so far."""
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def _cpu_model() -> str:
    for line in _read("/proc/cpuinfo").splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _mem_total() -> int | None:
    for line in _read("/proc/meminfo").splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    return None


def _blas() -> str:
    import numpy as np

    try:
        config = np.show_config(mode="dicts")
        blas = config["Build Dependencies"]["blas"]
        return f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
    except (TypeError, KeyError, AttributeError):
        return "unknown"


def load_average() -> list[float] | None:
    """1, 5 and 15 minute load averages (None where unsupported)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def source_tree(root: Path) -> dict[str, Any]:
    """Commit of the source tree and riskengine's files modified in it (read-only ``git``)."""

    def git(*args: str) -> str:
        try:
            proc = subprocess.run(
                ["git", *args], cwd=root, capture_output=True, text=True, check=False
            )
        except OSError:
            return ""
        return proc.stdout.rstrip("\n") if proc.returncode == 0 else ""

    status = git("status", "--porcelain", "--", "riskengine", "data")
    return {
        "commit": git("rev-parse", "HEAD").strip() or None,
        "modified": [line[3:] for line in status.splitlines()],
    }


def machine() -> dict[str, Any]:
    """Describe the machine and the software stack."""
    import numpy as np
    import pandas as pd

    cores = os.cpu_count()
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cores
    thp = _read("/sys/kernel/mm/transparent_hugepage/enabled").strip()
    return {
        "cpu": _cpu_model(),
        "cores": cores,
        "cores_available": affinity,
        "memory_bytes": _mem_total(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "blas": _blas(),
        "transparent_hugepages": thp or None,
        "thread_env": {
            k: os.environ[k]
            for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
            if k in os.environ
        },
        "load_average_at_start": load_average(),
    }


def write_results(directory: Path, stem: str, doc: Mapping[str, Any], text: str | None) -> Path:
    """Write ``<stem>.json`` (and ``<stem>.md`` with ``text``) to ``directory``, atomically.

    A run killed while writing leaves the previous results as they were.
    Returns the JSON file's path.
    """
    import json

    from riskengine.io.atomic import write_text

    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{stem}.json"
    write_text(path, json.dumps(doc, indent=1) + "\n")
    if text is not None:
        write_text(directory / f"{stem}.md", text + "\n")
    return path
