"""Local worker processes (:func:`riskengine.cluster.pooled`) and the Monte Carlo on them.

The workers are forked, so the functions they run are this module's, pickled by
name; a test runs them only where forking is allowed (Linux, no other Python
thread), and checks the fallback to threads where it is not.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.queues
import os
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import riskengine
from riskengine.cluster import can_fork_workers, pooled
from riskengine.dataset import Dataset, RiskEngineWarning
from riskengine.errors import RiskEngineError
from riskengine.stress import montecarlo as mc

UNIT = mc.UNIT_BLOCKS * mc.STREAM_BLOCK


#: Set in the fresh interpreter :func:`test_in_a_fresh_interpreter` starts.
FRESH = "RISKENGINE_TEST_POOL_FRESH"


def forking() -> None:
    """Skip unless this test may fork workers (checked when it runs, not when collected).

    Where it may not only because a thread runs (Dask keeps one once it has been
    used in a process), :func:`test_in_a_fresh_interpreter` runs the module again.
    """
    if not can_fork_workers():
        running = ", ".join(t.name for t in threading.enumerate())
        if os.environ.get(FRESH):
            pytest.fail(f"a fresh interpreter cannot fork workers; threads: {running}")
        pytest.skip(f"worker processes are forked: needs Linux and no other thread; {running}")


def test_in_a_fresh_interpreter() -> None:
    """Run this module's tests in a new interpreter when this one cannot fork workers."""
    if os.environ.get(FRESH) or can_fork_workers():
        pytest.skip("the tests of this module run in this interpreter")
    if not sys.platform.startswith("linux"):
        pytest.skip("worker processes are forked on Linux only")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", __file__],
        env={**os.environ, FRESH: "1"},
        cwd=Path(__file__).resolve().parents[1],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    last = proc.stdout.strip().splitlines()[-1]
    assert " passed" in last, last
    assert "failed" not in last, last
    assert last.count("skipped") == 0 or "1 skipped" in last, last  # this test itself


# ------------------------------------------------------------- worker functions
def square_plus(i: int, table: np.ndarray) -> tuple[int, int]:
    if i == 2:
        warnings.warn("item two is even", RiskEngineWarning, stacklevel=1)
        warnings.warn("item two is even", RiskEngineWarning, stacklevel=1)
    time.sleep(0.01 * ((7 * i) % 3))  # finish out of order
    return i * i + int(table[0]), os.getpid()


def fail_on_three(i: int) -> int:
    if i == 3:
        raise ValueError("bad item 3")
    return i


def die_on_one(i: int) -> int:
    if i == 1:
        os._exit(3)  # a worker killed mid-call (out of memory, kill -9)
    return i


def slow(i: int) -> int:
    time.sleep(0.5 if i else 0.0)
    return i


def mark_start(folder: str, i: int) -> int:
    Path(folder, str(i)).touch()
    time.sleep(0.2)
    return i


def report_can_fork(queue: multiprocessing.queues.Queue[bool]) -> None:
    queue.put(can_fork_workers())


# -------------------------------------------------------------------- pooled
def test_pooled_yields_in_order_and_issues_each_warning_once() -> None:
    forking()
    table = np.full(1_000_000, 7)  # shared: sent to each worker once, when it starts
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = list(pooled(square_plus, ((i, table) for i in range(8)), workers=2,
                          shared=[table], what="test"))  # fmt: skip
    assert [v for v, _ in out] == [i * i + 7 for i in range(8)]
    pids = {pid for _, pid in out}
    assert os.getpid() not in pids
    assert 1 <= len(pids) <= 2
    assert [str(w.message) for w in caught] == ["item two is even"]
    assert multiprocessing.active_children() == []  # the workers are gone


def test_pooled_keeps_two_calls_per_worker_queued_and_no_more(tmp_path: Path) -> None:
    # a worker that finishes finds its next call queued while the caller holds
    # the results it took; calls beyond 2 * workers wait for the caller
    forking()
    calls = pooled(mark_start, ((str(tmp_path), i) for i in range(10)), workers=2, what="test")
    assert next(calls) == 0  # taken: the fifth call is queued in its place
    time.sleep(1.5)  # the caller holds on; the workers run what is queued
    assert sorted(int(p.name) for p in tmp_path.iterdir()) == [0, 1, 2, 3, 4]
    assert list(calls) == list(range(1, 10))


FAULTS = """
import resource, sys
import numpy as np
if sys.argv[1] == "keep":
    from riskengine.cluster import _keep_freed_memory
    _keep_freed_memory()
np.ones(8_000_000).sum()  # 64 MB, allocated and freed
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):
    np.ones(8_000_000).sum()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def test_a_worker_keeps_the_memory_it_frees() -> None:
    # glibc maps a 64 MB array afresh each time and faults its pages in again;
    # a worker keeps the memory for its next arrays
    if not sys.platform.startswith("linux"):
        pytest.skip("glibc's allocator: Linux only")

    def faults(mode: str) -> int:
        out = subprocess.run(
            [sys.executable, "-c", FAULTS, mode], capture_output=True, text=True, check=True
        )
        return int(out.stdout)

    default = faults("default")
    if default < 500:
        pytest.skip(f"this allocator faults little by default ({default} faults)")
    assert faults("keep") < default / 10


def test_pooled_raises_the_workers_error_with_its_type() -> None:
    forking()
    with pytest.raises(ValueError, match="bad item 3"):
        list(pooled(fail_on_three, ((i,) for i in range(20)), workers=2, what="test"))
    assert multiprocessing.active_children() == []


def test_a_dead_worker_is_one_clear_error() -> None:
    forking()
    with pytest.raises(RiskEngineError, match=r"^test: a worker process died .* use fewer jobs"):
        list(pooled(die_on_one, ((i,) for i in range(4)), workers=2, what="test"))
    assert multiprocessing.active_children() == []


def test_pooled_stops_its_workers_when_the_caller_stops() -> None:
    forking()
    started = time.perf_counter()
    results: Iterator[int] = pooled(slow, ((i,) for i in range(40)), workers=2, what="test")
    assert next(results) == 0
    results.close()  # the caller stops early: the calls under way are ended
    assert time.perf_counter() - started < 5.0  # not 40 calls of 0.5 s on two workers
    assert multiprocessing.active_children() == []


def test_pooled_refuses_to_fork_while_another_thread_runs() -> None:
    forking()
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert not can_fork_workers()
        with pytest.raises(RiskEngineError, match="no other Python thread running"):
            list(pooled(fail_on_three, [(0,)], workers=2, what="test"))
    finally:
        stop.set()
        other.join()


def test_a_daemonic_process_does_not_fork_workers() -> None:
    forking()
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=report_can_fork, args=(queue,), daemon=True)
    child.start()
    try:
        assert queue.get(timeout=60) is False  # a pool's worker may not have children
    finally:
        child.join(timeout=60)


# ---------------------------------------------------------------- Monte Carlo
@pytest.fixture(scope="module")
def default() -> Dataset:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return riskengine.load_dataset()


@pytest.fixture
def pool_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The ``workers`` of every call of :func:`riskengine.cluster.pooled` during a test."""
    import riskengine.cluster as cluster

    calls: list[int] = []
    real = cluster.pooled

    def spy(*args: object, **kwargs: object) -> Iterator[object]:
        calls.append(int(kwargs["workers"]))  # type: ignore[call-overload]
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(cluster, "pooled", spy)
    return calls


def test_local_mode() -> None:
    forking()
    assert mc.local_mode(UNIT + 1, 2) == "processes"  # four equal units: two per job
    assert mc.local_mode(UNIT + 1, 4) == "processes"  # one per job
    assert mc.local_mode(UNIT, 2) == "threads"  # one unit: a worker would wait for it
    assert mc.local_mode(UNIT + 1, 3) == "threads"  # four units: three jobs cannot share them
    assert mc.local_mode(100_000, 1) == "one thread"


def test_simulate_on_worker_processes_is_the_one_process_result(
    default: Dataset, pool_calls: list[int]
) -> None:
    forking()
    calls = pool_calls
    n = 66_500  # 34 blocks: four units, of 9 blocks then of 8
    kw = {"minerals": ["cobalt", "lithium"], "seed": 17, "n": n}
    seen: list[tuple[int, int]] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RiskEngineWarning)
        one = riskengine.simulate(default, jobs=1, **kw)
        two = riskengine.simulate(
            default, jobs=2, progress=lambda done, total: seen.append((done, total)), **kw
        )
    assert calls == [2]  # the second run used two worker processes, the first none
    pd.testing.assert_frame_equal(one.summary, two.summary, check_exact=True)
    pd.testing.assert_frame_equal(one.prices, two.prices, check_exact=True)
    assert seen == [(min(u.stop * mc.STREAM_BLOCK, n), n) for u in mc.unit_ranges(n)]
    assert [len(u) for u in mc.unit_ranges(n)] == [9, 9, 8, 8]
    # with another thread running, the same run falls back to threads, same result
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RiskEngineWarning)
            threads = riskengine.simulate(default, jobs=2, **kw)
    finally:
        stop.set()
        other.join()
    assert calls == [2]
    pd.testing.assert_frame_equal(one.summary, threads.summary, check_exact=True)


def test_content_grades_on_worker_processes_are_the_one_process_result(default: Dataset) -> None:
    forking()
    kw = {"minerals": ["cobalt", "copper"], "seed": 5, "n": 2 * UNIT + 100}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RiskEngineWarning)
        one = riskengine.simulate(default, jobs=1, grades=True, market=False, **kw)
        two = riskengine.simulate(default, jobs=2, grades=True, market=False, **kw)
    pd.testing.assert_frame_equal(one.summary, two.summary, check_exact=True)
    assert one.summary["grade_sd_t"].gt(0).any()  # the grades were drawn


@pytest.mark.parametrize("target", [None, "USA"])
def test_sweep_on_worker_processes_is_the_one_process_result(
    default: Dataset, pool_calls: list[int], target: str | None
) -> None:
    forking()
    calls = pool_calls
    kw = {"minerals": ["cobalt", "copper", "lithium", "rare_earths"], "target": target}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RiskEngineWarning)
        one = riskengine.sweep(default, jobs=1, **kw)
        two = riskengine.sweep(default, jobs=2, **kw)
    assert calls == [2]
    for table in ("bans", "market", "impacts"):
        pd.testing.assert_frame_equal(one.to_frame(table), two.to_frame(table), check_exact=True)


def test_jobs_of_a_sweep_are_checked(default: Dataset) -> None:
    with pytest.raises(RiskEngineError, match="jobs"):
        riskengine.sweep(default, minerals=["cobalt"], jobs=0)


def test_sensitivity_on_worker_processes_is_the_one_process_result(
    default: Dataset, pool_calls: list[int]
) -> None:
    forking()
    kw = {
        "minerals": ["cobalt", "copper", "lithium", "nickel"],
        "countries": ["USA"],
        "method": "geopolrisk",
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RiskEngineWarning)
        one = riskengine.sensitivity(default, jobs=1, **kw)
        two = riskengine.sensitivity(default, jobs=2, **kw)
    assert pool_calls == [2]
    assert len(one.table) > 0
    pd.testing.assert_frame_equal(one.table, two.table, check_exact=True)
    with pytest.raises(RiskEngineError, match="jobs"):
        riskengine.sensitivity(default, jobs=0, **kw)
