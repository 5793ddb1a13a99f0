"""``riskengine score``: concentration and risk scores from a dataset."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from riskengine.errors import RiskEngineError, UnknownLabelError

if TYPE_CHECKING:
    import pandas as pd

    from riskengine.dataset import Dataset
    from riskengine.methods.base import ScoreResult

_FLOAT = {
    "hhi": ".3f",
    "hhi_10000": ",.0f",
    "cr1": ".1%",
    "cr3": ".1%",
    "effective_producers": ".2f",
    "score": ".3f",
    "import_risk": ".3f",
    "import_reliance": ".1%",
    "import_exposure": ".3f",
    "upstream_exposure": ".3f",
    "export_concentration": ".3f",
    "price_usd_per_kg": ",.2f",
    "cf": ".3f",
    "imports_t": ",.0f",
    "hhi_wgi_global": ".2f",
    "hhi_wgi_sourcing": ".2f",
    "score_baseline": ".3f",
    "score_change": "+.3f",
}

#: Importers below this share of world imports of a mineral/stage are left out of
#: the default "most exposed importers" table (they remain in CSV/JSON output).
MAJOR_IMPORTER_SHARE = 0.01


def score_command(
    data: Annotated[
        Path | None,
        typer.Option("--data", help="Dataset directory (default: the embedded dataset)."),
    ] = None,
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
    year: Annotated[
        int | None,
        typer.Option("--year", "-y", help="Year (default: latest with production and trade)."),
    ] = None,
    method: Annotated[
        str, typer.Option("--method", help="Scoring method: riskengine, geopolrisk or eu.")
    ] = "riskengine",
    fmt: Annotated[
        str, typer.Option("--format", "-f", help="Output format: table, csv or json.")
    ] = "table",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file instead of stdout.")
    ] = None,
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
) -> None:
    """Score concentration and supply risk on a dataset.

    The table format shows the most concentrated mineral/stage pairs and the
    most exposed importers; CSV and JSON give one record per mineral, stage,
    year and country with at least mineral, stage, year, country, hhi and score.
    """
    from riskengine import report
    from riskengine.cli._load import load_whole
    from riskengine.dataset import default_data_dir, warn_findings
    from riskengine.dims import REGIONS
    from riskengine.io.atomic import check_output
    from riskengine.methods import METHODS

    if method not in METHODS:
        raise UnknownLabelError("method", [method], METHODS)
    if fmt not in report.FORMATS:
        raise UnknownLabelError("format", [fmt], report.FORMATS)
    if top < 1:
        raise RiskEngineError(f"--top must be at least 1, got {top}")
    check_output(output, [data or default_data_dir(), scenario])
    whole = load_whole(data)
    sc = None
    if scenario is not None:
        from riskengine.scenarios import load_scenario

        sc = load_scenario(scenario)
        if year is not None and year != sc.year:
            raise RiskEngineError(
                f"--year {year} differs from the year of the scenario {sc.origin} "
                f"({sc.year}); drop --year to score the scenario's year"
            )
    chosen_year = year if year is not None else (sc.year if sc else whole.latest_year())
    _check_year(whole.sel(minerals=mineral or None), chosen_year)
    ds = whole.sel(minerals=(mineral or None) if sc is None else None, years=chosen_year)
    shocked = None
    if sc is not None:
        from riskengine.scenarios import apply_scenario

        shocked = apply_scenario(ds, sc)
        if mineral:
            ds, shocked = ds.sel(minerals=mineral), shocked.sel(minerals=mineral)
    warn_findings(ds, strict=strict)
    stages = [stage] if stage else None
    if stage:
        ds.positions("stage", [stage])
    countries = ds.resolve_countries(country or [], regions=True) or []
    if method == "riskengine":
        # the composite scores countries, not regions: a region stands for its members
        countries = list(
            dict.fromkeys(
                member
                for c in countries
                for member in (
                    [m for m in REGIONS[c] if m in ds.countries] if c in REGIONS else [c]
                )
            )
        )
    params: dict[str, object] = {"stages": stages}
    if strict:
        params["missing_governance"] = "raise"
    named_regions = [c for c in countries if c in REGIONS] or list(REGIONS)
    if method == "geopolrisk":
        params["regions"] = named_regions
    elif method == "eu":
        # the EU method assesses one sourcing scope at a time: single countries as
        # their own scope, plus the regions asked for (EU27 by default)
        params["regions"] = {
            **{c: [c] for c in countries if c not in REGIONS},
            **{r: REGIONS[r] for r in named_regions},
        }
    from riskengine.methods import score

    result = score(ds, method=method, **params)
    for note in result.notes:
        typer.echo(f"note: {note}", err=True)
    frame = result.to_frame()
    if shocked is not None:
        baseline = frame
        result = score(shocked, method=method, **params)
        frame = _beside_baseline(result.to_frame(), baseline)
    if country:
        frame = frame[frame["country"].isin(countries)]

    if fmt == "table":
        text = _table_text(result, frame, countries if country else None, top, chosen_year)
        if sc is not None:
            text = (
                f"Scenario: {sc.name} ({sc.origin}) - scores after the shock beside the "
                f"baseline\n\n{text}"
            )
    else:
        frame = _records(result, frame, stages, bool(country))
        text = report.to_csv(frame) if fmt == "csv" else report.to_json(frame)
    if output is not None:
        from riskengine.io.atomic import write_text

        write_text(output, text + ("\n" if not text.endswith("\n") else ""))
        typer.echo(f"wrote {len(frame)} records to {output}", err=True)
    else:
        typer.echo(text)


def _check_year(ds: Dataset, year: int) -> None:
    """Refuse a year without production or without trade, naming the years that have them.

    The default year is the latest with both (:meth:`Dataset.latest_year`).
    """
    if year not in set(ds.years):
        return  # Dataset.sel names the valid years
    production, trade = ds.years_with("production"), ds.years_with("trade")
    for what, years in (("production figures", production), ("trade flows", trade)):
        if year not in years:
            both = sorted(set(production) & set(trade))
            raise RiskEngineError(
                f"the dataset {ds.name!r} has no {what} for {year}"
                + (f" ({', '.join(map(str, ds.minerals))})" if len(ds.minerals) <= 5 else "")
                + "; scores need both. Years with production: "
                + (", ".join(map(str, production)) or "none")
                + "; with trade: "
                + (", ".join(map(str, trade)) or "none")
                + (f"; pass --year {both[-1]}" if both else "")
            )


def _records(
    result: ScoreResult, frame: pd.DataFrame, stages: list[str] | None, by_country: bool
) -> pd.DataFrame:
    """CSV/JSON records: one per (mineral, stage, year) with production, then the scores.

    The concentration records (``hhi``, ``cr1``, ``cr3``, ``top_producer``,
    ``world_production_t``) have an empty ``country``; the score records carry
    the method's columns, tonnes in contained content.
    """
    import pandas as pd

    keys = ["mineral", "stage", "year"]
    conc = result.concentration
    if stages is not None:
        conc = conc[conc["stage"].isin(stages)]
    if by_country:
        # only the pairs of the countries asked for
        shown = pd.MultiIndex.from_frame(frame[keys]).unique()
        conc = conc[pd.MultiIndex.from_frame(conc[keys]).isin(shown)]
    conc = conc.assign(country="")[[*keys, "country", *conc.columns.drop(keys)]]
    return pd.concat([conc, frame], ignore_index=True, sort=False)


def _beside_baseline(shocked: pd.DataFrame, baseline: pd.DataFrame) -> pd.DataFrame:
    """Shocked scores with the baseline ``score_baseline`` and ``score_change`` beside them."""
    keys = ["mineral", "stage", "year", "country"]
    base = baseline[[*keys, "score"]].rename(columns={"score": "score_baseline"})
    out = shocked.merge(base, on=keys, how="outer")
    out["score_change"] = out["score"] - out["score_baseline"]
    return out


def _table_text(
    result: object, frame: pd.DataFrame, countries: list[str] | None, top: int, year: int
) -> str:
    import numpy as np
    import pandas as pd

    from riskengine import report
    from riskengine.dims import REGIONS
    from riskengine.methods.base import ScoreResult

    assert isinstance(result, ScoreResult)
    conc = result.concentration.sort_values("hhi", ascending=False).head(top)
    parts = [
        report.text_table(
            conc,
            {
                "mineral": "mineral",
                "stage": "stage",
                "hhi_10000": "HHI",
                "cr1": "top-1",
                "top_producer": "largest",
                "cr3": "top-3",
                "effective_producers": "eff. n",
            },
            _FLOAT,
            title=f"Most concentrated mineral/stage pairs, {year} "
            f"(HHI on the 0-10,000 scale; >2,500 highly concentrated)",
        )
    ]
    if countries is not None:
        shown = frame.sort_values("score", ascending=False)
        title = f"Scores ({result.method}) for {', '.join(countries) or 'no country'}, {year}"
    else:
        shown = frame
        if "imports_t" in frame.columns:
            # world imports summed over countries only (a region double-counts its
            # members), then compared row by row, regions included
            key = ["mineral", "stage", "year"]
            countries_only = frame[~frame["country"].isin(list(REGIONS))]
            world = countries_only.groupby(key)["imports_t"].sum()
            floor = world.reindex(pd.MultiIndex.from_frame(frame[key])).to_numpy()
            # a table of regions alone (the eu method) has no world total to compare with
            keep = np.isnan(floor) | (frame["imports_t"].to_numpy() >= MAJOR_IMPORTER_SHARE * floor)
            shown = frame[keep]
        shown = shown.sort_values("score", ascending=False).head(top)
        title = f"Most exposed importers ({result.method}), {year}" + (
            f" - importers with >= {MAJOR_IMPORTER_SHARE:.0%} of world imports"
            if "imports_t" in frame.columns
            else ""
        )
    columns = {"mineral": "mineral", "stage": "stage", "country": "country", "score": "score"}
    extra = {
        "riskengine": [
            "import_exposure",
            "upstream_exposure",
            "import_reliance",
            "export_concentration",
        ],
        "geopolrisk": ["hhi", "import_risk", "price_usd_per_kg", "cf"],
        "eu": ["hhi_wgi_global", "hhi_wgi_sourcing", "import_reliance"],
    }[result.method]
    columns.update({c: c for c in extra})
    if "score_baseline" in frame.columns:
        columns.update({"score_baseline": "baseline", "score_change": "change"})
    parts.append(report.text_table(shown, columns, _FLOAT, title=title))
    gyears = sorted({v for v in result.params.get("governance_year", {}).values() if v})
    parts.append(
        f"dataset: {result.dataset}; governance (WGI) year used: "
        f"{', '.join(map(str, gyears)) or 'none'}"
    )
    return "\n\n".join(parts)
