"""Dimension names, stages and indicator codes shared by every module.

The engine works on dense tensors whose axes always come in this order:

* ``production[mineral, stage, year, country]``
* ``trade[mineral, stage, year, exporter, importer]``
* ``governance[indicator, year, country]``

Exporter and importer both run over the one canonical ``country`` index. The
country axes come last so that every reduction over countries (shares, HHI,
import mix) runs over contiguous memory, and one year is one contiguous block.
"""

from __future__ import annotations

from enum import StrEnum

MINERAL = "mineral"
STAGE = "stage"
COUNTRY = "country"
EXPORTER = "exporter"
IMPORTER = "importer"
PARTNER = "partner"
YEAR = "year"
INDICATOR = "indicator"

PRODUCTION_DIMS: tuple[str, ...] = (MINERAL, STAGE, YEAR, COUNTRY)
TRADE_DIMS: tuple[str, ...] = (MINERAL, STAGE, YEAR, EXPORTER, IMPORTER)
GOVERNANCE_DIMS: tuple[str, ...] = (INDICATOR, YEAR, COUNTRY)


class Stage(StrEnum):
    """Supply-chain stage of a mineral.

    ``mining`` is ore or concentrate leaving the mine; ``intermediate`` the
    products between mine and refinery (nickel matte and mixed hydroxide
    precipitate, cobalt hydroxide, blister and anode copper, roasted
    molybdenite, unrefined lead bullion); ``refining`` the refined metal,
    chemical or processed product (refinery, smelter, primary metal, spherical
    graphite and so on); ``component`` a manufactured part whose mineral
    content is traded (NdFeB permanent magnets for rare earths). Every
    quantity at every stage is contained content of the mineral
    (``docs/methods.md``, "Contained content").
    """

    MINING = "mining"
    INTERMEDIATE = "intermediate"
    REFINING = "refining"
    COMPONENT = "component"


STAGES: tuple[str, ...] = tuple(s.value for s in Stage)

#: World Bank Worldwide Governance Indicators, in the order of the governance axis.
WGI_INDICATORS: tuple[str, ...] = ("VA", "PV", "GE", "RQ", "RL", "CC")

WGI_NAMES: dict[str, str] = {
    "VA": "Voice and Accountability",
    "PV": "Political Stability and Absence of Violence/Terrorism",
    "GE": "Government Effectiveness",
    "RQ": "Regulatory Quality",
    "RL": "Rule of Law",
    "CC": "Control of Corruption",
}

#: Pseudo-country code for a source's residual row ("Other countries"), so that
#: shares close. It lies in the ISO 3166-1 user-assigned range (X..), so it can
#: never collide with a real country.
OTHER_COUNTRIES = "XOT"

#: EU member states (EU-27, since 1 February 2020), ISO3.
EU27: tuple[str, ...] = (
    "AUT", "BEL", "BGR", "HRV", "CYP", "CZE", "DNK", "EST", "FIN", "FRA", "DEU", "GRC", "HUN",
    "IRL", "ITA", "LVA", "LTU", "LUX", "MLT", "NLD", "POL", "PRT", "ROU", "SVK", "SVN", "ESP",
    "SWE",
)  # fmt: skip

#: Regions that can be scored as one importer; intra-region trade counts as domestic
#: sourcing (governance weight 0) but stays in the denominators.
REGIONS: dict[str, tuple[str, ...]] = {"EU27": EU27}
