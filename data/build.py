"""Rebuild the embedded default dataset from the official releases.

Run from the repository root with the releases in ``../shared/data`` (or pass
their directory)::

    python data/build.py [RELEASES_DIR]

Every figure comes from riskengine's own importers (the same code as
``riskengine data import``); the choices made on top of them are the constants
of this file, each with its reason:

* **production** 2021-2025: the USGS Mineral Commodity Summaries 2023, 2024,
  2025 and 2026, each (mineral, stage, year) table from the newest release
  that has it (:func:`riskengine.io.usgs.combine_releases`), then the IEA
  Critical Minerals Data Explorer's 2023 country figures for the tables the
  USGS does not publish by country (refined cobalt, lithium chemicals, refined
  nickel, battery-grade graphite, magnet rare earths;
  :func:`riskengine.io.precedence.merge_production`: the USGS before the IEA);
* **outlook**: the explorer's base case for 2030, 2035 and 2040;
* **trade** 2018-2024: CEPII BACI HS92, and for 2024 the HS17 extract where
  it has the product (:data:`HS17_REPLACES_HS92`: each product of 2024 from
  one nomenclature only), plus US gallium imports derived from the USGS
  statistics where BACI has no code for gallium;
* **governance** 2018-2022: the World Bank WGI, with territories the WGI do
  not score taking their sovereign's estimates
  (:data:`riskengine.io.wgi.TERRITORY_SOVEREIGN`);
* **minerals**: the basis every quantity of a mineral is counted in
  (:data:`MINERAL_BASIS`), readable names, EU CRM attributes.

Trade quantities are gross tonnes of a named product; the product catalogue
``riskengine/products.csv`` converts them to contained content in each
mineral's basis. See ``data/README.md`` for provenance and licences.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import pandas as pd

from riskengine.dataset import (
    DEFAULT_DATA_NAME,
    SHIPPED_CACHE,
    build_dataset,
    input_hash,
    save_binary,
)
from riskengine.io.baci import read_baci
from riskengine.io.canonical import write_table
from riskengine.io.iea import read_iea_explorer
from riskengine.io.precedence import merge_production
from riskengine.io.usgs import ImportResult, combine_releases, read_usgs_mcs
from riskengine.io.wgi import read_wgi
from riskengine.products import load_products

OUT = Path(__file__).resolve().parent
PRODUCTION_YEARS = range(2021, 2026)
TRADE_YEARS = range(2018, 2025)
GOVERNANCE_YEARS = range(2018, 2023)

#: The releases read, relative to the releases directory (``../shared/data``).
USGS_RELEASES: tuple[str, ...] = (
    "usgs_mcs2023",
    "usgs_mcs2024",
    "usgs_mcs2025/MCS2025_World_Data.csv",
    "usgs_mcs2026/MCS2026_Commodities_Data.csv",
)
IEA_WORKBOOK = "iea_critical_minerals_2024/CM_Data_Explorer_May2024.xlsx"
BACI_HS92 = "baci_hs92_minerals"
BACI_HS17 = "baci_hs17_2024_selected"
WGI_FILE = "wgi/WGIData_1996_2022_release2023.csv"

#: (mineral, stage, year) tables left out of production, with the reason.
INCOMPLETE_TABLES: dict[tuple[str, str, int], str] = {
    ("ferrosilicon", "refining", 2021): "MCS 2023 lists ferrosilicon alone for five "
    "countries (327 kt); China, Russia, Brazil and the others are in its combined "
    "ferrosilicon and silicon metal series, which is not imported (MCS 2024: 5.4 Mt in 2022)",
}

#: The year the HS17 extract covers.
HS17_YEAR = 2024

#: Codes of the HS17 extract that HS92 has with the same six digits for the same goods
#: (the descriptions of the two nomenclatures agree; 282200 is cobalt oxides and
#: hydroxides in both, 260200 manganese ores, 720292 ferro-vanadium...).
SAME_CODE: tuple[str, ...] = (
    "250490", "251010", "251110", "252910", "252922", "260200", "260600", "270112",
    "280469", "280470", "280480", "282200", "283691", "283692", "711011", "711021",
    "720292", "720293", "740311", "750210", "810411", "850511",
)  # fmt: skip

#: HS17 codes of the HS17 extract -> the HS92 codes holding the same goods, with
#: the correspondence. For 2024 a product is taken from the HS17 extract (BACI
#: V202601, the newer release, read in its own nomenclature) wherever the
#: extract has a mapped code for it, and the HS92 rows of the corresponding
#: codes are left out, so that no flow is counted from both nomenclatures. Where
#: HS17 split off waste and scrap (tantalum, titanium, tungsten, antimony,
#: beryllium), the HS92 code also held the scrap: the scrap of 2024, in HS17 codes
#: the extract does not have, is then not counted (it is not primary supply).
#: HS17 codes the catalogue does not map (811292, a mix of gallium, germanium,
#: hafnium, indium, niobium, rhenium and vanadium; 280429 rare gases) replace
#: nothing: their HS92 counterparts stand.
HS17_REPLACES_HS92: dict[str, tuple[tuple[str, ...], str]] = {
    **{code: ((code,), "same code, same goods in HS92 and HS17") for code in SAME_CODE},
    "252800": (
        ("252810", "252890"),
        "natural borates: HS07 merged sodium borates (2528.10) and other borates "
        "(2528.90) into 2528.00",
    ),
    "810194": (
        ("810191",),
        "unwrought tungsten: HS92 8101.91 also held waste and scrap (HS17 8101.97)",
    ),
    "810320": (
        ("810310",),
        "unwrought tantalum and powders: HS92 8103.10 also held waste and scrap (HS17 8103.30)",
    ),
    "810820": (
        ("810810",),
        "unwrought titanium and powders: HS92 8108.10 also held waste and scrap (HS17 8108.30)",
    ),
    "811010": (
        ("811000",),
        "unwrought antimony and powders: HS92 8110.00 was the whole heading (HS17 8110.20 "
        "scrap, 8110.90 articles)",
    ),
    "811212": (
        ("811211",),
        "unwrought beryllium and powders: HS92 8112.11 also held waste and scrap (HS17 8112.13)",
    ),
}

#: US imports derived from the USGS statistics, per (mineral, stage), as the named
#: forms of the product catalogue (the figures are contained content). They are
#: written only for pairs that no BACI code of either extract covers in
#: :data:`USGS_TRADE_YEAR`: gallium (HS17 811292 mixes seven metals and is not
#: mapped); silicon metal is HS17 280469 from 2024 on.
USGS_TRADE_YEAR = 2024
USGS_IMPORT_FORMS: dict[tuple[str, str], str] = {
    ("gallium", "refining"): "form:gallium_metal",
    ("silicon", "refining"): "form:silicon_metal",
}

#: EU CRM assessment attributes (Study on the Critical Raw Materials for the EU 2023).
EU_ATTRIBUTES: dict[str, dict[str, object]] = {
    "cobalt": {
        "eol_rir": 0.22,
        "substitution_index": 0.98,
        "source": "European Commission, Study on the Critical Raw Materials for the EU 2023, "
        "cobalt (EoL-RIR 22 %, SI_SR 0.98)",
    },
}

#: Readable names where the id does not give one.
MINERAL_NAMES: dict[str, str] = {
    "battery_graphite": "Battery-grade graphite (natural and synthetic)",
    "magnet_rare_earths": "Magnet rare earth elements (Pr, Nd, Tb, Dy)",
}

#: What every quantity of a mineral is counted in: the basis of its production
#: series (the ``source`` of each production row names it; METHODS.md §9). Trade is
#: brought to it by the product catalogue's content fractions. Where the USGS counts
#: the stages of a mineral in different bases (titanium) or has no series for a stage
#: (ferro-chromium, zirconium metal), the text names the basis per stage.
MINERAL_BASIS: dict[str, str] = {
    "alumina": "alumina (Al2O3), calcined-equivalent dry weight",
    "aluminium": "aluminium content of primary metal",
    "antimony": "antimony content",
    "arsenic": "arsenic trioxide (As2O3), gross weight; arsenic metal as its As2O3 equivalent",
    "asbestos": "gross weight",
    "barite": "gross weight",
    "battery_graphite": "gross weight of battery-grade (anode) graphite from natural and "
    "synthetic graphite (IEA); not comparable with natural_graphite mine output",
    "bauxite": "dry gross weight of bauxite",
    "beryllium": "beryllium content",
    "bismuth": "bismuth content (refined bismuth)",
    "bromine": "bromine content",
    "cadmium": "cadmium content (refined cadmium)",
    "chromium": "mining: marketable chromite ore, gross weight; refining (ferro-chromium "
    "and metal, no production series): chromium content",
    "cobalt": "cobalt content (mine output; refined cobalt as the IEA counts it)",
    "copper": "copper content (recoverable copper in concentrate; refined copper)",
    "diatomite": "gross weight",
    "feldspar": "gross weight",
    "ferrosilicon": "silicon content of ferrosilicon",
    "fluorspar": "gross weight, all grades",
    "gallium": "gallium content",
    "garnet": "gross weight",
    "germanium": "germanium content (refinery production, primary and secondary)",
    "gold": "gold content",
    "gypsum": "gross weight",
    "indium": "indium content (refined indium)",
    "iodine": "iodine content (elemental iodine)",
    "iron_ore": "iron content of usable ore",
    "lead": "lead content",
    "lithium": "lithium content (mine output; lithium chemicals as the IEA counts them, "
    "Li content, not carbonate equivalent)",
    "magnesite": "gross weight of magnesite (MgCO3)",
    "magnesium": "magnesium content of primary metal",
    "magnet_rare_earths": "magnet rare earth elements (Pr, Nd, Tb, Dy) as the IEA counts "
    "them; a part of the rare-earth-oxide total of rare_earths",
    "manganese": "manganese content",
    "mercury": "mercury content",
    "mica": "gross weight of scrap and flake mica",
    "molybdenum": "molybdenum content",
    "natural_graphite": "gross weight of natural graphite",
    "nickel": "nickel content (mine output; refined nickel, class 1 and class 2, as the "
    "IEA counts it)",
    "niobium": "niobium content",
    "palladium": "palladium content",
    "perlite": "gross weight",
    "phosphate_rock": "gross weight of marketable phosphate rock",
    "platinum": "platinum content",
    "potash": "potassium oxide (K2O) equivalent",
    "pumice": "gross weight",
    "rare_earths": "rare-earth-oxide (REO) equivalent",
    "rhenium": "rhenium content",
    "salt": "gross weight",
    "selenium": "selenium content",
    "silica_sand": "gross weight",
    "silicon": "silicon content of silicon metal",
    "silver": "silver content",
    "strontium": "strontium content",
    "tantalum": "tantalum content",
    "tellurium": "tellurium content",
    "tin": "tin content",
    "titanium": "mining: TiO2 content of ilmenite and rutile concentrates; refining: "
    "titanium content of sponge metal",
    "tungsten": "tungsten content",
    "vanadium": "vanadium content",
    "vermiculite": "gross weight",
    "wollastonite": "gross weight",
    "zeolites": "gross weight",
    "zinc": "zinc content",
    "zirconium": "mining: zirconium mineral concentrates, gross weight; refining (metal, no "
    "production series): zirconium content",
}


def read_production(releases: Path) -> tuple[pd.DataFrame, pd.DataFrame, ImportResult, list[str]]:
    """Production 2021-2025 and the outlook, with the newest MCS release and a report.

    Every (mineral, stage, year) table comes from one publication: the newest
    USGS release that has it, else the IEA explorer (2023 only).
    """
    report: list[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # unmatched names are in the results
        results = [read_usgs_mcs(releases / r) for r in USGS_RELEASES]
    # unit errata of a release are corrected by the importer, which notes them
    report += [f"production: {n}" for r in results for n in r.notes if "unit corrected" in n]
    usgs = combine_releases(results)
    report += [f"production: {r.message()}" for r in usgs.replaced]
    newest = max(results, key=lambda r: r.release or 0)
    production = usgs.production[usgs.production["year"].isin(PRODUCTION_YEARS)]
    table = list(zip(production["mineral"], production["stage"], production["year"], strict=True))
    incomplete = pd.Series([t in INCOMPLETE_TABLES for t in table], index=production.index)
    for key, reason in INCOMPLETE_TABLES.items():
        report.append(f"production: {'/'.join(map(str, key))} left out: {reason}")
    production = production[~incomplete]
    iea = read_iea_explorer(releases / IEA_WORKBOOK)
    merged = merge_production(production, iea.production)
    report += [f"production: {r.message()}" for r in merged.replacements]
    report += [f"IEA: {n}" for n in iea.notes]
    return merged.table, iea.outlook, newest, report


def _hs92_replaced(hs17: pd.DataFrame) -> dict[str, str]:
    """HS92 code -> HS17 code, for the HS92 codes whose 2024 goods the HS17 extract gives."""
    products = load_products().set_index("product")
    replaced: dict[str, str] = {}
    problems: list[str] = []
    for code in sorted(set(hs17["product"].str.removeprefix("HS17:"))):
        if code not in HS17_REPLACES_HS92:
            problems.append(f"HS17:{code} is in the HS17 extract but not in HS17_REPLACES_HS92")
            continue
        rows = hs17.loc[hs17["product"] == f"HS17:{code}", ["mineral", "stage"]]
        ours = set(map(tuple, rows.drop_duplicates().to_numpy()))
        for old in HS17_REPLACES_HS92[code][0]:
            replaced[old] = code
            key = f"HS92:{old}"
            if key in products.index and pd.notna(products.loc[[key], "mineral"]).all():
                theirs = set(map(tuple, products.loc[[key], ["mineral", "stage"]].to_numpy()))
                if theirs != ours:
                    problems.append(
                        f"HS17:{code} maps to {sorted(ours)} but HS92:{old} to {sorted(theirs)}"
                    )
    if problems:
        raise ValueError("the 2024 nomenclature rule does not fit:\n  " + "\n  ".join(problems))
    return replaced


def read_trade(releases: Path) -> tuple[pd.DataFrame, list[str]]:
    """BACI HS92 2018-2024 with 2024 taken from the HS17 extract where it has the product."""
    hs92 = read_baci(releases / BACI_HS92, years=TRADE_YEARS).trade
    hs17_dir = releases / BACI_HS17
    # the extract's data file is release V202601; its country file is V202401b's
    (codes,) = sorted(hs17_dir.glob("country_codes_*.csv"))
    hs17 = read_baci(hs17_dir, years=[HS17_YEAR], country_codes=codes).trade
    replaced = _hs92_replaced(hs17)
    code = hs92["product"].str.removeprefix("HS92:")
    drop = (hs92["year"] == HS17_YEAR) & code.isin(list(replaced))
    report = [
        f"trade {HS17_YEAR}: {int(drop.sum()):,} HS92 rows of "
        f"{', '.join(sorted(set(code[drop])))} left out, the HS17 extract giving the same goods"
    ]
    return pd.concat([hs92[~drop], hs17], ignore_index=True), report


def usgs_us_imports(usgs: ImportResult, trade: pd.DataFrame) -> pd.DataFrame:
    """US import flows for mineral/stage pairs that no BACI code covers.

    USGS gives US imports for consumption of a product in a year and the
    product's import sources as shares of a multi-year period; the flow from a
    partner is their product (summed over products of the same mineral and
    stage). Only pairs without any BACI flow in :data:`USGS_TRADE_YEAR` get rows.
    """
    covered = set(
        map(tuple, trade.loc[trade["year"] == USGS_TRADE_YEAR, ["mineral", "stage"]].to_numpy())
    )
    imports = usgs.us_imports[
        (usgs.us_imports["year"] == USGS_TRADE_YEAR) & usgs.us_imports["quantity"].notna()
    ]
    sources = usgs.import_sources[usgs.import_sources["share"].notna()]
    joined = imports.merge(sources, on=["mineral", "stage", "country", "product"])
    joined = joined[
        [(m, st) not in covered for m, st in zip(joined["mineral"], joined["stage"], strict=True)]
    ]
    # "other countries" has no governance score: the named partners' flows are kept
    # as published and the residual is left out (the source string says how much)
    joined = joined[~joined["partner"].isin(["USA", "XOT"])]
    rows = []
    for (mineral, stage, partner), g in joined.groupby(["mineral", "stage", "partner"]):
        parts = "; ".join(
            f"{r.product} {r.quantity:g} t x {r.share:.0%} ({r.period})" for r in g.itertuples()
        )
        named = sources[
            (sources["mineral"] == mineral)
            & (sources["stage"] == stage)
            & sources["product"].isin(g["product"])
            & (sources["partner"] != "XOT")
        ]["share"].sum() / max(len(set(g["product"])), 1)
        parts += f" (named partners cover {named:.0%} of imports; the rest is not included)"
        rows.append(
            {
                "mineral": mineral,
                "stage": stage,
                "exporter": partner,
                "importer": "USA",
                "year": USGS_TRADE_YEAR,
                "product": USGS_IMPORT_FORMS.get((str(mineral), str(stage)), ""),
                "quantity": float((g["quantity"] * g["share"]).sum()),
                "value_usd": float("nan"),
                "source": "USGS MCS 2026 data release (doi:10.5066/P1WKQ63T): US imports for "
                f"consumption {USGS_TRADE_YEAR} x import-source shares: {parts}",
            }
        )
    return pd.DataFrame(rows)


def minerals_table(names: set[str]) -> pd.DataFrame:
    """One row per mineral: name, basis, EU CRM attributes and their source."""
    minerals = sorted(names)
    no_basis = [m for m in minerals if m not in MINERAL_BASIS]
    if no_basis:
        raise ValueError(f"MINERAL_BASIS has no basis for {', '.join(no_basis)}")
    return pd.DataFrame(
        [
            {
                "mineral": m,
                "name": MINERAL_NAMES.get(m, m.replace("_", " ").capitalize()),
                "basis": MINERAL_BASIS[m],
                "source": (
                    "name and basis of the IEA (2024) Critical Minerals Data Explorer series"
                    if m in ("battery_graphite", "magnet_rare_earths")
                    else "name after the USGS Mineral Commodity Summaries (2023-2026 "
                    "releases) chapter; basis of its production series"
                ),
                **EU_ATTRIBUTES.get(m, {}),
            }
            for m in minerals
        ]
    )


def write_binary() -> None:
    """Write ``data/dataset.npz``, the pre-validated binary form ``riskengine score`` loads.

    It is keyed by a hash of the tables, the product catalogue and the loading
    code, so it must be rewritten whenever any of them changes:
    ``python data/build.py --binary`` does that from the tables already here.
    """
    ds = build_dataset(OUT, DEFAULT_DATA_NAME)
    save_binary(ds, OUT / SHIPPED_CACHE, input_hash(OUT))


def main(releases: Path) -> None:
    """Build every table of ``data/`` except the hand-curated ``export_shares.csv``."""
    production, outlook, newest, report = read_production(releases)
    write_table(production, OUT, "production")
    write_table(outlook, OUT, "outlook")

    trade, lines = read_trade(releases)
    report += lines
    # trade only for minerals with production figures (drops coal, oil, gas, boron)
    dropped = sorted(set(trade["mineral"]) - set(production["mineral"]))
    trade = trade[trade["mineral"].isin(set(production["mineral"]))]
    report.append(f"trade: minerals without production figures left out: {', '.join(dropped)}")
    # derived US flows only where the pair has production figures in that year: without
    # them the US imports would stand for the whole world market of that pair
    us = usgs_us_imports(newest, trade)
    that_year = production[production["year"] == USGS_TRADE_YEAR]
    produced = set(map(tuple, that_year[["mineral", "stage"]].drop_duplicates().to_numpy()))
    us = us[[(m, st) in produced for m, st in zip(us["mineral"], us["stage"], strict=True)]]
    unnamed = sorted(set(us.loc[us["product"] == "", "mineral"]))
    if unnamed:
        raise ValueError(
            f"no named form for the USGS import figures of {', '.join(unnamed)}; add one to "
            f"USGS_IMPORT_FORMS and riskengine/products.csv"
        )
    report.append(f"trade: USGS-derived US imports for {', '.join(sorted(set(us['mineral'])))}")
    trade = pd.concat([trade, us], ignore_index=True)
    write_table(trade, OUT, "trade", compress=True)

    wgi = read_wgi(releases / WGI_FILE, years=GOVERNANCE_YEARS)
    report += [f"governance: {n}" for n in wgi.notes]
    used = set(trade["exporter"]) | set(trade["importer"]) | set(production["country"])
    unscored = sorted(used - set(wgi.governance["country"]) - {"XOT"})
    if unscored:
        report.append(f"governance: no WGI estimate and no sovereign mapping: {unscored}")
    write_table(wgi.governance, OUT, "governance")

    minerals = minerals_table(set(production["mineral"]) | set(trade["mineral"]))
    write_table(minerals, OUT, "minerals")
    write_binary()
    for line in report:
        print(line)
    print(
        f"production {len(production):,} rows, outlook {len(outlook):,} rows, trade "
        f"{len(trade):,} rows, governance {len(wgi.governance):,} rows, "
        f"{len(minerals)} minerals"
    )


if __name__ == "__main__":
    if sys.argv[1:] == ["--binary"]:
        write_binary()
    else:
        main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT.parent.parent / "shared" / "data")
