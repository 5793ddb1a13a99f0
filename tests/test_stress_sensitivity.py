"""One-at-a-time sensitivities: closed forms, agreement with re-scoring a perturbed dataset,
tornado ordering, scenario price elasticities and errors."""

from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

import riskengine
from riskengine.dataset import Dataset
from riskengine.dims import STAGES, WGI_INDICATORS
from riskengine.errors import RiskEngineError, UnknownLabelError
from riskengine.scenarios.engine import simulate, two_region_table
from riskengine.scenarios.market import market_parameters, two_region_price
from riskengine.scenarios.models import ExportBan, Market, Scenario
from riskengine.stress.sensitivities import sensitivity

COUNTRIES = ("AUS", "CHL", "CHN", "COD", "DEU", "JPN", "USA")
PV = {"AUS": 0.9, "CHL": 0.1, "CHN": -0.5, "COD": -1.8, "DEU": 0.6, "JPN": 1.0, "USA": 0.0}
PRODUCTION = {
    ("mining", "COD"): 120.0,
    ("mining", "AUS"): 30.0,
    ("mining", "CHL"): 10.0,
    ("refining", "CHN"): 100.0,
    ("refining", "JPN"): 20.0,
    ("refining", "USA"): 10.0,
}
FLOWS = {
    ("mining", "COD", "CHN"): 100.0,
    ("mining", "AUS", "JPN"): 20.0,
    ("mining", "CHL", "USA"): 5.0,
    ("refining", "CHN", "USA"): 40.0,
    ("refining", "JPN", "USA"): 10.0,
    ("refining", "CHN", "DEU"): 30.0,
    ("refining", "JPN", "DEU"): 5.0,
}


def build() -> Dataset:
    c_idx = pd.Index(COUNTRIES, name="country")
    prod = np.zeros((1, len(STAGES), 1, len(c_idx)))
    tq = np.zeros((1, len(STAGES), 1, len(c_idx), len(c_idx)))
    for (s, c), q in PRODUCTION.items():
        prod[0, STAGES.index(s), 0, c_idx.get_loc(c)] = q
    for (s, e, i), q in FLOWS.items():
        tq[0, STAGES.index(s), 0, c_idx.get_loc(e), c_idx.get_loc(i)] = q
    gov = np.zeros((len(WGI_INDICATORS), 1, len(c_idx)))
    for k in range(len(WGI_INDICATORS)):
        gov[k, 0] = [PV[c] - 0.05 * (k - 1) for c in COUNTRIES]
    return Dataset.from_arrays(
        minerals=["cobalt"],
        years=[2024],
        countries=c_idx,
        production=prod,
        trade=tq,
        trade_value=tq * 30_000.0,
        governance=gov,
        governance_years=[2022],
        mineral_info=pd.DataFrame(
            {"eol_rir": [0.22], "substitution_index": [0.98]},
            index=pd.Index(["cobalt"], name="mineral"),
        ),
        name="sensitivity",
    )


@pytest.fixture(scope="module")
def ds() -> Dataset:
    return build()


def score_of(ds: Dataset, method: str, stage: str, country: str, **params: object) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frame = riskengine.score(ds, method=method, **params).scores
    hit = frame[(frame["stage"] == stage) & (frame["country"] == country)]
    return float(hit["score"].iloc[0])


def test_governance_elasticity_of_geopolrisk_is_the_suppliers_share(ds):
    res = sensitivity(ds, countries=["USA"], method="geopolrisk", regions=None)
    rows = res.tornado("cobalt", "USA", "refining", top=None)
    gov = rows[rows["kind"] == "governance"].set_index("input")
    # import risk = sum_e g_e f_e / (p + sum_e f_e) is linear in g = (2.5 - PV) / 5, so the
    # central difference is exact: elasticity = g_e f_e / sum_k g_k f_k
    pv = {c: PV[c] for c in ("CHN", "JPN")}
    g = {c: (2.5 - pv[c]) / 5 for c in pv}
    weighted = {"CHN": g["CHN"] * 40.0, "JPN": g["JPN"] * 10.0}
    total = sum(weighted.values())
    for c in ("CHN", "JPN"):
        assert gov.loc[c, "elasticity"] == pytest.approx(weighted[c] / total, rel=1e-9)
        assert gov.loc[c, "value"] == pytest.approx(pv[c])
    assert set(gov.index) == {"CHN", "JPN"}  # nobody else supplies the USA
    # the largest swing first
    assert rows["swing"].abs().is_monotonic_decreasing


@pytest.mark.parametrize("method", ["riskengine", "geopolrisk", "eu"])
def test_low_and_high_equal_rescoring_the_perturbed_dataset(ds, method):
    params = {"regions": {"US": ["USA"]}} if method == "eu" else {}
    country = "US" if method == "eu" else "USA"
    res = sensitivity(ds, countries=[country], method=method, step=0.2, **params)
    table = res.table
    assert set(table["kind"]) >= {"governance", "production", "flow"}
    for _, row in table.iterrows():
        if row["kind"] == "parameter":
            continue
        for factor, column in ((0.8, "score_low"), (1.2, "score_high")):
            changed = _perturb(ds, row, factor)
            want = score_of(changed, method, row["stage"], row["country"], **params)
            assert row[column] == pytest.approx(want, rel=1e-12, abs=1e-15), row.to_dict()
        assert row["score"] == pytest.approx(
            score_of(ds, method, row["stage"], row["country"], **params), rel=1e-12
        )


def _perturb(ds: Dataset, row: pd.Series, factor: float) -> Dataset:
    c = ds.countries
    if row["kind"] == "governance":
        gov = ds.governance.copy()
        i = c.get_loc(row["input"])
        gov[:, :, i] = 2.5 - (2.5 - gov[:, :, i]) * factor
        return ds.replace_arrays(governance=gov)
    s = STAGES.index(row["input_stage"])
    if row["kind"] == "production":
        prod = ds.production.copy()
        prod[0, s, 0, c.get_loc(row["input"])] *= factor
        return ds.replace_arrays(production=prod)
    e, i = row["input"].split("->")
    tq = ds.trade_array()
    tq[0, s, 0, c.get_loc(e), c.get_loc(i)] *= factor
    return ds.replace_arrays(trade=tq, trade_value=ds.trade_array("value"))


def test_parameters_composite_weights_and_eu_attributes(ds):
    res = sensitivity(ds, countries=["USA"], inputs=["parameter"])
    rows = res.tornado("cobalt", "USA", "refining", top=None).set_index("input")
    assert set(rows["kind"]) == {"parameter"}
    weights = {"concentration": 0.25, "import_exposure": 0.25, "upstream_exposure": 0.15,
               "import_reliance": 0.2, "export_concentration": 0.15}  # fmt: skip
    changed = {**weights, "import_reliance": 0.2 * 1.1}
    want = score_of(ds, "riskengine", "refining", "USA", weights=changed)
    assert rows.loc["weight import_reliance", "score_high"] == pytest.approx(want, rel=1e-12)
    eu = sensitivity(
        ds, countries=["US"], method="eu", inputs=["parameter"], regions={"US": ["USA"]}
    )
    er = eu.tornado("cobalt", "US", "refining").set_index("input")
    # SR is proportional to the substitution index and to (1 - EoL-RIR)
    assert er.loc["substitution_index", "elasticity"] == pytest.approx(1.0)
    assert er.loc["eol_rir", "elasticity"] == pytest.approx(-0.22 / (1 - 0.22))


def test_scenario_price_elasticities(ds):
    sc = Scenario(
        name="ban",
        description="China stops a quarter of its refined exports",
        year=2024,
        sources=["test"],
        market=Market(),
        shocks=[
            ExportBan(
                type="export_ban", exporters=["CHN"], minerals=["cobalt"], stage="refining",
                severity=0.25,
            )
        ],
    )  # fmt: skip
    res = sensitivity(ds, countries=["USA"], inputs=["governance"], scenario=sc)
    prices = res.prices.set_index("input")
    # the two-region price with cobalt's eta 0.35, then 0.35 * 0.9 and 0.35 * 1.1, on the
    # withheld volume and consumption inside and outside China the engine measured
    inputs = two_region_table(simulate(ds, sc)).iloc[0]

    def price(eta: float) -> float:
        args = (inputs["withheld_t"], inputs["outside_consumption_t"])
        args += (inputs["inside_consumption_t"], 12.0, market_parameters("cobalt", eta))
        return 100 * two_region_price(*args, targeted=False).outside

    base, lo, hi = price(0.35), price(0.35 * 0.9), price(0.35 * 1.1)
    assert base > 0
    row = prices.loc["eta cobalt"]
    assert row["value"] == pytest.approx(0.35)
    assert row["score"] == pytest.approx(base)
    assert row["score_low"] == pytest.approx(lo)
    assert row["score_high"] == pytest.approx(hi)
    assert row["elasticity"] == pytest.approx((hi - lo) / (0.2 * base))


def test_tornado_and_errors(ds):
    res = sensitivity(ds, countries=["USA"])
    with pytest.raises(UnknownLabelError, match="unknown score"):
        res.tornado("cobalt", "FRA")
    top = res.tornado("cobalt", "USA", "refining", top=3)
    assert len(top) == 3
    with pytest.raises(RiskEngineError, match=r"step must be in \(0, 1\)"):
        sensitivity(ds, step=1.5)
    with pytest.raises(UnknownLabelError, match="unknown input kind: prices"):
        sensitivity(ds, inputs=["prices"])
    with pytest.raises(UnknownLabelError, match="unknown method"):
        sensitivity(ds, method="nope")


def test_default_data_cobalt_china():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        default = riskengine.load_dataset()
    # China buys most of DR Congo's cobalt hydroxide (the intermediate stage)
    res = sensitivity(default, minerals=["cobalt"], countries=["CHN"], stages=["intermediate"])
    rows = res.tornado("cobalt", "CHN", "intermediate", top=None)
    assert len(rows) > 10
    assert set(rows["kind"]) == {"governance", "production", "flow", "parameter", "content"}
    # cobalt hydroxide (HS 2822; 2024 from the HS17 extract) and mattes/intermediates
    # (HS92 8105.10): assumed grades
    content = rows[rows["kind"] == "content"].set_index("input")
    assert set(content.index) == {"HS17:282200", "HS92:810510"}
    assert (content["basis"] == "assumption").all()
    assert content.loc["HS17:282200", "input_low"] == 0.25
    # the composite score is a weighted mean: its weight elasticities sum to zero
    weights = rows[rows["kind"] == "parameter"]
    assert weights["swing"].sum() == pytest.approx(0.0, abs=2e-3)


# ------------------------------------------------------------ content fractions
GRADE_COUNTRIES = ("CHL", "CHN", "JPN", "PER", "USA")
GRADE_PV = {"CHL": 0.4, "CHN": -0.5, "JPN": 1.0, "PER": -0.3, "USA": 0.0}
# (product, mineral, stage, content, low, high, basis)
CATALOGUE = [
    ("T:conc", "copper", "mining", 0.2, 0.1, 0.3, "assumption"),
    ("T:ore", "copper", "mining", 0.01, 0.01, 0.01, "source"),  # no range: no variant
    ("T:cathode", "copper", "refining", 1.0, 0.99, 1.0, "chemistry"),
]
# gross tonnes of a product, or contained tonnes when no product is named
GRADE_TRADE = [
    ("mining", "CHL", "CHN", "T:conc", 400.0),
    ("mining", "PER", "CHN", "T:conc", 150.0),
    ("mining", "PER", "JPN", "", 10.0),
    ("mining", "CHL", "JPN", "T:ore", 1000.0),
    ("refining", "CHN", "USA", "T:cathode", 50.0),
    ("refining", "JPN", "USA", "", 10.0),
]
GRADE_PRODUCTION = {
    ("mining", "CHL"): 100.0,
    ("mining", "PER"): 60.0,
    ("mining", "CHN"): 20.0,
    ("refining", "CHN"): 120.0,
    ("refining", "JPN"): 30.0,
    ("refining", "USA"): 10.0,
}


def build_graded() -> Dataset:
    tables = {
        "production": pd.DataFrame(
            [
                {"mineral": "copper", "stage": s, "country": c, "year": 2024, "quantity": q,
                 "unit": "t", "source": "test"}
                for (s, c), q in GRADE_PRODUCTION.items()
            ]
        ),
        "trade": pd.DataFrame(
            [
                {"mineral": "copper", "stage": s, "exporter": e, "importer": i, "year": 2024,
                 "product": p, "quantity": q, "value_usd": 1000.0 * q, "source": "test"}
                for s, e, i, p, q in GRADE_TRADE
            ]
        ),
        "governance": pd.DataFrame(
            [
                {"country": c, "year": 2022, "indicator": k, "value": pv - 0.05 * j,
                 "source": "test"}
                for c, pv in GRADE_PV.items()
                for j, k in enumerate(WGI_INDICATORS)
            ]
        ),
    }  # fmt: skip
    catalogue = pd.DataFrame(
        CATALOGUE,
        columns=["product", "mineral", "stage", "content", "content_low", "content_high", "basis"],
    ).assign(share=1.0, source="test")
    ds = Dataset.from_tables(tables, products=catalogue, name="graded")
    info = pd.DataFrame(
        {"eol_rir": [0.17], "substitution_index": [0.9]},
        index=pd.Index(["copper"], name="mineral"),
    )
    return replace(ds, mineral_info=info)


@pytest.fixture(scope="module")
def graded() -> Dataset:
    return build_graded()


def at_fraction(ds: Dataset, product: str, fraction: float) -> Dataset:
    f = ds.products["content"].to_numpy(dtype=float).copy()
    f[ds.products["product"].tolist().index(product)] = fraction
    return ds.with_content(f)


def test_the_synthetic_case_is_in_contained_tonnes(graded):
    frame = graded.trade_frame().set_index(["stage", "exporter", "importer"])
    assert frame.loc[("mining", "CHL", "CHN"), "content_t"] == pytest.approx(80.0)  # 400 x 0.2
    assert frame.loc[("mining", "CHL", "JPN"), "content_t"] == pytest.approx(10.0)  # 1000 x 0.01
    low = at_fraction(graded, "T:conc", 0.1).trade_frame().set_index(["stage", "exporter"])
    assert low.loc[("mining", "PER"), "content_t"].sum() == pytest.approx(25.0)  # 15 + 10


@pytest.mark.parametrize("method", ["riskengine", "geopolrisk", "eu"])
def test_content_variants_equal_rescoring_with_the_range_ends(graded, method):
    params = {"regions": {"US": ["USA"], "CN": ["CHN"]}} if method == "eu" else {}
    countries = ["US", "CN"] if method == "eu" else ["CHN", "JPN", "USA"]
    res = sensitivity(graded, countries=countries, method=method, inputs=["content"], **params)
    table = res.table
    assert len(table)
    assert set(table["kind"]) == {"content"}
    # one variant per product with a range, the narrow chemistry range too;
    # T:ore (0.01 .. 0.01) has none
    assert set(table["input"]) == {"T:conc", "T:cathode"}
    for _, row in table.iterrows():
        item = next(c for c in CATALOGUE if c[0] == row["input"])
        assert (row["input_stage"], row["basis"]) == (item[2], item[6])
        assert (row["value"], row["input_low"], row["input_high"]) == item[3:6]
        low = score_of(at_fraction(graded, item[0], item[4]), method, row["stage"],
                       row["country"], **params)  # fmt: skip
        high = score_of(at_fraction(graded, item[0], item[5]), method, row["stage"],
                        row["country"], **params)  # fmt: skip
        assert row["score_low"] == pytest.approx(low, rel=1e-12, abs=1e-15)
        assert row["score_high"] == pytest.approx(high, rel=1e-12, abs=1e-15)
        assert row["swing"] == pytest.approx(high - low, rel=1e-9, abs=1e-15)
        base = score_of(graded, method, row["stage"], row["country"], **params)
        assert row["score"] == pytest.approx(base, rel=1e-12)
        # arc elasticity over the range: (dS / S) / (df / f)
        span = (item[5] - item[4]) / item[3]
        assert row["elasticity"] == pytest.approx((high - low) / base / span, rel=1e-9)


def test_content_variant_by_hand_import_reliance(graded):
    # China's mining-stage import reliance M / (P + M): imports 400 f + 150 f of
    # concentrate against 20 t of own production; f = 0.1 / 0.3 gives 55/75 and 165/185
    res = sensitivity(graded, countries=["CHN"], stages=["mining"], inputs=["content"])
    row = res.tornado("copper", "CHN", "mining").set_index("input").loc["T:conc"]
    for f, column in ((0.1, "score_low"), (0.3, "score_high")):
        changed = at_fraction(graded, "T:conc", f)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            scores = riskengine.score(changed).scores
        hit = scores[(scores["stage"] == "mining") & (scores["country"] == "CHN")]
        assert float(hit["import_reliance"].iloc[0]) == pytest.approx(550 * f / (20 + 550 * f))
        assert row[column] == pytest.approx(float(hit["score"].iloc[0]), rel=1e-12)
    assert row["kind"] == "content"


def test_content_is_a_default_kind_and_other_kinds_carry_their_range(graded):
    res = sensitivity(graded, countries=["CHN"], step=0.2)
    table = res.table
    assert "content" in set(table["kind"])
    other = table[table["kind"].isin(["production", "flow", "parameter"])]
    np.testing.assert_allclose(other["input_low"], other["value"] * 0.8)
    np.testing.assert_allclose(other["input_high"], other["value"] * 1.2)
    assert (other["basis"] == "").all()
    gov = table[table["kind"] == "governance"]
    np.testing.assert_allclose(gov["input_low"], 2.5 - (2.5 - gov["value"]) * 0.8)
    # a dataset without products has no content variants
    assert "content" not in set(sensitivity(build(), countries=["USA"]).table["kind"])
