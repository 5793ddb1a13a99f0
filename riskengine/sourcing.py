r"""Labelled sourcing tables: who supplies whom, where refined imports' ore comes from.

These are the tables a dossier shows beside the scores, built from the same
sparse flows and the same refinery-feed rule as the composite method
(:func:`riskengine.methods.composite.composite`):

* :func:`trade_shares` - every bilateral flow with its share of the
  exporter's exports and of the importer's imports (a region such as
  ``EU27`` standing as one trader, its internal trade left out);
* :func:`refinery_feed` - each refiner's feed by origin: the mine output it
  keeps plus its imports of ore, concentrate and intermediates;
* :func:`supply_chain` - the links from ore origin through refiner to one
  importer, in contained tonnes (the Sankey of a country dossier);
* :func:`single_country_dependence` - the largest share of a country's (or a
  region's) consumption that comes from one other country, per mineral and
  stage: the 65 % benchmark of the EU Critical Raw Materials Act;
* :func:`region_impacts` - a ban sweep's shortfalls of a region's members
  summed into the region's.

Every quantity is contained content of the mineral (``basis`` of
``minerals.csv``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from riskengine import indices as ix
from riskengine.dataset import Dataset
from riskengine.dims import REGIONS, Stage
from riskengine.errors import UnknownLabelError, bad_argument
from riskengine.methods.composite import FEED_STAGES

#: The EU Critical Raw Materials Act's benchmark: at most this share of the EU's
#: consumption of a strategic raw material, at any stage of processing, from one
#: third country (Regulation (EU) 2024/1252, Article 5(1)(d)).
CRMA_THRESHOLD = 0.65

#: Minerals of the dataset that are strategic raw materials of the Act
#: (Regulation (EU) 2024/1252, Annex I, Section 1: bauxite/alumina/aluminium,
#: bismuth, boron, cobalt, copper, gallium, germanium, lithium, magnesium metal,
#: manganese, graphite, nickel, platinum-group metals, magnet rare earths,
#: silicon metal, titanium metal, tungsten).
CRMA_STRATEGIC: frozenset[str] = frozenset(
    {
        "bauxite", "alumina", "aluminium", "bismuth", "boron", "cobalt", "copper",
        "gallium", "germanium", "lithium", "magnesium", "manganese", "natural_graphite",
        "battery_graphite", "nickel", "platinum", "palladium", "rare_earths",
        "magnet_rare_earths", "silicon", "titanium", "tungsten",
    }
)  # fmt: skip


def _members(ds: Dataset, importer: str) -> tuple[str, list[str]]:
    """Return the dataset's label of a country or region and its member countries."""
    resolved = ds.resolve_countries([importer], regions=True) or []
    label = resolved[0]
    if label in REGIONS:
        return label, [m for m in REGIONS[label] if m in ds.countries]
    return label, [label]


def trade_shares(
    dataset: Dataset,
    *,
    minerals: Sequence[str] | str | None = None,
    stages: Sequence[str] | str | None = None,
    years: Sequence[int] | int | None = None,
    regions: Sequence[str] | None = None,
) -> pd.DataFrame:
    r"""Every bilateral flow with its share of the exporter's and the importer's trade.

    Parameters
    ----------
    dataset
        Dataset with trade.
    minerals, stages, years
        Restrict the flows (None = all).
    regions
        Regions of :data:`riskengine.dims.REGIONS` (``"EU27"``) that stand as
        one trader: their members' flows with the rest of the world are summed
        under the region's name and trade between members is left out.

    Returns
    -------
    pandas.DataFrame
        ``mineral, stage, year, exporter, importer, content_t, export_share,
        import_share``, flows with a positive quantity only, sorted by key
        and then by tonnes (largest first).

    Notes
    -----
    .. math::

        \text{export\_share}_{ei} = \frac{F_{ei}}{\sum_{i'} F_{ei'}}, \qquad
        \text{import\_share}_{ei} = \frac{F_{ei}}{\sum_{e'} F_{e'i}}

    over the flows of one mineral, stage and year (the destination and the
    import mix of :mod:`riskengine.indices`).
    """
    if not isinstance(dataset, Dataset):
        raise bad_argument("trade_shares", "dataset", "a Dataset", dataset)
    ds = dataset.sel(minerals=minerals, stages=stages, years=years)
    keys = ["mineral", "stage", "year"]
    frame = ds.trade_frame()
    frame = frame.loc[frame["content_t"] > 0, [*keys, "exporter", "importer", "content_t"]]
    if regions:
        relabel: dict[str, str] = {}
        for name in regions:
            label, members = _members(ds, name)
            relabel.update({m: label for m in members})
        for side in ("exporter", "importer"):
            frame[side] = frame[side].astype(str).replace(relabel)
        frame = frame[frame["exporter"] != frame["importer"]]
        frame = frame.groupby([*keys, "exporter", "importer"], as_index=False, sort=False).agg(
            content_t=("content_t", "sum")
        )
    frame = frame.reset_index(drop=True)
    exports = frame.groupby([*keys, "exporter"], sort=False)["content_t"].transform("sum")
    imports = frame.groupby([*keys, "importer"], sort=False)["content_t"].transform("sum")
    frame["export_share"] = frame["content_t"] / exports
    frame["import_share"] = frame["content_t"] / imports
    frame = frame.sort_values([*keys, "content_t"], ascending=[True, True, True, False])
    return frame.reset_index(drop=True)


def refinery_feed(dataset: Dataset, mineral: str, year: int) -> pd.DataFrame:
    r"""Each refiner's feed by origin, in contained tonnes.

    Parameters
    ----------
    dataset
        Dataset with mine production and trade.
    mineral
        Mineral id.
    year
        Year.

    Returns
    -------
    pandas.DataFrame
        ``refiner, origin, feed_t, share``: one row per refiner and origin
        with a positive feed; ``share`` sums to 1 over each refiner's rows.
        A country whose feed is unknown (no mine output kept, no feed
        imports) has no rows.

    Notes
    -----
    As in the composite's upstream factor
    (:func:`riskengine.indices.refinery_feed_mix`):

    .. math::

        \mathrm{feed}_{ek} = [k = e]\,\max(P^{mine}_e - X^{feed}_e, 0)
            + [k \ne e]\,F^{feed}_{ke}

    with :math:`F^{feed}` the flows of ore, concentrate and intermediates
    (:data:`FEED_STAGES`) and :math:`X^{feed}_e` their exports from
    :math:`e`: ore a country mines but ships abroad does not feed its own
    refineries.
    """
    ds = dataset.sel(minerals=[mineral], years=[year])
    n_c = len(ds.countries)
    feed_pos = ds.positions("stage", [s for s in FEED_STAGES if s in ds.stages])
    pairs = ds.pairs
    is_feed = np.isin(pairs.stage, feed_pos) & (pairs.content > 0)
    exporter = pairs.exporter[is_feed].astype(np.intp)
    importer = pairs.importer[is_feed].astype(np.intp)
    tonnes = pairs.content[is_feed]
    if Stage.MINING.value in ds.stages:
        mine = ds.production[0, ds.stages.get_loc(Stage.MINING.value), 0]
    else:
        mine = np.zeros(n_c)
    retained = ix.retained_output(mine, np.bincount(exporter, weights=tonnes, minlength=n_c))
    own = np.flatnonzero(retained > 0)
    refiner = np.concatenate([importer, own])
    origin = np.concatenate([exporter, own])
    feed = np.concatenate([tonnes, retained[own]])
    key = refiner * n_c + origin
    cells, inverse = np.unique(key, return_inverse=True)
    summed = np.bincount(inverse, weights=feed)
    totals = np.bincount(cells // n_c, weights=summed, minlength=n_c)
    labels = ds.countries.to_numpy()
    out = pd.DataFrame(
        {
            "refiner": labels[cells // n_c],
            "origin": labels[cells % n_c],
            "feed_t": summed,
            "share": summed / totals[cells // n_c],
        }
    )
    return out.sort_values(["refiner", "feed_t"], ascending=[True, False]).reset_index(drop=True)


def supply_chain(dataset: Dataset, importer: str, mineral: str, year: int) -> pd.DataFrame:
    r"""Links from ore origin through refiner to one importer, in contained tonnes.

    Parameters
    ----------
    dataset
        Dataset with production and trade.
    importer
        ISO3 code or name of a country, or a region (``"EU27"``), whose
        imports from outside it are followed.
    mineral
        Mineral id.
    year
        Year.

    Returns
    -------
    pandas.DataFrame
        One row per link: ``source``, ``source_role`` (``"origin"`` of ore,
        concentrate or intermediate; ``"refiner"``; ``"maker"`` of
        components), ``target``, ``target_role`` (``"refiner"`` or
        ``"importer"``), ``stage`` (the stage of the product that reaches the
        importer), ``content_t`` and ``assumed`` (True where a refiner's feed
        is unknown and the refiner is taken as its own origin, as the
        composite does).

    Notes
    -----
    Imports at the mining and intermediate stages are links from the
    exporter (an origin) to the importer; component imports from the maker
    to the importer. A refined import :math:`F^{ref}_{ei}` is the link
    refiner :math:`e` to importer :math:`i`, and it embodies feed from each
    origin :math:`k` in proportion to :math:`e`'s feed mix
    :math:`O_{ek}` (:func:`refinery_feed`): the links origin :math:`k` to
    refiner :math:`e` carry :math:`F^{ref}_{ei}\,O_{ek}`, so that what enters
    a refiner equals what it sends to the importer. This is the ore-origin
    exposure :math:`U_{ki} = \sum_e A^{ref}_{ei} O_{ek}` of
    :func:`riskengine.indices.upstream_dependency`, in tonnes.
    """
    if not isinstance(dataset, Dataset):
        raise bad_argument("supply_chain", "dataset", "a Dataset", dataset)
    label, _ = _members(dataset, importer)
    regions = [label] if label in REGIONS else None
    flows = trade_shares(dataset, minerals=[mineral], years=[year], regions=regions)
    flows = flows[flows["importer"] == label]
    roles = {
        Stage.MINING.value: "origin",
        Stage.INTERMEDIATE.value: "origin",
        Stage.REFINING.value: "refiner",
        Stage.COMPONENT.value: "maker",
    }
    direct = pd.DataFrame(
        {
            "source": flows["exporter"].astype(str).to_numpy(),
            "source_role": flows["stage"].astype(str).map(roles).fillna("origin").to_numpy(),
            "target": label,
            "target_role": "importer",
            "stage": flows["stage"].astype(str).to_numpy(),
            "content_t": flows["content_t"].to_numpy(),
            "assumed": False,
        }
    )
    refined = flows[flows["stage"] == Stage.REFINING.value]
    parts = [direct]
    if len(refined):
        feed = refinery_feed(dataset, mineral, year)
        bought = refined[["exporter", "content_t"]].astype({"exporter": str})
        known = bought.merge(feed, left_on="exporter", right_on="refiner", how="inner")
        parts.append(
            pd.DataFrame(
                {
                    "source": known["origin"].to_numpy(),
                    "source_role": "origin",
                    "target": known["refiner"].to_numpy(),
                    "target_role": "refiner",
                    "stage": Stage.REFINING.value,
                    "content_t": (known["content_t"] * known["share"]).to_numpy(),
                    "assumed": False,
                }
            )
        )
        unknown = bought[~bought["exporter"].isin(feed["refiner"])]
        parts.append(
            pd.DataFrame(
                {
                    "source": unknown["exporter"].to_numpy(),
                    "source_role": "origin",
                    "target": unknown["exporter"].to_numpy(),
                    "target_role": "refiner",
                    "stage": Stage.REFINING.value,
                    "content_t": unknown["content_t"].to_numpy(),
                    "assumed": True,
                }
            )
        )
    out = pd.concat([p for p in parts if len(p)], ignore_index=True) if len(direct) else direct
    out = out[out["content_t"] > 0]
    return out.sort_values(
        ["target_role", "content_t"], ascending=[True, False], kind="stable"
    ).reset_index(drop=True)


def single_country_dependence(
    dataset: Dataset,
    importer: str,
    *,
    years: Sequence[int] | int | None = None,
    minerals: Sequence[str] | str | None = None,
    threshold: float = CRMA_THRESHOLD,
) -> pd.DataFrame:
    r"""Find the largest share of a country's or region's consumption from one country.

    Parameters
    ----------
    dataset
        Dataset with production and trade.
    importer
        A country (ISO3 or name) or a region (``"EU27"``): for a region,
        production and trade of its members are summed and trade between
        members left out (a "third country" is any non-member).
    years, minerals
        Restrict the table (None = all).
    threshold
        The benchmark share (default :data:`CRMA_THRESHOLD`, 0.65).

    Returns
    -------
    pandas.DataFrame
        Per (mineral, stage, year) the importer imports at: ``production_t``,
        ``imports_t`` and ``exports_t`` (with third countries),
        ``consumption_t``, ``top_supplier``, ``top_supplier_t``,
        ``top_share``, ``above_threshold`` (``top_share > threshold``; NA
        where consumption is not positive), ``strategic`` (a strategic raw
        material of the Act, :data:`CRMA_STRATEGIC`) and ``basis``.

    Notes
    -----
    .. math::

        C = P + M - X, \qquad
        \text{top\_share} = \min\Big(\frac{\max_k F_{k}}{C}, 1\Big)

    with :math:`P` the production, :math:`M` and :math:`X` the imports from
    and exports to third countries, and :math:`F_k` the imports from third
    country :math:`k`. The share is capped at 1: where re-exports make one
    country's imports exceed apparent consumption, all of the consumption
    could come from it. A stage without production statistics
    (intermediate) has :math:`P = 0`.

    References
    ----------
    Regulation (EU) 2024/1252 (Critical Raw Materials Act), Article 5(1)(d)
    and Annex I.
    """
    if not isinstance(dataset, Dataset):
        raise bad_argument("single_country_dependence", "dataset", "a Dataset", dataset)
    label, members = _members(dataset, importer)
    ds = dataset.sel(minerals=minerals, years=years)
    regions = [label] if label in REGIONS else None
    flows = trade_shares(ds, regions=regions)
    keys = ["mineral", "stage", "year"]
    imports = flows[flows["importer"] == label]
    exports = flows[flows["exporter"] == label].groupby(keys, sort=False)["content_t"].sum()
    top = imports.sort_values([*keys, "content_t"], ascending=[True, True, True, False])
    top = top.drop_duplicates(keys).set_index(keys)
    table = imports.groupby(keys, sort=False)["content_t"].sum().rename("imports_t").to_frame()
    pos = ds.countries.get_indexer(pd.Index(members))
    production = ds.production[..., pos].sum(axis=-1)
    cells = [
        (ds.minerals.get_loc(m), ds.stages.get_loc(s), ds.years.get_loc(y))
        for m, s, y in table.index
    ]
    table["production_t"] = [float(production[c]) for c in cells]
    table["exports_t"] = exports.reindex(table.index).fillna(0.0)
    table["consumption_t"] = table["production_t"] + table["imports_t"] - table["exports_t"]
    table["top_supplier"] = top["exporter"].reindex(table.index).astype(str)
    table["top_supplier_t"] = top["content_t"].reindex(table.index)
    consumption = table["consumption_t"].where(table["consumption_t"] > 0)
    table["top_share"] = (table["top_supplier_t"] / consumption).clip(upper=1.0)
    table["above_threshold"] = (table["top_share"] > threshold).astype("boolean")
    table.loc[table["top_share"].isna(), "above_threshold"] = pd.NA
    table["strategic"] = [m in CRMA_STRATEGIC for m, _, _ in table.index]
    basis = ds.mineral_info["basis"] if "basis" in ds.mineral_info.columns else None
    table["basis"] = [
        str(basis.get(m)) if basis is not None and pd.notna(basis.get(m)) else "contained content"
        for m, _, _ in table.index
    ]
    table = table.reset_index()
    table["importer"] = label
    order = ["mineral", "stage", "year", "importer", "production_t", "imports_t", "exports_t"]
    rest = [c for c in table.columns if c not in order]
    return table[order + rest].sort_values(keys, kind="stable").reset_index(drop=True)


def region_impacts(impacts: pd.DataFrame, region: str) -> pd.DataFrame:
    r"""Sum a ban sweep's impacts on a region's members into the region's, per ban and stage.

    Parameters
    ----------
    impacts
        :attr:`riskengine.stress.sweeps.SweepResult.impacts`.
    region
        A region of :data:`riskengine.dims.REGIONS`.

    Returns
    -------
    pandas.DataFrame
        The impacts columns for ``country == region``: ``consumption_t``,
        ``blocked_t`` and ``supply_change_t`` summed over the members,
        ``shortfall_t`` and ``shortfall_pct`` of the region as a whole; the
        score columns are NaN (the sweep scores regions only with a method
        given regions).

    Notes
    -----
    Trade between members cancels out of the region's supply change
    :math:`dA_R = \sum_{i \in R} dA_i`, so a member that loses supply
    another member sends on is not counted twice:
    :math:`\text{shortfall}_R = \max(-dA_R, 0)`, in % of
    :math:`\sum_{i \in R} C_i`.
    """
    if region not in REGIONS:
        raise UnknownLabelError("region", [region], REGIONS)
    members = impacts[impacts["country"].isin(REGIONS[region])]
    keys = ["ban", "mineral", "stage", "exporter", "target", "severity", "affected_stage"]
    summed = members.groupby(keys, as_index=False, sort=False)[
        ["consumption_t", "blocked_t", "supply_change_t"]
    ].sum()
    summed["country"] = region
    summed["shortfall_t"] = np.maximum(-summed["supply_change_t"], 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        summed["shortfall_pct"] = np.where(
            summed["consumption_t"] > 0,
            100.0 * summed["shortfall_t"] / summed["consumption_t"],
            np.nan,
        )
    for column in ("score_baseline", "score_shocked", "score_change"):
        summed[column] = np.nan
    return summed[list(impacts.columns)]


__all__ = [
    "CRMA_STRATEGIC",
    "CRMA_THRESHOLD",
    "refinery_feed",
    "region_impacts",
    "single_country_dependence",
    "supply_chain",
    "trade_shares",
]
