"""Plain-text reports of analyst views (``riskengine score``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from riskengine.report.files import Output
from riskengine.report.tables import text_table

if TYPE_CHECKING:
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
