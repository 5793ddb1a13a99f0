"""Edge cases of the methods and error wording found in review.

Prices with flows that have no value, unknown minerals in EU export
restrictions, and the plural of label kinds in error messages.
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import pandas as pd
import pytest

from riskengine import RiskEngineWarning, load_dataset, score
from riskengine.errors import UnknownLabelError

TINY = Path(__file__).resolve().parent / "fixtures" / "tiny"


def quiet_score(ds, method, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RiskEngineWarning)
        return score(ds, method=method, **params)


def test_price_uses_only_flows_with_a_value(tmp_path: Path) -> None:
    data = tmp_path / "tiny"
    shutil.copytree(TINY, data)
    trade = pd.read_csv(data / "trade.csv")
    japan = (
        (trade["mineral"] == "copper") & (trade["stage"] == "mining") & (trade["importer"] == "JPN")
    )
    base = quiet_score(load_dataset(data), "geopolrisk", years=[2024])
    before = (
        base.to_frame().set_index(["mineral", "stage", "country"]).loc[("copper", "mining", "JPN")]
    )
    # drop the value of Japan's flow from Australia (400 t): the price must come
    # from the other two flows only, the import risk must not change
    aus = japan & (trade["exporter"] == "AUS")
    kept = trade[japan & ~aus]
    trade.loc[aus, "value_usd"] = None
    trade.to_csv(data / "trade.csv", index=False)
    res = quiet_score(load_dataset(data), "geopolrisk", years=[2024])
    after = (
        res.to_frame().set_index(["mineral", "stage", "country"]).loc[("copper", "mining", "JPN")]
    )
    expected = kept["value_usd"].sum() / kept["quantity"].sum() / 1000.0
    assert after["price_usd_per_kg"] == pytest.approx(expected)
    assert after["import_risk"] == pytest.approx(before["import_risk"])
    assert any("quantity but no value" in n for n in res.notes)


def test_eu_export_restriction_on_an_unknown_mineral_is_an_error() -> None:
    ds = load_dataset(TINY)
    with pytest.raises(UnknownLabelError, match=r"unknown mineral: coppre\. Valid minerals: "):
        quiet_score(ds, "eu", export_restrictions={"CHL": {"coppre": 1.3}})
    # a known mineral outside the selection is fine
    quiet_score(ds, "eu", minerals=["cobalt"], export_restrictions={"CHL": {"copper": 1.3}})


@pytest.mark.parametrize(
    ("kind", "unknown", "start"),
    [
        ("country", ["ZZZ"], "unknown country: ZZZ. Valid countries: "),
        ("country", ["ZZZ", "YYY"], "unknown countries: ZZZ, YYY. Valid countries: "),
        ("mineral", ["x", "y"], "unknown minerals: x, y. Valid minerals: "),
        ("year", ["1800"], "unknown year: 1800. Valid years: "),
    ],
)
def test_label_kinds_are_pluralised(kind: str, unknown: list[str], start: str) -> None:
    assert str(UnknownLabelError(kind, unknown, ["a", "b"])).startswith(start)
