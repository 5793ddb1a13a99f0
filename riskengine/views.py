r"""Analyst views of scores: what ``riskengine score`` computes, as a library.

:func:`score_view` answers one request (minerals, countries or regions, a
stage, a year, optionally a scenario) with a :class:`ScoreView`: the scores
of the countries asked for (or of every importer), the baseline beside them
when a scenario is applied, each importer's share of world imports and
whether it is a re-export hub, the production concentration, and every note.
The command line only parses, calls it and renders.

Which importers matter
----------------------
The "most exposed importers" (:meth:`ScoreView.exposed`) are ranked by
score among the importers that matter:

* **Volume floor.** An importer counts when its imports are at least
  :data:`MAJOR_IMPORTER_SHARE` (1 %) of world imports of the mineral at the
  stage in the year. Below that, a handful of tonnes from one supplier gives
  a micro-importer the highest exposure of all while it stands for a
  negligible part of the trade (on the embedded data, 2024, the five cobalt
  importers scoring next below Namibia and China - Ireland, Bulgaria, Sweden,
  Lebanon and Iraq - each take less than 0.1 % of world imports).
* **Re-export hubs.** A country is a re-export hub of a mineral at a stage
  when it imports and its exports at the stage are between
  :data:`REEXPORT_HUB_RATIO` (80 %) and its inverse (125 %) of what it takes
  in at the stage, imports plus production:

  .. math:: \mathrm{hub}_{m,s,t,c} = M_{m,s,t,c} > 0 \;\wedge\;
            0.8 \le \frac{X_{m,s,t,c}}{M_{m,s,t,c} + P_{m,s,t,c}} \le \frac{1}{0.8}

  It passes on most of what it imports (Namibia's Walvis Bay for DR Congo's
  cobalt hydroxide: exports 97 % of its imports), so the exposure of its
  imports is its buyers' more than its own. A country exporting more than
  1.25 times its intake adds output of its own (production the data do not
  record at the stage, or a refined product sharing the stage's trade lines:
  Finland's and Canada's refined cobalt under the intermediate codes), and its
  imports are its own feed: it is not a hub. Hubs are marked
  (``reexport_hub``) and listed after the importers that consume what they
  import, never ranked first.

Both columns (``import_share``, ``reexport_hub``) are in every record, so the
rules can be re-applied with other thresholds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd

from riskengine.dims import REGIONS
from riskengine.errors import RiskEngineError, UnknownLabelError
from riskengine.results import Result

if TYPE_CHECKING:
    from riskengine.dataset import Dataset
    from riskengine.methods.base import ScoreResult
    from riskengine.scenarios.models import Scenario

#: Share of world imports (mineral, stage, year) below which an importer is left out
#: of the "most exposed importers" (:meth:`ScoreView.exposed`).
MAJOR_IMPORTER_SHARE = 0.01

#: A country whose exports at a stage are between this share of its imports plus
#: production there and its inverse is a re-export hub at that stage (:func:`mark_importers`).
REEXPORT_HUB_RATIO = 0.8

KEYS: tuple[str, ...] = ("mineral", "stage", "year")


def check_year(ds: Dataset, year: int) -> None:
    """Refuse a year without production or without trade, naming the years that have them.

    A year the dataset does not have at all is left to :meth:`Dataset.sel`,
    which names the valid years.

    Raises
    ------
    RiskEngineError
        Naming the years with production, the years with trade, and the
        latest year with both.
    """
    if year not in set(ds.years):
        return
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


def method_params(
    ds: Dataset,
    method: str,
    countries: Sequence[str] = (),
    *,
    stages: Sequence[str] | None = None,
    strict: bool = False,
) -> tuple[list[str], dict[str, Any]]:
    """Resolve the countries to report and the method's parameters for a request.

    Parameters
    ----------
    ds
        The dataset scored.
    method
        ``riskengine``, ``geopolrisk`` or ``eu``.
    countries
        ISO3 codes, names or regions (``EU27``) asked for; empty for all.
    stages
        Stages to score (None: all).
    strict
        Missing governance scores raise instead of giving NaN.

    Returns
    -------
    countries : list of str
        The labels to report: codes and regions; for the ``riskengine``
        method, which scores countries, a region stands for its members.
    params : dict
        Keyword arguments of the method: ``stages``, ``missing_governance``
        and the ``regions`` scored as one importer (GeoPolRisk: those asked
        for, else every built-in region; EU: each country asked for as its
        own sourcing scope plus the regions asked for, EU27 by default).
    """
    if stages:
        ds.positions("stage", list(stages))  # names the valid stages
    labels = ds.resolve_countries(list(countries), regions=True) or []
    if method == "riskengine":
        labels = list(
            dict.fromkeys(
                member
                for c in labels
                for member in (
                    [m for m in REGIONS[c] if m in ds.countries] if c in REGIONS else [c]
                )
            )
        )
    params: dict[str, Any] = {"stages": list(stages) if stages else None}
    if strict:
        params["missing_governance"] = "raise"
    named = [c for c in labels if c in REGIONS] or list(REGIONS)
    if method == "geopolrisk":
        params["regions"] = named
    elif method == "eu":
        params["regions"] = {
            **{c: [c] for c in labels if c not in REGIONS},
            **{r: REGIONS[r] for r in named},
        }
    return labels, params


def beside_baseline(shocked: pd.DataFrame, baseline: pd.DataFrame) -> pd.DataFrame:
    """Shocked scores with the baseline's ``score_baseline`` and ``score_change`` beside them.

    Rows are matched on mineral, stage, year and country; a country present
    on one side only has NaN on the other.
    """
    keys = [*KEYS, "country"]
    base = baseline[[*keys, "score"]].rename(columns={"score": "score_baseline"})
    out = shocked.merge(base, on=keys, how="outer")
    out["score_change"] = out["score"] - out["score_baseline"]
    return out


def mark_importers(scores: pd.DataFrame, *, hub_ratio: float = REEXPORT_HUB_RATIO) -> pd.DataFrame:
    r"""Add ``import_share`` and ``reexport_hub`` to a frame of scores.

    Parameters
    ----------
    scores
        Rows per (mineral, stage, year, country) with ``imports_t``,
        ``exports_t`` and ``production_t`` (columns a method lacks give NaN
        and False).
    hub_ratio
        A country importing at the stage whose exports are between
        ``hub_ratio`` and ``1 / hub_ratio`` of its imports plus production is a
        re-export hub (:data:`REEXPORT_HUB_RATIO`).

    Returns
    -------
    pandas.DataFrame
        A copy with ``import_share``: the row's imports over world imports of
        its (mineral, stage, year), world imports summed over countries only
        (a region would count its members twice), NaN without imports data;
        and ``reexport_hub`` (see the module's docstring for the reason).

    Notes
    -----
    .. math:: \mathrm{share}_{m,s,t,c} = M_{m,s,t,c} / \sum_{c'} M_{m,s,t,c'},\qquad
              \mathrm{hub}_{m,s,t,c} = M_{m,s,t,c} > 0 \wedge
              r \le X_{m,s,t,c} / (M_{m,s,t,c} + P_{m,s,t,c}) \le 1/r
    """
    out = scores.copy()
    if "imports_t" not in out.columns or out.empty:
        out["import_share"] = np.nan
        out["reexport_hub"] = False
        return out
    imports = out["imports_t"].astype(float)
    countries_only = out[~out["country"].isin(list(REGIONS))]
    world = countries_only.groupby(list(KEYS))["imports_t"].sum()
    total = world.reindex(pd.MultiIndex.from_frame(out[list(KEYS)])).to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["import_share"] = np.where(total > 0, imports.to_numpy() / total, np.nan)
    exports = out.get("exports_t", pd.Series(np.nan, index=out.index)).astype(float)
    production = out.get("production_t", pd.Series(0.0, index=out.index)).astype(float)
    intake = imports + production.fillna(0.0)
    passed_on = (exports >= hub_ratio * intake) & (exports <= intake / hub_ratio)
    out["reexport_hub"] = ((imports > 0) & passed_on).to_numpy(dtype=bool)
    return out


def exposed_importers(
    scores: pd.DataFrame, top: int, *, floor: float = MAJOR_IMPORTER_SHARE
) -> pd.DataFrame:
    """Rank the most exposed importers that matter; re-export hubs after them.

    Parameters
    ----------
    scores
        Frame of :func:`mark_importers`.
    top
        Importers ranked.
    floor
        Least share of world imports (:data:`MAJOR_IMPORTER_SHARE`); rows
        without a world total (a table of regions alone) are kept.

    Returns
    -------
    pandas.DataFrame
        The ``top`` importers at or above the floor that are not re-export
        hubs, by score (``rank`` 1, 2, ...), then the hubs above the floor
        whose score would have placed them among them (``rank`` NaN), by
        score.
    """
    share = scores["import_share"]
    major = scores[share.isna() | (share >= floor)] if "imports_t" in scores else scores
    ranked = major.sort_values("score", ascending=False, na_position="last", kind="stable")
    hub = ranked["reexport_hub"].astype(bool)
    leaders = ranked[~hub].head(top)
    cut = float(leaders["score"].min()) if len(leaders) == top else -np.inf
    hubs = ranked[hub & (ranked["score"] >= cut)].head(top)
    return pd.concat(
        [leaders.assign(rank=np.arange(1, len(leaders) + 1, dtype=float)), hubs.assign(rank=np.nan)]
    )


@dataclass(frozen=True, kw_only=True)
class ScoreView(Result):
    """The answer to one ``riskengine score`` request.

    Attributes
    ----------
    scores : pandas.DataFrame
        The method's scores (after the scenario's shocks when there is one,
        with ``score_baseline`` and ``score_change`` beside them) for the
        countries asked for, or for every importer, with ``import_share`` and
        ``reexport_hub`` (:func:`mark_importers`).
    concentration : pandas.DataFrame
        Production concentration per (mineral, stage, year), every stage with
        production (:meth:`records` keeps the stage scored).
    result : ScoreResult
        The method's result (of the shocked data under a scenario).
    countries : list of str or None
        The countries and regions asked for (None: every importer).
    year : int
        The year scored.
    scenario : Scenario or None
        The scenario applied.
    sources : tuple of str
        Sources of the dataset's rows and of the scenario.
    method, dataset, params, notes
        See :class:`~riskengine.results.Result`; the notes are the dataset's
        consistency findings on the data scored, then the method's (of the
        baseline and, under a scenario, of the shocked data).
    """

    TABLES: ClassVar[tuple[str, ...]] = ("scores", "concentration")

    scores: pd.DataFrame
    concentration: pd.DataFrame
    result: ScoreResult
    countries: list[str] | None
    year: int
    scenario: Scenario | None = None
    sources: tuple[str, ...] = ()

    def records(self) -> pd.DataFrame:
        """CSV/JSON records: one per (mineral, stage, year) with production, then the scores.

        The concentration records (``hhi``, ``cr1``, ``cr3``, ``top_producer``,
        ``world_production_t``) have an empty ``country``; the score records
        carry the method's columns, tonnes in contained content.
        """
        conc = self.concentration
        stages = self.params.get("stages")
        if stages:
            conc = conc[conc["stage"].isin(stages)]
        if self.countries is not None:  # only the pairs of the countries asked for
            shown = pd.MultiIndex.from_frame(self.scores[list(KEYS)]).unique()
            conc = conc[pd.MultiIndex.from_frame(conc[list(KEYS)]).isin(shown)]
        conc = conc.assign(country="")[[*KEYS, "country", *conc.columns.drop(list(KEYS))]]
        return pd.concat([conc, self.scores], ignore_index=True, sort=False)

    def exposed(self, top: int = 10, *, floor: float = MAJOR_IMPORTER_SHARE) -> pd.DataFrame:
        """Return the rows of the table view: the countries asked for, or the most exposed.

        Without countries, :func:`exposed_importers`; with countries, their
        rows by score.
        """
        if self.countries is not None:
            return self.scores.sort_values("score", ascending=False, na_position="last")
        return exposed_importers(self.scores, top, floor=floor)


def score_view(
    dataset: Dataset,
    *,
    method: str = "riskengine",
    minerals: Sequence[str] | None = None,
    countries: Sequence[str] | None = None,
    stage: str | None = None,
    year: int | None = None,
    scenario: Scenario | str | Path | None = None,
    strict: bool = False,
) -> ScoreView:
    """Score a request: the scores asked for, beside the baseline under a scenario.

    Parameters
    ----------
    dataset
        The whole dataset (its consistency is checked on the part scored).
    method
        ``riskengine`` (default), ``geopolrisk`` or ``eu``.
    minerals
        Mineral ids (None: all).
    countries
        Countries or regions whose scores to report (None or empty: every
        importer, for :meth:`ScoreView.exposed`).
    stage
        One stage (None: all).
    year
        Year (default: the scenario's year, else the latest with production
        and trade, :meth:`Dataset.latest_year`).
    scenario
        A scenario, its file, or the name of a bundled one: the scores after
        its shocks, with the baseline beside them.
    strict
        Fail on data gaps (consistency findings, missing governance scores).

    Returns
    -------
    ScoreView

    Raises
    ------
    RiskEngineError
        For an unknown method, mineral, country, stage or year, a year without
        production or trade, a ``year`` other than the scenario's, or (strict)
        a data gap.
    """
    from riskengine.methods import METHODS, score
    from riskengine.notes import warn_findings

    if method not in METHODS:
        raise UnknownLabelError("method", [method], METHODS)
    sc = _scenario(scenario, year)
    chosen = year if year is not None else (sc.year if sc else dataset.latest_year())
    check_year(dataset.sel(minerals=minerals or None), chosen)
    ds = dataset.sel(minerals=(minerals or None) if sc is None else None, years=chosen)
    shocked = None
    if sc is not None:
        from riskengine.scenarios import apply_scenario

        shocked = apply_scenario(ds, sc)
        if minerals:
            ds, shocked = ds.sel(minerals=minerals), shocked.sel(minerals=minerals)
    findings = warn_findings(ds, strict=strict)
    labels, params = method_params(
        ds, method, countries or (), stages=[stage] if stage else None, strict=strict
    )
    result = score(ds, method=method, **params)
    notes = [*findings, *result.notes]
    frame = result.to_frame()
    if shocked is not None:
        baseline = frame
        result = score(shocked, method=method, **params)
        notes += result.notes
        frame = beside_baseline(result.to_frame(), baseline)
    frame = mark_importers(frame)
    if countries:
        frame = frame[frame["country"].isin(labels)]
    sources = tuple(ds.sources) + (tuple(sc.sources) if sc is not None else ())
    return ScoreView(
        method=method,
        dataset=result.dataset,
        params={**result.params, "year": chosen, "scenario": sc.origin if sc else None},
        notes=tuple(notes),
        scores=frame.reset_index(drop=True),
        concentration=result.concentration.reset_index(drop=True),
        result=result,
        countries=labels if countries else None,
        year=int(chosen),
        scenario=sc,
        sources=sources,
    )


def _scenario(scenario: Scenario | str | Path | None, year: int | None) -> Scenario | None:
    """Load the scenario asked for; refuse a year other than its own."""
    if scenario is None:
        return None
    from riskengine.scenarios import Scenario, load_scenario

    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    if year is not None and year != sc.year:
        raise RiskEngineError(
            f"--year {year} differs from the year of the scenario {sc.origin} "
            f"({sc.year}); drop --year to score the scenario's year"
        )
    return sc
