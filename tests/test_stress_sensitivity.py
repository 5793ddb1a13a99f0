"""One-at-a-time sensitivities: closed forms, agreement with re-scoring a perturbed dataset,
tornado ordering, scenario price elasticities and errors."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import riskengine
from riskengine.dataset import Dataset
from riskengine.dims import STAGES, WGI_INDICATORS
from riskengine.errors import RiskEngineError, UnknownLabelError
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
        market=Market(price_model="linear"),
        shocks=[
            ExportBan(
                type="export_ban", exporters=["CHN"], minerals=["cobalt"], stage="refining",
                severity=0.25,
            )
        ],
    )  # fmt: skip
    res = sensitivity(ds, countries=["USA"], inputs=["governance"], scenario=sc)
    prices = res.prices.set_index("input")
    # linear rule dp/p = sigma / (e_s - e_d) with cobalt's (0.15, -0.2)
    sigma = 0.25 * 70 / 130
    base = 100 * sigma / 0.35
    lo, hi = 100 * sigma / (0.15 * 0.9 + 0.2), 100 * sigma / (0.15 * 1.1 + 0.2)
    row = prices.loc["supply elasticity cobalt"]
    assert row["score"] == pytest.approx(base)
    assert row["score_low"] == pytest.approx(lo)
    assert row["score_high"] == pytest.approx(hi)
    assert row["elasticity"] == pytest.approx((hi - lo) / (0.2 * base))
    assert "demand elasticity cobalt" in prices.index


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
    assert set(rows["kind"]) == {"governance", "production", "flow", "parameter"}
    # the composite score is a weighted mean: its weight elasticities sum to zero
    weights = rows[rows["kind"] == "parameter"]
    assert weights["swing"].sum() == pytest.approx(0.0, abs=2e-3)
