"""Tests of the IEA Critical Minerals Data Explorer importer.

The fixture workbook is written here with openpyxl in the layout of the May
2024 edition: the sheet "2 Total supply for key minerals" with its title in A2,
the years in B4:E4 and H4:K4, series side by side (mining in A:E, refining in
G:K), "Rest of world", "Total" and "Top 3 share" rows, a "Notice" sheet with
the citation. Country rows and totals are the real figures of the workbook;
"Rest of world" is the total minus the listed countries, as in the workbook,
except for nickel mining, where the workbook's own "Rest of world" (which also
holds Australia, the sixth listed country) is kept to test its correction.
Tests marked ``shared_data`` read the real workbook in ``../shared/data``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from riskengine.cli import main
from riskengine.errors import DataError
from riskengine.io.canonical import OUTLOOK, PRODUCTION, SCHEMAS, read_table, write_table
from riskengine.io.iea import SUPPLY_SHEET, IeaResult, read_iea_explorer

openpyxl = pytest.importorskip("openpyxl")

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
REAL = SHARED / "iea_critical_minerals_2024" / "CM_Data_Explorer_May2024.xlsx"
USGS2025 = ROOT / "tests" / "fixtures" / "usgs" / "mcs2025" / "MCS2025_World_Data.csv"

TITLE = "Total supply for key energy transition minerals, base case (kt)"
NOTICE = (
    "This work is available under the Creative Commons Attribution 4.0 license (CC BY 4.0). \n"
    "Please cite this as: IEA (2024), Critical Minerals Data Explorer, IEA, Paris "
    "https://www.iea.org/data-and-statistics/data-tools/critical-minerals-data-explorer"
)
YEARS = (2023, 2030, 2035, 2040)
Rows = list[tuple[str, tuple[float, ...]]]

# (title, country rows, total label, total); real figures of the May 2024 workbook
LEFT: list[tuple[str, Rows, str, tuple[float, ...]]] = [
    (
        "Copper - Mining",
        [
            ("Chile", (5311.3, 5211.3, 4550.5, 4053.2)),
            ("Democratic Republic of Congo", (2678.2, 3183, 2622.7, 2144.5)),
        ],
        "Total",
        (22508.1, 22412, 18553.4, 14889),
    ),
    (
        "Cobalt - Mining",
        [
            ("Democratic Republic of Congo", (157, 215, 170.7, 134.7)),
            ("Indonesia", (19.6, 49.7, 50.2, 46.8)),
        ],
        "Total",
        (239.8, 326.3, 269.9, 224.9),
    ),
    (
        "Lithium - Mining",
        [("Australia", (84.1, 146.3, 143, 128)), ("China", (34, 103.4, 102.9, 102.9))],
        "Total",
        (193.8, 450.3, 431.7, 407.6),
    ),
    (
        "Nickel - Mining",
        [
            ("Indonesia", (1787, 2494.8, 2913.7, 3101.2)),
            ("Philippines", (390.7, 344.7, 257.8, 156.9)),
            ("New Caledonia", (210, 247, 227, 201)),
            ("Russia", (193.8, 215, 206, 191)),
            ("Canada", (193.7, 155.6, 130, 97)),
            ("Australia", (111.4, 87.2, 77.1, 66.8)),
            # the workbook's "Rest of world": total minus the first five countries
            ("Rest of world", (675.3, 637.8, 530, 499.9)),
        ],
        "Total",
        (3450.5, 4094.9, 4264.5, 4247),
    ),
    (
        "Graphite - Mining (natural)",
        [("China", (1320, 1905, 2150, 2160)), ("Mozambique", (97, 239, 289, 339))],
        "Total",
        (1617.3, 2741.9, 2997.6, 3052.2),
    ),
]
RIGHT: list[tuple[str, Rows, str, tuple[float, ...]]] = [
    (
        "Copper - Refining",
        [("China", (11547, 14788, 14788, 14788)), ("Chile", (2057.7, 1719.3, 1401.9, 1320.6))],
        "Total",
        (26336.2, 31922.4, 30675.3, 29944),
    ),
    (
        "Cobalt - Refining",
        [
            ("China", (171.7, 230.8, 228.4, 228.4)),
            ("Finland", (18.8, 19.9, 19.7, 19.7)),
            ("Japan", (5.6, 12.6, 13, 11.6)),
            ("Indonesia", (0, 8.9, 8.9, 8.9)),
        ],
        "Total clean technologies",
        (223.8, 312.9, 306.6, 304.7),
    ),
    (
        "Lithium - Chemicals",
        [("China", (113.9, 213.1, 215.1, 215.1)), ("Chile", (46.4, 55.8, 55.9, 55.9))],
        "Total",
        (176.3, 372.7, 369.7, 369.7),
    ),
    (
        "Magnet rare earth elements - Refining",
        [("China", (70.3, 80.8, 85.7, 85.7)), ("Malaysia", (4, 13, 13, 13))],
        "Total",
        (76.3, 105.6, 110.5, 110.5),
    ),
    (
        "Graphite - Battery grade",
        [("China", (1851.9, 5124.7, 6911.7, 6891.5)), ("Japan", (123.5, 96.6, 127.9, 123.4))],
        "Total",
        (2037.2, 5481.4, 7466.9, 7480.6),
    ),
]


def _block_rows(
    series: list[tuple[str, Rows, str, tuple[float, ...]]],
) -> list[tuple[Any, ...]]:
    """Rows of one column block: title, countries, Rest of world, Total, Top 3 share, blank."""
    out: list[tuple[Any, ...]] = []
    for title, rows, total_label, total in series:
        out.append((title, None, None, None, None))
        listed = [r for r in rows if r[0] != "Rest of world"]
        rest = next((r[1] for r in rows if r[0] == "Rest of world"), None)
        if rest is None:
            rest = tuple(round(t - sum(r[1][i] for r in listed), 10) for i, t in enumerate(total))
        out += [(name, *values) for name, values in listed]
        out.append(("Rest of world", *rest))
        out.append((total_label, *total))
        top3 = sorted((r[1][0] for r in listed), reverse=True)[:3]
        out.append(("Top 3 share", sum(top3) / total[0], None, None, None))
        out.append((None,) * 5)
    return out


def write_explorer(
    path: Path,
    *,
    left: list[tuple[str, Rows, str, tuple[float, ...]]] = LEFT,
    right: list[tuple[str, Rows, str, tuple[float, ...]]] = RIGHT,
    sheet: str = SUPPLY_SHEET,
    title: str = TITLE,
    years: tuple[Any, ...] = YEARS,
    notice: str | None = NOTICE,
) -> Path:
    """Write a workbook in the layout of CM_Data_Explorer_May2024.xlsx."""
    book = openpyxl.Workbook()
    book.active.title = "Cover"
    ws = book.create_sheet(sheet)
    ws["A2"] = title
    for i, year in enumerate(years):
        ws.cell(row=4, column=2 + i, value=year)
        ws.cell(row=4, column=8 + i, value=year)
    lefts, rights = _block_rows(left), _block_rows(right)
    for r in range(max(len(lefts), len(rights))):
        for offset, block in ((1, lefts), (7, rights)):
            if r < len(block):
                for c, value in enumerate(block[r]):
                    if value is not None:
                        ws.cell(row=6 + r, column=offset + c, value=value)
    ws.cell(row=8 + max(len(lefts), len(rights)), column=1, value="Notes: Supply projections ...")
    if notice is not None:
        book.create_sheet("Notice")["B2"] = notice
    book.save(path)
    return path


@pytest.fixture(scope="module")
def workbook(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_explorer(tmp_path_factory.mktemp("iea") / "CM_Data_Explorer_May2024.xlsx")


@pytest.fixture(scope="module")
def res(workbook: Path) -> IeaResult:
    return read_iea_explorer(workbook)


def _row(table: pd.DataFrame, **key: object) -> pd.Series:
    mask = np.ones(len(table), dtype=bool)
    for k, v in key.items():
        mask &= (table[k] == v).to_numpy()
    found = table[mask]
    assert len(found) == 1, f"{len(found)} rows for {key}"
    return found.iloc[0]


def _share(table: pd.DataFrame, mineral: str, stage: str, country: str, year: int) -> float:
    g = table[(table["mineral"] == mineral) & (table["stage"] == stage) & (table["year"] == year)]
    return float(g.loc[g["country"] == country, "quantity"].iloc[0] / g["quantity"].sum())


# ---------------------------------------------------------------------------
# Fixture workbook
# ---------------------------------------------------------------------------


def test_observed_year_is_production_projections_are_outlook(res: IeaResult) -> None:
    p, o = res.production, res.outlook
    assert list(p.columns) == PRODUCTION.column_names[:9]
    assert list(o.columns) == OUTLOOK.column_names
    assert set(p["year"]) == {2023}
    assert set(o["year"]) == {2030, 2035, 2040}
    assert set(o["scenario"]) == {"base case"}
    assert (p["unit"] == "t").all()
    assert (o["unit"] == "t").all()
    assert not p["estimated"].any()
    assert (p["flag"] == "").all()
    # 10 series x (listed countries + Rest of world) in 2023; three projected years each
    assert len(p) == 3 + 3 + 3 + 7 + 3 + 3 + 5 + 3 + 3 + 3
    assert len(o) == 3 * len(p)


def test_values_are_converted_from_kt(res: IeaResult) -> None:
    p, o = res.production, res.outlook
    assert _row(p, mineral="copper", stage="mining", country="CHL")["quantity"] == 5311300.0
    assert _row(p, mineral="copper", stage="mining", country="COD")["quantity"] == 2678200.0
    assert _row(p, mineral="cobalt", stage="refining", country="CHN")["quantity"] == 171700.0
    assert _row(p, mineral="cobalt", stage="refining", country="IDN")["quantity"] == 0.0
    # 223.8 - 171.7 - 18.8 - 5.6 - 0 = 27.7 kt
    assert _row(p, mineral="cobalt", stage="refining", country="XOT")["quantity"] == 27700.0
    assert (
        _row(o, mineral="cobalt", stage="refining", country="CHN", year=2030)["quantity"]
        == 230800.0
    )
    assert (
        _row(o, mineral="lithium", stage="refining", country="CHN", year=2040)["quantity"]
        == 215100.0
    )
    assert o["quantity"].map(lambda q: q == round(q, 6)).all()


def test_series_map_to_minerals_and_stages(res: IeaResult) -> None:
    pairs = set(zip(res.production["mineral"], res.production["stage"], strict=True))
    assert pairs == {
        ("copper", "mining"),
        ("copper", "refining"),
        ("cobalt", "mining"),
        ("cobalt", "refining"),
        ("lithium", "mining"),
        ("lithium", "refining"),
        ("nickel", "mining"),
        ("natural_graphite", "mining"),
        ("battery_graphite", "refining"),
        ("magnet_rare_earths", "refining"),
    }
    assert set(res.production["country"]) >= {"COD", "XOT", "CHN", "NCL", "MYS"}


def test_every_row_cites_the_iea_and_states_its_basis(res: IeaResult) -> None:
    cite = "IEA (2024), Critical Minerals Data Explorer, IEA, Paris (CC BY 4.0); sheet "
    assert res.citation == "IEA (2024), Critical Minerals Data Explorer, IEA, Paris (CC BY 4.0)"
    assert res.edition == 2024
    for table in (res.production, res.outlook):
        assert table["source"].str.startswith(cite).all()
    li = _row(res.production, mineral="lithium", stage="refining", country="CHN")["source"]
    assert li == (
        f"{cite}'2 Total supply for key minerals', Lithium - Chemicals: lithium chemicals, "
        f"lithium (Li) content, not carbonate equivalent"
    )
    graphite = _row(res.production, mineral="battery_graphite", country="CHN")["source"]
    assert "natural and synthetic graphite" in graphite
    assert _row(res.outlook, mineral="battery_graphite", country="CHN", year=2030)[
        "source"
    ].endswith("; base case projection")
    rest = _row(res.production, mineral="copper", stage="mining", country="XOT")["source"]
    assert rest.endswith("(rest of world)")


def test_rest_of_world_holding_a_listed_country_is_recomputed(res: IeaResult) -> None:
    p = res.production
    nickel = p[(p["mineral"] == "nickel")]
    # 3,450.5 - (1,787 + 390.7 + 210 + 193.8 + 193.7 + 111.4) = 563.9 kt, not 675.3
    assert _row(nickel, country="XOT")["quantity"] == 563900.0
    assert nickel["quantity"].sum() == pytest.approx(3450500.0)
    assert (
        "recomputed as the total minus the listed countries"
        in _row(nickel, country="XOT")["source"]
    )
    assert res.notes[0] == (
        "CM_Data_Explorer_May2024.xlsx, cell B35: Nickel - Mining 2023: 'Rest of world' "
        "(675.3) plus the listed countries (2,886.6) exceed the total (3,450.5) by 111.4, a "
        "listed country counted twice; 'Rest of world' recomputed as total minus the listed "
        "countries: 563.9"
    )
    assert len(res.notes) == 4  # one per year of the nickel table
    assert _row(res.outlook, mineral="nickel", country="XOT", year=2040)["quantity"] == 433100.0


def test_published_shares(res: IeaResult) -> None:
    p = res.production
    # IEA: China refines about three quarters of cobalt and two thirds of lithium chemicals
    assert _share(p, "cobalt", "refining", "CHN", 2023) == pytest.approx(171.7 / 223.8)
    assert _share(p, "lithium", "refining", "CHN", 2023) == pytest.approx(113.9 / 176.3)
    assert _share(p, "magnet_rare_earths", "refining", "CHN", 2023) == pytest.approx(70.3 / 76.3)


def test_tables_pass_canonical_validation(res: IeaResult, tmp_path: Path) -> None:
    assert SCHEMAS["outlook"] is OUTLOOK
    for name, table in (("production", res.production), ("outlook", res.outlook)):
        path = write_table(table, tmp_path, name)
        back, problems = read_table(path, SCHEMAS[name])
        assert problems == []
        assert len(back) == len(table)


def test_edition_from_the_file_name_without_a_notice(tmp_path: Path) -> None:
    path = write_explorer(tmp_path / "CM_Data_Explorer_May2024.xlsx", notice=None)
    res = read_iea_explorer(path)
    # the licence is written only where the workbook states it
    assert res.citation == "IEA (2024), Critical Minerals Data Explorer, IEA, Paris"
    assert res.production["source"].str.startswith(res.citation + "; sheet ").all()


def test_unknown_series_is_skipped_with_reason(tmp_path: Path) -> None:
    zinc = ("Zinc - Mining", [("China", (4000, 4100, 4200, 4300))], "Total", (12000,) * 4)
    res = read_iea_explorer(write_explorer(tmp_path / "x2024.xlsx", left=[*LEFT, zinc]))
    assert any(
        "series 'Zinc - Mining' is not in riskengine.io.iea.SERIES; not imported" in s
        for s in res.skipped
    )
    assert "zinc" not in set(res.production["mineral"])


# ---------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------


def test_missing_file_and_not_a_workbook(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"IEA workbook .*nothing\.xlsx does not exist"):
        read_iea_explorer(tmp_path / "nothing.xlsx")
    fake = tmp_path / "fake.xlsx"
    fake.write_text("mineral,country\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"^fake\.xlsx: cannot be read as an xlsx workbook"):
        read_iea_explorer(fake)


def test_missing_sheet_names_the_sheets_found(tmp_path: Path) -> None:
    path = write_explorer(tmp_path / "x2024.xlsx", sheet="2 Supply")
    with pytest.raises(DataError) as err:
        read_iea_explorer(path)
    assert str(err.value) == (
        "x2024.xlsx: no sheet '2 Total supply for key minerals'; expected the IEA Critical "
        "Minerals Data Explorer workbook (sheets found: Cover, 2 Supply, Notice)"
    )


def test_header_not_found(tmp_path: Path) -> None:
    path = write_explorer(tmp_path / "x2024.xlsx", years=("base year", "2030s", "", ""))
    with pytest.raises(DataError) as err:
        read_iea_explorer(path)
    assert str(err.value).startswith(
        "x2024.xlsx, sheet '2 Total supply for key minerals': header not found: no row holds "
        "years (2023, 2030, ...) in consecutive cells"
    )


def test_title_without_unit_or_scenario(tmp_path: Path) -> None:
    path = write_explorer(tmp_path / "a2024.xlsx", title="Total supply (kt)")
    with pytest.raises(DataError, match=r"cell A2: the title 'Total supply \(kt\)' names no scen"):
        read_iea_explorer(path)
    path = write_explorer(tmp_path / "b2024.xlsx", title="Total supply, base case")
    with pytest.raises(DataError, match=r"no title with a unit above the year header \(row 4\)"):
        read_iea_explorer(path)


def test_bad_cells_are_all_listed(tmp_path: Path) -> None:
    left = [
        (
            "Copper - Mining",
            [
                ("Atlantis", (5311.3, 5211.3, 4550.5, 4053.2)),
                ("Peru", (2643.8, "n/a", 2064.4, 1066.9)),
                ("Rest of world", (14553, 14000, 11938.5, 9768.9)),
            ],
            "Total",
            (22508.1, 22412, 18553.4, 14889),
        )
    ]
    path = write_explorer(tmp_path / "x2024.xlsx", left=left, right=[])
    with pytest.raises(DataError) as err:
        read_iea_explorer(path)
    lines = str(err.value).splitlines()
    assert lines[0] == (
        "x2024.xlsx, sheet '2 Total supply for key minerals': 2 cell(s) cannot be read:"
    )
    assert "cell A7: country 'Atlantis' maps to no ISO3 code" in lines[1]
    assert (
        "cell C8: Copper - Mining, Peru, 2030: expected a number of kt >= 0, got 'n/a'" in lines[2]
    )


# ---------------------------------------------------------------------------
# CLI and precedence against USGS
# ---------------------------------------------------------------------------


def test_cli_import_writes_production_and_outlook(workbook: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "ds"
    assert main(["data", "import", "iea", str(workbook), "--into", str(out)]) == 0
    err = capsys.readouterr().err
    assert "wrote 36 rows to" in err
    assert "wrote 108 rows to" in err
    assert "read 36 observed and 108 projected figures from IEA (2024)" in err
    assert {p.name for p in out.iterdir()} == {"production.csv", "outlook.csv"}
    assert main(["data", "validate", str(out)]) == 0
    assert "valid (production 36 rows, outlook 108 rows)" in capsys.readouterr().out
    observed = tmp_path / "observed"
    assert (
        main(["data", "import", "iea", str(workbook), "--into", str(observed), "--years", "2023"])
        == 0
    )
    assert {p.name for p in observed.iterdir()} == {"production.csv"}


# USGS MCS 2025 fixture tables of 2023 that the IEA also gives: copper mining (CHL, COD,
# XOT), copper refining (CHN, CHL, XOT), cobalt mining (COD, IDN, XOT), lithium mining
# (AUS, CHN, XOT), natural graphite mining (CHN, MOZ, XOT): 15 IEA rows
def test_cli_usgs_stands_before_iea_both_ways(workbook: Path, tmp_path: Path, capsys) -> None:
    first = tmp_path / "iea_first"
    assert main(["data", "import", "iea", str(workbook), "--into", str(first)]) == 0
    capsys.readouterr()
    assert main(["data", "import", "usgs-mcs", str(USGS2025), "--into", str(first)]) == 0
    assert (
        "production: replaced 15 figures of IEA 2024 with MCS 2025 (USGS MCS before IEA)"
        in capsys.readouterr().err
    )
    second = tmp_path / "usgs_first"
    assert main(["data", "import", "usgs-mcs", str(USGS2025), "--into", str(second)]) == 0
    capsys.readouterr()
    assert main(["data", "import", "iea", str(workbook), "--into", str(second)]) == 0
    assert (
        "production: kept MCS 2025 (USGS MCS before IEA): 15 figures of IEA 2024 for the "
        "same tables were not written" in capsys.readouterr().err
    )
    for directory in (first, second):
        prod = pd.read_csv(directory / "production.csv")
        y2023 = prod[prod["year"] == 2023]
        sources = y2023.groupby(["mineral", "stage"])["source"].agg(
            lambda s: {x.split(" ")[0] for x in s}
        )
        assert sources[("copper", "mining")] == {"USGS"}
        assert sources[("cobalt", "mining")] == {"USGS"}
        assert sources[("cobalt", "refining")] == {"IEA"}
        assert sources[("lithium", "refining")] == {"IEA"}
        assert sources[("nickel", "mining")] == {"IEA"}
        assert len(pd.read_csv(directory / "outlook.csv")) == 108
    assert (
        pd.read_csv(first / "production.csv")
        .sort_values(["mineral", "stage", "country", "year"])
        .reset_index(drop=True)
        .equals(
            pd.read_csv(second / "production.csv")
            .sort_values(["mineral", "stage", "country", "year"])
            .reset_index(drop=True)
        )
    )


def test_openpyxl_is_imported_only_by_the_iea_reader() -> None:
    code = (
        "import sys, riskengine, riskengine.io.iea, riskengine.cli.data; "
        "assert 'openpyxl' not in sys.modules, 'openpyxl imported'"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


# ---------------------------------------------------------------------------
# The real workbook (../shared/data)
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real() -> IeaResult:
    if not REAL.is_file():
        pytest.skip(f"the IEA Critical Minerals Data Explorer workbook not found in {SHARED}")
    return read_iea_explorer(REAL)


@pytest.mark.shared_data
def test_real_workbook_figures(real: IeaResult) -> None:
    p, o = real.production, real.outlook
    assert real.citation == "IEA (2024), Critical Minerals Data Explorer, IEA, Paris (CC BY 4.0)"
    assert real.skipped == []
    assert len(p) == 73
    assert len(o) == 3 * 73
    assert set(p["year"]) == {2023}
    # IEA 2023: China refines ~3/4 of cobalt (171.7 of 223.8 kt), ~2/3 of lithium
    # chemicals (113.9 of 176.3 kt), ~90 % of battery-grade graphite and magnet rare earths
    assert _share(p, "cobalt", "refining", "CHN", 2023) == pytest.approx(0.7672, abs=5e-4)
    assert _share(p, "lithium", "refining", "CHN", 2023) == pytest.approx(0.6461, abs=5e-4)
    assert _share(p, "battery_graphite", "refining", "CHN", 2023) == pytest.approx(1851.9 / 2037.2)
    assert _share(p, "magnet_rare_earths", "refining", "CHN", 2023) == pytest.approx(70.3 / 76.3)
    assert _share(p, "nickel", "refining", "IDN", 2023) == pytest.approx(1413.7 / 3796.1)
    assert _row(p, mineral="cobalt", stage="mining", country="COD")["quantity"] == 157000.0
    assert _row(p, mineral="copper", stage="mining", country="CHL")["quantity"] == 5311300.0
    assert (
        _row(o, mineral="lithium", stage="mining", country="AUS", year=2030)["quantity"] == 146300.0
    )
    # every table adds up to the workbook's total after the Rest-of-world corrections
    totals = {
        ("copper", "mining"): 22508.1,
        ("copper", "refining"): 26336.2,
        ("cobalt", "mining"): 239.8,
        ("cobalt", "refining"): 223.8,
        ("lithium", "mining"): 193.8,
        ("lithium", "refining"): 176.3,
        ("nickel", "mining"): 3450.5,
        ("nickel", "refining"): 3796.1,
        ("natural_graphite", "mining"): 1617.3,
        ("battery_graphite", "refining"): 2037.2,
        ("magnet_rare_earths", "mining"): 72.4,
        ("magnet_rare_earths", "refining"): 76.3,
    }
    sums = p.groupby(["mineral", "stage"])["quantity"].sum() / 1e3
    for key, total in totals.items():
        assert sums[key] == pytest.approx(total), key
    # nickel mining and refining (4 years each), graphite mining (3 projected years) and
    # battery-grade graphite (4 years) leave a listed country inside "Rest of world"
    assert len(real.notes) == 15
    assert all("recomputed as total minus the listed countries" in n for n in real.notes)
