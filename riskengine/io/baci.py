"""Reader for CEPII BACI bilateral trade releases.

BACI (Gaulier & Zignago 2010) reconciles the exporter and importer declarations
of UN Comtrade into one flow per exporter, importer, product and year. A release
is a directory of per-year files ``BACI_<HS>_Y<year>_<version>.csv`` with the
columns ``t`` (year), ``i`` (exporter), ``j`` (importer), ``k`` (6-digit HS
product), ``v`` (value, thousand US dollars) and ``q`` (quantity, metric tonnes,
empty when unknown), plus ``country_codes_<version>.csv`` (BACI's numeric
country codes, UN M49 with a few of BACI's own, to ISO3) and
``product_codes_<HS>_<version>.csv``.

:func:`read_baci` turns such a directory into riskengine's canonical ``trade``
table: the HS revision is read from the file names (``BACI_HS17_...`` is HS17)
and each code is mapped through the product catalogue
(:mod:`riskengine.products`) for that revision to its mineral(s) and stage,
countries to ISO3 through the release's own country file, and flows are summed
per (mineral, stage, exporter, importer, year, product). Quantities stay gross
tonnes of the product; the catalogue's content fractions convert them to
contained content when a dataset is loaded.

A release is read one yearly file at a time, each in chunks of
:data:`CHUNK_ROWS` rows, keeping only the rows of mapped products: memory
follows the chunk and the mineral rows, not the release. The files are the
partitions of a parallel import: with a Dask client (``client=``,
:mod:`riskengine.cluster`) each file is read by a worker, and the client adds
up the partitions in file order, so the result is the one-process result.
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from riskengine.cluster import ordered, resolve_client, share
from riskengine.errors import DataError, RiskEngineError
from riskengine.io.canonical import TRADE
from riskengine.io.countries import iso3_codes, to_iso3
from riskengine.products import load_products, validate_products

if TYPE_CHECKING:
    from distributed import Client

logger = logging.getLogger(__name__)

#: Columns of a BACI data file, in order.
BACI_COLUMNS: tuple[str, ...] = ("t", "i", "j", "k", "v", "q")

#: File name of a BACI data file: nomenclature, year, release.
FILE_PATTERN = re.compile(r"^BACI_(HS\d\d)_Y(\d{4})_(V\d{6}[a-z]?)\.csv$")

#: Rows of a data file read at a time (about 100 MB of parsed columns).
CHUNK_ROWS = 2_000_000

#: Problems of one kind listed per file before the rest are left out.
MAX_PROBLEMS = 20

#: Cells of ``q`` (and ``v``) read as unknown.
MISSING_MARKS: tuple[str, ...] = ("", "NA", "NaN", "nan", "N/A", "n/a")

#: BACI country codes mapped deliberately, with the reason. Every other code
#: takes the ISO3 code of the release's own country file; BACI's pseudo-codes
#: that no ISO3 code fits are listed here or reported as unmatched.
M49_OVERRIDES: dict[int, tuple[str, str]] = {
    490: (
        "TWN",
        "'Other Asia, nes' (BACI pseudo-ISO3 S19): UN trade statistics record Taiwan "
        "under this code, so the flows are Taiwan's",
    ),
    711: (
        "ZAF",
        "Southern African Customs Union, reported as one area until 1999 (BACI ZA1); "
        "attributed to South Africa, its dominant member, continuing code 710 from 2000",
    ),
    891: (
        "SRB",
        "Serbia and Montenegro until 2005 (BACI SCG); attributed to Serbia, the larger "
        "successor, continuing code 688 from 2006",
    ),
    530: (
        "CUW",
        "Netherlands Antilles until 2010 (BACI ANT); attributed to Curacao, the largest "
        "successor, continuing code 531 from 2011",
    ),
    849: (
        "UMI",
        "US Miscellaneous Pacific Islands (BACI PUS), an ISO code merged into United "
        "States Minor Outlying Islands (UMI) in 1986",
    ),
}

_PANDAS3 = int(pd.__version__.split(".")[0]) >= 3


def _text(values: np.ndarray) -> object:
    """Column of labels: pandas' ``str`` dtype built directly (pandas >= 3)."""
    return pd.array(values, dtype="str") if _PANDAS3 else values


@dataclass(frozen=True)
class BaciResult:
    """What :func:`read_baci` read.

    Attributes
    ----------
    trade
        Canonical trade table: ``mineral, stage, exporter, importer, year,
        product`` (catalogue id, ``HS92:260300``), ``quantity`` (gross tonnes
        of the product attributed to the mineral, NaN when any component flow
        has no quantity), ``value_usd`` (US dollars) and ``source``; sorted by
        the key.
    unmatched_codes
        BACI country codes found in the files that map to no ISO3 code, with
        ``m49, name, release_iso3, rows, value_usd`` (rows of mapped products
        only). Their rows are left out of ``trade``.
    unmapped_products
        HS codes present in the files that the product catalogue does not map
        to a mineral for the files' nomenclature, with ``hs_code, description,
        listed, rows, value_usd``; ``listed`` is true when the catalogue names
        the code as deliberately not mapped. Their rows are left out of
        ``trade``.
    missing_quantity_rows
        Number of source rows that went into ``trade`` without a quantity.
    rows_read
        Number of data rows read from the files (requested years only).
    files
        The data files read, in year order.
    source
        Source string written on every row, e.g. ``CEPII BACI HS92 V202401b``.
    """

    trade: pd.DataFrame
    unmatched_codes: pd.DataFrame
    unmapped_products: pd.DataFrame
    missing_quantity_rows: int
    rows_read: int
    files: tuple[Path, ...]
    source: str


# ------------------------------------------------------------------------ files


def _find_files(path: Path, years: list[int] | None) -> list[tuple[int, Path, str, str]]:
    """Return (year, file, nomenclature, version) for the files to read."""
    if not path.exists():
        raise DataError(
            f"BACI path {path} does not exist; pass the directory of a BACI release "
            f"(files BACI_HS92_Y<year>_V<release>.csv) or one such file"
        )
    if path.is_file():
        m = FILE_PATTERN.match(path.name)
        if m is None:
            raise DataError(
                f"{path.name} is not named like a BACI data file "
                f"(BACI_<HS>_Y<year>_V<release>.csv, e.g. BACI_HS92_Y2022_V202401b.csv); "
                f"keep BACI's file name, it carries the nomenclature and release"
            )
        found = [(int(m.group(2)), path, m.group(1), m.group(3))]
    else:
        found = []
        for file in sorted(path.iterdir()):
            m = FILE_PATTERN.match(file.name)
            if m is not None and file.is_file():
                found.append((int(m.group(2)), file, m.group(1), m.group(3)))
        if not found:
            present = sorted(p.name for p in path.glob("*.csv"))[:10]
            raise DataError(
                f"no BACI data files in {path}; expected files named "
                f"BACI_<HS>_Y<year>_V<release>.csv (e.g. BACI_HS92_Y2022_V202401b.csv)"
                + (f"; found {', '.join(present)}" if present else "; the directory has no CSV")
            )
    releases = sorted({(nom, ver) for _, _, nom, ver in found})
    if len(releases) > 1:
        raise DataError(
            f"{path} mixes BACI releases or nomenclatures "
            f"({', '.join(f'{n} {v}' for n, v in releases)}); keep one release per "
            f"directory, or pass one file"
        )
    by_year: dict[int, list[Path]] = {}
    for year, file, _, _ in found:
        by_year.setdefault(year, []).append(file)
    dups = {y: f for y, f in by_year.items() if len(f) > 1}
    if dups:
        raise DataError(
            f"{path} has several files for one year:",
            [f"{y}: {', '.join(p.name for p in f)}" for y, f in sorted(dups.items())],
        )
    if years is not None:
        missing = sorted(set(years) - set(by_year))
        if missing:
            raise DataError(
                f"no BACI file in {path} for year(s) {', '.join(map(str, missing))}; "
                f"the files cover {_year_span(sorted(by_year))}"
            )
        found = [f for f in found if f[0] in set(years)]
    return sorted(found)


def _year_span(years: list[int]) -> str:
    if not years:
        return "no years"
    if years == list(range(years[0], years[-1] + 1)):
        return f"{years[0]}-{years[-1]}"
    return ", ".join(map(str, years))


def _check_header(file: Path) -> None:
    with file.open("r", encoding="utf-8-sig", errors="replace") as fh:
        first = fh.readline()
    header = [c.strip().strip('"') for c in first.strip().split(",")]
    if tuple(header) != BACI_COLUMNS:
        raise DataError(
            f"{file.name} line 1: wrong header {first.strip()!r}; a BACI data file "
            f"has the columns {','.join(BACI_COLUMNS)} (year, exporter, importer, "
            f"product, value in thousand USD, quantity in tonnes)"
        )


def _bad_cells(file: Path, chunk_rows: int) -> list[str]:
    """Locate non-numeric cells (slow path, only after a failed fast read)."""
    problems: list[str] = []
    chunks = pd.read_csv(file, dtype=str, keep_default_na=False, engine="c", chunksize=chunk_rows)
    for n, raw in enumerate(chunks):
        for col in BACI_COLUMNS:
            s = raw[col].str.strip()
            allowed_empty = col in ("v", "q")
            num = pd.to_numeric(s.where(~s.isin(MISSING_MARKS)), errors="coerce")
            bad = num.isna() & ~(s.isin(MISSING_MARKS) & allowed_empty)
            if col in ("t", "i", "j", "k"):
                bad |= num.notna() & (num != np.round(num))
            for idx in np.flatnonzero(bad.to_numpy())[:MAX_PROBLEMS]:
                expected = "a number or an empty cell" if allowed_empty else "a whole number"
                problems.append(
                    f"{file.name} line {n * chunk_rows + idx + 2}, column '{col}': expected "
                    f"{expected}, got {s.iloc[idx]!r}"
                )
        if len(problems) >= MAX_PROBLEMS:
            break
    return problems


_DTYPES = {
    "t": np.int32,
    "i": np.int32,
    "j": np.int32,
    "k": np.int32,
    "v": np.float64,
    "q": np.float64,
}


def _read_chunks(file: Path, chunk_rows: int) -> Iterator[dict[str, np.ndarray]]:
    """Yield the columns of a BACI data file, ``chunk_rows`` rows at a time, checked.

    Raises
    ------
    DataError
        Naming the file, line and column of bad cells (after the whole file:
        every chunk's problems, at most :data:`MAX_PROBLEMS` of a kind).
    """
    _check_header(file)
    problems: dict[str, list[str]] = {}

    def report(kind: str, text: str) -> None:
        listed = problems.setdefault(kind, [])
        if len(listed) < MAX_PROBLEMS:
            listed.append(text)

    try:
        chunks = pd.read_csv(
            file,
            engine="c",
            dtype=_DTYPES,
            na_values=list(MISSING_MARKS),
            keep_default_na=False,
            encoding="utf-8-sig",
            chunksize=chunk_rows,
        )
        offset = 0
        for df in chunks:
            arrays = {c: df[c].to_numpy() for c in BACI_COLUMNS}
            for col in ("t", "i", "j", "k"):
                if df[col].isna().any():
                    idx = int(np.flatnonzero(df[col].isna().to_numpy())[0])
                    report(col, f"{file.name} line {offset + idx + 2}, column '{col}': empty cell")
            for col in ("v", "q"):
                for idx in np.flatnonzero(arrays[col] < 0)[:MAX_PROBLEMS]:
                    report(
                        col + "<0",
                        f"{file.name} line {offset + idx + 2}, column '{col}': negative value "
                        f"{arrays[col][idx]:g}; BACI values and quantities are >= 0",
                    )
            i, j, k = arrays["i"], arrays["j"], arrays["k"]
            bad_code = np.union1d(
                np.flatnonzero((i < 0) | (i > 999)), np.flatnonzero((j < 0) | (j > 999))
            )
            for idx in bad_code[:MAX_PROBLEMS]:
                report(
                    "ij",
                    f"{file.name} line {offset + idx + 2}: country code outside 0-999 "
                    f"(i={i[idx]}, j={j[idx]}); BACI uses 3-digit M49 codes",
                )
            for idx in np.flatnonzero((k < 0) | (k > 999_999))[:MAX_PROBLEMS]:
                report(
                    "k",
                    f"{file.name} line {offset + idx + 2}, column 'k': {k[idx]} is not a "
                    f"6-digit HS code",
                )
            offset += len(df)
            if not problems:
                yield arrays
    except (ValueError, OverflowError) as exc:
        found = _bad_cells(file, chunk_rows) or [str(exc)]
        raise DataError(f"{file.name} has cells that are not numbers:", found) from exc
    except pd.errors.EmptyDataError as exc:
        raise DataError(
            f"{file.name} is empty; expected a header {','.join(BACI_COLUMNS)}"
        ) from exc
    if problems:
        listed = [p for kind in problems.values() for p in kind]
        raise DataError(f"{file.name} is not a valid BACI file:", listed)


@dataclass(frozen=True)
class _Reader:
    """What every partition needs to read its file (sent to each worker once)."""

    count: np.ndarray  # catalogue entries per 6-digit code
    countries: np.ndarray  # BACI country code (0-999) -> ISO3 index, -1 unmatched
    years: np.ndarray | None  # years to keep (None: all)
    chunk_rows: int


@dataclass(frozen=True)
class _Partition:
    """What one data file holds for the import.

    ``rows`` are the source rows of mapped products between known countries
    (``t, exp, imp, k, v, q``, exporter and importer as ISO3 indexes); the
    others are counted: per unmatched country code (``bad_codes``,
    ``bad_rows``, ``bad_value``, rows of mapped products) and per unmapped
    product code (``out_codes``, ``out_rows``, ``out_value``).
    """

    rows: dict[str, np.ndarray]
    rows_read: int
    bad_codes: np.ndarray
    bad_rows: np.ndarray
    bad_value: np.ndarray
    out_codes: np.ndarray
    out_rows: np.ndarray
    out_value: np.ndarray


def _read_partition(reader: _Reader, file: Path) -> _Partition:
    """Read one data file chunk by chunk; keep the mineral rows, count the others."""
    kept: list[dict[str, np.ndarray]] = []
    rows_read = 0
    bad_rows = np.zeros(1000, dtype=np.int64)
    bad_value = np.zeros(1000)
    out_rows = np.zeros(1_000_000, dtype=np.int64)
    out_value = np.zeros(1_000_000)
    for cols in _read_chunks(file, reader.chunk_rows):
        if reader.years is not None:
            keep_year = np.isin(cols["t"], reader.years)
            if not keep_year.all():
                cols = {c: a[keep_year] for c, a in cols.items()}
        rows_read += len(cols["t"])
        i, j, k, v = cols["i"], cols["j"], cols["k"], cols["v"]
        product_ok = reader.count[k] > 0
        exp = reader.countries[i]
        imp = reader.countries[j]
        for code in np.unique(
            np.concatenate([i[product_ok & (exp < 0)], j[product_ok & (imp < 0)]])
        ):
            hit = product_ok & ((i == code) | (j == code))
            bad_rows[code] += int(hit.sum())
            bad_value[code] += np.nansum(v[hit])
        codes, at = np.unique(k[~product_ok], return_inverse=True)
        out_rows[codes] += np.bincount(at, minlength=len(codes))
        out_value[codes] += np.bincount(
            at, weights=np.nan_to_num(v[~product_ok]), minlength=len(codes)
        )
        keep = np.flatnonzero(product_ok & (exp >= 0) & (imp >= 0))
        kept.append(
            {"t": cols["t"][keep], "exp": exp[keep], "imp": imp[keep], "k": k[keep],
             "v": v[keep], "q": cols["q"][keep]}
        )  # fmt: skip
    names = ("t", "exp", "imp", "k", "v", "q")
    rows = (
        {c: np.concatenate([part[c] for part in kept]) for c in names}
        if kept
        else {c: np.zeros(0, dtype=np.float64 if c in ("v", "q") else np.int32) for c in names}
    )
    bad = np.flatnonzero(bad_rows)
    out = np.flatnonzero(out_rows)
    return _Partition(
        rows=rows,
        rows_read=rows_read,
        bad_codes=bad,
        bad_rows=bad_rows[bad],
        bad_value=bad_value[bad],
        out_codes=out,
        out_rows=out_rows[out],
        out_value=out_value[out],
    )


# -------------------------------------------------------------------- countries


def _fix_mojibake(text: str) -> str:
    """Undo UTF-8 text that was decoded as Latin-1 once (``CÃ´te`` -> ``Côte``)."""
    try:
        return text.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return text


def _find_country_file(directory: Path, version: str) -> Path:
    exact = directory / f"country_codes_{version}.csv"
    if exact.is_file():
        return exact
    others = sorted(directory.glob("country_codes_*.csv"))
    if len(others) == 1:
        return others[0]
    raise DataError(
        f"no country code file country_codes_{version}.csv in {directory}; BACI releases "
        f"ship it next to the data files. Copy it there or pass country_codes=<file>"
    )


def _read_country_codes(file: Path) -> pd.DataFrame:
    """Return ``m49, name, release_iso3`` from a BACI country file."""
    if not file.is_file():
        raise DataError(f"BACI country code file {file} does not exist")
    try:
        raw = pd.read_csv(file, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except UnicodeDecodeError:
        raw = pd.read_csv(file, dtype=str, keep_default_na=False, encoding="cp1252")
    raw.columns = [c.strip() for c in raw.columns]
    name_col = next(
        (c for c in ("country_name", "country_name_full", "country_name_abbreviation") if c in raw),
        None,
    )
    iso_col = next((c for c in ("country_iso3", "iso_3digit_alpha") if c in raw), None)
    if "country_code" not in raw.columns or name_col is None or iso_col is None:
        raise DataError(
            f"{file.name} line 1: wrong header {', '.join(raw.columns)}; a BACI country "
            f"file has the columns country_code, country_name, country_iso2, country_iso3"
        )
    codes = pd.to_numeric(raw["country_code"].str.strip(), errors="coerce")
    bad = np.flatnonzero(codes.isna().to_numpy())
    if len(bad):
        raise DataError(
            f"{file.name} has country codes that are not numbers:",
            [
                f"{file.name} line {i + 2}, column 'country_code': {raw['country_code'].iloc[i]!r}"
                for i in bad
            ],
        )
    return pd.DataFrame(
        {
            "m49": codes.astype(int).to_numpy(),
            "name": [_fix_mojibake(n.strip()) for n in raw[name_col]],
            "release_iso3": raw[iso_col].str.strip().to_numpy(),
        }
    )


def _country_iso3(codes: pd.DataFrame) -> dict[int, str | None]:
    """Map every BACI code of the country file to ISO3 (None when nothing fits)."""
    valid = iso3_codes()
    out: dict[int, str | None] = {}
    for m49, name, iso in zip(codes["m49"], codes["name"], codes["release_iso3"], strict=True):
        if m49 in M49_OVERRIDES:
            out[m49] = M49_OVERRIDES[m49][0]
        elif iso in valid:
            out[m49] = iso
        else:
            out[m49] = to_iso3(name)
    return out


# ------------------------------------------------------------------------ main


def read_baci(
    path: str | Path,
    years: Iterable[int] | None = None,
    products: pd.DataFrame | None = None,
    *,
    country_codes: str | Path | None = None,
    chunk_rows: int = CHUNK_ROWS,
    progress: Callable[[int, int], None] | None = None,
    client: Client | Literal[False] | None = None,
) -> BaciResult:
    r"""Read a BACI release into the canonical trade table.

    Parameters
    ----------
    path
        Directory of a BACI release (``BACI_<HS>_Y<year>_<version>.csv`` files
        and ``country_codes_<version>.csv``), or one data file.
    years
        Years to read (e.g. ``range(2018, 2025)``); ``None`` reads every file.
        Only the files of these years are opened.
    products
        The product catalogue (:func:`riskengine.products.load_products`, e.g.
        extended by a dataset's own ``products.csv``); ``None`` uses the
        packaged one. Only its rows of the files' nomenclature are used; codes
        it lists without a mineral are deliberately not mapped.
    country_codes
        The release's country code file; by default
        ``country_codes_<version>.csv`` next to the data files.
    chunk_rows
        Rows of a file read at a time (memory; the result does not depend on
        it, except for the last bits of the value sums of unmatched and
        unmapped codes).
    progress
        Called with ``(files read, files)`` after each file.
    client
        A Dask ``distributed.Client`` whose workers read the files, one task
        per file (they must see ``path``: a local cluster does, a remote one
        needs a shared file system); None (default) uses the current client
        if the caller made one, else one process; False always one process
        (:mod:`riskengine.cluster`). The result is the same, bit for bit.

    Returns
    -------
    BaciResult
        The trade table and what was left out (unmatched country codes,
        unmapped products), with row counts.

    Raises
    ------
    DataError
        When the path, the files of a requested year or the country file are
        missing, a header is not ``t,i,j,k,v,q``, a cell is not a number, a
        value is negative, the directory mixes releases, the catalogue passed
        is invalid, or the catalogue maps no code of the files' nomenclature.
    RiskEngineError
        For ``chunk_rows`` below 1 or an invalid ``client``.

    Warns
    -----
    UserWarning
        When country codes of mapped products match no ISO3 code (their rows
        are reported in ``unmatched_codes`` and left out).

    Notes
    -----
    The nomenclature is the ``HS..`` part of the file names; code ``k`` of
    nomenclature ``N`` is the catalogue's product ``N:k``. For each of the
    product's minerals, with share :math:`s` (1 unless a mixed code is split
    by documented shares)

    .. math::

        \text{value\_usd} = 1000 \sum s\,v, \qquad
        \text{quantity} = \sum s\,q

    over the source rows of one (mineral, stage, exporter, importer, year,
    product), both rounded to 1e-6 to drop binary noise. ``quantity`` stays
    the gross weight of the product: the catalogue's content fraction turns
    it into contained content when a dataset is loaded. Missing stays
    missing: when any source row of an aggregate has no quantity, the
    aggregate's quantity is NaN, never a partial sum (so a unit value
    ``value_usd / quantity`` is never biased by rows without tonnage); the same
    holds for values. ``missing_quantity_rows`` counts such source rows.

    Country codes: the release's ``country_iso3`` is used when it is an ISO
    3166-1 code, except for :data:`M49_OVERRIDES` (Taiwan under 490 "Other
    Asia, nes", and pre-2000s customs areas attributed to their dominant
    successor: SACU 711 -> ZAF, Serbia and Montenegro 891 -> SRB, Netherlands
    Antilles 530 -> CUW, US Misc. Pacific Islands 849 -> UMI). The release
    itself already maps Belgium-Luxembourg (58, until 1998) to BEL and Sudan
    before 2011 (736) to SDN. Other codes fall back to
    :func:`riskengine.io.countries.to_iso3` on the name, else are unmatched.

    References
    ----------
    Gaulier, G. and Zignago, S. (2010). BACI: International Trade Database at
    the Product-Level. The 1994-2007 Version. CEPII Working Paper 2010-23.
    CEPII BACI, Etalab Open Licence 2.0, https://www.cepii.fr/CEPII/en/bdd_modele/bdd_modele_item.asp?id=37
    """
    path = Path(path)
    if chunk_rows < 1:
        raise RiskEngineError(f"chunk_rows must be at least 1, got {chunk_rows}")
    year_list = sorted({int(y) for y in years}) if years is not None else None
    if year_list is not None and not year_list:
        raise DataError("years is empty; pass at least one year, or None for all years")
    files = _find_files(path, year_list)
    nomenclature, version = files[0][2], files[0][3]
    catalogue = load_products() if products is None else validate_products(products)
    table = catalogue[catalogue["nomenclature"] == nomenclature]
    entries = _Entries.build(table, nomenclature)
    source = f"CEPII BACI {nomenclature} {version}"
    directory = path if path.is_dir() else path.parent
    country_file = (
        Path(country_codes) if country_codes is not None else _find_country_file(directory, version)
    )
    countries = _read_country_codes(country_file)

    # BACI country code -> ISO3 index, through a lookup array over 0-999.
    iso_of = _country_iso3(countries)
    isos = sorted({v for v in iso_of.values() if v is not None})
    iso_index = {c: n for n, c in enumerate(isos)}
    cty_lut = np.full(1000, -1, dtype=np.int32)
    for m49, iso in iso_of.items():
        if iso is not None and 0 <= m49 < 1000:
            cty_lut[m49] = iso_index[iso]

    # one partition per file, here or on the cluster, added up in file order
    reader = _Reader(
        count=entries.count,
        countries=cty_lut,
        years=None if year_list is None else np.asarray(year_list),
        chunk_rows=chunk_rows,
    )
    runner = resolve_client(client, "read_baci")
    tasks = ((reader, f) for _, f, _, _ in files)
    parts: list[_Partition] = []
    shipped = share(runner, [reader])
    for part in ordered(runner, _read_partition, tasks, name="baci-import", shared=shipped):
        parts.append(part)
        if progress is not None:
            progress(len(parts), len(files))
    cols = {c: np.concatenate([p.rows[c] for p in parts]) for c in parts[0].rows}
    rows_read = sum(p.rows_read for p in parts)

    unmatched = _unmatched_codes(parts, countries)
    unmapped = _unmapped_products(parts, table, directory, nomenclature)
    if len(unmatched):
        listing = "; ".join(
            f"{r.m49} {r.name!r} ({r.rows} rows)" for r in unmatched.itertuples(index=False)
        )
        warnings.warn(
            f"{source}: {len(unmatched)} country code(s) match no ISO3 code and their "
            f"rows are left out: {listing}. See BaciResult.unmatched_codes.",
            stacklevel=2,
        )
    if len(unmapped):
        logger.info(
            "%s: %d HS code(s) not mapped to a mineral (%d rows left out): %s",
            source,
            len(unmapped),
            int(unmapped["rows"].sum()),
            ", ".join(unmapped["hs_code"].head(30)),
        )

    missing_q = int(np.isnan(cols["q"]).sum())
    # one row per (source row, catalogue entry): a code mapped to several minerals repeats
    counts = entries.count[cols["k"]]
    row = np.repeat(np.arange(len(counts)), counts)
    within = np.arange(len(row)) - np.repeat(np.cumsum(counts) - counts, counts)
    entry = entries.first[cols["k"][row]] + within
    fraction = entries.share[entry]
    trade = _aggregate(
        entries.pair[entry],
        entries.product[entry],
        cols["exp"][row],
        cols["imp"][row],
        cols["t"][row],
        cols["v"][row] * fraction,
        cols["q"][row] * fraction,
        entries,
        isos,
        source,
    )
    logger.info(
        "%s: read %d rows from %d file(s); %d trade flows, %d source rows without quantity",
        source,
        rows_read,
        len(files),
        len(trade),
        missing_q,
    )
    return BaciResult(
        trade=trade,
        unmatched_codes=unmatched,
        unmapped_products=unmapped,
        missing_quantity_rows=missing_q,
        rows_read=rows_read,
        files=tuple(f for _, f, _, _ in files),
        source=source,
    )


@dataclass(frozen=True)
class _Entries:
    """Catalogue rows of one nomenclature as lookup arrays over all 6-digit codes.

    ``first[k]`` and ``count[k]`` locate code ``k``'s entries (rows sorted by
    code); each entry has its (mineral, stage) index ``pair`` into ``pairs``,
    its product index into ``products`` and its ``share``.
    """

    first: np.ndarray
    count: np.ndarray
    pair: np.ndarray
    product: np.ndarray
    share: np.ndarray
    pairs: list[tuple[str, str]]
    products: list[str]

    @classmethod
    def build(cls, table: pd.DataFrame, nomenclature: str) -> _Entries:
        mapped = table[table["mineral"] != ""]
        if mapped.empty:
            raise DataError(
                f"the product catalogue maps no {nomenclature} code to a mineral; add "
                f"{nomenclature} rows to a products.csv (columns of riskengine/products.csv) "
                f"and pass products=load_products(<its directory>)"
            )
        mapped = mapped.sort_values(["code", "mineral"], kind="stable")
        codes = mapped["code"].astype(int).to_numpy()
        pairs = sorted(set(zip(mapped["mineral"], mapped["stage"], strict=True)))
        pair_index = {p: n for n, p in enumerate(pairs)}
        products = sorted(set(mapped["product"]))
        product_index = {p: n for n, p in enumerate(products)}
        count = np.bincount(codes, minlength=1_000_000).astype(np.int32)
        first = np.full(1_000_000, -1, dtype=np.int64)
        unique, starts = np.unique(codes, return_index=True)
        first[unique] = starts
        return cls(
            first=first,
            count=count,
            pair=np.array(
                [pair_index[p] for p in zip(mapped["mineral"], mapped["stage"], strict=True)],
                dtype=np.int64,
            ),
            product=np.array([product_index[p] for p in mapped["product"]], dtype=np.int64),
            share=mapped["share"].to_numpy(dtype=float),
            pairs=pairs,
            products=products,
        )


def _unmatched_codes(parts: list[_Partition], countries: pd.DataFrame) -> pd.DataFrame:
    """Country codes of mapped products' rows that match no ISO3 code, over all files."""
    columns = ["m49", "name", "release_iso3", "rows", "value_usd"]
    rows = np.zeros(1000, dtype=np.int64)
    value = np.zeros(1000)
    for p in parts:
        rows[p.bad_codes] += p.bad_rows
        value[p.bad_codes] += p.bad_value
    codes = np.flatnonzero(rows)
    if not len(codes):
        return pd.DataFrame(
            {c: pd.Series(dtype=float if c == "value_usd" else object) for c in columns}
        )
    names = dict(zip(countries["m49"], countries["name"], strict=True))
    release = dict(zip(countries["m49"], countries["release_iso3"], strict=True))
    records = [
        {
            "m49": int(code),
            "name": names.get(int(code), "(not in the country file)"),
            "release_iso3": release.get(int(code), ""),
            "rows": int(rows[code]),
            "value_usd": float(value[code] * 1000.0),
        }
        for code in codes
    ]
    return pd.DataFrame.from_records(records, columns=columns)


def _unmapped_products(
    parts: list[_Partition],
    table: pd.DataFrame,
    directory: Path,
    nomenclature: str,
) -> pd.DataFrame:
    """HS codes of the files that the catalogue does not map, over all files."""
    columns = ["hs_code", "description", "listed", "rows", "value_usd"]
    counts = np.zeros(1_000_000, dtype=np.int64)
    values = np.zeros(1_000_000)
    for p in parts:
        counts[p.out_codes] += p.out_rows
        values[p.out_codes] += p.out_value
    codes = np.flatnonzero(counts)
    if not len(codes):
        return pd.DataFrame(columns=columns)
    hs = [f"{c:06d}" for c in codes]
    listed = dict(zip(table["code"], table["description"], strict=True))
    descriptions = {h: d for h, d in listed.items() if d}
    if any(h not in descriptions for h in hs):
        descriptions = {**_product_descriptions(directory, nomenclature), **descriptions}
    return pd.DataFrame(
        {
            "hs_code": hs,
            "description": [descriptions.get(h, "") for h in hs],
            "listed": [h in listed for h in hs],
            "rows": counts[codes],
            "value_usd": np.round(values[codes] * 1000.0, 6),
        },
        columns=columns,
    )


def _product_descriptions(directory: Path, nomenclature: str) -> dict[str, str]:
    files = sorted(directory.glob(f"product_codes_{nomenclature}_*.csv"))
    if not files:
        return {}
    try:
        raw = pd.read_csv(files[0], dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (UnicodeDecodeError, pd.errors.ParserError):
        return {}
    if "code" not in raw.columns or "description" not in raw.columns:
        return {}
    return dict(zip(raw["code"].str.strip().str.zfill(6), raw["description"], strict=True))


def _aggregate(
    pair: np.ndarray,
    product: np.ndarray,
    exp: np.ndarray,
    imp: np.ndarray,
    year: np.ndarray,
    v: np.ndarray,
    q: np.ndarray,
    entries: _Entries,
    isos: list[str],
    source: str,
) -> pd.DataFrame:
    """Sum flows per (pair, exporter, importer, year, product) on one integer key.

    The key orders like the canonical trade key (pairs, countries and products
    are sorted lists), so the result comes sorted.
    """
    columns = TRADE.column_names
    if not len(pair):
        empty = pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
        empty["year"] = empty["year"].astype(np.int64)
        for c in ("quantity", "value_usd"):
            empty[c] = empty[c].astype(float)
        return empty
    n_c = len(isos)
    n_p = len(entries.products)
    y0 = int(year.min())
    n_y = int(year.max()) - y0 + 1
    key = (((pair * n_c + exp) * n_c + imp) * n_y + (year - y0)) * n_p + product
    # A stable sort of the key, then sums over runs of equal keys (faster than
    # hashing here: the files come nearly sorted by exporter and importer).
    order = np.argsort(key, kind="stable")
    key = key[order]
    starts = np.concatenate(([0], np.flatnonzero(key[1:] != key[:-1]) + 1))
    uniq = key[starts]
    q = q[order]
    v = v[order]
    q_nan = np.isnan(q)
    v_nan = np.isnan(v)
    q_sum = np.add.reduceat(np.where(q_nan, 0.0, q), starts)
    v_sum = np.add.reduceat(np.where(v_nan, 0.0, v), starts)
    q_any_nan = np.logical_or.reduceat(q_nan, starts)
    v_any_nan = np.logical_or.reduceat(v_nan, starts)
    quantity = np.where(q_any_nan, np.nan, np.round(q_sum, 6))
    value = np.where(v_any_nan, np.nan, np.round(v_sum * 1000.0, 6))

    rest, product_u = np.divmod(uniq, n_p)
    rest, y_off = np.divmod(rest, n_y)
    rest, imp_u = np.divmod(rest, n_c)
    pair_u, exp_u = np.divmod(rest, n_c)
    minerals = np.array([p[0] for p in entries.pairs], dtype=object)
    stages = np.array([p[1] for p in entries.pairs], dtype=object)
    product_arr = np.array(entries.products, dtype=object)
    iso_arr = np.array(isos, dtype=object)
    return pd.DataFrame(
        {
            "mineral": _text(minerals[pair_u]),
            "stage": _text(stages[pair_u]),
            "exporter": _text(iso_arr[exp_u]),
            "importer": _text(iso_arr[imp_u]),
            "year": (y_off + y0).astype(np.int64),
            "product": _text(product_arr[product_u]),
            "quantity": quantity,
            "value_usd": value,
            "source": source,
        },
        columns=columns,
    )
