"""The bundled scenario library: every file valid, sourced, and runnable on the default data."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pandas as pd
import pytest

from riskengine.dataset import Dataset, RiskEngineWarning, load_dataset
from riskengine.scenarios import (
    ScenarioResult,
    default_scenarios_dir,
    list_scenarios,
    load_scenario,
    run_scenario,
)

ROOT = Path(__file__).resolve().parents[1]
LIBRARY = ROOT / "scenarios"
FILES = sorted(LIBRARY.glob("*.yaml"))

#: Events the library must encode (issue text), by file.
REQUIRED = {
    "cn-gallium-germanium-licences-2023": "2023",
    "cn-ga-ge-sb-ban-us-2024": "3 December 2024",
    "cn-graphite-licences-2023": "1 December 2023",
    "cn-seven-rare-earths-licences-2025": "4 April 2025",
    "cn-five-metals-licences-2025": "4 February 2025",
    "cn-antimony-controls-2024": "15 September 2024",
    "id-nickel-ore-ban-2020": "1 January 2020",
    "cd-cobalt-export-suspension-2025": "22 February 2025",
    "cd-cobalt-export-quota-2025": "16 October 2025",
    "jp-pe-copper-zinc-partnership-2024": "17 November 2024",
    "kr-jp-rare-earth-stockpile-release": "2023",
    "cn-full-ban-cobalt-lithium-graphite-hypothetical": "2024",
}


@pytest.fixture(scope="module")
def datasets() -> dict[int, Dataset]:
    """The default dataset, one Dataset per scenario year (loaded once)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RiskEngineWarning)
        whole = load_dataset()
    years = sorted({load_scenario(f).year for f in FILES})
    return {y: whole.sel(years=y) for y in years}


@pytest.fixture(scope="module")
def results(datasets: dict[int, Dataset]) -> dict[str, ScenarioResult]:
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RiskEngineWarning)
        for f in FILES:
            sc = load_scenario(f)
            out[f.stem] = run_scenario(datasets[sc.year], sc)
    return out


def test_library_has_the_required_scenarios():
    assert len(FILES) >= 10
    assert set(REQUIRED) <= {f.stem for f in FILES}
    assert [p.name for p in list_scenarios()] == [f.name for f in FILES]
    assert default_scenarios_dir() == LIBRARY


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_every_file_cites_the_event_and_its_date(path: Path):
    sc = load_scenario(path)
    assert sc.sources
    text = " ".join(sc.sources)
    assert re.search(r"\b(19|20)\d\d\b", text), f"{path.name}: no year in sources"
    if path.stem in REQUIRED:
        assert REQUIRED[path.stem] in text + sc.description
    assert sc.shocks, f"{path.name}: no shocks"
    assert path.read_text(encoding="utf-8").startswith("# yaml-language-server: $schema=")


def test_every_file_runs_on_the_default_data(results: dict[str, ScenarioResult]):
    assert set(results) == {f.stem for f in FILES}
    for name, result in results.items():
        shocked = result.shocked_dataset
        assert (shocked.production >= 0).all(), name
        assert shocked.trade is not None
        assert (shocked.trade.content >= 0).all(), name
        assert (shocked.trade.value >= 0).all(), name
        imp = result.importers
        assert (imp["shortfall_t"] >= 0).all(), name
        assert set(result.market["mineral"]) <= set(shocked.minerals), name
        assert list(result.to_frame().columns)[-3:] == ["baseline", "shocked", "delta"], name


def test_no_importer_left_short_scores_lower_in_any_library_event(results):
    """Every real event of the library: an importer short of supply never scores lower."""
    short_somewhere = 0
    for name, result in results.items():
        if result.method != "riskengine":
            continue
        imp = result.importers
        short = imp[imp["shortfall_gross_t"] > 1e-3][["mineral", "stage", "country"]]
        short_somewhere += len(short)
        changes = short.merge(result.score_changes(), on=["mineral", "stage", "country"])
        falling = changes[changes["delta"] < -1e-12]
        assert falling.empty, (name, falling.head(3).to_dict("records"))
    assert short_somewhere > 500  # the events do leave importers short


def market_row(result: ScenarioResult, mineral: str, stage: str) -> pd.Series:
    m = result.market
    return m[(m["mineral"] == mineral) & (m["stage"] == stage)].iloc[0]


def test_graphite_licences_block_an_eighth_of_chinas_2024_exports(results):
    row = market_row(results["cn-graphite-licences-2023"], "natural_graphite", "mining")
    # BACI 2024, China's exports of HS 2504 with a quantity: 148,858.931 t of flake and
    # powder (HS92 250410, V202401b) and 30,618.165 t of other natural graphite (HS17
    # 250490, V202601, which stands for 2024 instead of HS92 250490); severity 0.125
    assert row["blocked_t"] == pytest.approx(0.125 * (148_858.931 + 30_618.165), abs=1.0)
    assert row["withheld_t"] == pytest.approx(row["blocked_t"])  # all importers: no deflection


def test_nickel_ore_ban_withholds_indonesias_2019_exports(results):
    result = results["id-nickel-ore-ban-2020"]
    row = market_row(result, "nickel", "mining")
    # BACI HS92 2019: 28,941,665 t of ore (gross) x 1.5 % Ni, the catalogue's central
    # grade of HS92:260400 (laterite ore as shipped)
    assert row["blocked_t"] == pytest.approx(28_941_665 * 0.015, rel=1e-6)
    assert row["world_production_t"] == 0.0  # no 2019 production in the default data
    china = result.importers.set_index(["mineral", "stage", "country"]).loc[
        ("nickel", "mining", "CHN")
    ]
    assert china["shortfall_t"] > 0.9 * 27e6 * 0.015


def test_cobalt_quota_caps_drc_at_the_quota_share(results):
    row = market_row(results["cd-cobalt-export-quota-2025"], "cobalt", "intermediate")
    # DR Congo's 2024 intermediate exports in BACI: 635,045.8 t of HS92 8105.10 and
    # 23,506.1 t of HS17 2822.00 (gross), both at the catalogue's 40 % Co; the quota
    # keeps 96,600 t of cobalt
    exports = (635_045.822 + 23_506.092) * 0.40
    assert row["quota_withheld_t"] == pytest.approx(exports - 96_600, rel=1e-6)


def test_partnership_moves_a_tenth_of_perus_other_sales(results):
    result = results["jp-pe-copper-zinc-partnership-2024"]
    row = market_row(result, "copper", "mining")
    assert row["redirected_t"] > 0
    assert row["price_change_pct"] == 0.0
    assert (result.importers["shortfall_t"] == 0).all()


def test_bans_without_trade_data_say_so(results):
    notes = " ".join(results["cn-ga-ge-sb-ban-us-2024"].notes)
    assert "CHN exported no antimony/mining to the targeted importers in 2024" in notes


def test_gallium_ban_to_the_us_cuts_chinas_share_of_us_imports(results):
    # USGS-derived US gallium imports 2024: 11 t x (CAN 28 %, JPN 22 %, CHN 18 %, DEU 16 %)
    imp = results["cn-ga-ge-sb-ban-us-2024"].importers.set_index(["mineral", "stage", "country"])
    usa = imp.loc[("gallium", "refining", "USA")]
    assert usa["shortfall_t"] == pytest.approx(1.98, rel=1e-6)
    assert usa["shortfall_t"] / usa["consumption_t"] == pytest.approx(1.98 / 9.24, rel=1e-6)


def test_joint_stockpile_covers_part_of_the_shortfall(results):
    imp = results["kr-jp-rare-earth-stockpile-release"].importers.set_index(
        ["mineral", "stage", "country"]
    )
    japan = imp.loc[("rare_earths", "refining", "JPN")]
    korea = imp.loc[("rare_earths", "refining", "KOR")]
    assert japan["stockpile_t"] + korea["stockpile_t"] == pytest.approx(3100)
    assert 0 < japan["stockpile_draw_t"] <= japan["shortfall_gross_t"]
    assert japan["shortfall_t"] < japan["shortfall_gross_t"]
    assert japan["stockpile_cover_days"] > 0


def test_five_metals_licences_withhold_half_of_chinas_2024_bismuth_exports(results):
    row = market_row(results["cn-five-metals-licences-2025"], "bismuth", "refining")
    # BACI HS92 2024 (the extract's 2024 rows), China's exports of 810600 (bismuth, content
    # 1): 3,490.81 t over 52 flows, all with a quantity; severity 0.5
    assert row["withheld_t"] == pytest.approx(0.5 * 3_490.81, abs=0.01)
    assert row["price_change_pct"] > 0 > row["price_change_inside_pct"]
