"""Sourcing tables (riskengine.sourcing) on the stress fixture, whose numbers are small enough to
check by hand.

Cobalt, 2024: DR Congo (170 t mined) ships 140 t of ore to China, Indonesia (30 t) 25 t,
Australia (20 t) 15 t to Japan. China refines and sells 30 t to the USA, 20 t to Japan, 25 t to
the Netherlands and 35 t to Korea; Japan sells 8 t and Australia 6 t to the USA; the Netherlands
sells 18 t on to Germany.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from riskengine.dataset import load_dataset
from riskengine.errors import UnknownLabelError
from riskengine.sourcing import (
    CRMA_THRESHOLD,
    refinery_feed,
    region_impacts,
    single_country_dependence,
    supply_chain,
    trade_shares,
)

DATA = Path(__file__).resolve().parent / "fixtures" / "stress" / "data"


@pytest.fixture(scope="module")
def ds():
    return load_dataset(DATA, check=False)


def test_trade_shares_close_per_exporter_and_importer(ds):
    flows = trade_shares(ds)
    keys = ["mineral", "stage", "year"]
    assert flows.groupby([*keys, "exporter"])["export_share"].sum().to_numpy() == pytest.approx(1)
    assert flows.groupby([*keys, "importer"])["import_share"].sum().to_numpy() == pytest.approx(1)
    usa = flows[(flows["importer"] == "USA") & (flows["mineral"] == "cobalt")]
    assert dict(zip(usa["exporter"], usa["import_share"], strict=True)) == pytest.approx(
        {"CHN": 30 / 44, "JPN": 8 / 44, "AUS": 6 / 44}
    )


def test_trade_shares_region_leaves_out_trade_between_members(ds):
    flows = trade_shares(ds, minerals="cobalt", regions=["EU27"])
    # the Netherlands' 18 t to Germany is inside the EU; China's 25 t to the Netherlands is not
    assert not ((flows["exporter"] == "EU27") & (flows["importer"] == "EU27")).any()
    eu = flows[flows["importer"] == "EU27"]
    assert list(eu["exporter"]) == ["CHN"]
    assert eu["content_t"].iloc[0] == pytest.approx(25.0)
    assert not flows["importer"].isin(["NLD", "DEU"]).any()


def test_refinery_feed_is_kept_mine_output_plus_feed_imports(ds):
    feed = refinery_feed(ds, "cobalt", 2024).set_index(["refiner", "origin"])
    assert feed.loc[("CHN", "COD"), "share"] == pytest.approx(140 / 165)
    assert feed.loc[("CHN", "IDN"), "share"] == pytest.approx(25 / 165)
    # Australia mines 20 t and ships 15 t: 5 t feed its own refinery
    assert feed.loc[("AUS", "AUS"), "feed_t"] == pytest.approx(5.0)
    assert feed.loc[("JPN", "AUS"), "share"] == pytest.approx(1.0)
    # the Netherlands has no mine output and no feed imports: no rows (feed unknown)
    assert "NLD" not in feed.index.get_level_values("refiner")


def test_supply_chain_follows_refined_imports_to_their_ore(ds):
    links = supply_chain(ds, "USA", "cobalt", 2024)
    into_refiners = links[links["target_role"] == "refiner"].set_index(["source", "target"])
    assert into_refiners.loc[("COD", "CHN"), "content_t"] == pytest.approx(30 * 140 / 165)
    assert into_refiners.loc[("IDN", "CHN"), "content_t"] == pytest.approx(30 * 25 / 165)
    assert into_refiners.loc[("AUS", "JPN"), "content_t"] == pytest.approx(8.0)
    assert into_refiners.loc[("AUS", "AUS"), "content_t"] == pytest.approx(6.0)
    # what enters each refiner is what it sends to the importer
    sent = links[links["target_role"] == "importer"].set_index("source")["content_t"]
    received = into_refiners.groupby(level="target")["content_t"].sum()
    assert received.sort_index().to_numpy() == pytest.approx(sent.sort_index().to_numpy())
    assert not links["assumed"].any()


def test_supply_chain_of_a_refiner_with_unknown_feed_is_marked_assumed(ds):
    links = supply_chain(ds, "DEU", "cobalt", 2024)
    upstream = links[links["target_role"] == "refiner"]
    assert list(zip(upstream["source"], upstream["target"], strict=True)) == [("NLD", "NLD")]
    assert upstream["assumed"].all()


def test_supply_chain_direct_ore_imports_and_regions(ds):
    links = supply_chain(ds, "JPN", "copper", 2024)
    assert links[["source", "target", "stage"]].values.tolist() == [["CHL", "JPN", "mining"]]
    assert links["content_t"].iloc[0] == pytest.approx(120.0)
    eu = supply_chain(ds, "EU27", "cobalt", 2024)
    assert set(eu.loc[eu["target_role"] == "importer", "source"]) == {"CHN"}
    with pytest.raises(UnknownLabelError, match="unknown country: XYZ"):
        supply_chain(ds, "XYZ", "cobalt", 2024)


def test_single_country_dependence_against_hand_figures(ds):
    usa = single_country_dependence(ds, "USA").set_index(["mineral", "stage"])
    cobalt = usa.loc[("cobalt", "refining")]
    # consumption 5 t produced + 44 t imported; China supplies 30 t of it
    assert cobalt["consumption_t"] == pytest.approx(49.0)
    assert cobalt["top_supplier"] == "CHN"
    assert cobalt["top_share"] == pytest.approx(30 / 49)
    assert not cobalt["above_threshold"]
    copper = usa.loc[("copper", "refining")]
    assert copper["top_share"] == pytest.approx(50 / 80)
    eu = single_country_dependence(ds, "EU27").set_index(["mineral", "stage"])
    assert eu.loc[("cobalt", "refining"), "top_share"] == pytest.approx(1.0)
    assert eu.loc[("cobalt", "refining"), "above_threshold"]
    assert eu.loc[("cobalt", "refining"), "strategic"]
    assert CRMA_THRESHOLD == 0.65


def test_single_country_dependence_caps_at_one_and_leaves_net_exporters_open(tmp_path):
    src = "a test fixture"
    (tmp_path / "production.csv").write_text(
        "mineral,stage,country,year,quantity,unit,source\n"
        f"cobalt,refining,FRA,2024,1,t,{src}\ncobalt,refining,CHN,2024,100,t,{src}\n"
    )
    (tmp_path / "trade.csv").write_text(
        "mineral,stage,exporter,importer,year,quantity,value_usd,source\n"
        # France imports 10 t from China and re-exports 8 t: consumption 3 t
        f"cobalt,refining,CHN,FRA,2024,10,1000,{src}\ncobalt,refining,FRA,USA,2024,8,800,{src}\n"
        # the USA sends on more than it imports: a net exporter
        f"cobalt,refining,CHN,USA,2024,1,100,{src}\ncobalt,refining,USA,JPN,2024,30,3000,{src}\n"
    )
    ds = load_dataset(tmp_path, check=False)
    fra = single_country_dependence(ds, "FRA").iloc[0]
    assert fra["consumption_t"] == pytest.approx(3.0)
    assert fra["top_share"] == pytest.approx(1.0)  # 10 t of 3 t, capped
    assert fra["above_threshold"]
    usa = single_country_dependence(ds, "USA").iloc[0]
    assert usa["consumption_t"] == pytest.approx(9.0 - 30.0)
    assert pd.isna(usa["top_share"])
    assert pd.isna(usa["above_threshold"])


def test_region_impacts_nets_supply_moved_between_members():
    columns = [
        "ban", "mineral", "stage", "exporter", "target", "severity", "affected_stage",
        "country", "consumption_t", "blocked_t", "supply_change_t", "shortfall_t",
        "shortfall_pct", "score_baseline", "score_shocked", "score_change",
    ]  # fmt: skip
    rows = [
        # Germany loses 10 t, 4 t of which France sends on: the EU is 6 t short of 50 t
        (0, "x", "refining", "CHN", "all", 1.0, "refining", "DEU", 30.0, 10.0, -10.0, 10.0,
         33.3, 0.5, 0.6, 0.1),
        (0, "x", "refining", "CHN", "all", 1.0, "refining", "FRA", 20.0, 0.0, 4.0, 0.0,
         0.0, 0.4, 0.4, 0.0),
        (0, "x", "refining", "CHN", "all", 1.0, "refining", "USA", 40.0, 5.0, -5.0, 5.0,
         12.5, 0.3, 0.35, 0.05),
    ]  # fmt: skip
    impacts = pd.DataFrame(rows, columns=columns)
    eu = region_impacts(impacts, "EU27")
    assert len(eu) == 1
    row = eu.iloc[0]
    assert row["country"] == "EU27"
    assert row["consumption_t"] == pytest.approx(50.0)
    assert row["shortfall_t"] == pytest.approx(6.0)
    assert row["shortfall_pct"] == pytest.approx(12.0)
    assert list(eu.columns) == columns
    with pytest.raises(UnknownLabelError, match="unknown region: ASEAN"):
        region_impacts(impacts, "ASEAN")
