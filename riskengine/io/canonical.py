"""The canonical dataset directory: table schemas, validation, reading and writing.

A dataset directory holds long CSV tables (optionally gzip-compressed,
``production.csv.gz``); ``docs/data-format.md`` documents every column. Tables
are validated at entry by the declarative :data:`SCHEMAS`; validation is lazy:
every failing row is reported at once, naming the file, line and column, what
was expected and how to fix it.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import logging
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from riskengine.dims import STAGES, WGI_INDICATORS
from riskengine.errors import DataError
from riskengine.io.atomic import settle
from riskengine.io.countries import iso3_codes

if TYPE_CHECKING:
    from riskengine.io.atomic import Transaction

logger = logging.getLogger(__name__)

MINERAL_ID_PATTERN = r"^[a-z][a-z0-9_]*$"

#: Units accepted in ``production.csv`` and their factor to metric tonnes.
UNIT_TO_TONNES: dict[str, float] = {"t": 1.0, "kg": 1e-3, "kt": 1e3, "Mt": 1e6}


@dataclass(frozen=True)
class Column:
    """One column of a canonical table.

    Parameters
    ----------
    name
        Column name in the CSV header.
    kind
        ``"str"``, ``"int"``, ``"float"`` or ``"bool"``.
    description
        Meaning and unit, used for the docs and error messages.
    required
        The column must be present in the file.
    nullable
        Empty cells are allowed (read as missing, never as zero).
    choices
        Callable returning the allowed values (for labels such as countries).
    pattern
        Regular expression a string value must match.
    minimum, maximum
        Inclusive bounds of numeric values.
    fix
        How to fix a failing value; appended to the error message.
    """

    name: str
    kind: str
    description: str
    required: bool = True
    nullable: bool = False
    choices: Callable[[], Collection[str]] | None = None
    pattern: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    fix: str = ""


@dataclass(frozen=True)
class TableSchema:
    """Schema of one canonical table.

    Parameters
    ----------
    name
        Table name; the file is ``<name>.csv`` or ``<name>.csv.gz``.
    columns
        The columns, in canonical order.
    key
        Columns whose combination must be unique.
    required_file
        Whether a dataset directory must contain the table.
    """

    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    required_file: bool = False
    extra_columns_allowed: bool = field(default=True)

    @property
    def column_names(self) -> list[str]:
        """Names of all columns in canonical order."""
        return [c.name for c in self.columns]


def _countries() -> Collection[str]:
    return iso3_codes()


_MINERAL = Column(
    "mineral",
    "str",
    "Mineral id, lower snake case (`cobalt`, `rare_earths`, `natural_graphite`).",
    pattern=MINERAL_ID_PATTERN,
    fix="use a lower-snake-case id such as 'cobalt' or 'rare_earths'",
)
_STAGE = Column(
    "stage",
    "str",
    "Supply-chain stage: `mining` (ore, concentrate), `intermediate` (matte, hydroxide, "
    "MHP, blister and anode), `refining` (refined metal, chemical) or `component` "
    "(e.g. permanent magnets).",
    choices=lambda: STAGES,
    fix="use 'mining', 'intermediate', 'refining' or 'component'",
)
_YEAR = Column(
    "year",
    "int",
    "Calendar year of the observation.",
    minimum=1900,
    maximum=2100,
    fix="write a four-digit year",
)
_SOURCE = Column(
    "source",
    "str",
    "Publication the row comes from (publisher, title, release, table).",
    fix="name the publication the figure comes from",
)


def _country(name: str, description: str) -> Column:
    return Column(
        name,
        "str",
        description,
        choices=_countries,
        fix="use an ISO 3166-1 alpha-3 code (CHN, COD, JPN) or XOT for 'other countries'",
    )


PRODUCTION = TableSchema(
    "production",
    (
        _MINERAL,
        _STAGE,
        _country("country", "Producing country, ISO3 (`XOT` = the source's 'other countries')."),
        _YEAR,
        Column(
            "quantity",
            "float",
            "Quantity produced in `unit`, contained content; empty when the source withholds it.",
            nullable=True,
            minimum=0.0,
            fix="write a number >= 0, or leave it empty and give the reason in 'flag'",
        ),
        Column(
            "unit",
            "str",
            "Unit of `quantity`: `t` (metric tonnes), `kg`, `kt` or `Mt`; read as tonnes.",
            choices=lambda: tuple(UNIT_TO_TONNES),
            fix="convert to one of t, kg, kt, Mt of contained content",
        ),
        _SOURCE,
        Column(
            "flag",
            "str",
            "Why `quantity` is empty or qualified: `W` withheld, `NA` not available, "
            "`range`, `>75` and so on; empty otherwise.",
            required=False,
            nullable=True,
        ),
        Column(
            "estimated",
            "bool",
            "`true` when the source marks the figure as an estimate.",
            required=False,
            nullable=True,
        ),
        Column(
            "product",
            "str",
            "Form the figure is stated in, an id of the product catalogue (e.g. "
            "`form:spodumene_concentrate`, gross weight); the quantity is converted to the "
            "mineral's basis with its content fraction. Empty or absent: the quantity is "
            "already in the mineral's basis (`basis` in `minerals.csv`).",
            required=False,
            nullable=True,
            fix="use an id listed in riskengine's products.csv or in the dataset's own "
            "products.csv",
        ),
    ),
    key=("mineral", "stage", "country", "year"),
    required_file=True,
)

TRADE = TableSchema(
    "trade",
    (
        _MINERAL,
        _STAGE,
        _country("exporter", "Exporting country, ISO3."),
        _country("importer", "Importing country, ISO3."),
        _YEAR,
        Column(
            "product",
            "str",
            "Traded product, an id of the product catalogue (`HS92:260300`, `HS17:740311`, "
            "`form:gallium_metal`); `quantity` is then the product's gross weight. Empty or "
            "absent: `quantity` is contained content of the mineral at `stage`.",
            required=False,
            nullable=True,
            fix="use an id listed in riskengine's products.csv or in the dataset's own "
            "products.csv",
        ),
        Column(
            "quantity",
            "float",
            "Quantity shipped, metric tonnes: gross weight of `product`, or contained "
            "content when no product is named; empty when the source has no quantity.",
            nullable=True,
            minimum=0.0,
            fix="write tonnes >= 0, or leave it empty when unknown",
        ),
        Column(
            "value_usd",
            "float",
            "Value of the flow in current US dollars; empty when unknown.",
            nullable=True,
            minimum=0.0,
            fix="write US dollars >= 0 (BACI's thousand-USD values times 1000)",
        ),
        _SOURCE,
    ),
    key=("mineral", "stage", "exporter", "importer", "year", "product"),
)

GOVERNANCE = TableSchema(
    "governance",
    (
        _country("country", "Country, ISO3."),
        _YEAR,
        Column(
            "indicator",
            "str",
            "WGI dimension: `VA`, `PV`, `GE`, `RQ`, `RL` or `CC`.",
            choices=lambda: WGI_INDICATORS,
            fix="use one of VA, PV, GE, RQ, RL, CC",
        ),
        Column(
            "value",
            "float",
            "WGI estimate, about -2.5 (weak) to +2.5 (strong).",
            minimum=-5.0,
            maximum=5.0,
            fix="write the WGI estimate (the EST measure), between -5 and 5",
        ),
        Column("source", "str", "Publication of the score.", required=False, nullable=True),
    ),
    key=("country", "year", "indicator"),
)

MINERALS = TableSchema(
    "minerals",
    (
        _MINERAL,
        Column("name", "str", "Readable name."),
        Column(
            "basis",
            "str",
            "What every quantity of the mineral is counted in (`Co content`, `REO`, "
            "`gross weight`): the basis of its production figures, to which traded "
            "products are converted by the catalogue's content fractions.",
            required=False,
            nullable=True,
        ),
        Column(
            "eol_rir",
            "float",
            "End-of-life recycling input rate, fraction 0-1 (EU CRM assessment).",
            required=False,
            nullable=True,
            minimum=0.0,
            maximum=1.0,
            fix="write a fraction between 0 and 1 (22 % -> 0.22)",
        ),
        Column(
            "substitution_index",
            "float",
            "EU substitution index for supply risk (SI_SR), 0-1.",
            required=False,
            nullable=True,
            minimum=0.0,
            maximum=1.0,
            fix="write the SI_SR between 0 and 1",
        ),
        Column(
            "economic_importance",
            "float",
            "EU economic importance (EI), 0-10.",
            required=False,
            nullable=True,
            minimum=0.0,
            maximum=10.0,
        ),
        Column(
            "price_usd_per_t",
            "float",
            "Reference price in US dollars per tonne.",
            required=False,
            nullable=True,
            minimum=0.0,
        ),
        Column("source", "str", "Publication of the attributes.", required=False, nullable=True),
    ),
    key=("mineral",),
)

EXPORT_SHARES = TableSchema(
    "export_shares",
    (
        _MINERAL,
        _STAGE,
        _country("exporter", "Exporting country, ISO3."),
        _country("importer", "Destination country, ISO3."),
        Column("period", "str", "Period the share refers to (`2022`, `2025-H1`, ...)."),
        Column(
            "share",
            "float",
            "Fraction of the exporter's exports of the mineral going to the importer.",
            minimum=0.0,
            maximum=1.0,
            fix="write a fraction between 0 and 1 (74.2 % -> 0.742)",
        ),
        Column(
            "basis",
            "str",
            "What the share is of: `value` or `quantity`.",
            choices=lambda: ("value", "quantity"),
            fix="use 'value' or 'quantity'",
        ),
        _SOURCE,
    ),
    key=("mineral", "stage", "exporter", "importer", "period", "basis", "source"),
)

OUTLOOK = TableSchema(
    "outlook",
    (
        _MINERAL,
        _STAGE,
        _country("country", "Country, ISO3 (`XOT` = the source's 'rest of world')."),
        Column(
            "year",
            "int",
            "Year the projection is for.",
            minimum=1900,
            maximum=2100,
            fix="write a four-digit year",
        ),
        Column(
            "scenario",
            "str",
            "Scenario or case of the projection, as the publisher names it (`base case`).",
            fix="name the publisher's scenario, e.g. 'base case'",
        ),
        Column(
            "quantity",
            "float",
            "Projected quantity in `unit`, in the basis the source states (named in `source`).",
            minimum=0.0,
            fix="write a number >= 0",
        ),
        Column(
            "unit",
            "str",
            "Unit of `quantity`: `t` (metric tonnes), `kg`, `kt` or `Mt`.",
            choices=lambda: tuple(UNIT_TO_TONNES),
            fix="use one of t, kg, kt, Mt",
        ),
        _SOURCE,
    ),
    key=("mineral", "stage", "country", "year", "scenario"),
)

SCHEMAS: dict[str, TableSchema] = {
    s.name: s for s in (PRODUCTION, TRADE, GOVERNANCE, MINERALS, EXPORT_SHARES, OUTLOOK)
}

_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f", ""}


def _default_line(index: int) -> int:
    """CSV line number of a 0-based data row (line 1 is the header)."""
    return index + 2


def _text(value: object) -> str:
    """Show a cell as written: numbers from the typed reader without numpy's repr or ``.0``."""
    if isinstance(value, float | np.floating):
        text = repr(float(value))
        return text[:-2] if text.endswith(".0") else text
    return str(value)


def _fmt(value: object) -> str:
    text = _text(value)
    return repr(text) if text != "" else "an empty cell"


def validate_table(
    raw: pd.DataFrame,
    schema: TableSchema,
    file: str | Path,
    *,
    strip: bool = True,
    line: Callable[[int], int] | None = None,
) -> tuple[pd.DataFrame, list[str]]:
    """Validate a table read as strings and convert it to typed columns.

    Parameters
    ----------
    raw
        The table with every cell as a string (empty string = empty cell) and a
        default ``RangeIndex`` in file order.
    schema
        The schema to check against.
    file
        File name used in the messages.
    strip
        Strip surrounding white space from text cells (the reader's fast path
        reads with ``skipinitialspace`` and passes False).
    line
        Physical line of a 0-based data row (default: row + 2, one line per
        record after the header).

    Returns
    -------
    table : DataFrame
        Typed table, canonical columns first, extra columns kept as strings.
    problems : list of str
        One message per failing cell, duplicate key or missing column; empty when
        the table is valid.
    """
    name = Path(file).name
    _line = line or _default_line
    problems: list[str] = []
    if len(raw) == 0 and schema.required_file:
        return raw, [
            f"{name}: the table has a header but no rows; a dataset needs at least one "
            f"{schema.name} row ({', '.join(c.name for c in schema.columns if c.required)})"
        ]
    missing = [c.name for c in schema.columns if c.required and c.name not in raw.columns]
    if missing:
        problems.append(
            f"{name}: missing column(s) {', '.join(missing)}; the header must contain "
            f"{', '.join(c.name for c in schema.columns if c.required)}"
        )
        return raw, problems
    out: dict[str, pd.Series] = {}
    for col in schema.columns:
        if col.name not in raw.columns:
            continue
        column = raw[col.name]
        typed = col.kind in ("float", "int") and pd.api.types.is_numeric_dtype(column)
        if typed:
            s = column
            empty = column.isna()
        else:
            s = column.astype(str)
            if strip:
                s = s.str.strip()
            empty = s == ""
        if not col.nullable:
            for idx in np.flatnonzero(empty.to_numpy()):
                problems.append(
                    f"{name} line {_line(int(idx))}, column '{col.name}': empty cell; "
                    f"expected {col.description.rstrip('.')}" + (f" ({col.fix})" if col.fix else "")
                )
        if col.kind in ("float", "int"):
            num = (
                column.astype(float)
                if typed
                else pd.to_numeric(s.where(~empty), errors="coerce").astype(float)
            )
            bad = (~empty) & (num.isna() | ~np.isfinite(num.fillna(0.0)))
            for idx in np.flatnonzero(bad.to_numpy()):
                problems.append(
                    f"{name} line {_line(int(idx))}, column '{col.name}': expected a number, "
                    f"got {_fmt(s.iloc[idx])}" + (f" ({col.fix})" if col.fix else "")
                )
            ok = ~bad & ~empty
            if col.kind == "int":
                nonint = ok & (num != np.round(num))
                for idx in np.flatnonzero(nonint.to_numpy()):
                    problems.append(
                        f"{name} line {_line(int(idx))}, column '{col.name}': expected a whole "
                        f"number, got {_fmt(s.iloc[idx])}" + (f" ({col.fix})" if col.fix else "")
                    )
            for bound, op, word in (
                (col.minimum, np.less, "at least"),
                (col.maximum, np.greater, "at most"),
            ):
                if bound is None:
                    continue
                out_of = ok & op(num.fillna(bound), bound)
                for idx in np.flatnonzero(out_of.to_numpy()):
                    problems.append(
                        f"{name} line {_line(int(idx))}, column '{col.name}': expected a value "
                        f"{word} {bound:g}, got {_text(s.iloc[idx])}"
                        + (f" ({col.fix})" if col.fix else "")
                    )
            if col.kind == "int":
                out[col.name] = num.astype("Int64") if col.nullable else num.fillna(0).astype(int)
            else:
                out[col.name] = num.astype(float)
        elif col.kind == "bool":
            low = s.str.lower()
            bad = ~low.isin(_TRUE | _FALSE)
            for idx in np.flatnonzero(bad.to_numpy()):
                problems.append(
                    f"{name} line {_line(int(idx))}, column '{col.name}': expected true or false, "
                    f"got {_fmt(s.iloc[idx])}"
                )
            out[col.name] = low.isin(_TRUE)
        else:
            if col.choices is not None:
                allowed = col.choices()
                bad = ~empty & ~s.isin(list(allowed))
                for value in pd.unique(s[bad]):
                    lines = [_line(int(i)) for i in np.flatnonzero((s == value).to_numpy())]
                    where = ", ".join(map(str, lines[:10])) + (" ..." if len(lines) > 10 else "")
                    hint = col.fix or f"use one of {', '.join(sorted(allowed)[:20])}"
                    problems.append(
                        f"{name} line {where}, column '{col.name}': unknown value "
                        f"{value!r} ({hint})"
                    )
            if col.pattern is not None:
                # test each distinct value once (ids repeat on every row)
                pattern = re.compile(col.pattern)
                invalid = [v for v in pd.unique(s[~empty]) if not pattern.match(str(v))]
                bad = s.isin(invalid)
                for idx in np.flatnonzero(bad.to_numpy()):
                    problems.append(
                        f"{name} line {_line(int(idx))}, column '{col.name}': "
                        f"{s.iloc[idx]!r} is not a valid id ({col.fix})"
                    )
            out[col.name] = s
    if not problems:
        # optional key columns (trade's product) take part when the file has them
        key_cols = [k for k in schema.key if k in out]
        keys = pd.DataFrame({k: out[k] for k in key_cols})
        dup = keys.duplicated(keep=False)
        if dup.any():
            groups = keys[dup]
            for key, rows in groups.groupby(key_cols, sort=False).groups.items():
                where = ", ".join(str(_line(int(i))) for i in rows)
                label = "/".join(map(str, key if isinstance(key, tuple) else (key,)))
                problems.append(
                    f"{name} lines {where}: duplicate rows for "
                    f"({', '.join(key_cols)}) = {label}; keep one row per key "
                    f"or sum them before loading"
                )
    extras = [c for c in raw.columns if c not in out]
    table = pd.DataFrame(out)
    for c in extras:
        table[c] = raw[c]
    return table, problems


def _production_checks(
    raw: pd.DataFrame, name: str, line: Callable[[int], int] = _default_line
) -> list[str]:
    """Quantities left empty without a reason in ``flag``, from the raw cells.

    Works on the cells as read (not the typed table) so that it runs alongside
    the schema checks: a cell such as ``nan`` is a bad number, not an empty one.
    """
    problems: list[str] = []
    if "quantity" not in raw.columns:
        return problems
    column = raw["quantity"]
    if pd.api.types.is_numeric_dtype(column):
        quantity_empty = column.isna()
    else:
        quantity_empty = column.astype(str).str.strip() == ""
    flag = (
        raw["flag"].astype(str).str.strip()
        if "flag" in raw.columns
        else pd.Series("", index=raw.index)
    )
    empty = quantity_empty & (flag == "")
    for idx in np.flatnonzero(empty.to_numpy()):
        problems.append(
            f"{name} line {line(int(idx))}, column 'quantity': empty without a reason; "
            f"write the number, or put the source's mark (W, NA, ...) in 'flag'"
        )
    return problems


def find_table(directory: Path, name: str) -> Path | None:
    """Return the path of table ``name`` in ``directory`` (``.csv`` or ``.csv.gz``)."""
    for suffix in (".csv", ".csv.gz"):
        candidate = directory / f"{name}{suffix}"
        if candidate.is_file():
            return candidate
    return None


def _read_bytes(path: Path) -> bytes:
    """Return the bytes of a file, gzip-decompressed for ``.gz``, without a UTF-8 BOM."""
    if path.suffix == ".gz":
        with gzip.open(path, "rb") as fh:
            data = fh.read()
    else:
        data = path.read_bytes()
    return data[3:] if data.startswith(b"\xef\xbb\xbf") else data


def _check_utf8(data: bytes, name: str) -> str | None:
    """Return a problem naming the line of the first non-UTF-8 byte, or None."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    step = 1 << 24
    for start in range(0, len(data), step):
        chunk = data[start : start + step]
        try:
            decoder.decode(chunk, final=start + step >= len(data))
        except UnicodeDecodeError as exc:
            offset = start + exc.start
            line = data.count(b"\n", 0, offset) + 1
            return (
                f"{name} line {line}: byte 0x{data[offset]:02x} is not UTF-8 (the file was "
                f"saved in another encoding, e.g. latin-1 or Windows-1252); re-save it as UTF-8"
            )
    return None


def _records(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Physical start line and field count of every non-blank CSV record.

    Blank (white-space only) lines are skipped as the CSV reader skips them;
    a quoted cell may span lines, so the line is the one where its record starts.
    """
    starts: list[int] = []
    counts: list[int] = []
    if b'"' not in data:
        for i, line in enumerate(data.split(b"\n"), start=1):
            if line.strip():
                starts.append(i)
                counts.append(line.count(b",") + 1)
    else:
        reader = csv.reader(io.StringIO(data.decode("utf-8"), newline=""), skipinitialspace=True)
        previous = 0
        for row in reader:
            first = previous + 1
            previous = reader.line_num
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            starts.append(first)
            counts.append(len(row))
    return np.asarray(starts, dtype=np.int64), np.asarray(counts, dtype=np.int64)


def _structure(data: bytes, name: str) -> tuple[np.ndarray, list[str]]:
    """Line of every data row, or the problems that make the rows unreadable.

    Every record must have as many fields as the header, and header names must be
    unique; otherwise the columns would shift or be renamed in silence.
    """
    starts, counts = _records(data)
    if len(starts) == 0:
        return starts, []
    header_line = next(
        csv.reader([data[: 1 << 16].decode("utf-8", "replace").lstrip().split("\n")[0]])
    )
    names = [h.strip() for h in header_line]
    problems = [
        f"{name} line {starts[0]}: column {h!r} appears {names.count(h)} times in the header; "
        f"rename or remove the copies so that each column is named once"
        for h in dict.fromkeys(n for n in names if names.count(n) > 1)
    ]
    n = int(counts[0])
    for k in np.flatnonzero(counts[1:] != n)[:50]:
        got = int(counts[k + 1])
        fix = (
            "quote cells that contain commas, or remove the extra field"
            if got > n
            else "fill in the missing cells (leave a cell empty with nothing between commas)"
        )
        problems.append(
            f"{name} line {starts[k + 1]}: {got} fields where the header has {n}; {fix}"
        )
    return starts[1:], problems


def read_table(path: Path, schema: TableSchema) -> tuple[pd.DataFrame, list[str]]:
    """Read one canonical CSV file and validate it.

    Returns the typed table and the list of problems (empty when valid). Every
    column is read with an explicit dtype (numbers as float64, the rest as text),
    so optional packages such as pyarrow change nothing; line numbers are the
    physical lines where each record starts.
    """
    numeric = [c.name for c in schema.columns if c.kind in ("float", "int")]
    name = path.name
    try:
        data = _read_bytes(path)
    except (OSError, EOFError) as exc:
        return pd.DataFrame(), [f"{name}: cannot be read ({exc})"]
    bad_encoding = _check_utf8(data, name)
    if bad_encoding:
        return pd.DataFrame(), [bad_encoding]
    lines, structural = _structure(data, name)
    if structural:
        return pd.DataFrame(), structural
    try:
        try:
            # fast path: numbers parsed by the C reader; on any unparsable cell fall
            # back to reading text so that every bad cell is reported by line
            raw = pd.read_csv(
                io.BytesIO(data),
                dtype={
                    c.name: (np.float64 if c.name in numeric else object) for c in schema.columns
                },
                keep_default_na=False,
                na_values={c: [""] for c in numeric},
                skipinitialspace=True,
                index_col=False,
                encoding="utf-8",
            )
            strip = False
        except ValueError:
            raw = pd.read_csv(
                io.BytesIO(data),
                dtype=object,
                keep_default_na=False,
                na_filter=False,
                index_col=False,
                encoding="utf-8",
            )
            strip = True
    except pd.errors.ParserError as exc:
        return pd.DataFrame(), [f"{name}: cannot be read as CSV ({exc})"]
    except pd.errors.EmptyDataError:
        return pd.DataFrame(), [
            f"{name}: the file is empty; it needs a header line ({', '.join(schema.column_names)})"
        ]
    if len(lines) != len(raw):  # the CSV reader and the scan disagree: fall back to counting
        lines = np.arange(2, len(raw) + 2, dtype=np.int64)

    def line(index: int) -> int:
        return int(lines[index])

    table, problems = validate_table(raw, schema, path, strip=strip, line=line)
    if schema is PRODUCTION:
        problems += _production_checks(raw, name, line)
    if schema is PRODUCTION and not problems:
        factor = table["unit"].map(UNIT_TO_TONNES).astype(float)
        with np.errstate(over="ignore", invalid="ignore"):
            tonnes = table["quantity"].to_numpy(dtype=float) * factor.to_numpy()
        for idx in np.flatnonzero(np.isinf(tonnes)):
            problems.append(
                f"{name} line {line(int(idx))}, column 'quantity': "
                f"{_text(table['quantity'].iloc[idx])} {table['unit'].iloc[idx]} is too large "
                f"to hold in tonnes (more than {_MAX_FLOAT:.3g}); check the number and its unit"
            )
        table["quantity"] = tonnes
        table["unit"] = "t"
    if not problems:
        problems += _overflowing_sums(table, schema, name, line)
    return table, problems


#: Largest finite float64.
_MAX_FLOAT = float(np.finfo(np.float64).max)


def _overflowing_sums(
    table: pd.DataFrame, schema: TableSchema, name: str, line: Callable[[int], int]
) -> list[str]:
    """Quantities and values whose (mineral, stage, year) total, or squares, overflow.

    Shares, HHI (sums of squares) and totals must stay finite; a total beyond the
    float range would turn into ``inf`` and an HHI of 0 or NaN.
    """
    keys = [k for k in ("mineral", "stage", "year") if k in table.columns]
    problems: list[str] = []
    if len(keys) < 3 or table.empty:
        return problems
    # the square of a share's numerator must be finite too: bound every total by sqrt(max)
    limit = float(np.sqrt(_MAX_FLOAT))
    for col in ("quantity", "value_usd"):
        if col not in table.columns or table[col].dtype.kind != "f":
            continue
        values = table[col].to_numpy(dtype=float)
        with np.errstate(over="ignore", invalid="ignore"):
            totals = table.groupby(keys, sort=False)[col].transform("sum").to_numpy(dtype=float)
        bad = ~np.isnan(values) & ~(np.abs(totals) <= limit)
        if not bad.any():
            continue
        rows = np.flatnonzero(bad)
        where = ", ".join(str(line(int(i))) for i in rows[:10]) + (" ..." if len(rows) > 10 else "")
        problems.append(
            f"{name} lines {where}, column '{col}': the {'/'.join(keys)} total exceeds "
            f"{limit:.3g}, too large to compute shares and HHI; check the numbers and units"
        )
    return problems


def read_tables(directory: Path) -> dict[str, pd.DataFrame]:
    """Read and validate every canonical table present in ``directory``.

    Raises
    ------
    DataError
        When the directory or the required ``production`` table is missing, or any
        table has problems; the error lists every problem of every file at once.
    """
    if not directory.is_dir():
        raise DataError(
            f"dataset directory {directory} does not exist; pass a directory holding "
            f"production.csv (and optionally trade.csv, governance.csv, minerals.csv)"
        )
    settle(directory)
    tables: dict[str, pd.DataFrame] = {}
    problems: list[str] = []
    for schema in SCHEMAS.values():
        path = find_table(directory, schema.name)
        if path is None:
            if schema.required_file:
                problems.append(
                    f"{directory}/{schema.name}.csv is missing; every dataset needs it "
                    f"(columns: {', '.join(schema.column_names)})"
                )
            continue
        table, found = read_table(path, schema)
        problems += found
        tables[schema.name] = table
    if problems:
        raise DataError(f"the dataset in {directory} has {len(problems)} problem(s):", problems)
    return tables


def write_table(
    table: pd.DataFrame,
    directory: Path,
    name: str,
    *,
    compress: bool = False,
    transaction: Transaction | None = None,
) -> Path:
    """Write a canonical table atomically, columns in canonical order, rows sorted by key.

    The other form of the table (``.csv`` beside ``.csv.gz`` or the reverse)
    is removed in the same commit: a directory never holds both.

    Parameters
    ----------
    table
        A table with at least the schema's required columns.
    directory
        Target directory (created when missing).
    name
        Table name, one of :data:`SCHEMAS`.
    compress
        Write ``<name>.csv.gz`` instead of ``<name>.csv``.
    transaction
        Stage the table in this :class:`~riskengine.io.atomic.Transaction`
        (committed by the caller with its other tables); default: commit it alone.

    Returns
    -------
    Path
        The file written (or to be written when the transaction commits).
    """
    from riskengine.io.atomic import Transaction, dataset_lock

    if transaction is None:
        with dataset_lock(directory):
            tx = Transaction(directory)
            path = write_table(table, directory, name, compress=compress, transaction=tx)
            tx.commit()
        return path
    schema = SCHEMAS[name]
    directory.mkdir(parents=True, exist_ok=True)
    cols = [c for c in schema.column_names if c in table.columns]
    cols += [c for c in table.columns if c not in cols]
    out = table[cols].sort_values([k for k in schema.key if k in cols], kind="stable")
    path = directory / (f"{name}.csv.gz" if compress else f"{name}.csv")
    other = f"{name}.csv" if compress else f"{name}.csv.gz"
    staged = transaction.stage(path.name, remove=[other])
    try:
        if compress:
            # the gzip header names the table, not the staged file; mtime 0: rebuilding
            # the same table gives the same bytes
            with (
                staged.open("wb") as raw,
                gzip.GzipFile(filename=path.name, mode="wb", fileobj=raw, mtime=0) as packed,
                io.TextIOWrapper(packed, encoding="utf-8", newline="") as text,
            ):
                out.to_csv(text, index=False, float_format="%.10g")
        else:
            out.to_csv(staged, index=False, float_format="%.10g")
    except BaseException:
        transaction.discard()
        raise
    return path
