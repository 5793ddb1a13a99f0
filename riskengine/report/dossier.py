"""Dossiers: a country's, a mineral's or a scenario's results, assembled into a :class:`Document`.

The builders run the library - :func:`riskengine.score`,
:func:`riskengine.sweep`, :func:`riskengine.run_scenario` and the sourcing
tables of :mod:`riskengine.sourcing` - and arrange their frames into charts
and tables; they compute no index of their own. Render the result with
:meth:`Document.to_html`.

* :func:`country_dossier` - for each mineral a country (or region) imports:
  the supply chain from ore origin through refiner to it, its suppliers'
  shares, world concentration over the years, the composite's factors and
  their contributions, and the single-exporter bans that would hurt it most;
  for the EU, the Critical Raw Materials Act's 65 % test.
* :func:`mineral_dossier` - world production by stage and country (maps),
  concentration over time, the largest exporters and importers, and how
  concentrated each exporter's buyers are.
* :func:`scenario_dossier` - a scenario's shortfalls per importer, prices
  outside and inside the restricting countries with their band, and scores
  before and after.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from riskengine.dataset import Dataset
from riskengine.dims import REGIONS
from riskengine.errors import RiskEngineError, ScenarioError, bad_argument
from riskengine.report.charts import (
    STAGE_COLOURS,
    Chart,
    choropleth,
    hbar,
    lines,
    make_chart,
    sankey,
)
from riskengine.report.html import Document, Section, Table, format_cell, sequence_text

#: Called with a line of progress (the CLI prints it on stderr).
Progress = Callable[[str], None]

#: Rows of a ranking chart.
TOP = 15

#: Suppliers drawn by name per stage in a supplier-share chart (the rest as "other").
SUPPLIERS_SHOWN = 5

#: HHI (0-10,000) above which a market is highly concentrated (US 2010 merger guidelines).
HIGHLY_CONCENTRATED = 2500

FACTOR_NAMES: dict[str, str] = {
    "contrib_concentration": "world concentration",
    "contrib_import_exposure": "import exposure",
    "contrib_upstream_exposure": "upstream (ore origin) exposure",
    "contrib_import_reliance": "import reliance",
    "contrib_export_concentration": "export-destination concentration",
    "global_supply": "global supply term",
    "sourcing": "sourcing term",
}

METHOD_NAMES: dict[str, str] = {
    "riskengine": "riskengine composite",
    "geopolrisk": "GeoPolRisk",
    "eu": "EU supply risk",
}


# ------------------------------------------------------------------ helpers
def _name(code: str) -> str:
    """Readable name of a country or region code."""
    if code in REGIONS:
        return f"European Union ({code})" if code == "EU27" else code
    from riskengine.io.countries import country_name

    name = country_name(code)
    return name if name != code else code


def _t(tonnes: float) -> str:
    """Tonnes as text: thousands separated, small amounts to three significant digits."""
    return format_cell(float(tonnes), "t")


def _sentence(parts: Sequence[str]) -> str:
    """Join clauses into one sentence: first letter upper case, full stop."""
    text = "; ".join(parts)
    return text[:1].upper() + text[1:] + "." if text else ""


def _names(codes: Iterable[str]) -> dict[str, str]:
    return {c: _name(c) for c in dict.fromkeys(codes)}


def _info(ds: Dataset, mineral: str, column: str) -> str:
    """Return a text attribute of a mineral from ``minerals.csv`` ("" when not given)."""
    info = ds.mineral_info
    if column not in info.columns or mineral not in info.index:
        return ""
    value = info[column].get(mineral)
    return "" if value is None or pd.isna(value) else str(value).strip()


def _basis(ds: Dataset, mineral: str) -> str:
    return _info(ds, mineral, "basis") or "contained content"


def _units(ds: Dataset, mineral: str) -> str:
    """Short tonnes unit of a mineral: ``t cobalt content`` (its full basis goes in the text)."""
    basis = _basis(ds, mineral)
    if ":" in basis:  # a basis that differs by stage
        return "t contained content"
    short = re.split(r"[(;]", basis)[0].strip().rstrip(",")
    return f"t {short}" if short else "t"


def _mineral_name(ds: Dataset, mineral: str) -> str:
    return _info(ds, mineral, "name") or mineral.replace("_", " ").capitalize()


def _source_heads(ds: Dataset) -> list[str]:
    """Return the dataset's sources, one line per release (the part before ``;``)."""
    heads = []
    for source in ds.sources:
        head = source.split(";")[0].strip()
        if head and not head.startswith("name "):
            heads.append(head)
    return sorted(dict.fromkeys(heads))


def _kinds(ds: Dataset) -> dict[str, list[str]]:
    """Short source names by kind: production, trade, governance, mineral attributes."""
    out: dict[str, list[str]] = {
        "production": [],
        "trade": [],
        "governance": [],
        "attributes": [],
    }
    mcs: list[str] = []
    for head in _source_heads(ds):
        short = head.split(" (doi")[0].split(", IEA, Paris")[0]
        found = re.match(r"USGS MCS (\d{4}) data release", short)
        if found:
            mcs.append(found.group(1))
        elif "BACI" in head or "Comtrade" in head:
            out["trade"].append(short)
        elif "WGI" in head or "Governance" in head:
            out["governance"].append(short)
        elif head.startswith("European Commission"):
            out["attributes"].append(short)
        else:
            out["production"].append(short)
    if mcs:
        years = sorted(set(mcs))
        span = years[0] if len(years) == 1 else f"{years[0]}-{years[-1]}"
        out["production"].insert(0, f"USGS MCS {span} data releases")
    return {k: sorted(dict.fromkeys(v), key=v.index) for k, v in out.items()}


def _source(ds: Dataset, kinds: Sequence[str], computed: str = "") -> str:
    """Source line of a chart: the dataset, its sources of each kind, what computed it."""
    found = _kinds(ds)
    parts = [f"{k}: {sequence_text(found[k], 4)}" for k in kinds if found.get(k)]
    text = ds.name + (" (" + "; ".join(parts) + ")" if parts else "")
    return text + (f"; {computed}" if computed else "")


def _quietly(func: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, list[str]]:
    """Call ``func``; return its result and its data-gap warnings as notes, once each.

    The data gaps go into the report's notes; any other warning is issued again.
    """
    from riskengine.dataset import RiskEngineWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RiskEngineWarning)
        result = func(*args, **kwargs)
    for w in caught:
        if not issubclass(w.category, RiskEngineWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    gaps = [str(w.message) for w in caught if issubclass(w.category, RiskEngineWarning)]
    return result, list(dict.fromkeys(gaps))


def _year(ds: Dataset, year: int | None) -> int:
    if year is None:
        return ds.latest_year()
    ds.positions("year", [year])
    return int(year)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _pair_label(mineral: str, stage: str) -> str:
    return f"{mineral} · {stage}"


def _anchor(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _sweep_progress(progress: Progress | None) -> Callable[[int, int], None] | None:
    """Return a sweep callback that reports every tenth of the bans done as one line."""
    if progress is None:
        return None
    state = {"step": -1}

    def report(done: int, total: int) -> None:
        step = int(10 * done / max(total, 1))
        if step > state["step"]:
            state["step"] = step
            progress(
                f"sweep: {done:,} of {total:,} bans evaluated ({100 * done // max(total, 1)} %)"
            )

    return report


def _concentration_chart(
    ds: Dataset, conc: pd.DataFrame, mineral: str, source: str
) -> Chart | None:
    """World production concentration of one mineral over the years, one line per stage."""
    rows = conc[conc["mineral"] == mineral].sort_values(["stage", "year"])
    if rows.empty:
        return None
    years = sorted(int(y) for y in rows["year"].unique())
    series = {
        str(stage): part.set_index("year")["hhi_10000"].reindex(years).tolist()
        for stage, part in rows.groupby("stage", sort=False, observed=True)
    }
    fig = lines(
        years,
        series,
        axis_title="HHI (0-10,000)",
        colours=STAGE_COLOURS,
        reference=(HIGHLY_CONCENTRATED, "highly concentrated above 2,500"),
    )
    table = rows[["year", "stage", "hhi_10000", "cr1", "cr3", "top_producer"]].rename(
        columns={
            "hhi_10000": "HHI",
            "cr1": "top-1 share",
            "cr3": "top-3 share",
            "top_producer": "largest producer",
        }
    )
    span = f"{years[0]}-{years[-1]}" if len(years) > 1 else str(years[0])
    return make_chart(
        fig,
        title=f"World production concentration of {_mineral_name(ds, mineral).lower()}, by stage",
        units="Herfindahl-Hirschman index, 0-10,000",
        year=span,
        source=source,
        table=table.reset_index(drop=True),
        formats={"year": "d", "HHI": ",.0f", "top-1 share": "%", "top-3 share": "%"},
    )


# ----------------------------------------------------------------- country
def country_dossier(
    dataset: Dataset,
    country: str,
    *,
    year: int | None = None,
    minerals: Sequence[str] | None = None,
    sweep: bool = True,
    progress: Progress | None = None,
) -> Document:
    """Build the dossier of a country's (or a region's) mineral supply.

    Parameters
    ----------
    dataset
        The whole dataset (every year: concentration is shown over the years).
    country
        ISO3 code or name, or a region of :data:`riskengine.dims.REGIONS`
        (``"EU27"``: its members' imports from outside the EU, scored with
        the EU supply-risk method, and the Critical Raw Materials Act test).
    year
        Year of the flows and scores (default: the latest with production
        and trade).
    minerals
        Restrict the dossier to these minerals (default: every mineral the
        country imports in the year).
    sweep
        Run the single-exporter ban sweep over the minerals shown (the
        slowest step: seconds per dozen minerals).
    progress
        Called with a line of text at each slow step.

    Returns
    -------
    Document

    Raises
    ------
    UnknownLabelError
        For an unknown country, mineral or year.
    RiskEngineError
        When the country imports none of the minerals in the year.
    """
    from riskengine import sourcing
    from riskengine.methods import score
    from riskengine.stress.sweeps import sweep as run_sweep

    if not isinstance(dataset, Dataset):
        raise bad_argument("country_dossier", "dataset", "a Dataset", dataset)
    label = (dataset.resolve_countries([country], regions=True) or [country])[0]
    region = label in REGIONS
    members = [m for m in REGIONS[label] if m in dataset.countries] if region else [label]
    year_ = _year(dataset, year)
    if minerals is not None:
        dataset.positions("mineral", list(minerals))
    notes: list[str] = []
    flows = sourcing.trade_shares(
        dataset, years=year_, minerals=minerals, regions=[label] if region else None
    )
    imports = flows[flows["importer"] == label]
    by_mineral = imports.groupby("mineral", sort=False, observed=True)["content_t"].sum()
    shown = [str(m) for m in dataset.minerals if by_mineral.get(m, 0.0) > 0]
    if minerals is not None:
        missing = [m for m in minerals if m not in shown]
        if missing:
            notes.append(f"{label} imports no {', '.join(missing)} in {year_} (left out)")
    if not shown:
        asked = f" of {', '.join(minerals)}" if minerals is not None else ""
        raise RiskEngineError(
            f"{label} imports none{asked} in {year_} in the dataset {dataset.name!r}; choose "
            f"another year (--year) or mineral"
        )
    if progress is not None:
        progress(f"{label}, {year_}: {_count(len(shown), 'mineral')} imported; scoring")
    sub = dataset.sel(minerals=shown)
    method = "eu" if region else "riskengine"
    params: dict[str, Any] = {"regions": {label: members}} if region else {}
    result, caught = _quietly(score, sub, method=method, **params)
    notes += caught
    notes += [n for n in result.notes if n not in notes]
    scores = result.scores[(result.scores["country"] == label) & (result.scores["year"] == year_)]
    computed = f"scored with riskengine ({METHOD_NAMES[method]} method)"
    src_scores = _source(dataset, ["production", "trade", "governance"], computed)
    src_trade = _source(dataset, ["trade"], "contained content by riskengine's product catalogue")

    ranking = None
    if sweep:
        if progress is not None:
            progress(f"sweep: every single-exporter ban of {_count(len(shown), 'mineral')}")
        swept, caught = _quietly(run_sweep, sub, year=year_, progress=_sweep_progress(progress))
        notes += [n for n in [*caught, *swept.notes] if n not in notes]
        impacts = sourcing.region_impacts(swept.impacts, label) if region else swept.impacts
        impacts = impacts[(impacts["country"] == label) & (impacts["shortfall_pct"] > 0)]
        ranking = impacts.sort_values(
            ["shortfall_pct", "shortfall_t", "ban"], ascending=[False, False, True]
        ).reset_index(drop=True)

    sections = [_overview_section(label, year_, scores, result.factors, method, src_scores)]
    if ranking is not None:
        sections.append(
            _bans_section(
                label,
                year_,
                ranking,
                _source(
                    sub,
                    ["production", "trade"],
                    "ban sweep by riskengine (scenario engine, two-region market)",
                ),
            )
        )
    if label == "EU27":
        crma = sourcing.single_country_dependence(dataset, label, years=year_, minerals=shown)
        sections.append(_crma_section(crma, year_, _source(dataset, ["production", "trade"])))
    order = scores.groupby("mineral", observed=True)["score"].max().reindex(shown).fillna(-1.0)
    if progress is not None:
        progress("charts: supply chains, suppliers, concentration")
    for mineral in sorted(shown, key=lambda m: (-order[m], m)):
        sections.append(
            _mineral_section(
                dataset,
                label,
                year_,
                mineral,
                imports[imports["mineral"] == mineral],
                scores[scores["mineral"] == mineral],
                result,
                ranking,
                src_trade,
            )
        )
    top = scores.sort_values("score", ascending=False).head(1)
    facts = [
        ("country" if not region else "region", _name(label)),
        ("year", str(year_)),
        (
            "minerals imported",
            f"{len(shown)} ({len(imports[['mineral', 'stage']].drop_duplicates())} "
            "mineral/stage pairs)",
        ),
    ]
    if len(top) and pd.notna(top["score"].iloc[0]):
        row = top.iloc[0]
        facts.append(
            ("highest score", f"{row['mineral']} {row['stage']}: {float(row['score']):.3f}")
        )
    if ranking is not None and len(ranking):
        row = ranking.iloc[0]
        facts.append(
            (
                "worst single ban",
                f"{row['exporter']} on {row['mineral']} {row['stage']}: "
                f"{float(row['shortfall_pct']):.0f} % short",
            )
        )
    return Document(
        title=f"Mineral supply dossier: {_name(label)}",
        subtitle=f"{year_} flows and scores; dataset {dataset.name}; method {METHOD_NAMES[method]}",
        facts=tuple(facts),
        sections=tuple(sections),
        notes=tuple(notes),
        sources=tuple(_source_heads(dataset)),
    )


def _overview_section(
    label: str,
    year: int,
    scores: pd.DataFrame,
    factors: Sequence[str],
    method: str,
    source: str,
) -> Section:
    rows = scores.sort_values("score", ascending=False, na_position="last")
    labels = [_pair_label(m, s) for m, s in zip(rows["mineral"], rows["stage"], strict=True)]
    series = {FACTOR_NAMES.get(f, f): rows[f].tolist() for f in factors}
    hover = [
        f"score {s:.3f}" if pd.notna(s) else "score not available" for s in rows["score"].tolist()
    ]
    fig = hbar(labels, series, axis_title="contribution to the score", hover=hover)
    factor_cols = [c for c in factors if c in rows.columns]
    table = rows[["mineral", "stage", "score", *factor_cols, "imports_t", "import_reliance"]]
    table = table.rename(columns={f: FACTOR_NAMES.get(f, f) for f in factor_cols})
    table = table.rename(
        columns={"imports_t": "imports (t)", "import_reliance": "net import reliance"}
    )
    formats = {"score": ".3f", "net import reliance": "%", "imports (t)": "t"}
    formats.update({FACTOR_NAMES.get(f, f): ".3f" for f in factor_cols})
    missing = int(rows["score"].isna().sum())
    note = (
        f"{missing} pair(s) have no score (a supplier or producer without a governance "
        "figure; see the notes)"
        if missing
        else ""
    )
    if method == "eu":
        text = (
            f"Supply risk of the {label} by the EU method (European Commission 2017 "
            "guidelines), per mineral and stage: the global-supply and the sourcing terms add "
            "up to the score. Imports are from outside the region.",
        )
        units = "EU supply risk"
    else:
        text = (
            f"riskengine's composite score of {_name(label)} per mineral and stage it imports "
            "(0-1): the contributions of its five factors add up to the score.",
        )
        units = "composite score, 0-1"
    chart = make_chart(
        fig,
        title=f"Supply risk of {_name(label)} by mineral and stage, factor contributions",
        units=units,
        year=str(year),
        source=source,
        table=table.reset_index(drop=True),
        formats=formats,
        note=note,
    )
    return Section("Risk scores", "scores", text, (chart,))


def _bans_section(label: str, year: int, ranking: pd.DataFrame, source: str) -> Section:
    top = ranking.head(TOP)
    labels = [
        f"{e} bans {m} {s}" + (f" → {a}" if a != s else "")
        for e, m, s, a in zip(
            top["exporter"], top["mineral"], top["stage"], top["affected_stage"], strict=True
        )
    ]
    hover = [
        f"{_t(t)} t short of {_t(c)} t"
        for t, c in zip(top["shortfall_t"], top["consumption_t"], strict=True)
    ]
    fig = hbar(
        labels,
        {"shortfall": top["shortfall_pct"].tolist()},
        axis_title="shortfall, % of demand",
        percent=True,
        hover=hover,
        colours={"shortfall": "#d62728"},
    )
    table = top[
        [
            "exporter",
            "mineral",
            "stage",
            "affected_stage",
            "consumption_t",
            "blocked_t",
            "shortfall_t",
            "shortfall_pct",
            "score_change",
        ]
    ].rename(
        columns={
            "stage": "banned stage",
            "affected_stage": "stage short",
            "consumption_t": "demand (t)",
            "blocked_t": "blocked (t)",
            "shortfall_t": "shortfall (t)",
            "shortfall_pct": "shortfall (%)",
            "score_change": "score change",
        }
    )
    chart = make_chart(
        fig,
        title=f"Largest single-exporter ban exposures of {_name(label)}",
        units="shortfall as % of demand",
        year=str(year),
        source=source,
        table=table.reset_index(drop=True),
        formats={"shortfall (%)": ".1f", "score change": "+.3f"},
        note=f"{len(ranking)} bans leave {label} short; the {len(top)} largest are drawn. "
        "A ban stops all of one exporter's exports of one mineral at one stage; shortfalls "
        "are after the market's response (deflection, pass-through, propagation to refiners).",
    )
    return Section(
        "Single-exporter bans",
        "bans",
        (
            "Every exporter of every mineral shown was banned in turn (riskengine sweep); "
            f"these bans would leave {_name(label)} shortest of supply.",
        ),
        (chart,),
    )


def _crma_section(crma: pd.DataFrame, year: int, source: str) -> Section:
    from riskengine.sourcing import CRMA_THRESHOLD

    rows = crma.sort_values(["strategic", "top_share"], ascending=[False, False])
    rows = rows[rows["top_share"].notna()]
    labels = [_pair_label(m, s) for m, s in zip(rows["mineral"], rows["stage"], strict=True)]
    share = 100.0 * rows["top_share"]
    strategic = rows["strategic"].to_numpy()
    fig = hbar(
        labels,
        {
            "strategic raw material": np.where(strategic, share, np.nan).tolist(),
            "other": np.where(~strategic, share, np.nan).tolist(),
        },
        axis_title="largest single third country, % of EU consumption",
        percent=True,
        hover=[f"from {c}" for c in rows["top_supplier"]],
        colours={"strategic raw material": "#1f77b4", "other": "#9fb7cc"},
        line_at=100.0 * CRMA_THRESHOLD,
        line_label="65 % benchmark",
    )
    table = crma.rename(
        columns={
            "production_t": "EU production (t)",
            "imports_t": "imports (t)",
            "exports_t": "exports (t)",
            "consumption_t": "consumption (t)",
            "top_supplier": "largest supplier",
            "top_supplier_t": "from it (t)",
            "top_share": "share of consumption",
            "above_threshold": "above 65 %",
            "strategic": "strategic",
        }
    ).drop(columns=["year", "importer", "basis"])
    above = rows[rows["above_threshold"].fillna(False).astype(bool) & rows["strategic"]]
    chart = make_chart(
        fig,
        title="Critical Raw Materials Act: EU consumption from its largest single third country",
        units="% of apparent consumption",
        year=str(year),
        source=source,
        table=table.reset_index(drop=True),
        formats={"share of consumption": "%"},
        note="Consumption = EU production + imports from outside the EU - exports outside it; "
        "a share is capped at 100 % where re-exports make one country's imports exceed it. "
        "Pairs where the EU is a net exporter have no share.",
    )
    text = (
        "Regulation (EU) 2024/1252 sets the benchmark that by 2030 no more than 65 % of the "
        "EU's annual consumption of each strategic raw material, at any relevant stage of "
        "processing, comes from a single third country. "
        + (
            f"In {year}, {len(above)} strategic mineral/stage pairs are above it: "
            + sequence_text(
                [_pair_label(m, s) for m, s in zip(above["mineral"], above["stage"], strict=True)],
                12,
            )
            + "."
            if len(above)
            else f"In {year}, no strategic mineral/stage pair shown is above it."
        ),
    )
    return Section("Critical Raw Materials Act: the 65 % test", "crma", text, (chart,))


def _mineral_section(
    ds: Dataset,
    label: str,
    year: int,
    mineral: str,
    imports: pd.DataFrame,
    scores: pd.DataFrame,
    result: Any,
    ranking: pd.DataFrame | None,
    src_trade: str,
) -> Section:
    from riskengine import sourcing

    name = _mineral_name(ds, mineral)
    units = _units(ds, mineral)
    by_stage = imports.groupby("stage", observed=True, sort=False)["content_t"].sum()
    stages = [s for s in ds.stages if by_stage.get(s, 0.0) > 0]
    text = [
        f"Imports of {_name(label)} in {year}: "
        + sequence_text([f"{s} {_t(by_stage[s])} t" for s in stages], 4)
        + f" ({_basis(ds, mineral)})."
    ]
    items: list[Chart | Table] = []
    links = sourcing.supply_chain(ds, label, mineral, year)
    if len(links):
        fig, lumped = sankey(
            links, names=_names([*links["source"], *links["target"]]), units=units.split(" ")[0]
        )
        assumed = sorted(set(links.loc[links["assumed"], "source"]))
        note_parts = []
        if lumped:
            note_parts.append(f"the smallest {lumped} origins or refiners are drawn as 'other'")
        if assumed:
            note_parts.append(
                f"feed unknown for {sequence_text(assumed)}, taken as its own ore origin"
            )
        table = links.rename(
            columns={
                "source": "from",
                "source_role": "role",
                "target": "to",
                "target_role": "to role",
                "stage": "reaches as",
                "content_t": "tonnes",
            }
        ).drop(columns=["assumed"])
        items.append(
            make_chart(
                fig,
                title=f"{name} supply chain into {_name(label)}: ore and intermediate origin → "
                "refinery → importer",
                units=units,
                year=str(year),
                source=src_trade + "; refinery feed: mine output kept plus ore and "
                "intermediate imports",
                table=table,
                formats={"tonnes": "t"},
                note=_sentence(note_parts),
            )
        )
    items.append(_supplier_chart(ds, label, year, mineral, imports, stages, units, src_trade))
    conc = _concentration_chart(ds, result.concentration, mineral, _source(ds, ["production"]))
    if conc is not None:
        items.append(conc)
    if len(scores):
        factor_cols = [c for c in result.factors if c in scores.columns]
        cols = ["stage", "score", *factor_cols, "import_reliance", "imports_t", "exports_t"]
        frame = scores[[c for c in cols if c in scores.columns]].rename(
            columns={
                **{f: FACTOR_NAMES.get(f, f) for f in factor_cols},
                "import_reliance": "net import reliance",
                "imports_t": "imports (t)",
                "exports_t": "exports (t)",
            }
        )
        items.append(
            Table(
                f"{name}: score of {_name(label)} and the contribution of each factor, {year}",
                frame.reset_index(drop=True),
                {
                    "score": ".3f",
                    "net import reliance": "%",
                    **{FACTOR_NAMES.get(f, f): ".3f" for f in factor_cols},
                },
            )
        )
    if ranking is not None:
        bans = ranking[ranking["mineral"] == mineral].head(5)
        if len(bans):
            items.append(
                Table(
                    f"{name}: the single-exporter bans that hurt {label} most, {year} "
                    f"(shortfall in {units} and % of demand)",
                    bans[["exporter", "stage", "affected_stage", "shortfall_t", "shortfall_pct"]]
                    .rename(
                        columns={
                            "stage": "banned stage",
                            "affected_stage": "stage short",
                            "shortfall_t": "shortfall (t)",
                            "shortfall_pct": "shortfall (%)",
                        }
                    )
                    .reset_index(drop=True),
                    {"shortfall (%)": ".1f"},
                )
            )
    return Section(name, f"m-{_anchor(mineral)}", tuple(text), tuple(items))


def _supplier_chart(
    ds: Dataset,
    label: str,
    year: int,
    mineral: str,
    imports: pd.DataFrame,
    stages: Sequence[str],
    units: str,
    source: str,
) -> Chart:
    totals = imports.groupby("exporter", observed=True)["content_t"].sum()
    # the largest suppliers at each stage, drawn by name; the rest as "other"
    largest = imports.sort_values("content_t", ascending=False).groupby("stage", observed=True)
    wanted = set(largest.head(SUPPLIERS_SHOWN)["exporter"].astype(str))
    named = [str(c) for c in totals.sort_values(ascending=False).index if str(c) in wanted]
    series: dict[str, list[float]] = {}
    for supplier in [*named, "other"]:
        values = []
        for stage in stages:
            part = imports[imports["stage"] == stage]
            picked = (
                part[~part["exporter"].isin(named)]
                if supplier == "other"
                else part[part["exporter"] == supplier]
            )
            values.append(100.0 * float(picked["import_share"].sum()))
        if any(v > 0 for v in values):
            series[supplier] = values
    colours = {"other": "#c7c7c7"}
    fig = hbar(
        list(stages),
        series,
        axis_title="share of imports at the stage",
        percent=True,
        colours=colours,
    )
    table = imports[["stage", "exporter", "content_t", "import_share"]].rename(
        columns={"exporter": "supplier", "content_t": "tonnes", "import_share": "share"}
    )
    table.insert(2, "name", [_name(str(c)) for c in table["supplier"]])
    return make_chart(
        fig,
        title=f"Suppliers of {_mineral_name(ds, mineral).lower()} to {_name(label)}, by stage",
        units="% of imports at each stage",
        year=str(year),
        source=source,
        table=table.reset_index(drop=True),
        formats={"tonnes": "t", "share": "%"},
        note=f"Tonnes in {units}."
        + (
            f" Suppliers beyond the {SUPPLIERS_SHOWN} largest at each stage are drawn as 'other'."
            if len(named) < imports["exporter"].nunique()
            else ""
        ),
    )


# ----------------------------------------------------------------- mineral
def mineral_dossier(dataset: Dataset, mineral: str, *, year: int | None = None) -> Document:
    """Build the dossier of one mineral: production, concentration, trade and buyers.

    Parameters
    ----------
    dataset
        The whole dataset (every year: concentration is shown over the years).
    mineral
        Mineral id.
    year
        Year of the flows and of the production maps (default: the latest
        year in which the mineral has both production and trade).

    Returns
    -------
    Document

    Raises
    ------
    UnknownLabelError
        For an unknown mineral or year.
    """
    from riskengine import sourcing
    from riskengine.methods import score

    if not isinstance(dataset, Dataset):
        raise bad_argument("mineral_dossier", "dataset", "a Dataset", dataset)
    dataset.positions("mineral", [mineral])
    sub = dataset.sel(minerals=[mineral])
    year_ = _year(sub, year)
    name = _mineral_name(dataset, mineral)
    units = _units(dataset, mineral)
    result, notes = _quietly(score, sub)
    notes += [n for n in result.notes if n not in notes]
    src_prod = _source(sub, ["production"])
    src_trade = _source(sub, ["trade"], "contained content by riskengine's product catalogue")

    sections: list[Section] = []
    maps: list[Chart | Table] = []
    for s, stage in enumerate(sub.stages):
        recorded = [int(y) for t, y in enumerate(sub.years) if sub.production[0, s, t].sum() > 0]
        if not recorded:
            continue
        # the dossier's year, else the latest year before it (or after) with figures
        earlier = [y for y in recorded if y <= year_]
        shown_year = year_ if year_ in recorded else (earlier or recorded)[-1]
        output = sub.production[0, s, sub.years.get_loc(shown_year)]
        order = np.argsort(-output)
        order = order[output[order] > 0]
        codes = [str(c) for c in sub.countries[order]]
        tonnes = output[order]
        shares = tonnes / output.sum()
        names = [_name(c) for c in codes]
        fig = choropleth(
            codes,
            tonnes.tolist(),
            names,
            colorbar_title=units.split(" ")[0],
            hover=[f"{100 * x:.1f} % of world" for x in shares],
        )
        table = pd.DataFrame({"country": codes, "name": names, "tonnes": tonnes, "share": shares})
        verb = {"mining": "mine", "refining": "refinery"}.get(str(stage), str(stage))
        maps.append(
            make_chart(
                fig,
                title=f"World {name.lower()} {verb} production by country",
                units=units,
                year=str(shown_year),
                source=src_prod,
                table=table,
                formats={"tonnes": "t", "share": "%"},
                note=(
                    f"No {verb} production figures for {year_}; {shown_year} is the nearest "
                    "year with them. "
                    if shown_year != year_
                    else ""
                )
                + "Countries too small for the 1:110m map (and a source's residual 'other "
                "countries', XOT) are in the table only.",
            )
        )
    if maps:
        sections.append(
            Section(
                "World production",
                "production",
                (f"Production of {name.lower()} by stage and country ({_basis(sub, mineral)}).",),
                tuple(maps),
            )
        )
    else:
        notes.append(f"no production of {mineral} is recorded in {year_}")
    conc = _concentration_chart(sub, result.concentration, mineral, src_prod)
    if conc is not None:
        sections.append(Section("Concentration over time", "concentration", (), (conc,)))

    flows = sourcing.trade_shares(sub, years=year_)
    if len(flows):
        sections.append(_trade_section(sub, mineral, year_, flows, units, src_trade))
        scores = result.scores[result.scores["year"] == year_]
        sections.append(_destination_section(sub, mineral, year_, flows, scores, units, src_trade))
    else:
        notes.append(f"no trade of {mineral} is recorded in {year_}")
    world = result.concentration[
        (result.concentration["mineral"] == mineral) & (result.concentration["year"] == year_)
    ]
    facts = [("mineral", name), ("year", str(year_)), ("tonnes", units)]
    for row in world.itertuples():
        facts.append(
            (
                f"{row.stage} HHI",
                f"{row.hhi_10000:,.0f} (largest: {row.top_producer} {100 * row.cr1:.0f} %)",
            )
        )
    return Document(
        title=f"Mineral dossier: {name}",
        subtitle=f"{year_} production and trade; dataset {dataset.name}",
        facts=tuple(facts),
        sections=tuple(sections),
        notes=tuple(notes),
        sources=tuple(_source_heads(sub)),
    )


def _trade_section(
    ds: Dataset, mineral: str, year: int, flows: pd.DataFrame, units: str, source: str
) -> Section:
    name = _mineral_name(ds, mineral).lower()
    charts: list[Chart | Table] = []
    for side, verb in (("exporter", "exporters"), ("importer", "importers")):
        totals = (
            flows.groupby([side, "stage"], observed=True)["content_t"].sum().unstack(fill_value=0)
        )
        stages = [s for s in ds.stages if s in totals.columns]
        totals = totals[stages]
        top = totals.loc[totals.sum(axis=1).sort_values(ascending=False).index[:TOP]]
        fig = hbar(
            [str(c) for c in top.index],
            {s: top[s].tolist() for s in stages},
            axis_title=units,
            colours=STAGE_COLOURS,
            hover=[_name(str(c)) for c in top.index],
        )
        table = totals.loc[totals.sum(axis=1).sort_values(ascending=False).index].reset_index()
        table = table.rename(columns={side: "country"})
        table.insert(1, "name", [_name(str(c)) for c in table["country"]])
        table["total"] = table[stages].sum(axis=1)
        charts.append(
            make_chart(
                fig,
                title=f"Largest {verb} of {name}, by stage",
                units=units,
                year=str(year),
                source=source,
                table=table,
                formats={s: "t" for s in [*stages, "total"]},
                note=f"The {len(top)} largest of {len(totals)} are drawn; all are in the table.",
            )
        )
    return Section(
        "Exporters and importers",
        "trade",
        (f"Trade in {name} by stage: tonnes of contained content ({_basis(ds, mineral)}).",),
        tuple(charts),
    )


def _destination_section(
    ds: Dataset,
    mineral: str,
    year: int,
    flows: pd.DataFrame,
    scores: pd.DataFrame,
    units: str,
    source: str,
) -> Section:
    name = _mineral_name(ds, mineral).lower()
    exporters = scores[scores["exports_t"] > 0].sort_values("exports_t", ascending=False)
    top = exporters.head(TOP + 5).sort_values("destination_hhi", ascending=False)
    first = flows.sort_values("export_share", ascending=False).drop_duplicates(
        ["stage", "exporter"]
    )
    first = first.set_index(["exporter", "stage"])
    keys = list(zip(top["country"].astype(str), top["stage"].astype(str), strict=True))
    buyer = [first["importer"].get(k, "") for k in keys]
    buyer_share = [float(first["export_share"].get(k, np.nan)) for k in keys]
    fig = hbar(
        [f"{c} · {s}" for c, s in keys],
        {"destination HHI": top["destination_hhi"].tolist()},
        axis_title="destination HHI (0-1)",
        hover=[
            f"{_name(c)}: {_t(e)} t exported, {100 * x:.0f} % to {b}"
            for (c, _), e, b, x in zip(keys, top["exports_t"], buyer, buyer_share, strict=True)
        ],
        colours={"destination HHI": "#2ca02c"},
    )
    table = pd.DataFrame(
        {
            "exporter": [c for c, _ in keys],
            "stage": [s for _, s in keys],
            "exports (t)": top["exports_t"].to_numpy(),
            "destination HHI": top["destination_hhi"].to_numpy(),
            "largest buyer": buyer,
            "its share": buyer_share,
            "export-concentration factor": top["export_concentration"].to_numpy(),
        }
    )
    chart = make_chart(
        fig,
        title=f"How concentrated the buyers of the largest {name} exporters are",
        units="Herfindahl-Hirschman index of export destinations, 0-1",
        year=str(year),
        source=source,
        table=table,
        formats={
            "exports (t)": "t",
            "destination HHI": ".3f",
            "its share": "%",
            "export-concentration factor": ".3f",
        },
        note=f"The {len(top)} largest exporter/stage pairs by tonnes ({units}). An HHI of 1 "
        "is a single buyer; the composite's export-concentration factor weighs it by the "
        "share of the exporter's supply it exports.",
    )
    return Section(
        "Exporters' dependence on their buyers",
        "destinations",
        (
            "An exporter that sells most of its output to one buyer (such as Peru's copper "
            "concentrate to China) is exposed to that buyer's demand and policy.",
        ),
        (chart,),
    )


# ---------------------------------------------------------------- scenario
def scenario_dossier(dataset: Dataset, scenario: Any, *, method: str = "riskengine") -> Document:
    """Build the dossier of a scenario: shortfalls, prices, scores before and after.

    Parameters
    ----------
    dataset
        The whole dataset; the scenario's year is taken from it.
    scenario
        A :class:`riskengine.scenarios.Scenario`, a scenario file or the name
        of a bundled one.
    method
        Scoring method of the baseline and shocked scores.

    Returns
    -------
    Document

    Raises
    ------
    ScenarioError
        For an invalid scenario, or a year the dataset does not have.
    """
    from riskengine.scenarios import Scenario, load_scenario, run_scenario

    if not isinstance(dataset, Dataset):
        raise bad_argument("scenario_dossier", "dataset", "a Dataset", dataset)
    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    if sc.year not in dataset.years:
        raise ScenarioError(
            f"{sc.locate(('year',))}: the dataset {dataset.name!r} has no year {sc.year}; "
            f"valid: {', '.join(str(int(y)) for y in dataset.years)}"
        )
    result, notes = _quietly(run_scenario, dataset.sel(years=sc.year), sc, method=method)
    notes += [n for n in result.notes if n not in notes]
    year = str(sc.year)
    where = Path(sc.origin).name if sc.origin else sc.name
    source = _source(
        dataset, ["production", "trade"], f"scenario {where} run by riskengine ({method})"
    )
    shocks = pd.DataFrame(
        [
            {
                "shock": getattr(shock, "label", None) or shock.type,
                "type": shock.type,
                "details": "; ".join(
                    f"{k}: {', '.join(map(str, v)) if isinstance(v, list) else v}"
                    for k, v in shock.model_dump(exclude_none=True).items()
                    if k not in ("type", "label")
                ),
            }
            for shock in sc.shocks
        ]
    )
    sections = [
        Section(
            "Scenario",
            "scenario",
            (
                f"{sc.name}"
                + (" (hypothetical)" if sc.hypothetical else "")
                + f": baseline year {sc.year}, lasting {sc.months:g} months.",
                *[f"Source: {s}" for s in sc.sources],
            ),
            (Table(f"Shocks of {where}", shocks),),
        )
    ]
    market = result.market
    if len(market):
        sections.append(_market_section(market, year, source))
    importers = result.importers
    short = importers[importers["shortfall_t"] >= 0.5]
    if len(short):
        sections.append(_shortfall_section(short, year, sc.months, source))
    sections.append(_score_section(result, year, source))
    top = short.sort_values("shortfall_t", ascending=False).head(1)
    facts = [("scenario", sc.name), ("baseline year", year), ("duration", f"{sc.months:g} months")]
    for row in market.itertuples():
        facts.append(
            (
                f"price, {row.mineral} {row.stage}",
                f"{row.price_change_pct:+,.0f} % ({row.price_change_low_pct:+,.0f} to "
                f"{row.price_change_high_pct:+,.0f} %)",
            )
        )
    if len(top):
        row = top.iloc[0]
        facts.append(
            (
                "most short",
                f"{row['country']}: {row['shortfall_t']:,.0f} t a year "
                f"({row['shortfall_pct']:.0f} %)",
            )
        )
    return Document(
        title=f"Scenario dossier: {sc.name}",
        subtitle=f"{where}; baseline {sc.year}; dataset {dataset.name}; "
        f"method {METHOD_NAMES.get(method, method)}",
        facts=tuple(facts),
        sections=tuple(sections),
        notes=tuple(notes),
        sources=tuple([*sc.sources, *_source_heads(dataset)]),
    )


#: Market ledger columns of a scenario result, with their chart names.
LEDGER: dict[str, str] = {
    "production_lost_t": "production lost",
    "propagated_loss_t": "refined output lost",
    "blocked_t": "blocked",
    "deflected_t": "deflected",
    "withheld_t": "withheld",
    "quota_withheld_t": "over quota",
    "redirected_t": "redirected",
    "passed_on_t": "passed on",
    "new_supply_t": "new supply",
    "stockpile_draw_t": "stockpile drawn",
}


def _market_section(market: pd.DataFrame, year: str, source: str) -> Section:
    labels = [_pair_label(m, s) for m, s in zip(market["mineral"], market["stage"], strict=True)]
    price = make_chart(
        hbar(
            labels,
            {
                "outside the restricting countries": market["price_change_pct"].tolist(),
                "inside": market["price_change_inside_pct"].tolist(),
            },
            axis_title="price change, %",
            percent=True,
            stacked=False,
            error=(
                market["price_change_low_pct"].tolist(),
                market["price_change_high_pct"].tolist(),
            ),
            colours={"outside the restricting countries": "#d62728", "inside": "#1f77b4"},
        ),
        title="Price change while the shock lasts, outside and inside the restricting countries",
        units="% against the baseline price; bar: low-high band",
        year=year,
        source=source + "; two-region market model",
        table=market[
            [
                "mineral",
                "stage",
                "gap_fraction",
                "price_change_pct",
                "price_change_low_pct",
                "price_change_high_pct",
                "price_change_inside_pct",
            ]
        ]
        .rename(
            columns={
                "gap_fraction": "gap",
                "price_change_pct": "outside (%)",
                "price_change_low_pct": "low (%)",
                "price_change_high_pct": "high (%)",
                "price_change_inside_pct": "inside (%)",
            }
        )
        .reset_index(drop=True),
        formats={
            "gap": "%",
            "outside (%)": "+,.1f",
            "low (%)": "+,.1f",
            "high (%)": "+,.1f",
            "inside (%)": "+,.1f",
        },
        note="The band is the price at the low and high ends of the market parameters' "
        "ranges; no inside price where the restricting countries record no consumption.",
    )
    moved = [c for c in LEDGER if c in market.columns and (market[c].fillna(0) != 0).any()]
    items: list[Chart | Table] = [price]
    if moved:
        ledger = make_chart(
            hbar(
                labels,
                {LEDGER[c]: market[c].tolist() for c in moved},
                axis_title="tonnes a year",
                stacked=False,
            ),
            title="Tonnes moved by each mechanism while the shock lasts",
            units="t a year, contained content",
            year=year,
            source=source,
            table=market[["mineral", "stage", "world_production_t", "world_trade_t", *moved]]
            .rename(
                columns={
                    "world_production_t": "world production (t)",
                    "world_trade_t": "world trade (t)",
                    **LEDGER,
                }
            )
            .reset_index(drop=True),
        )
        items.append(ledger)
    return Section(
        "Market and price",
        "market",
        ("The market's response per mineral and stage, and the two-region price.",),
        tuple(items),
    )


def _shortfall_section(short: pd.DataFrame, year: str, months: float, source: str) -> Section:
    by_t = short.sort_values("shortfall_t", ascending=False).head(TOP)
    labels = [
        f"{c} · {m} {s}"
        for c, m, s in zip(by_t["country"], by_t["mineral"], by_t["stage"], strict=True)
    ]
    columns = {
        "country": "country",
        "mineral": "mineral",
        "stage": "stage",
        "consumption_t": "consumption (t)",
        "shortfall_t": "shortfall (t a year)",
        "shortfall_pct": "shortfall (% of demand)",
        "shortfall_over_duration_t": "over the shock (t)",
        "cover_days": "cover from stocks (days)",
        "extra_cost_usd": "extra cost (USD)",
        "price_change_pct": "price faced (%)",
        "stockpile_t": "stockpile released (t)",
    }
    table = short.sort_values("shortfall_t", ascending=False)[list(columns)]
    table = table.rename(columns=columns).reset_index(drop=True)
    formats = {
        "shortfall (% of demand)": ".1f",
        "cover from stocks (days)": ",.0f",
        "extra cost (USD)": ",.0f",
        "price faced (%)": "+.1f",
    }
    tonnes = make_chart(
        hbar(
            labels,
            {"shortfall": by_t["shortfall_t"].tolist()},
            axis_title="t a year",
            colours={"shortfall": "#d62728"},
            hover=[f"{p:.1f} % of demand" for p in by_t["shortfall_pct"]],
        ),
        title="Shortfall per importer while the shock lasts",
        units="t a year, contained content",
        year=year,
        source=source,
        table=table,
        formats=formats,
        note=f"Over the shock's {months:g} months the shortfall is the 'over the shock' column.",
    )
    by_pct = short.sort_values("shortfall_pct", ascending=False).head(TOP)
    cover = by_pct["stockpile_cover_days"]
    pct = make_chart(
        hbar(
            [
                f"{c} · {m} {s}"
                for c, m, s in zip(
                    by_pct["country"], by_pct["mineral"], by_pct["stage"], strict=True
                )
            ],
            {"shortfall": by_pct["shortfall_pct"].tolist()},
            axis_title="% of demand",
            percent=True,
            colours={"shortfall": "#ff7f0e"},
            hover=[
                f"{_t(t)} t a year; stockpile cover {d:,.0f} days"
                if pd.notna(d)
                else f"{_t(t)} t a year"
                for t, d in zip(by_pct["shortfall_t"], cover, strict=True)
            ],
        ),
        title="Shortfall per importer as a share of its demand",
        units="% of demand",
        year=year,
        source=source,
        table=table.sort_values("shortfall (% of demand)", ascending=False).reset_index(drop=True),
        formats=formats,
        note="Days of cover: how long the importer's stockpile covers its demand.",
    )
    return Section(
        "Shortfalls",
        "shortfalls",
        (f"{len(short)} importer/stage pairs are short of supply (1 t a year or more).",),
        (tonnes, pct),
    )


def _score_section(result: Any, year: str, source: str) -> Section:
    changes = result.score_changes()
    changes = changes[changes["delta"].abs() >= 0.0005]
    top = changes.loc[changes["delta"].abs().sort_values(ascending=False).index].head(TOP)
    labels = [
        f"{c} · {m} {s}"
        for c, m, s in zip(top["country"], top["mineral"], top["stage"], strict=True)
    ]
    chart = make_chart(
        hbar(
            labels,
            {"baseline": top["baseline"].tolist(), "shocked": top["shocked"].tolist()},
            axis_title="score",
            stacked=False,
            colours={"baseline": "#7f7f7f", "shocked": "#d62728"},
            hover=[f"change {d:+.3f}" for d in top["delta"]],
        ),
        title=f"Scores before and after the shock ({METHOD_NAMES.get(result.method, result.method)}"
        ")",
        units="score",
        year=year,
        source=source,
        table=changes.loc[changes["delta"].abs().sort_values(ascending=False).index][
            ["mineral", "stage", "country", "baseline", "shocked", "delta"]
        ].reset_index(drop=True),
        formats={"baseline": ".3f", "shocked": ".3f", "delta": "+.3f"},
        note=f"The {len(top)} largest changes of {len(changes)} are drawn.",
    )
    return Section("Scores before and after", "scores", (), (chart,))


__all__ = ["country_dossier", "mineral_dossier", "scenario_dossier"]
