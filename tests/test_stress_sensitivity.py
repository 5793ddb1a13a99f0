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
from riskengine.stress.sensitivities import INPUT_KINDS, sensitivity

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


# ------------------------------------------- the composite without re-running it
# The composite's sensitivities come from one run of the composite (weights in closed
# form, the other inputs by updating the sums they enter). The reference below is the
# definition, one input at a time: perturb the dataset, score it with the composite.
MINERALS = ("cobalt", "copper")
RANDOM_COUNTRIES = ("AUS", "CHL", "CHN", "COD", "DEU", "IDN", "JPN", "PER", "USA")
RANGED = {  # (mineral, stage) -> (product, content, low, high)
    ("cobalt", "intermediate"): ("T:hydroxide", 0.35, 0.25, 0.45),
    ("cobalt", "refining"): ("T:sulphate", 0.2097, 0.2, 0.22),
    ("copper", "mining"): ("T:concentrate", 0.25, 0.2, 0.35),
    ("copper", "refining"): ("T:cathode", 1.0, 0.99, 1.0),
}


def build_random(seed: int) -> Dataset:
    """Two minerals on four stages with the composite's special cases.

    Random sparse flows at every stage (some in a ranged product's gross tonnes),
    production at the mining and refining stages only (intermediate and component
    take the upstream stage's concentration), the residual ``XOT`` among the
    producers, one country without a PV score (DEU: NaN where its supply is used,
    in China's refined imports and, through the feed of IDN's refineries, in
    Japan's),
    one at the best score (IDN, PV 2.5: no governance variant), a refiner with no
    known feed (JPN), and a miner refining its own and imported feed whose
    retained output is near zero, so that a 10 % move of its production or feed
    exports clips it at 0 (PER, copper).
    """
    rng = np.random.default_rng([seed, 20240601])
    prod_rows, trade_rows = [], []
    for mineral in MINERALS:
        miners = rng.choice(["AUS", "CHL", "COD", "IDN", "PER"], size=3, replace=False)
        for c in [*miners, "XOT"]:
            prod_rows.append((mineral, "mining", c, float(rng.lognormal(5, 1))))
        for c in ("CHN", "USA", "AUS"):
            prod_rows.append((mineral, "refining", c, float(rng.lognormal(4, 1))))
        for stage in STAGES:
            for e in RANDOM_COUNTRIES:
                for i in RANDOM_COUNTRIES:
                    if e == i or rng.random() > 0.3:
                        continue
                    if i == "JPN" and stage in ("mining", "intermediate"):
                        continue  # JPN refines without a known feed
                    if e == "DEU" or (e == "IDN" and stage == "refining"):
                        continue  # set below
                    q = float(rng.lognormal(3, 1))
                    named = rng.random() < 0.6
                    product = RANGED.get((mineral, stage), ("",))[0] if named else ""
                    trade_rows.append((mineral, stage, e, i, product, q))
        trade_rows.append((mineral, "refining", "JPN", "USA", "", 40.0))
        trade_rows.append((mineral, "refining", "DEU", "CHN", "", 5.0))
        trade_rows.append((mineral, "intermediate", "DEU", "IDN", "", 5.0))
        trade_rows.append((mineral, "refining", "IDN", "JPN", "", 8.0))
        trade_rows.append((mineral, "refining", "USA", "JPN", "", 3.0))
    # PER mines 100 t of copper and exports 96 t of ore: 4 t retained
    prod_rows = [r for r in prod_rows if not (r[0] == "copper" and r[2] == "PER")]
    prod_rows.append(("copper", "mining", "PER", 100.0))
    # and refines it with 10 t of Chilean intermediate, for the USA
    feed = ("mining", "intermediate")
    trade_rows = [r for r in trade_rows if r[:3] not in {("copper", s, "PER") for s in feed}]
    trade_rows = [r for r in trade_rows if r[:4] != ("copper", "intermediate", "CHL", "PER")]
    trade_rows = [r for r in trade_rows if r[:4] != ("copper", "refining", "PER", "USA")]
    trade_rows += [("copper", "mining", "PER", "CHN", "", 60.0),
                   ("copper", "mining", "PER", "USA", "", 36.0),
                   ("copper", "intermediate", "CHL", "PER", "", 10.0),
                   ("copper", "refining", "PER", "USA", "", 20.0)]  # fmt: skip
    pv = {c: float(rng.uniform(-2.4, 2.4)) for c in RANDOM_COUNTRIES if c != "DEU"}
    pv["IDN"] = 2.5
    tables = {
        "production": pd.DataFrame(
            [{"mineral": m, "stage": s, "country": c, "year": 2024, "quantity": q, "unit": "t",
              "source": "test"} for m, s, c, q in prod_rows]
        ),
        "trade": pd.DataFrame(
            [{"mineral": m, "stage": s, "exporter": e, "importer": i, "year": 2024,
              "product": p, "quantity": q, "value_usd": 1000.0 * q, "source": "test"}
             for m, s, e, i, p, q in trade_rows]
        ),
        "governance": pd.DataFrame(
            [{"country": c, "year": 2023, "indicator": k, "value": min(v - 0.05 * j, 2.5),
              "source": "test"} for c, v in pv.items() for j, k in enumerate(WGI_INDICATORS)]
        ),
    }  # fmt: skip
    catalogue = pd.DataFrame(
        [(p, m, s, f, lo, hi, "assumption") for (m, s), (p, f, lo, hi) in RANGED.items()],
        columns=["product", "mineral", "stage", "content", "content_low", "content_high", "basis"],
    ).assign(share=1.0, source="test")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Dataset.from_tables(tables, products=catalogue, name=f"random-{seed}")


def _scores(ds: Dataset, **params: object) -> dict[tuple[str, str, str], float]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frame = riskengine.score(ds, method="riskengine", **params).scores
    keys = zip(frame["mineral"], frame["stage"], frame["country"], strict=True)
    return dict(zip(keys, frame["score"].to_numpy(dtype=float), strict=True))


def brute_force(
    ds: Dataset, countries: list[str] | None, step: float, **params: object
) -> pd.DataFrame:
    """Every input moved down and up one at a time, the whole dataset re-scored each time."""
    weights = {"concentration": 0.25, "import_exposure": 0.25, "upstream_exposure": 0.15,
               "import_reliance": 0.2, "export_concentration": 0.15,
               **dict(params.pop("weights", None) or {})}  # fmt: skip
    base = _scores(ds, weights=weights, **params)
    scored = [k for k in base if countries is None or k[2] in countries]
    rows: list[dict[str, object]] = []
    c_idx = ds.countries

    def record(kind, label, stage, value, low, high, span, basis, lo_ds, hi_ds, lo_w, hi_w):
        lo_s = _scores(lo_ds, weights=lo_w, **params)
        hi_s = _scores(hi_ds, weights=hi_w, **params)
        for key in scored:
            s0, sl, sh = base[key], lo_s[key], hi_s[key]
            swing = sh - sl
            if np.isnan(swing) or abs(swing) <= 1e-12 * max(abs(0.0 if np.isnan(s0) else s0),
                                                            1e-300):  # fmt: skip
                continue
            rows.append({"mineral": key[0], "stage": key[1], "country": key[2], "kind": kind,
                         "input": label, "input_stage": stage, "basis": basis, "value": value,
                         "input_low": low, "input_high": high, "score": s0, "score_low": sl,
                         "score_high": sh, "swing": swing,
                         "elasticity": swing / (span * s0) if s0 != 0 else np.nan})  # fmt: skip

    def both(change):
        return change(1 - step), change(1 + step)

    for c, country in enumerate(c_idx):
        pv = float(ds.governance[1, -1, c])
        if country == "XOT" or np.isnan(pv) or np.all(ds.governance[:, -1, c] == 2.5):
            continue

        def gov(factor, c=c):
            g = ds.governance.copy()
            g[:, :, c] = 2.5 - (2.5 - g[:, :, c]) * factor
            return ds.replace_arrays(governance=g)

        lo, hi = both(gov)
        record("governance", country, "", pv, 2.5 - (2.5 - pv) * (1 - step),
               2.5 - (2.5 - pv) * (1 + step), 2 * step, "", lo, hi, weights, weights)  # fmt: skip
    flows = ds.trade_array()
    moved = np.ones(len(c_idx), dtype=bool) if countries is None else c_idx.isin(countries)
    for m in range(len(ds.minerals)):
        for s, stage in enumerate(ds.stages):
            for c in np.flatnonzero(ds.production[m, s, 0] > 0):
                value = float(ds.production[m, s, 0, c])

                def prod(factor, m=m, s=s, c=c):
                    p = ds.production.copy()
                    p[m, s, 0, c] *= factor
                    return ds.replace_arrays(production=p)

                lo, hi = both(prod)
                record("production", c_idx[c], stage, value, value * (1 - step),
                       value * (1 + step), 2 * step, "", lo, hi, weights, weights)  # fmt: skip
        for s, stage in enumerate(ds.stages):
            for e, i in zip(*np.nonzero(flows[m, s, 0] > 0), strict=True):
                if not (moved[e] or moved[i]):
                    continue
                value = float(flows[m, s, 0, e, i])

                def flow(factor, m=m, s=s, e=e, i=i):
                    f = flows.copy()
                    f[m, s, 0, e, i] *= factor
                    return ds.replace_arrays(trade=f, trade_value=f)

                lo, hi = both(flow)
                record("flow", f"{c_idx[e]}->{c_idx[i]}", stage, value, value * (1 - step),
                       value * (1 + step), 2 * step, "", lo, hi, weights, weights)  # fmt: skip
    products = ds.products
    used = set(ds.trade.product[(ds.trade.product >= 0) & (ds.trade.gross > 0)].tolist())
    for p in sorted(used):
        item = products.iloc[p]
        if not item["content_low"] < item["content_high"]:
            continue
        f, lo_f, hi_f = item["content"], item["content_low"], item["content_high"]
        record("content", item["product"], item["stage"], f, lo_f, hi_f, (hi_f - lo_f) / f,
               item["basis"], at_fraction(ds, item["product"], lo_f),
               at_fraction(ds, item["product"], hi_f), weights, weights)  # fmt: skip
    for name, w in weights.items():
        if w > 0:
            record("parameter", f"weight {name}", "", w, w * (1 - step), w * (1 + step), 2 * step,
                   "", ds, ds, {**weights, name: w * (1 - step)},
                   {**weights, name: w * (1 + step)})  # fmt: skip
    return pd.DataFrame(rows, columns=list(COLUMNS_))


COLUMNS_ = ("mineral", "stage", "country", "kind", "input", "input_stage", "basis", "value",
            "input_low", "input_high", "score", "score_low", "score_high", "swing",
            "elasticity")  # fmt: skip
KEY = ["mineral", "stage", "country", "kind", "input", "input_stage"]


def assert_same_rows(got: pd.DataFrame, want: pd.DataFrame) -> None:
    """Same rows, numbers to rounding, ordered by mineral, stage, country and decreasing swing."""
    assert len(want) > 0
    assert list(got.columns) == list(COLUMNS_)
    g = got.set_index(KEY)
    w = want.set_index(KEY)
    assert g.index.is_unique
    assert sorted(g.index) == sorted(w.index)
    w = w.loc[g.index]
    scale = np.maximum(np.abs(w["score"].to_numpy(dtype=float)), 1e-300)
    for column in ("score", "score_low", "score_high", "swing"):
        a, b = g[column].to_numpy(dtype=float), w[column].to_numpy(dtype=float)
        np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
        ok = ~np.isnan(b)
        assert np.all(np.abs(a[ok] - b[ok]) <= 1e-12 * scale[ok] + 1e-15), column
    for column in ("value", "input_low", "input_high"):
        np.testing.assert_allclose(g[column], w[column], rtol=1e-15)
    assert (g["basis"] == w["basis"]).all()
    np.testing.assert_allclose(g["elasticity"], w["elasticity"], rtol=1e-9, atol=1e-9)
    # order: minerals as the dataset lists them, then stage and country, then |swing|
    order = got["mineral"].map({m: k for k, m in enumerate(MINERALS)})
    key = pd.DataFrame({"m": order, "s": got["stage"], "c": got["country"]})
    assert key.apply(tuple, axis=1).is_monotonic_increasing
    for _, rows in got.groupby(["mineral", "stage", "country"]):
        drop = np.diff(rows["swing"].abs().to_numpy())
        assert np.all(drop <= 1e-15 * rows["score"].abs().max())


@pytest.fixture(scope="module", params=[1, 2])
def random_ds(request) -> Dataset:
    return build_random(request.param)


def test_the_random_case_has_the_special_cases(random_ds):
    frame = _scores(random_ds)
    assert any(np.isnan(v) for v in frame.values())  # supply from DEU (no PV) is NaN
    assert {k[1] for k in frame} == set(STAGES)
    ds1 = random_ds.sel(minerals=["copper"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        notes = riskengine.score(ds1).notes
    assert any("no known ore feed" in str(n) for n in notes)  # JPN refines without feed
    assert any("concentration factor at that stage" in str(n) for n in notes)


@pytest.mark.parametrize("countries", [["USA", "CHN"], ["JPN"]])
def test_composite_rows_equal_rescoring_every_perturbed_dataset(random_ds, countries):
    res = sensitivity(random_ds, countries=countries)
    want = brute_force(random_ds, countries, 0.1)
    if "USA" in countries:
        assert set(want["kind"]) == set(INPUT_KINDS)
    assert_same_rows(res.table, want)


def test_composite_with_other_weights_step_and_missing_governance(random_ds):
    params = {"weights": {"import_reliance": 0.0, "concentration": 0.5},
              "missing_governance": 0.4}  # fmt: skip
    res = sensitivity(random_ds, countries=["USA", "CHN"], step=0.3, **params)
    want = brute_force(random_ds, ["USA", "CHN"], 0.3, **params)
    assert not want["score"].isna().any()  # DEU, a supplier of China, has g = 0.4
    assert "weight import_reliance" not in set(want["input"])  # a zero weight stays 0
    assert_same_rows(res.table, want)


def test_composite_every_country_and_one_stage():
    ds = build()
    res = sensitivity(ds, stages=["refining"])
    want = brute_force(ds, None, 0.1)
    assert_same_rows(res.table, want[want["stage"] == "refining"])


def test_composite_is_run_once_and_chunks_give_the_same_rows(random_ds, monkeypatch):
    from riskengine.methods import METHODS
    from riskengine.stress import sensitivities as sens

    calls: list[str] = []
    for name in ("riskengine", "geopolrisk"):

        def counted(*args, _method=METHODS[name], _name=name, **kwargs):
            calls.append(_name)
            return _method(*args, **kwargs)

        monkeypatch.setitem(METHODS, name, counted)
    whole = sensitivity(random_ds, countries=["USA", "CHN"])
    assert calls == ["riskengine"]
    monkeypatch.setattr(sens, "CHUNK_CELLS", 50)  # a few copies per chunk
    pd.testing.assert_frame_equal(sensitivity(random_ds, countries=["USA", "CHN"]).table,
                                  whole.table)  # fmt: skip
    calls.clear()
    sensitivity(random_ds, countries=["USA"], method="geopolrisk", inputs=["governance"])
    assert len(calls) > 1  # the general path re-scores
    assert set(calls) == {"geopolrisk"}


def test_composite_weight_rows_are_the_composite_to_the_bit(random_ds):
    res = sensitivity(random_ds, countries=["USA"], inputs=["parameter"])
    for _, row in res.table.iterrows():
        name = row["input"].removeprefix("weight ")
        for factor, column in ((0.9, "score_low"), (1.1, "score_high")):
            weights = {name: row["value"] * factor}
            got = _scores(random_ds, weights=weights)[(row["mineral"], row["stage"], "USA")]
            assert row[column] == got


def test_composite_errors_come_from_the_composite(random_ds):
    with pytest.raises(RiskEngineError, match="unknown factor weight"):
        sensitivity(random_ds, countries=["USA"], weights={"nope": 1.0})
    with pytest.raises(RiskEngineError, match="no WGI political stability"):
        sensitivity(random_ds, countries=["USA"], missing_governance="raise")
    with pytest.raises(RiskEngineError, match="unexpected keyword argument 'regions'"):
        sensitivity(random_ds, countries=["USA"], regions={"X": ["USA"]})


def test_default_data_sample_equals_rescoring_the_year():
    """Real data: a seeded sample of the USA's rows against the composite on the perturbed year."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        default = riskengine.load_dataset()
    year = default.latest_year()
    minerals = ["cobalt", "copper", "gallium", "lithium", "natural_graphite"]
    ds = default.sel(years=[year], minerals=minerals)
    table = sensitivity(ds, countries=["USA"]).table
    assert set(table["kind"]) == set(INPUT_KINDS)
    rng = np.random.default_rng(7)
    picks = [rng.choice(np.flatnonzero(table["kind"] == kind), size=4, replace=False)
             for kind in INPUT_KINDS]  # fmt: skip
    for _, row in table.iloc[np.concatenate(picks)].iterrows():
        sub = ds.sel(minerals=[row["mineral"]])
        for factor, column, end in ((0.9, "score_low", "input_low"),
                                    (1.1, "score_high", "input_high")):  # fmt: skip
            params: dict[str, object] = {}
            if row["kind"] == "content":
                changed = at_fraction(sub, row["input"], row[end])
            elif row["kind"] == "parameter":
                changed, params = sub, {"weights": {row["input"].split()[1]: row[end]}}
            else:
                changed = _perturb_any(sub, row, factor)
            want = _scores(changed, **params)[(row["mineral"], row["stage"], "USA")]
            assert row[column] == pytest.approx(want, rel=1e-12, abs=1e-15), row.to_dict()


def _perturb_any(ds: Dataset, row: pd.Series, factor: float) -> Dataset:
    """``_perturb`` on a dataset of any stages and one mineral and year."""
    c = ds.countries
    if row["kind"] == "governance":
        gov = ds.governance.copy()
        i = c.get_loc(row["input"])
        gov[:, :, i] = 2.5 - (2.5 - gov[:, :, i]) * factor
        return ds.replace_arrays(governance=gov)
    s = ds.stages.get_loc(row["input_stage"])
    if row["kind"] == "production":
        prod = ds.production.copy()
        prod[0, s, 0, c.get_loc(row["input"])] *= factor
        return ds.replace_arrays(production=prod)
    e, i = row["input"].split("->")
    tq = ds.trade_array()
    tq[0, s, 0, c.get_loc(e), c.get_loc(i)] *= factor
    return ds.replace_arrays(trade=tq, trade_value=tq)


def test_benchmark_checks_agreement_and_reports(random_ds):
    """The benchmark runs end to end on a small dataset (its times are not asserted)."""
    from benchmarks import bench_sensitivity as bench

    minerals = list(MINERALS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        record = bench.bench(random_ds, "quick", minerals)
        table = sensitivity(random_ds, countries=["USA"], inputs=bench.RESCORED_KINDS).table
        table_all = sensitivity(random_ds, countries=["USA"]).table
    assert record["rows"] == len(table_all)
    # two copies of every variant, those that move no score included
    variants = table_all[["mineral", "kind", "input", "input_stage"]].drop_duplicates()
    assert record["copies"] % 2 == 0
    assert record["copies"] > 2 * len(variants)
    assert record["rescored"]["agreement_worst_over_tolerance"] <= 1.0
    per_kind = table_all["kind"].value_counts().clip(upper=2)
    assert record["loop"]["copies"] == 2 * per_kind.sum()
    assert record["loop"]["worst_over_tolerance"] <= 1.0
    # a wrong number, a missing row: the run stops
    wrong = table.assign(score_high=table["score_high"] * (1 + 1e-9))
    with pytest.raises(bench.AgreementError, match="scores differ"):
        bench.agree(wrong, table, "test")
    missing = "0 rows only in the closed form, 1 only in the baseline"
    with pytest.raises(bench.AgreementError, match=missing):
        bench.agree(table.iloc[1:], table, "test")
    text = bench.markdown(
        {"mode": "quick", "machine": {"cpu": "cpu", "cores": 2}, "dataset": "random",
         "sensitivity": record}
    )  # fmt: skip
    assert f"| sensitivity-USA | 2 | {record['rows']:,} |" in text


@pytest.mark.parametrize("method", ["riskengine", "geopolrisk"])
def test_a_mineral_without_trade_in_the_year_has_no_rows(random_ds, method):
    # copper keeps its production but loses its trade: nothing to move but production
    keep = random_ds.trade.mineral != random_ds.minerals.get_loc("copper")
    ds = replace(random_ds, trade=random_ds.trade.take(keep))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = sensitivity(ds, countries=["USA", "CHN"], method=method)
    assert set(res.table["mineral"]) == {"cobalt"}
