"""What every command shares at its end: the output writer, and notes summarised once.

Data gaps reach a command twice or more: as warnings (the dataset's
consistency checks, each scoring) and as the notes of its result. Inside
:func:`gathered` the warnings are collected rather than shown; at the end
they and the result's notes are merged by :func:`riskengine.notes.summarize`
and printed as one ``note:`` line per kind, with the details under
``--verbose``.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from riskengine.errors import RiskEngineError

if TYPE_CHECKING:
    from riskengine.report import Output

#: ``--data``: the dataset directory, shared by every command that loads one.
DataOpt = Annotated[
    Path | None, typer.Option("--data", help="Dataset directory (default: the embedded dataset).")
]
#: ``--year``: the year scored, shared by every command that scores one.
YearOpt = Annotated[
    int | None,
    typer.Option("--year", "-y", help="Year (default: latest with production and trade)."),
]
VerboseOpt = Annotated[
    bool,
    typer.Option(
        "--verbose",
        "-v",
        help="Print every data-gap note in full (default: one summary line per kind).",
    ),
]

FORMAT_HELP = "Output format: table, csv, json, xlsx or parquet (xlsx, parquet need --output)."
OUTPUT_HELP = (
    "Write to this file instead of stdout (parquet of several tables: a directory of one file "
    "per table)."
)


class Notes:
    """Notes a command adds (its result's) to those gathered from warnings."""

    def __init__(self) -> None:
        self.items: list[object] = []

    def add(self, notes: Iterable[object]) -> None:
        """Add notes (texts or :class:`riskengine.notes.Note`)."""
        self.items.extend(notes)


@contextmanager
def gathered(verbose: bool = False) -> Iterator[Notes]:
    """Collect data-gap warnings and the notes added; print them once, summarised, on success.

    Warnings of other categories are printed as ``warning:`` lines, once each.
    Nothing is printed when the block raises (the error is the message).
    """
    from riskengine.dataset import RiskEngineWarning
    from riskengine.notes import summarize

    notes = Notes()
    with warnings.catch_warnings(record=True) as caught:
        # every data gap is recorded (they are merged below); other warnings keep their filters
        warnings.simplefilter("always", RiskEngineWarning)
        yield notes
    gaps = [w.message for w in caught if issubclass(w.category, RiskEngineWarning)]
    others = dict.fromkeys(
        str(w.message) for w in caught if not issubclass(w.category, RiskEngineWarning)
    )
    for text in others:
        typer.echo(f"warning: {text}", err=True)
    for summary in summarize([*gaps, *notes.items]):
        if verbose:
            typer.echo(f"note: {summary.detail}", err=True)
        else:
            more = " (details: --verbose)" if summary.has_detail else ""
            typer.echo(f"note: {summary.line}{more}", err=True)


def needed(fmt: str, selected: str | None, names: Iterable[str]) -> list[str]:
    """Return the tables ``fmt`` writes, of a result's ``names`` (the first is the default).

    None for the table format; the one ``--table`` selects; every table for
    xlsx and parquet; else the default. Commands build only these.
    """
    from riskengine.report import BINARY_FORMATS

    names = list(names)
    if fmt == "table":
        return []
    if selected is not None:
        return [selected]
    return names if fmt in BINARY_FORMATS else names[:1]


def check_top(top: int) -> None:
    """Refuse a ``--top`` below 1."""
    if top < 1:
        raise RiskEngineError(f"--top must be at least 1, got {top}")


def emit(
    out: Output, fmt: str, output: Path | None, inputs: Iterable[Path | str | None] = ()
) -> None:
    """Write ``out`` with :func:`riskengine.report.write_output` and say what was written."""
    from riskengine.report import write_output

    written = write_output(out, fmt, output, inputs=inputs)
    if output is None:
        typer.echo(written.stdout)
    else:
        typer.echo(written.message, err=True)
