"""The canonical table format: schemas, lazy validation, units, gzip, and the format doc."""

from __future__ import annotations

import gzip
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from riskengine.errors import DataError
from riskengine.io.canonical import (
    GOVERNANCE,
    MINERALS,
    PRODUCTION,
    SCHEMAS,
    TRADE,
    UNIT_TO_TONNES,
    find_table,
    read_table,
    read_tables,
    validate_table,
    write_table,
)

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "tests" / "fixtures" / "tiny"
DOC = ROOT / "docs" / "data-format.md"

SRC = "USGS Mineral Commodity Summaries 2026 data release (doi:10.5066/P1WKQ63T)"
PROD_HEADER = "mineral,stage,country,year,quantity,unit,source,flag"
GOOD_ROW = {
    "mineral": "copper",
    "stage": "mining",
    "country": "CHL",
    "year": "2024",
    "quantity": "5300",
    "unit": "t",
    "source": SRC,
    "flag": "",
}


def write(directory: Path, name: str, header: str, *rows: str) -> Path:
    """Write ``<name>.csv`` with a header and rows (lines 2, 3, ...)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.csv"
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def prod_row(**changes: str) -> str:
    cells = {**GOOD_ROW, **changes}
    return ",".join(cells[c] for c in PROD_HEADER.split(","))


def problems_of(directory: Path) -> list[str]:
    with pytest.raises(DataError) as info:
        read_tables(directory)
    return info.value.problems


def line_of(problem: str) -> int:
    match = re.search(r"line (\d+)", problem)
    assert match, problem
    return int(match.group(1))


# ------------------------------------------------------------------ the tiny fixture


def test_tiny_fixture_is_valid_and_typed() -> None:
    tables = read_tables(TINY)
    assert set(tables) == {"production", "trade", "governance", "minerals"}
    prod = tables["production"]
    assert list(prod.columns) == PRODUCTION.column_names[:-1]  # all but 'product' (optional)
    assert len(prod) == 15
    assert pd.api.types.is_float_dtype(prod["quantity"])
    assert pd.api.types.is_integer_dtype(prod["year"])
    assert (prod["unit"] == "t").all()
    # the fixture writes Chile's 2024 copper as 4.5 kt
    chl = prod[(prod["country"] == "CHL") & (prod["year"] == 2024)]
    assert chl["quantity"].tolist() == [4500.0]
    # only the two "other countries" rows are marked as estimates
    assert sorted(prod.loc[prod["estimated"], "country"]) == ["XOT", "XOT"]
    trade = tables["trade"]
    per_chn = trade[(trade["exporter"] == "PER") & (trade["year"] == 2024)]
    assert per_chn[["importer", "quantity", "value_usd"]].to_numpy().tolist() == [
        ["CHN", 1800.0, 86_400_000.0],
        ["JPN", 600.0, 28_800_000.0],
    ]
    gov = tables["governance"]
    assert len(gov) == 9 * 6  # 8 countries in 2023 and Japan in 2021, six indicators each
    assert gov.loc[(gov["country"] == "AUS") & (gov["indicator"] == "RL"), "value"].item() == 1.125
    minerals = tables["minerals"]
    cobalt = minerals.set_index("mineral").loc["cobalt"]
    assert (cobalt["eol_rir"], cobalt["substitution_index"]) == (0.22, 0.98)
    assert np.isnan(minerals.set_index("mineral").loc["copper", "eol_rir"])


def test_schemas_declare_the_canonical_tables() -> None:
    assert list(SCHEMAS)[:4] == ["production", "trade", "governance", "minerals"]
    assert PRODUCTION.required_file
    assert not TRADE.required_file
    assert PRODUCTION.key == ("mineral", "stage", "country", "year")
    assert TRADE.key == ("mineral", "stage", "exporter", "importer", "year", "product")
    assert GOVERNANCE.key == ("country", "year", "indicator")
    assert MINERALS.key == ("mineral",)
    assert UNIT_TO_TONNES == {"t": 1.0, "kg": 1e-3, "kt": 1e3, "Mt": 1e6}


# ------------------------------------------------------------------ units and gzip


@pytest.mark.parametrize(
    ("quantity", "unit", "tonnes"),
    [("42", "t", 42.0), ("1500", "kg", 1.5), ("2.5", "kt", 2500.0), ("0.25", "Mt", 250_000.0)],
)
def test_units_are_converted_to_tonnes(
    tmp_path: Path, quantity: str, unit: str, tonnes: float
) -> None:
    write(tmp_path, "production", PROD_HEADER, prod_row(quantity=quantity, unit=unit))
    prod = read_tables(tmp_path)["production"]
    assert prod["quantity"].item() == pytest.approx(tonnes, rel=1e-12)
    assert prod["unit"].item() == "t"


def test_mixed_units_in_one_file(tmp_path: Path) -> None:
    write(
        tmp_path,
        "production",
        PROD_HEADER,
        prod_row(country="CHL", quantity="5.3", unit="kt"),
        prod_row(country="PER", quantity="2600000", unit="kg"),
        prod_row(country="CHN", quantity="1700", unit="t"),
    )
    prod = read_tables(tmp_path)["production"].set_index("country")
    assert prod["quantity"].to_dict() == pytest.approx(
        {"CHL": 5300.0, "PER": 2600.0, "CHN": 1700.0}
    )


def test_gzip_tables_read_like_plain_ones(tmp_path: Path) -> None:
    for name in ("production", "trade", "governance", "minerals"):
        with gzip.open(tmp_path / f"{name}.csv.gz", "wb") as out:
            out.write((TINY / f"{name}.csv").read_bytes())
    assert find_table(tmp_path, "production") == tmp_path / "production.csv.gz"
    packed, plain = read_tables(tmp_path), read_tables(TINY)
    for name in plain:
        pd.testing.assert_frame_equal(packed[name], plain[name])


def test_plain_csv_wins_over_gzip(tmp_path: Path) -> None:
    write(tmp_path, "production", PROD_HEADER, prod_row(quantity="1"))
    with gzip.open(tmp_path / "production.csv.gz", "wt") as out:
        out.write(PROD_HEADER + "\n" + prod_row(quantity="2") + "\n")
    assert read_tables(tmp_path)["production"]["quantity"].item() == 1.0


def test_write_table_round_trips_sorted_and_compressed(tmp_path: Path) -> None:
    prod = read_tables(TINY)["production"]
    shuffled = prod.sample(frac=1.0, random_state=3)[list(reversed(prod.columns))]
    path = write_table(shuffled, tmp_path, "production", compress=True)
    assert path.name == "production.csv.gz"
    with gzip.open(path, "rt") as packed:
        header = packed.readline().strip()
    assert header.split(",") == PRODUCTION.column_names[:-1]
    back, problems = read_table(path, PRODUCTION)
    assert problems == []
    expected = prod.sort_values(list(PRODUCTION.key), kind="stable").reset_index(drop=True)
    pd.testing.assert_frame_equal(back, expected)


# -------------------------------------------------------------- lazy validation


def test_every_failing_row_is_reported_at_once(tmp_path: Path) -> None:
    write(
        tmp_path,
        "production",
        PROD_HEADER,
        prod_row(country="CHL"),
        prod_row(country="PER", quantity="-1"),
        prod_row(country="CHN"),
        prod_row(country="JPN", quantity="abc"),
        prod_row(country="AUS", quantity="-7"),
    )
    with pytest.raises(DataError) as info:
        read_tables(tmp_path)
    assert len(info.value.problems) == 3
    assert sorted(map(line_of, info.value.problems)) == [3, 5, 6]
    assert f"the dataset in {tmp_path} has 3 problem(s):" in str(info.value)


def test_problems_of_every_file_are_reported_together(tmp_path: Path) -> None:
    write(tmp_path, "production", PROD_HEADER, prod_row(stage="smelting"))
    write(
        tmp_path,
        "trade",
        "mineral,stage,exporter,importer,year,quantity,value_usd,source",
        "copper,mining,PER,China,2024,1800,86400000,BACI",
    )
    write(tmp_path, "governance", "country,year,indicator,value", "PER,2023,PS,-0.4")
    write(tmp_path, "minerals", "mineral,name,eol_rir", "copper,Copper,22")
    problems = problems_of(tmp_path)
    files = sorted(p.split(" ")[0] for p in problems)
    assert files == ["governance.csv", "minerals.csv", "production.csv", "trade.csv"]


BAD_CELLS = [
    # column, value, fragments of the one message expected
    ("quantity", "-5", [r"expected a value at least 0, got -5\b", r"write a number >= 0"]),
    ("quantity", "nan", [r"expected a number, got 'nan'", r"leave it empty and give the reason"]),
    ("quantity", "NaN", [r"expected a number, got 'NaN'"]),
    ("quantity", "NA", [r"expected a number, got 'NA'"]),
    ("quantity", "inf", [r"expected a number, got 'inf'"]),
    ("quantity", "12 t", [r"expected a number, got '12 t'"]),
    ("quantity", "", [r"empty without a reason", r"source's mark \(W, NA, \.\.\.\) in 'flag'"]),
    ("country", "XXX", [r"unknown value 'XXX'", r"ISO 3166-1 alpha-3 code"]),
    ("country", "Chile", [r"unknown value 'Chile'", r"XOT for 'other countries'"]),
    (
        "stage",
        "smelting",
        [r"unknown value 'smelting'", r"use 'mining', 'intermediate', 'refining' or 'component'"],
    ),
    ("mineral", "Cobalt", [r"'Cobalt' is not a valid id", r"lower-snake-case id"]),
    ("mineral", "rare-earths", [r"'rare-earths' is not a valid id"]),
    ("mineral", "", [r"empty cell; expected Mineral id"]),
    ("year", "20x4", [r"expected a number, got '20x4'", r"write a four-digit year"]),
    ("year", "2024.5", [r"expected a whole number, got '2024.5'"]),
    ("year", "1850", [r"expected a value at least 1900, got 1850\b"]),
    ("year", "", [r"empty cell; expected Calendar year"]),
    ("unit", "lb", [r"unknown value 'lb'", r"convert to one of t, kg, kt, Mt"]),
    ("source", "", [r"empty cell; expected Publication", r"name the publication"]),
]


@pytest.mark.parametrize(("column", "value", "fragments"), BAD_CELLS)
def test_bad_cell_is_reported_with_file_line_column_value_and_fix(
    tmp_path: Path, column: str, value: str, fragments: list[str]
) -> None:
    bad = prod_row(**{"country": "PER", column: value})
    write(tmp_path, "production", PROD_HEADER, prod_row(), bad)
    problems = problems_of(tmp_path)
    assert len(problems) == 1, problems
    message = problems[0]
    assert message.startswith(f"production.csv line 3, column '{column}': "), message
    for fragment in fragments:
        assert re.search(fragment, message), (fragment, message)


def test_empty_quantity_with_a_flag_is_missing_not_zero(tmp_path: Path) -> None:
    write(
        tmp_path,
        "production",
        PROD_HEADER,
        prod_row(),
        prod_row(country="USA", quantity="", flag="W"),
    )
    prod = read_tables(tmp_path)["production"].set_index("country")
    assert prod.loc["CHL", "quantity"] == 5300.0
    assert np.isnan(prod.loc["USA", "quantity"])
    assert prod.loc["USA", "flag"] == "W"


def test_unexplained_empty_quantity_is_reported_with_the_other_problems(tmp_path: Path) -> None:
    write(
        tmp_path,
        "production",
        PROD_HEADER,
        prod_row(country="XXX"),
        prod_row(country="JPN", quantity=""),
    )
    problems = problems_of(tmp_path)
    assert sorted(map(line_of, problems)) == [2, 3]


def test_duplicate_keys_name_both_lines_and_the_key(tmp_path: Path) -> None:
    write(
        tmp_path,
        "production",
        PROD_HEADER,
        prod_row(country="CHL"),
        prod_row(country="PER"),
        prod_row(country="CHL", quantity="5000"),
    )
    (problem,) = problems_of(tmp_path)
    assert problem.startswith("production.csv lines 2, 4: duplicate rows for ")
    assert "(mineral, stage, country, year) = copper/mining/CHL/2024" in problem
    assert "keep one row per key or sum them" in problem


def test_same_key_different_stage_or_year_is_not_a_duplicate(tmp_path: Path) -> None:
    write(
        tmp_path,
        "production",
        PROD_HEADER,
        prod_row(),
        prod_row(stage="refining"),
        prod_row(year="2023"),
    )
    assert len(read_tables(tmp_path)["production"]) == 3


def test_missing_columns_are_named(tmp_path: Path) -> None:
    write(tmp_path, "production", "mineral,stage,country,year,source", "copper,mining,CHL,2024,x")
    (problem,) = problems_of(tmp_path)
    assert problem == (
        "production.csv: missing column(s) quantity, unit; the header must contain "
        "mineral, stage, country, year, quantity, unit, source"
    )


def test_optional_columns_may_be_absent_and_extra_columns_are_kept(tmp_path: Path) -> None:
    write(
        tmp_path,
        "production",
        "comment,mineral,stage,country,year,quantity,unit,source",
        "checked,copper,mining,CHL,2024,5300,t,src",
    )
    prod = read_tables(tmp_path)["production"]
    assert list(prod.columns) == [*PRODUCTION.column_names[:7], "comment"]
    assert prod["comment"].item() == "checked"


@pytest.mark.parametrize(
    ("cell", "expected"),
    [("true", True), ("TRUE", True), ("yes", True), ("1", True), ("false", False), ("", False)],
)
def test_estimated_flag_values(tmp_path: Path, cell: str, expected: bool) -> None:
    write(tmp_path, "production", PROD_HEADER + ",estimated", prod_row() + "," + cell)
    assert bool(read_tables(tmp_path)["production"]["estimated"].item()) is expected


def test_estimated_flag_rejects_other_words(tmp_path: Path) -> None:
    write(tmp_path, "production", PROD_HEADER + ",estimated", prod_row() + ",maybe")
    (problem,) = problems_of(tmp_path)
    assert (
        problem == "production.csv line 2, column 'estimated': expected true or false, got 'maybe'"
    )


def test_empty_file(tmp_path: Path) -> None:
    (tmp_path / "production.csv").write_text("")
    (problem,) = problems_of(tmp_path)
    assert problem.startswith("production.csv: the file is empty; it needs a header line (mineral,")


def test_header_only_required_table_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, "production", PROD_HEADER)
    assert problems_of(tmp_path) == [
        "production.csv: the table has a header but no rows; a dataset needs at least one "
        "production row (mineral, stage, country, year, quantity, unit, source)"
    ]


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(DataError) as info:
        read_tables(tmp_path / "nowhere")
    assert str(info.value) == (
        f"dataset directory {tmp_path / 'nowhere'} does not exist; pass a directory holding "
        f"production.csv (and optionally trade.csv, governance.csv, minerals.csv)"
    )
    assert info.value.problems == []


def test_missing_production_table(tmp_path: Path) -> None:
    shutil.copy(TINY / "trade.csv", tmp_path / "trade.csv")
    (problem,) = problems_of(tmp_path)
    assert problem.startswith(f"{tmp_path}/production.csv is missing; every dataset needs it")
    assert "(columns: mineral, stage, country, year, quantity, unit, source" in problem


def test_missing_production_and_a_bad_trade_table_are_reported_together(tmp_path: Path) -> None:
    write(
        tmp_path,
        "trade",
        "mineral,stage,exporter,importer,year,quantity,value_usd,source",
        "copper,mining,PER,CHN,2024,-1,5,BACI",
    )
    problems = problems_of(tmp_path)
    assert len(problems) == 2
    assert any("production.csv is missing" in p for p in problems)
    assert any(p.startswith("trade.csv line 2, column 'quantity'") for p in problems)


# ------------------------------------------------------------------ other tables

TABLE_CASES = [
    (
        "trade",
        "mineral,stage,exporter,importer,year,quantity,value_usd,source",
        "copper,mining,PER,CHN,2024,1800,-5,BACI",
        "value_usd",
        r"expected a value at least 0, got -5\b.*BACI's thousand-USD values times 1000",
    ),
    (
        "trade",
        "mineral,stage,exporter,importer,year,quantity,value_usd,source",
        "copper,mining,PER,PRC,2024,1800,5,BACI",
        "importer",
        r"unknown value 'PRC'",
    ),
    (
        "governance",
        "country,year,indicator,value,source",
        "PER,2023,PS,-0.4,WGI",
        "indicator",
        r"unknown value 'PS' \(use one of VA, PV, GE, RQ, RL, CC\)",
    ),
    (
        "governance",
        "country,year,indicator,value,source",
        "PER,2023,PV,7.5,WGI",
        "value",
        r"expected a value at most 5, got 7\.5 .*the EST measure",
    ),
    (
        "governance",
        "country,year,indicator,value,source",
        "PER,2023,PV,,WGI",
        "value",
        r"empty cell; expected WGI estimate",
    ),
    (
        "minerals",
        "mineral,name,eol_rir,substitution_index",
        "cobalt,Cobalt,22,0.98",
        "eol_rir",
        r"expected a value at most 1, got 22\b.*22 % -> 0\.22",
    ),
    (
        "minerals",
        "mineral,name,eol_rir,substitution_index",
        "cobalt,,0.22,0.98",
        "name",
        r"empty cell; expected Readable name",
    ),
    (
        "export_shares",
        "mineral,stage,exporter,importer,period,share,basis,source",
        "copper,mining,PER,CHN,2025-H1,74.2,value,MINEM",
        "share",
        r"expected a value at most 1, got 74\.2 .*74\.2 % -> 0\.742",
    ),
    (
        "export_shares",
        "mineral,stage,exporter,importer,period,share,basis,source",
        "copper,mining,PER,CHN,2025-H1,0.742,weight,MINEM",
        "basis",
        r"unknown value 'weight' \(use 'value' or 'quantity'\)",
    ),
]


@pytest.mark.parametrize(("table", "header", "row", "column", "pattern"), TABLE_CASES)
def test_other_tables_are_validated(
    tmp_path: Path, table: str, header: str, row: str, column: str, pattern: str
) -> None:
    path = write(tmp_path, table, header, row)
    _, problems = read_table(path, SCHEMAS[table])
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{table}.csv line 2, column '{column}': ")
    assert re.search(pattern, problems[0]), problems[0]


def test_trade_quantity_and_value_may_be_empty(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "trade",
        "mineral,stage,exporter,importer,year,quantity,value_usd,source",
        "copper,mining,PER,CHN,2024,,86400000,BACI",
        "copper,mining,PER,JPN,2024,600,,BACI",
    )
    table, problems = read_table(path, TRADE)
    assert problems == []
    assert np.isnan(table["quantity"].iloc[0])
    assert table["value_usd"].iloc[0] == 86_400_000
    assert table["quantity"].iloc[1] == 600
    assert np.isnan(table["value_usd"].iloc[1])


def test_validate_table_works_on_a_frame_of_strings() -> None:
    raw = pd.DataFrame(
        {
            "country": ["CHN", "XYZ"],
            "year": ["2023", "2023"],
            "indicator": ["PV", "PV"],
            "value": ["-0.47", "oops"],
        }
    )
    table, problems = validate_table(raw, GOVERNANCE, "wgi.csv")
    assert problems == [
        "wgi.csv line 3, column 'country': unknown value 'XYZ' (use an ISO 3166-1 alpha-3 "
        "code (CHN, COD, JPN) or XOT for 'other countries')",
        "wgi.csv line 3, column 'value': expected a number, got 'oops' (write the WGI "
        "estimate (the EST measure), between -5 and 5)",
    ]
    assert table["value"].iloc[0] == -0.47


# -------------------------------------------------------------- docs/data-format.md

DOC_KIND = {"str": "text", "int": "integer", "float": "number", "bool": "true/false"}


def _doc_sections() -> dict[str, str]:
    text = DOC.read_text(encoding="utf-8")
    parts = re.split(r"^## `([a-z_]+)\.csv`\s*$", text, flags=re.MULTILINE)
    # a table's section ends at the next second-level heading
    return {
        name: body.split("\n## ")[0] for name, body in zip(parts[1::2], parts[2::2], strict=True)
    }


def _doc_rows(section: str) -> dict[str, list[str]]:
    rows: dict[str, list[str]] = {}
    for line in section.splitlines():
        match = re.match(r"^\| `([a-z_]+)` \|(.*)\|\s*$", line)
        if match:
            rows[match.group(1)] = [cell.strip() for cell in match.group(2).split("|")]
    return rows


def test_data_format_doc_has_a_section_per_table() -> None:
    assert list(_doc_sections()) == list(SCHEMAS)


@pytest.mark.parametrize("name", list(SCHEMAS))
def test_data_format_doc_documents_every_column(name: str) -> None:
    schema = SCHEMAS[name]
    section = _doc_sections()[name]
    intro = section.split("| column |")[0]
    for key in schema.key:
        assert f"`{key}`" in intro, f"key column {key} not named above the {name} table"
    rows = _doc_rows(section)
    assert list(rows) == schema.column_names
    for col in schema.columns:
        kind, required, nullable, meaning, allowed = rows[col.name]
        assert kind == DOC_KIND[col.kind], col.name
        assert required == ("yes" if col.required else "no"), col.name
        assert nullable == ("yes" if col.nullable else "no"), col.name
        assert len(meaning) > 10, col.name
        if col.choices is not None and len(col.choices()) <= 10:
            for choice in col.choices():
                assert f"`{choice}`" in allowed, (col.name, choice)
        for bound in (col.minimum, col.maximum):
            if bound is not None:
                assert f"{bound:g}" in allowed, (col.name, bound)
