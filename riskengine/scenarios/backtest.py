r"""Backtest of the two-region market model against observed price moves.

Each event of the observed-moves table (``scenarios/observed_moves.csv``,
transcribed with their sources from public market reports) names a library
scenario and a baseline year, the year before the event (no look-ahead). The
scenario is run on that year of the dataset as announced (its severities are
not tuned to prices), and the two-region price of the event's mineral and
stage (:func:`~riskengine.scenarios.engine.two_region_table`) is compared
with the observed price ratio:

.. math:: e = \log_{10}\frac{\ln r_{model}}{\ln r_{observed}}

for the outside market (``price_change_pct``) or the restricting country's own
market (``price_change_inside_pct``). ``|e| <= 0.3`` is within a factor of two
in log change. ``e`` is NaN when the model moves the price the wrong way, not
at all, or gives no price (``sign_ok`` and ``note`` say which).

An optional ``sample`` column says whether a move is in-sample
(``calibration``: the market parameters were chosen with it in view) or
out-of-sample (``validation``: added after the parameters were fixed, never
used to choose them); :meth:`Backtest.summary` reports each sample apart. A
table without the column reports its rows as ``unspecified``.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from riskengine.dataset import Dataset
from riskengine.errors import DataError

if TYPE_CHECKING:
    from distributed import Client

    from riskengine.scenarios.models import Scenario

#: Columns the observed-moves table must have.
OBSERVED_COLUMNS: tuple[str, ...] = (
    "event",
    "scenario",
    "baseline_year",
    "mineral",
    "stage",
    "market",
    "series",
    "ratio",
    "source",
)

#: Values of the optional ``sample`` column (see the module notes).
SAMPLES: tuple[str, ...] = ("calibration", "validation")
#: Sample of the rows of a table without a ``sample`` column.
NO_SAMPLE = "unspecified"

#: Market of an observed move -> column of the model's two-region table.
MARKETS: dict[str, str] = {"outside": "price_change_pct", "inside": "price_change_inside_pct"}

BACKTEST_COLUMNS: tuple[str, ...] = (
    "event",
    "sample",
    "mineral",
    "stage",
    "market",
    "series",
    "baseline_year",
    "ratio_observed",
    "ratio_model",
    "ratio_model_low",
    "ratio_model_high",
    "e",
    "sign_ok",
    "note",
)


def library_dir() -> Path:
    """Return the scenario library shipped with riskengine (``scenarios/``)."""
    return Path(__file__).resolve().parents[2] / "scenarios"


def read_observed(path: Path | None = None) -> pd.DataFrame:
    """Read and check an observed-moves table (default: the library's).

    Raises
    ------
    DataError
        Naming the file and every missing column or bad row.
    """
    path = library_dir() / "observed_moves.csv" if path is None else Path(path)
    if not path.is_file():
        raise DataError(
            f"observed-moves table {path} not found; expected a CSV with columns "
            + ", ".join(OBSERVED_COLUMNS)
        )
    table = pd.read_csv(path, dtype={"scenario": str, "market": str})
    missing = [c for c in OBSERVED_COLUMNS if c not in table.columns]
    if missing:
        raise DataError(f"{path}: missing column(s) {', '.join(missing)}; expected "
                        + ", ".join(OBSERVED_COLUMNS))  # fmt: skip
    problems = []
    ratio = pd.to_numeric(table["ratio"], errors="coerce")
    for i, r in enumerate(ratio):
        if not (math.isfinite(r) and r > 0):
            problems.append(
                f"row {i + 2}, column ratio: expected a number > 0, got {table['ratio'][i]!r}"
            )
    for i, source in enumerate(table["source"]):
        if not isinstance(source, str) or not source.strip():
            problems.append(f"row {i + 2}, column source: every observed move must cite its source")
    if "sample" in table.columns:
        for i, sample in enumerate(table["sample"]):
            if sample not in SAMPLES:
                problems.append(
                    f"row {i + 2}, column sample: expected one of {', '.join(SAMPLES)}, "
                    f"got {sample!r}"
                )
    else:
        table["sample"] = NO_SAMPLE
    if problems:
        raise DataError(f"{path}: bad rows", problems)
    table["ratio"] = ratio
    return table


@dataclass
class _Observed:
    """One observed move (a row of the table)."""

    event: str
    sample: str
    scenario: str
    baseline_year: int
    mineral: str
    stage: str
    market: str
    series: str
    ratio: float
    source: str

    def __post_init__(self) -> None:
        self.scenario = str(self.scenario)
        self.baseline_year = int(self.baseline_year)
        self.ratio = float(self.ratio)


@dataclass
class Backtest:
    """Backtest rows (:data:`BACKTEST_COLUMNS`) and what they add up to."""

    table: pd.DataFrame
    notes: list[str] = field(default_factory=list)

    @property
    def median_abs_e(self) -> float:
        """Median ``|e|`` over the rows with a finite ``e`` (NaN when there are none)."""
        return _median_abs_e(self.table)

    @property
    def wrong_sign(self) -> int:
        """Rows the model gives a price for that move the wrong way or not at all."""
        return _wrong_sign(self.table)

    def summary(self) -> pd.DataFrame:
        """One row per sample (in order of appearance) and one for all moves.

        Columns ``sample``, ``moves``, ``scored`` (rows with a finite ``e``),
        ``median_abs_e`` (over the scored rows; NaN when there are none) and
        ``wrong_sign`` (priced the wrong way or not moved).
        """
        groups = [(str(name), part) for name, part in self.table.groupby("sample", sort=False)]
        if len(groups) != 1:
            groups.append(("all", self.table))
        return pd.DataFrame(
            [
                {
                    "sample": name,
                    "moves": len(part),
                    "scored": int(np.isfinite(part["e"].to_numpy(dtype=float)).sum()),
                    "median_abs_e": _median_abs_e(part),
                    "wrong_sign": _wrong_sign(part),
                }
                for name, part in groups
            ]
        )


def _median_abs_e(table: pd.DataFrame) -> float:
    """Median ``|e|`` over the rows of ``table`` with a finite ``e``; NaN when there are none."""
    e = table["e"].to_numpy(dtype=float)
    e = e[np.isfinite(e)]
    return float(np.median(np.abs(e))) if len(e) else math.nan


def _wrong_sign(table: pd.DataFrame) -> int:
    """Rows of ``table`` priced the wrong way or not moved."""
    scored = table["sign_ok"].notna()
    return int((scored & (table["sign_ok"] == False)).sum())  # noqa: E712


def log_error(model_ratio: float, observed_ratio: float) -> float:
    """``e = log10(ln r_model / ln r_observed)``; NaN unless both move the same way."""
    if not (model_ratio > 0 and observed_ratio > 0):
        return math.nan
    a, b = math.log(model_ratio), math.log(observed_ratio)
    if a == 0 or b == 0 or (a > 0) != (b > 0):
        return math.nan
    return math.log10(a / b)


def backtest(
    dataset: Dataset,
    observed: Path | None = None,
    library: Path | None = None,
    client: Client | Literal[False] | None = None,
) -> Backtest:
    """Run each observed event's scenario on its baseline year and compare prices.

    Parameters
    ----------
    dataset
        The dataset (it must hold every baseline year of the table).
    observed
        Observed-moves table (default ``scenarios/observed_moves.csv``).
    library
        Directory of the scenarios it names (default: the library).
    client
        A Dask ``distributed.Client`` to run the scenarios on, one task each;
        None (default) uses the current client if the caller made one, else
        one process; False always one process (:mod:`riskengine.cluster`).
    """
    from riskengine.cluster import ordered, resolve_client, share
    from riskengine.scenarios import load_scenario

    table = read_observed(observed)
    library = library_dir() if library is None else Path(library)
    notes: list[str] = []
    events: dict[tuple[str, int], Scenario] = {}
    for rec in table.to_dict("records"):
        obs = _observed(rec)
        key = (obs.scenario, obs.baseline_year)
        if key not in events:
            sc = load_scenario(library / f"{obs.scenario}.yaml")
            if sc.year != key[1]:
                notes.append(
                    f"{obs.scenario}: run on {key[1]}, the year before the event, not the "
                    f"scenario's year {sc.year}"
                )
            events[key] = sc.model_copy(update={"year": key[1]})
    runner = resolve_client(client, "backtest")
    tasks = ((dataset, sc) for sc in events.values())
    prices_of = ordered(runner, _prices, tasks, name="backtest", shared=share(runner, [dataset]))
    runs = dict(zip(events, prices_of, strict=True))
    rows = []
    for rec in table.to_dict("records"):
        obs = _observed(rec)
        key = (obs.scenario, obs.baseline_year)
        prices = runs[key]
        hit = prices[(prices["mineral"] == obs.mineral) & (prices["stage"] == obs.stage)]
        column = MARKETS.get(str(obs.market))
        model = low = high = math.nan
        note = ""
        if column is None:
            note = f"market {obs.market!r} is not modelled (only outside and inside)"
        elif hit.empty:
            note = f"the scenario moves no {obs.mineral}/{obs.stage} on the {key[1]} data"
        else:
            r = hit.iloc[0]
            model = 1.0 + r[column] / 100.0
            low = 1.0 + r[column.replace("_pct", "_low_pct")] / 100.0
            high = 1.0 + r[column.replace("_pct", "_high_pct")] / 100.0
            if not math.isfinite(model):
                note = r["note"] or "no model price"
        e = log_error(model, obs.ratio)
        sign_ok: bool | None = None
        if math.isfinite(model):
            sign_ok = bool(np.sign(math.log(model)) == np.sign(math.log(obs.ratio)))
            if not sign_ok:
                note = note or "the model moves the price the wrong way or not at all"
        rows.append(
            {
                "event": obs.event,
                "sample": obs.sample,
                "mineral": obs.mineral,
                "stage": obs.stage,
                "market": obs.market,
                "series": obs.series,
                "baseline_year": key[1],
                "ratio_observed": obs.ratio,
                "ratio_model": model,
                "ratio_model_low": low,
                "ratio_model_high": high,
                "e": e,
                "sign_ok": sign_ok,
                "note": note,
            }
        )
    return Backtest(pd.DataFrame.from_records(rows, columns=list(BACKTEST_COLUMNS)), notes)


def _observed(record: Mapping[Hashable, Any]) -> _Observed:
    """One row of a table checked by :func:`read_observed`."""
    return _Observed(**{str(k): record[k] for k in (*OBSERVED_COLUMNS, "sample")})


def _prices(dataset: Dataset, scenario: Scenario) -> pd.DataFrame:
    """Two-region prices of one scenario (a task on a cluster)."""
    from riskengine.scenarios.engine import simulate, two_region_table

    return two_region_table(simulate(dataset, scenario))
