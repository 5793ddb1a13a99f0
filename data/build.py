"""Rebuild the embedded default dataset from the official releases.

Run from the repository root with the releases in ``../shared/data`` (or pass
their directory)::

    python data/build.py [RELEASES_DIR]

Every step uses riskengine's own importers (the same code as
``riskengine data import``); the curated rows are listed in this file with their
publications. Trade quantities are gross tonnes of a named product (a BACI HS92
code or a named form); the product catalogue ``riskengine/products.csv`` converts
them to contained content in each mineral's basis (``minerals.csv``, column
``basis``). See ``data/README.md`` for provenance and licences.
"""

from __future__ import annotations

import sys
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
from riskengine.io.usgs import ImportResult, read_usgs_mcs
from riskengine.io.wgi import read_wgi

OUT = Path(__file__).resolve().parent
PRODUCTION_YEARS = (2024, 2025)
TRADE_YEARS = range(2018, 2025)
GOVERNANCE_YEARS = range(2018, 2023)

#: Refining shares where USGS publishes no refinery figures (METHODS.md §8).
IEA_SOURCE = (
    "IEA Global Critical Minerals Outlook 2025, share of refined output 2024 ({share:.0%}), "
    "applied to world mine production 2024 from USGS MCS 2026"
)
IEA_REFINING_2024: dict[str, dict[str, float]] = {
    "cobalt": {"CHN": 0.78},
    "lithium": {"CHN": 0.70},
    "natural_graphite": {"CHN": 0.96},
    "rare_earths": {"CHN": 0.91},
    "nickel": {"IDN": 0.43, "CHN": 0.31},
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


def iea_refining(production: pd.DataFrame) -> pd.DataFrame:
    """Refining rows from IEA shares for minerals USGS gives no refinery figures for."""
    rows = []
    for mineral, shares in IEA_REFINING_2024.items():
        have = production[(production["mineral"] == mineral) & (production["stage"] == "refining")]
        if len(have):
            continue
        mine = production[
            (production["mineral"] == mineral)
            & (production["stage"] == "mining")
            & (production["year"] == 2024)
        ]
        world = float(mine["quantity"].sum())
        rest = 1.0 - sum(shares.values())
        for country, share in [*shares.items(), ("XOT", rest)]:
            rows.append(
                {
                    "mineral": mineral,
                    "stage": "refining",
                    "country": country,
                    "year": 2024,
                    "quantity": round(world * share),
                    "unit": "t",
                    "source": IEA_SOURCE.format(share=share)
                    + (" (rest of world)" if country == "XOT" else ""),
                    "flag": "",
                    "estimated": True,
                }
            )
    return pd.DataFrame(rows)


#: What every quantity of a mineral is counted in: the basis of its USGS production
#: series (the ``source`` of each production row names it; METHODS.md §9). Trade is
#: brought to it by the product catalogue's content fractions. Where USGS counts the
#: stages of a mineral in different bases (titanium) or has no series for a stage
#: (ferro-chromium, zirconium metal), the text names the basis per stage.
MINERAL_BASIS: dict[str, str] = {
    "alumina": "alumina (Al2O3), calcined-equivalent dry weight",
    "aluminium": "aluminium content of primary metal",
    "antimony": "antimony content",
    "arsenic": "arsenic trioxide (As2O3), gross weight; arsenic metal as its As2O3 equivalent",
    "asbestos": "gross weight",
    "barite": "gross weight",
    "bauxite": "dry gross weight of bauxite",
    "beryllium": "beryllium content",
    "bismuth": "bismuth content (refined bismuth)",
    "bromine": "bromine content",
    "cadmium": "cadmium content (refined cadmium)",
    "chromium": "mining: marketable chromite ore, gross weight; refining (ferro-chromium "
    "and metal, no production series): chromium content",
    "cobalt": "cobalt content",
    "copper": "copper content (recoverable copper in concentrate; refined copper)",
    "diatomite": "gross weight",
    "feldspar": "gross weight",
    "ferrosilicon": "silicon content of ferrosilicon",
    "fluorspar": "gross weight, all grades",
    "gallium": "gallium content",
    "garnet": "gross weight",
    "gold": "gold content",
    "gypsum": "gross weight",
    "indium": "indium content (refined indium)",
    "iodine": "iodine content (elemental iodine)",
    "iron_ore": "iron content of usable ore",
    "lead": "lead content",
    "lithium": "lithium content",
    "magnesite": "gross weight of magnesite (MgCO3)",
    "magnesium": "magnesium content of primary metal",
    "manganese": "manganese content",
    "mercury": "mercury content",
    "mica": "gross weight of scrap and flake mica",
    "molybdenum": "molybdenum content",
    "natural_graphite": "gross weight of natural graphite",
    "nickel": "nickel content",
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

USGS_TRADE_YEAR = 2024

#: Named forms of the USGS import statistics, per (mineral, stage): the figures are
#: already in contained content (``riskengine/products.csv``, basis ``source``).
USGS_IMPORT_FORMS: dict[tuple[str, str], str] = {
    ("gallium", "refining"): "form:gallium_metal",
    ("silicon", "refining"): "form:silicon_metal",
}


def usgs_us_imports(usgs: ImportResult, trade: pd.DataFrame) -> pd.DataFrame:
    """US import flows for mineral/stage pairs that BACI's HS92 codes do not cover.

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


def write_binary() -> None:
    """Write ``data/dataset.npz``, the pre-validated binary form ``riskengine score`` loads.

    It is keyed by a hash of the tables, the product catalogue and the loading
    code, so it must be rewritten whenever any of them changes:
    ``python data/build.py --binary`` does that from the tables already here.
    """
    ds = build_dataset(OUT, DEFAULT_DATA_NAME)
    save_binary(ds, OUT / SHIPPED_CACHE, input_hash(OUT))


def main(releases: Path) -> None:
    """Build ``production``, ``trade``, ``governance`` and ``minerals`` tables into ``data/``."""
    usgs = read_usgs_mcs(releases / "usgs_mcs2026" / "MCS2026_Commodities_Data.csv")
    production = usgs.production[usgs.production["year"].isin(PRODUCTION_YEARS)]
    production = pd.concat([production, iea_refining(production)], ignore_index=True)
    write_table(production, OUT, "production")

    baci = read_baci(releases / "baci_hs92_minerals", years=TRADE_YEARS)
    # trade only for minerals with production figures (drops coal, oil and gas)
    trade = baci.trade[baci.trade["mineral"].isin(set(production["mineral"]))]
    # derived US flows only where the pair has production figures: without them the
    # US imports would stand for the whole world market of that pair
    us = usgs_us_imports(usgs, trade)
    produced = set(map(tuple, production[["mineral", "stage"]].drop_duplicates().to_numpy()))
    keep = [(m, st) in produced for m, st in zip(us["mineral"], us["stage"], strict=True)]
    us = us[keep]
    unnamed = sorted(set(us.loc[us["product"] == "", "mineral"]))
    if unnamed:
        raise ValueError(
            f"no named form for the USGS import figures of {', '.join(unnamed)}; add one to "
            f"USGS_IMPORT_FORMS and riskengine/products.csv"
        )
    trade = pd.concat([trade, us])
    write_table(trade, OUT, "trade", compress=True)

    wgi = read_wgi(releases / "wgi" / "WGIData_1996_2022_release2023.csv", years=GOVERNANCE_YEARS)
    write_table(wgi.governance, OUT, "governance")

    minerals = sorted(set(production["mineral"]) | set(trade["mineral"]))
    no_basis = [m for m in minerals if m not in MINERAL_BASIS]
    if no_basis:
        raise ValueError(f"MINERAL_BASIS has no basis for {', '.join(no_basis)}")
    info = pd.DataFrame(
        [
            {
                "mineral": m,
                "name": m.replace("_", " ").capitalize(),
                "basis": MINERAL_BASIS[m],
                "source": "name after the USGS Mineral Commodity Summaries 2026 chapter; "
                "basis of the USGS production series",
                **EU_ATTRIBUTES.get(m, {}),
            }
            for m in minerals
        ]
    )
    write_table(info, OUT, "minerals")
    write_binary()
    print(
        f"production {len(production):,} rows, trade {len(trade):,} rows, "
        f"governance {len(wgi.governance):,} rows, {len(minerals)} minerals"
    )


if __name__ == "__main__":
    if sys.argv[1:] == ["--binary"]:
        write_binary()
    else:
        main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT.parent.parent / "shared" / "data")
