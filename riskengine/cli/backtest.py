"""``riskengine backtest``: the market model against observed price moves."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import typer

from riskengine.errors import UnknownLabelError

FORMATS = ("table", "csv", "json")


def backtest_command(
    data: Annotated[
        Path | None,
        typer.Option("--data", help="Dataset directory (default: the embedded dataset)."),
    ] = None,
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
    fmt: Annotated[
        str, typer.Option("--format", "-f", help="Output format: table, csv or json.")
    ] = "table",
) -> None:
    """Run the library's historical events on the year before each and compare prices.

    Reports e = log10(ln r_model / ln r_observed) per observed move, its sign,
    the model's low-high band, the median |e| and the count of wrong signs.
    """
    from riskengine.cli._load import load_whole
    from riskengine.scenarios.backtest import backtest

    if fmt not in FORMATS:
        raise UnknownLabelError("format", [fmt], FORMATS)
    result = backtest(load_whole(data), observed, library)
    table = result.table
    if fmt == "csv":
        typer.echo(table.to_csv(index=False), nl=False)
        return
    if fmt == "json":
        typer.echo(table.to_json(orient="records", indent=2))
        return
    shown = table.drop(columns=["series"]).copy()
    for col in ("ratio_model", "ratio_model_low", "ratio_model_high"):
        shown[col] = shown[col].map(lambda v: "" if not math.isfinite(v) else f"{v:.2f}")
    shown["e"] = shown["e"].map(lambda v: "" if not math.isfinite(v) else f"{v:+.2f}")
    typer.echo(shown.to_string(index=False))
    typer.echo(
        f"median |e| = {result.median_abs_e:.2f} over {int(table['e'].notna().sum())} "
        f"of {len(table)} moves; wrong sign or no move: {result.wrong_sign}"
    )
    for note in result.notes:
        typer.echo(f"note: {note}")
