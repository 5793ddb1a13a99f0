"""``riskengine backtest``: the market model against observed price moves."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from riskengine.cli._cluster import SchedulerOpt, WorkersOpt
from riskengine.cli._output import FORMAT_HELP, OUTPUT_HELP, DataOpt, VerboseOpt

if TYPE_CHECKING:
    from riskengine.scenarios.backtest import Backtest


def backtest_command(
    data: DataOpt = None,
    observed: Annotated[
        Path | None,
        typer.Option(
            "--observed", help="Observed-moves CSV (default: scenarios/observed_moves.csv)."
        ),
    ] = None,
    library: Annotated[
        Path | None,
        typer.Option("--scenarios", help="Directory of the scenarios the events name."),
    ] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help=FORMAT_HELP)] = "table",
    output: Annotated[Path | None, typer.Option("--output", "-o", help=OUTPUT_HELP)] = None,
    verbose: VerboseOpt = False,
    scheduler: SchedulerOpt = None,
    workers: WorkersOpt = None,
) -> None:
    """Run the library's historical events on the year before each and compare prices.

    Reports e = log10(ln r_model / ln r_observed) per observed move, its sign,
    the model's low-high band, and the median |e| and the count of wrong signs
    for the in-sample (calibration) moves, the out-of-sample (validation)
    moves and all of them.
    """
    from riskengine.cli._load import load_whole
    from riskengine.cli._output import emit, gathered
    from riskengine.cluster import connect
    from riskengine.dataset import default_data_dir
    from riskengine.report import Output, check_destination
    from riskengine.scenarios.backtest import backtest

    inputs = [data or default_data_dir(), observed, library]
    check_destination(output, fmt, inputs)
    with gathered(verbose):
        dataset = load_whole(data)
        with connect(scheduler, workers, "riskengine backtest") as client:
            result = backtest(dataset, observed, library, client if client is not None else False)
    out = Output(
        tables={"backtest": result.table},
        text=_text(result) if fmt == "table" else "",
        notes=result.notes,
        about={"command": "riskengine backtest", "observed": str(observed or "")},
        what="the backtest report",
    )
    emit(out, fmt, output, inputs)


def _text(result: Backtest) -> str:
    """Render the table view: one row per observed move, the median |e| per sample, the notes."""
    from riskengine.report import text_table

    table = result.table
    body = text_table(
        table,
        {
            "event": "event",
            "sample": "sample",
            "mineral": "mineral",
            "stage": "stage",
            "market": "market",
            "baseline_year": "baseline",
            "ratio_observed": "observed",
            "ratio_model": "model",
            "ratio_model_low": "low",
            "ratio_model_high": "high",
            "e": "e",
            "sign_ok": "sign ok",
            "note": "note",
        },
        {
            "ratio_observed": ".3f",
            "ratio_model": ".2f",
            "ratio_model_low": ".2f",
            "ratio_model_high": ".2f",
            "e": "+.2f",
        },
        title="Price ratio after / before the event: observed and modelled "
        "(e = log10(ln r_model / ln r_observed))",
    )
    lines = [body]
    for row in result.summary().itertuples():
        lines.append(
            f"{row.sample}: median |e| = {row.median_abs_e:.2f} over {row.scored} of "
            f"{row.moves} moves; wrong sign or no move: {row.wrong_sign}"
        )
    lines += [f"note: {note}" for note in result.notes]
    return "\n".join(lines)
