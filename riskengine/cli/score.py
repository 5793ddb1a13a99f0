"""``riskengine score``: concentration and risk scores from a dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from riskengine.cli._output import FORMAT_HELP, OUTPUT_HELP, DataOpt, VerboseOpt, YearOpt


def score_command(
    data: DataOpt = None,
    mineral: Annotated[
        list[str] | None,
        typer.Option("--mineral", "-m", help="Mineral id; repeat for several (default: all)."),
    ] = None,
    country: Annotated[
        list[str] | None,
        typer.Option(
            "--country",
            "-c",
            help="Importer or exporter of interest (ISO3 or name, or a region such as EU27); "
            "repeat for several.",
        ),
    ] = None,
    stage: Annotated[
        str | None,
        typer.Option(
            "--stage",
            "-s",
            help="mining, intermediate, refining or component (default: all).",
        ),
    ] = None,
    year: YearOpt = None,
    method: Annotated[
        str, typer.Option("--method", help="Scoring method: riskengine, geopolrisk or eu.")
    ] = "riskengine",
    fmt: Annotated[str, typer.Option("--format", "-f", help=FORMAT_HELP)] = "table",
    output: Annotated[Path | None, typer.Option("--output", "-o", help=OUTPUT_HELP)] = None,
    top: Annotated[int, typer.Option("--top", help="Rows per table in table format.")] = 10,
    strict: Annotated[
        bool, typer.Option("--strict", help="Fail on data gaps instead of warning.")
    ] = False,
    scenario: Annotated[
        str | None,
        typer.Option(
            "--scenario",
            help="Scenario file or bundled scenario name: show the scores after its shocks "
            "(score) beside the baseline (score_baseline, score_change), in its year.",
        ),
    ] = None,
    verbose: VerboseOpt = False,
) -> None:
    """Score concentration and supply risk on a dataset.

    The table format shows the most concentrated mineral/stage pairs and the
    most exposed importers (at least 1 % of world imports; re-export hubs
    marked, after the others); CSV, JSON, xlsx and parquet give one record per
    mineral, stage, year and country with at least mineral, stage, year,
    country, hhi and score.
    """
    from riskengine.cli._load import load_whole
    from riskengine.cli._output import check_top, emit, gathered
    from riskengine.dataset import default_data_dir
    from riskengine.report import check_destination
    from riskengine.report.text import score_output
    from riskengine.views import score_view

    check_top(top)
    inputs = [data or default_data_dir(), scenario]
    check_destination(output, fmt, inputs)
    with gathered(verbose) as notes:
        view = score_view(
            load_whole(data),
            method=method,
            minerals=mineral,
            countries=country,
            stage=stage,
            year=year,
            scenario=scenario,
            strict=strict,
        )
        notes.add(view.notes)
    emit(score_output(view, top), fmt, output, inputs)
