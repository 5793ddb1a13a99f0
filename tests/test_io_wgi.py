"""Tests of the World Bank WGI reader.

``fixtures/wgi/WGIData_1996_2022_release2023.csv`` is a cut of the 2023 release in
its own format (BOM, quoted cells, CRLF, trailing comma), values copied from the
release except: COD CC 1996 replaced by ``..``, and two invented rows, the
aggregate ``WLD`` and the legacy code ``ROM``. ``fixtures/wgi/wgidataset_long.csv``
is the long layout of the newer releases with illustrative values.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from riskengine.errors import DataError
from riskengine.io.canonical import GOVERNANCE, read_table, write_table
from riskengine.io.wgi import (
    TERRITORY_SOVEREIGN,
    WgiResult,
    apply_sovereign_mapping,
    read_wgi,
)

ROOT = Path(__file__).parents[1]
WIDE = ROOT / "tests" / "fixtures" / "wgi" / "WGIData_1996_2022_release2023.csv"
LONG = ROOT / "tests" / "fixtures" / "wgi" / "wgidataset_long.csv"
SHARED = ROOT.parent / "shared" / "data" / "wgi" / "WGIData_1996_2022_release2023.csv"

needs_shared = pytest.mark.skipif(
    not SHARED.is_file(), reason=f"official WGI release not found at {SHARED}"
)


def value(result: WgiResult, country: str, year: int, indicator: str) -> float:
    g = result.governance
    hit = g[(g["country"] == country) & (g["year"] == year) & (g["indicator"] == indicator)]
    assert len(hit) == 1, f"expected one row for {country} {year} {indicator}, got {len(hit)}"
    return float(hit["value"].iloc[0])


def has(result: WgiResult, country: str, year: int, indicator: str) -> bool:
    g = result.governance
    return bool(
        ((g["country"] == country) & (g["year"] == year) & (g["indicator"] == indicator)).any()
    )


def read_wide(**kwargs: object) -> WgiResult:
    with pytest.warns(UserWarning, match=r"ANT 'Netherlands Antilles' \(2 estimates\)"):
        return read_wgi(WIDE, **kwargs)  # type: ignore[arg-type]


# ----------------------------------------------------------------- wide layout


def test_wide_values() -> None:
    r = read_wide()
    assert r.layout == "wide"
    assert r.source == "World Bank WGI 2023 release (CC BY 4.0)"
    assert list(r.governance.columns) == GOVERNANCE.column_names
    assert set(r.governance["source"]) == {r.source}
    assert value(r, "CHN", 2020, "PV") == -0.473098784685135
    assert value(r, "CHN", 1996, "CC") == -0.271189510822296
    assert value(r, "COD", 2022, "PV") == -1.97774624824524
    assert value(r, "XKX", 2020, "PV") == -0.279240250587463
    # the legacy code ROM is Romania
    assert value(r, "ROU", 2020, "PV") == 0.4
    # CHN has all six estimates; standard errors, ranks and source counts are not read
    assert r.governance[(r.governance["country"] == "CHN") & (r.governance["year"] == 2022)][
        "indicator"
    ].tolist() == ["VA", "PV", "GE", "RQ", "RL", "CC"]
    assert r.governance["value"].abs().max() < 3


def test_wide_missing_gives_no_row() -> None:
    r = read_wide()
    assert not has(r, "COD", 1996, "CC")  # '..'
    assert not has(r, "XKX", 1996, "PV")  # empty cell
    assert not has(r, "ROU", 2022, "PV")
    assert r.governance["value"].notna().all()
    # CHN 6 estimates x 5 years; COD 2 x 5 less one '..'; XKX 2 x 3 years; ROU 4 years
    assert len(r.governance) == 30 + 9 + 6 + 4


def test_wide_aggregates_and_unmatched_codes() -> None:
    r = read_wide()
    assert r.aggregate_codes.to_dict("records") == [{"code": "WLD", "name": "World", "values": 3}]
    assert r.unmatched_codes.to_dict("records") == [
        {"code": "ANT", "name": "Netherlands Antilles", "values": 2}
    ]
    assert not {"WLD", "ANT"} & set(r.governance["country"])


def test_wide_years_filter() -> None:
    r = read_wgi(WIDE, years=[2020, 2022])
    assert sorted(r.governance["year"].unique()) == [2020, 2022]
    assert len(r.unmatched_codes) == 0  # ANT has estimates only for 2008
    with pytest.raises(
        DataError, match=r"no estimates for year\(s\) 1997, 2021; it has 1996, 1998"
    ):
        read_wgi(WIDE, years=[1997, 2020, 2021])


def test_wide_output_is_a_valid_canonical_table(tmp_path: Path) -> None:
    r = read_wide()
    path = write_table(r.governance, tmp_path, "governance")
    table, problems = read_table(path, GOVERNANCE)
    assert problems == []
    assert len(table) == len(r.governance)


def test_databank_export(tmp_path: Path) -> None:
    # DataBank exports: Series Name/Code first, years as '2020 [YR2020]', footer lines
    f = tmp_path / "Data_Extract_From_Worldwide_Governance_Indicators.csv"
    f.write_text(
        "Series Name,Series Code,Country Name,Country Code,2020 [YR2020],2021 [YR2021]\n"
        "Political Stability: Estimate,PV.EST,Chile,CHL,0.0440104417502880,..\n"
        "Political Stability: Standard Error,PV.STD.ERR,Chile,CHL,0.21,0.22\n"
        ",,,,,\n"
        "Data from database: Worldwide Governance Indicators,,,,,\n"
        "Last Updated: 09/29/2023,,,,,\n",
        encoding="utf-8",
    )
    r = read_wgi(f, source="World Bank WGI 2023 release via DataBank (CC BY 4.0)")
    assert r.governance[["country", "year", "indicator", "value"]].to_dict("records") == [
        {"country": "CHL", "year": 2020, "indicator": "PV", "value": 0.044010441750288}
    ]
    assert r.source == "World Bank WGI 2023 release via DataBank (CC BY 4.0)"


# ------------------------------------------------------------------ long layout


def test_long_layout() -> None:
    with pytest.warns(UserWarning, match=r"CHI 'Channel Islands' \(1 estimates\)"):
        r = read_wgi(LONG)
    assert r.layout == "long"
    # release year not in the file name: last data year + 1
    assert r.source == "World Bank WGI 2024 release (CC BY 4.0)"
    assert value(r, "AUS", 2022, "PV") == 0.933572053909302
    assert value(r, "CHL", 2022, "PV") == 0.118578858673573
    assert value(r, "XKX", 2022, "PV") == -0.252448588609695
    assert value(r, "AUS", 2022, "CC") == 1.7
    assert not has(r, "CHL", 2023, "PV")
    # 5 estimates read; Australia's 3 also stand for its external territories
    # Christmas Island, Cocos (Keeling) Islands and Norfolk Island
    assert len(r.governance) == 5 + 3 * 3
    assert r.territories["territory"].tolist() == ["CCK", "CXR", "NFK"]
    assert value(r, "NFK", 2023, "PV") == 0.9
    assert r.aggregate_codes["code"].tolist() == ["SSF"]
    assert r.unmatched_codes["code"].tolist() == ["CHI"]
    with pytest.warns(UserWarning, match="CHI"):
        raw = read_wgi(LONG, territories=None)
    assert len(raw.governance) == 5
    assert raw.territories.empty
    assert raw.notes == []


# -------------------------------------------------------------- sovereign mapping


def governance(rows: list[tuple[str, int, str, float]]) -> pd.DataFrame:
    return pd.DataFrame(
        [(c, y, i, v, "World Bank WGI 2023 release (CC BY 4.0)") for c, y, i, v in rows],
        columns=GOVERNANCE.column_names,
    )


def test_territory_takes_its_sovereigns_estimates_with_a_source_saying_so() -> None:
    g = governance(
        [("FRA", 2021, "PV", 0.3), ("FRA", 2022, "PV", 0.4), ("FRA", 2022, "CC", 1.2),
         ("NLD", 2022, "PV", 0.9), ("CHN", 2022, "PV", -0.5)]
    )  # fmt: skip
    out = apply_sovereign_mapping(
        g, {"NCL": ("FRA", "French collectivity"), "CUW": ("NLD", "Dutch constituent country")}
    )
    ncl = out.governance[out.governance["country"] == "NCL"]
    assert ncl[["year", "indicator", "value"]].to_dict("records") == [
        {"year": 2021, "indicator": "PV", "value": 0.3},
        {"year": 2022, "indicator": "PV", "value": 0.4},
        {"year": 2022, "indicator": "CC", "value": 1.2},
    ]
    assert set(ncl["source"]) == {
        "World Bank WGI 2023 release (CC BY 4.0); estimate of FRA applied to NCL "
        "(sovereign mapping)"
    }
    assert out.territories.to_dict("records") == [
        {"territory": "CUW", "sovereign": "NLD", "estimates": 1, "years": "2022",
         "reason": "Dutch constituent country"},
        {"territory": "NCL", "sovereign": "FRA", "estimates": 3, "years": "2021-2022",
         "reason": "French collectivity"},
    ]  # fmt: skip
    assert out.notes[1] == (
        "NCL (New Caledonia) takes the estimates of FRA (France): 3 estimates, 2021-2022; "
        "French collectivity"
    )
    # the original rows are unchanged and the table stays a valid canonical table
    assert out.governance[out.governance["country"] == "FRA"]["value"].tolist() == [0.3, 0.4, 1.2]
    assert not out.governance.duplicated(["country", "year", "indicator"]).any()


def test_territory_keeps_its_own_estimates() -> None:
    g = governance([("FRA", 2022, "PV", 0.4), ("FRA", 2022, "CC", 1.2), ("NCL", 2022, "PV", -0.1)])
    out = apply_sovereign_mapping(g, {"NCL": ("FRA", "French collectivity")})
    ncl = out.governance[out.governance["country"] == "NCL"].set_index("indicator")
    assert ncl.loc["PV", "value"] == -0.1  # its own estimate stands
    assert ncl.loc["PV", "source"] == "World Bank WGI 2023 release (CC BY 4.0)"
    assert ncl.loc["CC", "value"] == 1.2  # only the missing cell is filled
    assert out.territories["estimates"].tolist() == [1]


def test_no_sovereign_estimates_nothing_filled() -> None:
    g = governance([("CHN", 2022, "PV", -0.5)])
    out = apply_sovereign_mapping(g, {"NCL": ("FRA", "French collectivity")})
    assert out.governance.equals(g)
    assert out.territories.empty
    assert out.notes == []


def test_mapping_table_is_documented() -> None:
    from riskengine.io.countries import iso3_codes

    codes = iso3_codes()
    for territory, (sovereign, reason) in TERRITORY_SOVEREIGN.items():
        assert territory in codes, territory
        assert sovereign in codes, territory
        assert territory != sovereign
        assert sovereign not in TERRITORY_SOVEREIGN  # one step, to a scored state
        assert len(reason) > 20, territory
    # the territories the default data trades with
    assert {"NCL", "PYF", "CUW", "BLM"} <= set(TERRITORY_SOVEREIGN)
    # disputed, no administering sovereign recognised by the UN: not mapped
    assert "ESH" not in TERRITORY_SOVEREIGN


# ----------------------------------------------------------------------- errors


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"does not exist"):
        read_wgi(tmp_path / "WGIData.csv")


def test_wrong_header(tmp_path: Path) -> None:
    f = tmp_path / "wgi.csv"
    f.write_text("country,year,pv\nCHN,2020,-0.47\n")
    with pytest.raises(DataError, match=r"wgi\.csv line 1: not a WGI bulk CSV .*Country Code"):
        read_wgi(f)


def test_bad_estimate_names_line_and_column(tmp_path: Path) -> None:
    f = tmp_path / "wgi.csv"
    f.write_text(
        '"Country Name","Country Code","Indicator Name","Indicator Code","2020","2021",\n'
        '"China","CHN","PV: Estimate","PV.EST","-0.47","n.a.",\n'
        '"Chile","CHL","PV: Estimate","PV.EST","44.1","0.1",\n'
    )
    with pytest.raises(DataError) as info:
        read_wgi(f)
    text = str(info.value)
    assert "wgi.csv line 2, column '2021': expected a number or '..', got 'n.a.'" in text
    assert "wgi.csv line 3, column '2020': estimate 44.1 outside [-5, 5]" in text


def test_duplicate_estimate(tmp_path: Path) -> None:
    f = tmp_path / "wgi.csv"
    f.write_text(
        "code,countryname,year,indicator,estimate\n"
        "CHN,China,2020,pv,-0.47\n"
        "CHN,China,2020,pv,-0.48\n"
    )
    with pytest.raises(DataError, match=r"line 2: CHN PV 2020"):
        read_wgi(f)


# ------------------------------------------------------------- the official release


@pytest.mark.shared_data
@needs_shared
def test_release_2023() -> None:
    with pytest.warns(UserWarning, match=r"ANT 'Netherlands Antilles' \(60 estimates\)"):
        r = read_wgi(SHARED, territories=None)
    g = r.governance
    assert r.source == "World Bank WGI 2023 release (CC BY 4.0)"
    assert len(g) == 29_645
    assert g["country"].nunique() == 213
    assert sorted(g["year"].unique()) == [1996, 1998, 2000, *range(2002, 2023)]
    assert len(r.aggregate_codes) == 0
    assert r.unmatched_codes["code"].tolist() == ["ANT"]
    # docs/methods.md, PV 2020 and the GeoPolRisk weight g = clip((2.5 - PV) / 5, 0, 1)
    expected = {"CHN": -0.4731, "COD": -1.7855, "AUS": 0.8617, "CHL": 0.0440}
    weights = {"CHN": 0.5946, "COD": 0.8571, "AUS": 0.3277, "CHL": 0.4912}
    for iso, pv in expected.items():
        got = value(r, iso, 2020, "PV")
        assert round(got, 4) == pv, iso
        assert round(min(max((2.5 - got) / 5, 0.0), 1.0), 4) == weights[iso], iso
    assert value(r, "XKX", 2022, "PV") == pytest.approx(-0.252448588609695, abs=1e-15)
    # extremes of the release's estimates
    assert g["value"].min() == pytest.approx(-3.31295108795166, abs=1e-14)
    assert g["value"].max() == pytest.approx(2.46965980529785, abs=1e-14)
    assert g.loc[g["value"].idxmin(), ["country", "year", "indicator"]].tolist() == [
        "SOM",
        2009,
        "PV",
    ]
    assert g.loc[g["value"].idxmax(), ["country", "year", "indicator"]].tolist() == [
        "SGP",
        2008,
        "GE",
    ]
    assert not g.duplicated(["country", "year", "indicator"]).any()


@pytest.mark.shared_data
@needs_shared
def test_release_years_filter() -> None:
    r = read_wgi(SHARED, years=range(2018, 2023), territories=None)
    g = r.governance
    assert sorted(g["year"].unique()) == [2018, 2019, 2020, 2021, 2022]
    assert len(r.unmatched_codes) == 0  # ANT has no estimates after 2013
    pv = g[(g["indicator"] == "PV") & (g["year"] == 2022)]
    assert len(pv) == 213
    assert pd.api.types.is_float_dtype(g["value"])


@pytest.mark.shared_data
@needs_shared
def test_release_sovereign_mapping() -> None:
    raw = read_wgi(SHARED, years=range(2018, 2023), territories=None).governance
    r = read_wgi(SHARED, years=range(2018, 2023))
    g = r.governance
    # none of the mapped territories has estimates of its own in the 2023 release,
    # and every sovereign has all 6 x 5 of them: 30 rows per territory
    assert not set(TERRITORY_SOVEREIGN) & set(raw["country"])
    assert len(g) == len(raw) + 30 * len(TERRITORY_SOVEREIGN)
    assert r.territories["estimates"].tolist() == [30] * len(TERRITORY_SOVEREIGN)
    assert len(r.notes) == len(TERRITORY_SOVEREIGN)
    assert any(n.startswith("NCL (New Caledonia) takes the estimates of FRA (France)")
               for n in r.notes)  # fmt: skip
    # New Caledonia's political stability 2022 is France's (WGI 2023 release: FRA PV 2022)
    assert value(r, "NCL", 2022, "PV") == value(r, "FRA", 2022, "PV")
    ncl = g[g["country"] == "NCL"]
    assert set(ncl["source"]) == {
        "World Bank WGI 2023 release (CC BY 4.0); estimate of FRA applied to NCL "
        "(sovereign mapping)"
    }
    # the release's own rows are unchanged
    merged = raw.merge(g, on=["country", "year", "indicator"], suffixes=("", "_mapped"))
    assert len(merged) == len(raw)
    assert (merged["value"] == merged["value_mapped"]).all()
    assert (merged["source"] == merged["source_mapped"]).all()


def test_cli_import_prints_the_sovereign_mappings(tmp_path: Path, capsys) -> None:
    from riskengine.cli import main

    # the CLI reports the unmatched code CHI itself
    assert main(["data", "import", "wgi", str(LONG), "--into", str(tmp_path / "ds")]) == 0
    err = capsys.readouterr().err
    notes = [line for line in err.splitlines() if line.startswith("note: ")]
    assert [n.split()[1] for n in notes] == ["CCK", "CXR", "NFK"]
    assert all("takes the estimates of AUS (Australia): 3 estimates" in n for n in notes)
    governance = pd.read_csv(tmp_path / "ds" / "governance.csv")
    assert set(governance["country"]) >= {"CCK", "CXR", "NFK"}
