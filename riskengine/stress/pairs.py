r"""Two-exporter bans (N-2) for the sweep: every pair of exporters banning together.

``sweep(..., pairs=True)`` evaluates, for each mineral and stage, the ban of
every two exporters ``a < b`` on all importers at once - the scenario with one
:class:`~riskengine.scenarios.models.ExportBan` ``{exporters: [a, b]}`` - on
the sweep's batched machinery: a ban scales the rows of both exporters, and
blocking, deflection (none: a ban on all importers deflects nothing),
pass-through, propagation to refiners, prices and scores are the engine's, on
the ban axis. A mineral with
``N`` exporters at a stage has ``N (N - 1) / 2`` pairs there, evaluated in
chunks like single bans, so memory is bounded by the sweep's ``chunk_size``.

In the result the ``exporter`` column holds both exporters, ``"CHN+COD"``
(:data:`PAIR_SEP`, in the dataset's country order), so that the rankings of
:class:`~riskengine.stress.sweeps.SweepResult` list, per importer, the most
damaging two-exporter bans.
"""

from __future__ import annotations

import numpy as np

#: Separator of the two exporters of a pair in the ``exporter`` column.
PAIR_SEP = "+"


def pair_candidates(flows0: np.ndarray, allowed: np.ndarray | None = None) -> np.ndarray:
    """Pairs ``[pair, 2]`` of exporters whose joint ban blocks something.

    Parameters
    ----------
    flows0
        ``F[e, i]`` of one mineral and stage.
    allowed
        Boolean ``[country]``: keep the pairs with at least one allowed
        member (None keeps all).

    Returns
    -------
    ndarray
        Local positions ``(a, b)``, ``a < b``, of every two countries that
        export to another country, in lexicographic order.
    """
    off = flows0.copy()
    np.fill_diagonal(off, 0.0)
    exporters = np.flatnonzero(off.sum(axis=1) > 0)
    first, second = np.triu_indices(len(exporters), k=1)
    out = np.stack([exporters[first], exporters[second]], axis=1)
    if allowed is not None:
        out = out[allowed[out[:, 0]] | allowed[out[:, 1]]]
    return out
