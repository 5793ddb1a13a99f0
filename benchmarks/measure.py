"""Timing, peak memory and the machine description.

Times are wall-clock (:func:`time.perf_counter`), one call per run; the
summary statistic is the median. The runner collects garbage once before each
kernel's measurements, not inside them (a collection costs tens of
milliseconds once pandas is loaded). Peak memory is
the largest amount of memory allocated and still held during one call, as
traced by :mod:`tracemalloc` (numpy reports its array buffers to it), measured
in a separate, untimed call because tracing slows Python code down.
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
from collections.abc import Callable, Sequence
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


def time_process(argv: Sequence[str], repeats: int, cwd: Path | None = None) -> Timing:
    """Wall-clock time of a process, start to exit, ``repeats`` times.

    Raises
    ------
    RuntimeError
        When the process exits with a non-zero code (with its stderr).
    """
    runs = []
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        proc = subprocess.run(
            list(argv), cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False
        )
        runs.append(time.perf_counter() - start)
        if proc.returncode != 0:
            raise RuntimeError(
                f"{' '.join(argv)} exited with {proc.returncode}: {proc.stderr.decode()[-2000:]}"
            )
    return Timing(tuple(runs))


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
