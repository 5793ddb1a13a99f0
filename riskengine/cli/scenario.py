"""``riskengine scenario``: run, validate and list what-if scenarios."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from riskengine.cli._output import FORMAT_HELP, OUTPUT_HELP, DataOpt, VerboseOpt
from riskengine.errors import ScenarioError, UnknownLabelError

if TYPE_CHECKING:
    import pandas as pd

    from riskengine.dataset import Dataset
    from riskengine.report import Output
    from riskengine.scenarios import Scenario, ScenarioResult

scenario_app = typer.Typer(
    help="What-if scenarios: export bans, quotas, disruptions, new supply, demand shocks, "
    "stockpile releases and partnerships, applied to a dataset.",
    no_args_is_help=True,
)


class _Data:
    """A dataset directory loaded once; one year of it per scenario year."""

    def __init__(self, data: Path | None) -> None:
        self.data = data
        self._whole: Dataset | None = None
        self._years: dict[int, Dataset] = {}

    def dataset_for(self, scenario: Scenario) -> Dataset:
        from riskengine.cli._load import load_whole

        if scenario.year in self._years:
            return self._years[scenario.year]
        if self._whole is None:
            self._whole = load_whole(self.data)
        whole = self._whole
        if scenario.year not in whole.years:
            raise ScenarioError(
                f"{scenario.locate(('year',))}: the dataset {whole.name!r} has no year "
                f"{scenario.year}; valid: {', '.join(str(int(y)) for y in whole.years)}"
            )
        ds = whole.sel(years=scenario.year)
        self._years[scenario.year] = ds
        return ds


def load_dataset_for(scenario: Scenario, data: Path | None) -> Dataset:
    """Load the scenario's baseline year of a dataset directory (default: embedded).

    Raises
    ------
    ScenarioError
        When the dataset has no such year, naming the scenario file and line.
    """
    return _Data(data).dataset_for(scenario)


def _warn_data_gaps(ds: Dataset, scenario: Scenario) -> None:
    from riskengine.notes import warn_findings

    wanted = sorted({m for s in scenario.shocks for m in s.minerals_of() if m in ds.minerals})
    if wanted:
        warn_findings(ds.sel(minerals=wanted))


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    records = json.loads(frame.to_json(orient="records", double_precision=10))
    return list(records)


def result_json(result: ScenarioResult, table: str | None) -> str:
    """JSON of a scenario result: one table, or everything in one document."""
    if table is not None:
        return json.dumps(_records(result.to_frame(table)), indent=1)
    sc = result.scenario
    doc = {
        "scenario": {
            "name": sc.name,
            "file": sc.origin,
            "year": sc.year,
            "duration_months": sc.months,
            "hypothetical": sc.hypothetical,
            "sources": sc.sources,
        },
        "method": result.method,
        "notes": list(result.notes),
        "market": _records(result.market),
        "importers": _records(result.importers),
        "concentration": _records(result.concentration),
        "scores": _records(result.scores),
    }
    return json.dumps(doc, indent=1)


def result_output(result: ScenarioResult, table: str | None, top: int) -> Output:
    """Everything ``scenario run`` reports, for :func:`riskengine.report.write_output`.

    Tables ``scores`` (the CSV default), ``concentration``, ``importers`` and
    ``market``; JSON without ``--table`` is the whole result
    (:func:`result_json`).
    """
    from riskengine.report import Output
    from riskengine.report.text import scenario_text
    from riskengine.scenarios.result import TABLES

    sc = result.scenario
    about = {
        "command": "riskengine scenario run",
        "scenario": sc.name + (" (hypothetical)" if sc.hypothetical else ""),
        "file": sc.origin or "",
        "year": str(sc.year),
        "duration_months": f"{sc.months:g}",
        "method": result.method,
        "dataset": result.dataset,
    }
    return Output(
        tables={name: result.to_frame(name) for name in TABLES},
        text=scenario_text(result, top),
        selected=table,
        document=result_json(result, None) if table is None else None,
        notes=[*result.notes, *result.baseline.notes, *result.shocked.notes],
        sources=[*sc.sources, *result.shocked_dataset.sources],
        about=about,
        what=f"scenario {sc.name!r}",
    )


@scenario_app.command("run")
def run_command(
    file: Annotated[str, typer.Argument(help="Scenario file, or the name of a bundled one.")],
    data: DataOpt = None,
    method: Annotated[
        str, typer.Option("--method", help="Scoring method: riskengine, geopolrisk or eu.")
    ] = "riskengine",
    fmt: Annotated[str, typer.Option("--format", "-f", help=FORMAT_HELP)] = "table",
    table: Annotated[
        str | None,
        typer.Option(
            "--table",
            help="For csv, json, xlsx, parquet: scores, concentration, importers or market "
            "(csv default: scores; json: everything; xlsx, parquet: every table).",
        ),
    ] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help=OUTPUT_HELP)] = None,
    top: Annotated[int, typer.Option("--top", help="Rows per table in table format.")] = 10,
    verbose: VerboseOpt = False,
) -> None:
    """Apply a scenario to a dataset and report shortfalls, prices and score changes."""
    from riskengine.cli._output import check_top, emit, gathered
    from riskengine.dataset import default_data_dir
    from riskengine.methods import METHODS
    from riskengine.report import check_destination
    from riskengine.scenarios import load_scenario, run_scenario
    from riskengine.scenarios.result import TABLES

    if method not in METHODS:
        raise UnknownLabelError("method", [method], METHODS)
    if table is not None and table not in TABLES:
        raise UnknownLabelError("table", [table], TABLES)
    check_top(top)
    check_destination(output, fmt, [data or default_data_dir(), file])
    sc = load_scenario(file)
    with gathered(verbose) as notes:
        ds = load_dataset_for(sc, data)
        _warn_data_gaps(ds, sc)
        result = run_scenario(ds, sc, method=method)
        notes.add([*result.baseline.notes, *result.shocked.notes])
    emit(result_output(result, table, top), fmt, output, [ds.path, sc.origin, file])


@scenario_app.command("validate")
def validate_command(
    files: Annotated[list[str], typer.Argument(help="Scenario files or bundled names.")],
    data: Annotated[
        Path | None,
        typer.Option("--data", help="Dataset whose labels to check against (default: embedded)."),
    ] = None,
    format_only: Annotated[
        bool,
        typer.Option("--format-only", help="Check the file format only, not the labels."),
    ] = False,
) -> None:
    """Check scenario files: format, then minerals, countries and year against a dataset."""
    from riskengine.scenarios import load_scenario
    from riskengine.scenarios.engine import resolve

    cache = _Data(data)
    failed = 0
    for file in files:
        try:
            sc = load_scenario(file)
            if not format_only:
                resolve(cache.dataset_for(sc), sc)
        except ScenarioError as exc:
            failed += 1
            typer.echo(f"error: {exc}", err=True)
            continue
        what = "format" if format_only else "format and labels"
        typer.echo(f"ok: {sc.origin} ({len(sc.shocks)} shocks; {what} checked)")
    if failed:
        typer.echo(f"{failed} of {len(files)} scenario file(s) invalid", err=True)
        raise typer.Exit(code=1)


@scenario_app.command("list")
def list_command(
    directory: Annotated[
        Path | None,
        typer.Option("--dir", help="Folder of scenario files (default: the bundled library)."),
    ] = None,
) -> None:
    """List the scenarios of the bundled library (or of a folder)."""
    import pandas as pd

    from riskengine import report
    from riskengine.scenarios import list_scenarios, load_scenario

    rows = []
    for path in list_scenarios(directory):
        try:
            sc = load_scenario(path)
        except ScenarioError as exc:
            rows.append({"scenario": path.stem, "year": math.nan, "name": f"INVALID: {exc}"})
            continue
        kinds = sorted({s.type for s in sc.shocks})
        rows.append(
            {
                "scenario": path.stem,
                "year": sc.year,
                "shocks": len(sc.shocks),
                "types": ", ".join(kinds),
                "name": sc.name + (" (hypothetical)" if sc.hypothetical else ""),
            }
        )
    frame = pd.DataFrame(rows)
    if frame.empty:
        typer.echo("(no scenario files)")
        return
    typer.echo(
        report.text_table(
            frame,
            {"scenario": "scenario", "year": "year", "shocks": "shocks", "name": "name"},
            {"year": ".0f", "shocks": ".0f"},
        )
    )


@scenario_app.command("schema")
def schema_command(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file instead of stdout.")
    ] = None,
) -> None:
    """Print the JSON schema of scenario files (committed as scenarios/schema.json)."""
    from riskengine.cli._output import emit
    from riskengine.report import Output
    from riskengine.scenarios import json_schema

    text = json.dumps(json_schema(), indent=2, ensure_ascii=False)
    emit(Output(tables={}, text=text, what="the JSON schema"), "table", output)
