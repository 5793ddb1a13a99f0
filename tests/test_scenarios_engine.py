"""Scenario mechanics on small synthetic datasets: hand-computed cases and invariants."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from riskengine.dataset import Dataset
from riskengine.dims import STAGES, WGI_INDICATORS
from riskengine.errors import ScenarioError
from riskengine.scenarios import (
    Scenario,
    apply_scenario,
    load_scenario,
    parse_scenario,
    run_scenario,
    simulate,
)
from riskengine.scenarios.engine import importer_table, respond_rows
from riskengine.scenarios.market import market_parameters

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "scenarios"

COUNTRIES = ("AUS", "CHL", "CHN", "COD", "DEU", "JPN", "KOR", "PER", "USA")
MINERALS = ("cobalt", "copper")
PV = {"AUS": 0.86, "CHL": 0.04, "CHN": -0.47, "COD": -1.79, "DEU": 0.6, "JPN": 1.0,
      "KOR": 0.6, "PER": -0.5, "USA": 0.0}  # fmt: skip

MINE, REF = STAGES.index("mining"), STAGES.index("refining")

Key = tuple[str, str, str]  # mineral, stage, country
Flow = tuple[str, str, str, str]  # mineral, stage, exporter, importer


def build(
    production: Mapping[Key, float] | None = None,
    flows: Mapping[Flow, float] | None = None,
    *,
    countries: tuple[str, ...] = COUNTRIES,
    trade: bool = True,
) -> Dataset:
    """A one-year (2024) dataset with the given quantities and unit value 1000 USD/t."""
    c_idx = pd.Index(countries, name="country")
    m_idx = pd.Index(MINERALS, name="mineral")
    s_idx = pd.Index(STAGES, name="stage")
    prod = np.zeros((len(m_idx), len(s_idx), 1, len(c_idx)))
    for (m, s, c), q in (production or {}).items():
        prod[m_idx.get_loc(m), s_idx.get_loc(s), 0, c_idx.get_loc(c)] = q
    tq = np.zeros((len(m_idx), len(s_idx), 1, len(c_idx), len(c_idx)))
    for (m, s, e, i), q in (flows or {}).items():
        tq[m_idx.get_loc(m), s_idx.get_loc(s), 0, c_idx.get_loc(e), c_idx.get_loc(i)] = q
    gov = np.zeros((len(WGI_INDICATORS), 1, len(c_idx)))
    gov[WGI_INDICATORS.index("PV"), 0, :] = [PV.get(c, 0.0) for c in countries]
    return Dataset.from_arrays(
        minerals=m_idx,
        stages=s_idx,
        years=[2024],
        countries=c_idx,
        production=prod,
        trade=tq if trade else None,
        trade_value=tq * 1000.0 if trade else None,
        governance=gov,
        governance_years=[2022],
        name="synthetic",
    )


def scenario(shocks: str = "", market: str = "", **head: object) -> Scenario:
    fields = {"name": "t", "description": "d", "year": 2024, "sources": "[s]", **head}
    text = "".join(f"{k}: {v}\n" for k, v in fields.items())
    if market:
        text += "market:\n" + market
    if shocks:
        text += "shocks:\n" + shocks
    return parse_scenario(text, "test.yaml")


def ban(exporters: str, mineral: str, stage: str, importers: str = "all", severity=1.0) -> str:
    return (
        f"  - {{type: export_ban, exporters: {exporters}, minerals: {mineral}, stage: {stage}, "
        f"importers: {importers}, severity: {severity}}}\n"
    )


def pos(ds: Dataset, code: str) -> int:
    return int(ds.countries.get_loc(code))


def row(frame: pd.DataFrame, mineral: str, stage: str, country: str) -> pd.Series:
    hit = frame[
        (frame["mineral"] == mineral) & (frame["stage"] == stage) & (frame["country"] == country)
    ]
    assert len(hit) == 1, hit
    return hit.iloc[0]


def same(a: Dataset, b: Dataset) -> bool:
    if a.has_trade != b.has_trade:
        return False
    return all(
        np.array_equal(x, y)
        for x, y in (
            (a.production, b.production),
            (a.production_missing, b.production_missing),
            (a.trade_array("content"), b.trade_array("content")),
            (a.trade_array("value"), b.trade_array("value")),
        )
    )


# A refined cobalt market: China refines and exports, Australia is a second supplier.
DEFLECT_FLOWS: dict[Flow, float] = {
    ("cobalt", "refining", "CHN", "USA"): 100.0,
    ("cobalt", "refining", "CHN", "JPN"): 100.0,
    ("cobalt", "refining", "AUS", "JPN"): 50.0,
}
DEFLECT_PROD: dict[Key, float] = {
    ("cobalt", "refining", "CHN"): 300.0,
    ("cobalt", "refining", "AUS"): 50.0,
}


# ------------------------------------------------------------------ no-ops
def test_empty_scenario_changes_nothing():
    ds = build(DEFLECT_PROD, DEFLECT_FLOWS)
    sc = load_scenario(FIXTURES / "minimal.yaml")
    assert same(apply_scenario(ds, sc), ds)
    result = run_scenario(ds, sc)
    assert result.importers.empty
    assert result.market.empty
    scores = result.to_frame()
    assert len(scores) > 0
    assert (scores["delta"].fillna(0.0) == 0.0).all()


def test_ban_with_severity_zero_changes_nothing():
    ds = build(DEFLECT_PROD, DEFLECT_FLOWS)
    sc = scenario(ban("CHN", "cobalt", "both", "[USA]", 0.0))
    assert same(apply_scenario(ds, sc), ds)
    result = run_scenario(ds, sc)
    assert (result.importers["shortfall_t"] == 0).all()
    assert (result.market["price_change_pct"] == 0).all()
    assert (result.to_frame()["delta"].fillna(0) == 0).all()


def test_ban_on_exporter_without_flows_changes_nothing_and_says_so():
    ds = build(DEFLECT_PROD, DEFLECT_FLOWS)
    sc = scenario(ban("KOR", "cobalt", "refining"))
    assert same(apply_scenario(ds, sc), ds)
    notes = run_scenario(ds, sc).notes
    assert any("KOR exported no cobalt/refining" in n and "changes nothing" in n for n in notes)


def test_ban_on_pair_without_trade_changes_nothing_and_says_so():
    # like gallium in the default data: production, but no HS code in BACI
    prod = {**DEFLECT_PROD, ("copper", "refining", "CHN"): 100.0}
    ds = build(prod, DEFLECT_FLOWS)
    sc = scenario(ban("CHN", "copper", "both"))
    assert same(apply_scenario(ds, sc), ds)
    sim = simulate(ds, sc)
    assert any(
        "no bilateral trade for copper/refining in 2024; the ban changes nothing" in n
        for n in sim.notes
    )
    assert any(
        "copper/mining: the dataset has neither production nor trade in 2024; "
        "shocks[0] change nothing" in n
        for n in sim.notes
    )
    no_trade = build(prod, trade=False)
    assert same(apply_scenario(no_trade, sc), no_trade)


# ---------------------------------------------------- bans and deflection
def test_full_ban_to_all_importers_is_withheld():
    ds = build(DEFLECT_PROD, DEFLECT_FLOWS)
    result = run_scenario(ds, scenario(ban("CHN", "cobalt", "refining")))
    q = result.shocked_dataset.trade_array()
    assert q[0, REF, 0, pos(ds, "CHN")].sum() == 0.0
    market = result.market.iloc[0]
    assert market["blocked_t"] == 200.0
    assert market["deflected_t"] == 0.0
    assert market["withheld_t"] == 200.0
    imp = result.importers
    assert row(imp, "cobalt", "refining", "USA")["shortfall_t"] == 100.0
    assert row(imp, "cobalt", "refining", "USA")["shortfall_pct"] == 100.0
    assert row(imp, "cobalt", "refining", "JPN")["shortfall_t"] == 100.0
    assert row(imp, "cobalt", "refining", "JPN")["shortfall_pct"] == pytest.approx(100 / 1.5)
    assert row(imp, "cobalt", "refining", "CHN")["supply_change_t"] == 200.0


def test_importers_lead_with_days_of_cover_and_the_extra_cost_in_dollars():
    ds = build(DEFLECT_PROD, DEFLECT_FLOWS)  # every flow valued at 1000 USD/t
    sc = scenario(ban("CHN", "cobalt", "refining"), duration_months=6)
    result = run_scenario(ds, sc)
    imp = result.importers
    assert list(imp.columns[4:9]) == [
        "shortfall_t", "shortfall_pct", "cover_days", "extra_cost_usd", "price_change_pct",
    ]  # fmt: skip
    months = market_parameters("cobalt").values["stock_months"][0]
    outside = result.market.iloc[0]["price_change_pct"] / 100.0
    inside = result.market.iloc[0]["price_change_inside_pct"] / 100.0
    assert outside > 0 > inside
    jpn, usa, chn = (row(imp, "cobalt", "refining", c) for c in ("JPN", "USA", "CHN"))
    # Japan consumed 150 t and is 100 t short: its stocks of `months` of consumption
    assert jpn["cover_days"] == pytest.approx(365.0 * (months / 12.0 * 150.0) / 100.0)
    # it still buys 50 t a year, for half a year, at 1000 USD/t times the price rise
    assert jpn["unit_value_usd_t"] == pytest.approx(1000.0)
    assert jpn["extra_cost_usd"] == pytest.approx(50.0 * 1000.0 * outside * 0.5)
    assert usa["extra_cost_usd"] == 0.0  # nothing left to buy
    # China, the restricting country, pays its falling inside price for the 100 t it uses
    assert chn["price_change_pct"] == pytest.approx(100.0 * inside)
    assert chn["extra_cost_usd"] == pytest.approx(100.0 * 1000.0 * inside * 0.5)
    assert np.isnan(chn["cover_days"])


@pytest.mark.parametrize(
    ("deflection", "moved"),
    [(1.0, 50.0), (0.4, 40.0), (0.0, 0.0)],
)
def test_targeted_ban_deflects_up_to_what_other_buyers_can_displace(deflection, moved):
    # China's 100 t to the US are blocked. Japan, its other buyer, can take extra
    # Chinese metal only up to the 50 t it buys from Australia; Australia then
    # sells those tonnes to the US.
    ds = build(DEFLECT_PROD, DEFLECT_FLOWS)
    sc = scenario(ban("CHN", "cobalt", "refining", "[USA]"), f"  deflection: {deflection}\n")
    sim = simulate(ds, sc)
    f = sim.flows[0, REF]
    chn, usa, jpn, aus = (pos(ds, c) for c in ("CHN", "USA", "JPN", "AUS"))
    assert f[chn, usa] == 0.0
    assert f[chn, jpn] == pytest.approx(100.0 + moved)
    assert f[aus, jpn] == pytest.approx(50.0 - moved)
    assert f[aus, usa] == pytest.approx(moved)
    led = sim.ledgers[(0, REF)]
    assert (led.blocked, led.deflected, led.withheld) == pytest.approx(
        (100.0, moved, 100.0 - moved)
    )
    imp = run_scenario(ds, sc).importers
    assert row(imp, "cobalt", "refining", "USA")["shortfall_t"] == pytest.approx(100.0 - moved)
    assert row(imp, "cobalt", "refining", "JPN")["shortfall_t"] == pytest.approx(0.0)
    assert row(imp, "cobalt", "refining", "CHN")["supply_change_t"] == pytest.approx(100.0 - moved)


def test_deflection_can_displace_a_buyers_own_production():
    # Japan mines and refines 30 t it uses at home: it can take 30 t more Chinese
    # metal and sell its own 30 t to the US.
    prod = {**DEFLECT_PROD, ("cobalt", "refining", "JPN"): 30.0}
    flows = {k: v for k, v in DEFLECT_FLOWS.items() if k[2] != "AUS"}
    ds = build(prod, flows)
    sc = scenario(ban("CHN", "cobalt", "refining", "[USA]"))
    sim = simulate(ds, sc)
    f = sim.flows[0, REF]
    jpn, usa, chn = pos(ds, "JPN"), pos(ds, "USA"), pos(ds, "CHN")
    assert f[jpn, usa] == pytest.approx(30.0)
    assert f[chn, jpn] == pytest.approx(130.0)
    # values follow: a grown flow keeps its unit value, a new one (Japan exported
    # nothing) is valued at the world average, 1000 USD/t here
    value = apply_scenario(ds, sc).trade_array("value")[0, REF, 0]
    assert value[chn, jpn] == pytest.approx(130_000.0)
    assert value[jpn, usa] == pytest.approx(30_000.0)
    assert value[chn, usa] == 0.0


def test_region_names_expand_to_members():
    flows = {**DEFLECT_FLOWS, ("cobalt", "refining", "CHN", "DEU"): 10.0}
    ds = build(DEFLECT_PROD, flows)
    sim = simulate(ds, scenario(ban("CHN", "cobalt", "refining", "[EU27]")))
    assert sim.flows[0, REF, pos(ds, "CHN"), pos(ds, "DEU")] == 0.0
    assert sim.flows[0, REF, pos(ds, "CHN"), pos(ds, "USA")] == 100.0


# ------------------------------------------------------------------ quotas
def test_quota_caps_the_row_sum_in_proportion():
    ds = build(DEFLECT_PROD, DEFLECT_FLOWS)
    quota = (
        "  - {type: export_quota, exporter: CHN, mineral: cobalt, stage: refining, "
        "cap_fraction: 0.25}\n"
    )
    sim = simulate(ds, scenario(quota))
    f = sim.flows[0, REF]
    assert f[pos(ds, "CHN"), pos(ds, "USA")] == pytest.approx(25.0)
    assert f[pos(ds, "CHN"), pos(ds, "JPN")] == pytest.approx(25.0)
    assert sim.ledgers[(0, REF)].quota_withheld == pytest.approx(150.0)
    loose = quota.replace("cap_fraction: 0.25", "cap_tonnes: 500")
    sim = simulate(ds, scenario(loose))
    assert np.array_equal(sim.flows, sim.flows0)
    assert any("within the cap of 500 t; the quota changes nothing" in n for n in sim.notes)


# ------------------------------------------------ disruption, propagation
def propagation_case() -> Dataset:
    prod = {
        ("cobalt", "mining", "COD"): 100.0,
        ("cobalt", "mining", "AUS"): 50.0,
        ("cobalt", "refining", "CHN"): 90.0,
        ("cobalt", "refining", "COD"): 10.0,
        ("cobalt", "refining", "AUS"): 50.0,
    }
    flows = {
        ("cobalt", "mining", "COD", "CHN"): 80.0,
        ("cobalt", "refining", "CHN", "USA"): 30.0,
        ("cobalt", "refining", "CHN", "JPN"): 30.0,
    }
    return build(prod, flows)


def test_mining_disruption_propagates_to_refined_output_and_exports():
    ds = propagation_case()
    sc = scenario(
        "  - {type: production_disruption, country: COD, mineral: cobalt, stage: mining, "
        "fraction_lost: 0.5}\n"
    )
    sim = simulate(ds, sc)
    m, mine, ref = 0, MINE, REF
    cod, chn, aus = pos(ds, "COD"), pos(ds, "CHN"), pos(ds, "AUS")
    # DR Congo mines 50 t less and ships 40 t instead of 80 t to China.
    assert sim.production[m, mine, cod] == 50.0
    assert sim.flows[m, mine, cod, chn] == 40.0
    # China's feed (80 t of Congolese ore) halves, so does DR Congo's own (20 -> 10 t).
    assert sim.production[m, ref, chn] == pytest.approx(45.0)
    assert sim.production[m, ref, cod] == pytest.approx(5.0)
    assert sim.production[m, ref, aus] == 50.0  # Australian feed is untouched
    assert sim.flows[m, ref, chn, pos(ds, "USA")] == pytest.approx(15.0)
    assert sim.ledgers[(m, ref)].propagated_loss == pytest.approx(50.0)
    imp = run_scenario(ds, sc).importers
    assert row(imp, "cobalt", "mining", "CHN")["shortfall_t"] == pytest.approx(40.0)
    assert row(imp, "cobalt", "mining", "COD")["shortfall_t"] == pytest.approx(10.0)
    assert row(imp, "cobalt", "refining", "USA")["shortfall_t"] == pytest.approx(15.0)
    assert row(imp, "cobalt", "refining", "USA")["shortfall_pct"] == pytest.approx(50.0)


def test_more_ore_does_not_raise_refined_output():
    ds = propagation_case()
    sc = scenario(
        "  - {type: new_supply, country: CHN, mineral: cobalt, stage: mining, "
        "tonnes_per_year: 40}\n"
    )
    sim = simulate(ds, sc)
    assert np.array_equal(sim.production[0, REF], sim.production0[0, REF])
    assert sim.production[0, MINE, pos(ds, "CHN")] == 40.0


def test_intermediate_ban_propagates_to_refined_output():
    # China refines 100 t from 60 t of Congolese hydroxide (intermediate) and 40 t of
    # Australian ore; half the hydroxide is stopped: China's feed falls by 30 %.
    prod = {
        ("cobalt", "mining", "COD"): 80.0,
        ("cobalt", "mining", "AUS"): 40.0,
        ("cobalt", "refining", "CHN"): 100.0,
    }
    flows = {
        ("cobalt", "intermediate", "COD", "CHN"): 60.0,
        ("cobalt", "mining", "AUS", "CHN"): 40.0,
        ("cobalt", "refining", "CHN", "USA"): 50.0,
    }
    ds = build(prod, flows)
    sim = simulate(ds, scenario(ban("COD", "cobalt", "intermediate", severity=0.5)))
    inter = STAGES.index("intermediate")
    chn, usa = pos(ds, "CHN"), pos(ds, "USA")
    assert sim.flows[0, inter, pos(ds, "COD"), chn] == pytest.approx(30.0)
    assert sim.production[0, REF, chn] == pytest.approx(70.0)
    assert sim.flows[0, REF, chn, usa] == pytest.approx(35.0)
    assert sim.ledgers[(0, REF)].propagated_loss == pytest.approx(30.0)
    assert any("less intermediate reaches refiners" in n for n in sim.notes)
    # DR Congo keeps the 30 t it no longer ships: its own (mining) output is untouched
    assert sim.production[0, MINE, pos(ds, "COD")] == 80.0
    # nothing propagates from refining to the component stage, nor ore to intermediate
    assert {(m, s) for m, s in sim.pairs} == {(0, inter), (0, REF)}


def test_shocked_dataset_scales_each_product_flow():
    # two products of one pair (hydroxide and mattes, 40 % Co each) and a pair left alone
    tables = {
        "production": pd.DataFrame(
            {
                "mineral": ["cobalt"] * 2,
                "stage": ["mining", "refining"],
                "country": ["COD", "CHN"],
                "year": [2024, 2024],
                "quantity": [100.0, 60.0],
                "unit": ["t", "t"],
                "source": ["test"] * 2,
            }
        ),
        "trade": pd.DataFrame(
            {
                "mineral": ["cobalt"] * 3,
                "stage": ["intermediate", "intermediate", "refining"],
                "exporter": ["COD", "COD", "CHN"],
                "importer": ["CHN", "CHN", "JPN"],
                "year": [2024] * 3,
                "product": ["HS92:282200", "HS92:810510", ""],
                "quantity": [100.0, 50.0, 20.0],
                "value_usd": [500_000.0, 250_000.0, 600_000.0],
                "source": ["test"] * 3,
            }
        ),
    }
    ds = Dataset.from_tables(tables, name="products")
    sc = scenario(ban("COD", "cobalt", "intermediate", "[CHN]", 0.5), "  deflection: 0\n")
    shocked = apply_scenario(ds, sc)
    before = ds.trade_frame(by_product=True).set_index(["stage", "product"])
    after = shocked.trade_frame(by_product=True).set_index(["stage", "product"])
    for product in ("HS92:282200", "HS92:810510"):
        for column in ("content_t", "gross_t", "value_usd"):
            got = after.loc[("intermediate", product), column]
            assert got == pytest.approx(0.5 * before.loc[("intermediate", product), column])
    # the refined flow fell with China's feed (by half) and kept its unit value
    refined = after.loc[("refining", ""), ["content_t", "value_usd"]]
    assert refined["content_t"] == pytest.approx(10.0)
    assert refined["value_usd"] == pytest.approx(300_000.0)
    # the baseline itself is not modified
    assert before.loc[("intermediate", "HS92:282200"), "gross_t"] == 100.0


def test_disruption_of_a_country_without_output_says_so():
    ds = propagation_case()
    sc = scenario(
        "  - {type: production_disruption, country: JPN, mineral: cobalt, stage: mining, "
        "fraction_lost: 0.5}\n"
    )
    sim = simulate(ds, sc)
    assert np.array_equal(sim.production, sim.production0)
    assert any("is not recorded for 2024; the disruption changes nothing" in n for n in sim.notes)


def test_reexporters_pass_part_of_a_loss_on():
    # Korea imports 100 t from China and re-exports 40 t to the US.
    flows = {
        ("cobalt", "refining", "CHN", "KOR"): 100.0,
        ("cobalt", "refining", "KOR", "USA"): 40.0,
    }
    ds = build({("cobalt", "refining", "CHN"): 100.0}, flows)
    sim = simulate(ds, scenario(ban("CHN", "cobalt", "refining", "[KOR]", 0.5)))
    f = sim.flows[0, REF]
    assert f[pos(ds, "CHN"), pos(ds, "KOR")] == pytest.approx(50.0)
    assert f[pos(ds, "KOR"), pos(ds, "USA")] == pytest.approx(20.0)  # 40 % of the 50 t lost
    assert sim.ledgers[(0, REF)].passed_on == pytest.approx(20.0)


# ------------------------------------------------------------- partnership
def test_partnership_redirects_and_resources_without_shortfall():
    flows = {
        ("copper", "mining", "PER", "CHN"): 100.0,
        ("copper", "mining", "PER", "JPN"): 10.0,
        ("copper", "mining", "CHL", "JPN"): 40.0,
        ("copper", "mining", "CHL", "CHN"): 60.0,
    }
    ds = build({("copper", "mining", "PER"): 110.0, ("copper", "mining", "CHL"): 100.0}, flows)
    sc = scenario(
        "  - {type: partnership, importer: JPN, partner: PER, mineral: copper, stage: mining, "
        "share: 0.2}\n"
    )
    sim = simulate(ds, sc)
    assert list(sim.dataset.minerals) == ["copper"]  # the simulation keeps what it shocks
    f = sim.flows[0, MINE]
    per, chl, chn, jpn = (pos(ds, c) for c in ("PER", "CHL", "CHN", "JPN"))
    assert f[per, chn] == pytest.approx(80.0)
    assert f[per, jpn] == pytest.approx(30.0)
    assert f[chl, jpn] == pytest.approx(20.0)
    assert f[chl, chn] == pytest.approx(80.0)
    led = sim.ledgers[(0, MINE)]
    assert (led.redirected, led.partnership_surplus) == pytest.approx((20.0, 0.0))
    result = run_scenario(ds, sc)
    assert (result.importers["shortfall_t"].abs() < 1e-9).all()
    # Japan's copper ore now comes half from Peru (was a fifth): its supplier mix changed.
    hhi = result.scores
    assert not hhi.empty


# ------------------------------------------- new supply, stockpile, demand
def test_new_supply_serves_the_short_importers():
    ds = build(DEFLECT_PROD, DEFLECT_FLOWS)
    sc = scenario(
        ban("CHN", "cobalt", "refining")
        + "  - {type: new_supply, country: AUS, mineral: cobalt, stage: refining, "
        "tonnes_per_year: 100}\n"
    )
    sim = simulate(ds, sc)
    f = sim.flows[0, REF]
    aus = pos(ds, "AUS")
    assert f[aus, pos(ds, "USA")] == pytest.approx(50.0)  # shortfalls 100 and 100 share 100 t
    assert f[aus, pos(ds, "JPN")] == pytest.approx(100.0)
    assert sim.production[0, REF, aus] == 150.0
    assert sim.ledgers[(0, REF)].new_supply == 100.0


def test_stockpile_release_over_the_duration():
    ds = build(DEFLECT_PROD, DEFLECT_FLOWS)
    sc = scenario(
        ban("CHN", "cobalt", "refining", "[USA, JPN]")
        + "  - {type: stockpile_release, holders: [JPN, USA], mineral: cobalt, "
        "stage: refining, tonnes: 20}\n",
        "  deflection: 0\n",
        duration_months=6,
    )
    imp = run_scenario(ds, sc).importers
    usa = row(imp, "cobalt", "refining", "USA")
    # 20 t shared by shortfall (100 t each): 10 t each, released over 6 months = 20 t/yr.
    assert usa["stockpile_t"] == pytest.approx(10.0)
    assert usa["stockpile_draw_t"] == pytest.approx(20.0)
    assert usa["shortfall_gross_t"] == pytest.approx(100.0)
    assert usa["shortfall_t"] == pytest.approx(80.0)
    assert usa["shortfall_over_duration_t"] == pytest.approx(40.0)
    assert usa["stockpile_cover_days"] == pytest.approx(10.0 / (100.0 / 365.0))


def test_stockpile_in_days_of_consumption():
    ds = build(DEFLECT_PROD, DEFLECT_FLOWS)
    sc = scenario(
        ban("CHN", "cobalt", "refining", "[JPN]")
        + "  - {type: stockpile_release, holders: JPN, mineral: cobalt, "
        "stage: refining, days_of_consumption: 73}\n",
        "  deflection: 0\n",
    )
    jpn = row(run_scenario(ds, sc).importers, "cobalt", "refining", "JPN")
    assert jpn["stockpile_t"] == pytest.approx(150.0 * 73 / 365)  # 30 t
    assert jpn["shortfall_t"] == pytest.approx(70.0)
    assert jpn["stockpile_cover_days"] == pytest.approx(30.0 / (100.0 / 365.0))


def test_world_demand_shock_moves_the_outside_price():
    ds = build(DEFLECT_PROD, DEFLECT_FLOWS)
    sc = scenario("  - {type: demand_shock, mineral: cobalt, stage: refining, multiplier: 1.03}\n")
    result = run_scenario(ds, sc)
    market = result.market.iloc[0]
    # no restricting country: all 350 t consumed are outside; the gap is the 3 % more demand,
    # cobalt's eta 0.35 and kappa 0.5: 0.35 x (1 + 0.5 x) = 0.03
    assert market["gap_fraction"] == pytest.approx(0.03)
    x = (math.sqrt(1 + 4 * 0.5 * 0.03 / 0.35) - 1) / (2 * 0.5)
    assert market["price_change_pct"] == pytest.approx(100 * math.expm1(x))
    assert math.isnan(market["price_change_inside_pct"])
    assert market["price_change_low_pct"] <= market["price_change_pct"]
    assert market["price_change_pct"] <= market["price_change_high_pct"]
    usa = row(result.importers, "cobalt", "refining", "USA")
    assert usa["shortfall_t"] == pytest.approx(3.0)
    assert usa["shortfall_pct"] == pytest.approx(100 * 3 / 103)
    assert usa["price_change_pct"] == market["price_change_pct"]


def test_ban_price_is_the_two_region_price_with_the_scenario_eta():
    ds = build(DEFLECT_PROD, DEFLECT_FLOWS)
    sc = scenario(
        ban("CHN", "cobalt", "refining", severity=0.05),
        "  elasticities: {cobalt: {eta: 1.0}}\n",
    )
    market = run_scenario(ds, sc).market.iloc[0]
    # China withholds 10 t; it consumes 300 - 200 = 100 t, the rest of the world 250 t.
    # 10 % leaks: 9 t lost outside, well within 3.5 months of stocks and front-loading
    # (72.9 t), so the gap is 0 and only precaution 0.1 * 9 / 250 moves the price;
    # eta = 1 (the scenario's), kappa 0.5: x (1 + 0.5 x) = y
    assert market["gap_fraction"] == 0.0
    x_out = (math.sqrt(1 + 4 * 0.5 * (0.1 * 9 / 250)) - 1) / (2 * 0.5)
    x_in = (math.sqrt(1 + 4 * 0.5 * (9 / 100)) - 1) / (2 * 0.5)
    assert market["price_change_pct"] == pytest.approx(100 * math.expm1(x_out))
    assert market["price_change_inside_pct"] == pytest.approx(100 * math.expm1(-x_in))


# ----------------------------------------------------------- label errors
def test_unknown_labels_name_file_line_path_and_valid_choices():
    ds = build(DEFLECT_PROD, DEFLECT_FLOWS)
    with pytest.raises(ScenarioError) as err:
        run_scenario(ds, load_scenario(FIXTURES / "unknown_labels.yaml"))
    text = str(err.value)
    f = FIXTURES / "unknown_labels.yaml"
    assert f"{f}: 2 labels do not match the dataset 'synthetic'" in text
    assert (
        f"{f}:17: shocks[2].exporters[0]: unknown country 'CHX'; use an ISO3 code or a "
        f"country name known to the dataset; valid: AUS, CHL, CHN" in text
    )
    assert (
        f"{f}:18: shocks[2].minerals[1]: unknown mineral 'unobtainium' in this dataset; "
        f"valid: cobalt, copper" in text
    )


def test_unknown_year_and_country_names():
    ds = build(DEFLECT_PROD, DEFLECT_FLOWS)
    with pytest.raises(ScenarioError, match=r"test.yaml:3: year: the dataset 'synthetic' has no"):
        simulate(ds, scenario(year=2023))
    sim = simulate(ds, scenario(ban("China", "cobalt", "refining", "[United States]")))
    assert sim.flows[0, REF, pos(ds, "CHN"), pos(ds, "USA")] == 0.0


def test_result_tables_are_labelled():
    ds = build(DEFLECT_PROD, DEFLECT_FLOWS)
    result = run_scenario(ds, scenario(ban("CHN", "cobalt", "refining", "[USA]")))
    scores = result.to_frame()
    assert list(scores.columns) == [
        "mineral", "stage", "year", "country", "measure", "baseline", "shocked", "delta",
    ]  # fmt: skip
    usa = scores[(scores["country"] == "USA") & (scores["stage"] == "refining")]
    assert {"score", "import_exposure", "hhi"} <= set(usa["measure"])
    conc = result.to_frame("concentration")
    assert {"hhi", "cr1"} <= set(conc["measure"])
    assert {"shortfall_t", "stockpile_cover_days"} <= set(result.to_frame("importers").columns)
    assert "price_change_pct" in result.to_frame("market").columns
    geo = run_scenario(ds, result.scenario, method="geopolrisk", regions=None)
    assert geo.method == "geopolrisk"


# -------------------------------------------------------------- invariants
N = len(COUNTRIES)


@st.composite
def markets(draw: st.DrawFn) -> tuple[Dataset, int, list[int], float, float]:
    """Random refined-cobalt flows, production, a banning exporter and targets."""
    values = st.floats(min_value=0.0, max_value=100.0, allow_nan=False)
    flat = draw(st.lists(values, min_size=N * N, max_size=N * N))
    flows = np.array(flat).reshape(N, N)
    np.fill_diagonal(flows, 0.0)
    flows[flows < 20] = 0.0  # sparse, as trade is
    prod = np.array(draw(st.lists(values, min_size=N, max_size=N)))
    exporter = draw(st.integers(0, N - 1))
    targets = draw(st.lists(st.integers(0, N - 1), min_size=1, max_size=3, unique=True))
    delta = draw(st.sampled_from([0.0, 0.3, 1.0]))
    severity = draw(st.floats(min_value=0.0, max_value=1.0))
    named = {("cobalt", "refining", COUNTRIES[e], COUNTRIES[i]): flows[e, i]
             for e in range(N) for i in range(N) if flows[e, i] > 0}  # fmt: skip
    production = {("cobalt", "refining", COUNTRIES[c]): prod[c] for c in range(N)}
    return build(production, named), exporter, targets, delta, severity


def ban_scenario(exporter: int, targets: list[int], severity: float, delta: float) -> Scenario:
    names = ", ".join(COUNTRIES[t] for t in targets)
    return scenario(
        ban(COUNTRIES[exporter], "cobalt", "refining", f"[{names}]", severity),
        f"  deflection: {delta}\n",
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(markets())
def test_rerouting_conserves_mass(case):
    ds, exporter, targets, delta, severity = case
    sim = simulate(ds, ban_scenario(exporter, targets, severity, delta))
    if not sim.pairs:
        return
    f0, f1 = sim.flows0[0, REF], sim.flows[0, REF]
    led = sim.ledgers[(0, REF)]
    assert (f1 >= 0).all()
    assert led.blocked == pytest.approx(led.deflected + led.withheld, abs=1e-9)
    assert led.deflected <= delta * led.blocked + 1e-9
    # what leaves one buyer arrives at another, or stays with the exporter or a
    # re-exporter; trade can only grow beyond that by a buyer's own output, freed by
    # deflected supply, being sold on to a targeted importer
    lower = f0.sum() - led.withheld - led.passed_on
    own_output = sim.production0[0, REF].sum()
    assert lower - 1e-7 <= f1.sum() <= lower + own_output + 1e-7
    change = sim.supply_change(0, REF)
    assert change.sum() == pytest.approx(0.0, abs=1e-7)
    # every tonne short somewhere is a tonne kept by someone
    assert np.maximum(-change, 0).sum() == pytest.approx(np.maximum(change, 0).sum(), abs=1e-7)


def test_deflection_frees_own_output_for_the_targeted_importer():
    # KOR sells 20 t of refined cobalt to AUS and 20 t to COD, which also refines 1 t.
    # A full ban on KOR -> AUS with 30 % deflection: COD can take 1 t more from KOR
    # (displacing its own output), and AUS buys those freed 1 t from COD.
    named = {("cobalt", "refining", "KOR", "AUS"): 20.0, ("cobalt", "refining", "KOR", "COD"): 20.0}
    production = {("cobalt", "refining", c): (1.0 if c == "COD" else 0.0) for c in COUNTRIES}
    sim = simulate(build(production, named), ban_scenario(COUNTRIES.index("KOR"),
                   [COUNTRIES.index("AUS")], 1.0, 0.3))  # fmt: skip
    f1 = sim.flows[0, REF]
    kor, cod, aus = (COUNTRIES.index(c) for c in ("KOR", "COD", "AUS"))
    assert f1[kor, aus] == 0.0
    assert f1[kor, cod] == pytest.approx(21.0)
    assert f1[cod, aus] == pytest.approx(1.0)
    led = sim.ledgers[(0, REF)]
    assert (led.blocked, led.deflected, led.withheld) == pytest.approx((20.0, 1.0, 19.0))
    change = sim.supply_change(0, REF)
    assert change[aus] == pytest.approx(-19.0)  # short by what was withheld
    assert change[kor] == pytest.approx(19.0)  # kept by the exporter
    assert change[cod] == pytest.approx(0.0)  # 21 t imported, 1 t own output sold on
    assert f1.sum() == pytest.approx(40.0 - 19.0 + 1.0)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(markets(), st.floats(min_value=0.0, max_value=1.0))
def test_larger_ban_never_lowers_the_targets_shortfall(case, other):
    ds, exporter, targets, delta, severity = case
    low, high = sorted((severity, other))
    short = []
    for s in (low, high):
        sim = simulate(ds, ban_scenario(exporter, targets, s, delta))
        gross = sim.gross_shortfall[0, REF] if sim.pairs else np.zeros(N)
        short.append(gross[targets])
    assert (short[1] >= short[0] - 1e-7).all()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    markets(),
    st.floats(min_value=0.0, max_value=1.0),
    st.floats(min_value=0.0, max_value=3.0),
    st.integers(0, N - 1),
)
def test_quantities_never_go_negative(case, fraction, multiplier, other):
    ds, exporter, targets, delta, severity = case
    e, o = COUNTRIES[exporter], COUNTRIES[other]
    shocks = (
        ban(e, "cobalt", "both", f"[{COUNTRIES[targets[0]]}]", severity)
        + f"  - {{type: production_disruption, country: {o}, mineral: cobalt, "
        f"stage: refining, fraction_lost: {fraction}}}\n"
        f"  - {{type: export_quota, exporter: {o}, mineral: cobalt, stage: refining, "
        f"cap_fraction: {fraction}}}\n"
        f"  - {{type: partnership, importer: {o}, partner: {e}, mineral: cobalt, "
        f"stage: refining, share: {fraction}}}\n"
        f"  - {{type: new_supply, country: {o}, mineral: cobalt, stage: refining, "
        f"tonnes_per_year: {10 * multiplier}}}\n"
        f"  - {{type: demand_shock, mineral: cobalt, multiplier: {multiplier}}}\n"
        f"  - {{type: stockpile_release, holders: [{e}, {o}], mineral: cobalt, "
        f"stage: refining, days_of_consumption: 30}}\n"
    )
    sc = scenario(shocks, f"  deflection: {delta}\n")
    shocked = apply_scenario(ds, sc)
    assert (shocked.production >= 0).all()
    assert shocked.trade is not None
    assert (shocked.trade_array("content") >= 0).all()
    assert (shocked.trade_array("value") >= 0).all()
    importers = importer_table(simulate(ds, sc))
    assert (importers["shortfall_t"] >= 0).all()
    assert (importers["stockpile_draw_t"] <= importers["shortfall_gross_t"] + 1e-9).all()


# ------------------------------------------- scores respond to lost supply
@st.composite
def shock_sets(draw: st.DrawFn) -> tuple[Dataset, Scenario]:
    """A random refined market with ore feeding it, and 1-3 bans, quotas or disruptions."""
    ds, _exporter, targets, delta, _severity = draw(markets())
    fractions = st.floats(min_value=0.0, max_value=1.0)
    shocks = ""
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["ban", "targeted", "quota", "disruption"]))
        c = COUNTRIES[draw(st.integers(0, N - 1))]
        stage = draw(st.sampled_from(["mining", "refining"]))
        if kind == "ban":
            shocks += ban(c, "cobalt", stage, "all", draw(fractions))
        elif kind == "targeted":
            names = ", ".join(COUNTRIES[t] for t in targets)
            shocks += ban(c, "cobalt", stage, f"[{names}]", draw(fractions))
        elif kind == "quota":
            shocks += (
                f"  - {{type: export_quota, exporter: {c}, mineral: cobalt, stage: {stage}, "
                f"cap_fraction: {draw(fractions)}}}\n"
            )
        else:
            shocks += (
                f"  - {{type: production_disruption, country: {c}, mineral: cobalt, "
                f"stage: {stage}, fraction_lost: {draw(fractions)}}}\n"
            )
    # ore: every refiner takes its feed from two mining countries
    prod = {("cobalt", "refining", c): float(ds.production[0, REF, 0, pos(ds, c)])
            for c in COUNTRIES}  # fmt: skip
    prod.update({("cobalt", "mining", "COD"): 300.0, ("cobalt", "mining", "AUS"): 80.0})
    flows = {
        ("cobalt", "refining", COUNTRIES[e], COUNTRIES[i]): float(q)
        for (e, i), q in np.ndenumerate(ds.trade_array()[0, REF, 0])
        if q > 0
    }
    for refiner, share in zip(draw(st.permutations(COUNTRIES))[:3], (0.5, 0.3, 0.2), strict=True):
        if refiner not in ("COD", "AUS"):
            flows[("cobalt", "mining", "COD", refiner)] = 200.0 * share
            flows[("cobalt", "mining", "AUS", refiner)] = 60.0 * share
    return build(prod, flows), scenario(shocks, f"  deflection: {delta}\n")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shock_sets())
def test_a_country_whose_supply_falls_never_scores_lower(case):
    ds, sc = case
    result = run_scenario(ds, sc)
    sim = simulate(ds, sc)
    changes = result.score_changes()
    for m, s in sim.pairs:
        p0, p1 = sim.production0[m, s], sim.production[m, s]
        f0, f1 = sim.flows0[m, s], sim.flows[m, s]
        assert (p1 >= 0).all()
        assert (f1 >= 0).all()
        # mass: output changes only by what the ledger says was lost
        led = sim.ledgers[(m, s)]
        lost = p0.sum() - p1.sum()
        assert lost == pytest.approx(led.production_lost + led.propagated_loss, abs=1e-7)
        supply0 = p0 + f0.sum(axis=0)
        fell = (p1 + f1.sum(axis=0)) < supply0 - np.maximum(1e-6, 1e-9 * supply0)  # > a gram
        for c in np.flatnonzero(fell):
            hit = changes[(changes["stage"] == STAGES[s]) & (changes["country"] == COUNTRIES[c])]
            assert len(hit) == 1, (COUNTRIES[c], STAGES[s])
            before, after = hit["baseline"].iloc[0], hit["shocked"].iloc[0]
            if np.isnan(before):  # no score before (nothing consumed): nothing to compare
                continue
            assert after >= before - 1e-12, (COUNTRIES[c], STAGES[s], before, after)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shock_sets(), st.lists(st.floats(0.0, 1.0), min_size=2 * N, max_size=2 * N))
def test_row_scaling_shocks_in_a_batch_are_the_engine_run_one_by_one(case, severities):
    ds, _ = case
    stages = ("mining", "refining")
    shocks = "".join(
        ban(COUNTRIES[c], "cobalt", stage, "all", severities[j * N + c])
        for j, stage in enumerate(stages)
        for c in range(N)
        if severities[j * N + c] > 0.3
    )
    sc = scenario(shocks)
    sim = simulate(ds, sc)
    m = list(sim.dataset.minerals).index("cobalt") if len(sim.dataset.minerals) else None
    full = ds.sel(minerals=["cobalt"])
    p0 = full.production[0, :, 0]
    f0 = full.trade_array()[0, :, 0]
    scale = np.ones((2, len(STAGES), N))  # the scenario, and no shock at all
    for j, stage in enumerate(stages):
        s = STAGES.index(stage)
        sev = np.array(severities[j * N : (j + 1) * N])
        scale[0, s] = np.where(sev > 0.3, 1.0 - sev, 1.0)
    feed = [STAGES.index("mining"), STAGES.index("intermediate")]
    out = respond_rows(p0, list(f0), scale, feed, MINE, REF)
    assert np.allclose(out.rows[1], 1.0)
    assert (out.withheld[1] == 0).all()
    if m is None:
        assert np.allclose(out.rows[0], 1.0)
        return
    for s in range(len(STAGES)):
        np.testing.assert_allclose(out.rows[0, s][:, None] * f0[s], sim.flows[m, s], atol=1e-9)
        np.testing.assert_allclose(out.production[0, s], sim.production[m, s], atol=1e-9)
        np.testing.assert_allclose(out.adjust[0, s], sim.adjust[m, s], atol=1e-9)
        if (m, s) in sim.ledgers:
            led = sim.ledgers[(m, s)]
            assert out.withheld[0, s] == pytest.approx(led.withheld, abs=1e-9)
            assert out.passed_on[0, s] == pytest.approx(led.passed_on, abs=1e-9)
            assert out.propagated_loss[0, s] == pytest.approx(led.propagated_loss, abs=1e-9)
