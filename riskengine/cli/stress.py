"""``riskengine sweep``, ``riskengine simulate`` and ``riskengine sensitivity``."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer

from riskengine.cli._cluster import JobsOpt, SchedulerOpt, WorkersOpt
from riskengine.cli._output import FORMAT_HELP, OUTPUT_HELP, DataOpt, VerboseOpt, YearOpt
from riskengine.errors import RiskEngineError, UnknownLabelError

if TYPE_CHECKING:
    import pandas as pd

    from riskengine.dataset import Dataset
    from riskengine.report import Output
    from riskengine.stress.sweeps import RankBy


MineralOpt = Annotated[
    list[str] | None,
    typer.Option("--mineral", "-m", help="Mineral id; repeat for several (default: all)."),
]
StageOpt = Annotated[
    str | None,
    typer.Option(
        "--stage", "-s", help="mining, intermediate, refining or component (default: all)."
    ),
]
MethodOpt = Annotated[
    str, typer.Option("--method", help="Scoring method: riskengine, geopolrisk or eu.")
]
FormatOpt = Annotated[str, typer.Option("--format", "-f", help=FORMAT_HELP)]
OutputOpt = Annotated[Path | None, typer.Option("--output", "-o", help=OUTPUT_HELP)]
TopOpt = Annotated[int, typer.Option("--top", help="Rows per table in table format.")]


# ----------------------------------------------------------------- helpers
def _inputs(data: Path | None, *others: Path | str | None) -> list[Path | str | None]:
    """Return the input paths an output must not overwrite: the dataset, the files named."""
    from riskengine.dataset import default_data_dir

    return [data or default_data_dir(), *others]


def _load(data: Path | None, year: int | None) -> tuple[Dataset, int]:
    """Load a dataset directory, keeping one year (the latest with production and trade)."""
    from riskengine.cli._load import load_whole
    from riskengine.notes import warn_findings

    whole = load_whole(data)
    chosen = whole.latest_year() if year is None else year
    ds = whole.sel(years=chosen)
    warn_findings(ds)
    return ds, chosen


def _check_common(
    method: str | None,
    fmt: str,
    top: int,
    output: Path | None,
    inputs: list[Path | str | None],
) -> None:
    """Check the method, ``--top``, the format and the output path before any work."""
    from riskengine.cli._output import check_top
    from riskengine.methods import METHODS
    from riskengine.report import check_destination

    if method is not None and method not in METHODS:
        raise UnknownLabelError("method", [method], METHODS)
    check_destination(output, fmt, inputs)
    check_top(top)


def _output(
    result: Any,
    tables: dict[str, pd.DataFrame],
    text: str,
    selected: str | None,
    what: str,
    about: dict[str, str],
) -> Output:
    """Gather what a stress command reports, for :func:`riskengine.report.write_output`."""
    from riskengine.report import Output

    return Output(
        tables=tables,
        text=text,
        selected=selected,
        notes=result.notes,
        about={"dataset": result.dataset, "method": result.method, **about},
        what=what,
    )


@contextmanager
def _progress(label: str) -> Iterator[Callable[[int, int], None]]:
    """Yield a callback ``(done, total)`` that draws a progress bar on stderr.

    The bar is created at the first call, when the total is known; click
    hides it when stderr is not a terminal.
    """
    state: dict[str, Any] = {}

    def update(done: int, total: int) -> None:
        if "bar" not in state:
            state["ctx"] = typer.progressbar(length=max(total, 1), label=label, file=sys.stderr)
            state["bar"] = state["ctx"].__enter__()
            state["done"] = 0
        state["bar"].update(max(done - state["done"], 0))
        state["done"] = done

    try:
        yield update
    finally:
        if "ctx" in state:
            state["ctx"].__exit__(None, None, None)


# ------------------------------------------------------------------- sweep
def sweep_command(
    data: DataOpt = None,
    year: YearOpt = None,
    mineral: MineralOpt = None,
    stage: StageOpt = None,
    exporter: Annotated[
        list[str] | None,
        typer.Option(
            "--exporter", "-e", help="Banning exporter; repeat for several (default: all)."
        ),
    ] = None,
    target: Annotated[
        str | None,
        typer.Option("--target", "-t", help="Ban exports to this importer only (default: all)."),
    ] = None,
    severity: Annotated[
        float, typer.Option("--severity", help="Fraction of the banned flows stopped, 0-1.")
    ] = 1.0,
    deflection: Annotated[
        float,
        typer.Option("--deflection", help="Share of a targeted ban's volume offered elsewhere."),
    ] = 1.0,
    method: MethodOpt = "riskengine",
    importer: Annotated[
        list[str] | None,
        typer.Option(
            "--importer", "-c", help="Show the bans that hurt this importer most; repeat."
        ),
    ] = None,
    by: Annotated[
        str,
        typer.Option(
            "--by", help="Rank by shortfall_pct (default), shortfall_t, score_change or blocked_t."
        ),
    ] = "shortfall_pct",
    fmt: FormatOpt = "table",
    table: Annotated[
        str | None,
        typer.Option(
            "--table",
            help="For csv, json, xlsx, parquet: impacts, bans, market, ranking or exposure "
            "(csv, json default: impacts; xlsx, parquet: every table).",
        ),
    ] = None,
    output: OutputOpt = None,
    top: TopOpt = 10,
    verbose: VerboseOpt = False,
    pairs: Annotated[
        bool,
        typer.Option(
            "--pairs", help="Ban every two exporters of a mineral together (N-2) instead of one."
        ),
    ] = False,
    scheduler: SchedulerOpt = None,
    workers: WorkersOpt = None,
    jobs: JobsOpt = None,
) -> None:
    """Evaluate every single-exporter export ban at once and rank what hurts most.

    For each exporter, mineral and stage (optionally only bans on one target
    importer) the ban is evaluated as the scenario engine would: tonnes
    blocked, shortfall after deflection and pass-through, price, and the change
    of the method's score. The table shows, per importer, the bans that hurt it
    most and, per exporter, the importers it could hurt most. --pairs bans every
    two exporters of a mineral together instead, on all importers.
    """
    from riskengine.cli._output import emit, gathered, needed
    from riskengine.cluster import connect
    from riskengine.stress.sweeps import RANK_BY, sweep

    inputs = _inputs(data)
    _check_common(method, fmt, top, output, inputs)
    if by not in RANK_BY:
        raise UnknownLabelError("ranking measure", [by], RANK_BY)
    tables = ("impacts", "bans", "market", "ranking", "exposure")
    if table is not None and table not in tables:
        raise UnknownLabelError("table", [table], tables)
    with gathered(verbose):
        ds, chosen = _load(data, year)
        importers = ds.resolve_countries(importer, regions=True) if importer else None
        with (
            connect(scheduler, workers, "riskengine sweep") as client,
            _progress("sweeping bans") as progress,
        ):
            result = sweep(
                ds,
                year=chosen,
                minerals=mineral,
                stages=[stage] if stage else None,
                exporters=exporter,
                target=target,
                severity=severity,
                method=method,
                market={"deflection": deflection},
                progress=progress,
                pairs=pairs,
                client=client if client is not None else False,
                jobs=jobs,
            )
        rank_by = cast("RankBy", by)
        frames = {}
        for name in needed(fmt, table, tables):
            if name == "ranking":
                ranked = top if importer else None
                frames[name] = result.ranking(by=rank_by, top=ranked, importers=importers)
            elif name == "exposure":
                ranked = top if exporter else None
                frames[name] = result.exposure(by=rank_by, top=ranked, exporters=exporter)
            else:
                frames[name] = result.to_frame(name)
        from riskengine.report.stress_text import sweep_text

        text = sweep_text(result, importers, exporter, by, top) if fmt == "table" else ""
        about = {"command": "riskengine sweep", "year": str(chosen), "ranked_by": by}
    emit(_output(result, frames, text, table, "the sweep report", about), fmt, output, inputs)


def simulate_command(
    data: DataOpt = None,
    year: YearOpt = None,
    mineral: MineralOpt = None,
    stage: StageOpt = None,
    n: Annotated[int, typer.Option("--n", "-n", help="Number of draws.")] = 10_000,
    seed: Annotated[
        int | None, typer.Option("--seed", help="Seed (default: a random one, printed).")
    ] = None,
    model: Annotated[
        Path | None,
        typer.Option("--model", help="Disruption model file (YAML); see docs/stress.md."),
    ] = None,
    probability: Annotated[
        float | None,
        typer.Option("--probability", help="One disruption probability for every exporter."),
    ] = None,
    severity: Annotated[
        float | None, typer.Option("--severity", help="A fixed severity instead of Beta(2, 3).")
    ] = None,
    importer: Annotated[
        list[str] | None,
        typer.Option("--importer", "-c", help="Track these importers only; repeat."),
    ] = None,
    threshold: Annotated[
        list[float] | None,
        typer.Option(
            "--threshold", help="Shortfall threshold as a fraction of consumption; repeat."
        ),
    ] = None,
    batch_size: Annotated[
        int | None,
        typer.Option(
            "--batch-size",
            help="Draws evaluated together (memory), rounded up to whole blocks of "
            "random numbers; default one block.",
        ),
    ] = None,
    jobs: JobsOpt = None,
    grades: Annotated[
        bool,
        typer.Option(
            "--grades/--no-grades",
            help="Also draw each product's content fraction, triangular(low, central, high), "
            "once per draw (docs/stress.md).",
        ),
    ] = False,
    market: Annotated[
        bool,
        typer.Option(
            "--market/--no-market",
            help="Run the market response in every draw: pass-through by re-exporters, lost "
            "ore and intermediates cutting refined output, the outside price (prices table). "
            "--no-market: the first-order loss only (needed with --grades).",
        ),
    ] = True,
    by: Annotated[
        str, typer.Option("--by", help="Sort the table by this column (es95_pct, mean_...).")
    ] = "es95_pct",
    max_reexport: Annotated[
        float,
        typer.Option(
            "--max-reexport",
            help="Table only, with --no-market: hide importers re-exporting more than this "
            "share of their supply (their first-order shortfall is overstated).",
        ),
    ] = 0.5,
    fmt: FormatOpt = "table",
    table: Annotated[
        str | None,
        typer.Option(
            "--table",
            help="For csv, json, xlsx, parquet: summary, prices, cells or grades (csv, json "
            "default: summary; xlsx, parquet: every table).",
        ),
    ] = None,
    output: OutputOpt = None,
    top: TopOpt = 10,
    verbose: VerboseOpt = False,
    scheduler: SchedulerOpt = None,
    workers: WorkersOpt = None,
) -> None:
    """Monte Carlo distribution of shortfalls under random export disruptions.

    Each draw disrupts exporters with probabilities derived from governance
    (WGI political stability, logistic; see docs/stress.md) and a random
    severity. Reports, per importer, mineral and stage, the mean shortfall,
    the probability of a shortfall above thresholds, 95 % and 99 % value-at-risk
    and expected shortfall, with Monte Carlo standard errors.
    """
    from riskengine.cli._output import emit, gathered, needed
    from riskengine.cluster import connect
    from riskengine.stress.montecarlo import (
        DEFAULT_BATCH,
        THRESHOLDS,
        SimulationResult,
        simulate,
    )

    inputs = _inputs(data, model)
    _check_common(None, fmt, top, output, inputs)
    if table is not None and table not in SimulationResult.TABLES:
        raise UnknownLabelError("table", [table], SimulationResult.TABLES)
    with gathered(verbose):
        ds, chosen = _load(data, year)
        with (
            connect(scheduler, workers, "riskengine simulate") as client,
            _progress("simulating") as progress,
        ):
            result = simulate(
                ds,
                n=n,
                seed=seed,
                year=chosen,
                minerals=mineral,
                stages=[stage] if stage else None,
                importers=importer,
                model=model,
                probability=probability,
                severity=severity,
                thresholds=tuple(threshold) if threshold else THRESHOLDS,
                batch_size=DEFAULT_BATCH if batch_size is None else batch_size,
                grades=grades,
                progress=progress,
                client=client if client is not None else False,
                market=market,
                jobs=jobs,
            )
        names = needed(
            fmt,
            table,
            [t for t in result.TABLES if (t != "grades" or grades) and (t != "prices" or market)],
        )
        from riskengine.report.stress_text import simulate_text

        text = simulate_text(result, by, max_reexport, grades, top) if fmt == "table" else ""
        about = {"command": "riskengine simulate", "year": str(chosen), "seed": str(result.seed)}
        frames = {name: result.to_frame(name) for name in names}
        out = _output(result, frames, text, table, "the simulation report", about)
    emit(out, fmt, output, inputs)


# ------------------------------------------------------------- sensitivity
def sensitivity_command(
    data: DataOpt = None,
    year: YearOpt = None,
    mineral: MineralOpt = None,
    stage: StageOpt = None,
    country: Annotated[
        list[str] | None,
        typer.Option("--country", "-c", help="Scored country or region; repeat for several."),
    ] = None,
    method: MethodOpt = "riskengine",
    step: Annotated[
        float, typer.Option("--step", help="Relative perturbation of each input (0.1 = 10 %).")
    ] = 0.1,
    inputs: Annotated[
        list[str] | None,
        typer.Option(
            "--input",
            help="Input kind: governance, production, flow, parameter, content; repeat.",
        ),
    ] = None,
    scenario: Annotated[
        str | None,
        typer.Option(
            "--scenario", help="Also the price change of this scenario vs eta, deflection."
        ),
    ] = None,
    fmt: FormatOpt = "table",
    output: OutputOpt = None,
    top: TopOpt = 10,
    verbose: VerboseOpt = False,
    scheduler: SchedulerOpt = None,
    workers: WorkersOpt = None,
    jobs: JobsOpt = None,
) -> None:
    """One-at-a-time sensitivity of scores to their inputs, as tornado tables.

    Every input (a country's governance, production, one trade flow, a method
    parameter) is moved by -step and +step of itself; the table shows, for each
    score of the chosen countries, the inputs that move it most.
    """
    import pandas as pd

    from riskengine.cli._output import emit, gathered
    from riskengine.cluster import connect
    from riskengine.stress.sensitivities import INPUT_KINDS, sensitivity

    paths = _inputs(data, scenario)
    _check_common(method, fmt, top, output, paths)
    if fmt == "table" and not country:
        raise RiskEngineError(
            "give at least one --country for the tornado tables (or --format csv/json for "
            "every score)"
        )
    with gathered(verbose):
        ds, chosen = _load(data, year)
        minerals = mineral or [str(m) for m in ds.minerals]
        with (
            connect(scheduler, workers, "riskengine sensitivity") as client,
            _progress("perturbing inputs") as progress,
        ):
            result = sensitivity(
                ds,
                minerals=minerals,
                countries=country,
                stages=[stage] if stage else None,
                year=chosen,
                method=method,
                step=step,
                inputs=inputs or INPUT_KINDS,
                scenario=scenario,
                progress=progress,
                client=client if client is not None else False,
                jobs=jobs,
            )
        from riskengine.report.stress_text import sensitivity_text

        text = sensitivity_text(result, ds, country or [], top) if fmt == "table" else ""
        frame = pd.concat([result.table, result.prices], ignore_index=True)
        about = {"command": "riskengine sensitivity", "year": str(chosen), "step": f"{step:g}"}
        out = _output(result, {"sensitivity": frame}, text, None, "the sensitivity report", about)
    emit(out, fmt, output, paths)
