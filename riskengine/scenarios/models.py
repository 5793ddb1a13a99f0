"""Pydantic models of a scenario file.

A scenario is a YAML document validated by :class:`Scenario`: a name, a
description, the baseline ``year``, the ``sources`` of the real event it
encodes, an optional ``duration_months``, market parameters and a list of
shocks. Shocks form a union discriminated on their ``type`` field:

===========================  ====================================================
``export_ban``               :class:`ExportBan`
``export_quota``             :class:`ExportQuota`
``production_disruption``    :class:`ProductionDisruption`
``new_supply``               :class:`NewSupply`
``demand_shock``             :class:`DemandShock`
``stockpile_release``        :class:`StockpileRelease`
``partnership``              :class:`Partnership`
===========================  ====================================================

Every model forbids unknown fields, so a misspelt key is an error rather
than a silently ignored line. The JSON schema committed as
``scenarios/schema.json`` is generated from these models by
:func:`json_schema`; a test fails when the two drift apart. The semantics of
every field are in ``scenarios/README.md``; the mechanics in
:mod:`riskengine.scenarios.engine`.

Countries are written as ISO 3166-1 alpha-3 codes (``CHN``) or any name
:func:`riskengine.io.countries.to_iso3` knows (``China``); importer lists also
accept the region names of :data:`riskengine.dims.REGIONS` (``EU27``).
Labels are checked against the dataset when the scenario runs, not here, so
that one file can be validated without data.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, model_validator

MINERAL_PATTERN = r"^[a-z][a-z0-9_]*$"

#: Names of the shock types, in documentation order.
SHOCK_TYPES: tuple[str, ...] = (
    "export_ban",
    "export_quota",
    "production_disruption",
    "new_supply",
    "demand_shock",
    "stockpile_release",
    "partnership",
)

StageName = Literal["mining", "intermediate", "refining", "component"]
#: A stage, or ``both``: mining and refining.
StageChoice = Literal["mining", "intermediate", "refining", "component", "both"]


def _listify(value: Any) -> Any:
    """Accept a single label where a list is expected (``CHN`` -> ``[CHN]``)."""
    if isinstance(value, str) and value not in ("all", "world"):
        return [value]
    return value


Country = Annotated[str, Field(min_length=2, description="ISO3 code or country name")]
Mineral = Annotated[
    str, Field(pattern=MINERAL_PATTERN, description="mineral id, lower snake case (cobalt)")
]
CountryList = Annotated[list[Country], Field(min_length=1)]
MineralList = Annotated[list[Mineral], Field(min_length=1)]
All = Literal["all"]
World = Literal["world"]
Countries = Annotated[
    CountryList, BeforeValidator(_listify, json_schema_input_type=Country | CountryList)
]
Minerals = Annotated[
    MineralList, BeforeValidator(_listify, json_schema_input_type=Mineral | MineralList)
]
Importers = Annotated[
    CountryList | All,
    BeforeValidator(_listify, json_schema_input_type=All | Country | CountryList),
]
DemandScope = Annotated[
    CountryList | World,
    BeforeValidator(_listify, json_schema_input_type=World | Country | CountryList),
]
Fraction = Annotated[float, Field(ge=0.0, le=1.0)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Shock(_Model):
    label: str | None = Field(
        default=None, description="Free text shown in reports: what this shock stands for."
    )

    def minerals_of(self) -> list[str]:
        """Mineral ids the shock acts on."""
        minerals = getattr(self, "minerals", None)
        if minerals is not None:
            return list(minerals)
        return [str(getattr(self, "mineral"))]  # noqa: B009 - every other shock has it

    def stages_of(self) -> list[str]:
        """Stages the shock acts on (``both`` expanded)."""
        stage = str(getattr(self, "stage"))  # noqa: B009 - every shock has a stage
        return ["mining", "refining"] if stage == "both" else [stage]


class ExportBan(_Shock):
    """Exporters stop (part of) their exports of some minerals to some importers.

    The flows ``F[m, s, e, i]`` from each exporter to each targeted importer are
    scaled by ``1 - severity``. When only some importers are targeted, the
    blocked volume is offered to the exporter's other buyers and the targeted
    importers buy from the remaining suppliers (trade deflection, see
    :mod:`riskengine.scenarios.market`).
    """

    type: Literal["export_ban"]
    exporters: Countries = Field(description="Banning exporter(s).")
    minerals: Minerals = Field(description="Mineral id(s) the ban covers.")
    stage: StageChoice = Field(
        description="Stage of the traded product: mining, intermediate, refining, component, "
        "or both (mining and refining)."
    )
    importers: Importers = Field(
        default="all",
        description="Targeted importers (ISO3, names or regions such as EU27) or 'all'.",
    )
    severity: Fraction = Field(
        default=1.0,
        description="Fraction of the targeted flows stopped, 0 (nothing) to 1 (full ban).",
    )


class ExportQuota(_Shock):
    """An exporter caps its total exports of one mineral and stage.

    Give exactly one of ``cap_tonnes`` (tonnes per year, in the unit of the
    dataset's trade quantities) and ``cap_fraction`` (of the exporter's
    baseline exports). A cap above current exports changes nothing; a binding
    cap scales every destination down in proportion. Withheld volume stays
    in the exporting country.
    """

    type: Literal["export_quota"]
    exporter: Country = Field(description="Exporter applying the quota.")
    mineral: Mineral
    stage: StageName
    cap_tonnes: float | None = Field(
        default=None, ge=0.0, description="Cap on total exports, tonnes per year."
    )
    cap_fraction: Fraction | None = Field(
        default=None, description="Cap as a fraction of the exporter's baseline exports (0-1)."
    )

    @model_validator(mode="after")
    def _one_cap(self) -> ExportQuota:
        if (self.cap_tonnes is None) == (self.cap_fraction is None):
            raise ValueError("give exactly one of cap_tonnes and cap_fraction")
        return self


class ProductionDisruption(_Shock):
    """A country loses a fraction of its production of one mineral and stage.

    Production ``P[m, s, c]`` is scaled by ``1 - fraction_lost``; the loss
    is taken from exports and domestic use in proportion to the share of its
    output it exports. A mining disruption then propagates to the refining
    stage of its own refineries and of its ore buyers.
    """

    type: Literal["production_disruption"]
    country: Country
    mineral: Mineral
    stage: StageName
    fraction_lost: Fraction = Field(description="Fraction of production lost, 0-1.")


class NewSupply(_Shock):
    """A country adds production (new mine, refinery, capacity restart).

    The added tonnes first cover the country's own shortfall, then are sold to
    importers short of supply in proportion to their shortfall; what nobody
    needs stays in the country and lowers the price.
    """

    type: Literal["new_supply"]
    country: Country
    mineral: Mineral
    stage: StageName
    tonnes_per_year: float = Field(ge=0.0, description="Added output, tonnes per year.")


class DemandShock(_Shock):
    """Consumption of a mineral changes (new technology, substitution, recession).

    Demand of the named importers (or of the whole world) is their baseline
    apparent consumption times ``multiplier``. Flows do not change; the
    extra demand shows as shortfall and moves the price.
    """

    type: Literal["demand_shock"]
    mineral: Mineral
    stage: StageChoice = Field(
        default="both",
        description="Stage whose consumption changes (both: mining and refining).",
    )
    importers: DemandScope = Field(
        default="world", description="Importers whose demand changes, or 'world'."
    )
    multiplier: float = Field(ge=0.0, le=100.0, description="Demand multiplier, 1 = unchanged.")


class StockpileRelease(_Shock):
    """Holders draw on strategic stocks to cover their shortfall.

    Give exactly one of ``tonnes`` (shared by the holders, in proportion to
    their shortfall) and ``days_of_consumption`` (each holder releases that
    many days of its own baseline consumption). The stock is released evenly
    over the scenario's ``duration_months`` (12 when not given); holders draw
    only what covers their shortfall.
    """

    type: Literal["stockpile_release"]
    holders: Countries = Field(description="Countries releasing stocks.")
    mineral: Mineral
    stage: StageName
    tonnes: float | None = Field(default=None, ge=0.0, description="Tonnes available in all.")
    days_of_consumption: float | None = Field(
        default=None, ge=0.0, le=3650.0, description="Stock per holder, in days of its consumption."
    )

    @model_validator(mode="after")
    def _one_size(self) -> StockpileRelease:
        if (self.tonnes is None) == (self.days_of_consumption is None):
            raise ValueError("give exactly one of tonnes and days_of_consumption")
        return self


class Partnership(_Shock):
    """A share of a partner's exports is redirected to one importer.

    ``share`` of the partner's exports to every other buyer goes to the
    importer instead. The importer then buys less from its other suppliers,
    whose freed volume goes to the buyers the partner no longer serves.
    """

    type: Literal["partnership"]
    importer: Country = Field(description="Importer securing supply.")
    partner: Country = Field(description="Exporting partner.")
    mineral: Mineral
    stage: StageName
    share: Fraction = Field(
        description="Fraction of the partner's exports to other buyers redirected to the importer."
    )


Shock = Annotated[
    ExportBan
    | ExportQuota
    | ProductionDisruption
    | NewSupply
    | DemandShock
    | StockpileRelease
    | Partnership,
    Field(discriminator="type"),
]


class Elasticity(_Model):
    """Short-run price elasticity of one mineral, overriding ``market_parameters.csv``."""

    eta: float = Field(
        gt=0.0,
        le=10.0,
        description="Short-run price elasticity eta = e_supply - e_demand of the two-region "
        "price model (> 0); replaces the central, low and high eta of the mineral.",
    )


class Market(_Model):
    """Parameters of the market response."""

    deflection: Fraction = Field(
        default=1.0,
        description="Fraction of the volume a targeted ban blocks that is offered to the "
        "exporter's other buyers (trade deflection); 0 keeps it all in the exporting country.",
    )
    elasticities: dict[Annotated[str, Field(pattern=MINERAL_PATTERN)], Elasticity] = Field(
        default_factory=dict,
        description="Per-mineral short-run price elasticity eta overriding "
        "riskengine/market_parameters.csv.",
    )


class Scenario(_Model):
    """A what-if scenario: shocks applied to one baseline year of a dataset.

    Build one with :func:`riskengine.load_scenario` (from YAML, with errors
    naming file and line) or directly from Python objects.
    """

    name: str = Field(min_length=1, description="Short title.")
    description: str = Field(min_length=1, description="What the scenario encodes and how.")
    year: int = Field(ge=1900, le=2100, description="Baseline year of the dataset.")
    sources: list[Annotated[str, Field(min_length=1)]] = Field(
        min_length=1, description="The real events encoded (who, what, date, reference)."
    )
    duration_months: float | None = Field(
        default=None,
        gt=0.0,
        le=120.0,
        description="How long the shocks last; stockpiles are released over it (default 12).",
    )
    hypothetical: bool = Field(default=False, description="True when no such event has happened.")
    market: Market = Field(default_factory=Market)
    shocks: list[Shock] = Field(default_factory=list)

    _origin: str | None = PrivateAttr(default=None)
    _lines: dict[tuple[str | int, ...], int] = PrivateAttr(default_factory=dict)

    @property
    def origin(self) -> str | None:
        """File the scenario was read from (None when built in Python)."""
        return self._origin

    def locate(self, path: tuple[str | int, ...]) -> str:
        """Describe where ``path`` is: ``file:line: shocks[2].exporter``.

        Parameters
        ----------
        path
            Keys and list positions from the document root.
        """
        where = format_path(path)
        line = line_of(self._lines, path)
        if self._origin is None:
            return where
        return f"{self._origin}:{line}: {where}" if line else f"{self._origin}: {where}"

    @property
    def months(self) -> float:
        """Duration in months (12 when not given)."""
        return 12.0 if self.duration_months is None else float(self.duration_months)


def format_path(path: tuple[str | int, ...]) -> str:
    """Render a location as ``shocks[2].exporter``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(document)"


def line_of(lines: dict[tuple[str | int, ...], int], path: tuple[str | int, ...]) -> int | None:
    """Line of ``path`` or of its nearest recorded parent."""
    for n in range(len(path), -1, -1):
        if path[:n] in lines:
            return lines[path[:n]]
    return None


def json_schema() -> dict[str, Any]:
    """JSON schema of a scenario file, as committed in ``scenarios/schema.json``."""
    schema = Scenario.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "riskengine scenario"
    return schema


#: Fields naming countries and minerals, per shock type, for label checks.
COUNTRY_FIELDS: tuple[str, ...] = (
    "exporters",
    "exporter",
    "importers",
    "country",
    "holders",
    "importer",
    "partner",
)
MINERAL_FIELDS: tuple[str, ...] = ("minerals", "mineral")
