"""Bounded readers for untrusted input: YAML files, downloads and zip archives.

Every reader here stops with a one-line :class:`~riskengine.errors.RiskEngineError`
(naming the file, and the line where there is one) before a hostile or broken
input can use unbounded time, memory or disk:

* :func:`load_yaml` parses once with libyaml (the C parser) and composes the
  nodes with a budget: at most :data:`YAML_MAX_BYTES` of text,
  :data:`YAML_MAX_DEPTH` levels of nesting and :data:`YAML_MAX_NODES` nodes
  counted *after* alias expansion (so a "billion laughs" file is refused after
  a few thousand nodes); recursive aliases and duplicate keys are refused. It
  returns the data and a map from each path to its line number.
* :func:`download` streams a URL to a file with a connect/read timeout and a
  byte cap (:envvar:`RISKENGINE_DOWNLOAD_TIMEOUT`,
  :envvar:`RISKENGINE_MAX_DOWNLOAD_BYTES`), removing the partial file on any
  error, on SIGINT and on SIGTERM.
* :func:`extract_zip` checks every member's declared size, its compression
  ratio and the archive's total (:envvar:`RISKENGINE_MAX_UNZIPPED_BYTES`)
  before extracting anything, refuses paths escaping the target directory and
  never writes more than a member declared.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import yaml

from riskengine.errors import DataError, RiskEngineError

#: Largest YAML file (scenario, disruption model) read, in bytes.
YAML_MAX_BYTES = 1 << 20
#: Deepest nesting of mappings and sequences in a YAML file.
YAML_MAX_DEPTH = 64
#: Most nodes in a YAML document, counting each alias as the nodes it repeats.
YAML_MAX_NODES = 100_000

#: Default connect/read timeout of a download, seconds.
DOWNLOAD_TIMEOUT = 30.0
#: Default byte cap of a download (BACI releases are about 2 GB zipped).
MAX_DOWNLOAD_BYTES = 8 << 30
#: Default cap on the total size a zip archive may expand to.
MAX_UNZIPPED_BYTES = 32 << 30
#: Largest accepted compression ratio (declared size / compressed size) of a member.
MAX_ZIP_RATIO = 100.0
#: Members smaller than this are not held to :data:`MAX_ZIP_RATIO`.
ZIP_RATIO_MIN_BYTES = 1 << 20

_CHUNK = 1 << 16

Path_ = tuple[str | int, ...]


# ----------------------------------------------------------------------- YAML
class _BoundsError(Exception):
    """Raised inside the composer; turned into the caller's error class."""

    def __init__(self, line: int | None, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


def _line(mark: Any) -> int | None:
    """1-based line of a yaml mark, None without one."""
    return None if mark is None else int(mark.line) + 1


class _Composer(yaml.composer.Composer):
    """Python composer over libyaml's events, counting nodes and nesting."""

    max_depth = YAML_MAX_DEPTH
    max_nodes = YAML_MAX_NODES

    def _init_bounds(self) -> None:
        self._depth = 0
        self._count = 0
        self._sizes: dict[yaml.Node, int] = {}

    def _charge(self, n: int, mark: Any) -> None:
        self._count += n
        if self._count > self.max_nodes:
            raise _BoundsError(
                _line(mark),
                f"the document expands to more than {self.max_nodes:,} nodes (aliases "
                f"counted as the nodes they repeat); write the values out or split the file",
            )

    def compose_node(self, parent: Any, index: Any) -> Any:
        event: Any = self.peek_event()  # type: ignore[attr-defined]
        if isinstance(event, yaml.AliasEvent):
            target = self.anchors.get(event.anchor)
            if target is not None:
                size = self._sizes.get(target)
                if size is None:
                    raise _BoundsError(
                        _line(event.start_mark),
                        f"alias *{event.anchor} refers to a node that contains it "
                        f"(a recursive alias); remove the alias",
                    )
                self._charge(size, event.start_mark)
            return super().compose_node(parent, index)
        self._depth += 1
        if self._depth > self.max_depth:
            raise _BoundsError(
                _line(event.start_mark),
                f"nesting deeper than {self.max_depth} levels; flatten the document",
            )
        self._charge(1, event.start_mark)
        before = self._count
        node: Any = super().compose_node(parent, index)
        self._depth -= 1
        self._sizes[node] = self._count - before + 1
        return node


class BoundedLoader(_Composer, yaml.CSafeLoader):
    """libyaml's safe loader with the node budget of :class:`_Composer`."""

    def __init__(self, stream: str) -> None:
        yaml.CSafeLoader.__init__(self, stream)
        yaml.composer.Composer.__init__(self)
        self._init_bounds()


def format_path(path: Path_) -> str:
    """``shocks[0].severity`` for ``("shocks", 0, "severity")``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else ("." if out else "") + str(part)
    return out or "(document)"


def _key(node: yaml.Node) -> Any:
    return node.value if isinstance(node, yaml.ScalarNode) else f"<{node.tag}>"


def _line_map(root: yaml.Node) -> tuple[dict[Path_, int], list[tuple[int, str]]]:
    """Line of every path, and ``(line, "path: duplicate key ...")`` problems."""
    lines: dict[Path_, int] = {}
    dups: list[tuple[int, str]] = []
    stack: list[tuple[yaml.Node, Path_]] = [(root, ())]
    while stack:
        node, path = stack.pop()
        lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, int] = {}
            for key_node, value_node in node.value:
                key = _key(key_node)
                line = key_node.start_mark.line + 1
                if key in seen:
                    dups.append(
                        (
                            line,
                            f"{format_path((*path, key))}: duplicate key (first on line "
                            f"{seen[key]}); keep only one",
                        )
                    )
                    continue
                seen[key] = line
                lines[(*path, key)] = line
                stack.append((value_node, (*path, key)))
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                stack.append((item, (*path, i)))
    dups.sort()
    return lines, dups


def read_text_capped(
    path: Path, error: type[RiskEngineError], what: str, max_bytes: int = YAML_MAX_BYTES
) -> str:
    """Read a UTF-8 text file of at most ``max_bytes`` bytes.

    Raises
    ------
    RiskEngineError
        Of class ``error``, when the file cannot be read or is larger.
    """
    try:
        with path.open("rb") as handle:
            raw = handle.read(max_bytes + 1)
        if len(raw) > max_bytes:
            raise error(
                f"{path}: the {what} is larger than {max_bytes:,} bytes; such files are "
                f"refused, split it or check that this is the right file"
            )
        return raw.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"{path}: cannot read the {what}: {exc}") from exc


def load_yaml(
    text: str,
    origin: str,
    error: type[RiskEngineError] = RiskEngineError,
    max_bytes: int = YAML_MAX_BYTES,
) -> tuple[Any, dict[Path_, int]]:
    """Parse one YAML document within the bounds; return the data and its line map.

    Parameters
    ----------
    text
        The YAML document.
    origin
        Name used in error messages (usually the file path).
    error
        Class of the error raised.
    max_bytes
        Size cap of ``text`` (UTF-8 encoded).

    Returns
    -------
    tuple
        The data (plain dicts, lists and scalars) and a mapping from each path
        (tuple of keys and indices) to its 1-based line number.

    Raises
    ------
    RiskEngineError
        Of class ``error``: invalid YAML, too large, too deep, too many nodes
        after alias expansion, a recursive alias or a duplicate key; the message
        is ``origin:line: what; how to fix it``.
    """
    if len(text) > max_bytes or len(text.encode("utf-8")) > max_bytes:
        raise error(
            f"{origin}: the YAML document is larger than {max_bytes:,} bytes; such files "
            f"are refused, split it or check that this is the right file"
        )
    loader = BoundedLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, {}
        lines, dups = _line_map(node)
        if dups:
            if len(dups) == 1:
                raise error(f"{origin}:{dups[0][0]}: {dups[0][1]}")
            raise error(
                f"{origin}: {len(dups)} duplicate keys:\n"
                + "\n".join(f"  {origin}:{line}: {d}" for line, d in dups)
            )
        data = loader.construct_document(node)
    except _BoundsError as exc:
        where = f":{exc.line}" if exc.line is not None else ""
        raise error(f"{origin}{where}: {exc.message}") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = (exc.problem or str(exc)).replace("\n", " ")
        if "maximum nesting depth" in problem:  # libyaml's own limit, met before ours
            problem = f"nesting deeper than {YAML_MAX_DEPTH} levels; flatten the document"
            raise error(f"{origin}{line}: {problem}") from exc
        raise error(f"{origin}{line}: invalid YAML: {problem}") from exc
    except yaml.YAMLError as exc:
        raise error(f"{origin}: invalid YAML: {str(exc).replace(chr(10), ' ')}") from exc
    finally:
        loader.dispose()
    return data, lines


# ------------------------------------------------------------------ downloads
def _env_number(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise DataError(
            f"{name}={raw!r} is not a number; set it to a positive number or unset it"
        ) from None
    if value <= 0:
        raise DataError(f"{name}={raw!r} must be positive; set a positive number or unset it")
    return value


def download_timeout() -> float:
    """Connect/read timeout in seconds (``RISKENGINE_DOWNLOAD_TIMEOUT``, default 30)."""
    return _env_number("RISKENGINE_DOWNLOAD_TIMEOUT", DOWNLOAD_TIMEOUT)


def max_download_bytes() -> int:
    """Download byte cap (``RISKENGINE_MAX_DOWNLOAD_BYTES``, default 8 GiB)."""
    return int(_env_number("RISKENGINE_MAX_DOWNLOAD_BYTES", MAX_DOWNLOAD_BYTES))


def max_unzipped_bytes() -> int:
    """Cap on an archive's expanded size (``RISKENGINE_MAX_UNZIPPED_BYTES``, default 32 GiB)."""
    return int(_env_number("RISKENGINE_MAX_UNZIPPED_BYTES", MAX_UNZIPPED_BYTES))


class SignalInterruptError(DataError):
    """SIGTERM arrived while a download or extraction was running."""


@contextlib.contextmanager
def terminate_as_error(what: str) -> Iterator[None]:
    """Turn SIGTERM into :class:`SignalInterruptError` inside the block (main thread only).

    The previous handler is restored on exit, so ``finally`` clauses and
    context managers clean up temporary files as for any other error.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        raise SignalInterruptError(f"{what} interrupted by signal {signal.Signals(signum).name}")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def download(
    url: str,
    target: Path,
    *,
    timeout: float | None = None,
    max_bytes: int | None = None,
    progress: Callable[[int | None], Any] | None = None,
) -> Path:
    """Stream ``url`` to ``target`` with a timeout and a byte cap.

    Parameters
    ----------
    url
        Address to download.
    target
        File written; removed again if anything goes wrong.
    timeout
        Connect/read timeout in seconds (default :func:`download_timeout`).
    max_bytes
        Byte cap (default :func:`max_download_bytes`).
    progress
        Called with the announced length (or None) and returning a context
        manager whose ``update(n)`` is called per chunk.

    Raises
    ------
    DataError
        When the server cannot be reached, does not answer in time, or sends
        more than ``max_bytes``; also on SIGTERM (the partial file is removed).
    """
    import http.client
    import urllib.request  # only for downloads: it costs start-up time

    timeout = download_timeout() if timeout is None else timeout
    max_bytes = max_download_bytes() if max_bytes is None else max_bytes
    too_big = (
        f"cannot download {url}: it is larger than the cap of {max_bytes:,} bytes; raise "
        f"RISKENGINE_MAX_DOWNLOAD_BYTES if the file is expected to be that large"
    )
    try:
        with (
            terminate_as_error(f"download of {url}"),
            urllib.request.urlopen(url, timeout=timeout) as response,
            target.open("wb") as out,
        ):
            total = int(response.headers.get("Content-Length") or 0) or None
            if total is not None and total > max_bytes:
                raise DataError(too_big)
            bar = progress(total) if progress is not None else contextlib.nullcontext()
            received = 0
            with bar as shown:
                while chunk := response.read(_CHUNK):
                    received += len(chunk)
                    if received > max_bytes:
                        raise DataError(too_big)
                    out.write(chunk)
                    if shown is not None:
                        shown.update(len(chunk))
    except BaseException as exc:
        target.unlink(missing_ok=True)
        if isinstance(exc, TimeoutError):
            raise DataError(
                f"cannot download {url}: no answer within {timeout:g} s; check the address, "
                f"raise RISKENGINE_DOWNLOAD_TIMEOUT, or download the file yourself and pass "
                f"its local path"
            ) from exc
        if isinstance(exc, OSError | ValueError | http.client.HTTPException):
            reason = str(getattr(exc, "reason", None) or exc).replace("\n", " ")
            raise DataError(
                f"cannot download {url}: {reason}; check the address, or download the file "
                f"yourself and pass its local path"
            ) from exc
        raise
    return target


# ----------------------------------------------------------------------- zip
def extract_zip(
    archive: Path,
    target: Path,
    *,
    max_total: int | None = None,
    max_ratio: float = MAX_ZIP_RATIO,
) -> Path:
    """Extract ``archive`` into ``target`` after checking every member.

    Parameters
    ----------
    archive
        The zip file.
    target
        Directory created and filled; removed again if anything goes wrong.
    max_total
        Cap on the sum of the members' declared sizes (default
        :func:`max_unzipped_bytes`).
    max_ratio
        Largest compression ratio of a member of 1 MiB or more.

    Raises
    ------
    DataError
        Naming the archive and the member: a path escaping ``target``, a ratio
        above ``max_ratio``, a total above ``max_total``, a member longer than
        it declared, or a corrupt archive.
    """
    import shutil

    max_total = max_unzipped_bytes() if max_total is None else max_total
    root = target.resolve()
    try:
        with terminate_as_error(f"extraction of {archive}"), zipfile.ZipFile(archive) as zf:
            members = zf.infolist()
            total = 0
            for info in members:
                dest = (root / info.filename).resolve()
                if not dest.is_relative_to(root) or (dest == root and not info.is_dir()):
                    raise DataError(
                        f"{archive}: member {info.filename!r} would be written outside the "
                        f"extraction directory; the archive is unsafe, get it from the source"
                    )
                ratio = info.file_size / max(info.compress_size, 1)
                if info.file_size >= ZIP_RATIO_MIN_BYTES and ratio > max_ratio:
                    raise DataError(
                        f"{archive}: member {info.filename!r} expands {ratio:,.0f} times "
                        f"({info.compress_size:,} to {info.file_size:,} bytes), above the "
                        f"limit of {max_ratio:g}; the archive looks like a zip bomb, get it "
                        f"from the source"
                    )
                total += info.file_size
            if total > max_total:
                raise DataError(
                    f"{archive}: the members expand to {total:,} bytes, above the cap of "
                    f"{max_total:,}; raise RISKENGINE_MAX_UNZIPPED_BYTES if that is expected"
                )
            target.mkdir(parents=True, exist_ok=True)
            for info in members:
                dest = (root / info.filename).resolve()
                if info.is_dir():
                    dest.mkdir(parents=True, exist_ok=True)
                    continue
                dest.parent.mkdir(parents=True, exist_ok=True)
                written = 0
                with zf.open(info) as src, dest.open("wb") as out:
                    while chunk := src.read(_CHUNK):
                        written += len(chunk)
                        if written > info.file_size:
                            raise DataError(
                                f"{archive}: member {info.filename!r} is longer than the "
                                f"{info.file_size:,} bytes it declares; the archive is corrupt "
                                f"or unsafe, get it from the source"
                            )
                        out.write(chunk)
    except BaseException as exc:
        shutil.rmtree(target, ignore_errors=True)
        if isinstance(exc, zipfile.BadZipFile | zipfile.LargeZipFile | OSError | EOFError):
            raise DataError(
                f"{archive}: cannot extract the zip archive: {exc}; download it again"
            ) from exc
        raise
    return target
