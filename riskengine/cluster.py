"""Running the stress tools and the BACI import on a Dask cluster.

The Monte Carlo, the ban sweeps, the sensitivity analysis, the backtest and
the BACI import split their work into the engine's own partitions (units of
draws with their own seed streams, chunks of bans, minerals, events, yearly
files). Without a cluster, the Monte Carlo's units, the sweep's chunks and
the minerals of a GeoPolRisk or EU sensitivity are computed in local worker
processes forked from this one when there are at least two per job, or for
the Monte Carlo's equal units when the jobs share them equally
(:func:`map_partitions`, :func:`local_mode`, :func:`pooled`); otherwise the
partitions run one after the other, the Monte Carlo evaluating the batches of
a unit on local threads (:func:`threaded`); given a
Dask client, each partition is a task on the cluster, and the partial
results come back to the client, which reduces them **in partition order**
with the code the single process uses. A result therefore does not depend on the number of
workers, on where a task ran or on a task that was run twice because its
worker was lost: it is the single-process result, bit for bit.

Which client
------------
Every entry point takes ``client=``:

``None`` (default)
    The Dask client the caller made current, if there is one: the client of
    a ``with client.as_current():`` block, else the newest
    ``distributed.Client`` created with ``set_as_default=True`` (the default
    of ``Client(...)``) that is still open. Nothing is looked up when
    ``distributed`` has not been imported, so riskengine never imports Dask
    unless asked to, and never starts a cluster on its own.
a ``distributed.Client``
    That client.
``False``
    One process, even when a client is current.

Data a task needs (a simulation plan, one mineral's tensors) is sent to the
workers once with ``Client.scatter(..., broadcast=True)`` and tasks refer to
it; the workers need riskengine installed (the same version as the client)
and, for an import, the release files at the same path.

The optional dependency is installed with ``pip install "riskengine[dask]"``.

BLAS on one thread
------------------
Products of dense matrices (the market model's pass-through, some scoring
kernels) go through BLAS, and a multi-threaded BLAS splits a product
differently with another number of threads: the last bits of a result then
depend on the machine's cores, and Dask's workers run BLAS on one thread.
Every partition therefore runs with BLAS on one thread
(:func:`one_blas_thread`), in one process as on a worker, so that a result
is the same on any machine and any cluster. The engine's products are small,
so nothing is lost (the sweep of every ban of the default data takes 1.9 s
either way on two cores), and the threads of one process (Monte Carlo's
``jobs=``, :func:`threaded`) do not share their cores with BLAS's.

Workers' memory allocator
-------------------------
Dask starts its worker processes with ``MALLOC_TRIM_THRESHOLD_=65536``, which
turns off glibc's adaptive threshold for serving large allocations from the
heap: every temporary array of the engine is then mapped and unmapped anew,
and the stress tools run 2-3 times slower on a worker than in one process.
:func:`local_cluster` (used by the CLI's ``--workers``) starts its workers
without it; start the workers of a remote cluster the same way, with
``DASK_DISTRIBUTED__NANNY__PRE_SPAWN_ENVIRON__MALLOC_TRIM_THRESHOLD_=None``
in the environment of ``dask worker`` (see ``docs/stress.md``).
"""

from __future__ import annotations

import logging
import sys
import uuid
import warnings
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from riskengine.errors import RiskEngineError, bad_argument

if TYPE_CHECKING:
    from distributed import Client, Future, LocalCluster

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: How to install the optional dependency.
INSTALL = 'pip install "riskengine[dask]"'

#: Seconds to wait for a scheduler to answer, and for it to have a worker.
CONNECT_TIMEOUT = 30.0

#: Dask configuration of the workers :func:`local_cluster` starts (see the module notes).
WORKER_CONFIG: dict[str, Any] = {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}


_BLAS: Any = None  # threadpoolctl's controller, made at the first use


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """Run the block with BLAS limited to one thread (see the module notes)."""
    global _BLAS
    if _BLAS is None:
        from threadpoolctl import ThreadpoolController

        _BLAS = ThreadpoolController()
    with _BLAS.limit(limits=1, user_api="blas"):
        yield


def local_threads() -> int:
    """Cores this process may run on (its CPU affinity), at least 1."""
    import os

    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:  # not on Linux
        return max(os.cpu_count() or 1, 1)


def threaded(fn: Callable[[T], Any], items: Iterable[T], threads: int) -> Iterator[Any]:
    """Yield ``fn(item)`` for every item, in order, computed on ``threads`` local threads.

    While the caller works on one result (reducing it), ``threads`` calls
    compute the next ones and no more are started, so memory stays bounded
    by ``threads + 1`` results; NumPy releases the interpreter lock in its array loops, so the
    threads run on separate cores. With ``threads <= 1`` the calls run one
    after the other on the caller's thread. An exception raised by ``fn``
    is raised here; when the caller stops early, calls not yet started are
    cancelled.
    """
    if threads <= 1:
        for item in items:
            yield fn(item)
        return
    from concurrent.futures import Future as ThreadFuture
    from concurrent.futures import ThreadPoolExecutor

    todo = iter(items)
    pending: deque[ThreadFuture[Any]] = deque()
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="riskengine") as pool:
        try:
            for item in todo:
                pending.append(pool.submit(fn, item))
                if len(pending) >= threads:
                    break
            while pending:
                value = pending.popleft().result()
                item = next(todo, _END)
                if item is not _END:
                    pending.append(pool.submit(fn, item))
                yield value
        finally:
            for future in pending:
                future.cancel()


_END: Any = object()

_SHARED: list[Any] = []  # in a worker process: the objects its pool shares


class _Shared:
    """Stands for the ``index``-th shared object in a task's arguments (:func:`pooled`)."""

    __slots__ = ("index",)

    def __init__(self, index: int) -> None:
        self.index = index


def _start_worker(shared: list[Any]) -> None:
    """Set a local worker process up: keep the shared objects; leave Ctrl-C to the parent."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops the pool
    _SHARED[:] = shared
    _keep_freed_memory()


#: ``mallopt`` parameters of glibc (malloc.h).
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3


def _keep_freed_memory() -> None:
    """Let this worker's allocator keep the memory it frees, for the next calls (glibc only).

    A worker allocates and frees arrays of a few to tens of MB many times
    over. By default glibc maps those above 32 MB afresh each time and hands
    the free top of its heap back to the system, so that every new array's
    pages are faulted in again: about a tenth of the Monte Carlo's time in
    the system. A worker is ours and ends with the pool, so it keeps them:
    it holds at most the memory of its largest call.
    """
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if not sys.platform.startswith("linux") or name is None:
        return
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return
    mallopt(_M_MMAP_THRESHOLD, 1 << 30)  # arrays below 1 GiB come from the heap
    mallopt(_M_TRIM_THRESHOLD, 1 << 30)  # which keeps up to 1 GiB free


def _run_shared(fn: Callable[..., T], *args: Any) -> tuple[T, list[tuple[type[Warning], str]]]:
    """Call ``fn`` in a local worker process, its shared arguments resolved (:func:`_run`)."""
    return _run(fn, *(_SHARED[a.index] if isinstance(a, _Shared) else a for a in args))


def can_fork_workers() -> bool:
    """Whether :func:`pooled` may run here: Linux, and no other Python thread running.

    Workers are forked: they start at once, share the caller's memory until
    they write to it, and import nothing (the caller's main script is not run
    again, so it needs no ``if __name__ == "__main__":`` guard). Forking a
    process while another of its threads holds a lock can leave the child
    stuck, so the caller's Python threads must be idle: only the main one runs.
    The threads BLAS keeps are native and fork-safe (OpenBLAS stops and
    restarts them around a fork). Elsewhere (macOS, whose system libraries
    are not fork-safe, and Windows, which cannot fork) the callers use
    threads instead, as they do in a daemonic process (a worker of a
    :class:`multiprocessing.pool.Pool`), which may not have children.
    """
    import multiprocessing
    import threading

    return (
        sys.platform.startswith("linux")
        and "fork" in multiprocessing.get_all_start_methods()
        and threading.active_count() == 1
        and not multiprocessing.current_process().daemon
    )


#: Default ceiling of the ``jobs`` of the stress tools: each worker process (or
#: thread) adds its buffers to the memory a run holds.
MAX_JOBS = 4


def default_jobs(jobs: int | None) -> int:
    """``jobs``, or by default one per core this process may use, at most :data:`MAX_JOBS`."""
    return min(local_threads(), MAX_JOBS) if jobs is None else jobs


def local_mode(
    tasks: int, jobs: int, *, balanced: bool = False
) -> Literal["processes", "threads", "one thread"]:
    """How ``tasks`` partitions use ``jobs`` cores on this machine, without a cluster.

    ``processes`` (:func:`pooled`) for at least two partitions per job where
    workers can be forked (:func:`can_fork_workers`): with fewer, a worker
    would wait for the others' whole partitions. Partitions of equal work
    (``balanced``, the Monte Carlo's units) need one per job, and a
    number of them that the jobs share equally. Else ``threads`` where the
    caller has them (the Monte Carlo's batches), or ``one thread``.
    """
    enough = tasks % jobs == 0 if balanced else tasks >= 2 * jobs
    if jobs > 1 and tasks >= jobs and enough and can_fork_workers():
        return "processes"
    return "threads" if jobs > 1 else "one thread"


def pooled(
    fn: Callable[..., T],
    args: Iterable[Sequence[Any]],
    *,
    workers: int,
    shared: Sequence[Any] = (),
    what: str,
    seen: set[str] | None = None,
) -> Iterator[T]:
    """Yield ``fn(*a)`` for every ``a`` of ``args`` in order, computed in local worker processes.

    The same contract as :func:`map_ordered` on a cluster, on this machine:
    each call runs with BLAS on one thread, warnings ``fn`` issues are issued
    again here (each distinct text once), an exception raised by ``fn`` is
    raised here with its type, and the calls not yet done are stopped when the
    caller stops early, raises or is interrupted (the workers ignore Ctrl-C;
    the caller ends them).

    Parameters
    ----------
    fn
        A module-level function (workers import it by name).
    args
        Arguments of each call. An argument that is one of ``shared`` (the
        same object) is sent to each worker once, when it starts, not with
        every call.
    workers
        Worker processes; at most ``2 * workers`` calls are under way or
        done and waiting, so memory stays bounded, and a worker that
        finishes finds its next call queued while this process takes the
        results in order.
    shared
        Objects many calls take (a simulation plan).
    what
        The calling function, for error messages.
    seen
        Warning texts already issued by the caller; updated.

    Raises
    ------
    RiskEngineError
        When a worker process dies (killed, out of memory), or when
        :func:`can_fork_workers` is false.

    Notes
    -----
    Processes, not threads, because the engine's Python-level work holds the
    interpreter lock: on two cores two threads reach about 1.4 times one
    thread, two processes twice. The workers are forked from the caller
    (:func:`can_fork_workers` says when that is safe; callers check it first),
    so shared objects cost no copy, only the pages a worker writes.
    """
    import multiprocessing
    from concurrent.futures import Future as ProcessFuture
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    if not can_fork_workers():
        raise RiskEngineError(
            f"{what}: worker processes are forked, which needs Linux, no other Python "
            "thread running and a process that may have children; run with jobs=1 here"
        )
    refs = {id(obj): _Shared(i) for i, obj in enumerate(shared)}
    issued: set[str] = set() if seen is None else seen
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("fork"),
        initializer=_start_worker,
        initargs=(list(shared),),
    )
    pending: deque[ProcessFuture[Any]] = deque()
    todo = iter(args)
    finished = False

    def submit() -> bool:
        a = next(todo, _END)
        if a is _END:
            return False
        pending.append(pool.submit(_run_shared, fn, *(refs.get(id(x), x) for x in a)))
        return True

    try:
        with warnings.catch_warnings():
            # Python >= 3.12 warns that this process has threads when it forks; the
            # only ones running are BLAS's (can_fork_workers), which are fork-safe
            warnings.filterwarnings(
                "ignore", "This process .* is multi-threaded", DeprecationWarning
            )
            while len(pending) < 2 * workers and submit():  # the workers start at the first
                pass
        while pending:
            value, caught = pending.popleft().result()
            submit()
            _reissue(caught, issued)
            yield value
        finished = True
    except BrokenProcessPool as exc:  # from a result, or from submitting to a broken pool
        raise RiskEngineError(
            f"{what}: a worker process died ({exc}); it may have run out of memory: "
            "use fewer jobs, or jobs=1 for one process"
        ) from exc
    finally:
        if not finished:
            for future in pending:
                future.cancel()
            # end the calls under way (Python 3.14 has terminate_workers() for this)
            for process in list(getattr(pool, "_processes", {}).values()):
                process.terminate()
        pool.shutdown(wait=True, cancel_futures=True)


def _missing_dask(what: str) -> RiskEngineError:
    return RiskEngineError(
        f"{what} needs Dask's distributed scheduler, which is not installed; {INSTALL}"
    )


def resolve_client(client: Client | Literal[False] | None, what: str) -> Client | None:
    """Return the Dask client to run on, or None for one process.

    Parameters
    ----------
    client
        A ``distributed.Client``; None for the current client if the caller
        made one (see the module notes); False for one process.
    what
        The calling function, for error messages.

    Raises
    ------
    RiskEngineError
        When ``client`` is neither a client, None nor False, or is closed.
    """
    if client is False:
        return None
    if client is None:
        if "distributed" not in sys.modules:
            return None
        from distributed import default_client

        try:
            found = default_client()
        except ValueError:
            return None
        logger.info("%s: running on the current Dask client %s", what, found)
        return found
    try:
        from distributed import Client
    except ImportError as exc:
        raise _missing_dask(what) from exc
    if not isinstance(client, Client):
        raise bad_argument(
            what,
            "client",
            "a distributed.Client, None or False",
            client,
            "pass Client(scheduler_address), or False for one process",
        )
    if client.status not in ("running", "connecting", "newly-created"):
        raise RiskEngineError(
            f"{what}: the Dask client is {client.status}; pass an open client, or False for one "
            f"process"
        )
    return client


@contextmanager
def connect(
    scheduler: str | None = None, workers: int | None = None, what: str = "this command"
) -> Iterator[Client | None]:
    """Yield a client on a running scheduler or on a new local cluster, then close it.

    Parameters
    ----------
    scheduler
        Address of a running Dask scheduler (``tcp://host:8786``).
    workers
        Start a local cluster of this many worker processes (one thread
        each) for the duration of the block.
    what
        The command, for error messages.

    Yields
    ------
    distributed.Client or None
        None when neither is given: the caller runs in one process, and Dask
        is not imported.

    Raises
    ------
    RiskEngineError
        When both or a bad value are given, Dask is not installed, or the
        scheduler cannot be reached or has no worker.

    Notes
    -----
    The client, and the local cluster with its worker processes, are closed
    on the way out whatever happens, Ctrl-C included: running tasks are
    cancelled with them and no worker process is left behind.
    """
    if scheduler is not None and workers is not None:
        raise RiskEngineError(
            f"{what}: give --scheduler ADDRESS (a running Dask scheduler) or --workers N (a "
            f"local cluster), not both"
        )
    if workers is not None and workers < 1:
        raise RiskEngineError(f"{what}: --workers must be at least 1, got {workers}")
    if scheduler is None and workers is None:
        yield None
        return
    try:
        from distributed import Client
    except ImportError as exc:
        raise _missing_dask(what) from exc
    cluster = None
    client = None
    try:
        if workers is not None:
            cluster = local_cluster(workers)
            client = Client(cluster, set_as_default=False)
        else:
            try:
                client = Client(scheduler, timeout=CONNECT_TIMEOUT, set_as_default=False)
            except (OSError, TimeoutError) as exc:
                raise RiskEngineError(
                    f"{what}: cannot reach a Dask scheduler at {scheduler!r} ({exc}); start one "
                    f"with `dask scheduler` and workers with `dask worker {scheduler}`"
                ) from exc
        try:
            client.wait_for_workers(1, timeout=CONNECT_TIMEOUT)
        except TimeoutError as exc:
            raise RiskEngineError(
                f"{what}: the Dask scheduler at {scheduler} has no worker after "
                f"{CONNECT_TIMEOUT:.0f} s; start some with `dask worker {scheduler}`"
            ) from exc
        yield client
    finally:
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()


def local_cluster(workers: int) -> LocalCluster:
    """Start a Dask cluster of ``workers`` processes on this machine, one thread each.

    Without the dashboard, and with the workers' memory allocator left as
    glibc sets it (:data:`WORKER_CONFIG`). Close it when done (it is a
    context manager).
    """
    import dask
    from distributed import LocalCluster

    with dask.config.set(WORKER_CONFIG):
        return LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            silence_logs=logging.ERROR,
            # no dashboard; the scheduler's HTTP endpoint on a free port, not 8787
            dashboard_address=None,
            scheduler_kwargs={"dashboard_address": ":0"},
        )


def scatter(client: Client, items: Sequence[Any]) -> list[Future]:
    """Send each of ``items`` to every worker once; tasks take the futures as arguments.

    One round trip for all of them; broadcast, so that losing a worker loses
    no copy the others need.
    """
    client.wait_for_workers(1, timeout=CONNECT_TIMEOUT)
    return list(client.scatter(list(items), broadcast=True, hash=False))


def share(client: Client | None, objects: Sequence[Any]) -> dict[int, Any]:
    """Send objects that many tasks use to the workers once, for :func:`ordered`.

    Returns a mapping from each object's ``id`` to its future (empty for one
    process).
    """
    if client is None:
        return {}
    futures = scatter(client, objects)
    return {id(obj): future for obj, future in zip(objects, futures, strict=True)}


def ordered(
    client: Client | None,
    fn: Callable[..., T],
    args: Iterable[Sequence[Any]],
    *,
    name: str,
    shared: dict[int, Any] | None = None,
    seen: set[str] | None = None,
) -> Iterator[T]:
    """Yield ``fn(*a)`` for every ``a`` of ``args`` in order: here, or as tasks on a cluster.

    Parameters
    ----------
    client
        None runs the calls here, one after the other; a client runs them
        with :func:`map_ordered`. Either way each call runs with BLAS on one
        thread (:func:`one_blas_thread`).
    fn, args, name, seen
        As in :func:`map_ordered`.
    shared
        From :func:`share`: on a cluster, an argument that is one of the
        shared objects is replaced by its future, so the object is not sent
        with every task.
    """
    if client is None:
        for a in args:
            with one_blas_thread():
                value = fn(*a)
            yield value
        return
    swap = shared or {}
    tasks = (tuple(swap.get(id(x), x) for x in a) for a in args)
    yield from map_ordered(client, fn, tasks, name=name, seen=seen)


def map_partitions(
    client: Client | None,
    fn: Callable[..., T],
    args: Iterable[Sequence[Any]],
    *,
    name: str,
    objects: Sequence[Any] = (),
    seen: set[str] | None = None,
    jobs: int = 1,
    balanced: bool = False,
) -> Iterator[T]:
    """Yield ``fn(*a)`` for every partition ``a`` in order: on the cluster, or on this machine.

    With a client, the partitions are tasks on it (:func:`ordered`, ``objects``
    sent to the workers once). Without one, they are computed in ``jobs``
    local worker processes when :func:`local_mode` says so (:func:`pooled`,
    ``objects`` given to each worker when it starts; ``balanced``: the
    partitions are of equal work), else here one after the other. Either way
    the results come in partition order and the caller reduces them with the
    code one process runs.
    """
    tasks = list(args)
    if client is None and local_mode(len(tasks), jobs, balanced=balanced) == "processes":
        yield from pooled(fn, tasks, workers=jobs, shared=objects, what=name, seen=seen)
        return
    shipped = share(client, objects)
    yield from ordered(client, fn, tasks, name=name, shared=shipped, seen=seen)


def _reissue(caught: list[tuple[type[Warning], str]], issued: set[str]) -> None:
    """Issue again the warnings a task issued elsewhere, each distinct text once."""
    for category, message in caught:
        if message not in issued:
            issued.add(message)
            warnings.warn(message, category, stacklevel=4)  # the caller of the iterator


def _run(fn: Callable[..., T], *args: Any) -> tuple[T, list[tuple[type[Warning], str]]]:
    """Call ``fn`` on a worker; return its result and the warnings it issued."""
    with warnings.catch_warnings(record=True) as caught, one_blas_thread():
        warnings.simplefilter("always")
        value = fn(*args)
    return value, [(w.category, str(w.message)) for w in caught]


def map_ordered(
    client: Client,
    fn: Callable[..., T],
    args: Iterable[Sequence[Any]],
    *,
    name: str,
    window: int | None = None,
    seen: set[str] | None = None,
) -> Iterator[T]:
    """Run ``fn(*a)`` for every ``a`` of ``args`` on the cluster; yield the results in order.

    Parameters
    ----------
    client
        The Dask client.
    fn
        A module-level function (workers import it by name).
    args
        Arguments of each call; they may hold futures from :func:`scatter`.
    name
        Prefix of the task keys (shown by Dask's dashboard).
    window
        Tasks submitted ahead of the one the caller waits for (default: twice
        the cluster's threads, plus one). It bounds the results held in
        memory when they finish out of order.
    seen
        Warning texts already issued by the caller; updated.

    Yields
    ------
    object
        ``fn``'s results, in the order of ``args``.

    Notes
    -----
    A task whose worker dies is run again by Dask on another worker (up to
    the scheduler's ``allowed-failures``); an exception raised by ``fn`` is
    raised here, with its type. Warnings ``fn`` issues on a worker are issued
    again here, each distinct text once (not when it is in ``seen``). When
    the caller stops early, or on any exception (Ctrl-C included), the tasks
    not yet done are cancelled.
    """
    if window is None:
        threads = sum(client.nthreads().values()) or 1
        window = 2 * threads + 1
    token = uuid.uuid4().hex[:8]
    pending: deque[Future] = deque()
    issued: set[str] = set() if seen is None else seen
    todo = enumerate(args)

    def submit() -> bool:
        item = next(todo, None)
        if item is None:
            return False
        i, a = item
        pending.append(client.submit(_run, fn, *a, key=f"{name}-{token}-{i}", pure=False))
        return True

    try:
        while len(pending) < window and submit():
            pass
        while pending:
            future = pending.popleft()
            value, caught = future.result()
            future.release()
            submit()
            _reissue(caught, issued)
            yield value
    finally:
        if pending:
            client.cancel(list(pending), force=True)
