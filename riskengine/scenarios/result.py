"""The result of a scenario run, and :func:`run_scenario` that produces it."""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd

from riskengine.dataset import Dataset
from riskengine.errors import RiskEngineError, bad_argument
from riskengine.methods import DEFAULT_METHOD, ScoreResult, against_baseline, score
from riskengine.results import Result
from riskengine.scenarios.engine import (
    importer_table,
    market_table,
    shocked_dataset,
    simulate,
)
from riskengine.scenarios.loading import load_scenario
from riskengine.scenarios.models import Scenario

logger = logging.getLogger(__name__)

SCORE_KEYS: tuple[str, ...] = ("mineral", "stage", "year", "country")
CONCENTRATION_KEYS: tuple[str, ...] = ("mineral", "stage", "year")


def compare(baseline: pd.DataFrame, shocked: pd.DataFrame, keys: tuple[str, ...]) -> pd.DataFrame:
    """Long table of every numeric measure: baseline, shocked and delta.

    Parameters
    ----------
    baseline, shocked
        Frames with the same key columns (rows may differ: a country that
        starts or stops trading is present on one side only; the other side
        is NaN).
    keys
        Key columns.

    Returns
    -------
    pandas.DataFrame
        Columns ``*keys, measure, baseline, shocked, delta`` with
        ``delta = shocked - baseline``.
    """
    keys_l = list(keys)
    measures = [
        c
        for c in baseline.columns
        if c not in keys and pd.api.types.is_numeric_dtype(baseline[c]) and c in shocked
    ]
    left = baseline.melt(id_vars=keys_l, value_vars=measures, var_name="measure")
    right = shocked.melt(id_vars=keys_l, value_vars=measures, var_name="measure")
    out = left.merge(
        right, on=[*keys_l, "measure"], how="outer", suffixes=("_baseline", "_shocked")
    ).rename(columns={"value_baseline": "baseline", "value_shocked": "shocked"})
    out["baseline"] = out["baseline"].astype(float)
    out["shocked"] = out["shocked"].astype(float)
    out["delta"] = out["shocked"] - out["baseline"]
    return out.sort_values([*keys_l, "measure"], kind="stable").reset_index(drop=True)


@dataclass(frozen=True, kw_only=True)
class ScenarioResult(Result):
    """What a scenario does to quantities, indices, scores and prices.

    Attributes
    ----------
    scenario : Scenario
        The scenario run.
    year : int
        Baseline year.
    baseline, shocked : ScoreResult
        The method's results on the baseline and on the shocked dataset
        (minerals the scenario touches, the scenario year).
    importers : pandas.DataFrame
        Per (mineral, stage, country), the loss first: ``shortfall_t``
        (contained tonnes per year while the shock lasts), ``shortfall_pct``
        (% of demand), ``cover_days`` (days its usable stocks cover the
        shortfall), ``extra_cost_usd`` (what its remaining supply costs more
        over the shock at the price it faces), ``price_change_pct``; then
        ``consumption_t`` (baseline apparent consumption), ``demand_t``,
        ``supply_change_t``, ``shortfall_gross_t`` (before stockpile draws),
        ``stockpile_t``, ``stockpile_draw_t``, ``shortfall_over_duration_t``,
        ``stockpile_cover_days`` and ``unit_value_usd_t``
        (:func:`riskengine.scenarios.engine.importer_table`).
    market : pandas.DataFrame
        Per (mineral, stage): world production and trade before and after,
        the tonnes each mechanism moved, the outside gap (``gap_fraction``) and
        the two-region price: ``price_change_pct`` outside the restricting
        countries, its band ``price_change_low_pct``-``price_change_high_pct``
        and ``price_change_inside_pct``.
    shocked_dataset : Dataset
        The shocked dataset, restricted to the scenario's minerals and year
        (:func:`riskengine.apply_scenario` shocks a whole dataset).
    method, dataset, params, notes
        See :class:`~riskengine.results.Result`: the scoring method, the name
        of the baseline dataset, the method's parameters, and what the engine
        could not do or chose (bans on products without trade data, caps
        that do not bind, propagated losses).
    """

    TABLES: ClassVar[tuple[str, ...]] = ("scores", "concentration", "importers", "market")

    scenario: Scenario
    year: int
    baseline: ScoreResult
    shocked: ScoreResult
    importers: pd.DataFrame
    market: pd.DataFrame
    shocked_dataset: Dataset

    @property
    def scores(self) -> pd.DataFrame:
        """Every score and index: baseline, shocked, delta (long format)."""
        return compare(self.baseline.scores, self.shocked.scores, SCORE_KEYS)

    @property
    def concentration(self) -> pd.DataFrame:
        """Production concentration (HHI, CR-k...): baseline, shocked, delta."""
        return compare(self.baseline.concentration, self.shocked.concentration, CONCENTRATION_KEYS)

    def score_changes(self, measure: str = "score") -> pd.DataFrame:
        """One measure side by side: keys, ``baseline``, ``shocked``, ``delta``."""
        frame = self.scores
        return frame[frame["measure"] == measure].drop(columns="measure").reset_index(drop=True)

    def to_frame(self, table: str | None = None) -> pd.DataFrame:
        """Return a labelled table of the result.

        Parameters
        ----------
        table
            ``"scores"`` (default: every index and score of the method,
            baseline/shocked/delta), ``"concentration"``, ``"importers"``
            (shortfall, stockpile cover, price per importer) or ``"market"``
            (per mineral and stage).

        Raises
        ------
        UnknownLabelError
            For another table name, listing the valid ones.
        """
        return super().to_frame(table)


#: Tables of a :class:`ScenarioResult` (``to_frame(table)``), the default first.
TABLES: tuple[str, ...] = ScenarioResult.TABLES


def _score_quietly(ds: Dataset, method: str, params: dict[str, Any]) -> tuple[ScoreResult, list]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = score(ds, method=method, **params)
    return result, list(caught)


def run_scenario(
    dataset: Dataset,
    scenario: Scenario | str | Path,
    method: str = DEFAULT_METHOD,
    **params: Any,
) -> ScenarioResult:
    """Apply a scenario and score the baseline and the shocked dataset.

    Parameters
    ----------
    dataset
        Baseline dataset (:func:`riskengine.load_dataset`).
    scenario
        A :class:`Scenario`, a scenario file, or the name of a bundled scenario.
    method
        Scoring method (``riskengine``, ``geopolrisk`` or ``eu``).
    **params
        Further parameters of the method (``regions``, ``weights``,
        ``missing_governance``...). The minerals the scenario touches and its
        year are selected here.

    Returns
    -------
    ScenarioResult

    Raises
    ------
    ScenarioError
        When a label of the scenario is not in the dataset.

    Examples
    --------
    >>> import riskengine
    >>> ds = riskengine.load_dataset()
    >>> result = riskengine.run_scenario(ds, "cn-graphite-licences-2023")
    >>> sorted(result.to_frame("market").columns)[:2]
    ['blocked_t', 'deflected_t']
    """
    if not isinstance(dataset, Dataset):
        raise bad_argument(
            "run_scenario",
            "dataset",
            "a Dataset",
            dataset,
            "load one with riskengine.load_dataset()",
        )
    if not isinstance(scenario, Scenario | str | Path):
        raise bad_argument(
            "run_scenario",
            "scenario",
            "a Scenario, a scenario file or the name of a bundled scenario",
            scenario,
            "pass e.g. 'cn-graphite-licences-2023'",
        )
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    for reserved in ("minerals", "years"):
        if reserved in params:
            raise RiskEngineError(
                f"run_scenario selects {reserved} from the scenario; do not pass {reserved}="
            )
    sim = simulate(dataset, scenario)
    if len(sim.dataset.minerals):
        base_ds = sim.dataset
        shock_ds = shocked_dataset(sim.dataset, sim)
    else:  # nothing to shock: show the whole year unchanged
        base_ds = shock_ds = dataset.sel(years=[scenario.year])
    base, caught = _score_quietly(base_ds, method, params)
    after, caught_after = _score_quietly(
        shock_ds, method, {**params, **against_baseline(method, base_ds)}
    )
    seen: set[str] = set()
    for w in [*caught, *caught_after]:
        text = str(w.message)
        if text not in seen:
            seen.add(text)
            warnings.warn(w.message, w.category, stacklevel=2)
    return ScenarioResult(
        method=method,
        dataset=dataset.name,
        params=dict(params),
        notes=tuple(sim.notes),
        scenario=scenario,
        year=scenario.year,
        baseline=base,
        shocked=after,
        importers=importer_table(sim),
        market=market_table(sim),
        shocked_dataset=shock_ds,
    )
