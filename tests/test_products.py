"""The product catalogue: chemistry, sources, validation messages, dataset overrides, coverage."""

from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from riskengine.dims import STAGES
from riskengine.errors import DataError
from riskengine.products import (
    ATOMIC_WEIGHTS,
    PRODUCTS,
    content_from_formula,
    load_products,
    molar_mass,
    parse_formula,
)

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
HS92_EXTRACT = SHARED / "baci_hs92_minerals"
HS17_FILE = SHARED / "baci_hs17_2024_selected" / "BACI_HS17_Y2024_V202601.csv"
PACKAGED = ROOT / "riskengine" / "products.csv"


@pytest.fixture(scope="module")
def catalogue() -> pd.DataFrame:
    return load_products()


@pytest.fixture(scope="module")
def mapped(catalogue: pd.DataFrame) -> pd.DataFrame:
    return catalogue[catalogue["mineral"] != ""]


def packaged_rows() -> pd.DataFrame:
    return pd.read_csv(PACKAGED, dtype=str, keep_default_na=False)


def write(directory: Path, rows: pd.DataFrame) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "products.csv"
    rows.to_csv(path, index=False)
    return path


# -------------------------------------------------------------------- chemistry


# METHODS.md §9, in percent of the counted element
@pytest.mark.parametrize(
    ("formula", "element", "percent"),
    [
        ("Li2CO3", "Li", 18.79),
        ("LiOH.H2O", "Li", 16.54),
        ("LiOH·H2O", "Li", 16.54),
        ("Li2O", "Li", 46.45),
        ("CoSO4.7H2O", "Co", 20.97),
        ("Co3O4", "Co", 73.42),
        ("Co(OH)2", "Co", 63.40),
        ("NiSO4.6H2O", "Ni", 22.33),
        ("Sb2O3", "Sb", 83.54),
        ("GeO2", "Ge", 69.42),
        ("Ga2O3", "Ga", 74.39),
        ("MoO3", "Mo", 66.66),
        ("WO3", "W", 79.30),
        ("Nb2O5", "Nb", 69.90),
        ("ZrSiO4", "Zr", 49.77),
        ("Nd2Fe14B", "Nd", 26.68),
    ],
)
def test_methods_chemistry_values(formula: str, element: str, percent: float) -> None:
    assert 100 * content_from_formula(formula, element) == pytest.approx(percent, abs=0.005)


def test_oxide_equivalents_and_formula_syntax() -> None:
    # a metal counted as its oxide weighs more than itself: 2 Nd in Nd2O3
    assert content_from_formula("Nd", "Nd2O3") == pytest.approx(
        (2 * 144.24 + 3 * 15.999) / (2 * 144.24)
    )
    assert content_from_formula("As", "As2O3") == pytest.approx(1.3203, abs=1e-4)
    # Nd2Fe14B as Nd2O3: the two Nd of the magnet make one Nd2O3
    assert content_from_formula("Nd2Fe14B", "Nd2O3") == pytest.approx(
        (2 * 144.24 + 3 * 15.999) / molar_mass("Nd2Fe14B")
    )
    assert parse_formula("(NH4)10H2W12O42.4H2O") == {"N": 10, "H": 50, "W": 12, "O": 46}
    assert content_from_formula("Al2O3", "Al2O3") == pytest.approx(1.0)
    assert ATOMIC_WEIGHTS["Li"] == 6.94
    assert ATOMIC_WEIGHTS["Pb"] == 207.2
    # CO3O4 reads as carbon and oxygen: it holds no cobalt
    with pytest.raises(DataError, match=r"counts Co, which the formula 'CO3O4' does not contain"):
        content_from_formula("CO3O4", "Co")
    with pytest.raises(DataError, match=r"names 'Xx', which is not in .*ATOMIC_WEIGHTS"):
        content_from_formula("Xx2O3", "Xx")
    with pytest.raises(DataError, match=r"counts Ni, which the formula 'Co3O4' does not contain"):
        content_from_formula("Co3O4", "Ni")
    with pytest.raises(DataError, match=r"unbalanced"):
        parse_formula("Co(OH2")


def test_chemistry_rows_recomputed_from_atomic_weights(mapped: pd.DataFrame) -> None:
    chemistry = mapped[mapped["basis"] == "chemistry"]
    assert len(chemistry) >= 40
    for row in chemistry.itertuples(index=False):
        expected = content_from_formula(row.formula, row.element)
        # within 0.05 percentage points
        assert abs(row.content - expected) <= 5e-4, (row.product, row.content, expected)


# ------------------------------------------------------------- the packaged rows


def test_every_mapped_row_has_basis_and_source(mapped: pd.DataFrame) -> None:
    assert (mapped["basis"].isin(["chemistry", "assumption", "source"])).all()
    assert (mapped["source"].str.strip() != "").all()
    assumptions = mapped[mapped["basis"] == "assumption"]
    # an assumption names its reference or says it is riskengine's, with the reasoning
    assert (assumptions["source"].str.startswith("riskengine assumption: ")).all()
    chemistry = mapped[mapped["basis"] == "chemistry"]
    assert chemistry["source"].str.startswith("IUPAC 2021 standard atomic weights").all()
    assert (chemistry["formula"] != "").all()
    assert (chemistry["element"] != "").all()
    others = mapped[mapped["basis"] != "chemistry"]
    assert (others["formula"] == "").all()
    assert (others["element"] == "").all()


def test_ranges_shares_and_stages(catalogue: pd.DataFrame, mapped: pd.DataFrame) -> None:
    assert list(catalogue.columns) == PRODUCTS.column_names
    assert not catalogue.duplicated(["product", "mineral"]).any()
    assert (mapped["content_low"] > 0).all()
    assert (mapped["content_low"] <= mapped["content"]).all()
    assert (mapped["content"] <= mapped["content_high"]).all()
    over_one = mapped[mapped["content_high"] > 1]
    # only metals counted as an oxide equivalent (REO, As2O3) weigh more than themselves
    assert set(over_one["product"]) == {"HS92:280530", "HS92:280480", "HS17:280480"}
    assert (over_one["element"].isin(["Nd2O3", "As2O3"])).all()
    assert set(mapped["stage"]) <= set(STAGES)
    assert ((mapped["share"] > 0) & (mapped["share"] <= 1)).all()
    assert (mapped.groupby("product")["share"].sum() <= 1 + 1e-9).all()
    unmapped = catalogue[catalogue["mineral"] == ""]
    assert (unmapped["note"].str.contains("Not mapped")).all()
    assert (unmapped[["stage", "basis"]] == "").all().all()
    assert unmapped[["share", "content"]].isna().all().all()
    ids = catalogue["nomenclature"] + ":" + catalogue["code"]
    assert (ids == catalogue["product"]).all()


@pytest.mark.parametrize(
    ("product", "mineral", "stage"),
    [
        ("HS92:260300", "copper", "mining"),
        ("HS92:740200", "copper", "intermediate"),
        ("HS92:740311", "copper", "refining"),
        ("HS17:740311", "copper", "refining"),
        ("HS92:260400", "nickel", "mining"),
        ("HS92:750110", "nickel", "intermediate"),
        ("HS92:750120", "nickel", "intermediate"),
        ("HS92:750210", "nickel", "refining"),
        ("HS92:282200", "cobalt", "intermediate"),
        ("HS17:282200", "cobalt", "intermediate"),
        ("HS92:810510", "cobalt", "intermediate"),
        ("HS92:261310", "molybdenum", "intermediate"),
        ("HS92:780199", "lead", "intermediate"),
        ("HS92:282520", "lithium", "refining"),
        ("HS92:283691", "lithium", "refining"),
        ("HS92:284690", "rare_earths", "refining"),
        ("HS92:280530", "rare_earths", "refining"),
        ("HS17:850511", "rare_earths", "component"),
        ("HS92:260600", "bauxite", "mining"),
        ("HS92:250410", "natural_graphite", "mining"),
        ("HS92:720221", "ferrosilicon", "refining"),
        ("HS92:720293", "niobium", "refining"),
        ("HS92:811230", "germanium", "refining"),
        ("form:gallium_metal", "gallium", "refining"),
        ("form:silicon_metal", "silicon", "refining"),
        ("form:spodumene_concentrate", "lithium", "mining"),
    ],
)
def test_stage_of_key_products(catalogue: pd.DataFrame, product, mineral, stage) -> None:
    rows = catalogue[catalogue["product"] == product]
    assert rows[["mineral", "stage"]].values.tolist() == [[mineral, stage]]


def test_key_content_fractions(mapped: pd.DataFrame) -> None:
    c = mapped.set_index("product")
    # cobalt hydroxide: wet and impure, ~30-40 % Co, a wide range up to the refined oxides
    assert c.loc["HS92:282200", "basis"] == "assumption"
    assert 0.30 <= c.loc["HS92:282200", "content"] <= 0.40
    assert c.loc["HS92:282200", "content_high"] >= 0.7342
    # laterite nickel ore 1.2-2 % Ni; copper concentrate 20-35 % Cu
    assert 0.012 <= c.loc["HS92:260400", "content"] <= 0.02
    assert (c.loc["HS92:260300", ["content_low", "content_high"]] == [0.20, 0.35]).all()
    # magnets: stoichiometric Nd2Fe14B as rare-earth oxide
    assert c.loc["HS17:850511", "content"] == pytest.approx(0.2668 * 336.477 / 288.48, abs=5e-4)
    # lithium chemicals
    assert c.loc["HS92:283691", "content"] == pytest.approx(0.1879, abs=5e-4)
    assert c.loc["HS92:282520", "content"] == pytest.approx(0.1654, abs=5e-4)
    # USGS import figures already in metal content
    assert c.loc["form:gallium_metal", ["content", "basis"]].tolist() == [1.0, "source"]


def test_deliberately_unmapped_codes(catalogue: pd.DataFrame) -> None:
    lookup = catalogue.set_index("product")["mineral"]
    for product in (
        "HS92:261690",  # gold and PGM concentrates together
        "HS92:711019",  # semi-manufactured platinum
        "HS92:711290",  # precious-metal scrap
        "HS92:250840",  # clays n.e.s.
        "HS92:711041",  # iridium, osmium, ruthenium
        "HS92:280450",  # boron and tellurium
        "HS92:261590",  # niobium, tantalum, vanadium ores
        "HS92:811291",  # gallium, hafnium, indium, niobium, rhenium, thallium
        "HS17:811292",  # gallium, germanium, indium, niobium, rhenium, vanadium...
        "HS17:280429",  # rare gases
    ):
        assert lookup[product] == "", product


def test_packaged_catalogue_is_cached_and_copied() -> None:
    first = load_products()
    first.loc[first.index[0], "content"] = -1.0
    start = time.perf_counter()
    second = load_products()
    assert time.perf_counter() - start < 0.05
    assert second["content"].iloc[0] != -1.0


# -------------------------------------------------------------------- validation


def test_bad_products_csv_names_file_line_and_column(tmp_path: Path) -> None:
    rows = packaged_rows()
    extra = rows[rows["product"].isin(["HS92:260300", "HS92:260800", "HS92:261000"])].copy()
    extra["nomenclature"] = "HS22"
    extra["product"] = "HS22:" + extra["code"]
    extra.iloc[0, extra.columns.get_loc("content_low")] = "0.5"  # above content 0.27
    extra.iloc[1, extra.columns.get_loc("stage")] = "smelting"
    extra.iloc[2, extra.columns.get_loc("source")] = ""
    write(tmp_path, extra)
    with pytest.raises(DataError, match=r"has 3 problem\(s\)") as info:
        load_products(tmp_path)
    problems = info.value.problems
    assert problems == [
        "products.csv line 3, column 'stage': unknown value 'smelting' "
        "(use 'mining', 'intermediate', 'refining' or 'component')",
        "products.csv line 2, column 'content_low': 0.5 is above content 0.27; "
        "write content_low <= content <= content_high",
        "products.csv line 4, column 'source': empty cell; expected the publication of the "
        "fraction (for an assumption, 'riskengine assumption: <reasoning>')",
    ]


def test_more_validation_messages(tmp_path: Path) -> None:
    rows = packaged_rows()
    base = rows[rows["product"] == "HS92:283691"].iloc[0].to_dict()
    bad = pd.DataFrame(
        [
            {**base, "product": "HS22:283691", "nomenclature": "HS22", "content": "0.25"},
            {**base, "product": "HS22:2836", "nomenclature": "HS22", "code": "2836"},
            {**base, "product": "HS22:260300", "nomenclature": "HS22", "code": "260300",
             "mineral": "copper", "basis": "assumption", "content_high": "1.2"},
            {**base, "product": "HS22:750110", "nomenclature": "HS22", "code": "750110",
             "mineral": "", "note": ""},
            {**base, "product": "HS22:750120", "nomenclature": "HS22", "code": "750120",
             "share": "0.7", "mineral": "nickel"},
            {**base, "product": "HS22:750120", "nomenclature": "HS22", "code": "750120",
             "share": "0.6", "mineral": "cobalt"},
        ]
    )  # fmt: skip
    write(tmp_path, bad)
    with pytest.raises(DataError) as info:
        load_products(tmp_path)
    text = "\n".join(info.value.problems)
    assert (
        "products.csv line 2, column 'content': 0.25 does not match Li in Li2CO3 from atomic "
        "weights (0.18785)" in text
    )
    assert "products.csv line 3, column 'code': expected a 6-digit HS code, got '2836'" in text
    assert "products.csv line 4, column 'content_high': 1.2 is above 1" in text
    assert "products.csv line 4, column 'formula': 'Li2CO3' given with basis 'assumption'" in text
    assert "products.csv line 5, column 'stage': 'refining' given for a product without a" in text
    assert "products.csv line 5, column 'note': empty for a product without a mineral" in text
    assert "products.csv lines 6, 7, column 'share': the shares of HS22:750120 sum to 1.3" in text


def test_missing_columns_and_empty_file(tmp_path: Path) -> None:
    (tmp_path / "products.csv").write_text("product,mineral\nHS92:260300,copper\n")
    with pytest.raises(DataError, match=r"products.csv: missing column\(s\) nomenclature, code"):
        load_products(tmp_path)
    (tmp_path / "products.csv").write_text("")
    with pytest.raises(DataError, match=r"the file is empty; it needs a header line"):
        load_products(tmp_path)


# ---------------------------------------------------------- a dataset's own rows


def test_dataset_products_override_and_extend(tmp_path: Path, catalogue: pd.DataFrame) -> None:
    rows = packaged_rows()
    copper = rows[rows["product"] == "HS92:260300"].iloc[0].to_dict()
    own = pd.DataFrame(
        [
            # a richer concentrate for this dataset: replaces the packaged row
            {**copper, "content": "0.30", "content_low": "0.28", "content_high": "0.32",
             "source": "riskengine assumption: this dataset's smelter feed"},
            # an HS22 code the packaged catalogue lacks
            {**copper, "product": "HS22:260300", "nomenclature": "HS22"},
            # maps a code the packaged catalogue lists as not mapped
            {**copper, "product": "HS92:261690", "code": "261690", "mineral": "gold",
             "content": "0.0001", "content_low": "0.00005", "content_high": "0.0002",
             "source": "riskengine assumption: test"},
            # withdraws a packaged mapping
            {**{c: "" for c in copper}, "product": "HS92:260800", "nomenclature": "HS92",
             "code": "260800", "note": "Not mapped in this dataset"},
        ]
    )  # fmt: skip
    write(tmp_path, own)
    merged = load_products(tmp_path)
    assert len(merged) == len(catalogue) + 1
    key = merged.set_index(["product", "mineral"])
    assert key.loc[("HS92:260300", "copper"), "content"] == 0.30
    assert key.loc[("HS22:260300", "copper"), "content"] == 0.27
    assert key.loc[("HS92:261690", "gold"), "stage"] == "mining"
    assert ("HS92:261690", "") not in key.index
    assert key.loc[("HS92:260800", ""), "note"] == "Not mapped in this dataset"
    assert ("HS92:260800", "zinc") not in key.index
    # the packaged catalogue itself is unchanged; a directory without products.csv uses it
    assert load_products().set_index("product").loc["HS92:260300", "content"] == 0.27
    pd.testing.assert_frame_equal(load_products(tmp_path / "nothing"), catalogue)


def test_dataset_rows_checked_together_with_the_packaged_ones(tmp_path: Path) -> None:
    rows = packaged_rows()
    lithium = rows[rows["product"] == "HS92:283691"].iloc[0].to_dict()
    # a second mineral for lithium carbonate: with the packaged share of 1 the shares sum to 1.5
    write(tmp_path, pd.DataFrame([{**lithium, "mineral": "sodium", "share": "0.5"}]))
    with pytest.raises(DataError) as info:
        load_products(tmp_path)
    (problem,) = info.value.problems
    line = int(np.flatnonzero(rows["product"] == "HS92:283691")[0]) + 2
    assert problem.startswith(f"riskengine/products.csv line {line}; products.csv line 2")
    assert "the shares of HS92:283691 sum to 1.5" in problem


# ---------------------------------------------------------------- coverage of the releases


@pytest.mark.shared_data
def test_every_code_of_the_releases_is_mapped_or_listed(catalogue: pd.DataFrame) -> None:
    if not HS92_EXTRACT.is_dir() or not HS17_FILE.is_file():
        pytest.skip(f"official BACI files not found under {SHARED} (../shared/data)")
    listed = set(catalogue["product"])
    hs92: set[int] = set()
    for f in sorted(HS92_EXTRACT.glob("BACI_HS92_Y*.csv")):
        hs92 |= set(pd.read_csv(f, usecols=["k"])["k"])
    hs17 = set(pd.read_csv(HS17_FILE, usecols=["k"])["k"])
    assert (len(hs92), len(hs17)) == (74, 30)
    missing = sorted(
        {f"HS92:{k:06d}" for k in hs92} - listed | {f"HS17:{k:06d}" for k in hs17} - listed
    )
    assert missing == []


def test_data_format_doc_documents_every_column() -> None:
    text = (ROOT / "docs" / "data-format.md").read_text(encoding="utf-8")
    section = text.split("## The product catalogue (`products.csv`)")[1].split("\n## ")[0]
    rows = {}
    for line in section.splitlines():
        match = re.match(r"^\| `([a-z_]+)` \|(.*)\|\s*$", line)
        if match:
            rows[match.group(1)] = [cell.strip() for cell in match.group(2).split("|")]
    assert list(rows) == PRODUCTS.column_names
    kinds = {"str": "text", "float": "number"}
    for col in PRODUCTS.columns:
        kind, required, nullable, meaning, allowed = rows[col.name]
        assert kind == kinds[col.kind], col.name
        assert required == ("yes" if col.required else "no"), col.name
        assert nullable == ("yes" if col.nullable else "no"), col.name
        assert len(meaning) > 10, col.name
        if col.choices is not None:
            for choice in col.choices():
                assert f"`{choice}`" in allowed, (col.name, choice)
