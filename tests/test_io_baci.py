"""Tests of the CEPII BACI reader and the bundled HS-to-mineral table."""

from __future__ import annotations

import math
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from riskengine.dims import STAGES
from riskengine.errors import DataError
from riskengine.io.baci import M49_OVERRIDES, BaciResult, load_hs_map, read_baci
from riskengine.io.canonical import TRADE, read_table, write_table
from riskengine.io.countries import iso3_codes

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


def flow(result: BaciResult, mineral: str, stage: str, exp: str, imp: str, year: int) -> pd.Series:
    t = result.trade
    hit = t[
        (t["mineral"] == mineral)
        & (t["stage"] == stage)
        & (t["exporter"] == exp)
        & (t["importer"] == imp)
        & (t["year"] == year)
    ]
    assert len(hit) == 1, f"expected one flow, got {len(hit)}"
    return hit.iloc[0]


def copy_release(tmp_path: Path) -> Path:
    target = tmp_path / "release"
    shutil.copytree(FIXTURE, target)
    return target


# ----------------------------------------------------------------------- fixture


def test_fixture_flows_are_aggregated_and_scaled() -> None:
    r = read_fixture()
    assert list(r.trade.columns) == TRADE.column_names
    assert r.source == SOURCE
    assert set(r.trade["source"]) == {SOURCE}
    assert r.rows_read == 16
    assert [f.name for f in r.files] == [
        "BACI_HS92_Y2021_V202401b.csv",
        "BACI_HS92_Y2022_V202401b.csv",
    ]
    # lithium hydroxide 282520 + lithium carbonate 283691, Chile -> China
    li = flow(r, "lithium", "refining", "CHL", "CHN", 2022)
    assert li["value_usd"] == 30125.0
    assert li["quantity"] == 3.75
    # peru copper ore
    cu = flow(r, "copper", "mining", "PER", "CHN", 2022)
    assert (cu["value_usd"], cu["quantity"]) == (1_500_000.0, 3000.0)
    assert flow(r, "copper", "mining", "PER", "JPN", 2022)["value_usd"] == 500_000.0
    assert flow(r, "copper", "mining", "PER", "CHN", 2021)["quantity"] == 2900.0
    # cobalt oxides 282200 + cobalt unwrought 810510: 0.001 kUSD is one dollar
    co = flow(r, "cobalt", "refining", "COD", "CHN", 2022)
    assert co["value_usd"] == 100_001.0
    assert co["quantity"] == 50.001
    assert flow(r, "zinc", "mining", "NAM", "ZAF", 2022)["value_usd"] == 2500.0


def test_fixture_missing_quantity_stays_missing() -> None:
    r = read_fixture()
    # one of the two lithium rows Chile -> Korea has q = NA: the sum is unknown
    li = flow(r, "lithium", "refining", "CHL", "KOR", 2022)
    assert li["value_usd"] == 10_000.0
    assert math.isnan(li["quantity"])
    # empty q cell
    assert math.isnan(flow(r, "cobalt", "refining", "TWN", "JPN", 2022)["quantity"])
    assert r.missing_quantity_rows == 2
    assert r.trade["value_usd"].notna().all()


def test_fixture_country_codes() -> None:
    r = read_fixture()
    # 490 "Other Asia, nes" is Taiwan; 711 SACU (until 1999) is attributed to South Africa;
    # 384 has a doubly encoded name in the release but a valid ISO3
    assert flow(r, "cobalt", "refining", "TWN", "JPN", 2022)["value_usd"] == 7250.0
    assert flow(r, "copper", "mining", "ZAF", "CHN", 2021)["value_usd"] == 3000.0
    assert flow(r, "copper", "mining", "CIV", "CHN", 2022)["quantity"] == 2.0
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
    # 261690 is listed in the table as deliberately not mapped; horses are not listed
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
    path = write_table(r.trade, tmp_path, "trade")
    table, problems = read_table(path, TRADE)
    assert problems == []
    assert len(table) == len(r.trade)


def test_custom_hs_map_as_mapping() -> None:
    r = read_baci(FIXTURE, years=[2021], hs_map={"260300": ("copper_ore", "mining")})
    assert r.trade["mineral"].unique().tolist() == ["copper_ore"]
    assert r.trade["value_usd"].sum() == 1_403_000.0


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


def test_other_nomenclature_needs_hs_map(tmp_path: Path) -> None:
    release = copy_release(tmp_path)
    for f in release.glob("BACI_HS92_*.csv"):
        f.rename(f.with_name(f.name.replace("HS92", "HS17")))
    with pytest.raises(DataError, match=r"bundled HS-to-mineral table is for HS92.*HS17"):
        read_baci(release)
    r = read_baci(release, years=[2021], hs_map={260300: ("copper", "mining")})
    assert r.source == "CEPII BACI HS17 V202401b"


def test_invalid_hs_map() -> None:
    with pytest.raises(DataError) as info:
        read_baci(FIXTURE, hs_map={"2603": ("Copper", "smelting")})
    text = str(info.value)
    assert "expected 6 digits" not in text  # short codes are zero-padded
    assert "'Copper' is not a lower-snake-case id" in text
    assert "expected one of mining, refining, got 'smelting'" in text


# -------------------------------------------------------------- bundled HS table


def test_bundled_hs_map_is_consistent() -> None:
    table = load_hs_map()
    assert list(table.columns) == ["hs_code", "mineral", "stage", "description", "note"]
    assert table["hs_code"].is_unique
    assert table["hs_code"].str.fullmatch(r"\d{6}").all()
    mapped = table[table["mineral"] != ""]
    assert set(mapped["stage"]) <= set(STAGES)
    unmapped = table[table["mineral"] == ""]
    # every deliberately unmapped code says why
    assert (unmapped["note"].str.contains("Not mapped")).all()
    assert (unmapped["stage"] == "").all()
    lookup = table.set_index("hs_code")
    expected = {
        "260300": ("copper", "mining"),
        "260600": ("bauxite", "mining"),
        "250410": ("natural_graphite", "mining"),
        "282200": ("cobalt", "refining"),
        "810510": ("cobalt", "refining"),
        "282520": ("lithium", "refining"),
        "283691": ("lithium", "refining"),
        "284690": ("rare_earths", "refining"),
        "280530": ("rare_earths", "refining"),
        "711011": ("platinum", "refining"),
        "711021": ("palladium", "refining"),
        "720221": ("ferrosilicon", "refining"),
        "280469": ("silicon", "refining"),
        "760110": ("aluminium", "refining"),
        "720293": ("niobium", "refining"),
        "811230": ("germanium", "refining"),
        "261590": ("tantalum", "mining"),
        "740311": ("copper", "refining"),
    }
    for code, (mineral, stage) in expected.items():
        assert (lookup.loc[code, "mineral"], lookup.loc[code, "stage"]) == (mineral, stage), code
    for code in ("261690", "711019", "711290", "250840", "711041"):
        assert lookup.loc[code, "mineral"] == ""


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
    # the codes the table leaves out on purpose, and nothing else
    assert r.unmapped_products["hs_code"].tolist() == [
        "250840",
        "261690",
        "283030",
        "711019",
        "711029",
        "711039",
        "711290",
        "711510",
    ]
    assert r.unmapped_products["listed"].all()
    assert r.missing_quantity_rows == 42_141
    assert len(r.trade) == 1_018_973
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
    products = pd.read_csv(SHARED / "product_codes_HS92_V202401b.csv", dtype=str)
    described = dict(zip(products["code"], products["description"], strict=True))
    table = load_hs_map()
    for code, text in zip(table["hs_code"], table["description"], strict=True):
        assert described[code] == text, code
    present = set()
    for f in sorted(SHARED.glob("BACI_HS92_Y*.csv")):
        present |= set(pd.read_csv(f, usecols=["k"], dtype={"k": np.int32})["k"])
    assert len(present) == 74
    assert {f"{k:06d}" for k in present} <= set(table["hs_code"])
