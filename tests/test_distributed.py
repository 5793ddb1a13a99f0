"""The stress tools and the BACI import on a Dask cluster: the one-process result, bit for
bit, whatever the number of workers or the batch size, and when a worker dies mid-run."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import riskengine
from riskengine.cluster import local_cluster, threaded
from riskengine.dataset import Dataset
from riskengine.errors import RiskEngineError
from riskengine.io.baci import read_baci
from riskengine.stress.montecarlo import STREAM_BLOCK, UNIT_BLOCKS, unit_ranges

ROOT = Path(__file__).resolve().parents[1]
BACI = ROOT / "tests" / "fixtures" / "baci" / "release"
SHARED_BACI = ROOT.parent / "shared" / "data" / "baci_hs92_minerals"
MINERALS = ["cobalt", "lithium"]
UNIT = UNIT_BLOCKS * STREAM_BLOCK


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    distributed = pytest.importorskip(
        "distributed", reason='Dask is not installed (pip install "riskengine[dask]")'
    )
    cluster = local_cluster(2)  # LocalCluster(n_workers=2, threads_per_worker=1, processes=True)
    # not the default client: the rest of the suite must not run on it
    client = distributed.Client(cluster, set_as_default=False)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


@pytest.fixture(scope="module")
def default() -> Dataset:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return riskengine.load_dataset()


def tasks_run(client: Any, prefix: str, call: Any) -> tuple[Any, int]:
    """Call ``call()``; return its result and the number of tasks named ``prefix-`` it ran."""
    from distributed import get_task_stream

    with get_task_stream(client=client) as stream:
        result = call()
    return result, sum(1 for t in stream.data if str(t["key"]).startswith(prefix + "-"))


def assert_same_sweep(one: Any, other: Any) -> None:
    for table in ("bans", "market", "impacts"):
        pd.testing.assert_frame_equal(one.to_frame(table), other.to_frame(table), check_exact=True)


# --------------------------------------------------------------- one process
@pytest.mark.parametrize("threads", [1, 2, 3])
def test_threaded_yields_in_order_with_bounded_work_in_flight(threads: int) -> None:
    import threading
    import time

    lock = threading.Lock()
    started: list[int] = []
    taken: list[int] = []

    def work(i: int) -> int:
        with lock:
            started.append(i)
            # `threads` calls at work while the caller holds one result
            assert len(started) - len(taken) <= max(threads, 1) + 1
        time.sleep(0.002 * ((7 * i) % 5))  # finish out of order
        return i * i

    for value in threaded(work, range(12), threads):
        with lock:
            taken.append(value)
    assert taken == [i * i for i in range(12)]


def test_threaded_raises_the_callers_error_and_stops() -> None:
    done: list[int] = []

    def work(i: int) -> int:
        if i == 3:
            raise ValueError("bad item 3")
        done.append(i)
        return i

    with pytest.raises(ValueError, match="bad item 3"):
        list(threaded(work, range(50), 2))
    assert len(done) < 10  # the items after the error were not all run


def test_dask_is_imported_only_when_asked_for() -> None:
    code = (
        "import sys, riskengine, riskengine.cli, riskengine.cluster, riskengine.io.baci\n"
        "ds = riskengine.load_dataset()\n"
        "riskengine.simulate(ds, n=1000, seed=1, minerals=['cobalt'], market=False)\n"
        "riskengine.sweep(ds, minerals=['asbestos'], pairs=True)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env=os.environ,
    )
    assert out.stdout.strip() == "[]"


def test_the_current_client_is_used_only_when_the_caller_made_one(
    client: Any, default: Dataset
) -> None:
    """One process reports progress per batch of 2,000 draws, a cluster per unit."""

    def run(**kw: Any) -> list[tuple[int, int]]:
        calls: list[tuple[int, int]] = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            riskengine.simulate(
                default,
                n=UNIT + 2000,
                seed=1,
                minerals=["cobalt"],
                market=False,
                progress=lambda done, total: calls.append((done, total)),
                **kw,
            )
        return calls

    per_batch = [(d, UNIT + 2000) for d in range(STREAM_BLOCK, UNIT + 2001, STREAM_BLOCK)]
    per_unit = [(u.stop * STREAM_BLOCK, UNIT + 2000) for u in unit_ranges(UNIT + 2000)]
    assert len(per_unit) == 4  # units of 5, 4, 4 and 4 blocks
    assert run() == per_batch  # the fixture's client is not the default one
    with client.as_current():
        assert run() == per_unit
        assert run(client=False) == per_batch
    assert run(client=client) == per_unit


def test_a_wrong_or_closed_client_is_refused(client: Any, default: Dataset) -> None:
    from distributed import Client

    with pytest.raises(RiskEngineError, match=r"client must be a distributed\.Client"):
        riskengine.simulate(default, n=10, client="tcp://localhost:8786")  # type: ignore[arg-type]
    closed = Client(client.scheduler.address, set_as_default=False)
    closed.close()
    with pytest.raises(RiskEngineError, match="sweep: the Dask client is closed; pass an open"):
        riskengine.sweep(default, minerals=["cobalt"], client=closed)


# ------------------------------------------------------------------ cluster
def test_simulate_on_two_workers_is_the_one_process_result(client: Any, default: Dataset) -> None:
    first_order = {"n": 100_000, "seed": 11, "minerals": MINERALS, "market": False}
    graded = {
        "n": 2 * UNIT + 700,
        "seed": 12,
        "minerals": MINERALS,
        "grades": True,
        "market": False,
    }
    response = {"n": 2 * UNIT + 700, "seed": 13, "minerals": ["cobalt"]}  # market response
    for kw, batch in ((first_order, 1000), (graded, 7000), (response, 3000)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            one = riskengine.simulate(default, client=False, **kw)  # type: ignore[arg-type]
            two, tasks = tasks_run(
                client,
                "simulate",
                lambda kw=kw, batch=batch: riskengine.simulate(
                    default, client=client, batch_size=batch, **kw
                ),
            )
        assert tasks == len(unit_ranges(kw["n"]))  # one task per unit: the cluster did the work
        for table in one.TABLES:
            pd.testing.assert_frame_equal(
                one.to_frame(table), two.to_frame(table), check_exact=True
            )
        assert ("grade_sd_t" in two.summary.columns) == (kw is graded)


def test_sweeps_on_two_workers_are_the_one_process_result(client: Any, default: Dataset) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        one = riskengine.sweep(default, minerals=MINERALS, client=False)
        two, tasks = tasks_run(
            client, "sweep", lambda: riskengine.sweep(default, minerals=MINERALS, client=client)
        )
        pairs = riskengine.sweep(default, minerals=["asbestos"], pairs=True, client=False)
        pairs_two = riskengine.sweep(
            default, minerals=["asbestos"], pairs=True, client=client, chunk_size=40
        )
    assert tasks > 1
    assert_same_sweep(one, two)
    assert len(pairs.bans) == 28 * 27 // 2
    assert_same_sweep(pairs, pairs_two)


def test_a_worker_lost_mid_run_changes_nothing(
    client: Any, default: Dataset, tmp_path: Path
) -> None:
    from distributed import WorkerPlugin

    marker = tmp_path / "killed"

    class KillOnce(WorkerPlugin):
        """Kill the worker process that starts the third unit, the first time only."""

        def __init__(self, marker: str) -> None:
            self.marker = marker

        def transition(self, key: Any, start: str, finish: str, **kwargs: Any) -> None:
            name = str(key)
            third = name.startswith("simulate-") and name.endswith("-2")
            if finish == "executing" and third and not os.path.exists(self.marker):
                Path(self.marker).touch()
                os._exit(1)

    kw: dict[str, Any] = {"n": 2 * UNIT, "seed": 5, "minerals": ["cobalt"], "market": False}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        one = riskengine.simulate(default, client=False, **kw)
        client.register_plugin(KillOnce(str(marker)), name="kill-once")
        try:
            two = riskengine.simulate(default, client=client, **kw)
        finally:
            client.unregister_worker_plugin("kill-once")
            client.wait_for_workers(2, timeout=60)
    assert marker.exists()  # a worker did die
    pd.testing.assert_frame_equal(one.summary, two.summary, check_exact=True)


def test_baci_import_on_two_workers_is_the_one_process_import(client: Any) -> None:
    # the official extract (30 yearly files) when present, else the fixture release
    release, years = (SHARED_BACI, range(2016, 2025)) if SHARED_BACI.is_dir() else (BACI, None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        one = read_baci(release, years, client=False)
        two, tasks = tasks_run(
            client, "baci-import", lambda: read_baci(release, years, client=client)
        )
        small = read_baci(release, years, client=client, chunk_rows=10_000)
    assert tasks == len(one.files) > 1
    assert (one.rows_read, one.missing_quantity_rows) == (two.rows_read, two.missing_quantity_rows)
    for res in (two, small):
        pd.testing.assert_frame_equal(one.trade, res.trade, check_exact=True)
    for table in ("unmatched_codes", "unmapped_products"):
        pd.testing.assert_frame_equal(getattr(one, table), getattr(two, table), check_exact=True)


# ---------------------------------------------------------------------- CLI
STRESS_DATA = ROOT / "tests" / "fixtures" / "stress" / "data"


def cli(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    from riskengine.cli import main

    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_scheduler_and_workers_print_the_one_process_output(
    client: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    draws = ("simulate", "-n", UNIT + 500, "--seed", 3, "-m", "cobalt", "--no-market", "-f", "csv")
    code, one, err = cli(capsys, *draws)
    assert code == 0, err
    code, remote, err = cli(capsys, *draws, "--scheduler", client.scheduler.address)
    assert code == 0, err
    assert remote == one
    pairs = ("sweep", "--pairs", "--data", STRESS_DATA, "--format", "csv", "--table", "impacts")
    code, one, err = cli(capsys, *pairs)
    assert code == 0, err
    code, local, err = cli(capsys, *pairs, "--workers", 1)
    assert code == 0, err
    assert local == one
    assert "+" in one  # pairs of exporters


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--workers", 2, "--scheduler", "tcp://127.0.0.1:1"), "give --scheduler ADDRESS"),
        (("--workers", 0), "--workers must be at least 1, got 0"),
    ],
)
def test_cli_cluster_option_errors_are_one_line(
    capsys: pytest.CaptureFixture[str], args: tuple[object, ...], message: str
) -> None:
    code, _, err = cli(capsys, "simulate", "-n", 10, *args)
    assert code == 1
    assert err.count("\n") == 1
    assert message in err
