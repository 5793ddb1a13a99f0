"""The fidelity report: import reliance from production and trade, published figures, the doc.

The unit tests work on a small synthetic dataset whose figures are checked by
hand; the test marked ``shared_data`` regenerates ``docs/fidelity.md`` from the
default data and the releases in ``../shared/data`` and checks the committed
file is current.
"""

import math
import warnings
from pathlib import Path

import pandas as pd
import pytest

import riskengine
from riskengine.dataset import Dataset, RiskEngineWarning
from riskengine.fidelity import (
    build_report,
    export_destinations,
    form_stage,
    reliance,
    reliance_comparison,
    reliance_summary,
    stage_balance,
    top_shares,
)
from riskengine.io.usgs import RELIANCE_TABLE_COLUMNS, read_mcs_reliance_table

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
FIXTURE = ROOT / "tests" / "fixtures" / "usgs" / "mcs2026" / "MCS2026_Commodities_Data.csv"


def _flow(stage: str, exporter: str, importer: str, tonnes: float) -> dict[str, object]:
    return {
        "mineral": "copper",
        "stage": stage,
        "exporter": exporter,
        "importer": importer,
        "year": 2024,
        "product": "",  # no product: the quantity is contained content
        "quantity": tonnes,
        "value_usd": tonnes * 9000.0,
        "source": "test",
    }


@pytest.fixture(scope="module")
def tiny() -> Dataset:
    """US refinery output 100 t; imports 300 t of ore and 50 t of refined; exports 10 t of ore."""
    production = pd.DataFrame(
        {
            "mineral": ["copper", "copper", "copper"],
            "stage": ["refining", "refining", "mining"],
            "country": ["USA", "CHN", "CHL"],
            "year": [2024, 2024, 2024],
            "quantity": [100.0, 900.0, 1000.0],
            "unit": ["t"] * 3,
            "source": ["test"] * 3,
        }
    )
    trade = pd.DataFrame(
        [
            _flow("mining", "CHL", "USA", 300.0),
            _flow("refining", "CHN", "USA", 50.0),
            _flow("mining", "USA", "JPN", 10.0),
            _flow("mining", "CHL", "CHN", 600.0),
        ]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RiskEngineWarning)
        return Dataset.from_tables({"production": production, "trade": trade})


def _published(**rows: dict[str, object]) -> pd.DataFrame:
    base = {
        "chapter": "COPPER",
        "commodity": "Copper",
        "product": "",
        "year": 2024,
        "published": "",
        "value": math.nan,
        "low": math.nan,
        "high": math.nan,
        "critical": True,
        "mineral": "copper",
        "stage": "refining",
        "note": "",
        "us_production": "",
    }
    return pd.DataFrame(
        [{**base, **r} for r in rows.values()], columns=list(RELIANCE_TABLE_COLUMNS)
    )


def test_reliance_formula_by_hand() -> None:
    assert reliance(100.0, 300.0 + 50.0 - 10.0) == pytest.approx(340 / 440)
    assert reliance(100.0, -1.0) == 0.0  # a net exporter: USGS "E"
    assert reliance(0.0, 5.0) == 1.0
    assert math.isnan(reliance(0.0, 0.0))  # 0/0 is NaN, never 0


def test_stage_balance_of_the_tiny_dataset(tiny: Dataset) -> None:
    b = stage_balance(tiny, "USA", 2024).loc["copper"]
    assert b.loc["refining", "production_t"] == 100.0
    assert b.loc["mining", "imports_t"] == 300.0
    assert b.loc["mining", "exports_t"] == 10.0
    assert b.loc["refining", "imports_t"] == 50.0
    assert b.loc["refining", "ir"] == pytest.approx(50 / 150)
    assert b.loc["mining", "world_trade_t"] == 910.0
    assert not b.loc["mining", "listed"] or b.loc["mining", "production_t"] == 0


def test_commodity_reliance_sums_net_imports_over_all_forms(tiny: Dataset) -> None:
    pub = _published(a={"published": "77", "value": 0.77, "low": 0.77, "high": 0.77})
    row = reliance_comparison(tiny, pub, 2024).iloc[0]
    assert row["production_stage"] == "refining"
    assert row["scope"] == "mining+intermediate+refining"
    assert row["production_t"] == 100.0
    assert row["net_imports_t"] == pytest.approx(340.0)
    assert row["ir"] == pytest.approx(340 / 440)
    assert row["stage_ir"] == pytest.approx(50 / 150)
    assert row["difference"] == pytest.approx(340 / 440 - 0.77)
    assert row["within"]
    assert row["cause"] == ""


def test_a_figure_for_one_form_is_compared_at_its_stage(tiny: Dataset) -> None:
    pub = _published(
        a={"product": "refined metal", "published": "30", "value": 0.3, "low": 0.3, "high": 0.3}
    )
    row = reliance_comparison(tiny, pub, 2024).iloc[0]
    assert row["scope"] == "refining (one form)"
    assert row["ir"] == pytest.approx(50 / 150)
    assert row["within"]


def test_bounds_exporters_misses_and_rows_without_data(tiny: Dataset) -> None:
    pub = _published(
        bound={"published": ">75", "low": 0.75, "high": 1.0},
        exporter={"published": "E", "low": 0.0, "high": 0.0},
        none={"mineral": None, "stage": None, "note": "chapter not mapped", "commodity": "Peat",
              "published": "79", "value": 0.79, "low": 0.79, "high": 0.79},
        missing={"mineral": "scandium", "commodity": "Scandium", "published": "100",
                 "value": 1.0, "low": 1.0, "high": 1.0},
    )  # fmt: skip
    table = reliance_comparison(tiny, pub, 2024)
    bound, exporter, none, missing = (table.iloc[i] for i in range(4))
    assert bound["within"]  # 77 % is inside >75
    assert bound["difference"] == 0.0
    assert not exporter["within"]  # 77 % is not within 15 points of a net exporter
    assert exporter["difference"] == pytest.approx(340 / 440)
    assert "computed figure above" in exporter["cause"]
    assert not none["within"]
    assert none["cause"] == "no US data: chapter not mapped"
    assert missing["cause"] == "no US data: scandium is not in the data"
    counts = reliance_summary(table)
    assert counts == {"critical": 4, "within": 1, "covered": 2, "within_covered": 1}


def test_form_stage_reads_the_published_form() -> None:
    assert form_stage("Compounds and metals") == "refining"
    assert form_stage("Mineral concentrates") == "mining"
    assert form_stage("manganese content") is None
    assert form_stage("Palladium") is None


def test_top_shares_count_other_countries_in_the_total_only() -> None:
    prod = pd.DataFrame({"country": ["CHN", "XOT", "AUS"], "quantity": [60.0, 30.0, 10.0], "k": 1})
    row = top_shares(prod, ["k"]).iloc[0]
    assert row["top1_country"] == "CHN"
    assert row["top1"] == pytest.approx(0.6)
    assert row["top3"] == pytest.approx(0.7)
    assert row["hhi"] == pytest.approx(0.36 + 0.01)
    assert row["countries"] == 2


def test_export_destinations_shares(tiny: Dataset) -> None:
    dest = export_destinations(tiny, "CHL", "copper", [2024])
    assert list(dest["importer"]) == ["CHN", "USA"]
    assert dest["share_value"].tolist() == pytest.approx([600 / 900, 300 / 900])
    assert dest["share_tonnes"].tolist() == pytest.approx([600 / 900, 300 / 900])


def test_reliance_table_reads_every_published_figure() -> None:
    table = read_mcs_reliance_table(FIXTURE)
    cobalt = table[(table["commodity"] == "Cobalt") & (table["year"] == 2024)].iloc[0]
    assert cobalt["published"] == "74"
    assert cobalt["value"] == pytest.approx(0.74)
    assert cobalt["critical"]
    assert (cobalt["mineral"], cobalt["stage"]) == ("cobalt", "refining")
    lithium = table[(table["commodity"] == "Lithium") & (table["year"] == 2025)].iloc[0]
    assert (lithium["low"], lithium["high"]) == (0.5, 1.0)
    assert math.isnan(lithium["value"])
    boron = table[(table["commodity"] == "Boron") & (table["year"] == 2025)].iloc[0]
    assert (boron["published"], boron["low"], boron["high"]) == ("E", 0.0, 0.0)


@pytest.mark.shared_data
def test_docs_fidelity_is_current() -> None:
    needed = [
        SHARED / "usgs_mcs2026" / "MCS2026_Commodities_Data.csv",
        SHARED / "iea_critical_minerals_2024" / "CM_Data_Explorer_May2024.xlsx",
    ]
    if not all(p.exists() for p in needed):
        pytest.skip(f"official releases not present in {SHARED}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RiskEngineWarning)
        ds = riskengine.load_dataset()
    fresh = build_report(ds, SHARED)
    committed = (ROOT / "docs" / "fidelity.md").read_text(encoding="utf-8")
    assert fresh == committed, "docs/fidelity.md is stale: run python data/fidelity.py"
