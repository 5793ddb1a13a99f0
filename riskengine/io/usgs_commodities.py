"""Mapping of USGS Mineral Commodity Summaries series to riskengine minerals and stages.

The USGS publishes one chapter per commodity; each chapter's world table holds
one or more production series ("Mine production", "Refinery production",
"Smelter production", "Mine production: Ilmenite", ...). This module is the
documented table that decides, series by series, which riskengine mineral id
and :class:`~riskengine.dims.Stage` a series becomes, or why it is not
imported. :mod:`riskengine.io.usgs` applies it to the three release layouts:

* the single CSV of MCS 2026 (``MCS2026_Commodities_Data.csv``), where a series
  is identified by the ``MCS chapter`` column and the text
  ``"<Commodity>: <Statistics_detail>"``;
* the world table of MCS 2025 (``MCS2025_World_Data.csv``), where the
  ``COMMODITY`` column names the chapter (in its own spelling, found through
  :attr:`Chapter.labels`: ``Graphite``, ``Gemanium``, ``Titanium & titanium
  dioxide``) and the ``TYPE`` column names the series;
* the per-commodity files of MCS 2023 and 2024 (``world/mcs20YY-<code>_world.csv``),
  where the file code (``cobal``, ``raree``...) names the chapter and the ``Type``
  column names the series.

Rules
-----
Every :class:`ProductionRule` names a chapter and a regular expression searched
(case-insensitively) in the series text. The first rule of the chapter that
matches decides. A rule whose ``mineral`` is ``None`` documents a deliberate
skip; its ``note`` is the reason reported in ``ImportResult.skipped``. A series
that no rule matches is reported as unmapped, never dropped in silence.

Stages follow :class:`~riskengine.dims.Stage`: mine production -> ``mining``;
refinery, primary metal, plant (chemical) and sponge production, and smelter
production where the smelter's output is the primary metal (aluminium,
magnesium) -> ``refining``; smelter production whose output is not yet refined
metal (copper smelters make blister and anode copper) -> ``intermediate``.
Quantities keep the basis the USGS states (``basis``): contained content for
most metals, gross weight for bauxite, chromite, barite and
zirconium concentrates, oxide equivalent for rare earths (REO), potash (K2O)
and titanium concentrates (TiO2). No conversion between bases is made.

References
----------
U.S. Geological Survey, Mineral Commodity Summaries 2023, 2024 and 2026 data
releases (doi:10.5066/P9WCYUI6, doi:10.5066/P144BA54, doi:10.5066/P1WKQ63T) and
the MCS 2025 world data (``MCS2025_World_Data.csv``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

import pandas as pd

MINING = "mining"
INTERMEDIATE = "intermediate"
REFINING = "refining"


@dataclass(frozen=True)
class Chapter:
    """One MCS commodity chapter.

    Parameters
    ----------
    name
        Chapter title as written in the ``MCS chapter`` column of the 2026 CSV.
    codes
        File codes of the per-commodity layout (``mcs2024-<code>_world.csv``).
    mineral
        Default riskengine mineral id for the chapter's US net import reliance
        and import sources, or ``None`` when those are not imported.
    stage
        Stage the chapter's US import statistics are closest to (the USGS defines
        net import reliance on the form named in the chapter, e.g. refined cobalt).
    labels
        Other spellings of the chapter: in the "net import reliance" figures of
        MCS 2023/2024 (``"PLATINUM"``, ``"ABRASIVES"``) and in the ``COMMODITY``
        column of the MCS 2025 world table (``"GRAPHITE"``, the misspelt
        ``"GEMANIUM"``); matched in upper case, surrounding blanks removed.
    """

    name: str
    codes: tuple[str, ...] = ()
    mineral: str | None = None
    stage: str = MINING
    labels: tuple[str, ...] = ()


@dataclass(frozen=True)
class ProductionRule:
    """One mapping decision: a USGS production series to (mineral, stage).

    Parameters
    ----------
    chapter
        Chapter title (see :data:`CHAPTERS`).
    pattern
        Regular expression searched case-insensitively in the series text;
        ``""`` matches every series of the chapter.
    mineral, stage
        Target mineral id and stage; ``None`` means the series is skipped.
    basis
        What the quantity measures according to the release.
    note
        Reason for a skip, or a remark on the mapping.
    combine
        Several series of the chapter add up to the target (titanium mineral
        concentrates = ilmenite + rutile); their values are summed per country.
    """

    chapter: str
    pattern: str
    mineral: str | None
    stage: str | None
    basis: str = ""
    note: str = ""
    combine: bool = False


@dataclass(frozen=True)
class TradeRule:
    """Mapping of one US import statistic (net import reliance, import sources).

    Parameters
    ----------
    chapter
        Chapter title.
    pattern
        Regular expression searched case-insensitively in
        ``"<Commodity>: <product>"``.
    mineral, stage
        Target; ``mineral=None`` skips the statistic with ``note`` as reason.
    note
        Reason or remark.
    """

    chapter: str
    pattern: str
    mineral: str | None
    stage: str | None = None
    note: str = ""


_OUT_OF_SCOPE = "bulk or construction material outside riskengine's mineral scope"

#: Every chapter of the MCS 2023, 2024 and 2026 releases.
CHAPTERS: tuple[Chapter, ...] = (
    Chapter("ABRASIVES (MANUFACTURED)", ("abras",), None, REFINING, ("ABRASIVES",)),
    Chapter("ALUMINUM", ("alumi",), "aluminium", REFINING),
    Chapter("ANTIMONY", ("antim",), "antimony", REFINING),
    Chapter("ARSENIC", ("arsen",), "arsenic", REFINING),
    Chapter("ASBESTOS", ("asbes",), "asbestos", MINING),
    Chapter("BARITE", ("barit",), "barite", MINING),
    Chapter("BAUXITE AND ALUMINA", ("bauxi",), "bauxite", MINING, ("BAUXITE", "ALUMINA")),
    Chapter("BERYLLIUM", ("beryl",), "beryllium", REFINING),
    Chapter("BISMUTH", ("bismu",), "bismuth", REFINING),
    Chapter("BORON", ("boron",), "boron", MINING),
    Chapter("BROMINE", ("bromi",), "bromine", MINING),
    Chapter("CADMIUM", ("cadmi",), "cadmium", REFINING),
    Chapter("CEMENT", ("cemen",), None),
    Chapter("CESIUM", (), "cesium", MINING),
    Chapter("CHROMIUM", ("chrom",), "chromium", MINING),
    Chapter("CLAYS", ("clays",), None),
    Chapter("COBALT", ("cobal",), "cobalt", REFINING),
    Chapter("COPPER", ("coppe",), "copper", REFINING),
    Chapter("DIAMOND (INDUSTRIAL)", ("diamo",), None),
    Chapter("DIATOMITE", ("diato",), "diatomite", MINING),
    Chapter(
        "FELDSPAR AND NEPHELINE SYENITE",
        ("felds",),
        "feldspar",
        MINING,
        ("FELDSPAR", "NEPHELINE SYENITE"),
    ),
    Chapter("FLUORSPAR", ("fluor",), "fluorspar", MINING),
    Chapter("GALLIUM", ("galli",), "gallium", REFINING),
    Chapter("GARNET (INDUSTRIAL)", ("garne",), "garnet", MINING),
    Chapter("GEMSTONES", ("gemst",), None),
    Chapter("GERMANIUM", ("germa",), "germanium", REFINING, ("GEMANIUM",)),
    Chapter("GOLD", ("gold",), "gold", REFINING),
    Chapter("GRAPHITE (NATURAL)", ("graph",), "natural_graphite", MINING, ("GRAPHITE",)),
    Chapter("GYPSUM", ("gypsu",), "gypsum", MINING),
    Chapter("HELIUM AND RARE GASES", ("heliu",), None, MINING, ("HELIUM",)),
    Chapter("INDIUM", ("indiu",), "indium", REFINING),
    Chapter("IODINE", ("iodin",), "iodine", MINING),
    Chapter("IRON AND STEEL", ("feste",), None),
    Chapter("IRON AND STEEL SCRAP", ("fescr",), None),
    Chapter("IRON AND STEEL SLAG", ("fesla",), None),
    Chapter("IRON ORE", ("feore",), "iron_ore", MINING),
    Chapter("IRON OXIDE PIGMENTS", ("fepig",), None),
    Chapter("KYANITE AND RELATED MINERALS", ("kyani",), None),
    Chapter("LEAD", ("lead",), "lead", REFINING),
    Chapter("LIME", ("lime",), None),
    Chapter("LITHIUM", ("lithi",), "lithium", REFINING),
    Chapter("MAGNESIUM COMPOUNDS", ("mgcomp",), "magnesite", MINING),
    Chapter("MAGNESIUM METAL", ("mgmet",), "magnesium", REFINING),
    Chapter("MANGANESE", ("manga",), "manganese", MINING),
    Chapter("MERCURY", ("mercu",), "mercury", MINING),
    Chapter("MICA (NATURAL)", ("mica",), None),
    Chapter("MOLYBDENUM", ("molyb",), "molybdenum", MINING),
    Chapter("NICKEL", ("nicke",), "nickel", REFINING),
    Chapter("NIOBIUM (COLUMBIUM)", ("niobi",), "niobium", REFINING, ("NIOBIUM",)),
    Chapter("NITROGEN (FIXED)—AMMONIA", ("nitro",), None, MINING, ("NITROGEN(FIXED) - AMMONIA",)),
    Chapter("PEAT", ("peat",), None),
    Chapter("PERLITE", ("perli",), "perlite", MINING),
    Chapter("PHOSPHATE ROCK", ("phosp",), "phosphate_rock", MINING),
    Chapter("PLATINUM-GROUP METALS", ("plati",), None, REFINING, ("PLATINUM", "PALLADIUM")),
    Chapter("POTASH", ("potas",), "potash", MINING),
    Chapter("PUMICE AND PUMICITE", ("pumic",), "pumice", MINING, ("PUMICE & PUMICITE",)),
    Chapter("QUARTZ (High-purity and Industrial Cultured CRYSTAL)", (), None),
    Chapter("RARE EARTHS", ("raree",), "rare_earths", REFINING),
    Chapter("RARE EARTHS (Heavy)", (), None),
    Chapter("RHENIUM", ("rheni",), "rhenium", REFINING),
    Chapter("RUBIDIUM", (), "rubidium", MINING),
    Chapter("SALT", ("salt",), "salt", MINING),
    Chapter("SAND AND GRAVEL (CONSTRUCTION)", ("sandc",), None),
    Chapter("SAND AND GRAVEL (INDUSTRIAL)", ("sandi",), "silica_sand", MINING),
    Chapter("SCANDIUM", (), "scandium", REFINING),
    Chapter("SELENIUM", ("selen",), "selenium", REFINING),
    Chapter("SILICON", ("simet",), "silicon", REFINING),
    Chapter("SILVER", ("silve",), "silver", REFINING),
    Chapter("SODA ASH", ("sodaa",), None),
    Chapter("STONE (CRUSHED)", ("stonc",), None),
    Chapter("STONE (DIMENSION)", ("stond",), None),
    Chapter("STRONTIUM", ("stron",), "strontium", MINING),
    Chapter("SULFUR", ("sulfu",), None),
    Chapter("TALC AND PYROPHYLLITE", ("talc",), None, MINING, ("TALC, CRUDE",)),
    Chapter("TANTALUM", ("tanta",), "tantalum", REFINING),
    Chapter("TELLURIUM", ("tellu",), "tellurium", REFINING),
    Chapter("THALLIUM", (), None),
    Chapter("THORIUM", (), None),
    Chapter("TIN", ("tin",), "tin", REFINING),
    Chapter(
        "TITANIUM AND TITANIUM DIOXIDE",
        ("titan",),
        "titanium",
        REFINING,
        ("TITANIUM", "TITANIUM & TITANIUM DIOXIDE"),
    ),
    Chapter("TITANIUM MINERAL CONCENTRATES", ("timin",), "titanium", MINING),
    Chapter("TUNGSTEN", ("tungs",), "tungsten", REFINING),
    Chapter("VANADIUM", ("vanad",), "vanadium", REFINING),
    Chapter("VERMICULITE", ("vermi",), "vermiculite", MINING),
    Chapter("WOLLASTONITE", ("wolla",), "wollastonite", MINING),
    Chapter("YTTRIUM", (), "yttrium", REFINING),
    Chapter("ZEOLITES (NATURAL)", ("zeoli",), "zeolites", MINING),
    Chapter("ZINC", ("zinc",), "zinc", REFINING),
    Chapter("ZIRCONIUM AND HAFNIUM", ("zirco", "zirco-hafni"), "zirconium", MINING, ("ZIRCONIUM",)),
)

_M, _I, _R = MINING, INTERMEDIATE, REFINING

#: The production mapping table, one row per decision (first match wins).
PRODUCTION_RULES: tuple[ProductionRule, ...] = (
    ProductionRule(
        "ABRASIVES (MANUFACTURED)",
        "",
        None,
        None,
        note="only plant capacity is published, no production",
    ),
    ProductionRule(
        "ALUMINUM",
        "smelter production",
        "aluminium",
        _R,
        "primary aluminium metal (smelter output)",
    ),
    ProductionRule("ANTIMONY", "mine production", "antimony", _M, "antimony content"),
    ProductionRule(
        "ARSENIC",
        "arsenic trioxide",
        "arsenic",
        _R,
        "arsenic trioxide, gross weight (as published; not converted to As content)",
    ),
    ProductionRule("ASBESTOS", "mine production", "asbestos", _M, "gross weight"),
    ProductionRule("BARITE", "mine production", "barite", _M, "gross weight"),
    ProductionRule(
        "BAUXITE AND ALUMINA", "alumina", "alumina", _R, "alumina, calcined equivalent (dry) weight"
    ),
    ProductionRule("BAUXITE AND ALUMINA", "bauxite", "bauxite", _M, "bauxite, dry gross weight"),
    ProductionRule("BERYLLIUM", "mine production", "beryllium", _M, "beryllium content"),
    ProductionRule("BISMUTH", "refinery production", "bismuth", _R, "refined bismuth"),
    ProductionRule(
        "BORON",
        "",
        None,
        None,
        note="each country is reported in a different form (ulexite, crude ore, "
        "refined borates, B2O3 equivalent...); USGS gives no world total (XX), so "
        "the figures do not add up to a production table",
    ),
    ProductionRule("BROMINE", "production", "bromine", _M, "bromine content (from brines)"),
    ProductionRule("CADMIUM", "refinery production", "cadmium", _R, "refined cadmium"),
    ProductionRule("CEMENT", "", None, None, note=_OUT_OF_SCOPE),
    ProductionRule("CESIUM", "", None, None, note="no country production published"),
    ProductionRule(
        "CHROMIUM", "mi?ne production", "chromium", _M, "marketable chromite ore, gross weight"
    ),
    ProductionRule("CLAYS", "", None, None, note=_OUT_OF_SCOPE),
    ProductionRule("COBALT", "mine production", "cobalt", _M, "cobalt content"),
    ProductionRule("COPPER", "mine production", "copper", _M, "recoverable copper content"),
    ProductionRule("COPPER", "refinery production", "copper", _R, "refined copper"),
    ProductionRule(
        "COPPER",
        "smelter production",
        "copper",
        _I,
        "blister and anode copper (smelter output, not yet refined), copper content",
    ),
    ProductionRule(
        "DIAMOND (INDUSTRIAL)", "", None, None, note="reported in carats, not a mass in tonnes"
    ),
    ProductionRule("DIATOMITE", "mine production", "diatomite", _M, "gross weight"),
    ProductionRule(
        "FELDSPAR AND NEPHELINE SYENITE", "mine production", "feldspar", _M, "gross weight"
    ),
    ProductionRule("FLUORSPAR", "mine production", "fluorspar", _M, "gross weight"),
    ProductionRule(
        "GALLIUM",
        "primary production",
        "gallium",
        _R,
        "primary low-purity gallium, gallium content",
    ),
    ProductionRule("GARNET (INDUSTRIAL)", "mine production", "garnet", _M, "gross weight"),
    ProductionRule("GEMSTONES", "", None, None, note="reported in carats, not a mass in tonnes"),
    ProductionRule(
        "GERMANIUM",
        "refinery production",
        "germanium",
        _R,
        "primary and secondary refinery production, germanium content",
    ),
    ProductionRule("GOLD", "mine production", "gold", _M, "gold content"),
    ProductionRule(
        "GRAPHITE (NATURAL)",
        "mine production",
        "natural_graphite",
        _M,
        "natural graphite, gross weight",
    ),
    ProductionRule("GYPSUM", "mine production", "gypsum", _M, "gross weight"),
    ProductionRule(
        "HELIUM AND RARE GASES",
        "",
        None,
        None,
        note="reported as gas volume (million cubic metres, million litres), not a mass in tonnes",
    ),
    ProductionRule("INDIUM", "refinery production", "indium", _R, "refined indium"),
    ProductionRule("IODINE", "mine production", "iodine", _M, "elemental iodine"),
    ProductionRule(
        "IRON AND STEEL",
        "",
        None,
        None,
        note="pig iron and raw steel are metal products, not a mineral stage",
    ),
    ProductionRule("IRON AND STEEL SCRAP", "", None, None, note="secondary material"),
    ProductionRule("IRON AND STEEL SLAG", "", None, None, note="by-product, only ranges given"),
    ProductionRule("IRON ORE", "iron content", "iron_ore", _M, "iron content of usable ore"),
    ProductionRule(
        "IRON ORE",
        "usable ore",
        None,
        None,
        note="gross weight of usable ore; the iron-content series of the same table "
        "is imported instead",
    ),
    ProductionRule(
        "IRON OXIDE PIGMENTS",
        "",
        None,
        None,
        note="natural pigments of different kinds by country (ocher, umber, red "
        "iron oxide); no world total",
    ),
    ProductionRule(
        "KYANITE AND RELATED MINERALS",
        "",
        None,
        None,
        note="different minerals by country (kyanite, andalusite, sillimanite); no world total",
    ),
    ProductionRule("LEAD", "mine production", "lead", _M, "lead content"),
    ProductionRule("LIME", "", None, None, note=_OUT_OF_SCOPE),
    ProductionRule("LITHIUM", "mine production", "lithium", _M, "lithium content"),
    ProductionRule(
        "MAGNESIUM COMPOUNDS",
        "mine production",
        "magnesite",
        _M,
        "magnesite, as each release labels it: gross weight in MCS 2023 and 2025, "
        "MgO content in MCS 2024 and 2026",
    ),
    ProductionRule(
        "MAGNESIUM METAL", "smelter production", "magnesium", _R, "primary magnesium metal"
    ),
    ProductionRule("MANGANESE", "mine production", "manganese", _M, "manganese content"),
    ProductionRule("MERCURY", "mine production", "mercury", _M, "mercury content"),
    ProductionRule(
        "MICA (NATURAL)", "scrap and flake", "mica", _M, "scrap and flake mica, gross weight"
    ),
    ProductionRule(
        "MICA (NATURAL)",
        "sheet",
        None,
        None,
        note="sheet mica is a separate small series; scrap and flake mica is imported as 'mica'",
    ),
    ProductionRule("MOLYBDENUM", "mine production", "molybdenum", _M, "molybdenum content"),
    ProductionRule("NICKEL", "mine production", "nickel", _M, "nickel content"),
    ProductionRule("NIOBIUM (COLUMBIUM)", "mine production", "niobium", _M, "niobium content"),
    ProductionRule(
        "NITROGEN (FIXED)—AMMONIA",
        "",
        None,
        None,
        note="ammonia is a synthetic chemical, not a mined mineral",
    ),
    ProductionRule("PEAT", "", None, None, note=_OUT_OF_SCOPE),
    ProductionRule("PERLITE", "production", "perlite", _M, "gross weight"),
    ProductionRule(
        "PHOSPHATE ROCK",
        "mine production",
        "phosphate_rock",
        _M,
        "marketable phosphate rock, gross weight",
    ),
    ProductionRule("PLATINUM-GROUP METALS", "palladium", "palladium", _M, "palladium content"),
    ProductionRule("PLATINUM-GROUP METALS", "platinum", "platinum", _M, "platinum content"),
    ProductionRule("POTASH", "mine production", "potash", _M, "K2O equivalent"),
    ProductionRule("PUMICE AND PUMICITE", "mine production", "pumice", _M, "gross weight"),
    ProductionRule(
        "QUARTZ (High-purity and Industrial Cultured CRYSTAL)",
        "",
        None,
        None,
        note="no world production table",
    ),
    ProductionRule(
        "RARE EARTHS", "mine production", "rare_earths", _M, "rare-earth-oxide (REO) equivalent"
    ),
    ProductionRule("RARE EARTHS (Heavy)", "", None, None, note="no world production table"),
    ProductionRule(
        "RHENIUM",
        "mine production",
        "rhenium",
        _M,
        "rhenium content recovered from copper and molybdenum ores",
    ),
    ProductionRule("RUBIDIUM", "", None, None, note="no country production published"),
    ProductionRule("SALT", "mine production", "salt", _M, "gross weight"),
    ProductionRule("SAND AND GRAVEL (CONSTRUCTION)", "", None, None, note=_OUT_OF_SCOPE),
    ProductionRule(
        "SAND AND GRAVEL (INDUSTRIAL)",
        "mine production",
        "silica_sand",
        _M,
        "industrial sand and gravel, gross weight",
    ),
    ProductionRule(
        "SCANDIUM", "", None, None, note="only a global estimate is published, no country figures"
    ),
    ProductionRule("SELENIUM", "refinery production", "selenium", _R, "refined selenium"),
    ProductionRule(
        "SILICON",
        "combined totals",
        None,
        None,
        note="MCS 2023 combines ferrosilicon and silicon metal for most countries; "
        "not comparable with the separate series of MCS 2024 and 2026",
    ),
    ProductionRule(
        "SILICON", "fer+osilicon", "ferrosilicon", _R, "silicon content of ferrosilicon"
    ),
    ProductionRule("SILICON", "silicon metal", "silicon", _R, "silicon metal, silicon content"),
    ProductionRule("SILVER", "mine production", "silver", _M, "silver content"),
    ProductionRule(
        "SODA ASH",
        "",
        None,
        None,
        note="natural and synthetic soda ash are reported as separate incomplete "
        "series; outside riskengine's mineral scope",
    ),
    ProductionRule("STONE (CRUSHED)", "", None, None, note=_OUT_OF_SCOPE),
    ProductionRule("STONE (DIMENSION)", "", None, None, note=_OUT_OF_SCOPE),
    ProductionRule("STRONTIUM", "mine production", "strontium", _M, "strontium content"),
    ProductionRule(
        "SULFUR",
        "",
        None,
        None,
        note="sulfur in all forms is mostly recovered from oil and gas refining; "
        "outside riskengine's mineral scope",
    ),
    ProductionRule(
        "TALC AND PYROPHYLLITE",
        "",
        None,
        None,
        note="countries report different products (crude, beneficiated, with or "
        "without pyrophyllite or steatite); not additive",
    ),
    ProductionRule("TANTALUM", "mine production", "tantalum", _M, "tantalum content"),
    ProductionRule("TELLURIUM", "refinery production", "tellurium", _R, "refined tellurium"),
    ProductionRule("THALLIUM", "", None, None, note="no world production table"),
    ProductionRule("THORIUM", "", None, None, note="no world production table"),
    ProductionRule("TIN", "mine production", "tin", _M, "tin content"),
    ProductionRule(
        "TITANIUM AND TITANIUM DIOXIDE", "sponge", "titanium", _R, "titanium sponge metal"
    ),
    ProductionRule(
        "TITANIUM AND TITANIUM DIOXIDE",
        "",
        None,
        None,
        note="TiO2 pigment: only capacity is published",
    ),
    ProductionRule(
        "TITANIUM MINERAL CONCENTRATES",
        "ilmen|ilment|rutile",
        "titanium",
        _M,
        "ilmenite + rutile concentrates, TiO2 content",
        combine=True,
    ),
    ProductionRule("TUNGSTEN", "mine production", "tungsten", _M, "tungsten content"),
    ProductionRule("VANADIUM", "mine production", "vanadium", _M, "vanadium content"),
    ProductionRule("VERMICULITE", "mine production", "vermiculite", _M, "gross weight"),
    ProductionRule("WOLLASTONITE", "mine production", "wollastonite", _M, "gross weight"),
    ProductionRule(
        "YTTRIUM",
        "",
        None,
        None,
        note="only a global estimate is published; yttrium is included in rare earths",
    ),
    ProductionRule("ZEOLITES (NATURAL)", "mine production", "zeolites", _M, "gross weight"),
    ProductionRule("ZINC", "mine production", "zinc", _M, "zinc content of concentrates"),
    ProductionRule(
        "ZIRCONIUM AND HAFNIUM",
        "mine production",
        "zirconium",
        _M,
        "zirconium mineral concentrates, gross weight",
    ),
)

#: Overrides for US import statistics of chapters with several products
#: (first match wins; otherwise the chapter's default mineral and stage apply).
TRADE_RULES: tuple[TradeRule, ...] = (
    TradeRule("ABRASIVES (MANUFACTURED)", "", None, note="manufactured abrasives"),
    TradeRule("BAUXITE AND ALUMINA", "alumina", "alumina", REFINING),
    TradeRule("BAUXITE AND ALUMINA", "bauxite", "bauxite", MINING),
    TradeRule(
        "FELDSPAR AND NEPHELINE SYENITE",
        "nepheline",
        None,
        note="nepheline syenite is not imported as a mineral",
    ),
    TradeRule("PLATINUM-GROUP METALS", "palladium", "palladium", REFINING),
    TradeRule("PLATINUM-GROUP METALS", "platinum", "platinum", REFINING),
    TradeRule(
        "PLATINUM-GROUP METALS",
        "",
        None,
        note="minor platinum-group metals are not imported separately",
    ),
    TradeRule("RARE EARTHS", "mineral concentrates|monazite|ores", "rare_earths", MINING),
    TradeRule("RARE EARTHS", "compounds and metals|^rare earths", "rare_earths", REFINING),
    TradeRule(
        "RARE EARTHS", "", None, note="single rare-earth elements are not imported separately"
    ),
    TradeRule(
        "RARE EARTHS (Heavy)",
        "compounds and metals",
        "rare_earths",
        REFINING,
        note="heavy rare-earth compounds and metals are a part of rare_earths (REO), which "
        "has no separate heavy rare-earth series",
    ),
    TradeRule(
        "YTTRIUM",
        "",
        "rare_earths",
        REFINING,
        note="yttrium is counted in rare_earths (REO includes Y2O3); its US statistics are "
        "for compounds and metals (apparent consumption = imports - exports)",
    ),
    TradeRule(
        "SILICON",
        "metal and ferrosilicon|total",
        None,
        note="total of silicon metal and ferrosilicon; the separate series are imported",
    ),
    TradeRule("SILICON", "ferrosilicon", "ferrosilicon", REFINING),
    TradeRule("SILICON", "silicon metal|: metal$", "silicon", REFINING),
    TradeRule(
        "SILICON",
        "",
        None,
        note="total of silicon metal and ferrosilicon; the separate series are imported",
    ),
    TradeRule("TITANIUM AND TITANIUM DIOXIDE", "sponge", "titanium", REFINING),
    TradeRule("TITANIUM AND TITANIUM DIOXIDE", "", None, note="TiO2 pigment is not a mineral"),
    TradeRule("ZIRCONIUM AND HAFNIUM", "hafnium", None, note="hafnium is not imported"),
    TradeRule(
        "ZIRCONIUM AND HAFNIUM", "ores and concentrates|ores and zircon", "zirconium", MINING
    ),
    TradeRule("ZINC", "ores and concentrates", "zinc", MINING),
    TradeRule("ZINC", "refined", "zinc", REFINING),
    TradeRule("COPPER", "ore and concentrate|ores and concentrates", "copper", MINING),
    TradeRule("COPPER", "refined", "copper", REFINING),
    TradeRule(
        "MICA (NATURAL)",
        "",
        None,
        note="the MCS 2026 CSV does not tell sheet from scrap-and-flake statistics apart, "
        "so mica import statistics are left out of every release",
    ),
    TradeRule("DIAMOND (INDUSTRIAL)", "", None, note="industrial diamond is out of scope"),
    TradeRule("HELIUM AND RARE GASES", "", None, note="gases are out of scope"),
    TradeRule("STONE (DIMENSION)", "", None, note=_OUT_OF_SCOPE),
    TradeRule(
        "QUARTZ (High-purity and Industrial Cultured CRYSTAL)",
        "",
        None,
        note="quartz products are out of scope",
    ),
)

#: Words in an import-source product that place it at a stage; checked in order.
STAGE_KEYWORDS: tuple[tuple[str, str | None], ...] = (
    (r"^\s*(?:all|total|combined total)\b", ""),
    (r"scrap|waste", None),
    (r"\bores?\b|concentrate|chromite|crude|monazite|celestite|bauxite|manganese ore", MINING),
    (
        r"refined|metal|unwrought|wrought|oxide|compound|ferro|silicomanganese|sponge|salt|alloy|"
        r"powder|dore|bullion|chemical|matte|blister|anode|pigment|perrhenate|dioxide|alumina|"
        r"sulfate|chloride|hydroxide|magnesia|trioxide|acid|primary nickel|elemental|"
        r"stainless",
        REFINING,
    ),
)


@cache
def chapter_index() -> dict[str, Chapter]:
    """Return chapters by name, by per-commodity file code and by figure label (upper case)."""
    index: dict[str, Chapter] = {}
    for ch in CHAPTERS:
        index[ch.name.upper()] = ch
        for code in ch.codes:
            index[code.upper()] = ch
        for label in ch.labels:
            index.setdefault(label.upper(), ch)
    return index


@cache
def _compiled_rules() -> dict[str, list[tuple[re.Pattern[str], ProductionRule]]]:
    by_chapter: dict[str, list[tuple[re.Pattern[str], ProductionRule]]] = {}
    for rule in PRODUCTION_RULES:
        by_chapter.setdefault(rule.chapter, []).append((re.compile(rule.pattern, re.I), rule))
    return by_chapter


def production_rule(chapter: str, series: str) -> ProductionRule | None:
    """Return the first production rule of ``chapter`` matching the series text.

    Parameters
    ----------
    chapter
        Chapter title (see :data:`CHAPTERS`).
    series
        Series text, e.g. ``"Cobalt: Mine production"`` or the ``Type`` column.

    Returns
    -------
    ProductionRule or None
        ``None`` when no rule covers the series (the caller reports it).
    """
    for pattern, rule in _compiled_rules().get(chapter, []):
        if pattern.search(series):
            return rule
    return None


def classify_stage(product: str, default: str) -> str | None:
    """Place an import product at a stage by its wording.

    Returns ``default`` when the product is a total ("All", "Total imports",
    "Combined total ...") or names no form, ``None`` for scrap and waste
    (secondary material).
    """
    for pattern, stage in STAGE_KEYWORDS:
        if re.search(pattern, product, re.I):
            return stage or default
    return default


def trade_mapping(chapter: Chapter, commodity: str, product: str) -> tuple[str, str] | str:
    """Map one US import statistic to (mineral, stage), or return the reason it is skipped.

    Parameters
    ----------
    chapter
        The chapter of the statistic.
    commodity
        Commodity column (2026) or figure label (2023/2024), e.g. ``"Palladium"``.
    product
        Product or qualifier, e.g. ``"Refined metal"``, ``"refined"``; may be empty.
    """
    text = f"{commodity}: {product}" if product else commodity
    for rule in TRADE_RULES:
        if rule.chapter == chapter.name and re.search(rule.pattern, text, re.I):
            if rule.mineral is None:
                return rule.note
            stage = rule.stage or classify_stage(product, chapter.stage)
            if stage is None:
                return "scrap or waste (secondary material)"
            return rule.mineral, stage
    if chapter.mineral is None:
        return "chapter not mapped to a riskengine mineral"
    stage = classify_stage(product, chapter.stage) if product else chapter.stage
    if stage is None:
        return "scrap or waste (secondary material)"
    return chapter.mineral, stage


def mapping_table() -> pd.DataFrame:
    """Return :data:`PRODUCTION_RULES` as a table (for documentation and review).

    Columns: ``chapter, pattern, mineral, stage, basis, note, combine``.
    """
    return pd.DataFrame(
        [
            {
                "chapter": r.chapter,
                "pattern": r.pattern,
                "mineral": r.mineral,
                "stage": r.stage,
                "basis": r.basis,
                "note": r.note,
                "combine": r.combine,
            }
            for r in PRODUCTION_RULES
        ]
    )
