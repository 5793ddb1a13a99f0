"""``riskengine data``: import official releases, validate and describe datasets."""

from __future__ import annotations

import tempfile
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from riskengine.cli._cluster import SchedulerOpt, WorkersOpt
from riskengine.cli._output import FORMAT_HELP, OUTPUT_HELP
from riskengine.errors import DataError, RiskEngineError, UnknownLabelError

if TYPE_CHECKING:
    import pandas as pd
    from distributed import Client

data_app = typer.Typer(
    help="Import official releases into a dataset directory, validate it, summarise it.",
    no_args_is_help=True,
)

#: Source kinds ``riskengine data import`` understands.
SOURCES: tuple[str, ...] = ("usgs-mcs", "iea", "baci", "wgi", "canonical")

#: Tables merged by the release precedence rule (riskengine.io.precedence): the
#: columns of one published table, one publication standing per table.
_PRECEDENCE_GROUPS: dict[str, tuple[str, ...]] = {
    "production": ("mineral", "stage", "year"),
    "outlook": ("mineral", "stage", "year", "scenario"),
}


def _parse_years(text: str | None) -> list[int] | None:
    """``"2018-2024"`` or ``"2022,2023"`` to a list of years."""
    if not text:
        return None
    years: list[int] = []
    try:
        for part in text.split(","):
            if "-" in part:
                lo, hi = (int(p) for p in part.split("-", 1))
                if hi < lo:
                    raise ValueError
                years.extend(range(lo, hi + 1))
            else:
                years.append(int(part))
    except ValueError as exc:
        raise RiskEngineError(
            f"--years: cannot read {text!r}; write a range such as 2018-2024 or a list "
            f"such as 2022,2023"
        ) from exc
    return years


def fetch(source: str, workdir: Path) -> Path:
    """Return a local path for ``source``, downloading URLs with a progress bar.

    Zip archives (downloaded or local) are extracted into ``workdir``. Downloads
    have a connect/read timeout and a byte cap, archives are checked member by
    member before extraction (:mod:`riskengine.io.bounded`; the limits are raised
    with ``RISKENGINE_DOWNLOAD_TIMEOUT``, ``RISKENGINE_MAX_DOWNLOAD_BYTES`` and
    ``RISKENGINE_MAX_UNZIPPED_BYTES``); partial files are removed on any error,
    SIGINT or SIGTERM.
    """
    from riskengine.io.bounded import download, extract_zip

    if "://" in source:
        name = source.rstrip("/").rsplit("/", 1)[-1] or "download"
        path = download(
            source,
            workdir / name,
            progress=lambda total: typer.progressbar(
                length=total or 0, label=f"downloading {name}", file=None
            ),
        )
    else:
        path = Path(source)
        if not path.exists():
            raise DataError(f"{path} does not exist; pass the release's file or directory")
    # an xlsx workbook is a zip archive too, but is read as it is
    if path.is_file() and path.suffix.lower() != ".xlsx" and zipfile.is_zipfile(path):
        extract = extract_zip(path, workdir / (path.stem + "_unzipped"))
        entries = list(extract.iterdir())
        return entries[0] if len(entries) == 1 else extract
    return path


def _merge(new: pd.DataFrame, directory: Path, name: str) -> tuple[pd.DataFrame, list[str]]:
    """Combine ``new`` with the table already in ``directory``.

    Production and outlook follow the release precedence of
    :mod:`riskengine.io.precedence` (one publication per table, the newer
    release and the USGS before the IEA) and report what was replaced or kept;
    other tables: new rows win on the key.
    """
    import pandas as pd

    from riskengine.io.canonical import SCHEMAS, find_table, read_table

    existing_path = find_table(directory, name)
    if existing_path is None:
        return new, []
    schema = SCHEMAS[name]
    old, problems = read_table(existing_path, schema)
    if problems:
        raise DataError(f"cannot merge into {existing_path}: it is invalid", problems)
    if name in _PRECEDENCE_GROUPS:
        from riskengine.io.precedence import merge_production

        merged = merge_production(old, new, group=_PRECEDENCE_GROUPS[name], key=schema.key)
        return merged.table, [f"{name}: {r.message()}" for r in merged.replacements]
    combined = pd.concat([old, new], ignore_index=True)
    key = [k for k in schema.key if k in combined.columns]
    # an empty optional key cell (no product named) is read back as "", a new row may
    # hold NaN: both mean "none", and must match
    text_keys = [c.name for c in schema.columns if c.name in key and c.kind == "str"]
    matched = combined.assign(**{k: combined[k].fillna("") for k in text_keys})
    return combined[~matched.duplicated(key, keep="last")], []


@data_app.command("import")
def import_command(
    kind: Annotated[
        str, typer.Argument(help="Source kind: usgs-mcs, iea, baci, wgi or canonical.")
    ],
    source: Annotated[
        str, typer.Argument(help="Release file, directory, zip archive or download URL.")
    ],
    into: Annotated[Path, typer.Option("--into", help="Dataset directory to write.")],
    years: Annotated[
        str | None, typer.Option("--years", help="Years to import, e.g. 2018-2024 (default all).")
    ] = None,
    replace: Annotated[
        bool,
        typer.Option(
            "--replace",
            help="Overwrite the tables in DIR instead of merging (rows of the new import win).",
        ),
    ] = False,
    compress: Annotated[bool, typer.Option("--compress", help="Write .csv.gz tables.")] = False,
    scheduler: SchedulerOpt = None,
    workers: WorkersOpt = None,
) -> None:
    """Import an official release into a canonical dataset directory.

    usgs-mcs reads the MCS single CSV (2026 layout), the MCS 2025 world table or a
    per-commodity release directory (2023, 2024); iea the IEA Critical Minerals
    Data Explorer workbook (production and outlook.csv); baci a directory of
    BACI_HS*_Y*_V*.csv files (--workers/--scheduler read them in parallel, one
    yearly file per task); wgi the World Bank WGI bulk CSV; canonical merges
    another dataset directory. Production merges table by table: the newer
    release wins, the USGS before the IEA, and what was replaced is reported.
    """
    if kind not in SOURCES:
        raise UnknownLabelError("source kind", [kind], SOURCES)
    if kind != "baci" and (scheduler is not None or workers is not None):
        raise RiskEngineError(
            f"--scheduler and --workers apply to the baci import (yearly files read in "
            f"parallel); the {kind} import reads one file: drop them"
        )
    wanted = _parse_years(years)
    from riskengine.cluster import connect
    from riskengine.io.bounded import terminate_as_error

    # SIGTERM anywhere in the import (download, reading, staging) is an error:
    # temporary files are removed and the dataset is left as before (or, once the
    # commit journal is written, finished by the next reader or writer)
    with terminate_as_error(f"the {kind} import"):
        with tempfile.TemporaryDirectory() as tmp:
            path = fetch(source, Path(tmp))
            with connect(scheduler, workers, "riskengine data import") as client:
                tables, report = _read(kind, path, wanted, client)
        from riskengine.io.atomic import Transaction, dataset_lock
        from riskengine.io.canonical import write_table

        written: list[str] = []
        # merged with what is in DIR under its lock, staged, then committed all or none
        with dataset_lock(into):
            tx = Transaction(into)
            try:
                for name, table in tables.items():
                    if not replace:
                        table, merged = _merge(table, into, name)
                        report += merged
                    if table.empty:
                        raise DataError(
                            f"the {kind} import{f' of --years {years}' if years else ''} leaves "
                            f"{name} in {into} empty; nothing was written: choose years the "
                            f"release covers{', or drop --replace' if replace else ''}"
                        )
                    path = write_table(table, into, name, compress=compress, transaction=tx)
                    written.append(f"wrote {len(table):,} rows to {path}")
            except BaseException:
                tx.discard()
                raise
            tx.commit()
    for line in written + report:
        typer.echo(line, err=True)


def _read(
    kind: str, path: Path, years: list[int] | None, client: Client | None = None
) -> tuple[dict[str, pd.DataFrame], list[str]]:
    report: list[str] = []
    if kind == "usgs-mcs":
        from riskengine.io.usgs import read_usgs_mcs

        res = read_usgs_mcs(path)
        prod = res.production
        if years is not None:
            prod = prod[prod["year"].isin(years)]
        if res.unmatched_countries:
            report.append(f"unmatched country names: {', '.join(res.unmatched_countries)}")
        report += [f"skipped: {s}" for s in res.skipped]
        report += [f"note: {n}" for n in res.notes]
        return {"production": prod}, report
    if kind == "iea":
        from riskengine.io.iea import read_iea_explorer

        iea = read_iea_explorer(path)
        prod, outlook = iea.production, iea.outlook
        if years is not None:
            prod = prod[prod["year"].isin(years)]
            outlook = outlook[outlook["year"].isin(years)]
        report.append(
            f"read {len(iea.production):,} observed and {len(iea.outlook):,} projected figures "
            f"from {iea.citation}"
        )
        report += [f"skipped: {s}" for s in iea.skipped]
        report += [f"note: {n}" for n in iea.notes]
        # --years without a projected year leaves outlook.csv as it is
        return {"production": prod, **({"outlook": outlook} if len(outlook) else {})}, report
    if kind == "baci":
        from riskengine.cli.stress import _progress
        from riskengine.io.baci import read_baci

        with _progress("reading BACI files") as progress:
            baci = read_baci(
                path,
                years=years,
                progress=progress,
                client=client if client is not None else False,
            )
        report.append(
            f"read {baci.rows_read:,} BACI rows from {len(baci.files)} file(s); "
            f"{baci.missing_quantity_rows:,} without a quantity"
        )
        if len(baci.unmatched_codes):
            report.append(
                "unmatched country codes (rows left out): "
                + ", ".join(map(str, baci.unmatched_codes["m49"]))
            )
        if len(baci.unmapped_products):
            report.append(
                "HS codes not mapped to a mineral (rows left out): "
                + ", ".join(map(str, baci.unmapped_products["hs_code"]))
            )
        return {"trade": baci.trade}, report
    if kind == "wgi":
        from riskengine.io.wgi import read_wgi

        wgi = read_wgi(path, years=years)
        unmatched = getattr(wgi, "unmatched_codes", None)
        if unmatched is not None and len(unmatched):
            report.append(f"codes that are not countries (left out): {len(unmatched)}")
        # the sovereign mappings applied, one line per territory
        report += [f"note: {n}" for n in wgi.notes]
        return {"governance": wgi.governance}, report
    from riskengine.dataset import read_dataset_tables

    tables, _ = read_dataset_tables(path)
    if years is not None:
        tables = {
            k: (v[v["year"].isin(years)] if "year" in v.columns else v) for k, v in tables.items()
        }
    return tables, report


@data_app.command("validate")
def validate_command(
    directory: Annotated[Path, typer.Argument(help="Dataset directory to check.")],
    strict: Annotated[
        bool, typer.Option("--strict", help="Treat consistency warnings as errors.")
    ] = False,
) -> None:
    """Check a dataset directory and list every problem (exit 1 when there is one)."""
    from riskengine.dataset import Dataset, check_dataset, read_dataset_tables

    tables, path = read_dataset_tables(directory)
    ds = Dataset.from_tables(tables, name=str(path), path=path)
    findings = check_dataset(ds)
    for finding in findings:
        typer.echo(f"warning: {finding.message}", err=True)
    if strict and findings:
        raise DataError(f"{path}: {len(findings)} consistency warning(s) in strict mode")
    rows = ", ".join(f"{name} {len(t):,} rows" for name, t in tables.items())
    typer.echo(f"{path}: valid ({rows})")


@data_app.command("check")
def check_command(
    directory: Annotated[
        Path | None, typer.Argument(help="Dataset directory (default: the embedded dataset).")
    ] = None,
    year: Annotated[
        int | None, typer.Option("--year", "-y", help="Only this year (default: every year).")
    ] = None,
    top: Annotated[int, typer.Option("--top", help="Rows of the balance table.")] = 40,
    fmt: Annotated[str, typer.Option("--format", "-f", help=FORMAT_HELP)] = "table",
    output: Annotated[Path | None, typer.Option("--output", "-o", help=OUTPUT_HELP)] = None,
) -> None:
    """World imports against world production in contained tonnes, and screened flows.

    One row per mineral, stage and year with both, largest ratio first: a
    ratio far above 1.6 means gross weight compared with contained metal, or a
    product at the wrong stage (docs/methods.md). Exits 1 when a ratio is above
    1.6 (after writing the output). CSV, JSON, xlsx and parquet hold every row
    of the balance table; the screened flows are its notes.
    """
    from riskengine import report
    from riskengine.cli._load import load_whole
    from riskengine.cli._output import emit
    from riskengine.dataset import (
        IMPORT_PRODUCTION_LIMIT,
        check_unit_values,
        default_data_dir,
        import_production_balance,
    )

    inputs = [directory or default_data_dir()]
    report.check_destination(output, fmt, inputs)
    ds = load_whole(directory)
    if year is not None:
        ds = ds.sel(years=[year])
    table = import_production_balance(ds)
    lines = [
        report.text_table(
            table.head(top),
            {
                "mineral": "mineral",
                "stage": "stage",
                "year": "year",
                "imports_t": "world imports (t contained)",
                "production_t": "world production (t contained)",
                "ratio": "ratio",
            },
            title=f"{ds.name}: world imports / world production, contained tonnes "
            f"({len(table)} mineral/stage/years; limit {IMPORT_PRODUCTION_LIMIT})",
            formats={"imports_t": ",.0f", "production_t": ",.0f", "ratio": ".2f"},
        )
    ]
    if ds.trade is not None:
        named = int((ds.trade.product >= 0).sum())
        lines.append(
            f"\ntrade flows: {len(ds.trade):,}; {named:,} converted from gross weight with the "
            f"product catalogue, {len(ds.trade) - named:,} given in contained content"
        )
    screened = [finding.message for finding in check_unit_values(ds)]
    lines += [f"screened: {message}" for message in screened]
    out = report.Output(
        tables={"balance": table},
        text="\n".join(lines),
        notes=screened,
        sources=ds.sources,
        about={"command": "riskengine data check", "dataset": ds.name},
        what="the balance report",
    )
    emit(out, fmt, output, inputs)
    over = table[table["ratio"] > IMPORT_PRODUCTION_LIMIT]
    if len(over):
        raise DataError(
            f"{len(over)} mineral/stage/year(s) have world imports above "
            f"{IMPORT_PRODUCTION_LIMIT}x world production: check the content fractions and "
            f"stages of their products (products.csv)"
        )


@data_app.command("info")
def info_command(
    directory: Annotated[
        Path | None, typer.Argument(help="Dataset directory (default: the embedded dataset).")
    ] = None,
) -> None:
    """Summarise a dataset's coverage: minerals, stages, countries, years, sources."""
    from riskengine import report
    from riskengine.dataset import read_dataset_tables

    tables, path = read_dataset_tables(directory)
    prod = tables["production"]
    typer.echo(f"dataset: {path}")
    cover = (
        prod.groupby(["mineral", "stage"])
        .agg(
            countries=("country", "nunique"),
            years=("year", lambda y: f"{min(y)}-{max(y)}" if min(y) != max(y) else str(min(y))),
        )
        .reset_index()
    )
    if "trade" in tables:
        trade = tables["trade"]
        flows = trade.groupby(["mineral", "stage"]).agg(
            flows=("year", "size"),
            trade_years=("year", lambda y: f"{min(y)}-{max(y)}"),
        )
        cover = cover.merge(flows.reset_index(), on=["mineral", "stage"], how="outer")
        for column in ("countries", "flows"):
            cover[column] = cover[column].astype("Int64")
    typer.echo(
        report.text_table(
            cover,
            {c: c.replace("_", " ") for c in cover.columns},
            title=f"{cover['mineral'].nunique()} minerals, {len(cover)} mineral/stage pairs",
        )
    )
    for name, table in tables.items():
        if "source" in table.columns:
            sources = table["source"].dropna().unique()
            typer.echo(f"\n{name}.csv: {len(table):,} rows, {len(sources)} source(s)")
            for s in sorted(sources)[:12]:
                typer.echo(f"  - {s}")
            if len(sources) > 12:
                typer.echo(f"  ... {len(sources) - 12} more")
