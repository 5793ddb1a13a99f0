"""Atomic, locked writes: nothing riskengine writes is ever left half-written.

* :func:`atomic_write` writes one file: a temporary file in the target's
  directory, flushed and fsynced, renamed over the target, the directory fsynced.
* :func:`dataset_lock` holds ``DIR/.riskengine.lock`` (``fcntl.flock``) while a
  dataset directory is written; a second writer waits, then fails clearly.
* :class:`Transaction` commits several tables of a dataset directory all or
  none, through a journal (``DIR/.riskengine-commit.json``) that any later
  reader or writer rolls forward (see ``docs/data-format.md``).
* :func:`atomic_directory` writes a directory of files (a parquet output of
  several tables) the same way: built beside its target, then renamed.
* :func:`check_output` refuses an output path that resolves to an input.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from riskengine.errors import DataError, RiskEngineError

LOCK_FILE = ".riskengine.lock"
JOURNAL_FILE = ".riskengine-commit.json"
#: Suffix of the tables staged by a :class:`Transaction` (removed when no journal names them).
STAGED_SUFFIX = ".riskengine-tmp"
#: Seconds a writer waits for another one; ``$RISKENGINE_LOCK_TIMEOUT`` overrides it.
LOCK_TIMEOUT = 60.0

_TABLES = ("production", "trade", "governance", "minerals", "export_shares", "outlook")
_DATASET_FILES = (
    *(f"{name}{suffix}" for name in _TABLES for suffix in (".csv", ".csv.gz")),
    "products.csv",
    "dataset.npz",
    LOCK_FILE,
    JOURNAL_FILE,
)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_file(path: Path) -> None:
    with path.open("rb") as handle:
        os.fsync(handle.fileno())


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def _mode() -> int:
    return 0o666 & ~_umask()  # mkstemp creates 0600; these are ordinary files


def _dir_mode() -> int:
    return 0o777 & ~_umask()


@contextlib.contextmanager
def atomic_write(path: Path, mode: str = "w", *, encoding: str = "utf-8") -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``; on success it replaces ``path``.

    The file is flushed and fsynced, renamed over ``path`` (``os.replace``)
    and the directory fsynced. On any exception, ``KeyboardInterrupt`` and
    ``SystemExit`` included, the temporary file is removed and ``path`` is
    left as it was.
    """
    path = Path(path)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    tmp = Path(name)
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else encoding) as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, _mode())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (:func:`atomic_write`)."""
    try:
        with atomic_write(path) as out:
            out.write(text)
    except OSError as exc:
        raise RiskEngineError(
            f"cannot write {path}: {exc.strerror or exc}; check that its directory exists "
            f"and is writable"
        ) from exc


def _timeout() -> float:
    try:
        return float(os.environ.get("RISKENGINE_LOCK_TIMEOUT", LOCK_TIMEOUT))
    except ValueError:
        return LOCK_TIMEOUT


@contextlib.contextmanager
def dataset_lock(directory: Path, timeout: float | None = None) -> Iterator[None]:
    """Hold the write lock of a dataset directory (created when missing).

    Waits up to ``timeout`` seconds (default ``$RISKENGINE_LOCK_TIMEOUT`` or
    60) for another writer. The lock file holds the writer's pid and is
    removed on release; a waiter that locked a removed file retries.

    Raises
    ------
    RiskEngineError
        When another process still holds the lock after ``timeout`` seconds.
    """
    directory = Path(directory)
    lock = directory / LOCK_FILE
    wait = _timeout() if timeout is None else timeout
    deadline = time.monotonic() + wait
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RiskEngineError(f"cannot create {directory}: {exc.strerror or exc}") from exc
    while True:
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise RiskEngineError(
                f"cannot lock {directory} for writing ({lock}: {exc.strerror or exc}); "
                f"check that the directory is writable"
            ) from exc
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
                        raise RiskEngineError(
                            f"{directory} is being written by another riskengine process "
                            f"(pid {holder}); wait for it to finish, or remove {lock} if no "
                            f"import is running"
                        ) from None
                    time.sleep(0.05)
            try:
                same = os.fstat(fd).st_ino == os.stat(lock).st_ino
            except FileNotFoundError:
                same = False
            if not same:  # the previous holder removed the file we waited on
                continue
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            try:
                recover(directory)
                yield
            finally:
                lock.unlink(missing_ok=True)
            return
        finally:
            with contextlib.suppress(OSError):
                os.close(fd)


def recover(directory: Path) -> None:
    """Finish (roll forward) an interrupted commit; remove staged files no journal names.

    Call only while holding :func:`dataset_lock`.
    """
    journal = directory / JOURNAL_FILE
    if journal.is_file():
        try:
            plan = json.loads(journal.read_text(encoding="utf-8"))
            renames = [(str(a), str(b)) for a, b in plan["replace"]]
            removals = [str(r) for r in plan["remove"]]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise DataError(
                f"{journal} records an interrupted import but cannot be read ({exc}); "
                f"remove it and the {STAGED_SUFFIX} files beside it, then import again"
            ) from exc
        _apply(directory, renames, removals)
        journal.unlink()
        _fsync_dir(directory)
    for leftover in directory.glob(f".*{STAGED_SUFFIX}"):
        leftover.unlink(missing_ok=True)
    for leftover in directory.glob(f".{JOURNAL_FILE}.*.tmp"):
        leftover.unlink(missing_ok=True)


def _apply(directory: Path, renames: list[tuple[str, str]], removals: list[str]) -> None:
    """Perform a journal's renames and removals; idempotent (a done rename is skipped)."""
    for staged, target in renames:
        if (directory / staged).exists():
            os.replace(directory / staged, directory / target)
    for name in removals:
        (directory / name).unlink(missing_ok=True)
    _fsync_dir(directory)


def settle(directory: Path) -> None:
    """Before reading a dataset directory: roll forward a commit left unfinished.

    Costs one ``stat`` when there is none. A commit in progress is waited for.
    """
    if (Path(directory) / JOURNAL_FILE).is_file():
        with dataset_lock(Path(directory)):
            pass  # taking the lock recovers


class Transaction:
    """Stage files of one directory and commit them all or none.

    Use under :func:`dataset_lock`::

        tx = Transaction(directory)
        tmp = tx.stage("trade.csv", remove=["trade.csv.gz"])
        ...  # write tmp
        tx.commit()

    Staged files are ``.<target>.<random>.riskengine-tmp`` in the directory. The
    commit fsyncs them, writes the journal atomically (the commit point),
    renames each staged file over its target, removes the ``remove`` files
    and deletes the journal. :meth:`discard` (or an exception before the
    journal exists) leaves the directory as it was.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self._renames: list[tuple[str, str]] = []
        self._removals: list[str] = []

    def stage(self, target: str, *, remove: Iterable[str] = ()) -> Path:
        """Return a new empty file to write in place of ``target`` (a file name in the directory).

        ``remove`` names files the commit deletes (e.g. the other form of a table).
        """
        self.directory.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=self.directory, prefix=f".{target}.", suffix=STAGED_SUFFIX)
        os.close(fd)
        os.chmod(name, _mode())
        self._renames.append((Path(name).name, target))
        self._removals += [r for r in remove if r != target]
        return Path(name)

    def discard(self) -> None:
        """Remove every staged file."""
        for staged, _ in self._renames:
            (self.directory / staged).unlink(missing_ok=True)
        self._renames.clear()

    def commit(self) -> None:
        """Make every staged file take its target's place, all or none."""
        try:
            for staged, _ in self._renames:
                _fsync_file(self.directory / staged)
            _fsync_dir(self.directory)
            plan = {"replace": self._renames, "remove": self._removals}
            with atomic_write(self.directory / JOURNAL_FILE) as out:
                json.dump(plan, out)
        except OSError as exc:
            self.discard()
            raise DataError(
                f"cannot write into {self.directory}: {exc.strerror or exc}; nothing was "
                f"changed: check free space and permissions, then run the command again"
            ) from exc
        except BaseException:
            self.discard()
            raise
        # past the commit point: finish now, or the next reader or writer will
        try:
            _apply(self.directory, self._renames, self._removals)
            (self.directory / JOURNAL_FILE).unlink()
            _fsync_dir(self.directory)
        except OSError as exc:
            raise DataError(
                f"the commit into {self.directory} was interrupted ({exc.strerror or exc}); "
                f"the next riskengine command reading or writing it finishes the commit"
            ) from exc
        self._renames.clear()


def check_output(output: Path | None, inputs: Iterable[Path | str | None]) -> None:
    """Refuse an output path that resolves to one of ``inputs`` or into a dataset.

    A directory among ``inputs`` is a dataset: every file in it, and every
    name a table of it could have, counts as an input.

    Raises
    ------
    RiskEngineError
        Naming the output and the input it would overwrite.
    """
    if output is None:
        return
    target = Path(output).resolve()
    for given in inputs:
        if given is None:
            continue
        source = Path(given).resolve()
        if source.is_dir():
            if target == source:
                raise RiskEngineError(
                    f"--output {output} is the dataset directory {given}; pass a file name "
                    f"outside it"
                )
            files = {p.resolve() for p in source.iterdir() if p.is_file()}
            files |= {source / name for name in _DATASET_FILES}
            if target in files:
                raise RiskEngineError(
                    f"--output {output} would overwrite {target.name} of the dataset "
                    f"{given}, an input of this command; write to a file outside the dataset"
                )
        elif source.is_file() and target == source:
            raise RiskEngineError(
                f"--output {output} is {given}, an input of this command; choose another "
                f"output file"
            )


@contextlib.contextmanager
def atomic_directory(path: Path) -> Iterator[Path]:
    """Yield a new empty directory beside ``path``; on success it takes the place of ``path``.

    The files written into it are fsynced, then the directory is renamed to
    ``path``. A directory already at ``path`` is first renamed aside and removed
    once the new one is in place, so that readers see the old set of files or
    the new one, never a mixture (between the two renames, for an instant,
    neither). On any exception the new directory is removed and ``path`` is
    left as it was.
    """
    import shutil

    path = Path(path)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))
    old: Path | None = None
    try:
        yield tmp
        for item in tmp.iterdir():
            _fsync_file(item)
        os.chmod(tmp, _dir_mode())  # mkdtemp creates 0700; this is an ordinary directory
        _fsync_dir(tmp)
        if path.is_dir():
            old = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".old"))
            os.replace(path, old)
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None and not path.exists():
            os.replace(old, path)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
