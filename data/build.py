"""Rebuild the embedded default dataset from the official releases.

Run from the repository root with the releases in ``../shared/data`` (or pass
their directory)::

    python data/build.py [RELEASES_DIR]

Every step uses riskengine's own importers (the same code as
``riskengine data import``); the curated rows are listed in this file with their
publications. See ``data/README.md`` for provenance and licences.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from riskengine.io.baci import read_baci
from riskengine.io.canonical import write_table
from riskengine.io.usgs import read_usgs_mcs
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


def main(releases: Path) -> None:
    """Build ``production``, ``trade``, ``governance`` and ``minerals`` tables into ``data/``."""
    usgs = read_usgs_mcs(releases / "usgs_mcs2026" / "MCS2026_Commodities_Data.csv")
    production = usgs.production[usgs.production["year"].isin(PRODUCTION_YEARS)]
    production = pd.concat([production, iea_refining(production)], ignore_index=True)
    write_table(production, OUT, "production")

    baci = read_baci(releases / "baci_hs92_minerals", years=TRADE_YEARS)
    # trade only for minerals with production figures (drops coal, oil and gas)
    trade = baci.trade[baci.trade["mineral"].isin(set(production["mineral"]))]
    write_table(trade, OUT, "trade", compress=True)

    wgi = read_wgi(releases / "wgi" / "WGIData_1996_2022_release2023.csv", years=GOVERNANCE_YEARS)
    write_table(wgi.governance, OUT, "governance")

    minerals = sorted(set(production["mineral"]) | set(trade["mineral"]))
    info = pd.DataFrame(
        [
            {
                "mineral": m,
                "name": m.replace("_", " ").capitalize(),
                "source": "name after the USGS Mineral Commodity Summaries 2026 chapter",
                **EU_ATTRIBUTES.get(m, {}),
            }
            for m in minerals
        ]
    )
    write_table(info, OUT, "minerals")
    print(
        f"production {len(production):,} rows, trade {len(trade):,} rows, "
        f"governance {len(wgi.governance):,} rows, {len(minerals)} minerals"
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT.parent.parent / "shared" / "data")
