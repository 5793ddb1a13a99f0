"""Plain-text reports of the stress tools: ``riskengine sweep``, ``simulate``, ``sensitivity``.

Rendering never computes: it formats the frames the stress results hold.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from riskengine.report.tables import text_table

if TYPE_CHECKING:
    import pandas as pd

    from riskengine.dataset import Dataset

#: Number formats of the stress reports' columns.
STRESS_FORMATS: dict[str, str] = {
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


def sweep_text(
    result: Any, importers: list[str] | None, exporters: list[str] | None, by: str, top: int
) -> str:
    """Render the table view of ``sweep``.

    The bans that hurt the chosen importers most, the importers the chosen
    exporters could hurt most, or - with neither - the worst bans among
    importers that matter (:meth:`~riskengine.stress.sweeps.SweepResult.worst`),
    the largest score increases and the bans that leave the most importers short.
    """
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
                    text_table(
                        rows,
                        {"rank": "#", **{k: v for k, v in ban_cols.items() if k != "country"}},
                        STRESS_FORMATS,
                        title=f"Bans that hurt {country} most ({label[measure]})",
                    )
                )
    # a pair sweep restricted to --exporter holds only pairs with them: shown as a whole
    if exporters and not result.pairs:
        for country in exporters:
            rows = result.exposure(by=by, top=top, exporters=[country])
            parts.append(
                text_table(
                    rows,
                    {"rank": "#", **{k: v for k, v in ban_cols.items() if k != "exporter"}},
                    STRESS_FORMATS,
                    title=f"Importers {country} could hurt most ({label[by]}; worst ban each)",
                )
            )
    if not importers and (not exporters or result.pairs):
        floor = "importers with >= 1% of world consumption at the stage"
        parts.append(
            text_table(
                result.worst(by, top),
                ban_cols,
                STRESS_FORMATS,
                title=f"Worst {'two-exporter' if result.pairs else 'single'} bans for one "
                f"importer ({label[by]}; {floor})",
            )
        )
        if by != "score_change":
            parts.append(
                text_table(
                    result.worst("score_change", top),
                    ban_cols,
                    STRESS_FORMATS,
                    title=f"Largest score increases from one ban ({floor})",
                )
            )
        bans = result.bans.sort_values(
            ["importers_short", "max_shortfall_pct"], ascending=False
        ).head(top)
        parts.append(
            text_table(
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
                STRESS_FORMATS,
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
def simulate_text(result: Any, by: str, max_reexport: float, grades: bool, top: int) -> str:
    """Render the table view of ``simulate``: the largest risks of the importers that matter."""
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
    body = text_table(
        shown, cols, STRESS_FORMATS, title=f"Largest risks ({by}); tonnes per year as recorded"
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
            text_table(
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
                STRESS_FORMATS,
                title="Outside price change (two-region model, a year's horizon); "
                "--table prices has every mineral and stage",
            )
        )
    return "\n\n".join([*parts, *notes])


def sensitivity_text(result: Any, ds: Dataset, country: list[str], top: int) -> str:
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
        parts.append(tornado_text(rows, f"{m} / {s} / {c}", step))
        shown += 1
    if not shown:
        parts.append("(no score of these countries depends on the perturbed inputs)")
    if not result.prices.empty:
        parts.append(tornado_text(result.prices, "scenario price change (%)", step))
    return "\n\n".join(parts)


def tornado_text(rows: pd.DataFrame, title: str, step: float, width: int = 16) -> str:
    """Rows of one score as a text tornado: a bar left or right of the baseline."""
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
    return text_table(
        frame,
        {
            "what": "input",
            "value": "value",
            "score_low": f"at low (-{step:.0%})",
            "score_high": f"at high (+{step:.0%})",
            "elasticity": "elasticity",
            "bar": "lower  <  score  >  higher",
        },
        STRESS_FORMATS,
        title=f"{title}: {base:.3f}",
    )
