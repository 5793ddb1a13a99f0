"""The embedded default dataset: provenance, published shares, agreement with the releases."""

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import riskengine
from riskengine.cli import main
from riskengine.dataset import RiskEngineWarning, default_data_dir, read_dataset_tables

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"


@pytest.fixture(scope="module")
def tables():
    return read_dataset_tables()[0]


@pytest.fixture(scope="module")
def dataset():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RiskEngineWarning)
        return riskengine.load_dataset()


@pytest.fixture(scope="module")
def concentration(dataset):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RiskEngineWarning)
        return riskengine.score(dataset, missing_governance=0.5).concentration


def share(dataset, mineral, stage, year, country):
    m, s, t = (
        dataset.positions(d, [v])[0]
        for d, v in (("mineral", mineral), ("stage", stage), ("year", year))
    )
    row = np.nan_to_num(dataset.production[m, s, t])
    return row[dataset.countries.get_loc(country)] / row.sum()


def test_every_row_names_its_source(tables):
    for name, table in tables.items():
        assert "source" in table.columns, name
        assert (table["source"].fillna("").str.strip() != "").all(), name


def test_coverage_at_least_35_minerals_with_both_stages(tables):
    prod = tables["production"]
    assert prod["mineral"].nunique() >= 35
    assert set(prod["stage"]) == {"mining", "refining"}
    assert {2024, 2025} <= set(prod["year"])
    required = {
        "cobalt", "lithium", "nickel", "copper", "natural_graphite", "rare_earths", "gallium",
        "antimony", "tungsten", "manganese", "zinc", "lead", "tin", "bauxite", "aluminium",
        "platinum", "palladium", "vanadium", "niobium", "tantalum", "magnesium", "silicon",
        "titanium",
    }  # fmt: skip
    assert required <= set(prod["mineral"])
    assert set(tables["trade"]["year"]) == set(range(2018, 2025))
    assert set(tables["governance"]["indicator"]) == {"VA", "PV", "GE", "RQ", "RL", "CC"}


# docs/methods.md: USGS MCS 2026 (mining, 2025) and IEA (refining, 2024), within 3 points
@pytest.mark.parametrize(
    ("mineral", "stage", "year", "country", "published"),
    [
        ("cobalt", "mining", 2025, "COD", 0.74),
        ("nickel", "mining", 2025, "IDN", 0.67),
        ("natural_graphite", "mining", 2025, "CHN", 0.78),
        ("rare_earths", "mining", 2025, "CHN", 0.69),
        ("lithium", "mining", 2025, "AUS", 0.32),
        ("copper", "mining", 2025, "CHL", 0.23),
        ("copper", "refining", 2025, "CHN", 0.48),
        ("gallium", "refining", 2025, "CHN", 0.99),
        ("cobalt", "refining", 2024, "CHN", 0.78),
        ("lithium", "refining", 2024, "CHN", 0.70),
        ("natural_graphite", "refining", 2024, "CHN", 0.96),
        ("rare_earths", "refining", 2024, "CHN", 0.91),
        ("nickel", "refining", 2024, "IDN", 0.43),
    ],
)
def test_published_shares(dataset, mineral, stage, year, country, published):
    assert share(dataset, mineral, stage, year, country) == pytest.approx(published, abs=0.03)


def test_concentration_table_names_the_largest_producers(concentration):
    c = concentration.set_index(["mineral", "stage", "year"])
    assert c.loc[("cobalt", "mining", 2025), "top_producer"] == "COD"
    assert c.loc[("gallium", "refining", 2025), "top_producer"] == "CHN"
    assert c.loc[("gallium", "refining", 2025), "hhi"] > 0.95


def test_peru_copper_destinations_match_published_shares(tables):
    trade = tables["trade"]
    peru = trade[
        (trade["mineral"] == "copper")
        & (trade["stage"] == "mining")
        & (trade["exporter"] == "PER")
        & (trade["year"] == 2022)
    ].set_index("importer")
    published = tables["export_shares"]
    published = published[(published["period"] == "2022") & (published["exporter"] == "PER")]
    for _, row in published.iterrows():
        column = "value_usd" if row["basis"] == "value" else "quantity"
        got = peru.loc[row["importer"], column] / peru[column].sum()
        assert got == pytest.approx(row["share"], abs=0.0015)


def test_cli_reports_peru_destination_concentration(capsys):
    code = main(["score", "--country", "PER", "--mineral", "copper", "--stage", "mining",
                 "--format", "json"])  # fmt: skip
    assert code == 0
    records = json.loads(capsys.readouterr().out)
    (peru,) = records
    assert peru["country"] == "PER"
    # about three quarters to China: destination HHI well above 0.5
    assert 0.5 < peru["destination_hhi"] < 0.7
    assert peru["export_concentration"] > 0.5


@pytest.mark.shared_data
def test_production_equals_a_fresh_import_of_the_release(tables):
    release = SHARED / "usgs_mcs2026" / "MCS2026_Commodities_Data.csv"
    if not release.exists():
        pytest.skip(f"{release} not present (official releases live in ../shared/data)")
    from riskengine.io.usgs import read_usgs_mcs

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fresh = read_usgs_mcs(release).production
    key = ["mineral", "stage", "country", "year"]
    ours = tables["production"]
    ours = ours[
        ours["source"].str.startswith("U.S. Geological Survey")
        | ours["source"].str.contains("USGS")
    ]
    ours = ours[~ours["source"].str.startswith("IEA")]
    merged = ours.merge(fresh, on=key, suffixes=("", "_release"), validate="one_to_one")
    assert len(merged) == len(ours)
    both = merged["quantity"].notna()
    np.testing.assert_allclose(merged.loc[both, "quantity"], merged.loc[both, "quantity_release"])
    assert merged.loc[~both, "quantity_release"].isna().all()


def test_default_data_dir_holds_every_table_and_describes_every_mineral(tables):
    directory = default_data_dir()
    for name in ("production", "trade", "governance", "minerals", "export_shares"):
        assert (directory / f"{name}.csv").is_file() or (directory / f"{name}.csv.gz").is_file()
    described = set(pd.read_csv(directory / "minerals.csv")["mineral"])
    assert set(tables["production"]["mineral"]) | set(tables["trade"]["mineral"]) <= described


def test_us_gallium_imports_derived_from_usgs(tables, dataset):
    trade = tables["trade"]
    ga = trade[(trade["mineral"] == "gallium") & (trade["importer"] == "USA")].set_index("exporter")
    # USGS MCS 2026: 11 t of gallium metal imported in 2024; sources 2021-24 Canada 28 %,
    # Japan 22 %, China 18 %, Germany 16 % (other countries, 16 %, left out)
    assert ga["quantity"].to_dict() == pytest.approx(
        {"CAN": 3.08, "JPN": 2.42, "CHN": 1.98, "DEU": 1.76}
    )
    assert ga["source"].str.contains("named partners cover 84%").all()


def test_geopolrisk_gallium_uses_primary_production_for_hhi(dataset):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RiskEngineWarning)
        res = riskengine.score(dataset, method="geopolrisk", minerals=["gallium"], years=[2024])
    usa = res.to_frame().set_index("country").loc["USA"]
    assert usa["hhi"] == pytest.approx(0.979, abs=0.001)
    assert usa["score"] == pytest.approx(usa["hhi"] * usa["import_risk"])
    assert any("HHI_A uses their refining production" in n for n in res.notes)
