"""The product catalogue: traded products and the mineral content they carry.

Trade statistics record the gross weight of a product (concentrate, oxide,
alloy, magnet); production statistics record contained content in the basis
the publisher states for each mineral (cobalt content, rare-earth-oxide
equivalent, gross weight of bauxite...; ``data/minerals.csv`` names it). The
catalogue, ``riskengine/products.csv``, brings every traded product to that
basis: one row per (product, mineral) with the mineral's stage, the share of
the product's weight attributed to the mineral and the contained fraction with
its range and its source.

A dataset directory may hold its own ``products.csv`` in the same columns; its
rows extend the packaged catalogue and replace packaged rows of the same
(product, mineral) (:func:`load_products`).

Columns
-------
``product``
    ``<NOMENCLATURE>:<code>`` for an HS code (``HS92:260300``) or
    ``form:<name>`` for a named form (``form:gallium_metal``).
``nomenclature``, ``code``
    The two parts of ``product``: ``HS92`` ... ``HS22`` with a 6-digit code,
    or ``form`` with a lower-snake-case name.
``mineral``
    Mineral id; empty for a product deliberately not mapped (``note`` says why).
``stage``
    Stage the product feeds (:class:`riskengine.dims.Stage`).
``share``
    Fraction of the product's gross weight attributed to the mineral (1 unless
    a mixed code is split between minerals by documented shares; the shares of
    one product sum to at most 1).
``content``, ``content_low``, ``content_high``
    Tonnes of the mineral, in its basis, per tonne of the product: central
    value and range, ``0 < low <= content <= high``.
``basis``
    ``chemistry`` (a fixed compound, computed from atomic weights),
    ``assumption`` (a variable grade: a documented assumed range) or
    ``source`` (a published figure named in ``source``).
``formula``, ``element``
    For ``chemistry`` rows: the compound and the counted species, either an
    element (``Li``) or, for a mineral counted as an oxide equivalent, that
    oxide (``Nd2O3`` for rare earths counted as REO).
``description``, ``source``, ``note``
    The nomenclature's own description; the publication of the fraction; free
    text.

A contained fraction is at most 1, except where a metal is converted to an
oxide-equivalent basis (rare-earth metal to REO, arsenic to As2O3): a tonne of
neodymium is 1.166 t of Nd2O3. Such rows are ``chemistry`` rows naming the
oxide in ``element``, so their value is recomputed from atomic weights.

References
----------
Prohaska, T. et al. (2022). Standard atomic weights of the elements 2021
(IUPAC Technical Report). Pure and Applied Chemistry 94(5), 573-600,
doi:10.1515/pac-2019-0603.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Mapping
from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from riskengine.dims import STAGES
from riskengine.errors import DataError
from riskengine.io.canonical import (
    MINERAL_ID_PATTERN,
    Column,
    TableSchema,
    find_table,
    validate_table,
)

#: Nomenclatures a product id can name: HS revisions as CEPII BACI labels them,
#: and ``form`` for named forms outside the HS (USGS import figures and the like).
NOMENCLATURES: tuple[str, ...] = ("HS92", "HS96", "HS02", "HS07", "HS12", "HS17", "HS22", "form")

#: How a content fraction is known.
BASES: tuple[str, ...] = ("chemistry", "assumption", "source")

#: Source of :data:`ATOMIC_WEIGHTS`.
ATOMIC_WEIGHTS_SOURCE = (
    "IUPAC 2021 standard atomic weights, abridged to five significant figures "
    "(CIAAW; Prohaska et al. 2022, Pure Appl. Chem. 94, 573-600)"
)

#: Standard atomic weights, IUPAC 2021, abridged (g/mol): the elements the
#: catalogue's compounds use. Lithium, boron, sulfur, chlorine, lead and the
#: other elements with an interval take their conventional abridged value.
ATOMIC_WEIGHTS: dict[str, float] = {
    "H": 1.0080,
    "Li": 6.94,
    "Be": 9.0122,
    "B": 10.81,
    "C": 12.011,
    "N": 14.007,
    "O": 15.999,
    "F": 18.998,
    "Na": 22.990,
    "Mg": 24.305,
    "Al": 26.982,
    "Si": 28.085,
    "P": 30.974,
    "S": 32.06,
    "Cl": 35.45,
    "K": 39.098,
    "Ca": 40.078,
    "Sc": 44.956,
    "Ti": 47.867,
    "V": 50.942,
    "Cr": 51.996,
    "Mn": 54.938,
    "Fe": 55.845,
    "Co": 58.933,
    "Ni": 58.693,
    "Cu": 63.546,
    "Zn": 65.38,
    "Ga": 69.723,
    "Ge": 72.630,
    "As": 74.922,
    "Se": 78.971,
    "Br": 79.904,
    "Rb": 85.468,
    "Sr": 87.62,
    "Y": 88.906,
    "Zr": 91.224,
    "Nb": 92.906,
    "Mo": 95.95,
    "Ru": 101.07,
    "Rh": 102.91,
    "Pd": 106.42,
    "Ag": 107.87,
    "Cd": 112.41,
    "In": 114.82,
    "Sn": 118.71,
    "Sb": 121.76,
    "Te": 127.60,
    "I": 126.90,
    "Cs": 132.91,
    "Ba": 137.33,
    "La": 138.91,
    "Ce": 140.12,
    "Pr": 140.91,
    "Nd": 144.24,
    "Sm": 150.36,
    "Gd": 157.25,
    "Tb": 158.93,
    "Dy": 162.50,
    "Hf": 178.49,
    "Ta": 180.95,
    "W": 183.84,
    "Re": 186.21,
    "Os": 190.23,
    "Ir": 192.22,
    "Pt": 195.08,
    "Au": 196.97,
    "Hg": 200.59,
    "Tl": 204.38,
    "Pb": 207.2,
    "Bi": 208.98,
    "Th": 232.04,
    "U": 238.03,
}

#: Largest difference allowed between a chemistry row's ``content`` and the
#: value recomputed from :data:`ATOMIC_WEIGHTS` (0.05 percentage points).
CHEMISTRY_TOLERANCE = 5e-4

#: Name of the catalogue file, packaged and in a dataset directory.
PRODUCTS_FILE = "products.csv"

_FRACTION_FIX = "write a fraction such as 0.27 for 27 %"

PRODUCTS = TableSchema(
    "products",
    (
        Column(
            "product",
            "str",
            "Product id: `<NOMENCLATURE>:<code>` for an HS code (`HS92:260300`) or "
            "`form:<name>` for a named form (`form:gallium_metal`).",
            fix="write the nomenclature and the code joined by ':'",
        ),
        Column(
            "nomenclature",
            "str",
            "HS revision of the code (`HS92`, `HS96`, `HS02`, `HS07`, `HS12`, `HS17`, "
            "`HS22`) or `form` for a named form.",
            choices=lambda: NOMENCLATURES,
            fix=f"use one of {', '.join(NOMENCLATURES)}",
        ),
        Column(
            "code",
            "str",
            "The 6-digit HS code, zero-padded, or the form's lower-snake-case name.",
            fix="write six digits (081110) or a name such as gallium_metal",
        ),
        Column(
            "mineral",
            "str",
            "Mineral id the product carries; empty for a product deliberately not mapped.",
            nullable=True,
            pattern=MINERAL_ID_PATTERN,
            fix="use a lower-snake-case id such as 'cobalt' or 'rare_earths'",
        ),
        Column(
            "stage",
            "str",
            "Stage the product feeds: `mining`, `intermediate`, `refining` or `component`.",
            nullable=True,
            choices=lambda: STAGES,
            fix="use 'mining', 'intermediate', 'refining' or 'component'",
        ),
        Column(
            "share",
            "float",
            "Fraction of the product's gross weight attributed to the mineral (0-1].",
            nullable=True,
            minimum=0.0,
            maximum=1.0,
            fix="write 1, or the documented share of a mixed code",
        ),
        Column(
            "content",
            "float",
            "Contained fraction of the mineral in its basis, central value.",
            nullable=True,
            minimum=0.0,
            fix=_FRACTION_FIX,
        ),
        Column(
            "content_low",
            "float",
            "Lowest plausible contained fraction.",
            nullable=True,
            minimum=0.0,
            fix=_FRACTION_FIX,
        ),
        Column(
            "content_high",
            "float",
            "Highest plausible contained fraction.",
            nullable=True,
            minimum=0.0,
            fix=_FRACTION_FIX,
        ),
        Column(
            "basis",
            "str",
            "How the fraction is known: `chemistry`, `assumption` or `source`.",
            nullable=True,
            choices=lambda: BASES,
            fix="use 'chemistry', 'assumption' or 'source'",
        ),
        Column(
            "formula",
            "str",
            "Compound formula of a chemistry row (`Li2CO3`, `LiOH.H2O`).",
            required=False,
            nullable=True,
        ),
        Column(
            "element",
            "str",
            "Counted element (`Li`) or oxide equivalent (`Nd2O3`) of a chemistry row.",
            required=False,
            nullable=True,
        ),
        Column(
            "description",
            "str",
            "The nomenclature's own description of the product.",
            required=False,
            nullable=True,
        ),
        Column(
            "source",
            "str",
            "Publication of the fraction and its range.",
            nullable=True,
        ),
        Column("note", "str", "Free text.", required=False, nullable=True),
    ),
    key=("product", "mineral"),
)

_TEXT_COLUMNS = tuple(c.name for c in PRODUCTS.columns if c.kind == "str")
_FLOAT_COLUMNS = tuple(c.name for c in PRODUCTS.columns if c.kind == "float")
_MAPPED_REQUIRED = ("stage", "share", "content", "content_low", "content_high", "basis", "source")
_HS_CODE = re.compile(r"^\d{6}$")
_FORM_NAME = re.compile(MINERAL_ID_PATTERN)
_TOKEN = re.compile(r"([A-Z][a-z]?)(\d*)|(\()|(\))(\d*)")


# ----------------------------------------------------------------------- chemistry


def parse_formula(formula: str) -> dict[str, int]:
    """Count the atoms of each element in a chemical formula.

    Parameters
    ----------
    formula
        A formula such as ``Li2CO3``, ``(NH4)10H2W12O42.4H2O`` or
        ``LiOH·H2O``: element symbols with counts, parentheses with a
        multiplier, and hydrate parts joined by ``.``, ``·`` or ``*`` with a
        leading coefficient.

    Returns
    -------
    dict
        Element symbol -> number of atoms.

    Raises
    ------
    DataError
        When the formula is empty, has unbalanced parentheses or names an
        element missing from :data:`ATOMIC_WEIGHTS`.

    Examples
    --------
    >>> parse_formula("LiOH.H2O")
    {'Li': 1, 'O': 2, 'H': 3}
    """
    text = formula.strip()
    if not text:
        raise DataError("empty formula; write a compound such as Li2CO3")
    counts: dict[str, int] = {}
    for part in re.split(r"[.·*]", text):
        m = re.match(r"^(\d+)(.*)$", part)
        factor, body = (int(m.group(1)), m.group(2)) if m else (1, part)
        for element, n in _parse_group(body, formula).items():
            counts[element] = counts.get(element, 0) + factor * n
    return counts


def _parse_group(body: str, formula: str) -> dict[str, int]:
    stack: list[dict[str, int]] = [{}]
    pos = 0
    while pos < len(body):
        m = _TOKEN.match(body, pos)
        if m is None:
            raise DataError(
                f"cannot read the formula {formula!r} at {body[pos:]!r}; write element "
                f"symbols with counts, e.g. Li2CO3 or (NH4)10H2W12O42.4H2O"
            )
        pos = m.end()
        if m.group(1):
            element = m.group(1)
            if element not in ATOMIC_WEIGHTS:
                raise DataError(
                    f"the formula {formula!r} names {element!r}, which is not in "
                    f"riskengine.products.ATOMIC_WEIGHTS; check the symbol's case (Co, not CO)"
                )
            stack[-1][element] = stack[-1].get(element, 0) + int(m.group(2) or 1)
        elif m.group(3):
            stack.append({})
        else:
            if len(stack) == 1:
                raise DataError(f"unbalanced ')' in the formula {formula!r}")
            inner = stack.pop()
            mult = int(m.group(5) or 1)
            for element, n in inner.items():
                stack[-1][element] = stack[-1].get(element, 0) + n * mult
    if len(stack) != 1:
        raise DataError(f"unbalanced '(' in the formula {formula!r}")
    return stack[0]


def molar_mass(formula: str) -> float:
    """Molar mass of a formula in g/mol from :data:`ATOMIC_WEIGHTS`.

    Examples
    --------
    >>> round(molar_mass("Li2CO3"), 3)
    73.888
    """
    return sum(ATOMIC_WEIGHTS[e] * n for e, n in parse_formula(formula).items())


def content_from_formula(formula: str, element: str) -> float:
    r"""Mass fraction of an element, or of its oxide equivalent, in a compound.

    Parameters
    ----------
    formula
        The compound (``Li2CO3``, ``Nd2Fe14B``, ``LiOH.H2O``).
    element
        An element symbol (``Li``), or a species whose first element is the one
        counted (``Nd2O3``: the neodymium of ``formula`` expressed as Nd2O3).

    Returns
    -------
    float
        Tonnes of ``element`` per tonne of ``formula``; above 1 when a metal is
        expressed as its oxide (``content_from_formula("As", "As2O3")`` is 1.32).

    Raises
    ------
    DataError
        When a formula cannot be read or the counted element is not in
        ``formula``.

    Notes
    -----
    For an element :math:`E` with :math:`n_E` atoms in the compound :math:`X`

    .. math:: f = \frac{n_E \, A_r(E)}{M(X)}

    and for a species :math:`Y` holding :math:`m_E` atoms of :math:`E`

    .. math:: f = \frac{n_E}{m_E} \, \frac{M(Y)}{M(X)}

    with :math:`A_r` the IUPAC 2021 abridged standard atomic weights
    (:data:`ATOMIC_WEIGHTS`).

    References
    ----------
    Prohaska, T. et al. (2022). Standard atomic weights of the elements 2021
    (IUPAC Technical Report). Pure Appl. Chem. 94(5), 573-600.

    Examples
    --------
    >>> round(content_from_formula("Li2CO3", "Li"), 4)
    0.1879
    >>> round(content_from_formula("Nd2Fe14B", "Nd"), 4)
    0.2668
    >>> round(content_from_formula("Nd", "Nd2O3"), 4)
    1.1664
    """
    compound = parse_formula(formula)
    species = parse_formula(element)
    first = _TOKEN.match(element.strip())
    counted = first.group(1) if first is not None and first.group(1) else next(iter(species))
    if counted not in compound:
        raise DataError(
            f"{element!r} counts {counted}, which the formula {formula!r} does not contain"
        )
    ratio = compound[counted] / species[counted]
    return ratio * molar_mass(element) / molar_mass(formula)


def _is_compound(element: str) -> bool:
    """Tell whether ``element`` names a species of several atoms (an oxide equivalent)."""
    try:
        counts = parse_formula(element)
    except DataError:
        return False
    return sum(counts.values()) > 1


# ---------------------------------------------------------------------- validation


def _cells(table: pd.DataFrame) -> pd.DataFrame:
    """Every cell as text (empty string for missing), the reader's view of a table."""
    out = pd.DataFrame(index=pd.RangeIndex(len(table)))
    for c in table.columns:
        s = table[c]
        if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
            out[str(c)] = [("" if pd.isna(v) else repr(float(v))) for v in s]
        else:
            out[str(c)] = [
                ("" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v)) for v in s
            ]
    return out


def _row_problems(
    table: pd.DataFrame, files: list[str], lines: list[int], rows: set[int] | None = None
) -> list[str]:
    """Cross-column and cross-row checks of a typed catalogue.

    ``files`` and ``lines`` name each row's file and CSV line for the messages;
    the checks of one row run on the positions in ``rows`` (all when None), the
    shares of a product always on every row.
    """
    problems: list[str] = []

    def where(i: int) -> str:
        return f"{files[i]} line {lines[i]}"

    for i, row in enumerate(table.to_dict("records")):
        if rows is not None and i not in rows:
            continue
        product, nomenclature, code = row["product"], row["nomenclature"], row["code"]
        if product != f"{nomenclature}:{code}":
            problems.append(
                f"{where(i)}, column 'product': expected {nomenclature}:{code} from columns "
                f"'nomenclature' and 'code', got {product!r} (write <nomenclature>:<code>)"
            )
        if nomenclature == "form":
            if not _FORM_NAME.match(code):
                problems.append(
                    f"{where(i)}, column 'code': {code!r} is not a form name (use lower snake "
                    f"case, e.g. gallium_metal)"
                )
        elif not _HS_CODE.match(code):
            problems.append(
                f"{where(i)}, column 'code': expected a 6-digit HS code, got {code!r} "
                f"(write six digits with the leading zero, e.g. 081110)"
            )
        if row["mineral"] == "":
            given = [c for c in _MAPPED_REQUIRED[:-1] if not _empty(row[c])]
            given += [c for c in ("formula", "element") if row[c] != ""]
            for c in given:
                problems.append(
                    f"{where(i)}, column '{c}': {_show(row[c])} given for a product without a "
                    f"mineral; leave it empty, or name the mineral"
                )
            if row["note"] == "":
                problems.append(
                    f"{where(i)}, column 'note': empty for a product without a mineral; say why "
                    f"it is not mapped (mixed code, fabricated article, waste and scrap...)"
                )
            continue
        missing = [c for c in _MAPPED_REQUIRED if _empty(row[c])]
        for c in missing:
            what = {
                "basis": "how the fraction is known (chemistry, assumption or source)",
                "source": "the publication of the fraction (for an assumption, "
                "'riskengine assumption: <reasoning>')",
            }.get(c, PRODUCTS.columns[PRODUCTS.column_names.index(c)].description.rstrip("."))
            problems.append(f"{where(i)}, column '{c}': empty cell; expected {what}")
        share = row["share"]
        if not _empty(share) and share <= 0:
            problems.append(
                f"{where(i)}, column 'share': expected a fraction above 0, got {share:g} "
                f"(a product that carries none of the mineral is not mapped to it)"
            )
        low, mid, high = row["content_low"], row["content"], row["content_high"]
        if not any(_empty(v) for v in (low, mid, high)):
            if low <= 0:
                problems.append(
                    f"{where(i)}, column 'content_low': expected a fraction above 0, got "
                    f"{low:g} (a product that holds none of the mineral is not mapped to it)"
                )
            if low > mid:
                problems.append(
                    f"{where(i)}, column 'content_low': {low:g} is above content {mid:g}; "
                    f"write content_low <= content <= content_high"
                )
            if high < mid:
                problems.append(
                    f"{where(i)}, column 'content_high': {high:g} is below content {mid:g}; "
                    f"write content_low <= content <= content_high"
                )
            oxide = row["basis"] == "chemistry" and _is_compound(row["element"])
            if high > 1 and not oxide:
                problems.append(
                    f"{where(i)}, column 'content_high': {high:g} is above 1; a contained "
                    f"fraction is at most 1 (only a chemistry row converting a metal to an "
                    f"oxide-equivalent basis, the oxide named in 'element', can exceed it)"
                )
        problems += _chemistry_problems(row, where(i))
    problems += _share_problems(table, files, lines)
    return problems


def _chemistry_problems(row: Mapping[Hashable, object], at: str) -> list[str]:
    formula, element, basis = str(row["formula"]), str(row["element"]), row["basis"]
    if basis != "chemistry":
        return [
            f"{at}, column '{c}': {value!r} given with basis {basis!r}; formula and element "
            f"are for basis 'chemistry' only (leave them empty or set basis to chemistry)"
            for c, value in (("formula", formula), ("element", element))
            if value != ""
        ]
    problems = [
        f"{at}, column '{c}': empty cell for a chemistry row; expected {what}"
        for c, value, what in (
            ("formula", formula, "the compound, e.g. Li2CO3"),
            ("element", element, "the counted element, e.g. Li, or an oxide such as Nd2O3"),
        )
        if value == ""
    ]
    if problems:
        return problems
    try:
        expected = content_from_formula(formula, element)
    except DataError as exc:
        return [f"{at}, columns 'formula' and 'element': {exc}"]
    content = row["content"]
    if isinstance(content, float) and abs(content - expected) > CHEMISTRY_TOLERANCE:
        problems.append(
            f"{at}, column 'content': {content:g} does not match {element} in {formula} "
            f"from atomic weights ({expected:.5f}); write {expected:.5f} or correct "
            f"'formula' and 'element'"
        )
    return problems


def _share_problems(table: pd.DataFrame, files: list[str], lines: list[int]) -> list[str]:
    problems: list[str] = []
    mapped = table["mineral"] != ""
    for product, positions in table.groupby("product", sort=False).indices.items():
        idx = np.asarray(positions)
        kinds = set(mapped.to_numpy()[idx])
        where = _lines(idx, files, lines)
        if kinds == {True, False}:
            problems.append(
                f"{where}: {product} is both mapped to a mineral and listed as not mapped; "
                f"keep the mapped rows or the one row without a mineral"
            )
            continue
        shares = table["share"].to_numpy()[idx]
        total = float(np.nansum(shares))
        if total > 1 + 1e-9:
            problems.append(
                f"{where}, column 'share': the shares of {product} sum to {total:g}; the "
                f"minerals of one product take at most its whole weight (shares sum to <= 1; "
                f"a mixed code without documented shares is left unmapped)"
            )
    return problems


def _lines(idx: np.ndarray, files: list[str], lines: list[int]) -> str:
    by_file: dict[str, list[str]] = {}
    for i in idx:
        by_file.setdefault(files[i], []).append(str(lines[i]))
    return "; ".join(
        f"{f} line{'s' if len(ls) > 1 else ''} {', '.join(ls)}" for f, ls in by_file.items()
    )


def _empty(value: object) -> bool:
    return value is None or value == "" or (isinstance(value, float) and np.isnan(value))


def _show(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else repr(value)


def _problem_lines(problems: list[str]) -> set[int]:
    """CSV lines named by schema messages (``... line 4, column`` or ``lines 4, 7, column``)."""
    found: set[int] = set()
    for text in problems:
        m = re.search(r" lines? ([\d, ]+)(?: \.\.\.)?, column", text)
        if m:
            found.update(int(n) for n in re.findall(r"\d+", m.group(1)))
    return found


def _check(raw: pd.DataFrame, name: str) -> tuple[pd.DataFrame, list[str]]:
    """Validate a catalogue read as text: schema, then the checks across columns and rows.

    Rows with a schema problem skip the row checks (their cells are not
    readable), so that one bad cell gives one message; every other row is
    checked, and every problem is returned at once.
    """
    table, problems = validate_table(raw, PRODUCTS, name)
    if any(c.required and c.name not in raw.columns for c in PRODUCTS.columns):
        return table, problems
    for c in PRODUCTS.column_names:
        if c not in table.columns:
            table[c] = ""
    table = table[[*PRODUCTS.column_names]].reset_index(drop=True)
    n = len(table)
    skip = _problem_lines(problems)
    rows = {i for i in range(n) if i + 2 not in skip}
    file = Path(name).name
    problems += _row_problems(table, [file] * n, [i + 2 for i in range(n)], rows)
    return table, problems


def validate_products(table: pd.DataFrame, name: str = "products") -> pd.DataFrame:
    """Check a product catalogue given as a DataFrame and return it typed.

    Parameters
    ----------
    table
        A catalogue in the columns of ``products.csv`` (text or typed cells).
    name
        Name used in the messages (a file name, or ``products`` for a table
        passed in code).

    Returns
    -------
    DataFrame
        The catalogue in canonical column order, fractions as floats, text
        columns with empty strings for missing cells.

    Raises
    ------
    DataError
        Listing every problem at once, naming the line (CSV line number: row
        position + 2) and the column, and how to fix it.
    """
    typed, problems = _check(_cells(table), name)
    if problems:
        raise DataError(f"the product catalogue {name} has {len(problems)} problem(s):", problems)
    return typed


def _read(path: Path, name: str) -> tuple[pd.DataFrame, list[str]]:
    try:
        raw = pd.read_csv(
            path, dtype=str, keep_default_na=False, na_filter=False, encoding="utf-8-sig"
        )
    except (pd.errors.ParserError, UnicodeDecodeError, OSError) as exc:
        return pd.DataFrame(), [f"{name}: cannot be read as CSV ({exc})"]
    except pd.errors.EmptyDataError:
        return pd.DataFrame(), [
            f"{name}: the file is empty; it needs a header line "
            f"({', '.join(PRODUCTS.column_names)})"
        ]
    raw.columns = [c.strip() for c in raw.columns]
    return _check(raw, name)


@cache
def _packaged() -> pd.DataFrame:
    ref = resources.files("riskengine").joinpath(PRODUCTS_FILE)
    name = f"riskengine/{PRODUCTS_FILE}"
    with resources.as_file(ref) as path:
        table, problems = _read(path, name)
    if problems:
        raise DataError(f"the packaged product catalogue {name} is invalid:", problems)
    return table


def load_products(directory: Path | str | None = None) -> pd.DataFrame:
    """Return the product catalogue, extended by a dataset's own ``products.csv``.

    Parameters
    ----------
    directory
        A dataset directory. When it holds ``products.csv`` (or
        ``products.csv.gz``), its rows are added to the packaged catalogue: a
        row with the (product, mineral) key of a packaged row replaces it; a
        dataset row mapping a product the packaged catalogue lists as not
        mapped replaces that listing, and a dataset row without a mineral
        withdraws the packaged mappings of its product. ``None`` returns the
        packaged catalogue.

    Returns
    -------
    DataFrame
        One row per (product, mineral) in the columns of
        :data:`PRODUCTS` (see the module docstring); ``mineral`` is an empty
        string for products deliberately not mapped. A new frame each call.

    Raises
    ------
    DataError
        When a catalogue has problems; every problem is listed with its file,
        line and column.

    Notes
    -----
    The packaged table, ``riskengine/products.csv``, is read and checked once
    per process (:func:`functools.cache`).
    """
    packaged = _packaged()
    if directory is None:
        return packaged.copy()
    path = find_table(Path(directory), "products")
    if path is None:
        return packaged.copy()
    own, problems = _read(path, path.name)
    if problems:
        raise DataError(f"the product catalogue {path} has {len(problems)} problem(s):", problems)
    own_products = set(own["product"])
    own_keys = set(zip(own["product"], own["mineral"], strict=True))
    withdrawn = set(own.loc[own["mineral"] == "", "product"])
    keep = [
        (p, m) not in own_keys and p not in withdrawn and not (m == "" and p in own_products)
        for p, m in zip(packaged["product"], packaged["mineral"], strict=True)
    ]
    base = packaged[keep]
    combined = pd.concat([base, own], ignore_index=True)
    files = [f"riskengine/{PRODUCTS_FILE}"] * len(base) + [path.name] * len(own)
    lines = [int(i) + 2 for i in np.flatnonzero(keep)] + [i + 2 for i in range(len(own))]
    problems = _share_problems(combined, files, lines)
    if problems:
        raise DataError(
            f"the product catalogue {path} has {len(problems)} problem(s) together with "
            f"riskengine's own:",
            problems,
        )
    return combined
