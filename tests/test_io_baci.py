"""Tests of the CEPII BACI reader: catalogue mapping, aggregation, country codes, errors."""

from __future__ import annotations

import math
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from riskengine.errors import DataError
from riskengine.io.baci import M49_OVERRIDES, BaciResult, read_baci
from riskengine.io.canonical import TRADE, read_table, write_table
from riskengine.io.countries import iso3_codes
from riskengine.products import load_products

ROOT = Path(__file__).parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "baci" / "release"
SHARED = ROOT.parent / "shared" / "data" / "baci_hs92_minerals"
SOURCE = "CEPII BACI HS92 V202401b"

needs_shared = pytest.mark.skipif(
    not SHARED.is_dir(), reason=f"official BACI extract not found at {SHARED}"
)


def read_fixture(**kwargs: object) -> BaciResult:
    with pytest.warns(UserWarning, match=r"697 'Europe EFTA, nes' \(1 rows\)"):
        return read_baci(FIXTURE, **kwargs)  # type: ignore[arg-type]


def flow(
    result: BaciResult, mineral: str, stage: str, exp: str, imp: str, year: int, product: str
) -> pd.Series:
    t = result.trade
    hit = t[
        (t["mineral"] == mineral)
        & (t["stage"] == stage)
        & (t["exporter"] == exp)
        & (t["importer"] == imp)
        & (t["year"] == year)
        & (t["product"] == product)
    ]
    assert len(hit) == 1, f"expected one flow, got {len(hit)}"
    return hit.iloc[0]


def copy_release(tmp_path: Path) -> Path:
    target = tmp_path / "release"
    shutil.copytree(FIXTURE, target)
    return target


def rename_release(release: Path, nomenclature: str) -> None:
    for f in release.glob("BACI_HS92_*.csv"):
        f.rename(f.with_name(f.name.replace("HS92", nomenclature)))


# ----------------------------------------------------------------------- fixture


def test_fixture_flows_carry_their_product_and_gross_tonnes() -> None:
    r = read_fixture()
    assert list(r.trade.columns) == TRADE.column_names
    assert r.source == SOURCE
    assert set(r.trade["source"]) == {SOURCE}
    assert r.rows_read == 17
    assert [f.name for f in r.files] == [
        "BACI_HS92_Y2021_V202401b.csv",
        "BACI_HS92_Y2022_V202401b.csv",
    ]
    # lithium hydroxide 282520 and lithium carbonate 283691, Chile -> China: one row each,
    # gross tonnes of the product (contained lithium comes from the catalogue on loading)
    lioh = flow(r, "lithium", "refining", "CHL", "CHN", 2022, "HS92:282520")
    assert (lioh["value_usd"], lioh["quantity"]) == (10_000.0, 1.5)
    li2co3 = flow(r, "lithium", "refining", "CHL", "CHN", 2022, "HS92:283691")
    assert (li2co3["value_usd"], li2co3["quantity"]) == (20_125.0, 2.25)
    # Peru's copper concentrate
    cu = flow(r, "copper", "mining", "PER", "CHN", 2022, "HS92:260300")
    assert (cu["value_usd"], cu["quantity"]) == (1_500_000.0, 3000.0)
    assert flow(r, "copper", "mining", "PER", "JPN", 2022, "HS92:260300")["value_usd"] == 500_000.0
    assert flow(r, "copper", "mining", "PER", "CHN", 2021, "HS92:260300")["quantity"] == 2900.0
    # cobalt oxides and hydroxides 282200 and HS92 810510 are intermediates;
    # 0.001 kUSD is one dollar
    co = flow(r, "cobalt", "intermediate", "COD", "CHN", 2022, "HS92:282200")
    assert (co["value_usd"], co["quantity"]) == (100_000.0, 50.0)
    co_other = flow(r, "cobalt", "intermediate", "COD", "CHN", 2022, "HS92:810510")
    assert (co_other["value_usd"], co_other["quantity"]) == (1.0, 0.001)
    assert flow(r, "zinc", "mining", "NAM", "ZAF", 2022, "HS92:260800")["value_usd"] == 2500.0
    assert len(r.trade) == 13


def test_fixture_missing_quantity_stays_missing() -> None:
    r = read_fixture()
    # Chile -> Korea lithium hydroxide is listed twice, once with q = NA: the sum is unknown
    # (5.5 + 2.0 kUSD of value), never the partial 0.5 t
    lioh = flow(r, "lithium", "refining", "CHL", "KOR", 2022, "HS92:282520")
    assert lioh["value_usd"] == 7_500.0
    assert math.isnan(lioh["quantity"])
    # the carbonate of the same pair is another product and keeps its quantity
    assert flow(r, "lithium", "refining", "CHL", "KOR", 2022, "HS92:283691")["quantity"] == 1.0
    # empty q cell
    assert math.isnan(
        flow(r, "cobalt", "intermediate", "TWN", "JPN", 2022, "HS92:282200")["quantity"]
    )
    assert r.missing_quantity_rows == 2
    assert r.trade["value_usd"].notna().all()


def test_fixture_country_codes() -> None:
    r = read_fixture()
    # 490 "Other Asia, nes" is Taiwan; 711 SACU (until 1999) is attributed to South Africa;
    # 384 has a doubly encoded name in the release but a valid ISO3
    twn = flow(r, "cobalt", "intermediate", "TWN", "JPN", 2022, "HS92:282200")
    assert twn["value_usd"] == 7250.0
    assert flow(r, "copper", "mining", "ZAF", "CHN", 2021, "HS92:260300")["value_usd"] == 3000.0
    assert flow(r, "copper", "mining", "CIV", "CHN", 2022, "HS92:260300")["quantity"] == 2.0
    assert set(r.trade["exporter"]) | set(r.trade["importer"]) <= iso3_codes()
    um = r.unmatched_codes
    assert um.to_dict("records") == [
        {
            "m49": 697,
            "name": "Europe EFTA, nes",
            "release_iso3": "R20",
            "rows": 1,
            "value_usd": 9000.0,
        }
    ]
    assert "DEU" not in set(r.trade["importer"])


def test_fixture_unmapped_products() -> None:
    r = read_fixture()
    up = r.unmapped_products
    assert up["hs_code"].tolist() == ["010111", "261690"]
    assert up["rows"].tolist() == [1, 1]
    assert up["value_usd"].tolist() == [3000.0, 50_000.0]
    # 261690 is listed in the catalogue as deliberately not mapped; horses are not listed
    assert up["listed"].tolist() == [False, True]
    assert up["description"].iloc[0] == "Horses: live, pure-bred breeding animals"
    assert up["description"].iloc[1].startswith("Precious metal ores")


def test_fixture_years_filter_and_single_file() -> None:
    r = read_baci(FIXTURE, years=[2021])
    assert r.rows_read == 2
    assert sorted(r.trade["year"].unique()) == [2021]
    assert len(r.unmatched_codes) == 0
    one = read_baci(FIXTURE / "BACI_HS92_Y2021_V202401b.csv")
    pd.testing.assert_frame_equal(one.trade, r.trade)


def test_fixture_output_is_a_valid_canonical_table(tmp_path: Path) -> None:
    r = read_fixture()
    assert not r.trade.duplicated(list(TRADE.key)).any()
    assert r.trade.equals(r.trade.sort_values(list(TRADE.key)).reset_index(drop=True))
    assert r.trade["product"].str.startswith("HS92:").all()
    path = write_table(r.trade, tmp_path, "trade")
    table, problems = read_table(path, TRADE)
    assert problems == []
    assert len(table) == len(r.trade)


def test_every_product_takes_the_mineral_and_stage_of_the_catalogue() -> None:
    r = read_fixture()
    catalogue = load_products().set_index(["product", "mineral"])
    for row in r.trade.itertuples(index=False):
        assert catalogue.loc[(row.product, row.mineral), "stage"] == row.stage


def test_a_mixed_code_is_split_by_the_shares_of_a_custom_catalogue() -> None:
    catalogue = load_products()
    base = catalogue[catalogue["product"] == "HS92:260300"].iloc[0]
    split = pd.DataFrame(
        [
            {**base.to_dict(), "share": 0.75},
            {**base.to_dict(), "mineral": "gold", "share": 0.25, "content": 1e-5,
             "content_low": 5e-6, "content_high": 2e-5},
        ]
    )  # fmt: skip
    custom = pd.concat([catalogue[catalogue["product"] != "HS92:260300"], split])
    r = read_baci(FIXTURE, years=[2021], products=custom)
    # Peru -> China 2021: 1,400 kUSD and 2,900 t, three quarters copper, one quarter gold
    cu = flow(r, "copper", "mining", "PER", "CHN", 2021, "HS92:260300")
    assert (cu["value_usd"], cu["quantity"]) == (1_050_000.0, 2175.0)
    au = flow(r, "gold", "mining", "PER", "CHN", 2021, "HS92:260300")
    assert (au["value_usd"], au["quantity"]) == (350_000.0, 725.0)
    assert r.trade["value_usd"].sum() == 1_403_000.0


def test_nomenclature_is_read_from_the_file_names(tmp_path: Path) -> None:
    release = copy_release(tmp_path)
    rename_release(release, "HS17")
    r = read_baci(release)
    assert r.source == "CEPII BACI HS17 V202401b"
    # EFTA's row (code 697) is copper ore, not an HS17 product of the catalogue: no warning
    assert len(r.unmatched_codes) == 0
    # HS17 codes of the catalogue: 282200 (cobalt oxides and hydroxides), 283691
    # (lithium carbonate); HS92's 282520, 260300, 260800 and 810510 are not HS17 rows of it
    assert set(r.trade["product"]) == {"HS17:282200", "HS17:283691"}
    co = flow(r, "cobalt", "intermediate", "COD", "CHN", 2022, "HS17:282200")
    assert (co["value_usd"], co["quantity"]) == (100_000.0, 50.0)
    assert r.unmapped_products["hs_code"].tolist() == [
        "010111", "260300", "260800", "261690", "282520", "810510",
    ]  # fmt: skip
    assert not r.unmapped_products["listed"].any()


def test_a_nomenclature_the_catalogue_does_not_cover(tmp_path: Path) -> None:
    release = copy_release(tmp_path)
    rename_release(release, "HS22")
    with pytest.raises(DataError, match=r"maps no HS22 code to a mineral; add HS22 rows"):
        read_baci(release)


def test_invalid_catalogue_is_reported_row_by_row() -> None:
    bad = load_products()
    copper = int(np.flatnonzero(bad["product"] == "HS92:260300")[0])
    zinc = int(np.flatnonzero(bad["product"] == "HS92:260800")[0])
    bad.loc[bad.index[copper], "stage"] = "smelting"
    bad.loc[bad.index[zinc], "content_low"] = 0.9
    with pytest.raises(DataError, match=r"the product catalogue products has 2 problem") as info:
        read_baci(FIXTURE, products=bad)
    text = str(info.value)
    assert f"products line {copper + 2}, column 'stage': unknown value 'smelting'" in text
    assert f"products line {zinc + 2}, column 'content_low': 0.9 is above content 0.5" in text


# ------------------------------------------------------------------------ errors


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"does not exist"):
        read_baci(tmp_path / "nope")


def test_no_matching_files(tmp_path: Path) -> None:
    (tmp_path / "other.csv").write_text("a,b\n1,2\n")
    with pytest.raises(
        DataError, match=r"no BACI data files .*BACI_<HS>_Y<year>.*found other\.csv"
    ):
        read_baci(tmp_path)


def test_missing_year() -> None:
    with pytest.raises(DataError, match=r"year\(s\) 2019, 2023; the files cover 2021-2022"):
        read_baci(FIXTURE, years=[2019, 2021, 2023])


def test_wrong_header(tmp_path: Path) -> None:
    release = copy_release(tmp_path)
    f = release / "BACI_HS92_Y2021_V202401b.csv"
    f.write_text("year,exporter,importer,product,value,quantity\n2021,604,156,260300,1,1\n")
    with pytest.raises(DataError, match=r"BACI_HS92_Y2021_V202401b\.csv line 1: wrong header"):
        read_baci(release, years=[2021])
    with pytest.raises(DataError, match=r"columns t,i,j,k,v,q"):
        read_baci(release, years=[2021])


def test_bad_cell_names_line_and_column(tmp_path: Path) -> None:
    release = copy_release(tmp_path)
    f = release / "BACI_HS92_Y2021_V202401b.csv"
    f.write_text("t,i,j,k,v,q\n2021,604,156,260300,1,1\n2021,604,392,260300,abc,1\n")
    with pytest.raises(DataError, match=r"line 3, column 'v': expected a number .*'abc'"):
        read_baci(release, years=[2021])


def test_negative_value(tmp_path: Path) -> None:
    release = copy_release(tmp_path)
    f = release / "BACI_HS92_Y2021_V202401b.csv"
    f.write_text("t,i,j,k,v,q\n2021,604,156,260300,1,-1\n")
    with pytest.raises(DataError, match=r"line 2, column 'q': negative value -1"):
        read_baci(release, years=[2021])


def test_missing_country_file(tmp_path: Path) -> None:
    release = copy_release(tmp_path)
    (release / "country_codes_V202401b.csv").unlink()
    with pytest.raises(DataError, match=r"country_codes_V202401b\.csv"):
        read_baci(release)


def test_overrides_target_valid_codes() -> None:
    assert {iso for iso, _ in M49_OVERRIDES.values()} <= iso3_codes()
    assert M49_OVERRIDES[490][0] == "TWN"


# --------------------------------------------------------- the official release


@pytest.mark.shared_data
@needs_shared
def test_release_all_years() -> None:
    start = time.perf_counter()
    r = read_baci(SHARED)
    elapsed = time.perf_counter() - start
    assert r.rows_read == 1_264_888
    assert len(r.files) == 30
    assert sorted(r.trade["year"].unique()) == list(range(1995, 2025))
    assert len(r.unmatched_codes) == 0
    # the codes the catalogue leaves out on purpose, and nothing else
    assert r.unmapped_products["hs_code"].tolist() == [
        "250840",
        "261210",
        "261690",
        "280450",
        "283030",
        "711019",
        "711029",
        "711039",
        "711290",
        "711510",
    ]
    assert r.unmapped_products["listed"].all()
    # rows of mapped codes with both countries matched: 41,212 without a quantity, and
    # 1,101,389 distinct (code, exporter, importer, year), one flow each (one mineral per code)
    assert r.missing_quantity_rows == 41_212
    assert len(r.trade) == 1_101_389
    assert r.trade["product"].str.fullmatch(r"HS92:\d{6}").all()
    assert r.trade["value_usd"].notna().all()
    assert not r.trade.duplicated(list(TRADE.key)).any()
    assert set(r.trade["exporter"]) | set(r.trade["importer"]) <= iso3_codes()
    # generous bound: about 1 s on a 2-core machine; fails only on a real regression
    assert elapsed < 6.0


@pytest.mark.shared_data
@needs_shared
def test_release_peru_copper_ore_2022() -> None:
    r = read_baci(SHARED, years=range(2018, 2025))
    assert r.rows_read == 356_322
    assert sorted(r.trade["year"].unique()) == list(range(2018, 2025))
    t = r.trade
    peru = t[
        (t["mineral"] == "copper")
        & (t["stage"] == "mining")
        & (t["exporter"] == "PER")
        & (t["year"] == 2022)
    ].set_index("importer")
    assert peru["quantity"].notna().all()
    by_value = peru["value_usd"] / peru["value_usd"].sum()
    by_tonnes = peru["quantity"] / peru["quantity"].sum()
    assert round(100 * by_value["CHN"], 1) == 75.1
    assert round(100 * by_value["JPN"], 1) == 8.2
    assert round(100 * by_tonnes["CHN"], 1) == 76.2
    assert round(100 * by_tonnes["JPN"], 1) == 8.9


@pytest.mark.shared_data
@needs_shared
def test_release_taiwan_and_sacu() -> None:
    r = read_baci(SHARED, years=[1999, 2022])
    t = r.trade
    # code 490 ("Other Asia, nes") carries Taiwan's trade
    twn = t[(t["importer"] == "TWN") & (t["year"] == 2022)]
    assert twn["value_usd"].sum() > 1e9
    # SACU (711) until 1999 becomes ZAF; South Africa exports manganese ore in both years
    for year in (1999, 2022):
        mn = t[(t["mineral"] == "manganese") & (t["exporter"] == "ZAF") & (t["year"] == year)]
        assert mn["value_usd"].sum() > 1e8


@pytest.mark.shared_data
@needs_shared
def test_release_codes_all_described_in_table() -> None:
    codes = pd.read_csv(SHARED / "product_codes_HS92_V202401b.csv", dtype=str)
    described = dict(zip(codes["code"], codes["description"], strict=True))
    catalogue = load_products()
    table = catalogue[catalogue["nomenclature"] == "HS92"]
    for code, text in zip(table["code"], table["description"], strict=True):
        assert described[code] == text, code
    present = set()
    for f in sorted(SHARED.glob("BACI_HS92_Y*.csv")):
        present |= set(pd.read_csv(f, usecols=["k"], dtype={"k": np.int32})["k"])
    assert len(present) == 74
    assert {f"{k:06d}" for k in present} <= set(table["code"])
