r"""Market response to a shock: trade deflection, re-sourcing and the price.

Everything here works on one mineral and stage of one year: a production
vector ``P[c]`` and a flow matrix ``F[e, i]`` (exporter ``e`` to importer
``i``) in tonnes per year. Functions return new arrays and never let a
quantity go negative.

Trade deflection (targeted bans)
--------------------------------
A ban that targets some importers blocks ``B[e, i]``. A fraction ``delta``
(``market.deflection``) of exporter ``e``'s blocked volume is offered to its
other buyers ``j`` in proportion to what they already buy from it. A buyer
takes extra volume only up to what it can displace - its imports from
suppliers not involved in any restriction plus its own production kept at
home - and displaces exactly what it takes, so its consumption is unchanged.
The displaced tonnes are freed at those suppliers ``k`` and go to the
targeted importers, in proportion to what each lost from ``e``:

.. math::

    A_{ej} &= \min\Bigl(1, \frac{cap_j}{\sum_{e'} a_{e'j}}\Bigr) a_{ej},
        \qquad a_{ej} = \delta \sum_i B_{ei}\, \frac{F_{ej}}{\sum_{j'} F_{ej'}} \\
    F_{ej} &\mathrel{+}= A_{ej}, \qquad
    F_{kj} \mathrel{-}= \frac{F_{kj}}{cap_j} \sum_e A_{ej}, \qquad
    F_{ki} \mathrel{+}= \sum_e \Bigl(\sum_j A_{ej} \frac{F_{kj}}{cap_j}\Bigr)
        \frac{B_{ei}}{\sum_{i'} B_{ei'}}

Mass is conserved: every deflected tonne arrives at a buyer and the same
tonnage reaches a targeted importer; what is not deflected stays in the
exporting country (``withheld``) and is the targeted importers' shortfall.

Price
-----
The price of a restriction is the two-region model of
:func:`two_region_price` (``docs/methods.md``, "Two-region market model and
backtest"): the volume the restricting countries keep from the world market
raises the price outside and lowers it inside, over the shock's duration,
net of stocks, front-loading and leakage, with a demand elasticity that
rises with the price. Its parameters are in ``riskengine/market_parameters.csv``
(:func:`market_parameters`). How the engine measures the withheld volume and
the extra outside demand is in :func:`riskengine.scenarios.engine.simulate`
("Price").
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import ArrayLike
    from scipy import sparse

logger = logging.getLogger(__name__)


# ------------------------------------------------------------ re-routing
# Every function takes optional leading batch axes: ``F[..., e, i]``, ``P[..., c]``.


def block(flows: np.ndarray, pairs: np.ndarray, severity: np.ndarray | float) -> np.ndarray:
    """Scale the banned flows down by ``severity``, in place; return the blocked tonnes.

    ``B = severity F`` on the ``pairs`` (boolean ``[..., e, i]``), 0 elsewhere;
    ``F - B`` never below 0. ``severity`` is a number or ``[...]`` per member
    of the batch.
    """
    sev = np.asarray(severity, dtype=float)[..., None, None]
    blocked = np.where(pairs, flows * sev, 0.0)
    flows -= blocked
    np.maximum(flows, 0.0, out=flows)
    return blocked


def displacement_capacity(
    flows: np.ndarray, production: np.ndarray, eligible: np.ndarray
) -> np.ndarray:
    """Return what each buyer can stop taking from its sources, ``Fx[..., k, j]``.

    Parameters
    ----------
    flows
        ``F[..., k, j]`` (tonnes).
    production
        ``P[..., c]`` (tonnes).
    eligible
        Boolean ``[..., k]``: suppliers that may be displaced (not restricting,
        not short of supply themselves).

    Returns
    -------
    ndarray
        ``Fx[..., k, j]``: imports of ``j`` from eligible ``k`` off the
        diagonal, and on the diagonal ``j``'s own production kept at home,
        ``max(P_j - X_j, 0)``, when ``j`` is eligible.
    """
    n = flows.shape[-1]
    diag = np.arange(n)
    fx = np.where(eligible[..., :, None], flows, 0.0)
    kept = np.maximum(production - flows.sum(axis=-1), 0.0)
    fx[..., diag, diag] = np.where(eligible, kept, 0.0)
    return fx


def displace(
    flows: np.ndarray,
    capacity: np.ndarray,
    arrivals: np.ndarray,
    loss_weights: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Buyers who received extra volume stop buying it elsewhere; losers get it.

    Parameters
    ----------
    flows
        ``F[..., k, j]``, already including the arrivals.
    capacity
        ``Fx[..., k, j]`` from :func:`displacement_capacity`.
    arrivals
        ``A[..., e, j]``: volume from source ``e`` that buyer ``j`` displaces
        (``sum_e A[e, j] <= sum_k Fx[k, j]``).
    loss_weights
        ``W[..., e, i]``: how the volume freed on account of source ``e`` is
        shared among the importers who lost supply (rows sum to 1 where ``e``
        gave anything).

    Returns
    -------
    flows : ndarray
        ``F`` after displacement (``F[k, j]`` lowered) and re-sourcing
        (``F[k, i]`` raised).
    moved : ndarray
        Tonnes re-sourced, per member of the batch.
    """
    n = flows.shape[-1]
    diag = np.arange(n)
    cap = capacity.sum(axis=-2, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(cap > 0, capacity / cap, 0.0)  # [..., k, j]
    wanted = arrivals.sum(axis=-2, keepdims=True)  # [..., 1, j]
    on_diag = flows[..., diag, diag].copy()
    out = np.maximum(flows - frac * wanted, 0.0)
    out[..., diag, diag] = on_diag
    # only the sources that gave anything free volume: a ban's own exporters, so the
    # products run over those rows of each member (zero rows add nothing)
    gives = (arrivals != 0).any(axis=-1)  # [..., e]
    width = int(gives.sum(axis=-1).max(initial=0))
    rows = np.argsort(~gives, axis=-1, kind="stable")[..., :width, None]
    weights = np.broadcast_to(loss_weights, (*arrivals.shape[:-2], *loss_weights.shape[-2:]))
    freed = np.take_along_axis(arrivals, rows, axis=-2) @ np.swapaxes(frac, -1, -2)  # [..., e, k]
    gained = np.swapaxes(freed, -1, -2) @ np.take_along_axis(weights, rows, axis=-2)  # [..., k, i]
    gained[..., diag, diag] = 0.0
    out += gained
    return out, gained.sum(axis=(-2, -1))


@dataclass
class Deflection:
    """What trade deflection did to one mineral and stage (tonnes per year).

    Per member of the batch: ``blocked``, ``deflected`` and ``withheld``
    ``[...]``, and ``withheld_by_exporter`` ``[..., e]``, the blocked volume
    each exporter kept.
    """

    blocked: np.ndarray
    deflected: np.ndarray
    withheld: np.ndarray
    withheld_by_exporter: np.ndarray


def deflect(
    flows: np.ndarray,
    production: np.ndarray,
    blocked: np.ndarray,
    targeted: np.ndarray,
    restricted: np.ndarray,
    delta: float,
) -> tuple[np.ndarray, Deflection]:
    """Re-route the volume that targeted bans block (see the module notes).

    Parameters
    ----------
    flows
        ``F[..., e, i]`` after the bans.
    production
        ``P[..., c]``.
    blocked
        ``B[..., e, i]``: tonnes the bans removed from each flow.
    targeted
        Boolean ``[..., e, i]``: pairs under a ban (severity > 0).
    restricted
        Boolean ``[..., c]``: countries restricting exports of this product
        (banning or under a quota); they are not displaced.
    delta
        Fraction of the blocked volume offered to other buyers.

    Returns
    -------
    flows : ndarray
        ``F`` after deflection and re-sourcing.
    ledger : Deflection
        Blocked, deflected and withheld tonnes; ``blocked = deflected + withheld``.
    """
    by_exporter = blocked.sum(axis=-1)
    total = by_exporter.sum(axis=-1)
    ledger = Deflection(
        blocked=total, deflected=np.zeros_like(total), withheld=total.copy(),
        withheld_by_exporter=by_exporter,
    )  # fmt: skip
    if not (total > 0).any() or delta <= 0:
        return flows, ledger
    n = flows.shape[-1]
    off = ~np.eye(n, dtype=bool)
    losers = targeted.any(axis=-2)  # [..., i]
    eligible = ~losers & ~restricted  # [..., j]: recipients and displaceable sources
    buyer = np.where(eligible[..., None, :] & off, flows, 0.0)  # [..., e, j]
    row = buyer.sum(axis=-1, keepdims=True)
    offer = delta * by_exporter[..., None]
    with np.errstate(divide="ignore", invalid="ignore"):
        desired = np.where(row > 0, offer * buyer / row, 0.0)  # [..., e, j]
    capacity = displacement_capacity(flows, production, eligible)
    cap = capacity.sum(axis=-2, keepdims=True)
    want = desired.sum(axis=-2, keepdims=True)
    scale = np.ones_like(want)
    np.divide(cap, want, out=scale, where=want > cap)
    arrivals = desired * scale
    with np.errstate(divide="ignore", invalid="ignore"):
        weights = np.where(by_exporter[..., None] > 0, blocked / by_exporter[..., None], 0.0)
    out, _ = displace(flows + arrivals, capacity, arrivals, weights)
    kept = np.maximum(by_exporter - arrivals.sum(axis=-1), 0.0)
    return out, Deflection(
        blocked=total, deflected=arrivals.sum(axis=(-2, -1)), withheld=kept.sum(axis=-1),
        withheld_by_exporter=kept,
    )  # fmt: skip


@dataclass
class Redirect:
    """What a partnership did (tonnes per year)."""

    redirected: float = 0.0
    resourced: float = 0.0
    surplus: float = 0.0


def redirect(
    flows: np.ndarray,
    production: np.ndarray,
    importer: int,
    partner: int,
    share: float,
    restricted: np.ndarray,
    delta: float,
) -> tuple[np.ndarray, Redirect]:
    """Send ``share`` of a partner's exports to other buyers to one importer.

    The importer then displaces up to ``delta`` of the extra volume from its
    other eligible sources (:func:`displace`), and the freed tonnes go to the
    buyers the partner no longer serves, in proportion to what each lost.
    What the importer cannot displace is its surplus.

    Parameters
    ----------
    flows, production
        ``F[e, i]`` and ``P[c]``.
    importer, partner
        Positions on the country axis.
    share
        Fraction of the partner's exports to others that is redirected.
    restricted
        Boolean ``[c]``: countries restricting exports of this product.
    delta
        Fraction of the extra volume the importer displaces elsewhere.
    """
    n = len(flows)
    others = np.ones(n, dtype=bool)
    others[[importer, partner]] = False
    moved = np.where(others, flows[partner] * share, 0.0)
    total = float(moved.sum())
    ledger = Redirect(redirected=total)
    if total <= 0:
        return flows, ledger
    out = flows.copy()
    out[partner] -= moved
    out[partner, importer] += total
    eligible = ~restricted & ~(moved > 0)
    eligible[partner] = False
    capacity = displacement_capacity(out, production, eligible)
    capacity[:, [c for c in range(n) if c != importer]] = 0.0
    cap = float(capacity[:, importer].sum())
    take = min(delta * total, cap)
    arrivals = np.zeros((1, n))
    arrivals[0, importer] = take
    weights = (moved / total)[None, :]
    out, moved_on = displace(out, capacity, arrivals, weights)
    ledger.resourced = float(moved_on)
    ledger.surplus = max(total - ledger.resourced, 0.0)
    return out, ledger


def reexport_share(flows0: np.ndarray | sparse.csr_array, production0: np.ndarray) -> np.ndarray:
    """Share of its baseline supply each country exported: ``min(X / (P + M), 1)``, 0 without."""
    imports0 = np.asarray(flows0.sum(axis=0)).ravel()
    exports0 = np.asarray(flows0.sum(axis=1)).ravel()
    supply0 = production0 + imports0
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(supply0 > 0, np.clip(exports0 / supply0, 0.0, 1.0), 0.0)


def pass_tolerance(exports0: np.ndarray) -> float:
    """Tonnes to which the pass-through's bounds are tested: ``1e-12`` of the baseline's exports.

    At least ``1e-12`` t; the same for every member of a batch.
    """
    return 1e-12 * max(float(np.sum(exports0)), 1.0)


def _fixed_point(
    start: np.ndarray,
    dest: np.ndarray,
    lost: np.ndarray,
    share: np.ndarray,
    tol: float,
    k_inv: np.ndarray | None = None,
) -> np.ndarray:
    r"""Tonnes each country passes on: the fixed point of the pass-through (:func:`pass_through`).

    With :math:`S_c` a country's exports before pass-through (``start``),
    :math:`A_{cj}` the share of them going to :math:`j` (``dest``, rows sum
    to 1), :math:`L_c` the imports it lost to the shocks (``lost``) and
    :math:`x_c` its re-export share, the tonnes passed on solve

    .. math::

        P_c = \min\bigl(x_c \max(L_c + (A^T P)_c, 0),\ S_c\bigr)

    (a loss passed on by a supplier is a loss to its buyers). Where neither
    bound binds this is the linear system :math:`(I - \mathrm{diag}(x) A^T) P
    = x \circ L`, solved directly; the countries at a bound are found by
    an active set. ``start``/``lost`` are ``[k, n]``; ``dest`` is ``[n, n]``
    (shared by the batch: one factorisation, ``k_inv`` if already made) or
    ``[k, n, n]``. Bounds are tested to ``tol`` tonnes (:func:`pass_tolerance`
    of the baseline, so that a member's result never depends on the batch).
    """
    k, n = start.shape
    x = np.minimum(share, 1.0 - 1e-9)  # a closed ring of pure re-exporters stays solvable
    passed = np.zeros((k, n))
    todo = np.arange(k)
    if dest.ndim == 2:
        passed, todo = _shared_fixed_point(start, dest, lost, x, tol, k_inv)
    for b in todo:
        a = dest if dest.ndim == 2 else dest[b]
        capped = np.zeros(n, dtype=bool)
        idle = x <= 0
        p = np.zeros(n)
        for _ in range(n + 2):
            free = ~capped & ~idle
            p = np.where(capped, start[b], 0.0)
            fixed_in = lost[b] + p @ a  # loss from what the bounded countries pass on
            f = np.flatnonzero(free)
            if len(f):
                system = np.eye(len(f)) - x[f, None] * a[np.ix_(f, f)].T
                p[f] = np.linalg.solve(system, x[f] * fixed_in[f])
            loss = lost[b] + p @ a
            new_capped = (x * loss >= start[b]) & (x > 0)
            new_idle = (x <= 0) | (loss <= 0)
            if (new_capped == capped).all() and (new_idle == idle).all():
                break
            capped, idle = new_capped, new_idle & ~new_capped
        passed[b] = np.clip(p, 0.0, start[b])
    return np.clip(passed, 0.0, start)


def _shared_fixed_point(
    start: np.ndarray,
    dest: np.ndarray,
    lost: np.ndarray,
    x: np.ndarray,
    tol: float,
    k_inv: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Solve the fixed point of :func:`_fixed_point` for a batch that shares ``dest``.

    With :math:`K = I - \mathrm{diag}(x) A^T` inverted once, the solution
    without bounds is :math:`P^0 = K^{-1}(x \circ L)`. A member whose
    countries :math:`C` are held at their exports :math:`S_C` adds a
    correction on :math:`C` only: :math:`P = P^0 + K^{-1}_{:,C}\, r` with
    :math:`K^{-1}_{CC}\, r = S_C - P^0_C`, a system of the size of
    :math:`C` (a few countries), solved for all members at once. ``C`` grows
    and shrinks until every country is consistent. Returns the solution and
    the members left over (not settled; solved one by one by the caller).
    ``k_inv`` is :math:`K^{-1}` when the caller has it (:class:`PassThrough`).
    """
    k, n = start.shape
    if k_inv is None:
        k_inv = np.linalg.inv(np.eye(n) - x[:, None] * dest.T)
    free = (x * lost) @ k_inv.T  # [k, n]
    passed = free.copy()
    capped = free > start + tol
    # members to solve: at first every member with a bound; then those whose
    # bounds changed (the others' solution stands)
    rows = np.flatnonzero(capped.any(axis=1))
    unsettled = np.zeros(k, dtype=bool)
    for _ in range(n + 1):
        if not len(rows):
            break
        held = capped[rows]
        member, country = np.nonzero(held)  # member by member
        start_r, free_r = start[rows], free[rows]
        gap = start_r[member, country] - free_r[member, country]
        held_r = np.zeros((len(rows), n))
        held_r[member, country] = _solve_held(k_inv, member, country, gap)
        p = free_r + held_r @ k_inv.T
        passed[rows] = p
        loss = lost[rows] + p @ dest
        new = ((p > start_r + tol) | (held & (x * loss >= start_r - tol))) & (x > 0)
        changed = (new != held).any(axis=1)
        capped[rows] = new
        rows = rows[changed & new.any(axis=1)]
    else:
        unsettled[:] = capped.any(axis=1)
    return passed, np.flatnonzero(unsettled)


def _solve_held(
    k_inv: np.ndarray, member: np.ndarray, country: np.ndarray, gap: np.ndarray
) -> np.ndarray:
    r"""Solve :math:`K^{-1}_{CC}\, r = g` of every member at once (:func:`_shared_fixed_point`).

    The entries ``(member, country, gap)`` are grouped member by member, as
    ``np.nonzero`` gives them; returns ``r`` entry by entry. A member holding
    one country (the most frequent case) is a division, two are solved in
    closed form (Cramer's rule), more by LAPACK, in classes of 3-4, 5-8,
    9-16, ... countries, each padded with the identity to its largest.
    """
    per_member = np.bincount(member)
    counts = per_member[member]  # countries held by each entry's member
    r = np.empty(len(gap))
    one = np.flatnonzero(counts == 1)
    c = country[one]
    r[one] = gap[one] / k_inv[c, c]
    two = np.flatnonzero(counts == 2)  # consecutive pairs
    first, second = two[0::2], two[1::2]
    c0, c1 = country[first], country[second]
    a00, a01, a10, a11 = k_inv[c0, c0], k_inv[c0, c1], k_inv[c1, c0], k_inv[c1, c1]
    det = a00 * a11 - a01 * a10
    r[first] = (a11 * gap[first] - a01 * gap[second]) / det
    r[second] = (a00 * gap[second] - a10 * gap[first]) / det
    if not (per_member > 2).any():
        return r
    n = len(k_inv)
    bordered = np.zeros((n + 1, n + 1))  # K^-1 bordered by zeros: the padding
    bordered[:n, :n] = k_inv
    slot = np.arange(len(member)) - (np.cumsum(per_member) - per_member)[member]
    # members of 3-4, 5-8, 9-16, ... countries together, padded to the class's largest
    width_class = np.ceil(np.log2(np.maximum(per_member, 2))).astype(np.intp)
    for cls in np.unique(width_class[per_member > 2]):
        big = np.flatnonzero((width_class == cls) & (per_member > 2))
        local = np.zeros(len(per_member), dtype=np.intp)
        local[big] = np.arange(len(big))
        at = np.flatnonzero((width_class[member] == cls) & (counts > 2))  # their entries
        m, sl = local[member[at]], slot[at]
        order = np.full((len(big), int(per_member[big].max())), n, dtype=np.intp)
        order[m, sl] = country[at]
        system = bordered[order[:, :, None], order[:, None, :]]
        pad_m, pad_s = np.nonzero(order == n)
        system[pad_m, pad_s, pad_s] = 1.0  # the identity on the padding
        rhs = np.zeros(order.shape)  # 0 on the padding, so is its r
        rhs[m, sl] = gap[at]
        r[at] = np.linalg.solve(system, rhs[:, :, None])[m, sl, 0]
    return r


def pass_through(
    flows: np.ndarray,
    flows0: np.ndarray,
    production0: np.ndarray,
) -> np.ndarray:
    r"""Countries that lose imports pass part of the loss on to their own buyers.

    A country re-exports part of what it takes in; when its imports fall, its
    exports fall by the share of its baseline supply it exported,
    :math:`x_c = \min(X_c / (P_c + M_c), 1)` (:func:`reexport_share`), and
    the loss travels down the chain (trading hubs, toll refiners, transit
    countries), for every member of a batch at once.

    Parameters
    ----------
    flows
        ``F[b, e, i]`` after the shocks, a batch of ``b`` shocked versions of
        one mineral and stage (a scenario is a batch of one); scaled in place.
    flows0, production0
        Baseline flows ``[e, i]`` and production ``[c]``.

    Returns
    -------
    ndarray
        Tonnes of exports cut, per member of the batch.

    Notes
    -----
    Each country cuts its exports by :math:`P_c = \min(x_c \ell_c, S_c)`,
    :math:`\ell_c` the imports it lost (to the shocks, and to its suppliers'
    own cuts) and :math:`S_c` its exports after the shocks, spread over its
    buyers in proportion to its flows; the cuts travel down the chain (and
    round it, where hubs trade with each other) until they settle. Passing a
    loss on down the chain pass by pass converges to this fixed point,
    which is solved directly (:func:`_fixed_point`): a linear system per
    member, or one factorisation for a whole batch when the shocks only
    scaled rows (:meth:`PassThrough.rows`).
    """
    moved = np.flatnonzero((flows != flows0[None]).any(axis=(1, 2)))
    sub = flows[moved]
    exports = sub.sum(axis=2)
    exports0 = flows0.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(exports0 > 0, exports / exports0, 1.0)
    if np.allclose(sub, scale[:, :, None] * flows0[None], rtol=1e-12, atol=0.0):
        # the shocks only scaled rows: every member shares F0's destination shares
        g, by_country = PassThrough.prepare(flows0, production0).rows(scale)
        flows[moved] *= np.clip(g, 0.0, 1.0)[:, :, None]
        np.maximum(flows, 0.0, out=flows)
        out = np.zeros(flows.shape[0])
        out[moved] = by_country.sum(axis=1)
        return out
    with np.errstate(divide="ignore", invalid="ignore"):
        dest = np.where(exports[:, :, None] > 0, sub / exports[:, :, None], 0.0)
    passed = _fixed_point(
        exports,
        dest,
        flows0.sum(axis=0) - sub.sum(axis=1),
        reexport_share(flows0, production0),
        pass_tolerance(flows0.sum(axis=1)),
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        g = np.where(exports > 0, 1.0 - passed / exports, 1.0)
    flows[moved] *= g[:, :, None]
    np.maximum(flows, 0.0, out=flows)
    out = np.zeros(flows.shape[0])
    out[moved] = passed.sum(axis=1)
    return out


@dataclass
class PassThrough:
    """Pass-through of one mineral and stage, prepared once on its baseline.

    Everything that depends only on the baseline - the flows, the re-export
    shares, the destination shares and :math:`K^{-1}` of :func:`_fixed_point`
    - is computed once, so that a Monte Carlo run or a sweep pays only the
    solves of each batch (:meth:`rows`).

    Only countries with a positive re-export share can pass a loss on
    (``passers``): for any other country :math:`x_c = 0` and
    :math:`P_c = 0`, so the fixed point is solved on the passers alone, with
    the destination shares and :math:`K^{-1}` of their block (:math:`K` is
    block triangular, and its inverse's block on the passers is the inverse
    of its block).
    """

    base: sparse.csr_array
    exports0: np.ndarray
    imports0: np.ndarray
    share: np.ndarray
    passers: np.ndarray
    into: sparse.csr_array
    dest: np.ndarray
    k_inv: np.ndarray

    @classmethod
    def prepare(cls, flows0: np.ndarray | sparse.csr_array, production0: np.ndarray) -> PassThrough:
        """Prepare the pass-through of baseline flows ``[e, i]`` and production ``[c]``."""
        from scipy import sparse as sp

        # one mineral's block of countries: small enough to work on densely
        flows = sp.csr_array(flows0).toarray() if sp.issparse(flows0) else np.asarray(flows0, float)
        exports0 = flows.sum(axis=1)
        share = reexport_share(flows, production0)
        passers = np.flatnonzero(share > 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            inverse = np.where(exports0[passers] > 0, 1.0 / exports0[passers], 0.0)
        # destination shares among the passers, and the flows into them
        dest = flows[np.ix_(passers, passers)] * inverse[:, None]
        x = np.minimum(share[passers], 1.0 - 1e-9)
        return cls(
            base=sp.csr_array(flows),
            exports0=exports0,
            imports0=flows.sum(axis=0),
            share=share,
            passers=passers,
            into=sp.csr_array(np.ascontiguousarray(flows[:, passers].T)),
            dest=dest,
            k_inv=np.linalg.inv(np.eye(len(passers)) - x[:, None] * dest.T),
        )

    def rows(self, scale: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:func:`pass_through` of shocks that scale exporters' rows: ``F[b] = diag(scale[b]) F0``.

        Disruptions of exports to all buyers, bans on all importers and
        output cuts scale whole rows, and pass-through scales rows again, so
        the batch needs no ``[b, e, i]`` array: every member shares the
        destination shares of ``F0``, and the fixed point is one solve for
        the whole batch.

        Parameters
        ----------
        scale
            ``[b, e]`` factor of each exporter's row.

        Returns
        -------
        g : ndarray
            ``[b, e]``: the shocked flows are ``diag(scale[b] * g[b]) F0``.
        passed : ndarray
            ``[b, e]``: tonnes each exporter cut by passing its loss on.
        """
        g = np.ones_like(scale)
        passed = np.zeros_like(scale)
        moved, cut = self.cut(scale)
        if len(moved) and len(self.passers):
            r = self.passers
            passed[np.ix_(moved, r)] = cut
            start = scale[np.ix_(moved, r)] * self.exports0[r]
            with np.errstate(divide="ignore", invalid="ignore"):
                g[np.ix_(moved, r)] = np.where(start > 0, 1.0 - cut / start, 1.0)
        return g, passed

    def cut(self, scale: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Tonnes the passers cut, for the members a shock moved: what :meth:`rows` solves.

        Returns the members whose ``scale`` is not all 1 (``moved``) and
        ``[moved, passers]`` tonnes; after pass-through a passer's row factor
        is ``scale - cut / X0`` (every other country keeps ``scale``).
        """
        r = self.passers
        moved = np.flatnonzero((scale != 1.0).any(axis=1))
        if not len(r) or not len(moved):
            return moved, np.zeros((len(moved), len(r)))
        h = scale[moved] if len(moved) < len(scale) else scale
        start = h[:, r] * self.exports0[r]
        lost = self.imports0[r] - np.asarray(self.into @ h.T).T
        return moved, self.solve(start, lost)

    def solve(self, start: np.ndarray, lost: np.ndarray) -> np.ndarray:
        """Tonnes the passers cut, ``[b, passers]``, from their exports and imports lost.

        ``start`` is each passer's exports after the shocks and ``lost`` the
        imports the shocks took from it, both ``[b, passers]``; the fixed
        point of :func:`_fixed_point` with the baseline's destination shares.
        """
        tol = pass_tolerance(self.exports0)
        return _fixed_point(start, self.dest, lost, self.share[self.passers], tol, self.k_inv)


# ------------------------------------------------------- two-region market
#: Parameters of the two-region model, in the order of ``market_parameters.csv``.
MARKET_PARAMETERS: tuple[str, ...] = (
    "eta",
    "kappa",
    "stock_months",
    "frontload_months",
    "leakage_all",
    "leakage_targeted",
    "precaution",
)

#: Parameters that lower the outside price when they rise (the band takes their
#: ``high`` for the low end of the price).
_DAMPING = {"eta", "kappa", "stock_months", "frontload_months", "leakage_all", "leakage_targeted"}


@dataclass(frozen=True)
class MarketParameters:
    """Parameters of the two-region model for one mineral: ``{name: (central, low, high)}``."""

    mineral: str
    values: dict[str, tuple[float, float, float]]

    def pick(self, end: str) -> dict[str, float]:
        """Parameter set for ``end``: ``central``, ``low`` (lowest price) or ``high``."""
        if end == "central":
            return {k: v[0] for k, v in self.values.items()}
        low_price = end == "low"
        return {k: (v[2] if (k in _DAMPING) == low_price else v[1]) for k, v in self.values.items()}


def _parameter_file() -> str:
    from pathlib import Path

    return str(Path(__file__).resolve().parent.parent / "market_parameters.csv")


@functools.lru_cache(maxsize=1)
def _parameter_rows() -> tuple[tuple[str, str, tuple[float, float, float]], ...]:
    """Read the rows of ``market_parameters.csv`` (once per process)."""
    import csv

    with open(_parameter_file(), newline="", encoding="utf-8") as handle:
        return tuple(
            (
                row["mineral"],
                row["parameter"],
                (float(row["central"]), float(row["low"]), float(row["high"])),
            )
            for row in csv.DictReader(handle)
        )


def market_parameters(mineral: str, eta: float | None = None) -> MarketParameters:
    """Parameters of ``mineral`` from ``riskengine/market_parameters.csv``.

    Rows of the mineral override the ``*`` rows (defaults for every mineral).
    Each row carries its basis (``literature`` or ``assumption``) and source.
    ``eta``, when given (a scenario's ``market.elasticities``), replaces the
    short-run elasticity ``eta`` - central, low and high alike, so the band
    then comes from the other parameters.
    """
    values: dict[str, tuple[float, float, float]] = {}
    specific: dict[str, tuple[float, float, float]] = {}
    for row_mineral, parameter, triple in _parameter_rows():
        if row_mineral == "*":
            values[parameter] = triple
        elif row_mineral == mineral:
            specific[parameter] = triple
    values.update(specific)
    if eta is not None:
        values["eta"] = (eta, eta, eta)
    return MarketParameters(mineral, values)


def log_price_change(y: ArrayLike, eta: float, kappa: float) -> Any:
    r"""Log price change ``x = ln(p1/p0)`` that clears a gap ``y`` (fraction of consumption).

    Solves :math:`\eta\, x\, (1 + \kappa x) = y` for ``y >= 0``: the demand
    elasticity rises with the price, so ``x`` grows like :math:`\sqrt{y}`
    for large gaps and stays finite. For ``y < 0`` (a surplus)
    :math:`x = -\ell(-y)`, the same curve mirrored. ``y`` may be an array
    (a float in, a float out).

    >>> round(log_price_change(0.35, 0.35, 0.0), 6)
    1.0
    """
    arr = np.asarray(y, dtype=float)
    size = np.abs(arr)
    if kappa <= 0:
        x = size / eta
    else:
        x = (np.sqrt(1.0 + 4.0 * kappa * size / eta) - 1.0) / (2.0 * kappa)
    out = np.where(arr < 0, -x, x)
    return float(out) if out.ndim == 0 else out


@dataclass
class TwoRegionPrice:
    """Outside and inside price change of one mineral and stage (0.25 = +25 %)."""

    outside: float
    inside: float
    outside_low: float
    outside_high: float
    inside_low: float
    inside_high: float
    gap_fraction: float
    note: str = ""


def two_region_price(
    withheld: float,
    outside_consumption: float,
    inside_consumption: float,
    months: float,
    params: MarketParameters,
    *,
    targeted: bool = False,
    demand_change: float = 0.0,
) -> TwoRegionPrice:
    r"""Price outside and inside a restricting country over a shock of ``months``.

    Parameters
    ----------
    withheld
        ``W``: tonnes per year of the restricting country's supply kept from
        the outside market (after trade deflection), ``s X_E`` in METHODS 10.
    outside_consumption, inside_consumption
        ``D_R``, ``D_E``: baseline consumption outside and inside (tonnes/yr).
    months
        ``h``: the shock's duration.
    params
        :func:`market_parameters` of the mineral.
    targeted
        True when the restriction names some buyers (leakage ``leakage_targeted``).
    demand_change
        Extra outside demand, tonnes per year.

    Returns
    -------
    TwoRegionPrice
        Central change and the low-high band from the parameter ranges.

    Notes
    -----
    With ``lambda`` the leakage, ``L = min((1 - lambda) W, D_R)``, stocks
    ``I_R = stock_months D_R / 12``, front-loading ``B = frontload_months D_R / 12``:

    .. math::

        \sigma_{eff} &= \frac{\max(0,\ L h/12 - I_R - B)}{D_R h / 12}
            + \frac{dD}{D_R}, \qquad
        \varphi_{eff} = \varphi \min(1, L / D_R) \\
        \ln\frac{p_{R1}}{p_{R0}} &= x\ \text{solving}\
            \eta x (1 + \kappa x) = \sigma_{eff} + \varphi_{eff}, \qquad
        \ln\frac{p_{E1}}{p_{E0}} = -x\ \text{solving}\
            \eta x (1 + \kappa x) = L / D_E

    The outside price rises, the inside price falls; both stay finite.
    Without home consumption (``D_E = 0``) the inside price is NaN.

    Examples
    --------
    >>> p = market_parameters("cobalt")
    >>> two_region_price(0.0, 100.0, 10.0, 12.0, p).outside
    0.0
    """
    p = two_region_prices(
        withheld, outside_consumption, inside_consumption, months, params,
        targeted=targeted, demand_change=demand_change,
    )  # fmt: skip
    note = ""
    if outside_consumption <= 0:
        note = "no consumption outside the restricting country: price not computed"
    elif inside_consumption <= 0 and withheld > 0:
        note = "no recorded consumption inside the restricting country: inside price not computed"
    return TwoRegionPrice(**{k: float(v) for k, v in p.items()}, note=note)


def two_region_prices(
    withheld: ArrayLike,
    outside_consumption: ArrayLike,
    inside_consumption: ArrayLike,
    months: float,
    params: MarketParameters,
    *,
    targeted: bool = False,
    demand_change: ArrayLike = 0.0,
) -> dict[str, np.ndarray]:
    """:func:`two_region_price` for a batch of shocks: arrays of its fields (no note).

    Keys ``outside``, ``inside``, ``outside_low``, ``outside_high``,
    ``inside_low``, ``inside_high`` (relative changes, 0.25 = +25 %) and
    ``gap_fraction``. The parameter ends that raise a rising price lower a
    falling one (a stockpile release), so each band is the lower and the
    higher of the two ends.
    """
    ends = {
        end: price_response(
            withheld,
            outside_consumption,
            inside_consumption,
            months,
            params.pick(end),
            targeted=targeted,
            demand_change=demand_change,
        )
        for end in ("central", "low", "high")
    }
    with np.errstate(over="ignore"):  # a gap that no price clears: +inf
        out = {end: np.expm1(x) for end, (x, _, _) in ends.items()}
        inside = {end: np.expm1(x) for end, (_, x, _) in ends.items()}
    return {
        "outside": out["central"],
        "inside": inside["central"],
        "outside_low": np.fmin(out["low"], out["high"]),
        "outside_high": np.fmax(out["low"], out["high"]),
        "inside_low": np.fmin(inside["low"], inside["high"]),
        "inside_high": np.fmax(inside["low"], inside["high"]),
        "gap_fraction": ends["central"][2],
    }


def price_response(
    withheld: ArrayLike,
    outside_consumption: ArrayLike,
    inside_consumption: ArrayLike,
    months: float,
    q: dict[str, float],
    *,
    targeted: bool = False,
    demand_change: ArrayLike = 0.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Log price changes outside and inside and the outside gap, for one parameter set.

    The formulas of :func:`two_region_price` on arrays (any broadcastable
    shapes: a batch of shocks at once), for the parameter values ``q``
    (:meth:`MarketParameters.pick`). Where there is no outside consumption
    everything is NaN; where there is no inside consumption the inside
    change is NaN.

    Returns
    -------
    x_out, x_in, sigma : ndarray
        ``ln(p_R1/p_R0)``, ``ln(p_E1/p_E0)`` and :math:`\sigma_{eff}`.
    """
    outside = np.asarray(outside_consumption, dtype=float)
    inside = np.asarray(inside_consumption, dtype=float)
    leak = q["leakage_targeted"] if targeted else q["leakage_all"]
    with np.errstate(divide="ignore", invalid="ignore"):
        # the outside market cannot lose more than it consumed
        lost = np.minimum((1.0 - leak) * np.maximum(withheld, 0.0), outside)
        horizon = outside * months / 12.0
        buffer = (q["stock_months"] + q["frontload_months"]) * outside / 12.0
        sigma = np.maximum(0.0, lost * months / 12.0 - buffer) / horizon
        sigma = sigma + np.asarray(demand_change, dtype=float) / outside
        phi = q["precaution"] * np.minimum(1.0, lost / outside)
        x_out = np.asarray(log_price_change(sigma + phi, q["eta"], q["kappa"]), dtype=float)
        x_in = -np.asarray(
            log_price_change(np.where(inside > 0, lost / inside, 0.0), q["eta"], q["kappa"]),
            dtype=float,
        )
    none_out = ~(outside > 0)
    return (
        np.where(none_out, np.nan, x_out),
        np.where(none_out | ~(inside > 0), np.nan, x_in),
        np.where(none_out, np.nan, sigma),
    )
