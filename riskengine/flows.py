"""Sparse bilateral flows: integer-coded coordinates and contained-content quantities.

Real trade is about 1 % non-zero over exporter x importer pairs, so flows are
stored as coordinates (COO form), never as a dense ``[..., exporter, importer]``
tensor. Every array of a :class:`Flows` has one entry per flow:

================  ==========================================================
``mineral``       code into the dataset's ``minerals`` index
``stage``         code into ``stages``
``year``          code into ``years``
``exporter``      code into ``countries``
``importer``      code into ``countries``
``product``       row of the dataset's product table (-1: none named)
``content``       contained tonnes of the mineral (0 where not usable)
``gross``         gross tonnes of the traded product, as recorded (0 where unknown)
``value``         US dollars (0 where unknown)
``priced``        contained tonnes of the flows that have a value (for unit prices)
``priced_value``  US dollars of those flows
``has_quantity``  the source gives a quantity
``has_value``     the source gives a value
``screened``      the quantity failed the unit-value screen (left out of quantity measures)
================  ==========================================================

No array holds NaN: a missing quantity is ``has_quantity = False`` with
``content = 0``, so every reduction is a plain segment sum. Reductions key the
flows by the output coordinates (:meth:`Flows.key`) and sum with
:func:`numpy.bincount`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields

import numpy as np

#: Coordinate fields of a :class:`Flows`, in key order.
COORDS: tuple[str, ...] = ("mineral", "stage", "year", "exporter", "importer", "product")
#: Quantity fields, summed when flows are aggregated.
AMOUNTS: tuple[str, ...] = ("content", "gross", "value", "priced", "priced_value")
#: Flags, combined with ``any`` when flows are aggregated (``screened`` with ``all``).
FLAGS: tuple[str, ...] = ("has_quantity", "has_value", "screened")


@dataclass(frozen=True, eq=False)
class Flows:
    """Sparse flows with integer-coded coordinates (see the module docstring).

    Instances are never modified in place; :meth:`take` and :meth:`aggregate`
    return new ones.
    """

    mineral: np.ndarray
    stage: np.ndarray
    year: np.ndarray
    exporter: np.ndarray
    importer: np.ndarray
    product: np.ndarray
    content: np.ndarray
    gross: np.ndarray
    value: np.ndarray
    priced: np.ndarray
    priced_value: np.ndarray
    has_quantity: np.ndarray
    has_value: np.ndarray
    screened: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.mineral)
        for f in fields(self):
            arr = getattr(self, f.name)
            if arr.ndim != 1 or len(arr) != n:
                raise ValueError(f"Flows.{f.name} has shape {arr.shape}, expected ({n},)")

    def __len__(self) -> int:
        return len(self.mineral)

    @property
    def usable(self) -> np.ndarray:
        """Flows whose quantity enters quantity measures (known and not screened out)."""
        return self.has_quantity & ~self.screened

    @classmethod
    def empty(cls) -> Flows:
        """Flows with no entries."""
        i = np.zeros(0, dtype=np.int32)
        f = np.zeros(0)
        b = np.zeros(0, dtype=bool)
        return cls(i, i, i, i, i, i, f, f, f, f, f, b, b, b)

    @classmethod
    def build(
        cls,
        *,
        mineral: np.ndarray,
        stage: np.ndarray,
        year: np.ndarray,
        exporter: np.ndarray,
        importer: np.ndarray,
        content: np.ndarray,
        value: np.ndarray | None = None,
        gross: np.ndarray | None = None,
        product: np.ndarray | None = None,
        has_quantity: np.ndarray | None = None,
        has_value: np.ndarray | None = None,
        screened: np.ndarray | None = None,
    ) -> Flows:
        """Flows from coordinate codes and amounts; NaN amounts become missing flags.

        Parameters
        ----------
        mineral, stage, year, exporter, importer
            Integer codes.
        content
            Contained tonnes; NaN where the source has no quantity.
        value
            US dollars; NaN where unknown (None: no values).
        gross
            Gross tonnes of the traded product (None: equal to ``content``).
        product
            Product-table rows (None: -1, no product named).
        has_quantity, has_value, screened
            Flags (None: derived from the NaN pattern; ``screened`` all False).
        """
        n = len(mineral)
        content = np.asarray(content, dtype=float)
        q_known = ~np.isnan(content) if has_quantity is None else np.asarray(has_quantity)
        gross_arr = content if gross is None else np.asarray(gross, dtype=float)
        if value is None:
            value_arr = np.zeros(n)
            v_known = np.zeros(n, dtype=bool)
        else:
            value_arr = np.asarray(value, dtype=float)
            v_known = ~np.isnan(value_arr) if has_value is None else np.asarray(has_value)
        scr = np.zeros(n, dtype=bool) if screened is None else np.asarray(screened, dtype=bool)
        content_c = _where_known(content, q_known & ~scr)
        value_c = _where_known(value_arr, v_known)
        priced_mask = v_known & q_known & ~scr
        return cls(
            mineral=np.asarray(mineral, dtype=np.int32),
            stage=np.asarray(stage, dtype=np.int32),
            year=np.asarray(year, dtype=np.int32),
            exporter=np.asarray(exporter, dtype=np.int32),
            importer=np.asarray(importer, dtype=np.int32),
            product=(
                np.full(n, -1, dtype=np.int32)
                if product is None
                else np.asarray(product, dtype=np.int32)
            ),
            content=content_c,
            gross=_where_known(gross_arr, q_known),
            value=value_c,
            priced=np.where(priced_mask, content_c, 0.0),
            priced_value=np.where(priced_mask, value_c, 0.0),
            has_quantity=q_known,
            has_value=v_known,
            screened=scr,
        )

    @classmethod
    def from_dense(cls, quantity: np.ndarray, value: np.ndarray | None = None) -> Flows:
        """Flows of the cells of dense ``[mineral, stage, year, exporter, importer]`` arrays.

        Parameters
        ----------
        quantity
            Contained tonnes; a non-zero cell is a flow (one per pair, no
            product named), NaN an unknown quantity.
        value
            US dollars (None: no values); with values a cell is also a flow
            when its quantity is unknown (NaN) or it has a value only.
        """
        known = ~np.isnan(quantity)
        present = known & (quantity != 0)
        if value is not None:
            present |= ~known | ((value != 0) & ~np.isnan(value))
        cells = np.nonzero(present)
        return cls.build(
            mineral=cells[0],
            stage=cells[1],
            year=cells[2],
            exporter=cells[3],
            importer=cells[4],
            content=quantity[cells],
            value=None if value is None else value[cells],
        )

    def with_content(self, content: np.ndarray) -> Flows:
        """Return the same pairs with other contained tonnes and no values.

        What :meth:`build` makes of these coordinates and ``content`` (known,
        finite tonnes), without re-deriving the flags: every quantity known,
        no value, nothing screened.
        """
        n = len(content)
        no = np.zeros(n, dtype=bool)
        return Flows(
            mineral=self.mineral,
            stage=self.stage,
            year=self.year,
            exporter=self.exporter,
            importer=self.importer,
            product=np.full(n, -1, dtype=np.int32),
            content=content,
            gross=content.copy(),
            value=np.zeros(n),
            priced=np.zeros(n),
            priced_value=np.zeros(n),
            has_quantity=np.ones(n, dtype=bool),
            has_value=no,
            screened=no.copy(),
        )

    def take(self, index: np.ndarray | slice) -> Flows:
        """Flows at ``index`` (a boolean mask, integer positions or a slice: views)."""
        if isinstance(index, np.ndarray) and index.dtype == bool and index.shape == (len(self),):
            index = np.flatnonzero(index)  # one pass over the mask, not one per field
        return Flows(**{f.name: getattr(self, f.name)[index] for f in fields(self)})

    def recode(self, **maps: np.ndarray) -> Flows:
        """Drop flows whose code maps to -1 and renumber the others.

        Parameters
        ----------
        **maps
            ``coordinate=old_to_new`` arrays, e.g. ``mineral=np.array([-1, 0, 1])``
            keeps minerals 1 and 2 as 0 and 1.
        """
        keep = np.ones(len(self), dtype=bool)
        for name, table in maps.items():
            keep &= table[getattr(self, name)] >= 0
        out = self.take(keep)
        changed = {name: table[getattr(out, name)].astype(np.int32) for name, table in maps.items()}
        return Flows(**{f.name: changed.get(f.name, getattr(out, f.name)) for f in fields(out)})

    def key(self, dims: Sequence[str], sizes: Sequence[int]) -> np.ndarray:
        """Row-major flat index of every flow on the output grid ``dims`` of ``sizes``.

        ``flows.key(("mineral", "stage", "year", "importer"), (M, S, T, C))`` is
        the position of each flow's importer cell in a ``[M, S, T, C]`` array.
        """
        out = np.zeros(len(self), dtype=np.int64)
        for dim, size in zip(dims, sizes, strict=True):
            out *= size
            out += getattr(self, dim)
        return out

    def aggregate(self, dims: Sequence[str], sizes: Sequence[int]) -> Flows:
        """Sum the flows sharing the coordinates ``dims``; the others become -1 / 0.

        Amounts are summed, ``has_quantity`` and ``has_value`` are true when any
        summed flow has them, ``screened`` when all summed flows were screened.
        The result is sorted by the key.
        """
        if not len(self):
            return self
        key = self.key(dims, sizes)
        order = np.argsort(key, kind="stable")
        key = key[order]
        starts = np.concatenate(([0], np.flatnonzero(key[1:] != key[:-1]) + 1))
        out: dict[str, np.ndarray] = {}
        for name in AMOUNTS:
            out[name] = np.add.reduceat(getattr(self, name)[order], starts)
        for name in ("has_quantity", "has_value"):
            out[name] = np.logical_or.reduceat(getattr(self, name)[order], starts)
        out["screened"] = np.logical_and.reduceat(self.screened[order], starts)
        uniq = key[starts]
        for dim, size in reversed(list(zip(dims, sizes, strict=True))):
            uniq, code = np.divmod(uniq, size)
            out[dim] = code.astype(np.int32)
        for dim in COORDS:
            if dim not in out:
                out[dim] = np.full(len(starts), -1 if dim == "product" else 0, dtype=np.int32)
        return Flows(**out)

    def dense(self, what: str, shape: Sequence[int]) -> np.ndarray:
        """Scatter ``what`` (an amount field) into a dense ``[M, S, T, E, I]`` array.

        Only for small selections (one year, a few minerals): the array has
        ``M·S·T·C²`` cells.
        """
        size = int(np.prod(shape))
        key = self.key(("mineral", "stage", "year", "exporter", "importer"), shape)
        return np.bincount(key, weights=getattr(self, what), minlength=size).reshape(shape)


def _where_known(values: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Return ``values`` where ``known``, else 0 (NaN, infinities as :func:`numpy.nan_to_num`)."""
    out = np.where(known, values, 0.0)
    if not np.isfinite(out).all():
        np.nan_to_num(out, copy=False)
    return out


def segment_sum(key: np.ndarray, weights: np.ndarray, size: int) -> np.ndarray:
    r"""Sum ``weights`` per ``key`` cell into a flat array of ``size`` cells.

    Notes
    -----
    .. math:: y_j = \sum_{n:\,key_n = j} w_n

    One pass of :func:`numpy.bincount`; the time and memory follow the number
    of flows plus the output size, never the square of the country count.
    """
    return np.bincount(key, weights=weights, minlength=size)
