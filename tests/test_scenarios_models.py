"""Scenario files: pydantic models, the committed JSON schema, error messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from riskengine.errors import ScenarioError
from riskengine.scenarios.loading import find_scenario, load_scenario, parse_scenario
from riskengine.scenarios.models import (
    SHOCK_TYPES,
    ExportBan,
    ExportQuota,
    Scenario,
    StockpileRelease,
    json_schema,
)

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "scenarios"
SCHEMA = ROOT / "scenarios" / "schema.json"

HEAD = "name: t\ndescription: d\nyear: 2024\nsources: [s]\n"


def test_schema_file_matches_the_models():
    committed = json.loads(SCHEMA.read_text(encoding="utf-8"))
    assert committed == json_schema(), (
        "scenarios/schema.json is out of date with riskengine/scenarios/models.py; "
        "regenerate it with `riskengine scenario schema --output scenarios/schema.json`"
    )


def test_schema_lists_every_shock_type_with_its_fields():
    schema = json_schema()
    shocks = schema["properties"]["shocks"]["items"]
    assert shocks["discriminator"]["propertyName"] == "type"
    assert sorted(shocks["discriminator"]["mapping"]) == sorted(SHOCK_TYPES)
    ban = schema["$defs"]["ExportBan"]
    assert ban["additionalProperties"] is False
    assert set(ban["required"]) == {"type", "exporters", "minerals", "stage"}
    assert ban["properties"]["severity"]["maximum"] == 1.0
    assert schema["title"] == "riskengine scenario"
    assert set(schema["required"]) == {"name", "description", "year", "sources"}


def test_minimal_file_has_no_shocks_and_defaults():
    sc = load_scenario(FIXTURES / "minimal.yaml")
    assert sc.shocks == []
    assert sc.months == 12.0
    assert sc.market.deflection == 1.0
    assert sc.market.elasticities == {}
    assert sc.origin == str(FIXTURES / "minimal.yaml")


def test_single_labels_become_lists_and_defaults_apply():
    sc = parse_scenario(
        HEAD + "shocks:\n  - {type: export_ban, exporters: CHN, minerals: cobalt, stage: both}\n"
    )
    ban = sc.shocks[0]
    assert isinstance(ban, ExportBan)
    assert ban.exporters == ["CHN"]
    assert ban.minerals == ["cobalt"]
    assert ban.importers == "all"
    assert ban.severity == 1.0
    assert ban.stages_of() == ["mining", "refining"]


def test_every_problem_is_reported_with_file_line_and_path():
    with pytest.raises(ScenarioError) as err:
        load_scenario(FIXTURES / "invalid_fields.yaml")
    text = str(err.value)
    f = str(FIXTURES / "invalid_fields.yaml")
    assert text.startswith(f"{f}: 11 problems:")
    expected = [
        f"{f}:6: market.deflection: input should be less than or equal to 1 (got 2)",
        f"{f}:8: market.elasticities.cobalt.foo: unexpected field 'foo'; valid fields: eta",
        f"{f}:13: shocks[0].stage: input should be 'mining', 'intermediate', 'refining', "
        f"'component' or 'both' (got 'refinin')",
        f"{f}:15: shocks[0].severity: input should be less than or equal to 1 (got 1.5)",
        f"{f}:16: shocks[0].colour: unexpected field 'colour'; valid fields: label, type, "
        f"exporters, minerals, stage, importers, severity",
        f"{f}:17: shocks[1]: unknown shock type 'export_bann'; valid types: "
        + ", ".join(SHOCK_TYPES),
        f"{f}:18: shocks[2]: the shock has no 'type'; valid types: " + ", ".join(SHOCK_TYPES),
        f"{f}:21: shocks[3].mineral: expected a mineral id in lower snake case "
        f"(e.g. rare_earths), got 'Cobalt'",
        f"{f}:24: shocks[4].holders: list should have at least 1 item after validation, "
        f"not 0 (got [])",
        f"{f}:33: shocks[5].importers: input should be a valid list or 'all' (got 5)",
    ]
    for line in expected:
        assert line in text


def test_cross_field_rules():
    with pytest.raises(ScenarioError, match=r"<s>:\d+: shocks\[0\]: give exactly one of"):
        parse_scenario(
            HEAD + "shocks:\n  - {type: export_quota, exporter: COD, mineral: cobalt, "
            "stage: refining, cap_tonnes: 5, cap_fraction: 0.5}\n",
            "<s>",
        )
    with pytest.raises(ScenarioError, match="give exactly one of tonnes and days_of_consumption"):
        parse_scenario(
            HEAD + "shocks:\n  - {type: stockpile_release, holders: JPN, mineral: cobalt, "
            "stage: refining}\n"
        )


def test_yaml_syntax_error_names_the_line():
    with pytest.raises(ScenarioError) as err:
        load_scenario(FIXTURES / "invalid_yaml.yaml")
    assert str(err.value).startswith(f"{FIXTURES / 'invalid_yaml.yaml'}:8: invalid YAML")


def test_duplicate_keys_are_errors():
    with pytest.raises(ScenarioError) as err:
        load_scenario(FIXTURES / "duplicate_key.yaml")
    assert (
        f"{FIXTURES / 'duplicate_key.yaml'}:11: shocks[0].severity: duplicate key "
        f"(first on line 10)" in str(err.value)
    )


def test_document_must_be_a_mapping():
    with pytest.raises(ScenarioError, match="expected a YAML mapping"):
        parse_scenario("- just\n- a list\n")


def test_missing_required_fields():
    with pytest.raises(ScenarioError) as err:
        parse_scenario("name: x\n", "f.yaml")
    text = str(err.value)
    for name in ("description", "year", "sources"):
        assert f"f.yaml:1: {name}: missing required field {name!r}" in text


def test_missing_file_and_unknown_bundled_name():
    with pytest.raises(ScenarioError, match="no such scenario file"):
        find_scenario(FIXTURES / "nope.yaml")
    with pytest.raises(ScenarioError, match=r"no bundled scenario of that name\. Bundled"):
        find_scenario("no-such-scenario")


def test_models_are_frozen_and_forbid_extra_in_python():
    quota = ExportQuota(
        type="export_quota", exporter="COD", mineral="cobalt", stage="refining", cap_tonnes=1
    )
    with pytest.raises(ValueError, match="frozen"):
        quota.cap_tonnes = 2  # type: ignore[misc]
    with pytest.raises(ValueError, match="Extra inputs"):
        StockpileRelease.model_validate(
            {"type": "stockpile_release", "holders": ["JPN"], "mineral": "cobalt",
             "stage": "refining", "tonnes": 1, "extra": 1}
        )  # fmt: skip
    sc = Scenario(name="a", description="b", year=2024, sources=["x"], shocks=[quota])
    assert sc.locate(("shocks", 0, "exporter")) == "shocks[0].exporter"
