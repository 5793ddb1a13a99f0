"""The one output writer of every command: table, CSV, JSON, xlsx and parquet.

A command puts what it reports into an :class:`Output` (its tables, the text
of the table format, its notes and sources) and hands it to
:func:`write_output` with the format and the ``--output`` path. The writer

* renders the format (text formats go to stdout when there is no path);
* refuses a binary format (xlsx, parquet) without a path, and a path that is
  one of the command's inputs (the dataset directory or one of its files, a
  scenario or model file given on the command line);
* writes atomically (:mod:`riskengine.io.atomic`): the file, or the directory of
  a parquet output of several tables, appears whole or not at all.

What each format holds:

========= ===================================================================
format    content
========= ===================================================================
table     the command's plain-text report
csv       one table (``--table``, else the command's default), as today
json      one table, or the command's JSON document (``scenario run``)
xlsx      every table (or the one ``--table`` names), one sheet each, and a
          ``notes`` sheet: what was run, every note in full, the sources
parquet   one table: one file at ``--output``; several tables (no
          ``--table`` on a result with several): a directory at ``--output``
          holding ``<table>.parquet`` per table. Notes, sources and what was
          run are in each file's schema metadata under the key ``riskengine``
          (JSON)
========= ===================================================================

openpyxl and pyarrow are imported only when an xlsx or parquet file is written.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, BinaryIO, cast

import pandas as pd

from riskengine.errors import RiskEngineError, UnknownLabelError
from riskengine.io.atomic import atomic_directory, atomic_write, check_output, write_text
from riskengine.notes import notes_frame
from riskengine.report.tables import to_csv, to_json

#: Formats that go to stdout when no ``--output`` is given.
TEXT_FORMATS: tuple[str, ...] = ("table", "csv", "json")
#: Formats written only to a file (``--output`` required).
BINARY_FORMATS: tuple[str, ...] = ("xlsx", "parquet")
#: Every output format of the commands.
FORMATS: tuple[str, ...] = (*TEXT_FORMATS, *BINARY_FORMATS)

#: Rows an xlsx sheet holds below its header.
XLSX_MAX_ROWS = 1_048_575
#: Name of the sheet of notes and sources in an xlsx workbook.
NOTES_SHEET = "notes"


@dataclass(frozen=True)
class Output:
    """What a command reports, ready for any format.

    Attributes
    ----------
    tables : mapping of str to pandas.DataFrame
        The result's tables in order; the first is the default of csv, json
        and a single-table parquet file.
    text : str
        The plain-text report (``table`` format).
    selected : str or None
        The table the user chose (``--table``): csv, json, xlsx and parquet
        then hold it alone. None: csv and json hold the first table (or
        ``document``), xlsx and parquet every table.
    document : str or None
        JSON text that stands for the whole result when no table is
        selected (``scenario run --format json``).
    notes : sequence of str
        Notes in full (:class:`riskengine.notes.Note` or text).
    sources : sequence of str
        Sources of the data and of the scenario.
    about : mapping of str to str
        What was run (dataset, method, year, scenario...), for the notes
        sheet and the parquet metadata.
    what : str
        What the text report is, for the message after writing it
        (``"the sweep report"``).
    """

    tables: Mapping[str, pd.DataFrame]
    text: str = ""
    selected: str | None = None
    document: str | None = None
    notes: Sequence[str] = ()
    sources: Sequence[str] = ()
    about: Mapping[str, str] = field(default_factory=dict)
    what: str = "the report"

    def chosen(self, fmt: str) -> dict[str, pd.DataFrame]:
        """Return the tables ``fmt`` writes: the selected one, the first, or (xlsx, parquet) all."""
        if self.selected is not None:
            if self.selected not in self.tables:
                raise UnknownLabelError("table", [self.selected], self.tables)
            return {self.selected: self.tables[self.selected]}
        if fmt in BINARY_FORMATS:
            return dict(self.tables)
        first = next(iter(self.tables))
        return {first: self.tables[first]}


@dataclass(frozen=True)
class Written:
    """What :func:`write_output` did: text for stdout, or a message saying what it wrote."""

    stdout: str = ""
    message: str = ""


def check_destination(output: Path | None, fmt: str, inputs: Iterable[Path | str | None]) -> None:
    """Check a format and an output path before any work is done.

    Raises
    ------
    UnknownLabelError
        For an unknown format.
    RiskEngineError
        For a binary format without ``output``, or an ``output`` that is one of
        ``inputs`` (:func:`riskengine.io.atomic.check_output`).
    """
    if fmt not in FORMATS:
        raise UnknownLabelError("format", [fmt], FORMATS)
    if fmt in BINARY_FORMATS and output is None:
        raise RiskEngineError(
            f"--format {fmt} writes a binary file: pass --output FILE (e.g. --output results.{fmt})"
        )
    check_output(output, inputs)


def write_output(
    out: Output,
    fmt: str,
    output: Path | None = None,
    *,
    inputs: Iterable[Path | str | None] = (),
) -> Written:
    """Render ``out`` in ``fmt``; write it to ``output`` atomically, or return it for stdout.

    Parameters
    ----------
    out
        What the command reports.
    fmt
        One of :data:`FORMATS`.
    output
        File to write (a directory for a parquet output of several tables);
        None returns the text for stdout (text formats only).
    inputs
        The command's input paths: an ``output`` among them (or inside a
        dataset directory among them) is refused.

    Returns
    -------
    Written
        ``stdout`` when ``output`` is None, else ``message`` (``"wrote 12
        records to scores.csv"``).

    Raises
    ------
    RiskEngineError
        For a binary format without ``output``, an ``output`` that is an input,
        a table too long for an xlsx sheet, a missing pyarrow, or a path that
        cannot be written.
    """
    inputs = list(inputs)
    check_destination(output, fmt, inputs)
    if fmt in TEXT_FORMATS:
        text, count = _text(out, fmt)
        if output is None:
            return Written(stdout=text)
        write_text(output, text if text.endswith("\n") else text + "\n")
        return Written(message=f"wrote {count} to {output}")
    assert output is not None  # check_destination
    tables = out.chosen(fmt)
    try:
        if fmt == "xlsx":
            _write_xlsx(output, tables, out)
            sheets = ", ".join([*tables, NOTES_SHEET])
            return Written(message=f"wrote {_records(tables)} to {output} (sheets {sheets})")
        return Written(message=_write_parquet(output, tables, out))
    except OSError as exc:
        raise RiskEngineError(
            f"cannot write {output}: {exc.strerror or exc}; check that its directory exists "
            f"and is writable"
        ) from exc


def _records(tables: Mapping[str, pd.DataFrame]) -> str:
    return f"{sum(len(t) for t in tables.values())} records"


def _text(out: Output, fmt: str) -> tuple[str, str]:
    """Render a text format; return the text and what it holds (for the message)."""
    if fmt == "table":
        return out.text, out.what
    if fmt == "json" and out.selected is None and out.document is not None:
        return out.document, out.what
    ((_, frame),) = out.chosen(fmt).items()
    return (to_csv(frame) if fmt == "csv" else to_json(frame)), f"{len(frame)} records"


def _about_frame(out: Output) -> pd.DataFrame:
    """Tabulate the notes sheet: what was run, every note in full, the sources."""
    about = pd.DataFrame(
        {
            "section": "run",
            "kind": list(out.about),
            "count": float("nan"),
            "summary": list(out.about.values()),
            "text": list(out.about.values()),
        },
        columns=["section", "kind", "count", "summary", "text"],
    )
    return pd.concat([about, notes_frame(out.notes, out.sources)], ignore_index=True)


def _write_xlsx(path: Path, tables: Mapping[str, pd.DataFrame], out: Output) -> None:
    for name, frame in tables.items():
        if len(frame) > XLSX_MAX_ROWS:
            raise RiskEngineError(
                f"the table {name} has {len(frame):,} rows, more than an xlsx sheet holds "
                f"({XLSX_MAX_ROWS:,}); use --format parquet or csv, or narrow the selection"
            )
    try:
        import openpyxl  # noqa: F401  (the engine pandas uses)
    except ImportError as exc:  # pragma: no cover - a dependency of riskengine
        raise RiskEngineError("--format xlsx needs openpyxl: pip install openpyxl") from exc
    with atomic_write(path, "wb") as handle:
        # closed (saved) only when every sheet is written: a failure leaves nothing to save
        book = pd.ExcelWriter(cast(BinaryIO, handle), engine="openpyxl")
        for name, frame in tables.items():
            frame.to_excel(book, sheet_name=name[:31], index=False)
        _about_frame(out).to_excel(book, sheet_name=NOTES_SHEET, index=False)
        book.close()


def _metadata(out: Output, table: str) -> bytes:
    doc = {
        "table": table,
        "about": dict(out.about),
        "notes": [str(n) for n in out.notes],
        "sources": list(out.sources),
    }
    return json.dumps(doc, ensure_ascii=False).encode()


def _arrow(frame: pd.DataFrame, meta: bytes) -> Any:
    """Convert a frame to a pyarrow table carrying ``meta`` under the schema key ``riskengine``."""
    try:
        import pyarrow as pa
    except ImportError as exc:
        raise RiskEngineError("--format parquet needs pyarrow: pip install pyarrow") from exc
    table = pa.Table.from_pandas(frame, preserve_index=False)
    return table.replace_schema_metadata({**(table.schema.metadata or {}), b"riskengine": meta})


def _write_arrow(handle: IO[bytes], table: Any) -> None:
    import pyarrow.parquet as pq

    pq.write_table(table, handle)


def _write_parquet(path: Path, tables: Mapping[str, pd.DataFrame], out: Output) -> str:
    """One table: the file ``path``; several: the directory ``path`` of ``<table>.parquet``."""
    if len(tables) == 1:
        ((name, frame),) = tables.items()
        if path.is_dir():
            raise RiskEngineError(
                f"--output {path} is a directory; a parquet output of one table is a file: "
                f"pass a file name such as {path / (name + '.parquet')}"
            )
        table = _arrow(frame, _metadata(out, name))
        with atomic_write(path, "wb") as handle:
            _write_arrow(handle, table)
        return f"wrote {len(frame)} records to {path}"
    if path.exists() and not path.is_dir():
        raise RiskEngineError(
            f"--output {path} is a file; a parquet output of several tables "
            f"({', '.join(tables)}) is a directory of one file per table: pass a new "
            f"directory name, or --table to write one table"
        )
    if path.is_dir():
        foreign = sorted(p.name for p in path.iterdir() if p.suffix != ".parquet")
        if foreign:
            raise RiskEngineError(
                f"--output {path} is a directory holding other files than parquet tables "
                f"({', '.join(foreign[:3])}); pass a new directory name"
            )
    arrow = {name: _arrow(frame, _metadata(out, name)) for name, frame in tables.items()}
    with atomic_directory(path) as directory:
        for name, table in arrow.items():
            with (directory / f"{name}.parquet").open("wb") as handle:
                _write_arrow(handle, table)
    return (
        f"wrote {_records(tables)} in {len(tables)} parquet files ({', '.join(tables)}) to {path}/"
    )
