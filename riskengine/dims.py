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

    ``mining`` is ore or concentrate leaving the mine; ``refining`` is the
    refined metal, chemical or processed product (refinery, smelter, primary
    metal, spherical graphite and so on).
    """

    MINING = "mining"
    REFINING = "refining"


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
