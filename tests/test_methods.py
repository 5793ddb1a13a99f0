"""GeoPolRisk, EU supply risk and the composite on the tiny fixture, computed by hand.

The tiny fixture (``tests/fixtures/tiny``) is built so that every number here can
be followed with a pencil. Copper mining, 2024, in tonnes:

======== ====== ===== ============================================
country  output share  trade
======== ====== ===== ============================================
CHL        4500  0.45  -> JPN 1000, DEU 250, FRA 150
PER        3000  0.30  -> CHN 1800, JPN 600
CHN         500  0.05
AUS         500  0.05  -> JPN 400
JPN         500  0.05
XOT        1000  0.10  ("other countries": in totals, not in sums of squares)
FRA           0        -> DEU 100 (re-export inside the EU)
======== ====== ===== ============================================

HHI = 0.45² + 0.30² + 3 x 0.05² = 0.3 (0.31 if the residual were one producer).
Copper refining 2024: CHN 600, JPN 300, XOT 100 (HHI 0.45); CHN ships 200 to JPN
and 100 to DEU. Cobalt mining 2024: COD 6000, AUS 4000; COD ships 600 to DEU and
AUS 400 to FRA, so the EU's sourcing has the same shares as world supply.
Governance (2023; 2024 uses it): see :data:`PV` and :data:`WGI10`.
"""

from __future__ import annotations

import re
import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import riskengine
from riskengine import RiskEngineWarning, load_dataset, score
from riskengine.dataset import Dataset
from riskengine.dims import EU27, REGIONS, WGI_INDICATORS
from riskengine.errors import DataError, RiskEngineError, UnknownLabelError
from riskengine.methods import METHODS
from riskengine.methods.base import ScoreResult
from riskengine.methods.composite import DEFAULT_WEIGHTS, FACTORS
from riskengine.methods.geopolrisk import COPPER_REFERENCE

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "tests" / "fixtures" / "tiny"
METHODS_DOC = ROOT / "docs" / "methods.md"

#: WGI political stability (PV) of the fixture's countries.
PV = {
    "AUS": 1.5,
    "CHL": 0.0,
    "CHN": -0.5,
    "COD": -2.0,
    "DEU": 1.5,
    "FRA": 0.5,
    "JPN": 1.0,
    "PER": -1.0,
}
#: EU governance score 2 (2.5 - mean of the six WGI estimates); AUS: mean 1.1875.
WGI10 = {
    "AUS": 2.625,
    "CHL": 5.0,
    "CHN": 6.0,
    "COD": 9.0,
    "DEU": 2.0,
    "FRA": 4.0,
    "JPN": 3.0,
    "PER": 7.0,
}


def g(country: str) -> float:
    """GeoPolRisk weight of a fixture country."""
    return (2.5 - PV[country]) / 5


#: HHI_WGI,t of copper mining 2024 over world production (XOT left out of the sum).
COPPER_HHI_WGI = 0.45**2 * 5.0 + 0.30**2 * 7.0 + 0.05**2 * (6.0 + 2.625 + 3.0)


@pytest.fixture(scope="module")
def ds() -> Dataset:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return load_dataset(TINY)


@pytest.fixture(scope="module")
def gpr(ds: Dataset) -> ScoreResult:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no governance gap in the fixture
        return score(ds, method="geopolrisk")


@pytest.fixture(scope="module")
def eu(ds: Dataset) -> ScoreResult:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return score(ds, method="eu", regions={"EU27": EU27, "PER": ["PER"], "JPN": ["JPN"]})


@pytest.fixture(scope="module")
def comp(ds: Dataset) -> ScoreResult:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return score(ds, method="riskengine")


def row(
    result: ScoreResult | pd.DataFrame, mineral: str, stage: str, year: int, country: str
) -> pd.Series:
    frame = result.scores if isinstance(result, ScoreResult) else result
    hit = frame[
        (frame["mineral"] == mineral)
        & (frame["stage"] == stage)
        & (frame["year"] == year)
        & (frame["country"] == country)
    ]
    assert len(hit) == 1, f"{len(hit)} rows for {mineral}/{stage}/{year}/{country}"
    return hit.iloc[0]


def variant(tmp_path: Path, drop_governance: tuple[str, ...] = (), **append: list[str]) -> Path:
    """A copy of the tiny fixture without some governance rows and with extra rows."""
    target = tmp_path / "variant"
    shutil.copytree(TINY, target)
    gov = target / "governance.csv"
    lines = gov.read_text().splitlines(keepends=True)
    gov.write_text("".join(ln for ln in lines if not ln.startswith(drop_governance)))
    for table, rows in append.items():
        with (target / f"{table}.csv").open("a") as out:
            out.write("".join(r + "\n" for r in rows))
    return target


def test_fixture_governance_matches_the_constants(ds: Dataset) -> None:
    matrix, year = ds.governance_at(2024)
    assert year == 2023
    for country, pv in PV.items():
        c = ds.countries.get_loc(country)
        assert matrix[WGI_INDICATORS.index("PV"), c] == pv
        assert 2 * (2.5 - matrix[:, c].mean()) == pytest.approx(WGI10[country], abs=1e-12)


# ====================================================================== GeoPolRisk


def test_geopolrisk_reproduces_the_methods_test_vector(gpr: ScoreResult) -> None:
    # docs/methods.md: numerator 1000, imports 2000, own production 500, HHI 0.3, price 50
    numerator = g("CHL") * 1000 + g("PER") * 600 + g("AUS") * 400
    assert numerator == pytest.approx(1000.0, abs=1e-9)
    jpn = row(gpr, "copper", "mining", 2024, "JPN")
    assert jpn["imports_t"] == 2000.0
    assert jpn["production_t"] == 500.0
    assert jpn["import_risk"] == pytest.approx(0.4, abs=1e-12)
    assert jpn["hhi"] == pytest.approx(0.3, abs=1e-12)
    assert jpn["score"] == pytest.approx(0.12, abs=1e-12)
    assert jpn["price_usd_per_kg"] == pytest.approx(50.0, abs=1e-9)
    assert round(jpn["cf"], 3) == 14.655
    assert jpn["cf"] == pytest.approx(0.12 * 50 / 0.409412948, rel=1e-12)
    assert COPPER_REFERENCE == 0.409412948


def test_geopolrisk_hhi_leaves_the_residual_out_of_the_squares(gpr: ScoreResult) -> None:
    conc = gpr.concentration.set_index(["mineral", "stage", "year"])
    assert conc.loc[("copper", "mining", 2024), "hhi"] == pytest.approx(0.3, abs=1e-12)
    assert conc.loc[("copper", "mining", 2024), "top_producer"] == "CHL"
    assert conc.loc[("copper", "refining", 2024), "hhi"] == pytest.approx(0.45, abs=1e-12)
    # the score's HHI is the concentration table's (0.31 if XOT counted as a producer)
    for _, r in gpr.scores[gpr.scores["year"] == 2024].iterrows():
        assert r["hhi"] == pytest.approx(conc.loc[(r["mineral"], "mining", 2024), "hhi"], abs=1e-12)


def test_geopolrisk_other_importers(gpr: ScoreResult) -> None:
    chn = row(gpr, "copper", "mining", 2024, "CHN")
    assert chn["import_risk"] == pytest.approx(g("PER") * 1800 / (500 + 1800), abs=1e-12)
    assert chn["score"] == pytest.approx(0.3 * g("PER") * 1800 / 2300, abs=1e-12)
    assert chn["price_usd_per_kg"] == pytest.approx(48.0)
    # 2023: four producers 2000/1500/1000/500 (HHI 0.3), Peru ships 1000 to China
    chn23 = row(gpr, "copper", "mining", 2023, "CHN")
    assert chn23["hhi"] == pytest.approx(0.3, abs=1e-12)
    assert chn23["score"] == pytest.approx(0.3 * 0.7 * 1000 / 2000, abs=1e-12)
    # cobalt: HHI 0.6² + 0.4² = 0.52; Germany buys only from DR Congo
    deu = row(gpr, "cobalt", "mining", 2024, "DEU")
    assert deu["hhi"] == pytest.approx(0.52, abs=1e-12)
    assert deu["import_risk"] == pytest.approx(g("COD"), abs=1e-12)
    assert deu["cf"] == pytest.approx(0.52 * 0.9 * 33.0 / COPPER_REFERENCE, rel=1e-12)
    # countries that import nothing are not scored
    assert set(gpr.scores["country"]) == {"CHN", "DEU", "FRA", "JPN", "EU27"}


def test_geopolrisk_region_counts_intra_region_imports_at_zero_weight(gpr: ScoreResult) -> None:
    eu27 = row(gpr, "copper", "mining", 2024, "EU27")
    # Chile ships 250 + 150 into the EU; France re-ships 100 to Germany: g = 0, but in F
    assert eu27["imports_t"] == 500.0
    assert eu27["production_t"] == 0.0
    assert eu27["import_risk"] == pytest.approx(g("CHL") * 400 / 500, abs=1e-12)
    assert eu27["score"] == pytest.approx(0.3 * 0.4, abs=1e-12)
    assert eu27["price_usd_per_kg"] == pytest.approx((12.5e6 + 7.5e6 + 5.5e6) / 500 / 1000)
    # Germany alone weights France's re-exports with France's g
    deu = row(gpr, "copper", "mining", 2024, "DEU")
    assert deu["import_risk"] == pytest.approx((g("CHL") * 250 + g("FRA") * 100) / 350, abs=1e-12)
    cobalt = row(gpr, "cobalt", "mining", 2024, "EU27")
    assert cobalt["import_risk"] == pytest.approx(
        (g("COD") * 600 + g("AUS") * 400) / 1000, abs=1e-12
    )


def test_geopolrisk_custom_and_no_regions(ds: Dataset) -> None:
    res = score(ds, method="geopolrisk", regions={"ASIA2": ["JPN", "CHN"]}, years=[2024])
    asia = row(res, "copper", "mining", 2024, "ASIA2")
    numerator = 1000.0 + g("PER") * 1800
    assert asia["import_risk"] == pytest.approx(numerator / (3800 + 1000), abs=1e-12)
    assert "EU27" not in set(res.scores["country"])
    none = score(ds, method="geopolrisk", regions=None)
    assert set(none.scores["country"]) == {"CHN", "DEU", "FRA", "JPN"}
    with pytest.raises(UnknownLabelError, match=r"unknown region: ASEAN\. Valid regions: EU27\."):
        score(ds, method="geopolrisk", regions=["ASEAN"])
    assert list(REGIONS) == ["EU27"]
    assert len(EU27) == 27


def test_geopolrisk_restrictions_and_hhi_stage(ds: Dataset) -> None:
    res = score(ds, method="geopolrisk", minerals=["copper"], stages=["refining"], years=[2024])
    assert set(res.scores["stage"]) == {"refining"}
    jpn = row(res, "copper", "refining", 2024, "JPN")
    assert jpn["hhi"] == pytest.approx(0.3, abs=1e-12)  # mining concentration, as published
    assert jpn["import_risk"] == pytest.approx(g("CHN") * 200 / (300 + 200), abs=1e-12)
    assert jpn["price_usd_per_kg"] == pytest.approx(10.0)
    refined = score(
        ds, method="geopolrisk", minerals=["copper"], years=[2024], hhi_stage="refining"
    )
    assert row(refined, "copper", "refining", 2024, "JPN")["hhi"] == pytest.approx(0.45, abs=1e-12)
    assert res.params["governance_year"] == {2024: 2023}


def test_geopolrisk_records_its_parameters(gpr: ScoreResult) -> None:
    assert gpr.method == "geopolrisk"
    assert gpr.params["governance_year"] == {2023: 2023, 2024: 2023}
    assert gpr.params["regions"] == ["EU27"]
    assert gpr.params["missing_governance"] == "nan"
    assert gpr.notes == ()
    assert gpr.dataset == str(TINY)
    top = gpr.top(2)
    assert top["score"].tolist() == sorted(gpr.scores["score"], reverse=True)[:2]
    assert gpr.to_frame() is not gpr.scores


# --------------------------------------------------- missing governance (GeoPolRisk)


def test_missing_pv_gives_nan_and_a_warning_naming_the_country(tmp_path: Path) -> None:
    gappy = load_dataset(variant(tmp_path, drop_governance=("PER,",)))
    with pytest.warns(RiskEngineWarning) as record:
        res = score(gappy, method="geopolrisk")
    messages = [str(w.message) for w in record]
    assert messages == [
        "no WGI political stability (PV) for PER; results that depend on them are NaN "
        "(pass missing_governance=<value> to assume a score)"
    ]
    assert res.notes == tuple(messages)
    assert np.isnan(row(res, "copper", "mining", 2024, "JPN")["score"])
    assert np.isnan(row(res, "copper", "mining", 2024, "CHN")["score"])
    assert np.isnan(row(res, "copper", "mining", 2023, "CHN")["score"])
    # importers that do not buy from Peru are unaffected
    deu = row(res, "copper", "mining", 2024, "DEU")
    assert deu["import_risk"] == pytest.approx((g("CHL") * 250 + g("FRA") * 100) / 350, abs=1e-12)


def test_missing_pv_raise_policy(tmp_path: Path) -> None:
    gappy = load_dataset(variant(tmp_path, drop_governance=("PER,",)))
    with pytest.raises(DataError) as info:
        score(gappy, method="geopolrisk", missing_governance="raise")
    assert str(info.value).startswith(
        "no WGI political stability (PV) for 1 countries that the computation needs: PER. "
        "Add their WGI estimates to governance.csv"
    )


def test_missing_pv_number_policy_fills_the_weight(tmp_path: Path) -> None:
    gappy = load_dataset(variant(tmp_path, drop_governance=("PER,",)))
    with pytest.warns(
        RiskEngineWarning, match=r"no WGI political stability \(PV\) for PER; using 0\.5"
    ):
        res = score(gappy, method="geopolrisk", missing_governance=0.5)
    jpn = row(res, "copper", "mining", 2024, "JPN")
    assert jpn["import_risk"] == pytest.approx(
        (g("CHL") * 1000 + 0.5 * 600 + g("AUS") * 400) / 2500
    )


def test_missing_pv_bad_policy(tmp_path: Path) -> None:
    gappy = load_dataset(variant(tmp_path, drop_governance=("PER,",)))
    with pytest.raises(
        RiskEngineError,
        match=r"missing_governance must be 'nan', 'raise' or a number between 0 and 1 .*, "
        r"got 'zero' \(str\)",
    ):
        score(gappy, method="geopolrisk", missing_governance="zero")


def test_missing_pv_of_a_country_that_exports_nothing_is_not_needed(tmp_path: Path) -> None:
    gappy = load_dataset(variant(tmp_path, drop_governance=("JPN,",)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = score(gappy, method="geopolrisk", missing_governance="raise")
    assert row(res, "copper", "mining", 2024, "JPN")["score"] == pytest.approx(0.12, abs=1e-12)


# ====================================================================== registry


def test_score_registry(ds: Dataset) -> None:
    assert list(METHODS) == ["riskengine", "geopolrisk", "eu"]
    assert riskengine.score is score
    with pytest.raises(
        UnknownLabelError,
        match=r"unknown method: gpr\. Valid methods: riskengine, geopolrisk, eu\.",
    ):
        score(ds, method="gpr")
    with pytest.raises(
        RiskEngineError, match=r"method 'geopolrisk': .*unexpected keyword argument 'region'"
    ):
        score(ds, method="geopolrisk", region="EU27")


@pytest.mark.parametrize("method", ["riskengine", "geopolrisk", "eu"])
def test_every_method_needs_trade(ds: Dataset, method: str) -> None:
    no_trade = Dataset.from_tables(
        {"production": ds.production_frame().assign(source="x")}, name="production only"
    )
    with pytest.raises(
        DataError,
        match=rf"method '{method}' needs bilateral trade, but the dataset 'production only' "
        r"has no trade\.csv",
    ):
        score(no_trade, method=method)


@pytest.mark.parametrize("method", ["riskengine", "geopolrisk", "eu"])
def test_every_method_returns_the_common_columns(ds: Dataset, method: str) -> None:
    res = score(ds, method=method)
    assert res.method == method
    assert list(res.scores.columns[:5]) == ["mineral", "stage", "year", "country", "hhi"]
    assert "score" in res.scores.columns
    assert res.scores["score"].notna().any()


# ====================================================================== EU


def test_eu_cobalt_reproduces_the_published_supply_risk(eu: ScoreResult) -> None:
    # world supply and EU sourcing both 60 % DR Congo (WGI10 9) and 40 % Australia (2.625)
    hhi_wgi = 0.6**2 * WGI10["COD"] + 0.4**2 * WGI10["AUS"]
    assert hhi_wgi == pytest.approx(3.66, abs=1e-12)
    cobalt = row(eu, "cobalt", "mining", 2024, "EU27")
    assert cobalt["hhi_wgi_global"] == pytest.approx(3.66, abs=1e-12)
    assert cobalt["hhi_wgi_sourcing"] == pytest.approx(3.66, abs=1e-12)
    assert cobalt["import_reliance"] == 1.0
    assert (cobalt["eol_rir"], cobalt["substitution_index"]) == (0.22, 0.98)
    assert cobalt["score"] == pytest.approx(3.66 * (1 - 0.22) * 0.98, abs=1e-12)
    assert round(cobalt["score"], 2) == 2.80  # European Commission 2023: cobalt SR 2.8
    assert cobalt["global_supply"] + cobalt["sourcing"] == pytest.approx(cobalt["score"], abs=1e-15)
    assert eu.factors == ("global_supply", "sourcing")


def test_eu_import_reliance_one_weights_both_halves(eu: ScoreResult) -> None:
    # EU27 copper: no own production, imports only from Chile (plus intra-EU trade)
    copper = row(eu, "copper", "mining", 2024, "EU27")
    assert copper["import_reliance"] == 1.0
    assert copper["hhi_wgi_global"] == pytest.approx(COPPER_HHI_WGI, abs=1e-12)
    assert copper["hhi_wgi_sourcing"] == pytest.approx(WGI10["CHL"], abs=1e-12)
    assert copper["global_supply"] == pytest.approx(COPPER_HHI_WGI / 2, abs=1e-12)
    assert copper["sourcing"] == pytest.approx(WGI10["CHL"] / 2, abs=1e-12)
    assert copper["score"] == pytest.approx((COPPER_HHI_WGI + 5.0) / 2, abs=1e-12)


def test_eu_import_reliance_zero_uses_only_sourcing(eu: ScoreResult) -> None:
    # Peru exports 2400 of its 3000 t and imports nothing: IR 0, sourcing = own mines
    peru = row(eu, "copper", "mining", 2024, "PER")
    assert peru["import_reliance"] == 0.0
    assert peru["global_supply"] == 0.0
    assert peru["hhi_wgi_sourcing"] == pytest.approx(WGI10["PER"], abs=1e-12)
    assert peru["score"] == pytest.approx(7.0, abs=1e-12)


def test_eu_single_country_in_between(eu: ScoreResult) -> None:
    # Japan: own 500 + imports CHL 1000, PER 600, AUS 400 -> IR 2000 / 2500
    jpn = row(eu, "copper", "mining", 2024, "JPN")
    sourcing = 0.2**2 * 3.0 + 0.4**2 * 5.0 + 0.24**2 * 7.0 + 0.16**2 * 2.625
    assert jpn["import_reliance"] == pytest.approx(0.8, abs=1e-12)
    assert jpn["hhi_wgi_sourcing"] == pytest.approx(sourcing, abs=1e-12)
    assert jpn["score"] == pytest.approx(COPPER_HHI_WGI * 0.4 + sourcing * 0.6, abs=1e-12)


def test_eu_trade_factor_multiplies_a_suppliers_term(ds: Dataset, eu: ScoreResult) -> None:
    res = score(ds, method="eu", export_restrictions={"CHL": {"copper": 1.3}})
    copper = row(res, "copper", "mining", 2024, "EU27")
    chile_term = 0.45**2 * WGI10["CHL"]
    assert copper["hhi_wgi_global"] == pytest.approx(COPPER_HHI_WGI + 0.3 * chile_term, abs=1e-12)
    assert copper["hhi_wgi_sourcing"] == pytest.approx(1.3 * WGI10["CHL"], abs=1e-12)
    # other minerals keep t = 1
    assert row(res, "cobalt", "mining", 2024, "EU27")["score"] == pytest.approx(
        row(eu, "cobalt", "mining", 2024, "EU27")["score"], abs=1e-15
    )
    everything = score(ds, method="eu", export_restrictions={"COD": 1.2})
    cobalt = row(everything, "cobalt", "mining", 2024, "EU27")
    hhi = 0.36 * 9.0 * 1.2 + 0.16 * 2.625
    assert cobalt["hhi_wgi_global"] == pytest.approx(hhi, abs=1e-12)
    assert cobalt["score"] == pytest.approx(hhi * 0.78 * 0.98, abs=1e-12)
    assert everything.params["export_restrictions"] == {"COD": 1.2}
    with pytest.raises(UnknownLabelError, match=r"unknown country: IDN"):
        score(ds, method="eu", export_restrictions={"IDN": {"nickel": 1.3}})


def test_eu_missing_recycling_and_substitution_are_neutral_with_a_note(eu: ScoreResult) -> None:
    copper = row(eu, "copper", "mining", 2024, "EU27")
    assert (copper["eol_rir"], copper["substitution_index"]) == (0.0, 1.0)
    assert eu.notes == (
        "no end-of-life recycling input rate for copper; the term is left out (factor 1 - 0)",
        "no substitution index for copper; the term is left out (factor 1)",
    )


def test_eu_refining_stage_and_residual(eu: ScoreResult) -> None:
    # refining: CHN 600 (WGI10 6), JPN 300 (3), XOT 100 left out of the squares
    refining = row(eu, "copper", "refining", 2024, "EU27")
    assert refining["hhi"] == pytest.approx(0.45, abs=1e-12)
    assert refining["hhi_wgi_global"] == pytest.approx(0.36 * 6.0 + 0.09 * 3.0, abs=1e-12)
    assert refining["hhi_wgi_sourcing"] == pytest.approx(6.0, abs=1e-12)  # Germany buys from China


def test_eu_missing_governance_makes_the_score_nan(tmp_path: Path) -> None:
    # DR Congo without its control-of-corruption estimate: the mean of six is unknown
    gappy = load_dataset(variant(tmp_path, drop_governance=("COD,2023,CC",)))
    with pytest.warns(RiskEngineWarning, match=r"no WGI estimates \(all six\) for COD; results"):
        res = score(gappy, method="eu")
    assert np.isnan(row(res, "cobalt", "mining", 2024, "EU27")["score"])
    assert row(res, "copper", "mining", 2024, "EU27")["score"] == pytest.approx(
        (COPPER_HHI_WGI + 5.0) / 2
    )
    with pytest.raises(DataError, match=r"no WGI estimates \(all six\) for 1 countries .*: COD"):
        score(gappy, method="eu", missing_governance="raise")


def test_eu_needs_a_region(ds: Dataset) -> None:
    with pytest.raises(RiskEngineError, match=r"the eu method needs at least one region"):
        score(ds, method="eu", regions=None)


# ====================================================================== composite


def test_composite_mining_stage_renormalises_the_weights(comp: ScoreResult) -> None:
    jpn = row(comp, "copper", "mining", 2024, "JPN")
    assert jpn["concentration"] == pytest.approx(0.3, abs=1e-12)
    assert jpn["import_exposure"] == pytest.approx(0.4, abs=1e-12)
    assert jpn["upstream_exposure"] == 0.0
    assert jpn["import_reliance"] == pytest.approx(0.8, abs=1e-12)
    assert jpn["export_concentration"] == 0.0
    w = DEFAULT_WEIGHTS
    applicable = 1.0 - w["upstream_exposure"]
    assert applicable == pytest.approx(0.85)
    assert jpn["contrib_concentration"] == pytest.approx(0.3 * 0.25 / 0.85, abs=1e-12)
    assert jpn["contrib_upstream_exposure"] == 0.0
    assert jpn["score"] == pytest.approx((0.25 * 0.3 + 0.25 * 0.4 + 0.20 * 0.8) / 0.85, abs=1e-12)


def test_composite_refining_stage_with_upstream_exposure(comp: ScoreResult) -> None:
    # China's refineries run on its own 500 t of ore and 1800 t from Peru
    origin = (500 * g("CHN") + 1800 * g("PER")) / 2300
    jpn = row(comp, "copper", "refining", 2024, "JPN")
    assert jpn["concentration"] == pytest.approx(0.45, abs=1e-12)
    assert jpn["import_exposure"] == pytest.approx(g("CHN") * 200 / 500, abs=1e-12)
    assert jpn["upstream_exposure"] == pytest.approx(origin * 200 / 500, abs=1e-12)
    assert jpn["import_reliance"] == pytest.approx(0.4, abs=1e-12)
    expected = 0.25 * 0.45 + 0.25 * 0.24 + 0.15 * origin * 0.4 + 0.20 * 0.4
    assert jpn["score"] == pytest.approx(expected, abs=1e-12)
    deu = row(comp, "copper", "refining", 2024, "DEU")
    assert deu["upstream_exposure"] == pytest.approx(origin, abs=1e-12)  # all its supply imported


def test_composite_peru_like_exporter(comp: ScoreResult) -> None:
    # Peru sells 1800 t to China and 600 t to Japan out of 3000 t mined
    peru = row(comp, "copper", "mining", 2024, "PER")
    assert peru["destination_hhi"] == pytest.approx(0.75**2 + 0.25**2, abs=1e-12)
    assert peru["export_concentration"] == pytest.approx(0.625 * 2400 / 3000, abs=1e-12)
    assert peru["export_concentration"] == pytest.approx(0.5, abs=1e-12)
    assert peru["import_exposure"] == 0.0
    assert peru["import_reliance"] == 0.0
    assert peru["score"] == pytest.approx((0.25 * 0.3 + 0.15 * 0.5) / 0.85, abs=1e-12)
    # France re-exports 100 of the 150 t it buys, all to Germany
    fra = row(comp, "copper", "mining", 2024, "FRA")
    assert fra["export_concentration"] == pytest.approx(100 / 150, abs=1e-12)


def test_composite_contributions_add_up_to_the_score_exactly(comp: ScoreResult) -> None:
    frame = comp.scores
    assert comp.factors == tuple(f"contrib_{name}" for name in FACTORS)
    total = sum((frame[c] for c in comp.factors), start=pd.Series(0.0, index=frame.index))
    assert (total == frame["score"]).all()
    assert frame[list(comp.factors)].sum(axis=1).to_numpy() == pytest.approx(
        frame["score"], abs=1e-15
    )


def test_composite_factors_are_fractions(comp: ScoreResult) -> None:
    values = comp.scores[["score", *FACTORS]]
    assert values.notna().all().all()
    assert ((values >= 0) & (values <= 1)).all().all()
    assert sum(DEFAULT_WEIGHTS.values()) == pytest.approx(1.0)


def test_composite_rows(comp: ScoreResult) -> None:
    assert "XOT" not in set(comp.scores["country"])
    rows_2024 = comp.scores[comp.scores["year"] == 2024]
    assert sorted(
        set(zip(rows_2024["mineral"], rows_2024["stage"], rows_2024["country"], strict=True))
    ) == [
        ("cobalt", "mining", "AUS"),
        ("cobalt", "mining", "COD"),
        ("cobalt", "mining", "DEU"),
        ("cobalt", "mining", "FRA"),
        ("copper", "mining", "AUS"),
        ("copper", "mining", "CHL"),
        ("copper", "mining", "CHN"),
        ("copper", "mining", "DEU"),
        ("copper", "mining", "FRA"),
        ("copper", "mining", "JPN"),
        ("copper", "mining", "PER"),
        ("copper", "refining", "CHN"),
        ("copper", "refining", "DEU"),
        ("copper", "refining", "JPN"),
    ]


def test_composite_custom_weights(ds: Dataset) -> None:
    only = {name: 0.0 for name in FACTORS} | {"import_reliance": 2.0}
    res = score(ds, method="riskengine", weights=only)
    assert (res.scores["score"] == res.scores["import_reliance"]).all()
    assert res.params["weights"]["import_reliance"] == 2.0
    mining = score(ds, method="riskengine", stages=["mining"])
    assert set(mining.scores["stage"]) == {"mining"}
    with pytest.raises(
        RiskEngineError,
        match=r"unknown factor weight\(s\) politics; the factors are concentration, "
        r"import_exposure",
    ):
        score(ds, method="riskengine", weights={"politics": 1.0})
    with pytest.raises(RiskEngineError, match=r"factor weights must be finite, >= 0 and not all 0"):
        score(ds, method="riskengine", weights={"concentration": -1.0})


def test_composite_missing_pv_propagates_to_upstream_exposure(tmp_path: Path) -> None:
    gappy = load_dataset(variant(tmp_path, drop_governance=("PER,",)))
    with pytest.warns(RiskEngineWarning, match=r"no WGI political stability \(PV\) for PER"):
        res = score(gappy, method="riskengine")
    # Japan's refined copper comes from China, whose ore is 18/23 Peruvian
    jpn = row(res, "copper", "refining", 2024, "JPN")
    assert jpn["import_exposure"] == pytest.approx(0.24, abs=1e-12)
    assert np.isnan(jpn["upstream_exposure"])
    assert np.isnan(jpn["score"])
    assert np.isnan(row(res, "copper", "mining", 2024, "JPN")["import_exposure"])
    deu = row(res, "copper", "mining", 2024, "DEU")
    assert deu["import_exposure"] == pytest.approx(
        (g("CHL") * 250 + g("FRA") * 100) / 350, abs=1e-12
    )


def test_composite_exporter_without_listed_production(tmp_path: Path) -> None:
    # Armenia ships ore to China but sits in the source's "other countries" row
    path = variant(
        tmp_path,
        trade=["copper,mining,ARM,CHN,2024,100,4800000,test"],
        governance=[f"ARM,2023,{ind},-0.25,test" for ind in WGI_INDICATORS],
    )
    res = score(load_dataset(path), method="riskengine")
    arm = row(res, "copper", "mining", 2024, "ARM")
    assert arm["import_exposure"] == 0.0
    assert arm["export_concentration"] == 1.0
    assert arm["score"] == pytest.approx((0.25 * 0.3 + 0.15 * 1.0) / 0.85, abs=1e-12)


# ====================================================================== docs/methods.md


def test_methods_doc_matches_the_code() -> None:
    text = METHODS_DOC.read_text(encoding="utf-8")
    weights = dict(re.findall(r"^\| `([a-z_]+)` \| ([0-9.]+) \|", text, flags=re.MULTILINE))
    assert {k: float(v) for k, v in weights.items()} == DEFAULT_WEIGHTS
    assert str(COPPER_REFERENCE) in text
    for phrase in ("Gemechu", "doi:10.2873/769526", "XOT", '`"nan"` (default)', '`"raise"`'):
        assert phrase in text, phrase


def _hydroxide_case() -> Dataset:
    """Cobalt: DR Congo mines 70 t and Australia 30 t; DR Congo ships 50 t of
    hydroxide (intermediate) to China, which refines 60 t and sells 20 t to Japan."""
    countries = ["AUS", "CHN", "COD", "JPN"]
    stages = ["mining", "intermediate", "refining", "component"]
    prod = np.zeros((1, 4, 1, 4))
    prod[0, 0, 0, [0, 2]] = [30.0, 70.0]
    prod[0, 2, 0, 1] = 60.0
    trade = np.zeros((1, 4, 1, 4, 4))
    trade[0, 1, 0, 2, 1] = 50.0
    trade[0, 2, 0, 1, 3] = 20.0
    gov = np.zeros((len(WGI_INDICATORS), 1, 4))
    gov[WGI_INDICATORS.index("PV"), 0] = [1.0, -0.5, -2.0, 1.0]
    return Dataset.from_arrays(
        minerals=["cobalt"], years=[2024], countries=countries, stages=stages,
        production=prod, trade=trade, trade_value=trade * 1000, governance=gov,
        governance_years=[2022],
    )  # fmt: skip


def test_composite_intermediate_stage_takes_the_mining_concentration() -> None:
    res = score(_hydroxide_case(), method="riskengine")
    rows = res.scores.set_index(["stage", "country"])
    assert rows.loc[("intermediate", "CHN"), "hhi"] == pytest.approx(0.7**2 + 0.3**2)
    assert (
        "no intermediate production for cobalt; the concentration factor at that stage is "
        "the mining stage's"
    ) in res.notes


def test_composite_upstream_follows_intermediates_to_their_origin() -> None:
    res = score(_hydroxide_case(), method="riskengine")
    rows = res.scores.set_index(["stage", "country"])
    # China's refinery feed is DR Congo's hydroxide alone (China mines nothing), so
    # Japan's refined cobalt from China embodies Congolese ore: g(COD) = (2.5 + 2) / 5
    assert rows.loc[("refining", "JPN"), "upstream_exposure"] == pytest.approx(0.9)


@pytest.mark.parametrize("method", sorted(METHODS))
def test_single_labels_are_one_item_not_letters(ds: Dataset, method: str) -> None:
    one = score(ds, method=method, minerals="cobalt", stages="mining", years=2024)
    listed = score(ds, method=method, minerals=["cobalt"], stages=["mining"], years=[2024])
    pd.testing.assert_frame_equal(one.scores, listed.scores)
    with pytest.raises(UnknownLabelError, match=r"unknown mineral: gold\. Valid minerals"):
        score(ds, method=method, minerals="gold")


def test_tonnes_name_their_basis(ds: Dataset) -> None:
    for method in ("riskengine", "geopolrisk"):
        frame = score(ds, method=method).scores
        assert set(frame["basis"]) == {"contained content"}  # the tiny fixture states none
