"""The Dataset: tensors at the right labels, label look-ups, governance years, checks."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from riskengine import RiskEngineWarning, load_dataset
from riskengine.dataset import Dataset, Finding, check_dataset, read_dataset_tables
from riskengine.dims import WGI_INDICATORS
from riskengine.errors import ConsistencyError, CoordinateError, DataError, UnknownLabelError

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "tests" / "fixtures" / "tiny"
SRC = "riskengine test (synthetic)"

COUNTRIES = ["AUS", "CHL", "CHN", "COD", "DEU", "FRA", "JPN", "PER", "XOT"]


@pytest.fixture(scope="module")
def ds() -> Dataset:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the tiny fixture has no data gaps
        return load_dataset(TINY)


def copy_tiny(tmp_path: Path) -> Path:
    target = tmp_path / "tiny"
    shutil.copytree(TINY, target)
    return target


def append(path: Path, *rows: str) -> None:
    with path.open("a", encoding="utf-8") as out:
        out.write("".join(row + "\n" for row in rows))


def at(ds: Dataset, array: np.ndarray, **labels: object) -> float:
    """Value of a [mineral, stage, year, country...] tensor at labels."""
    index = tuple(int(ds.positions(dim, [label])[0]) for dim, label in labels.items())
    return float(array[index])


# ------------------------------------------------------------------ coordinates


def test_coordinates(ds: Dataset) -> None:
    assert list(ds.minerals) == ["cobalt", "copper"]
    assert list(ds.stages) == ["mining", "intermediate", "refining", "component"]
    assert list(ds.years) == [2023, 2024]
    assert list(ds.countries) == COUNTRIES
    assert list(ds.governance_years) == [2021, 2023]
    assert ds.production.shape == (2, 4, 2, 9)
    assert ds.trade is not None
    assert len(ds.trade) == 12  # one flow per row of trade.csv, stored sparse
    assert ds.trade_array().shape == (2, 4, 2, 9, 9)
    assert ds.governance.shape == (6, 2, 9)
    assert ds.has_trade
    assert ds.path == TINY
    assert ds.sources == (
        "riskengine tiny test fixture (synthetic WGI estimates)",
        "riskengine tiny test fixture (synthetic figures)",
        "riskengine tiny test fixture (synthetic figures) (EoL-RIR and SI_SR as in the EU 2023 "
        "cobalt factsheet)",
    )
    assert repr(ds) == (
        f"<Dataset '{TINY}': 2 minerals x 4 stages x 9 countries, years 2023-2024, 12 flows>"
    )


def test_production_values_at_labels(ds: Dataset) -> None:
    p = ds.production
    assert at(ds, p, mineral="copper", stage="mining", year=2024, country="CHL") == 4500.0
    assert at(ds, p, mineral="copper", stage="mining", year=2023, country="CHL") == 2000.0
    assert at(ds, p, mineral="copper", stage="mining", year=2024, country="XOT") == 1000.0
    assert at(ds, p, mineral="copper", stage="refining", year=2024, country="CHN") == 600.0
    assert at(ds, p, mineral="cobalt", stage="mining", year=2024, country="COD") == 6000.0
    # rows the tables do not list are zeros, not NaN
    assert at(ds, p, mineral="cobalt", stage="refining", year=2024, country="COD") == 0.0
    assert at(ds, p, mineral="cobalt", stage="mining", year=2023, country="COD") == 0.0
    assert at(ds, p, mineral="copper", stage="mining", year=2024, country="DEU") == 0.0
    copper = ds.production[ds.positions("mineral", ["copper"])[0]]
    assert copper.sum(axis=-1).tolist() == [
        [5000.0, 10000.0],
        [0.0, 0.0],
        [0.0, 1000.0],
        [0.0, 0.0],
    ]
    assert not np.isnan(ds.production).any()


def test_trade_values_at_labels(ds: Dataset) -> None:
    q, v = ds.trade_array("content"), ds.trade_array("value")
    flow = {"mineral": "copper", "stage": "mining", "year": 2024}
    assert at(ds, q, **flow, exporter="PER", importer="CHN") == 1800.0
    assert at(ds, v, **flow, exporter="PER", importer="CHN") == 86_400_000.0
    # exporter first, importer last: the reverse flow does not exist
    assert at(ds, q, **flow, exporter="CHN", importer="PER") == 0.0
    assert at(
        ds, q, mineral="copper", stage="refining", year=2024, exporter="CHN", importer="JPN"
    ) == (200.0)
    jpn = ds.positions("importer", ["JPN"])[0]
    m, s, t = ds.positions("mineral", ["copper"])[0], 0, ds.positions("year", [2024])[0]
    # rows without a product are contained content: gross and contained agree
    assert (ds.trade_array("gross") == q).all()
    assert q[m, s, t, :, jpn].sum() == 2000.0
    assert v[m, s, t, :, jpn].sum() == 100_000_000.0


def test_governance_values_at_labels(ds: Dataset) -> None:
    g = ds.governance
    pv, rl = WGI_INDICATORS.index("PV"), WGI_INDICATORS.index("RL")
    y2023 = ds.governance_years.get_loc(2023)
    aus = ds.countries.get_loc("AUS")
    assert g[pv, y2023, aus] == 1.5
    assert g[rl, y2023, aus] == 1.125
    assert g[:, y2023, ds.countries.get_loc("COD")].tolist() == [-2.0] * 6
    # the residual row has no governance
    assert np.isnan(g[:, :, ds.countries.get_loc("XOT")]).all()


def test_mineral_info(ds: Dataset) -> None:
    info = ds.mineral_info
    assert list(info.index) == ["cobalt", "copper"]
    assert info.loc["cobalt", "eol_rir"] == 0.22
    assert info.loc["cobalt", "substitution_index"] == 0.98
    assert info.loc["copper", "name"] == "Copper"
    assert np.isnan(info.loc["copper", "substitution_index"])


def test_production_frame(ds: Dataset) -> None:
    frame = ds.production_frame()
    assert len(frame) == 15  # every row of production.csv, nothing else
    assert frame["quantity"].sum() == pytest.approx(4000 + 6000 + 5000 + 10000 + 1000)
    row = frame[(frame["country"] == "XOT") & (frame["stage"] == "refining")]
    assert row["quantity"].tolist() == [100.0]


# --------------------------------------------------------------- governance_at


@pytest.mark.parametrize(
    ("year", "expected"), [(2030, 2023), (2024, 2023), (2023, 2023), (2022, 2021), (2021, 2021)]
)
def test_governance_year_for_is_latest_at_or_before(ds: Dataset, year: int, expected: int) -> None:
    assert ds.governance_year_for(year) == expected


def test_governance_at_picks_the_latest_year_not_after(ds: Dataset) -> None:
    pv = WGI_INDICATORS.index("PV")
    jpn, chl = ds.countries.get_loc("JPN"), ds.countries.get_loc("CHL")
    matrix, used = ds.governance_at(2024)
    assert used == 2023
    assert matrix.shape == (6, 9)
    assert matrix[pv, jpn] == 1.0
    assert matrix[pv, chl] == 0.0
    matrix, used = ds.governance_at(2022)
    assert used == 2021
    assert matrix[pv, jpn] == 0.5  # Japan's 2021 estimate, not the later 2023 one
    assert np.isnan(matrix[pv, chl])  # Chile has no 2021 row


def test_governance_at_before_any_release(ds: Dataset) -> None:
    matrix, used = ds.governance_at(2020)
    assert used is None
    assert matrix.shape == (6, 9)
    assert np.isnan(matrix).all()


# ----------------------------------------------------------------- look-ups


def test_positions(ds: Dataset) -> None:
    assert ds.positions("country", ["JPN", "CHL"]).tolist() == [6, 1]
    assert ds.positions("exporter", ["PER"]).tolist() == [7]
    assert ds.positions("year", ["2024", 2023]).tolist() == [1, 0]
    assert ds.positions("stage", ["refining"]).tolist() == [2]
    assert ds.positions("governance_year", [2023]).tolist() == [1]


def test_positions_unknown_label_lists_the_valid_ones(ds: Dataset) -> None:
    with pytest.raises(UnknownLabelError) as info:
        ds.positions("country", ["JPN", "USA", "Japan"])
    assert info.value.unknown == ["USA", "Japan"]
    assert info.value.valid == COUNTRIES
    assert str(info.value).startswith("unknown countries: USA, Japan. Valid countries: ")
    assert "AUS, CHL, CHN, COD, DEU, FRA, JPN, PER, XOT." in str(info.value)


def test_positions_unknown_year_and_dimension(ds: Dataset) -> None:
    with pytest.raises(UnknownLabelError, match=r"unknown year: 1999\. Valid years: 2023, 2024\."):
        ds.positions("year", [1999])
    with pytest.raises(UnknownLabelError, match=r"unknown year: last"):
        ds.positions("year", ["last"])
    with pytest.raises(
        UnknownLabelError, match=r"unknown dimension: commodity\. Valid dimensions: "
    ):
        ds.positions("commodity", ["cobalt"])


def test_align_orders_values_on_the_dataset_axis(ds: Dataset) -> None:
    values = pd.Series({c: float(i) for i, c in enumerate(reversed(COUNTRIES))})
    aligned = ds.align(values, "country", "stockpile")
    assert aligned.tolist() == [8.0, 7.0, 6.0, 5.0, 4.0, 3.0, 2.0, 1.0, 0.0]
    frame = pd.DataFrame({"a": [1.0, 2.0]}, index=pd.Index(["copper", "cobalt"]))
    assert ds.align(frame, "mineral", "prices").ravel().tolist() == [2.0, 1.0]


def test_align_lists_extra_and_missing_labels(ds: Dataset) -> None:
    values = pd.Series(1.0, index=[c for c in COUNTRIES if c not in ("XOT", "FRA")] + ["USA"])
    with pytest.raises(CoordinateError) as info:
        ds.align(values, "country", "demand")
    message = str(info.value)
    assert message.startswith("demand does not match the dataset's country coordinates")
    assert "extra country labels not in the dataset: USA" in message
    assert "missing country labels: FRA, XOT" in message
    assert "Reindex it on the dataset's country index" in message
    assert isinstance(info.value, DataError)


# ------------------------------------------------------------------ subsets


def test_sel_keeps_values_and_the_whole_country_axis(ds: Dataset) -> None:
    sub = ds.sel(minerals=["copper"], years=[2024], stages=["refining"])
    assert list(sub.minerals) == ["copper"]
    assert list(sub.years) == [2024]
    assert list(sub.stages) == ["refining"]
    assert list(sub.countries) == COUNTRIES
    assert sub.production.shape == (1, 1, 1, 9)
    assert list(ds.sel(minerals="copper").minerals) == ["copper"]  # one label, not letters
    assert at(
        sub, sub.production, mineral="copper", stage="refining", year=2024, country="JPN"
    ) == (300.0)
    assert sub.trade is not None
    assert len(sub.trade) == 2
    assert sub.trade_array().shape == (1, 1, 1, 9, 9)
    assert sub.trade_array().sum() == 300.0
    # the original is untouched
    assert ds.production.shape == (2, 4, 2, 9)


def test_sel_unknown_label(ds: Dataset) -> None:
    with pytest.raises(
        UnknownLabelError, match=r"unknown mineral: gold\. Valid minerals: cobalt, copper"
    ):
        ds.sel(minerals=["gold"])


def test_load_dataset_restricted_to_labels() -> None:
    sub = load_dataset(TINY, minerals=["cobalt"], years=[2024])
    assert list(sub.minerals) == ["cobalt"]
    assert list(sub.years) == [2024]
    assert sub.production.sum() == 10000.0
    # countries come from every table, including governance
    assert "JPN" in sub.countries
    with pytest.raises(UnknownLabelError, match=r"unknown year: 2019\. Valid years: 2023, 2024"):
        load_dataset(TINY, years=[2019])


def test_replace_arrays_checks_shapes_and_names(ds: Dataset) -> None:
    doubled = ds.replace_arrays(production=ds.production * 2)
    assert doubled.production.sum() == 2 * ds.production.sum()
    assert doubled is not ds
    with pytest.raises(
        DataError, match=r"production has shape \(4, 2, 9\), expected \(2, 4, 2, 9\)"
    ):
        ds.replace_arrays(production=ds.production[0])
    # dense trade back to sparse flows: the same pairs, the same totals
    halved = ds.replace_arrays(trade=ds.trade_array() / 2, trade_value=ds.trade_array("value"))
    assert halved.trade is not None
    assert len(halved.trade) == len(ds.pairs)
    assert halved.trade_array().sum() == ds.trade_array().sum() / 2
    with pytest.raises(TypeError):
        ds.replace_arrays(prices=ds.production)  # type: ignore[call-arg]


def test_from_tables_without_trade_or_governance() -> None:
    tables, _ = read_dataset_tables(TINY)
    only = Dataset.from_tables({"production": tables["production"]}, name="production only")
    assert not only.has_trade
    assert only.trade is None
    assert only.governance.shape == (6, 0, len(only.countries))
    assert only.governance_at(2024)[1] is None
    assert only.mineral_info.empty


# ------------------------------------------------------------ consistency checks


def test_withheld_quantity_is_nan_and_reported(tmp_path: Path) -> None:
    path = copy_tiny(tmp_path)
    append(path / "production.csv", f"copper,mining,USA,2024,,t,{SRC},W,")
    with pytest.warns(RiskEngineWarning, match=r"1 production figure\(s\) are withheld") as record:
        gappy = load_dataset(path)
    assert "copper/mining/2024/USA" in str(record[0].message)
    # withheld: 0 in the arithmetic array, flagged in the mask
    assert (
        at(gappy, gappy.production, mineral="copper", stage="mining", year=2024, country="USA")
        == 0.0
    )
    assert at(
        gappy,
        gappy.production_missing,
        mineral="copper",
        stage="mining",
        year=2024,
        country="USA",
    )
    assert (
        at(gappy, gappy.production, mineral="copper", stage="mining", year=2024, country="CHL")
        == 4500.0
    )
    findings = check_dataset(gappy)
    assert findings == [
        Finding(
            "check_missing_quantities",
            "1 production figure(s) are withheld or not available in the source and are left "
            "out of shares: copper/mining/2024/USA",
            ("copper/mining/2024/USA",),
        )
    ]


def test_strict_turns_findings_into_a_consistency_error(tmp_path: Path) -> None:
    path = copy_tiny(tmp_path)
    append(path / "production.csv", f"copper,mining,USA,2024,,t,{SRC},W,")
    append(path / "production.csv", f"nickel,mining,IDN,2024,2200000,t,{SRC},,")
    append(path / "trade.csv", f"copper,mining,CHL,CHN,2024,,1000,{SRC}")
    with pytest.raises(ConsistencyError) as info:
        load_dataset(path, strict=True)
    assert f"the dataset '{path}' fails 3 consistency check(s) (strict mode" in str(info.value)
    problems = info.value.problems
    assert len(problems) == 3
    assert "copper/mining/2024/USA" in problems[0]
    assert problems[1] == (
        "minerals with data but no row in minerals.csv: nickel; add them so their names and "
        "attributes are known"
    )
    assert problems[2].startswith("1 trade flow(s) have no quantity (only a value)")
    assert isinstance(info.value, DataError)


def test_strict_passes_on_a_clean_dataset() -> None:
    clean = load_dataset(TINY, strict=True)
    assert check_dataset(clean, strict=True) == []


def test_resolve_countries_maps_names_codes_and_regions(ds: Dataset) -> None:
    assert ds.country_code("Congo (Kinshasa)") == "COD"
    assert ds.country_code("jpn") == "JPN"
    assert ds.country_code("Korea, Republic of") is None  # a real country, not in this dataset
    assert ds.resolve_countries(["Japan", "JPN", "eu27"], regions=True) == ["JPN", "EU27"]
    assert ds.resolve_countries(None) is None
    with pytest.raises(
        UnknownLabelError, match=r"unknown country: Atlantis\. Valid countries: EU27"
    ):
        ds.resolve_countries(["Atlantis"], regions=True)


# ------------------------------------------------------------ contained content


def with_products(tmp_path: Path, rows: list[str]) -> Path:
    """The tiny dataset with its trade rows replaced by rows naming products."""
    path = copy_tiny(tmp_path)
    header = "mineral,stage,exporter,importer,year,product,quantity,value_usd,source\n"
    (path / "trade.csv").write_text(header + "".join(r + "\n" for r in rows))
    return path


def test_named_products_are_converted_to_contained_content(tmp_path: Path) -> None:
    path = with_products(
        tmp_path,
        [
            # 1,000 t of copper concentrate and 200 t of cathode from Chile to China
            f"copper,mining,CHL,CHN,2024,HS92:260300,1000,2000000,{SRC}",
            f"copper,refining,CHL,CHN,2024,HS92:740311,200,1800000,{SRC}",
            # cobalt hydroxide is an intermediate, counted in cobalt content
            f"cobalt,intermediate,COD,CHN,2024,HS92:282200,500,4000000,{SRC}",
        ],
    )
    from riskengine.products import load_products

    catalogue = load_products().set_index(["product", "mineral"])
    ds = load_dataset(path)
    frame = ds.trade_frame(by_product=True).set_index("product")
    for product, mineral, gross in (
        ("HS92:260300", "copper", 1000.0),
        ("HS92:740311", "copper", 200.0),
        ("HS92:282200", "cobalt", 500.0),
    ):
        fraction = float(catalogue.loc[(product, mineral), "content"])
        assert frame.loc[product, "gross_t"] == gross
        assert frame.loc[product, "content_t"] == pytest.approx(gross * fraction)
    # concentrates are a fraction of their weight, cathode nearly all of it
    assert frame.loc["HS92:260300", "content_t"] < 0.4 * 1000
    assert frame.loc["HS92:740311", "content_t"] > 0.99 * 200


def test_an_unknown_product_is_an_error_naming_the_line(tmp_path: Path) -> None:
    path = with_products(
        tmp_path,
        [
            f"copper,mining,CHL,CHN,2024,HS92:260300,1000,2000000,{SRC}",
            f"copper,mining,PER,CHN,2024,HS92:999999,1000,2000000,{SRC}",
        ],
    )
    with pytest.raises(DataError) as info:
        load_dataset(path, cache=False)
    assert info.value.problems == [
        "trade.csv line 3, column 'product': 'HS92:999999' is not in the product catalogue "
        "for mineral 'copper'; add a row for it to products.csv in the dataset directory "
        "(docs/data-format.md)"
    ]


def test_a_product_at_another_stage_is_an_error(tmp_path: Path) -> None:
    path = with_products(tmp_path, [f"cobalt,refining,COD,CHN,2024,HS92:282200,500,4e6,{SRC}"])
    with pytest.raises(DataError) as info:
        load_dataset(path, cache=False)
    assert info.value.problems == [
        "trade.csv line 2, column 'stage': 'HS92:282200' is a intermediate product in the "
        "catalogue, got 'refining'; write 'intermediate' or correct the catalogue row"
    ]


def test_a_dataset_products_csv_overrides_the_catalogue(tmp_path: Path) -> None:
    path = with_products(tmp_path, [f"copper,mining,CHL,CHN,2024,HS92:260300,1000,2e6,{SRC}"])
    from riskengine.products import load_products

    columns = list(load_products().columns)
    row = dict.fromkeys(columns, "")
    row.update(
        product="HS92:260300", nomenclature="HS92", code="260300", mineral="copper",
        stage="mining", share="1", content="0.3", content_low="0.25", content_high="0.35",
        basis="source", description="Copper ores and concentrates",
        source="assay certificates of the shipments (test)",
    )  # fmt: skip
    pd.DataFrame([row], columns=columns).to_csv(path / "products.csv", index=False)
    ds = load_dataset(path)
    assert ds.trade is not None
    assert ds.trade.content.tolist() == pytest.approx([300.0])


def test_outlier_unit_values_are_screened_with_a_note(tmp_path: Path) -> None:
    # six ordinary flows of rare-earth compounds at $10-20k/t, and Benin's 40.7 kt at $53/t
    rows = [
        f"copper,refining,{e},JPN,2024,,{q},{q * p},{SRC}"
        for e, q, p in (
            ("CHN", 100, 15_000), ("AUS", 80, 12_000), ("CHL", 60, 18_000),
            ("PER", 50, 14_000), ("DEU", 40, 20_000), ("FRA", 30, 16_000),
        )
    ]  # fmt: skip
    rows.append(f"copper,refining,COD,JPN,2024,,40700,{40_700 * 53},{SRC}")
    path = with_products(tmp_path, rows)
    with pytest.warns(RiskEngineWarning, match=r"1 trade flow\(s\) have a unit value below 1/100"):
        ds = load_dataset(path)
    assert ds.trade is not None
    screened = ds.trade_frame(by_product=True).query("screened")
    assert screened["exporter"].tolist() == ["COD"]
    assert screened["content_t"].tolist() == [0.0]  # left out of quantity measures
    assert screened["value_usd"].tolist() == [40_700 * 53]  # the value stays
    finding = next(f for f in check_dataset(ds) if f.check == "check_unit_values")
    assert finding.items == ("COD->JPN copper/refining 2024 40,700 t at $53/t",)


def test_import_production_balance_in_contained_tonnes(ds: Dataset) -> None:
    from riskengine.dataset import import_production_balance

    table = import_production_balance(ds).set_index(["mineral", "stage", "year"])["ratio"]
    # by hand from the tiny fixture (copper mining 2024: 4,300 t of imports against
    # 500 + 4,500 + 500 + 500 + 3,000 + 1,000 t of mine output)
    assert table.to_dict() == pytest.approx(
        {
            ("copper", "mining", 2024): 4300 / 10000,
            ("copper", "mining", 2023): 1000 / 5000,
            ("copper", "refining", 2024): 300 / 1000,
            ("cobalt", "mining", 2024): 1000 / 10000,
        }
    )
    assert list(table.index[:1]) == [("copper", "mining", 2024)]  # largest ratio first


def test_production_stated_in_a_product_is_converted(tmp_path: Path) -> None:
    path = copy_tiny(tmp_path)
    prod = pd.read_csv(path / "production.csv", dtype=str, keep_default_na=False)
    prod["product"] = ""
    extra = {c: "" for c in prod.columns}
    extra.update(
        mineral="lithium", stage="mining", country="AUS", year="2024", quantity="1000",
        unit="kt", source=SRC, product="form:spodumene_concentrate",
    )  # fmt: skip
    pd.concat([prod, pd.DataFrame([extra])]).to_csv(path / "production.csv", index=False)
    from riskengine.products import load_products

    fraction = float(
        load_products()
        .set_index(["product", "mineral"])
        .loc[("form:spodumene_concentrate", "lithium"), "content"]
    )
    ds = load_dataset(path)
    got = at(ds, ds.production, mineral="lithium", stage="mining", year=2024, country="AUS")
    assert got == pytest.approx(1_000_000 * fraction)  # 1 Mt of concentrate, in Li
    # the figures without a product are unchanged
    assert at(ds, ds.production, mineral="cobalt", stage="mining", year=2024, country="COD") == (
        6000.0
    )
