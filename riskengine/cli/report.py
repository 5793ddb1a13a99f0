"""``riskengine report``: one self-contained HTML dossier of a country, a mineral or a scenario."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer

from riskengine.cli._output import DataOpt, YearOpt
from riskengine.errors import RiskEngineError


def report_command(
    country: Annotated[
        str | None,
        typer.Option("--country", "-c", help="Country (ISO3 or name) or region (EU27) dossier."),
    ] = None,
    mineral: Annotated[
        list[str] | None,
        typer.Option(
            "--mineral",
            "-m",
            help="Mineral dossier; with --country, the minerals its dossier covers (repeat).",
        ),
    ] = None,
    scenario: Annotated[
        str | None,
        typer.Option("--scenario", help="Scenario dossier: a scenario file or bundled name."),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="HTML file to write (default: <subject>.html)."),
    ] = None,
    data: DataOpt = None,
    year: YearOpt = None,
    method: Annotated[
        str, typer.Option("--method", help="Scenario dossier: riskengine, geopolrisk or eu.")
    ] = "riskengine",
    sweep: Annotated[
        bool,
        typer.Option("--sweep/--no-sweep", help="Country dossier: run the ban sweep (slowest)."),
    ] = True,
) -> None:
    """Write an HTML dossier with charts, their tables and sources; it opens offline.

    --country: each mineral the country imports, from mine through refinery to
    it, its suppliers, concentration, risk factors and worst single bans (for
    EU27 also the Critical Raw Materials Act test). --mineral: world production
    maps, concentration, exporters, importers and their buyers. --scenario:
    shortfalls, prices and scores before and after.
    """
    from riskengine.cli._load import load_whole
    from riskengine.dataset import default_data_dir
    from riskengine.io.atomic import check_output, write_text
    from riskengine.report import dossier

    subjects = [name for name, given in (("--country", country), ("--scenario", scenario)) if given]
    if mineral and not country:
        subjects.append("--mineral")
    if len(subjects) != 1:
        raise RiskEngineError(
            "name one subject: --country CODE (optionally with --mineral), --mineral ID or "
            f"--scenario NAME; got {' and '.join(subjects) or 'none'}"
        )
    if scenario is not None and year is not None:
        raise RiskEngineError("a scenario dossier is in the scenario's year; drop --year")
    if scenario is None and method != "riskengine":
        raise RiskEngineError("--method applies to a scenario dossier only")
    if country is None and scenario is None and len(mineral or []) != 1:
        raise RiskEngineError("a mineral dossier covers one mineral; pass --mineral once")
    subject = country or scenario or (mineral or [""])[0]
    target = output or Path(re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(subject).stem).lower() + ".html")
    inputs: list[Path | str | None] = [data or default_data_dir(), scenario]
    if scenario is not None:
        from riskengine.scenarios import find_scenario

        inputs.append(find_scenario(scenario))
    check_output(target, inputs)
    whole = load_whole(data)

    def progress(line: str) -> None:
        typer.echo(line, err=True)

    if scenario is not None:
        doc = dossier.scenario_dossier(whole, scenario, method=method)
    elif country is not None:
        doc = dossier.country_dossier(
            whole, country, year=year, minerals=mineral, sweep=sweep, progress=progress
        )
    else:
        doc = dossier.mineral_dossier(whole, subject, year=year)
    text = doc.to_html()
    write_text(target, text)
    typer.echo(
        f"wrote {target} ({len(doc.charts)} charts, {len(text.encode()) / 1e6:.1f} MB; "
        f"{len(doc.notes)} note(s) inside)",
        err=True,
    )
