"""Plain-text reports of analyst views (``riskengine score``, ``riskengine scenario run``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from riskengine.report.files import Output
from riskengine.report.tables import text_table

if TYPE_CHECKING:
    from riskengine.scenarios.result import ScenarioResult
    from riskengine.views import ScoreView

#: Display formats of score columns.
SCORE_FORMATS: dict[str, str] = {
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
    "import_share": ".1%",
    "hhi_wgi_global": ".2f",
    "hhi_wgi_sourcing": ".2f",
    "score_baseline": ".3f",
    "score_change": "+.3f",
    "rank": ".0f",
}

#: Factor columns shown in the table view, per method.
METHOD_COLUMNS: dict[str, list[str]] = {
    "riskengine": [
        "import_exposure",
        "upstream_exposure",
        "import_reliance",
        "export_concentration",
    ],
    "geopolrisk": ["hhi", "import_risk", "price_usd_per_kg", "cf"],
    "eu": ["hhi_wgi_global", "hhi_wgi_sourcing", "import_reliance"],
}

HUB_MARK = "re-export hub"


def score_text(view: ScoreView, top: int = 10) -> str:
    """Render the table view of ``riskengine score``: concentration, exposed importers.

    Without countries, the importers are those of
    :meth:`riskengine.views.ScoreView.exposed`: ranked among the importers
    above the volume floor, re-export hubs marked after them.
    """
    from riskengine.views import MAJOR_IMPORTER_SHARE

    conc = view.concentration.sort_values("hhi", ascending=False).head(top)
    parts = [
        text_table(
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
            SCORE_FORMATS,
            title=f"Most concentrated mineral/stage pairs, {view.year} "
            f"(HHI on the 0-10,000 scale; >2,500 highly concentrated)",
        )
    ]
    rows = view.exposed(top)
    columns = {"mineral": "mineral", "stage": "stage", "country": "country", "score": "score"}
    if view.countries is not None:
        title = (
            f"Scores ({view.method}) for {', '.join(view.countries) or 'no country'}, {view.year}"
        )
    else:
        columns = {"rank": "rank", **columns}
        title = f"Most exposed importers ({view.method}), {view.year}" + (
            f" - importers with >= {MAJOR_IMPORTER_SHARE:.0%} of world imports; re-export hubs "
            f"(exports >= 80% of imports + production) marked, after the others"
            if "imports_t" in view.scores.columns
            else ""
        )
    columns.update({c: c for c in METHOD_COLUMNS[view.method]})
    if "score_baseline" in view.scores.columns:
        columns.update({"score_baseline": "baseline", "score_change": "change"})
    if "imports_t" in view.scores.columns:
        columns["import_share"] = "import share"
    if bool(rows["reexport_hub"].any()):
        columns["mark"] = ""
        rows = rows.assign(mark=rows["reexport_hub"].map({True: HUB_MARK, False: ""}))
    parts.append(text_table(rows, columns, SCORE_FORMATS, title=title))
    gyears = sorted({v for v in view.result.params.get("governance_year", {}).values() if v})
    parts.append(
        f"dataset: {view.dataset}; governance (WGI) year used: "
        f"{', '.join(map(str, gyears)) or 'none'}"
    )
    text = "\n\n".join(parts)
    if view.scenario is not None:
        sc = view.scenario
        text = (
            f"Scenario: {sc.name} ({sc.origin}) - scores after the shock beside the "
            f"baseline\n\n{text}"
        )
    return text


def score_output(view: ScoreView, top: int = 10) -> Output:
    """Everything ``riskengine score`` reports, for :func:`~riskengine.report.write_output`.

    One table, ``scores``: the CSV/JSON records (:meth:`ScoreView.records`).
    """
    about = {
        "command": "riskengine score",
        "dataset": view.dataset,
        "method": view.method,
        "year": str(view.year),
    }
    if view.scenario is not None:
        about["scenario"] = f"{view.scenario.name} ({view.scenario.origin})"
    if view.countries is not None:
        about["countries"] = ", ".join(view.countries)
    return Output(
        tables={"scores": view.records()},
        text=score_text(view, top),
        notes=view.notes,
        sources=view.sources,
        about=about,
        what="the score report",
    )


#: Number formats of the scenario report's columns.
SCENARIO_FORMATS: dict[str, str] = {
    "world_production_t": ",.0f",
    "world_trade_t": ",.0f",
    "blocked_t": ",.0f",
    "deflected_t": ",.0f",
    "withheld_t": ",.0f",
    "quota_withheld_t": ",.0f",
    "redirected_t": ",.0f",
    "production_lost_t": ",.0f",
    "propagated_loss_t": ",.0f",
    "new_supply_t": ",.0f",
    "stockpile_draw_t": ",.0f",
    "gap_fraction": ".1%",
    "price_change_pct": "+,.1f",
    "price_change_inside_pct": "+,.1f",
    "price_change_low_pct": "+,.1f",
    "price_change_high_pct": "+,.1f",
    "consumption_t": ",.0f",
    "shortfall_t": ",.0f",
    "shortfall_pct": ".1f",
    "stockpile_t": ",.0f",
    "stockpile_cover_days": ",.0f",
    "cover_days": ",.0f",
    "extra_cost_usd": ",.0f",
    "baseline": ".3f",
    "shocked": ".3f",
    "delta": "+.3f",
}


def scenario_text(result: ScenarioResult, top: int = 10) -> str:
    """Plain-text report of a scenario result, the loss per importer first.

    The importers most short of supply (contained tonnes, % of demand, days
    their usable stocks cover the shortfall, extra cost in USD at the price
    they face), then the market (what each mechanism moved, the two-region
    price with its band), then the largest score changes, then the notes.
    """
    sc = result.scenario
    head = [
        f"Scenario: {sc.name}" + (" (hypothetical)" if sc.hypothetical else ""),
        f"file: {sc.origin or '-'}; baseline year {sc.year}; duration {sc.months:g} months; "
        f"method {result.method}",
        *(f"source: {s}" for s in sc.sources),
    ]
    parts = ["\n".join(head)]
    market = result.market
    if market.empty:
        parts.append("No mineral or stage is touched by the shocks.")
    else:
        short = result.importers.sort_values("shortfall_t", ascending=False)
        short = short[short["shortfall_t"] >= 0.5].head(top)  # shown to the tonne
        parts.append(
            text_table(
                short,
                {
                    "mineral": "mineral",
                    "stage": "stage",
                    "country": "country",
                    "shortfall_t": "shortfall t",
                    "shortfall_pct": "% of demand",
                    "cover_days": "cover days",
                    "extra_cost_usd": "extra cost USD",
                    "price_change_pct": "price %",
                    "consumption_t": "consumption t",
                    "stockpile_t": "stockpile t",
                },
                SCENARIO_FORMATS,
                title="Importers most short of supply: contained tonnes per year while the shock "
                "lasts, days their usable stocks cover it, extra cost over the shock at the "
                "price they face",
            )
        )
        columns = {
            "mineral": "mineral",
            "stage": "stage",
            "world_production_t": "world prod. t",
            "world_trade_t": "world trade t",
            "production_lost_t": "prod. lost t",
            "propagated_loss_t": "propagated t",
            "blocked_t": "blocked t",
            "deflected_t": "deflected t",
            "withheld_t": "withheld t",
            "quota_withheld_t": "over quota t",
            "redirected_t": "redirected t",
            "new_supply_t": "new supply t",
            "stockpile_draw_t": "stock drawn t",
            "gap_fraction": "gap",
            "price_change_pct": "price %",
            "price_change_low_pct": "low %",
            "price_change_high_pct": "high %",
            "price_change_inside_pct": "inside %",
        }
        optional = [c for c in columns if c.endswith("_t") and not c.startswith("world_")]
        for col in optional:
            if (market[col].fillna(0) == 0).all():
                del columns[col]
        parts.append(
            text_table(
                market,
                columns,
                SCENARIO_FORMATS,
                title="Market: tonnes per year while the shock lasts; price change outside the "
                "restricting countries (two-region model; low-high band) and inside",
            )
        )
        changes = result.score_changes()
        missing = int(changes["shocked"].isna().sum())
        changes = changes[changes["delta"].abs() >= 0.0005]  # shown to 3 decimals
        order = changes["delta"].abs().sort_values(ascending=False).index
        parts.append(
            text_table(
                changes.loc[order].head(top),
                {
                    "mineral": "mineral",
                    "stage": "stage",
                    "country": "country",
                    "baseline": "baseline",
                    "shocked": "shocked",
                    "delta": "change",
                },
                SCENARIO_FORMATS,
                title=f"Largest score changes ({result.method})",
            )
        )
        if missing:
            parts[-1] += (
                f"\n({missing} score(s) are not available - missing production or governance "
                f"data; the factors are in --format csv or json)"
            )
    if result.notes:
        parts.append("Notes:\n" + "\n".join(f"  - {n}" for n in result.notes))
    return "\n\n".join(parts)
