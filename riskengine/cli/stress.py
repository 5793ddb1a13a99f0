"""``riskengine sweep``, ``riskengine simulate`` and ``riskengine sensitivity``."""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer

from riskengine.cli._cluster import SchedulerOpt, WorkersOpt
from riskengine.cli._output import FORMAT_HELP, OUTPUT_HELP, VerboseOpt
from riskengine.errors import RiskEngineError, UnknownLabelError

if TYPE_CHECKING:
    import pandas as pd

    from riskengine.dataset import Dataset
    from riskengine.report import Output
    from riskengine.stress.sweeps import RankBy

_FLOAT = {
    "severity": ".0%",
    "consumption_t": ",.0f",
    "blocked_t": ",.0f",
    "withheld_t": ",.0f",
    "shortfall_t": ",.0f",
    "shortfall_pct": ".1f",
    "max_shortfall_pct": ".1f",
    "score_baseline": ".3f",
    "score_shocked": ".3f",
    "score_change": "+.3f",
    "max_score_change": "+.3f",
    "price_change_pct": "+,.1f",
    "exposure_t": ",.0f",
    "mean_shortfall_t": ",.1f",
    "mean_shortfall_pct": ".2f",
    "p_shortfall": ".1%",
    "var95_t": ",.0f",
    "es95_t": ",.0f",
    "var99_t": ",.0f",
    "es99_t": ",.0f",
    "grade_sd_t": ",.1f",
    "es95_pct": ".1f",
    "mean_price_change_pct": "+,.1f",
    "p_price_above_25pct": ".3f",
    "price_change_p95_pct": "+,.1f",
    "price_change_es95_pct": "+,.1f",
    "price_change_p99_pct": "+,.1f",
    "es99_pct": ".1f",
    "probability": ".1%",
    "mean_severity": ".2f",
    "exports_t": ",.0f",
    "value": ",.4g",
    "score": ".3f",
    "score_low": ".3f",
    "score_high": ".3f",
    "elasticity": "+.3f",
}

#: Importers below this share of a product's imports at risk are left out of the
#: simulation's table (they remain in CSV/JSON output).
MAJOR_SHARE = 0.01

DataOpt = Annotated[
    Path | None, typer.Option("--data", help="Dataset directory (default: the embedded dataset).")
]
YearOpt = Annotated[
    int | None,
    typer.Option("--year", "-y", help="Year (default: latest with production and trade)."),
]
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
        text = _sweep_text(result, importers, exporter, by, top) if fmt == "table" else ""
        about = {"command": "riskengine sweep", "year": str(chosen), "ranked_by": by}
    emit(_output(result, frames, text, table, "the sweep report", about), fmt, output, inputs)


def _sweep_text(
    result: Any, importers: list[str] | None, exporters: list[str] | None, by: str, top: int
) -> str:
    from riskengine import report

    target = f"exports to {result.target}" if result.target else "exports to all importers"
    count = len(result.bans)
    kind = "two-exporter" if result.pairs else "single-exporter"
    head = (
        f"Sweep: {count:,} {kind} ban{'s' if count != 1 else ''} "
        f"({result.severity:.0%} of {target}), "
        f"year {result.year}, method {result.method}, {result.elapsed_s:.1f} s"
    )
    parts = [head]
    ban_cols = {
        "mineral": "mineral",
        "stage": "stage",
        "exporter": "exporter",
        "affected_stage": "at stage",
        "country": "importer",
        "consumption_t": "consumption t",
        "blocked_t": "blocked t",
        "shortfall_t": "shortfall t",
        "shortfall_pct": "% of demand",
        "score_change": "score change",
    }
    label = {
        "shortfall_pct": "shortfall as % of demand",
        "shortfall_t": "shortfall in tonnes",
        "score_change": "score increase",
        "blocked_t": "tonnes blocked",
    }
    if importers:
        for country in importers:
            for measure in dict.fromkeys([by, "score_change"]):
                rows = result.ranking(by=measure, top=top, importers=[country])
                parts.append(
                    report.text_table(
                        rows,
                        {"rank": "#", **{k: v for k, v in ban_cols.items() if k != "country"}},
                        _FLOAT,
                        title=f"Bans that hurt {country} most ({label[measure]})",
                    )
                )
    # a pair sweep restricted to --exporter holds only pairs with them: shown as a whole
    if exporters and not result.pairs:
        for country in exporters:
            rows = result.exposure(by=by, top=top, exporters=[country])
            parts.append(
                report.text_table(
                    rows,
                    {"rank": "#", **{k: v for k, v in ban_cols.items() if k != "exporter"}},
                    _FLOAT,
                    title=f"Importers {country} could hurt most ({label[by]}; worst ban each)",
                )
            )
    if not importers and (not exporters or result.pairs):
        floor = "importers with >= 1% of world consumption at the stage"
        parts.append(
            report.text_table(
                result.worst(by, top),
                ban_cols,
                _FLOAT,
                title=f"Worst {'two-exporter' if result.pairs else 'single'} bans for one "
                f"importer ({label[by]}; {floor})",
            )
        )
        if by != "score_change":
            parts.append(
                report.text_table(
                    result.worst("score_change", top),
                    ban_cols,
                    _FLOAT,
                    title=f"Largest score increases from one ban ({floor})",
                )
            )
        bans = result.bans.sort_values(
            ["importers_short", "max_shortfall_pct"], ascending=False
        ).head(top)
        parts.append(
            report.text_table(
                bans,
                {
                    "mineral": "mineral",
                    "stage": "stage",
                    "exporter": "exporter",
                    "blocked_t": "blocked t",
                    "withheld_t": "withheld t",
                    "importers_short": "importers short",
                    "max_shortfall_pct": "worst % of demand",
                    "price_change_pct": "price %",
                },
                _FLOAT,
                title="Bans that leave the most importers short",
            )
        )
        parts.append(
            "Use --importer ISO3 for the bans that hurt one importer most, --exporter ISO3 for "
            "the importers one exporter could hurt most, --format csv for every row."
        )
    if result.notes:
        parts.append("Notes:\n" + "\n".join(f"  - {n}" for n in result.notes))
    return "\n\n".join(parts)


# ---------------------------------------------------------------- simulate
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
        int, typer.Option("--batch-size", help="Draws evaluated together (memory).")
    ] = 1000,
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
    from riskengine.stress.montecarlo import THRESHOLDS, SimulationResult, simulate

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
                batch_size=batch_size,
                grades=grades,
                progress=progress,
                client=client if client is not None else False,
                market=market,
            )
        names = needed(
            fmt,
            table,
            [t for t in result.TABLES if (t != "grades" or grades) and (t != "prices" or market)],
        )
        text = _simulate_text(result, by, max_reexport, grades, top) if fmt == "table" else ""
        about = {"command": "riskengine simulate", "year": str(chosen), "seed": str(result.seed)}
        frames = {name: result.to_frame(name) for name in names}
        out = _output(result, frames, text, table, "the simulation report", about)
    emit(out, fmt, output, inputs)


def _simulate_text(result: Any, by: str, max_reexport: float, grades: bool, top: int) -> str:
    """Render the table view of ``simulate``: the largest risks of the importers that matter."""
    from riskengine import report

    summary = result.summary
    market = bool(result.params.get("market"))
    # first-order draws overstate a re-exporter's shortfall (no pass-through to its
    # buyers): those series are hidden; with the market response they are right
    hubs = (summary["reexport_share"] > max_reexport) & (not market)
    world = summary.groupby(["mineral", "stage"])["exposure_t"].transform("sum")
    minor = summary["exposure_t"] < MAJOR_SHARE * world
    shown = result.top(len(summary), by=by)
    keep = ~hubs.reindex(shown.index) & ~minor.reindex(shown.index)
    shown = shown[keep].head(top).copy()
    c = shown["consumption_t"].astype(float)
    for tag in ("95", "99"):
        shown[f"es{tag}_pct"] = (100.0 * shown[f"es{tag}_t"] / c).where(c > 0)
    cols = {
        "mineral": "mineral",
        "stage": "stage",
        "country": "importer",
        "consumption_t": "consumption t",
        "exposure_t": "at risk t",
        "mean_shortfall_t": "mean t",
        "p_shortfall": "P(short)",
        "var95_t": "VaR95 t",
        "es95_t": "ES95 t",
        "var99_t": "VaR99 t",
        "es99_t": "ES99 t",
        "es95_pct": "ES95 %",
    }
    if grades:
        cols["grade_sd_t"] = "grade sd t"
    head = (
        f"Monte Carlo: {result.n:,} draws, seed {result.seed}, year {result.year}, "
        f"{len(result.cells):,} exporter/mineral pairs at risk, "
        f"{result.draws_per_s:,.0f} draws/s"
    )
    body = report.text_table(
        shown, cols, _FLOAT, title=f"Largest risks ({by}); tonnes per year as recorded"
    )
    se = shown[["mean_shortfall_se_t", "es95_se_t"]]
    worst_rel = float(
        (se["es95_se_t"] / shown["es95_t"].where(shown["es95_t"] > 0)).max(skipna=True)
    )
    notes = []
    if math.isfinite(worst_rel):
        notes.append(
            f"Monte Carlo standard errors are in --format csv/json (*_se columns); the "
            f"largest relative error of ES95 above is {worst_rel:.1%}."
        )
    notes.append(
        f"Shown: importers with at least {MAJOR_SHARE:.0%} of the imports at risk of a "
        f"mineral and stage; --format csv/json has every importer."
    )
    if hubs.any():
        notes.append(
            f"{int(hubs.sum())} importer/mineral/stage series re-export more than "
            f"{max_reexport:.0%} of their supply and are not shown (a draw has no pass-through "
            f"to their buyers, so their shortfall is overstated); --max-reexport 1 shows them."
        )
    if grades:
        notes.extend(result.notes)
    parts = [head, body]
    if market and len(result.prices):
        prices = result.prices.sort_values("mean_price_change_pct", ascending=False).head(top)
        parts.append(
            report.text_table(
                prices,
                {
                    "mineral": "mineral",
                    "stage": "stage",
                    "mean_price_change_pct": "mean %",
                    "p_price_above_25pct": "P(> +25 %)",
                    "price_change_p95_pct": "P95 %",
                    "price_change_es95_pct": "ES95 %",
                    "price_change_p99_pct": "P99 %",
                },
                _FLOAT,
                title="Outside price change (two-region model, a year's horizon); "
                "--table prices has every mineral and stage",
            )
        )
    return "\n\n".join([*parts, *notes])


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
            )
        text = _sensitivity_text(result, ds, country or [], top) if fmt == "table" else ""
        frame = pd.concat([result.table, result.prices], ignore_index=True)
        about = {"command": "riskengine sensitivity", "year": str(chosen), "step": f"{step:g}"}
        out = _output(result, {"sensitivity": frame}, text, None, "the sensitivity report", about)
    emit(out, fmt, output, paths)


def _sensitivity_text(result: Any, ds: Dataset, country: list[str], top: int) -> str:
    """Render the table view of ``sensitivity``: a tornado table per score of the countries."""
    method, chosen, step = result.method, result.year, result.step
    parts = [
        f"Sensitivity ({method}, {chosen}): each input moved by -{step:.0%} and +{step:.0%} "
        f"of itself; elasticity = % change of the score per % change of the input "
        f"(governance: of its risk weight 2.5 - WGI)"
    ]
    table = result.table

    wanted = ds.resolve_countries(country, regions=True) or []
    keys = (
        table[table["country"].isin(wanted)][["mineral", "stage", "country"]]
        .drop_duplicates()
        .itertuples(index=False)
    )
    shown = 0
    for m, s, c in keys:
        rows = result.tornado(m, c, s, top=top)
        parts.append(_tornado_text(rows, f"{m} / {s} / {c}", step))
        shown += 1
    if not shown:
        parts.append("(no score of these countries depends on the perturbed inputs)")
    if not result.prices.empty:
        parts.append(_tornado_text(result.prices, "scenario price change (%)", step))
    return "\n\n".join(parts)


def _tornado_text(rows: pd.DataFrame, title: str, step: float, width: int = 16) -> str:
    """Rows of one score as a text tornado: a bar left or right of the baseline."""
    from riskengine import report

    base = float(rows["score"].iloc[0])
    lo_dev = rows[["score_low", "score_high"]].min(axis=1) - rows["score"]
    hi_dev = rows[["score_low", "score_high"]].max(axis=1) - rows["score"]
    scale = float(max(lo_dev.abs().max(), hi_dev.abs().max())) or 1.0
    bars = []
    for lo, hi in zip(lo_dev, hi_dev, strict=True):
        left = "#" * round(width * max(-lo, 0.0) / scale)
        right = "#" * round(width * max(hi, 0.0) / scale)
        bars.append(f"{left:>{width}}|{right:<{width}}")
    # content rows sit at the ends of the product's range, the others at -/+ step
    ranges = [
        f" [{lo:.3g}-{hi:.3g}]" if kind == "content" else ""
        for kind, lo, hi in rows[["kind", "input_low", "input_high"]].itertuples(index=False)
    ]
    frame = rows.assign(
        what=[f"{k} {i}" + (f" ({s})" if s else "") + r for (k, i, s), r in zip(rows[
            ["kind", "input", "input_stage"]
        ].itertuples(index=False), ranges, strict=True)],
        bar=bars,
    )  # fmt: skip
    return report.text_table(
        frame,
        {
            "what": "input",
            "value": "value",
            "score_low": f"at low (-{step:.0%})",
            "score_high": f"at high (+{step:.0%})",
            "elasticity": "elasticity",
            "bar": "lower  <  score  >  higher",
        },
        _FLOAT,
        title=f"{title}: {base:.3f}",
    )
