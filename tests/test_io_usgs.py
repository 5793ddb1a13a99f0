"""Tests of the USGS Mineral Commodity Summaries importer.

Fixture files under ``tests/fixtures/usgs/`` are small extracts written in the
publisher's three layouts with their quirks (cp1252 em dashes, BOM, thousands
separators, W/NA/XX/E marks, ranges, footnote digits, "e" estimate marks, units
in column names; in MCS 2025's world table blanks in column names and
commodities, the misspelt ``Gemanium``, empty cells for ``—``, marks in
``PROD_NOTES`` and wrong units). The MCS 2025 fixture holds rows of the real
file, copied as they are. Tests marked ``shared_data`` read the real releases in
``../shared/data`` and assert figures read from them.
"""

from __future__ import annotations

import math
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from riskengine.cli import main
from riskengine.errors import DataError
from riskengine.io.canonical import PRODUCTION, read_table, write_table
from riskengine.io.precedence import Release, Replacement, merge_production, release_of
from riskengine.io.usgs import (
    ImportResult,
    UnmatchedCountryWarning,
    combine_releases,
    parse_cell,
    parse_value,
    read_mcs_commodities,
    read_mcs_world_dir,
    read_mcs_world_table,
    read_usgs_mcs,
    resolve_country,
    shares,
)
from riskengine.io.usgs_commodities import (
    CHAPTERS,
    PRODUCTION_RULES,
    chapter_index,
    mapping_table,
    production_rule,
)

ROOT = Path(__file__).resolve().parents[1]
FIX = ROOT / "tests" / "fixtures" / "usgs"
CSV2026 = FIX / "mcs2026" / "MCS2026_Commodities_Data.csv"
CSV2025 = FIX / "mcs2025" / "MCS2025_World_Data.csv"
SHARED = ROOT.parent / "shared" / "data"


def _row(table: pd.DataFrame, **key: object) -> pd.Series:
    mask = np.ones(len(table), dtype=bool)
    for k, v in key.items():
        mask &= (table[k] == v).to_numpy()
    found = table[mask]
    assert len(found) == 1, f"{len(found)} rows for {key}"
    return found.iloc[0]


# ---------------------------------------------------------------------------
# Cells and names
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value", "flag"),
    [
        ("226,000", 226000.0, ""),
        ("1230 ", 1230.0, ""),
        ("68\xa0", 68.0, ""),
        ("0.5", 0.5, ""),
        ("—", 0.0, ""),
        ("-", 0.0, ""),
        ("0", 0.0, ""),
        ("W", math.nan, "W"),
        ("NA", math.nan, "NA"),
        ("XX", math.nan, "XX"),
        ("E", math.nan, "E"),
        ("Large", math.nan, "Large"),
        (">75", math.nan, ">75"),
        ("<1", math.nan, "<1"),
        ("    >9,100,000", math.nan, ">9,100,000"),
        ("1,000–2,000", math.nan, "range 1,000–2,000"),
        ("330 - 390", math.nan, "range 330 - 390"),
        ("", math.nan, "blank"),
        ("included with ilmenite", math.nan, "included with ilmenite"),
    ],
)
def test_parse_value(text: str, value: float, flag: str) -> None:
    got, got_flag = parse_value(text)
    assert got_flag == flag
    if math.isnan(value):
        assert math.isnan(got)
    else:
        assert got == value


def test_parse_cell_reads_estimate_marks() -> None:
    assert parse_cell("e8,450") == (8450.0, "", True)
    assert parse_cell("5,000e") == (5000.0, "", True)
    assert parse_cell("5,000") == (5000.0, "", False)
    value, flag, est = parse_cell("W")
    assert math.isnan(value)
    assert flag == "W"
    assert not est


@pytest.mark.parametrize(
    ("raw", "code", "qualifier", "estimated"),
    [
        ("Congo (Kinshasa)", "COD", "", False),
        ("New Caledonia11", "NCL", "", False),
        ("Russiae", "RUS", "", True),
        ("Korea, Republic ofe", "KOR", "", True),
        ("Other countries4", "XOT", "", False),
        ("Other countriese", "XOT", "", True),
        ("Other countries (includes crude)", "XOT", "includes crude", False),
        ("Russia (recoverable)", "RUS", "recoverable", False),
        ("Kazakhstan, concentrate", "KAZ", "concentrate", False),
        ("United\xa0States (crude)", "USA", "crude", False),
        ("Côte d’Ivoire", "CIV", "", False),
        ("Burma", "MMR", "", False),
        ("The Bahamas", "BHS", "", False),
        ("United States", "USA", "", False),
    ],
)
def test_resolve_country(raw: str, code: str, qualifier: str, estimated: bool) -> None:
    got = resolve_country(raw)
    assert (got.code, got.qualifier, got.estimated, got.world_total) == (
        code,
        qualifier,
        estimated,
        False,
    )


@pytest.mark.parametrize(
    "raw",
    ["World total", "World total (rounded)", "World total (rounded)10", "World total, natural"],
)
def test_world_total_names(raw: str) -> None:
    assert resolve_country(raw).world_total


# ---------------------------------------------------------------------------
# Mapping table
# ---------------------------------------------------------------------------


def test_mapping_table_is_complete_and_consistent() -> None:
    table = mapping_table()
    assert len(table) == len(PRODUCTION_RULES)
    names = {c.name for c in CHAPTERS}
    assert set(table["chapter"]) <= names
    # every chapter has at least one decision
    assert names <= set(table["chapter"])
    mapped = table[table["mineral"].notna()]
    assert set(mapped["stage"]) == {"mining", "intermediate", "refining"}
    # smelters that make refined metal are refining; copper smelters make blister/anode
    assert set(mapped.loc[mapped["stage"] == "intermediate", "chapter"]) == {"COPPER"}
    assert table.loc[table["mineral"].isna(), "note"].str.len().gt(0).all()
    assert mapped["mineral"].str.fullmatch(r"[a-z][a-z0-9_]*").all()
    assert mapped["mineral"].nunique() >= 40


@pytest.mark.parametrize(
    ("chapter", "series", "mineral", "stage"),
    [
        ("COPPER", "Copper: Refinery production", "copper", "refining"),
        ("COPPER", "Mine production, recoverable copper content", "copper", "mining"),
        (
            "CHROMIUM",
            "Mne production, grosss weight, marketable chromite ore",
            "chromium",
            "mining",
        ),
        ("BAUXITE AND ALUMINA", "Alumina: Alumina, refinery production", "alumina", "refining"),
        ("BAUXITE AND ALUMINA", "Bauxite: Bauxite, mine production", "bauxite", "mining"),
        ("ALUMINUM", "Aluminum: Smelter production", "aluminium", "refining"),
        ("MAGNESIUM METAL", "Magnesium smelter production", "magnesium", "refining"),
        ("PLATINUM-GROUP METALS", " Mine production: Palladium", "palladium", "mining"),
        ("SILICON", "Plant production, silicon metal", "silicon", "refining"),
        ("TITANIUM AND TITANIUM DIOXIDE", "Sponge Metal Production", "titanium", "refining"),
        ("GRAPHITE (NATURAL)", "Mine production, graphite", "natural_graphite", "mining"),
        ("COPPER", "Smelter production", "copper", "intermediate"),
        ("SILICON", "Plant production, Ferosilicon, silicon content ", "ferrosilicon", "refining"),
    ],
)
def test_production_rules(chapter: str, series: str, mineral: str, stage: str) -> None:
    rule = production_rule(chapter, series)
    assert rule is not None
    assert (rule.mineral, rule.stage) == (mineral, stage)


def test_skip_rules_give_reasons() -> None:
    rule = production_rule("SILICON", "silicon content of combined totals for ferrosilicon")
    assert rule is not None
    assert rule.mineral is None
    assert "2023" in rule.note
    assert production_rule("COBALT", "Cobalt: Refinery production") is None
    assert chapter_index()["ZIRCO-HAFNI"].name == "ZIRCONIUM AND HAFNIUM"
    # MCS 2025 spellings of the COMMODITY column
    assert chapter_index()["GEMANIUM"].name == "GERMANIUM"
    assert chapter_index()["GRAPHITE"].name == "GRAPHITE (NATURAL)"
    assert chapter_index()["TITANIUM & TITANIUM DIOXIDE"].name == "TITANIUM AND TITANIUM DIOXIDE"


# ---------------------------------------------------------------------------
# MCS 2026 single CSV (fixture)
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def r2026() -> ImportResult:
    return read_mcs_commodities(CSV2026)


def test_fixture_is_cp1252() -> None:
    raw = CSV2026.read_bytes()
    assert b"Statistics\x97United States" in raw  # section separator byte
    assert b",\x97," in raw  # em dash zero
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")


def test_2026_production_values(r2026: ImportResult) -> None:
    p = r2026.production
    assert list(p.columns) == [
        "mineral",
        "stage",
        "country",
        "year",
        "quantity",
        "unit",
        "source",
        "flag",
        "estimated",
    ]
    assert (p["unit"] == "t").all()
    cod = _row(p, mineral="cobalt", stage="mining", country="COD", year=2024)
    assert cod["quantity"] == 226000.0
    assert cod["estimated"]
    assert "USGS MCS 2026 data release (doi:10.5066/P1WKQ63T)" in cod["source"]
    assert "cobalt content" in cod["source"]
    idn = _row(p, mineral="cobalt", country="IDN", year=2024)
    assert idn["quantity"] == 35000.0
    assert not idn["estimated"]
    assert _row(p, mineral="cobalt", country="XOT", year=2024)["quantity"] == 7780.0
    usa = _row(p, mineral="cobalt", country="USA", year=2025)
    assert math.isnan(usa["quantity"])
    assert usa["flag"] == "W"
    assert _row(p, mineral="cobalt", country="XOT", year=2025)["flag"] == "NA"
    # kilograms -> tonnes, em dash -> 0
    assert _row(p, mineral="gallium", country="CHN", year=2025)["quantity"] == 900.0
    assert _row(p, mineral="gallium", country="JPN", year=2025)["quantity"] == 3.0
    ga_us = _row(p, mineral="gallium", country="USA", year=2025)
    assert ga_us["quantity"] == 0.0
    assert ga_us["flag"] == ""
    # thousand metric tons -> tonnes; cp1252 country name; range and Large
    assert _row(p, mineral="manganese", country="CIV")["quantity"] == 350000.0
    assert _row(p, mineral="manganese", country="ZAF")["quantity"] == 7600000.0
    gab = _row(p, mineral="manganese", country="GAB")
    assert math.isnan(gab["quantity"])
    assert gab["flag"] == "range 1,000–2,000"
    assert _row(p, mineral="manganese", country="XOT")["flag"] == "Large"
    # no world totals among the rows; no NaN without a flag
    assert "WLD" not in set(p["country"])
    assert not (p["quantity"].isna() & (p["flag"] == "")).any()
    assert len(p) == 19


def test_2026_world_totals_and_check(r2026: ImportResult) -> None:
    w = r2026.world_totals
    assert _row(w, mineral="cobalt", year=2024)["quantity"] == 269000.0
    assert _row(w, mineral="gallium", year=2025)["quantity"] == 903.0
    # cobalt 2024 adds up (268,980 vs 269,000); nickel 2025 does not (3.4 Mt vs 4.5 Mt)
    assert len(r2026.notes) == 1
    assert "nickel mining 2025" in r2026.notes[0]
    assert "3,400,000 t" in r2026.notes[0]
    assert "4,500,000 t" in r2026.notes[0]


def test_2026_skips_are_reported(r2026: ImportResult) -> None:
    text = "\n".join(r2026.skipped)
    assert "BORON" in text
    assert "different form" in text
    assert "carats" in text
    assert "1 rows of world reserves" in text
    assert "1 rows of world capacity" in text
    assert "'China, Germany, and Russia' names several countries" in text
    assert r2026.unmatched_countries == []


def test_2026_import_reliance(r2026: ImportResult) -> None:
    nir = r2026.import_reliance
    co = _row(nir, mineral="cobalt", year=2025)
    assert co["net_import_reliance"] == pytest.approx(0.79)
    assert co["country"] == "USA"
    assert co["stage"] == "refining"
    assert co["estimated"]
    assert _row(nir, mineral="cobalt", year=2024)["net_import_reliance"] == pytest.approx(0.74)
    boron = _row(nir, mineral="boron", year=2025)
    assert math.isnan(boron["net_import_reliance"])
    assert boron["flag"] == "E"
    li = _row(nir, mineral="lithium", year=2025)
    assert math.isnan(li["net_import_reliance"])
    assert li["flag"] == ">50"


def test_2026_import_sources(r2026: ImportResult) -> None:
    src = r2026.import_sources
    co = src[src["mineral"] == "cobalt"].set_index("partner")
    assert co.loc["NOR", "share"] == pytest.approx(0.26)
    assert co.loc["FIN", "share"] == pytest.approx(0.16)
    assert co.loc["XOT", "share"] == pytest.approx(0.58)
    assert set(co["period"]) == {"2021-2024"}
    assert set(co["country"]) == {"USA"}
    per = _row(src, mineral="phosphate_rock", partner="PER")
    assert math.isnan(per["share"])
    assert per["flag"] == ">99"


def test_production_passes_canonical_validation(r2026: ImportResult, tmp_path: Path) -> None:
    path = write_table(r2026.production, tmp_path, "production")
    table, problems = read_table(path, PRODUCTION)
    assert problems == []
    assert len(table) == len(r2026.production)


# ---------------------------------------------------------------------------
# MCS 2023 / 2024 per-commodity layout (fixture)
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def r2024() -> ImportResult:
    return read_mcs_world_dir(FIX / "mcs2024")


def test_2024_values_units_and_estimates(r2024: ImportResult) -> None:
    p = r2024.production
    assert r2024.release == 2024
    assert _row(p, mineral="cobalt", country="COD", year=2023)["quantity"] == 170000.0
    ncl = _row(p, mineral="cobalt", country="NCL", year=2022)  # "New Caledonia11"
    assert ncl["quantity"] == 2000.0
    assert ncl["estimated"]
    # kt with trailing blanks
    chl = _row(p, mineral="copper", stage="mining", country="CHL", year=2022)
    assert chl["quantity"] == 5330000.0
    assert not chl["estimated"]
    assert _row(p, mineral="copper", stage="mining", country="CHL", year=2023)["estimated"]
    # "Also estimated in 2022" in Prod_notes
    assert _row(p, mineral="copper", stage="mining", country="RUS", year=2022)["estimated"]
    assert (
        _row(p, mineral="copper", stage="refining", country="CHN", year=2023)["quantity"]
        == 12000000.0
    )
    # kg -> t, "Japane" estimate mark, "Other countries4"
    jpn = _row(p, mineral="gallium", country="JPN", year=2022)
    assert jpn["quantity"] == 3.0
    assert jpn["estimated"]
    assert _row(p, mineral="gallium", country="KOR", year=2023)["quantity"] == 2.0
    assert _row(p, mineral="gallium", country="XOT", year=2022)["quantity"] == 0.0
    assert not _row(p, mineral="gallium", country="USA", year=2022)["estimated"]
    # "e20000" value mark, W and NA
    rus = _row(p, mineral="vanadium", country="RUS", year=2022)
    assert rus["quantity"] == 20000.0
    assert rus["estimated"]
    assert _row(p, mineral="vanadium", country="ZAF", year=2022)["flag"] == "W"
    assert _row(p, mineral="vanadium", country="ZAF", year=2023)["flag"] == "NA"
    # cp1252 file read
    assert _row(p, mineral="rare_earths", country="MMR", year=2023)["quantity"] == 38000.0


def test_2024_titanium_is_ilmenite_plus_rutile(r2024: ImportResult) -> None:
    p = r2024.production
    aus = _row(p, mineral="titanium", stage="mining", country="AUS", year=2023)
    assert aus["quantity"] == 600000.0  # 400 kt ilmenite + 200 kt rutile
    usa = _row(p, mineral="titanium", stage="mining", country="USA", year=2023)
    assert usa["quantity"] == 200000.0  # rutile "included with ilmenite"
    assert usa["flag"] == ""
    assert _row(r2024.world_totals, mineral="titanium", year=2023)["quantity"] == 800000.0
    assert r2024.notes == []


def test_2024_import_statistics(r2024: ImportResult) -> None:
    nir = r2024.import_reliance
    assert _row(nir, mineral="zinc", year=2023)["net_import_reliance"] == pytest.approx(0.77)
    ree = _row(nir, mineral="rare_earths", stage="refining", year=2023)
    assert math.isnan(ree["net_import_reliance"])
    assert ree["flag"] == ">95"
    src = r2024.import_sources
    ga = src[src["mineral"] == "gallium"].sort_values("rank")
    assert list(ga["partner"]) == ["JPN", "CHN", "DEU", "CAN"]
    assert ga["share"].isna().all()
    assert set(ga["period"]) == {"2019-2022"}
    assert list(src[src["mineral"] == "zinc"]["partner"]) == ["CAN", "MEX", "PER", "KOR"]
    text = "\n".join(r2024.skipped)
    assert "'Europe' is a region" in text
    assert "MICA" in text
    assert "carats" in text


def test_dispatcher_detects_layouts() -> None:
    assert read_usgs_mcs(CSV2026).release == 2026
    assert read_usgs_mcs(FIX / "mcs2024").release == 2024
    assert read_usgs_mcs(FIX / "mcs2024" / "world").release == 2024
    assert read_usgs_mcs(FIX / "mcs2026").release == 2026


def test_combine_releases_keeps_newest() -> None:
    r26 = read_usgs_mcs(CSV2026)
    r24 = read_usgs_mcs(FIX / "mcs2024")
    r23 = read_usgs_mcs(FIX / "mcs2023")
    for order in ([r26, r24, r23], [r23, r26, r24]):
        c = combine_releases(order)
        co = c.production[(c.production["mineral"] == "cobalt")]
        cod = co[co["country"] == "COD"].set_index("year")["quantity"]
        # 2021 only in MCS 2023; 2022 in MCS 2023 (130,000) and MCS 2024 (144,000)
        assert cod.to_dict() == {
            2021: 119000.0,
            2022: 144000.0,
            2023: 170000.0,
            2024: 226000.0,
            2025: 230000.0,
        }
        assert "MCS 2024" in co[(co["country"] == "COD") & (co["year"] == 2022)]["source"].iloc[0]
        assert not c.production.duplicated(["mineral", "stage", "country", "year"]).any()
        assert c.release == 2026
        assert _row(c.world_totals, mineral="cobalt", year=2022)["quantity"] == 153000.0


def test_shares() -> None:
    r = read_usgs_mcs(FIX / "mcs2024")
    p = r.production.assign(share=shares(r.production))
    assert _row(p, mineral="copper", stage="refining", country="CHN", year=2023)[
        "share"
    ] == pytest.approx(12000 / 27000)
    # a withheld country makes the group total unknown
    assert p[(p["mineral"] == "vanadium")]["share"].isna().all()


# ---------------------------------------------------------------------------
# MCS 2025 world table (fixture: rows of the real file)
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def r2025() -> ImportResult:
    return read_mcs_world_table(CSV2025)


def test_2025_fixture_keeps_the_quirks() -> None:
    raw = CSV2025.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbfSOURCE,COMMODITY,COUNTRY,TYPE,UNIT_MEAS,PROD_2023,")
    assert b"PROD_EST_ 2024" in raw
    assert b",Copper ," in raw
    assert b",Gemanium," in raw
    assert b"Ferosilicon" in raw


def test_2025_values_units_and_estimates(r2025: ImportResult) -> None:
    p = r2025.production
    assert r2025.release == 2025
    assert list(p.columns) == list(PRODUCTION.column_names[:9])
    cod = _row(p, mineral="cobalt", country="COD", year=2023)
    assert cod["quantity"] == 175000.0
    assert cod["estimated"]  # TYPE "Mine production, cobalt content, estimated"
    assert cod["source"] == (
        "USGS MCS 2025 data release; MCS2025_World_Data.csv: Cobalt, Mine production, "
        "cobalt content, estimated (cobalt content)"
    )
    # "Copper " (trailing blank), thousand metric tons -> t; PROD_EST_ column -> estimated
    chl = _row(p, mineral="copper", stage="mining", country="CHL", year=2023)
    assert chl["quantity"] == 5250000.0
    assert not chl["estimated"]
    assert _row(p, mineral="copper", stage="mining", country="CHL", year=2024)["estimated"]
    # "Russia " with "estimated 2023" in PROD_NOTES
    assert _row(p, mineral="copper", stage="mining", country="RUS", year=2023)["estimated"]
    assert (
        _row(p, mineral="copper", stage="refining", country="CHN", year=2024)["quantity"]
        == 12000000.0
    )
    # aluminium smelters make primary metal: refining
    alu = _row(p, mineral="aluminium", country="CHN", year=2023)
    assert (alu["stage"], alu["quantity"]) == ("refining", 41600000.0)
    # misspelt "Ferosilicon" and "Graphite" (chapter GRAPHITE (NATURAL))
    assert _row(p, mineral="ferrosilicon", country="CHN", year=2023)["quantity"] == 3640000.0
    assert _row(p, mineral="natural_graphite", country="CHN", year=2024)["quantity"] == 1270000.0
    # "Estimated based on reported import data": both years; a quota note: not estimated
    assert _row(p, mineral="rare_earths", country="MMR", year=2023)["estimated"]
    assert not _row(p, mineral="rare_earths", country="CHN", year=2023)["estimated"]


def test_2025_empty_cells_and_marks(r2025: ImportResult) -> None:
    p = r2025.production
    # empty without a mark: the release's "—" (MCS 2026 prints — for Germany)
    deu = _row(p, mineral="copper", stage="mining", country="DEU", year=2024)
    assert (deu["quantity"], deu["flag"]) == (0.0, "")
    assert _row(p, mineral="lithium", country="XOT", year=2023)["quantity"] == 0.0
    # "W for 23-24"
    for year in (2023, 2024):
        usa = _row(p, mineral="lithium", country="USA", year=year)
        assert math.isnan(usa["quantity"])
        assert usa["flag"] == "W"
    # "na for 2023": only 2023 is not available
    assert _row(p, mineral="mercury", country="PER", year=2023)["flag"] == "NA"
    assert _row(p, mineral="mercury", country="PER", year=2024)["quantity"] == 30.0
    assert not (p["quantity"].isna() & (p["flag"] == "")).any()
    assert (
        "MCS2025_World_Data.csv: 4 empty production cells without a mark in PROD_NOTES were "
        "read as zero (this file writes the release's '—' as an empty cell)"
    ) in r2025.notes


def test_2025_titanium_unit_erratum_and_included_rutile(r2025: ImportResult) -> None:
    p = r2025.production
    # 400 + 200 "metric tons" are kt of TiO2 (MCS 2024: 600,000 t for 2023)
    assert _row(p, mineral="titanium", country="AUS", year=2023)["quantity"] == 600000.0
    # rutile "included with ilmenite": ilmenite only, no flag
    usa = _row(p, mineral="titanium", country="USA", year=2023)
    assert (usa["quantity"], usa["flag"]) == (100000.0, "")
    # the Sierra Leone row has no UNIT_MEAS: the series' unit applies
    assert _row(p, mineral="titanium", country="SLE", year=2023)["quantity"] == 110000.0
    assert any(
        "Titanium Mineral Concentrates" in n
        and "UNIT_MEAS says metric tons, but the figures are in thousand metric tons" in n
        for n in r2025.notes
    )


def test_2025_skips_and_world_totals(r2025: ImportResult) -> None:
    text = "\n".join(r2025.skipped)
    assert (
        "Gemanium / Primary and secondary refinery production: not imported, no production "
        "figures (every PROD_2023/PROD_EST_ 2024 cell is empty) (2 rows)"
    ) in text
    assert "Abrasives / Plant capacity, fused aluminum oxide: not imported" in text
    assert "capacity (CAP_*) and reserves (RESERVES_*) columns" in text
    assert _row(r2025.world_totals, mineral="copper", year=2023)["quantity"] == 22600000.0
    # the fixture lists 3 of the copper countries: 1,130 + 5,250 + 890 kt
    assert any("copper mining 2023" in n and "7,270,000 t" in n for n in r2025.notes)
    assert r2025.unmatched_countries == []
    assert r2025.import_reliance.empty


def test_2025_dispatch_and_validation(tmp_path: Path) -> None:
    assert read_usgs_mcs(CSV2025).release == 2025
    assert read_usgs_mcs(FIX / "mcs2025").release == 2025
    renamed = tmp_path / "world.csv"  # the header tells the layout
    renamed.write_bytes(CSV2025.read_bytes())
    moved = read_usgs_mcs(renamed)
    assert moved.release == 2025  # from the SOURCE column
    pd.testing.assert_frame_equal(
        moved.production.drop(columns="source"),
        read_usgs_mcs(CSV2025).production.drop(columns="source"),
    )
    path = write_table(read_usgs_mcs(CSV2025).production, tmp_path, "production")
    _, problems = read_table(path, PRODUCTION)
    assert problems == []


@pytest.mark.parametrize(
    ("note", "flags"),
    [
        ("W for 23-24", {2023: "W", 2024: "W"}),
        ("NA", {2023: "NA", 2024: "NA"}),
        ("na for 2023", {2023: "NA", 2024: ""}),
        ("xx", {2023: "XX", 2024: "XX"}),
        ("Less than 1/2 unit", {2023: "s", 2024: "s"}),
        ("", {2023: "", 2024: ""}),
    ],
)
def test_2025_notes_mark_empty_cells(tmp_path: Path, note: str, flags: dict[int, str]) -> None:
    path = tmp_path / "MCS2025_World_Data.csv"
    header = "SOURCE,COMMODITY,COUNTRY,TYPE,UNIT_MEAS,PROD_2023,PROD_EST_ 2024,PROD_NOTES"
    series = '"Mine production, cobalt content",metric tons'
    path.write_text(
        f"{header}\nMCS2025,Cobalt,United States,{series},,,{note}\n"
        f"MCS2025,Cobalt,Canada ,{series},4220,4500,\n",
        encoding="utf-8-sig",
    )
    p = read_usgs_mcs(path).production
    for year, flag in flags.items():
        usa = _row(p, country="USA", year=year)
        assert usa["flag"] == flag
        assert math.isnan(usa["quantity"]) if flag else usa["quantity"] == 0.0


def test_2025_wrong_header_lists_expected_columns(tmp_path: Path) -> None:
    bad = tmp_path / "MCS2025_World_Data.csv"
    bad.write_text("SOURCE,COMMODITY,NATION,TYPE,UNIT_MEAS,AMOUNT\n", encoding="utf-8-sig")
    with pytest.raises(DataError) as err:
        read_mcs_world_table(bad)
    msg = str(err.value)
    assert "MCS2025_World_Data.csv: not a USGS MCS world table; missing column(s) COUNTRY, " in msg
    assert "PROD_<year>" in msg
    assert "expected columns: SOURCE, COMMODITY, COUNTRY, TYPE, UNIT_MEAS, PROD_2023" in msg
    with pytest.raises(DataError, match=r"does not exist.*MCS2025_World_Data\.csv"):
        read_mcs_world_table(tmp_path / "missing.csv")


# ---------------------------------------------------------------------------
# Precedence between releases
# ---------------------------------------------------------------------------


def test_release_of_reads_the_source() -> None:
    assert release_of("USGS MCS 2026 data release (doi:10.5066/P1WKQ63T); Cobalt") == Release(
        "USGS MCS", 2026
    )
    assert release_of(
        "USGS MCS 2024 data release; world/mcs2024-timin_world.csv: a + USGS MCS 2024 ..."
    ) == Release("USGS MCS", 2024)
    assert release_of("IEA (2024), Critical Minerals Data Explorer, IEA, Paris") == Release(
        "IEA", 2024
    )
    assert release_of(
        "IEA Global Critical Minerals Outlook 2025, share of refined output 2024 (78%)"
    ) == Release("IEA", 2025)
    assert release_of(
        "USGS Mineral Commodity Summaries 2026 data release (doi:10.5066/P1WKQ63T)"
    ) == Release("USGS MCS", 2026)
    assert release_of("U.S. Geological Survey, Mineral Commodity Summaries 2025") == Release(
        "USGS MCS", 2025
    )
    assert release_of("riskengine test (synthetic)") is None


def test_combine_releases_counts_what_each_newer_release_replaced() -> None:
    r23, r24 = read_usgs_mcs(FIX / "mcs2023"), read_usgs_mcs(FIX / "mcs2024")
    r25, r26 = read_usgs_mcs(CSV2025), read_usgs_mcs(CSV2026)
    c = combine_releases([r26, r23, r25, r24])
    # 2023 tables in both MCS 2024 and MCS 2025: cobalt mining (COD, NCL, USA, XOT),
    # copper mining (CHL, RUS, XOT), copper refining (CHL, CHN, XOT), rare earths
    # (CHN, MMR, XOT), titanium (AUS, USA): 15 rows of MCS 2024
    assert [r.message() for r in c.replaced] == [
        "replaced 3 figures of MCS 2023 with MCS 2024 (newer release)",
        "replaced 15 figures of MCS 2024 with MCS 2025 (newer release)",
        "replaced 4 figures of MCS 2025 with MCS 2026 (newer release)",
    ]
    p = c.production
    cobalt_2023 = p[(p["mineral"] == "cobalt") & (p["year"] == 2023)]
    assert set(cobalt_2023["country"]) == {"COD", "IDN", "USA", "XOT"}
    # New Caledonia (MCS 2024, 2023) is not in MCS 2025's table: dropped with it, as
    # MCS 2025 counts it among "Other countries"
    assert cobalt_2023["source"].str.startswith("USGS MCS 2025").all()
    assert _row(p, mineral="cobalt", country="COD", year=2023)["quantity"] == 175000.0
    assert _row(p, mineral="cobalt", country="COD", year=2024)["quantity"] == 226000.0
    # tables only the older release has stay
    assert _row(p, mineral="gallium", country="CHN", year=2023)["source"].startswith(
        "USGS MCS 2024"
    )


def _frame(source: str, rows: list[tuple[str, int, float]]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"mineral": "cobalt", "stage": "mining", "country": c, "year": y, "quantity": q}
            for c, y, q in rows
        ]
    ).assign(unit="t", source=source)


def test_merge_production_both_ways() -> None:
    old = _frame("USGS MCS 2024 data release", [("COD", 2023, 170.0), ("NCL", 2023, 3.0)])
    new = _frame("USGS MCS 2025 data release", [("COD", 2023, 175.0), ("XOT", 2023, 6.0)])
    forward = merge_production(old, new)
    assert forward.table.set_index("country")["quantity"].to_dict() == {"COD": 175.0, "XOT": 6.0}
    assert forward.replacements == (
        Replacement(Release("USGS MCS", 2025), Release("USGS MCS", 2024), 2, True, False),
    )
    backward = merge_production(new, old)
    assert backward.table.set_index("country")["quantity"].to_dict() == {"COD": 175.0, "XOT": 6.0}
    assert [r.message() for r in backward.replacements] == [
        "kept MCS 2025 (newer release): 2 figures of MCS 2024 for the same tables were not written"
    ]
    # the same release again: replaced, nothing to report
    again = merge_production(new, new.assign(quantity=[176.0, 6.0]))
    assert again.table["quantity"].tolist() == [176.0, 6.0]
    assert again.replacements == ()
    # a user's own rows: row by row, the import wins
    own = _frame("company report", [("COD", 2023, 1.0), ("COD", 2022, 2.0)])
    mixed = merge_production(pd.concat([old, own.assign(mineral="zinc")]), new)
    assert set(mixed.table["mineral"]) == {"cobalt", "zinc"}  # a table of own rows only
    assert len(mixed.replacements) == 1
    mixed = merge_production(old, own)
    rows = mixed.table[["country", "year", "quantity"]].itertuples(index=False, name=None)
    assert sorted(rows) == [
        ("COD", 2022, 2.0),
        ("COD", 2023, 1.0),
        ("NCL", 2023, 3.0),
    ]


def test_cli_import_reports_replaced_figures_both_ways(tmp_path: Path, capsys) -> None:
    forward = tmp_path / "forward"
    assert main(["data", "import", "usgs-mcs", str(FIX / "mcs2024"), "--into", str(forward)]) == 0
    capsys.readouterr()
    assert main(["data", "import", "usgs-mcs", str(CSV2025), "--into", str(forward)]) == 0
    err = capsys.readouterr().err
    assert "production: replaced 15 figures of MCS 2024 with MCS 2025 (newer release)" in err
    backward = tmp_path / "backward"
    assert main(["data", "import", "usgs-mcs", str(CSV2025), "--into", str(backward)]) == 0
    capsys.readouterr()
    assert main(["data", "import", "usgs-mcs", str(FIX / "mcs2024"), "--into", str(backward)]) == 0
    err = capsys.readouterr().err
    assert (
        "production: kept MCS 2025 (newer release): 15 figures of MCS 2024 for the same tables "
        "were not written"
    ) in err
    for directory in (forward, backward):
        prod = pd.read_csv(directory / "production.csv")
        y2023 = prod[prod["year"] == 2023]
        mcs2025 = {"cobalt", "copper", "rare_earths", "titanium"}
        assert y2023[y2023["mineral"].isin(mcs2025)]["source"].str.startswith("USGS MCS 2025").all()
        cod = prod[(prod["mineral"] == "cobalt") & (prod["country"] == "COD")]
        assert cod.set_index("year")["quantity"].to_dict() == {
            2022: 144000.0,
            2023: 175000.0,
            2024: 220000.0,
        }
    forward_rows = pd.read_csv(forward / "production.csv").sort_values(
        ["mineral", "stage", "country", "year"]
    )
    backward_rows = pd.read_csv(backward / "production.csv").sort_values(
        ["mineral", "stage", "country", "year"]
    )
    pd.testing.assert_frame_equal(
        forward_rows.reset_index(drop=True), backward_rows.reset_index(drop=True)
    )


# ---------------------------------------------------------------------------
# Errors and unmatched names
# ---------------------------------------------------------------------------


def test_missing_paths_raise_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"does not exist.*MCS2026_Commodities_Data\.csv"):
        read_usgs_mcs(tmp_path / "nothing.csv")
    with pytest.raises(DataError, match="does not exist"):
        read_mcs_commodities(tmp_path / "nothing.csv")
    with pytest.raises(DataError, match="does not exist"):
        read_mcs_world_dir(tmp_path / "missing_dir")
    with pytest.raises(DataError, match="holds no USGS MCS world tables"):
        read_mcs_world_dir(tmp_path)


def test_wrong_header_lists_expected_columns(tmp_path: Path) -> None:
    bad = tmp_path / "MCS2026_Commodities_Data.csv"
    bad.write_text("Chapter,Country,Value\nCOBALT,China,1\n", encoding="utf-8")
    with pytest.raises(DataError) as err:
        read_mcs_commodities(bad)
    msg = str(err.value)
    assert "missing column(s) MCS chapter, Section, Commodity" in msg
    assert "expected columns: MCS chapter, Section, Commodity, Country, Statistics" in msg

    world = tmp_path / "rel" / "world"
    world.mkdir(parents=True)
    (world / "mcs2024-cobal_world.csv").write_text("Source,Nation,Amount\nMCS2024,China,1\n")
    with pytest.raises(DataError, match=r"mcs2024-cobal_world.csv: unexpected header.*Prod_"):
        read_mcs_world_dir(tmp_path / "rel")


def test_unmatched_country_is_reported_not_merged(tmp_path: Path) -> None:
    world = tmp_path / "rel" / "world"
    world.mkdir(parents=True)
    (world / "mcs2024-lithi_world.csv").write_text(
        "\ufeffSource,Country,Type,Prod_t_2022,Prod_t_est_2023,Prod_notes\n"
        'MCS2024,Atlantis,"Mine production, lithium content",100,200,\n'
        'MCS2024,Chile,"Mine production, lithium content",38000,44000,\n'
        'MCS2024,Other countries,"Mine production, lithium content",0,0,\n',
        encoding="utf-8",
    )
    (world / "mcs2024-gemst_world.csv").write_text(
        "Source,Country,Type,Prod_kct_2022,Prod_kct_est_2023\n"
        "MCS2024,Botswana,Mine production,17000,17000\n",
        encoding="utf-8",
    )
    with pytest.warns(UnmatchedCountryWarning, match="Atlantis"):
        r = read_mcs_world_dir(tmp_path / "rel")
    assert r.unmatched_countries == ["Atlantis"]
    p = r.production
    assert set(p["country"]) == {"CHL", "XOT"}
    assert _row(p, country="XOT", year=2023)["quantity"] == 0.0


def test_non_mass_unit_is_skipped_with_reason(tmp_path: Path) -> None:
    world = tmp_path / "world"
    world.mkdir()
    (world / "mcs2024-lithi_world.csv").write_text(
        "Source,Country,Type,Prod_mcm_2022,Prod_t_2023\n"
        'MCS2024,Chile,"Mine production, lithium content",5,44000\n',
        encoding="utf-8",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = read_mcs_world_dir(world)
    assert "million cubic metres is not a mass" in "\n".join(r.skipped)
    assert list(r.production["year"]) == [2023]


def test_heavy_rare_earths_and_yttrium_count_as_rare_earth_compounds() -> None:
    from riskengine.io.usgs_commodities import trade_mapping

    index = chapter_index()
    heavy = index["RARE EARTHS (HEAVY)"]
    assert trade_mapping(heavy, "Rare Earths (Heavy)", "compounds and metals") == (
        "rare_earths",
        "refining",
    )
    assert trade_mapping(index["YTTRIUM"], "Yttrium", "") == ("rare_earths", "refining")
    # scandium is not a rare earth in the USGS counts: it stays a mineral of its own
    assert trade_mapping(index["SCANDIUM"], "Scandium", "") == ("scandium", "refining")


def test_2023_chromium_unit_erratum(tmp_path: Path) -> None:
    # MCS 2023's chromium file: columns Prod_t_, notes "thousand metric tons"
    world = tmp_path / "world"
    world.mkdir()
    note = "Units are thousand metric tons, gross weight, of marketable chromite ore."
    (world / "mcs2023-chrom_world.csv").write_text(
        "Source,Country,Type,Prod_t_2021,Prod_t_est_2022,Prod_notes\n"
        f'MCS2023,Kazakhstan,"Mine production, marketable chromite ore",6500,6500,"{note}"\n'
        f'MCS2023,World total (rounded),"Mine production, marketable chromite ore",'
        f'42200,41000,"{note}"\n',
        encoding="utf-8",
    )
    r = read_mcs_world_dir(world)
    p = r.production
    assert _row(p, country="KAZ", year=2021)["quantity"] == 6_500_000.0
    assert _row(p, country="KAZ", year=2022)["quantity"] == 6_500_000.0
    assert p["source"].str.contains("[unit corrected: ", regex=False).all()
    assert any("read as kt (unit corrected" in n for n in r.notes)
    # the same columns in another file are read as written
    (world / "mcs2023-chrom_world.csv").rename(world / "mcs2024-chrom_world.csv")
    r = read_mcs_world_dir(world)
    assert _row(r.production, country="KAZ", year=2021)["quantity"] == 6500.0
    assert not any("unit corrected" in n for n in r.notes)


# ---------------------------------------------------------------------------
# Real releases (../shared/data)
# ---------------------------------------------------------------------------

shared = pytest.mark.shared_data
needs_shared = pytest.mark.skipif(
    not (SHARED / "usgs_mcs2026").is_dir(),
    reason=f"official USGS releases not found in {SHARED}",
)


@pytest.fixture(scope="module")
def real() -> dict[int, ImportResult]:
    if not (SHARED / "usgs_mcs2026").is_dir():
        pytest.skip(f"official USGS releases not found in {SHARED}")
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnmatchedCountryWarning)
        return {
            2026: read_usgs_mcs(SHARED / "usgs_mcs2026" / "MCS2026_Commodities_Data.csv"),
            2024: read_usgs_mcs(SHARED / "usgs_mcs2024"),
            2023: read_usgs_mcs(SHARED / "usgs_mcs2023"),
        }


def _share(r: ImportResult, mineral: str, stage: str, country: str, year: int) -> float:
    """Share of the listed countries (incl. XOT) that report a number."""
    p = r.production
    g = p[(p["mineral"] == mineral) & (p["stage"] == stage) & (p["year"] == year)]
    q = float(g.loc[g["country"] == country, "quantity"].iloc[0])
    return q / float(g["quantity"].sum(skipna=True))


def _world_share(r: ImportResult, mineral: str, stage: str, country: str, year: int) -> float:
    p = r.production
    q = float(_row(p, mineral=mineral, stage=stage, country=country, year=year)["quantity"])
    return q / float(_row(r.world_totals, mineral=mineral, stage=stage, year=year)["quantity"])


@shared
@needs_shared
def test_real_2026_key_figures(real: dict[int, ImportResult]) -> None:
    r = real[2026]
    p = r.production
    assert (
        _row(p, mineral="cobalt", stage="mining", country="COD", year=2025)["quantity"] == 230000.0
    )
    assert (
        _row(p, mineral="cobalt", stage="mining", country="COD", year=2024)["quantity"] == 226000.0
    )
    assert _row(r.world_totals, mineral="cobalt", stage="mining", year=2025)["quantity"] == 310000.0
    # docs/methods.md, USGS MCS 2026, 2025: share of the listed countries and
    # share of the published (rounded) world total
    assert _share(r, "cobalt", "mining", "COD", 2025) == pytest.approx(0.7311, abs=5e-4)
    assert _world_share(r, "cobalt", "mining", "COD", 2025) == pytest.approx(0.7419, abs=5e-4)
    assert _share(r, "nickel", "mining", "IDN", 2025) == pytest.approx(0.6692, abs=5e-4)
    assert _share(r, "natural_graphite", "mining", "CHN", 2025) == pytest.approx(0.7987, abs=5e-4)
    assert _world_share(r, "natural_graphite", "mining", "CHN", 2025) == pytest.approx(
        0.7778, abs=5e-4
    )
    assert _share(r, "rare_earths", "mining", "CHN", 2025) == pytest.approx(0.6935, abs=5e-4)
    # US lithium is withheld (W): share of the countries that report
    assert _row(p, mineral="lithium", stage="mining", country="USA", year=2025)["flag"] == "W"
    assert _share(r, "lithium", "mining", "AUS", 2025) == pytest.approx(0.3190, abs=5e-4)
    assert _share(r, "copper", "mining", "CHL", 2025) == pytest.approx(0.2303, abs=5e-4)
    assert _share(r, "copper", "refining", "CHN", 2025) == pytest.approx(0.4833, abs=5e-4)
    assert (
        _row(p, mineral="gallium", stage="refining", country="CHN", year=2025)["quantity"] == 900.0
    )
    assert _share(r, "gallium", "refining", "CHN", 2025) == pytest.approx(0.9901, abs=5e-4)
    nir = r.import_reliance
    assert _row(nir, mineral="cobalt", year=2025)["net_import_reliance"] == pytest.approx(0.79)
    assert _row(nir, mineral="gallium", year=2025)["net_import_reliance"] == pytest.approx(1.0)
    assert _row(nir, mineral="iron_ore", year=2025)["flag"] == "E"


@shared
@needs_shared
def test_real_releases_map_every_country(real: dict[int, ImportResult]) -> None:
    for r in real.values():
        assert r.unmatched_countries == []
        assert not r.production.duplicated(["mineral", "stage", "country", "year"]).any()
        assert not (r.production["quantity"].isna() & (r.production["flag"] == "")).any()


@shared
@needs_shared
def test_real_coverage_and_world_totals(real: dict[int, ImportResult]) -> None:
    c = combine_releases(real.values())
    p = c.production
    for year in (2024, 2025):
        minerals = set(p.loc[p["year"] == year, "mineral"])
        assert len(minerals) >= 60
        for m in (
            "cobalt",
            "lithium",
            "nickel",
            "natural_graphite",
            "rare_earths",
            "gallium",
            "antimony",
            "tungsten",
            "manganese",
            "platinum",
            "palladium",
            "titanium",
        ):
            assert m in minerals
    refining = set(p.loc[(p["year"] == 2025) & (p["stage"] == "refining"), "mineral"])
    assert {"copper", "aluminium", "gallium", "magnesium", "silicon", "titanium"} <= refining
    assert set(p["year"]) == {2021, 2022, 2023, 2024, 2025}
    # 2022 comes from MCS 2024 (revised), 2021 from MCS 2023
    assert (
        _row(p, mineral="cobalt", stage="mining", country="COD", year=2022)["quantity"] == 144000.0
    )
    # every release adds up within rounding except the known gap of MCS 2024 zeolites 2022;
    # the other note is MCS 2023's chromium unit erratum
    assert c.notes == [
        n for n in c.notes if "zeolites mining 2022" in n or "mcs2023-chrom_world.csv" in n
    ]
    assert sum("unit corrected" in n for n in c.notes) == 1
    chromium = _row(p, mineral="chromium", stage="mining", country="KAZ", year=2021)
    assert chromium["quantity"] == 6_500_000.0  # "6500" in thousand metric tons
    assert "[unit corrected: " in chromium["source"]


@shared
@needs_shared
def test_real_2026_reads_fast() -> None:
    path = SHARED / "usgs_mcs2026" / "MCS2026_Commodities_Data.csv"
    read_usgs_mcs(path)  # warm the country lookup caches
    start = time.perf_counter()
    read_usgs_mcs(path)
    assert time.perf_counter() - start < 1.0


@shared
@needs_shared
def test_real_2026_us_imports_join_their_sources(real: dict[int, ImportResult]) -> None:
    imports = real[2026].us_imports.set_index(["product", "year"])
    # Gallium metal, 2024: 11,000 kg; antimony oxide 2024: 24,000 t (salient statistics)
    assert imports.loc[("Gallium: Metal", 2024), "quantity"] == pytest.approx(11.0)
    assert imports.loc[("Antimony: Oxide", 2024), "quantity"] == pytest.approx(24_000.0)
    assert (imports["country"] == "USA").all()
    joined = set(imports.index.get_level_values(0)) & set(real[2026].import_sources["product"])
    assert {"Gallium: Metal", "Antimony: Oxide", "Germanium: Germanium metal"} <= joined


@pytest.fixture(scope="module")
def real2025() -> ImportResult:
    path = SHARED / "usgs_mcs2025" / "MCS2025_World_Data.csv"
    if not path.is_file():
        pytest.skip(f"official USGS MCS 2025 world table not found in {SHARED}")
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnmatchedCountryWarning)
        return read_usgs_mcs(path)


@shared
def test_real_2025_key_figures(real2025: ImportResult) -> None:
    p = real2025.production
    assert real2025.release == 2025
    assert real2025.unmatched_countries == []
    assert not p.duplicated(["mineral", "stage", "country", "year"]).any()
    assert not (p["quantity"].isna() & (p["flag"] == "")).any()
    # MCS 2025, Cobalt: DR Congo 2023 mine production 175,000 t (cobalt content)
    cod = _row(p, mineral="cobalt", stage="mining", country="COD", year=2023)
    assert cod["quantity"] == 175000.0
    # MCS 2025, Copper: Chile 2023 mine production 5,250 kt (recoverable copper)
    assert _row(p, mineral="copper", stage="mining", country="CHL", year=2023)["quantity"] == (
        5250000.0
    )
    assert _row(p, mineral="copper", stage="refining", country="CHN", year=2024)["quantity"] == (
        12000000.0
    )
    assert _row(p, mineral="lithium", stage="mining", country="USA", year=2024)["flag"] == "W"
    assert _world_share(real2025, "cobalt", "mining", "COD", 2024) == pytest.approx(220000 / 290000)
    # units corrected: Australia's ilmenite and rutile 2024, 400 + 200 kt TiO2
    assert _row(p, mineral="titanium", stage="mining", country="AUS", year=2024)["quantity"] == (
        600000.0
    )
    assert _row(p, mineral="silica_sand", country="USA", year=2023)["quantity"] == 133e6
    # germanium: the file gives no figures
    assert "germanium" not in set(p["mineral"])
    assert {"cobalt", "lithium", "nickel", "natural_graphite", "rare_earths", "gallium"} <= set(
        p["mineral"]
    )
    # the only listed-vs-world-total gaps the check reports
    gaps = [n for n in real2025.notes if "world total is" in n]
    assert gaps == []


@shared
def test_real_releases_combine_newest_first(
    real: dict[int, ImportResult], real2025: ImportResult
) -> None:
    c = combine_releases([*real.values(), real2025])
    assert [r.message() for r in c.replaced] == [
        "replaced 776 figures of MCS 2023 with MCS 2024 (newer release)",
        "replaced 806 figures of MCS 2024 with MCS 2025 (newer release)",
        "replaced 807 figures of MCS 2025 with MCS 2026 (newer release)",
    ]
    p = c.production
    assert not p.duplicated(["mineral", "stage", "country", "year"]).any()
    assert set(p["year"]) == {2021, 2022, 2023, 2024, 2025}
    # 2023 now from MCS 2025 (revised: MCS 2024 gave 170,000 t)
    assert _row(p, mineral="cobalt", stage="mining", country="COD", year=2023)["quantity"] == (
        175000.0
    )
    # MCS 2025 lists New Caledonia's cobalt for 2024 (1,500 t); MCS 2026 counts it in
    # "Other countries": the old row goes with the old table, not counted twice
    assert not ((p["mineral"] == "cobalt") & (p["country"] == "NCL") & (p["year"] == 2024)).any()
    assert (
        _row(p, mineral="cobalt", stage="mining", country="COD", year=2024)["quantity"] == 226000.0
    )
