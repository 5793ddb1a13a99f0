"""Probes of the validation at the edges: each gives one clear line or a safe result.

Empty and overflowing tables, silent substitutions (ambiguous country names,
duplicated header columns), misleading locations (blank lines, multi-line cells,
rows with a wrong field count, non-UTF-8 files, a directory for a file) and API
misuse (wrong types and out-of-range values at every public entry point).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import riskengine
from riskengine.dataset import Dataset
from riskengine.errors import ArgumentError, DataError, ScenarioError, UnknownLabelError
from riskengine.io.canonical import PRODUCTION, TRADE, read_table, read_tables, validate_table
from riskengine.io.countries import to_iso3
from riskengine.io.wgi import read_wgi
from riskengine.scenarios import Scenario

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "tests" / "fixtures" / "tiny"
HEADER = "mineral,stage,country,year,quantity,unit,source"
SOURCE = "probe"


@pytest.fixture(scope="module")
def tiny() -> Dataset:
    return riskengine.load_dataset(TINY, cache=False)


def problems(tmp_path: Path, production: str) -> list[str]:
    (tmp_path / "production.csv").write_text(production, encoding="utf-8")
    with pytest.raises(DataError) as info:
        read_tables(tmp_path)
    return info.value.problems


# ------------------------------------------------------- 6. empty and overflowing tables
def test_header_only_production_is_an_error(tmp_path: Path) -> None:
    assert problems(tmp_path, HEADER + "\n") == [
        "production.csv: the table has a header but no rows; a dataset needs at least one "
        "production row (mineral, stage, country, year, quantity, unit, source)"
    ]


@pytest.mark.parametrize("dtype", [object, pd.StringDtype("python"), "str"])
def test_text_columns_of_any_string_dtype_validate_alike(dtype: Any) -> None:
    """What pyarrow changes (text read as a string dtype) changes nothing."""
    empty = pd.DataFrame({c: pd.Series([], dtype=dtype) for c in TRADE.column_names})
    table, found = validate_table(empty, TRADE, "trade.csv")
    assert found == []
    assert len(table) == 0
    assert table["quantity"].dtype == float
    assert table["year"].dtype.kind == "i"
    cells = ["cobalt", "mining", "AUS", "FRA", "2024", "", "400", "5", SOURCE]
    raw = pd.DataFrame([cells], columns=TRADE.column_names).astype(dtype)
    table, found = validate_table(raw, TRADE, "trade.csv")
    assert found == []
    assert table["quantity"].tolist() == [400.0]
    assert table["value_usd"].tolist() == [5.0]


def test_a_quantity_too_large_in_tonnes_is_an_error(tmp_path: Path) -> None:
    text = f"{HEADER}\ncobalt,mining,AUS,2024,1e308,Mt,{SOURCE}\n"
    assert problems(tmp_path, text) == [
        "production.csv line 2, column 'quantity': 1e+308 Mt is too large to hold in "
        "tonnes (more than 1.8e+308); check the number and its unit"
    ]


def test_totals_that_overflow_are_an_error_not_an_hhi_of_0(tmp_path: Path) -> None:
    text = (
        f"{HEADER}\ncobalt,mining,AUS,2024,1e308,t,{SOURCE}\n"
        f"cobalt,mining,COD,2024,1e308,t,{SOURCE}\n"
    )
    assert problems(tmp_path, text) == [
        "production.csv lines 2, 3, column 'quantity': the mineral/stage/year total exceeds "
        "1.34e+154, too large to compute shares and HHI; check the numbers and units"
    ]


def test_large_but_safe_totals_give_the_exact_hhi(tmp_path: Path) -> None:
    shutil.copy(TINY / "trade.csv", tmp_path / "trade.csv")
    text = (
        f"{HEADER}\ncobalt,mining,AUS,2024,1e150,t,{SOURCE}\n"
        f"cobalt,mining,COD,2024,1e150,t,{SOURCE}\n"
    )
    (tmp_path / "production.csv").write_text(text, encoding="utf-8")
    ds = riskengine.load_dataset(tmp_path, cache=False, check=False)
    with pytest.warns(riskengine.RiskEngineWarning):
        result = riskengine.score(ds, method="geopolrisk")
    assert result.concentration["hhi"].tolist() == [0.5]


# ----------------------------------------------------------- 7. silent substitutions
def test_congo_is_ambiguous() -> None:
    with pytest.raises(UnknownLabelError) as info:
        to_iso3("Congo")
    assert str(info.value) == (
        "'Congo' is ambiguous: COD (Democratic Republic of the Congo) or "
        "COG (Republic of the Congo); write the ISO3 code"
    )
    assert to_iso3("Congo (Kinshasa)") == "COD"
    assert to_iso3("Congo, Rep.") == "COG"


def _ban(exporters: list[str]) -> Scenario:
    return Scenario.model_validate(
        {
            "name": "probe",
            "description": "probe",
            "sources": ["probe"],
            "year": 2024,
            "shocks": [
                {
                    "type": "export_ban",
                    "minerals": ["cobalt"],
                    "stage": "mining",
                    "exporters": exporters,
                    "importers": "all",
                }
            ],
        }
    )


def test_a_scenario_naming_congo_is_refused(tiny: Dataset) -> None:
    with pytest.raises(ScenarioError) as info:
        riskengine.run_scenario(tiny, _ban(["Congo"]))
    assert str(info.value) == (
        "shocks[0].exporters[0]: 'Congo' is ambiguous: COD (Democratic Republic of the "
        "Congo) or COG (Republic of the Congo); write the ISO3 code"
    )


def test_scenario_results_show_what_each_country_name_became(tiny: Dataset) -> None:
    result = riskengine.run_scenario(tiny, _ban(["Congo (Kinshasa)", "AUS"]))
    resolved = [n for n in result.notes if "resolved to" in n]
    assert resolved == [
        "shocks[0].exporters[0]: 'Congo (Kinshasa)' resolved to COD "
        "(Congo, The Democratic Republic of the)"
    ]


def test_a_duplicated_header_column_is_an_error(tmp_path: Path) -> None:
    text = f"{HEADER},quantity\ncobalt,mining,AUS,2024,5,t,{SOURCE},6\n"
    assert problems(tmp_path, text) == [
        "production.csv line 1: column 'quantity' appears 2 times in the header; rename or "
        "remove the copies so that each column is named once"
    ]


# ----------------------------------------------------------- 8. misleading locations
def test_blank_lines_and_multiline_cells_keep_physical_line_numbers(tmp_path: Path) -> None:
    text = (
        f'{HEADER}\n\ncobalt,mining,AUS,2024,5,t,"two\nlines"\n   \n'
        f"cobalt,mining,Chile,2024,5,t,{SOURCE}\n"
    )
    assert problems(tmp_path, text) == [
        "production.csv line 6, column 'country': unknown value 'Chile' (use an ISO 3166-1 "
        "alpha-3 code (CHN, COD, JPN) or XOT for 'other countries')"
    ]


def test_blank_lines_without_quotes_keep_physical_line_numbers(tmp_path: Path) -> None:
    text = f"{HEADER}\n\n\ncobalt,mining,AUS,2024,-5,t,{SOURCE}\n"
    (problem,) = problems(tmp_path, text)
    assert problem.startswith("production.csv line 4, column 'quantity': expected a value")


def test_a_row_with_an_extra_field_is_one_error(tmp_path: Path) -> None:
    text = f"{HEADER}\ncobalt,mining,AUS,2024,5,t,{SOURCE},extra\ncobalt,mining,COD,2024,5,t\n"
    assert problems(tmp_path, text) == [
        "production.csv line 2: 8 fields where the header has 7; quote cells that contain "
        "commas, or remove the extra field",
        "production.csv line 3: 6 fields where the header has 7; fill in the missing cells "
        "(leave a cell empty with nothing between commas)",
    ]


def test_a_latin1_file_names_the_line(tmp_path: Path) -> None:
    text = f"{HEADER}\ncobalt,mining,AUS,2024,5,t,{SOURCE}\ncobalt,mining,CIV,2024,5,t,Côte\n"
    (tmp_path / "production.csv").write_bytes(text.encode("latin-1"))
    _, found = read_table(tmp_path / "production.csv", PRODUCTION)
    assert found == [
        "production.csv line 3: byte 0xf4 is not UTF-8 (the file was saved in another "
        "encoding, e.g. latin-1 or Windows-1252); re-save it as UTF-8"
    ]


def test_wgi_given_a_directory_says_so(tmp_path: Path) -> None:
    with pytest.raises(DataError) as info:
        read_wgi(tmp_path)
    assert str(info.value) == (
        f"WGI path {tmp_path} is a directory; pass the World Bank bulk CSV file inside it "
        f"(e.g. {tmp_path / 'WGIData_1996_2022_release2023.csv'})"
    )


# ------------------------------------------------------------------ 9. API misuse
def test_a_single_string_is_one_label_at_every_entry_point(tiny: Dataset) -> None:
    assert set(riskengine.score(tiny, minerals="cobalt").scores["mineral"]) == {"cobalt"}
    assert riskengine.load_dataset(TINY, minerals="cobalt", cache=False).minerals.tolist() == [
        "cobalt"
    ]
    for call in (
        lambda: riskengine.score(tiny, minerals="cobal"),
        lambda: riskengine.sweep(tiny, minerals="cobal"),
        lambda: riskengine.simulate(tiny, n=10, seed=1, minerals="cobal"),
        lambda: riskengine.sensitivity(tiny, minerals="cobal"),
    ):
        with pytest.raises(UnknownLabelError, match=r"^unknown mineral: cobal\. "):
            call()


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda ds: riskengine.score(ds, missing_governance=99),
            "method 'riskengine': missing_governance must be 'nan', 'raise' or a number "
            "between 0 and 1 (the governance weight g assumed for suppliers without a score), "
            "got 99 (int); pass e.g. missing_governance=0.5",
        ),
        (
            lambda ds: riskengine.score(ds, method="eu", missing_governance=-1.0),
            "method 'eu': missing_governance must be 'nan', 'raise' or a number between 0 and "
            "10 (the WGI10 score assumed for suppliers without a score), got -1.0 (float); "
            "pass e.g. missing_governance=5",
        ),
        (
            lambda ds: riskengine.score(ds, minerals=5),
            "method 'riskengine': minerals must be a string or a list of strings, got 5 (int); "
            "write minerals='cobalt' or minerals=['cobalt', 'lithium']",
        ),
        (
            lambda ds: riskengine.score("data", method="geopolrisk"),
            "method 'geopolrisk': dataset must be a Dataset, got 'data' (str); load one with "
            "riskengine.load_dataset()",
        ),
        (
            lambda ds: riskengine.simulate(ds, n=10, seed=1.5),
            "simulate: seed must be a non-negative integer, got 1.5 (float)",
        ),
        (
            lambda ds: riskengine.simulate(ds, n=10, seed=-1),
            "simulate: seed must be a non-negative integer, got -1 (int)",
        ),
        (
            lambda ds: riskengine.simulate(ds, n=10.0, seed=1),
            "simulate: n must be an integer, got 10.0 (float); pass n=10",
        ),
        (
            lambda ds: riskengine.sweep(ds, exporters=7),
            "sweep: exporters must be a string or a list of strings, got 7 (int); "
            "write exporters='CHN' or exporters=['CHN', 'COD']",
        ),
        (
            lambda ds: riskengine.sweep(ds, severity="all"),
            "sweep: severity must be a finite number, got 'all' (str)",
        ),
        (
            lambda ds: riskengine.sensitivity(ds, countries=[1, 2]),
            "sensitivity: countries must be a string or a list of strings, got [1, 2] (list); "
            "write countries='CHN' or countries=['CHN', 'COD']",
        ),
        (
            lambda ds: riskengine.run_scenario(ds, 3),
            "run_scenario: scenario must be a Scenario, a scenario file or the name of a "
            "bundled scenario, got 3 (int); pass e.g. 'cn-graphite-licences-2023'",
        ),
    ],
)
def test_bad_arguments_give_one_templated_line(tiny: Dataset, call: Any, message: str) -> None:
    with pytest.raises(ArgumentError) as info:
        call(tiny)
    assert str(info.value) == message
    assert isinstance(info.value, riskengine.RiskEngineError)
