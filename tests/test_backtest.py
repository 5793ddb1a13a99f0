"""Backtest of the market model against observed moves, and ``riskengine backtest``."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

import riskengine as rk
from riskengine.cli import main
from riskengine.errors import DataError
from riskengine.scenarios.backtest import (
    BACKTEST_COLUMNS,
    NO_SAMPLE,
    SAMPLES,
    backtest,
    library_dir,
    log_error,
    read_observed,
)
from riskengine.scenarios.engine import simulate
from riskengine.scenarios.market import market_parameters, two_region_price

pytestmark = pytest.mark.filterwarnings("ignore::riskengine.RiskEngineWarning")


@pytest.fixture(scope="module")
def ds() -> rk.Dataset:
    return rk.load_dataset()


@pytest.fixture(scope="module")
def result(ds):
    return backtest(ds)


def test_log_error():
    assert log_error(math.e**2, math.e) == pytest.approx(math.log10(2))
    assert log_error(0.5, 0.8) == pytest.approx(math.log10(math.log(0.5) / math.log(0.8)))
    assert math.isnan(log_error(1.2, 0.9))  # wrong sign
    assert math.isnan(log_error(1.0, 2.0))  # no move
    assert math.isnan(log_error(math.nan, 2.0))


def test_observed_table_cites_every_row_and_covers_the_shared_events():
    table = read_observed()
    # the calibration moves are the shared events folder's, and only those
    calibration = table[table["sample"] == "calibration"]
    assert set(calibration["event"]) == {
        "cd-cobalt-suspension-2025",
        "cn-antimony-controls-2024",
        "cn-gallium-germanium-licences-2023",
    }
    assert len(calibration) == 7
    assert set(table["sample"]) == set(SAMPLES)
    assert table["source"].str.len().min() > 10
    for name in set(table["scenario"]):
        assert (library_dir() / f"{name}.yaml").is_file()
    # the baseline is the year before the event (no look-ahead)
    for event, year in zip(table["event"], table["baseline_year"], strict=True):
        assert year == int(event[-4:]) - 1


def test_calibration_rows_match_the_shared_events_folder():
    shared = Path(__file__).resolve().parents[2] / "shared" / "data" / "events"
    if not (shared / "observed_price_moves.csv").is_file():
        pytest.skip(f"{shared} not found (the shared data folder beside the project)")
    events = pd.read_csv(shared / "observed_price_moves.csv")
    table = read_observed()
    calibration = table[table["sample"] == "calibration"]
    mine = calibration.set_index(["event", "series"])["ratio"].sort_index()
    theirs = events.set_index(["event", "series"])["ratio"].sort_index()
    pd.testing.assert_series_equal(mine, theirs)


def test_backtest_table(ds, result):
    table = result.table
    assert list(table.columns) == list(BACKTEST_COLUMNS)
    assert len(table) == len(read_observed())
    cobalt = table[table["mineral"] == "cobalt"]
    assert cobalt["sign_ok"].all()
    # recompute the cobalt model price from the ledger of the 2024 run
    sc = rk.load_scenario(library_dir() / "cd-cobalt-export-suspension-2025.yaml")
    sim = simulate(ds, sc.model_copy(update={"year": 2024}))
    m = list(sim.dataset.minerals).index("cobalt")
    s = list(sim.dataset.stages).index("intermediate")
    led = sim.ledgers[(m, s)]
    c0 = sim.consumption0(m, s)
    cod = list(sim.dataset.countries).index("COD")
    expected = two_region_price(
        led.withheld, c0.sum() - c0[cod], c0[cod], 7.8, market_parameters("cobalt")
    )
    for row in cobalt.itertuples():
        assert row.ratio_model == pytest.approx(1 + expected.outside)
        assert row.e == pytest.approx(log_error(1 + expected.outside, row.ratio_observed))
        assert row.ratio_model_low <= row.ratio_model <= row.ratio_model_high
    germanium = table[table["mineral"] == "germanium"].iloc[0]
    assert "not modelled" in germanium["note"]
    finite = table["e"].dropna()
    assert result.median_abs_e == pytest.approx(finite.abs().median())
    assert result.wrong_sign == int((table["sign_ok"] == False).sum())  # noqa: E712
    summary = result.summary().set_index("sample")
    assert list(summary.index) == [*SAMPLES, "all"]
    for sample in SAMPLES:
        part = table[table["sample"] == sample]
        assert summary.loc[sample, "moves"] == len(part)
        assert summary.loc[sample, "scored"] == part["e"].notna().sum()
        assert summary.loc[sample, "median_abs_e"] == pytest.approx(
            part["e"].dropna().abs().median()
        )
        assert summary.loc[sample, "wrong_sign"] == (part["sign_ok"] == False).sum()  # noqa: E712
    assert summary.loc["all", "median_abs_e"] == pytest.approx(result.median_abs_e)
    assert summary.loc["all", "wrong_sign"] == result.wrong_sign


def test_out_of_sample_five_metals_event(result):
    """The 2025 licences on five metals, never used to choose the parameters."""
    table = result.table.set_index(["event", "mineral", "market"])
    bismuth_out = table.loc[("cn-five-metals-licences-2025", "bismuth", "outside")]
    bismuth_in = table.loc[("cn-five-metals-licences-2025", "bismuth", "inside")]
    tungsten = table.loc[("cn-five-metals-licences-2025", "tungsten", "outside")]
    assert (bismuth_out["sample"], bismuth_out["baseline_year"]) == ("validation", 2024)
    # outside up, inside down in the model; China's own bismuth price rose instead
    assert bismuth_out["ratio_model"] > 1
    assert bismuth_out["sign_ok"]
    assert bismuth_in["ratio_model"] < 1 < bismuth_in["ratio_observed"]
    assert bismuth_in["sign_ok"] == False  # noqa: E712
    assert math.isnan(bismuth_in["e"])
    assert tungsten["e"] == pytest.approx(
        log_error(tungsten["ratio_model"], tungsten["ratio_observed"])
    )


def test_bad_observed_table_lists_every_bad_row(tmp_path: Path):
    path = tmp_path / "moves.csv"
    path.write_text(
        "event,scenario,baseline_year,mineral,stage,market,series,ratio,source\n"
        "a,b,2023,cobalt,refining,outside,s,-1,src\n"
        "a,b,2023,cobalt,refining,outside,s,2,\n",
        encoding="utf-8",
    )
    with pytest.raises(DataError) as err:
        read_observed(path)
    text = str(err.value)
    assert "row 2, column ratio" in text
    assert "row 3, column source" in text
    bad_sample = tmp_path / "sample.csv"
    bad_sample.write_text(
        "event,sample,scenario,baseline_year,mineral,stage,market,series,ratio,source\n"
        "a,in-sample,b,2023,cobalt,refining,outside,s,2,src\n",
        encoding="utf-8",
    )
    with pytest.raises(DataError) as err:
        read_observed(bad_sample)
    assert "row 2, column sample: expected one of calibration, validation, got 'in-sample'" in str(
        err.value
    )
    (tmp_path / "short.csv").write_text("event,ratio\na,2\n", encoding="utf-8")
    with pytest.raises(DataError, match="missing column"):
        read_observed(tmp_path / "short.csv")


def test_cli_backtest(capsys):
    assert main(["backtest"]) == 0
    out = capsys.readouterr().out
    assert "cd-cobalt-suspension-2025" in out
    assert "calibration: median |e| =" in out
    assert "validation: median |e| =" in out
    assert "all: median |e| =" in out
    assert main(["backtest", "--format", "csv"]) == 0
    header = capsys.readouterr().out.splitlines()[0]
    assert header == ",".join(BACKTEST_COLUMNS)


def test_cli_backtest_errors(capsys, tmp_path: Path):
    assert main(["backtest", "--format", "xml"]) == 1
    assert "error: unknown format: xml" in capsys.readouterr().err
    assert main(["backtest", "--observed", str(tmp_path / "none.csv")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: observed-moves table")
    assert "not found" in err


def test_table_without_a_sample_column_reports_unspecified(ds, tmp_path: Path):
    table = read_observed()
    one = table[table["event"] == "cd-cobalt-suspension-2025"].drop(columns="sample")
    path = tmp_path / "moves.csv"
    one.to_csv(path, index=False)
    result = backtest(ds, path)
    assert set(result.table["sample"]) == {NO_SAMPLE}
    summary = result.summary()
    assert list(summary["sample"]) == [NO_SAMPLE]
    assert summary["median_abs_e"].iloc[0] == pytest.approx(result.median_abs_e)
