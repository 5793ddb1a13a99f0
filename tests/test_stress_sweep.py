"""The ban sweep against the scenario engine: every ban of a synthetic market, a sample of
the default data, hand-computed figures, rankings and errors."""

from __future__ import annotations

import math
import warnings
import zlib
from collections.abc import Mapping

import numpy as np
import pandas as pd
import pytest

import riskengine
from riskengine.dataset import Dataset
from riskengine.dims import STAGES, WGI_INDICATORS
from riskengine.errors import RiskEngineError, UnknownLabelError
from riskengine.scenarios.models import ExportBan, Market, Scenario
from riskengine.stress.sweeps import SweepResult, sweep

COUNTRIES = ("AUS", "CHL", "CHN", "COD", "DEU", "IDN", "JPN", "KOR", "NLD", "USA")
MINERALS = ("cobalt", "copper")
PV = {"AUS": 0.86, "CHL": 0.04, "CHN": -0.47, "COD": -1.79, "DEU": 0.6, "IDN": -0.5,
      "JPN": 1.0, "KOR": 0.6, "NLD": 0.8, "USA": 0.0}  # fmt: skip

PRODUCTION = {
    ("cobalt", "mining", "COD"): 170.0,
    ("cobalt", "mining", "AUS"): 20.0,
    ("cobalt", "mining", "IDN"): 30.0,
    ("cobalt", "refining", "CHN"): 150.0,
    ("cobalt", "refining", "JPN"): 20.0,
    ("cobalt", "refining", "AUS"): 10.0,
    ("cobalt", "refining", "USA"): 5.0,
    ("copper", "mining", "CHL"): 500.0,
    ("copper", "mining", "AUS"): 100.0,
    ("copper", "refining", "CHN"): 300.0,
    ("copper", "refining", "JPN"): 150.0,
    ("copper", "refining", "DEU"): 60.0,
}
FLOWS = {
    # ore: DR Congo and Indonesia feed China's refiners, Australia feeds Japan
    ("cobalt", "mining", "COD", "CHN"): 140.0,
    ("cobalt", "mining", "IDN", "CHN"): 25.0,
    ("cobalt", "mining", "AUS", "JPN"): 15.0,
    ("cobalt", "mining", "COD", "JPN"): 10.0,
    # refined: China sells widely; the Netherlands re-exports to Germany
    ("cobalt", "refining", "CHN", "USA"): 30.0,
    ("cobalt", "refining", "CHN", "JPN"): 20.0,
    ("cobalt", "refining", "CHN", "NLD"): 25.0,
    ("cobalt", "refining", "CHN", "KOR"): 35.0,
    ("cobalt", "refining", "JPN", "USA"): 8.0,
    ("cobalt", "refining", "JPN", "KOR"): 4.0,
    ("cobalt", "refining", "AUS", "USA"): 6.0,
    ("cobalt", "refining", "NLD", "DEU"): 18.0,
    ("cobalt", "refining", "NLD", "USA"): 2.0,
    ("cobalt", "refining", "KOR", "NLD"): 3.0,
    # copper concentrate and cathode
    ("copper", "mining", "CHL", "CHN"): 300.0,
    ("copper", "mining", "CHL", "JPN"): 120.0,
    ("copper", "mining", "AUS", "CHN"): 40.0,
    ("copper", "mining", "AUS", "KOR"): 30.0,
    ("copper", "refining", "CHN", "USA"): 50.0,
    ("copper", "refining", "JPN", "USA"): 30.0,
    ("copper", "refining", "JPN", "KOR"): 40.0,
    ("copper", "refining", "DEU", "NLD"): 20.0,
    ("copper", "refining", "CHN", "DEU"): 25.0,
    ("copper", "refining", "NLD", "USA"): 12.0,
}


def build(
    production: Mapping[tuple[str, str, str], float] = PRODUCTION,
    flows: Mapping[tuple[str, str, str, str], float] = FLOWS,
) -> Dataset:
    """One year (2024) with the given quantities; trade valued at 1000 USD/t."""
    c_idx = pd.Index(COUNTRIES, name="country")
    m_idx = pd.Index(MINERALS, name="mineral")
    s_idx = pd.Index(STAGES, name="stage")
    prod = np.zeros((len(m_idx), len(s_idx), 1, len(c_idx)))
    for (m, s, c), q in production.items():
        prod[m_idx.get_loc(m), s_idx.get_loc(s), 0, c_idx.get_loc(c)] = q
    tq = np.zeros((len(m_idx), len(s_idx), 1, len(c_idx), len(c_idx)))
    for (m, s, e, i), q in flows.items():
        tq[m_idx.get_loc(m), s_idx.get_loc(s), 0, c_idx.get_loc(e), c_idx.get_loc(i)] = q
    gov = np.zeros((len(WGI_INDICATORS), 1, len(c_idx)))
    for k in range(len(WGI_INDICATORS)):
        gov[k, 0, :] = [PV[c] + 0.1 * k for c in COUNTRIES]
    info = pd.DataFrame(
        {"eol_rir": [0.22, 0.17], "substitution_index": [0.98, 0.95]},
        index=pd.Index(MINERALS, name="mineral"),
    )
    return Dataset.from_arrays(
        minerals=m_idx,
        stages=s_idx,
        years=[2024],
        countries=c_idx,
        production=prod,
        trade=tq,
        trade_value=tq * 1000.0,
        governance=gov,
        governance_years=[2022],
        mineral_info=info,
        name="synthetic",
    )


def ban_scenario(row: pd.Series, year: int, target: str | None, market: Market) -> Scenario:
    return Scenario(
        name="one ban",
        description="one ban of the sweep",
        year=year,
        sources=["test"],
        market=market,
        shocks=[
            ExportBan(
                type="export_ban",
                exporters=str(row["exporter"]).split("+"),  # a pair sweep: both
                minerals=[row["mineral"]],
                stage=row["stage"],
                importers=[target] if target else "all",
                severity=float(row["severity"]),
            )
        ],
    )


def volumes(ds: Dataset, year: int) -> pd.Series:
    """Gross volume P + M + X of every (mineral, stage, country): the scale of a balance."""
    sub = ds.sel(years=[year])
    p = sub.production[:, :, 0]
    f = sub.trade_array()[:, :, 0]
    v = p + f.sum(axis=-1) + f.sum(axis=-2)
    idx = pd.MultiIndex.from_product([sub.minerals, sub.stages, sub.countries])
    return pd.Series(v.ravel(), index=idx)


def assert_matches_engine(
    ds: Dataset, result: SweepResult, bans: list[int], method: str, **params: object
) -> int:
    """Compare sampled bans with run_scenario; return the number of values compared.

    Tonnes are balances (differences of production, imports and exports), so they
    are compared to 1e-9 of themselves or 1e-12 of the country's gross volume,
    whichever is larger; scores and prices to 1e-9 relative.
    """
    vol = volumes(ds, result.year)
    compared = 0
    for ban in bans:
        row = result.bans.set_index("ban").loc[ban]
        row = pd.concat([row, pd.Series({"ban": ban})])
        sc = ban_scenario(row, result.year, result.target, result.market)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            engine = riskengine.run_scenario(ds, sc, method=method, **params)
        mine = result.impact(ban)
        # importers: every engine row must match; rows the sweep lacks are unchanged (0)
        imp = engine.importers.merge(
            mine,
            left_on=["stage", "country"],
            right_on=["affected_stage", "country"],
            how="outer",
            suffixes=("_engine", "_sweep"),
        )
        stage = imp["stage_engine"].fillna(imp["affected_stage"])
        scale = vol.reindex(
            pd.MultiIndex.from_arrays([[row["mineral"]] * len(imp), stage, imp["country"]])
        ).to_numpy()
        for col in ("shortfall_t", "supply_change_t"):
            a = imp[f"{col}_engine"].fillna(0.0).to_numpy()
            b = imp[f"{col}_sweep"].fillna(0.0).to_numpy()
            tol = np.maximum(1e-9 * np.abs(a), 1e-12 * scale)
            bad = np.abs(a - b) > tol
            assert not bad.any(), (row.to_dict(), col, imp[bad])
            compared += len(a)
        pct = imp.dropna(subset=["shortfall_pct_engine"])
        pct = pct[pct["shortfall_t_engine"] > 0]
        np.testing.assert_allclose(
            pct["shortfall_pct_sweep"], pct["shortfall_pct_engine"], rtol=1e-9, atol=1e-9
        )
        # scores: every score change of the engine
        sc_rows = engine.score_changes().merge(
            mine[["affected_stage", "country", "score_change"]],
            left_on=["stage", "country"],
            right_on=["affected_stage", "country"],
            how="left",
        )
        want = sc_rows["delta"].to_numpy()
        got = sc_rows["score_change"].to_numpy()
        got = np.where(np.isnan(got) & ~np.isnan(want), 0.0, got)  # unchanged: left out
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12, equal_nan=True)
        compared += len(want)
        # market: the ledger and the price of every touched stage
        market = result.market_table[result.market_table["ban"] == ban].set_index("affected_stage")
        for _, m in engine.market.iterrows():
            moved = abs(m["blocked_t"]) + abs(m["propagated_loss_t"]) + abs(m["passed_on_t"])
            if m["stage"] not in market.index:
                assert moved == 0, m
                continue
            s = market.loc[m["stage"]]
            for col in (
                "blocked_t", "deflected_t", "withheld_t", "passed_on_t", "propagated_loss_t",
            ):  # fmt: skip
                assert s[col] == pytest.approx(m[col], rel=1e-9, abs=1e-9), col
            for col in (
                "gap_fraction", "price_change_pct", "price_change_inside_pct",
                "price_change_low_pct", "price_change_high_pct",
            ):  # fmt: skip
                assert s[col] == pytest.approx(m[col], rel=1e-9, abs=1e-12, nan_ok=True), col
            compared += 7
    return compared


# --------------------------------------------------------- synthetic market
@pytest.fixture(scope="module")
def synthetic() -> Dataset:
    return build()


@pytest.mark.parametrize(
    ("target", "severity", "method", "deflection"),
    [
        (None, 1.0, "riskengine", 1.0),
        (None, 0.35, "geopolrisk", 1.0),
        ("USA", 1.0, "riskengine", 1.0),
        ("USA", 0.6, "eu", 0.5),
        ("KOR", 1.0, "geopolrisk", 1.0),
        ("NLD", 0.8, "riskengine", 0.0),
    ],
)
def test_every_ban_of_a_synthetic_market_equals_the_engine(
    synthetic, target, severity, method, deflection
):
    params = {"regions": {"EU": ["DEU", "NLD"]}} if method != "riskengine" else {}
    result = sweep(
        synthetic,
        target=target,
        severity=severity,
        method=method,
        market={"deflection": deflection},
        **params,
    )
    assert len(result.bans) > 0
    compared = assert_matches_engine(synthetic, result, list(result.bans["ban"]), method, **params)
    assert compared > 50


def test_bans_cover_every_exporter_mineral_and_stage(synthetic):
    result = sweep(synthetic)
    got = set(result.bans[["mineral", "stage", "exporter"]].itertuples(index=False))
    want = {(m, s, e) for (m, s, e, _i) in FLOWS}
    assert got == want
    targeted = sweep(synthetic, target="USA")
    want_usa = {(m, s, e) for (m, s, e, i) in FLOWS if i == "USA"}
    assert set(targeted.bans[["mineral", "stage", "exporter"]].itertuples(index=False)) == (
        want_usa
    )
    assert (targeted.bans["target"] == "USA").all()


def test_hand_computed_ban_without_reexporters(synthetic):
    result = sweep(synthetic, minerals=["cobalt"], stages=["refining"], severity=0.5)
    ban = result.find("AUS", "cobalt", "refining")
    assert ban is not None
    row = result.bans.set_index("ban").loc[ban]
    # Australia sells its 6 t to the USA only; half is stopped and stays in Australia
    assert row["blocked_t"] == pytest.approx(3.0)
    assert row["withheld_t"] == pytest.approx(3.0)
    assert row["passed_on_t"] == 0.0  # the USA re-exports nothing
    imp = result.impact(ban).set_index("country")
    usa = imp.loc["USA"]
    # USA: production 5 + imports 30 + 8 + 6 + 2 = 51 t consumed; 3 t short = 5.88 %
    assert usa["consumption_t"] == pytest.approx(51.0)
    assert usa["shortfall_t"] == pytest.approx(3.0)
    assert usa["shortfall_pct"] == pytest.approx(100 * 3 / 51)
    assert imp.loc["AUS", "supply_change_t"] == pytest.approx(3.0)
    assert imp.loc["AUS", "shortfall_t"] == 0.0
    # two-region price: Australia consumes 10 - 6 = 4 t, the rest of the world 185 - 4 = 181 t;
    # 10 % of the 3 t withheld leaks, 2.7 t are lost outside, within cobalt's 3.5 months of
    # stocks and front-loading: no gap, only precaution 0.1 * 2.7 / 181 moves the price;
    # eta 0.35, kappa 0.5: 0.35 x (1 + 0.5 x) = y outside, and y = 2.7 / 4 inside
    assert row["gap_fraction"] == 0.0
    x_out = (math.sqrt(1 + 4 * 0.5 * (0.1 * 2.7 / 181) / 0.35) - 1) / (2 * 0.5)
    x_in = (math.sqrt(1 + 4 * 0.5 * (2.7 / 4) / 0.35) - 1) / (2 * 0.5)
    assert row["price_change_pct"] == pytest.approx(100 * math.expm1(x_out))
    assert row["price_change_inside_pct"] == pytest.approx(100 * math.expm1(-x_in))


def test_full_ban_of_china_passes_through_reexporters(synthetic):
    result = sweep(synthetic, minerals=["cobalt"], stages=["refining"], exporters=["CHN"])
    ban = result.find("CHN", "cobalt", "refining")
    assert ban is not None
    row = result.bans.set_index("ban").loc[ban]
    # China exported 30 + 20 + 25 + 35 = 110 t of refined cobalt; all withheld
    assert row["blocked_t"] == pytest.approx(110.0)
    assert row["withheld_t"] == pytest.approx(110.0)
    assert row["deflected_t"] == 0.0
    imp = result.impact(ban).set_index("country")
    assert imp.loc["USA", "blocked_t"] == pytest.approx(30.0)
    # Japan and the Netherlands re-export part of what they lose to the USA and Germany
    assert imp.loc["USA", "shortfall_t"] > 30.0
    assert imp.loc["NLD", "blocked_t"] == pytest.approx(25.0)
    assert imp.loc["NLD", "shortfall_t"] < 25.0
    assert imp.loc["DEU", "blocked_t"] == 0.0
    assert imp.loc["DEU", "shortfall_t"] > 0.0
    assert row["passed_on_t"] > 0


def test_a_mining_ban_reaches_refiners(synthetic):
    result = sweep(synthetic, minerals=["cobalt"], stages=["mining"], exporters=["COD"])
    ban = result.find("COD", "cobalt", "mining")
    assert ban is not None
    markets = result.market_table[result.market_table["ban"] == ban]
    assert set(markets["affected_stage"]) == {"mining", "refining"}
    refining = markets.set_index("affected_stage").loc["refining"]
    # China's feed: 140 + 25 t of ore, 140 lost: refined output falls by 140/165
    assert refining["propagated_loss_t"] == pytest.approx(150 * 140 / 165 + 20 * 10 / 25)
    assert not np.isnan(result.bans.set_index("ban").loc[ban, "refining_price_change_pct"])


#: Cobalt hydroxide: DR Congo and Indonesia also ship intermediates to China's refiners.
INTERMEDIATE_FLOWS = {
    **FLOWS,
    ("cobalt", "intermediate", "COD", "CHN"): 40.0,
    ("cobalt", "intermediate", "IDN", "CHN"): 10.0,
    ("cobalt", "intermediate", "CHN", "KOR"): 5.0,
}


@pytest.mark.parametrize(("target", "method"), [(None, "riskengine"), ("CHN", "geopolrisk")])
def test_intermediate_bans_equal_the_engine(target, method):
    ds = build(flows=INTERMEDIATE_FLOWS)
    result = sweep(ds, minerals=["cobalt"], target=target, method=method)
    stages = set(result.bans["stage"])
    assert "intermediate" in stages
    assert assert_matches_engine(ds, result, list(result.bans["ban"]), method) > 50


def test_an_intermediate_ban_reaches_refiners():
    ds = build(flows=INTERMEDIATE_FLOWS)
    result = sweep(ds, minerals=["cobalt"], stages=["intermediate"], exporters=["COD"])
    ban = result.find("COD", "cobalt", "intermediate")
    assert ban is not None
    markets = result.market_table[result.market_table["ban"] == ban].set_index("affected_stage")
    assert set(markets.index) == {"intermediate", "refining"}
    # China's feed: 140 + 25 t of ore and 40 + 10 t of hydroxide; the 40 t from DR Congo
    # are lost, so China's 150 t of refined output fall by 40/215
    assert markets.loc["refining", "propagated_loss_t"] == pytest.approx(150 * 40 / 215)
    assert markets.loc["intermediate", "blocked_t"] == pytest.approx(40.0)


def test_chunk_size_does_not_change_the_result(synthetic):
    one = sweep(synthetic, target="USA", chunk_size=1)
    many = sweep(synthetic, target="USA", chunk_size=64)
    pd.testing.assert_frame_equal(one.impacts, many.impacts, check_exact=False, rtol=1e-12)
    pd.testing.assert_frame_equal(one.bans, many.bans, check_exact=False, rtol=1e-12)


def test_rankings_per_importer_and_per_exporter(synthetic):
    result = sweep(synthetic)
    ranking = result.ranking(by="shortfall_t", top=3, importers=["USA"])
    assert list(ranking["rank"]) == [1, 2, 3]
    assert ranking["shortfall_t"].is_monotonic_decreasing
    # the worst single ban for the USA in tonnes: Chile's copper concentrate, which
    # feeds China's refineries (300 of 340 t) and Japan's (all 120 t); the USA loses
    # 50 * 300/340 + 30 t of cathode directly, and more through the Netherlands
    first = ranking.iloc[0]
    assert tuple(first[["exporter", "mineral", "stage", "affected_stage"]]) == (
        "CHL", "copper", "mining", "refining",
    )  # fmt: skip
    assert first["shortfall_t"] > 50 * 300 / 340 + 30
    second = ranking.iloc[1]
    assert tuple(second[["exporter", "mineral", "stage"]]) == ("CHN", "copper", "refining")
    by_score = result.ranking(by="score_change", top=None)
    assert (by_score["score_change"] > 0).all()
    exposure = result.exposure(by="shortfall_t", exporters=["CHN"], top=None)
    assert exposure["country"].is_unique  # one (worst) ban per importer
    usa = exposure.set_index("country").loc["USA"]
    assert usa["mineral"] == "copper"
    assert usa["shortfall_t"] >= 50.0
    with pytest.raises(UnknownLabelError, match="ranking measure"):
        result.ranking(by="tonnes")  # type: ignore[arg-type]


def test_errors_name_what_is_wrong(synthetic):
    with pytest.raises(UnknownLabelError, match="unknown mineral: cobolt"):
        sweep(synthetic, minerals=["cobolt"])
    with pytest.raises(UnknownLabelError, match="unknown country: Atlantis"):
        sweep(synthetic, target="Atlantis")
    with pytest.raises(UnknownLabelError, match="unknown method: gpr"):
        sweep(synthetic, method="gpr")
    with pytest.raises(RiskEngineError, match=r"severity must be in \(0, 1\]"):
        sweep(synthetic, severity=0.0)
    with pytest.raises(RiskEngineError, match="selects years itself"):
        sweep(synthetic, years=[2024])
    with pytest.raises(UnknownLabelError, match="unknown year"):
        sweep(synthetic, year=1999)


def test_country_names_are_accepted(synthetic):
    result = sweep(synthetic, exporters=["China"], target="United States")
    assert set(result.bans["exporter"]) == {"CHN"}
    assert result.target == "USA"


# ------------------------------------------------------------- default data
@pytest.fixture(scope="module")
def default() -> Dataset:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return riskengine.load_dataset()


@pytest.mark.parametrize(
    ("minerals", "target", "severity", "method"),
    [
        (["cobalt", "natural_graphite"], None, 1.0, "riskengine"),
        (["copper"], None, 0.4, "geopolrisk"),
        (["nickel", "rare_earths"], "USA", 0.7, "riskengine"),
        (["lithium"], "CHN", 1.0, "eu"),
    ],
)
def test_random_bans_of_the_default_data_equal_the_engine(
    default, minerals, target, severity, method
):
    result = sweep(default, minerals=minerals, target=target, severity=severity, method=method)
    assert len(result.bans) >= 3
    rng = np.random.default_rng(zlib.crc32(f"{minerals}{target}".encode()))
    sample = rng.choice(result.bans["ban"].to_numpy(), size=3, replace=False)
    assert assert_matches_engine(default, result, [int(b) for b in sample], method) > 10


def test_default_data_figures(default):
    """Known figures of BACI 2024 read from the default data."""
    result = sweep(default, minerals=["cobalt"], stages=["intermediate"], exporters=["COD"])
    ban = result.find("COD", "cobalt", "intermediate")
    assert ban is not None
    row = result.bans.set_index("ban").loc[ban]
    # DR Congo's hydroxide and other intermediates in BACI 2024: 635,045.8 t of
    # HS92 8105.10 and 23,506.1 t of HS17 2822.00, gross, at the catalogue's 40 % Co
    exports = (635_045.822 + 23_506.092) * 0.40
    assert row["blocked_t"] == pytest.approx(exports)
    assert row["withheld_t"] == pytest.approx(exports)
    assert result.year == 2024


def test_worst_ranks_only_importers_that_matter(default):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = sweep(default, minerals=["cobalt"], pairs=False)
    impacts = result.impacts
    keys = ["mineral", "affected_stage"]
    world = impacts.drop_duplicates([*keys, "country"]).groupby(keys)["consumption_t"].sum()
    everyone = result.worst("shortfall_pct", 10_000, floor=0.0)
    assert len(everyone) == int((impacts["shortfall_pct"] > 0).sum())
    # micro-importers 100 % short of a few tonnes lead the unfiltered table
    assert everyone["consumption_t"].iloc[0] < 0.01 * world[tuple(everyone[keys].iloc[0])]
    major = result.worst("shortfall_pct", 10)
    assert len(major)
    share = (
        major["consumption_t"].to_numpy()
        / world.reindex(pd.MultiIndex.from_frame(major[keys])).to_numpy()
    )
    assert (share >= 0.01).all()
    assert major["shortfall_pct"].is_monotonic_decreasing
