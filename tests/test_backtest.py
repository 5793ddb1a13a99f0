"""Backtest of the market model against observed moves, and ``riskengine backtest``."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

import riskengine as rk
from riskengine.cli import main
from riskengine.errors import DataError
from riskengine.scenarios.backtest import (
    BACKTEST_COLUMNS,
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
    assert set(table["event"]) == {
        "cd-cobalt-suspension-2025",
        "cn-antimony-controls-2024",
        "cn-gallium-germanium-licences-2023",
    }
    assert len(table) == 7
    assert table["source"].str.len().min() > 10
    for name in set(table["scenario"]):
        assert (library_dir() / f"{name}.yaml").is_file()
    # the baseline is the year before the event (no look-ahead)
    for event, year in zip(table["event"], table["baseline_year"], strict=True):
        assert year == int(event[-4:]) - 1


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
    (tmp_path / "short.csv").write_text("event,ratio\na,2\n", encoding="utf-8")
    with pytest.raises(DataError, match="missing column"):
        read_observed(tmp_path / "short.csv")


def test_cli_backtest(capsys):
    assert main(["backtest"]) == 0
    out = capsys.readouterr().out
    assert "cd-cobalt-suspension-2025" in out
    assert "median |e| =" in out
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
