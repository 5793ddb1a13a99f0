"""One country table: every source's names and codes to ISO 3166-1 alpha-3.

Sources spell countries their own way ("Congo (Kinshasa)", "Burma",
"Korea, Republic of", BACI's UN M49 numbers). :func:`to_iso3` maps a name
through the ISO 3166 table of :mod:`pycountry` plus :data:`ALIASES`, the
curated list of source spellings. Names that match nothing are returned as
``None`` so that callers report them; nothing is dropped in silence. Names
that match several countries (:data:`AMBIGUOUS`, e.g. "Congo") are refused
with the candidates.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import cache

from riskengine.dims import OTHER_COUNTRIES
from riskengine.errors import AmbiguousLabelError

#: Codes that are valid in riskengine beyond ISO 3166-1 alpha-3.
EXTRA_CODES: dict[str, str] = {
    "XKX": "Kosovo",
    OTHER_COUNTRIES: "Other countries (residual of a source's total)",
}

#: Source spellings that the ISO 3166 names do not match, in normalised form
#: (lower case, accents and footnote digits removed, see :func:`normalise_name`).
ALIASES: dict[str, str] = {
    "other countries": OTHER_COUNTRIES,
    "other": OTHER_COUNTRIES,
    "others": OTHER_COUNTRIES,
    "rest of world": OTHER_COUNTRIES,
    "congo (kinshasa)": "COD",
    "congo, dem. rep.": "COD",
    "congo, democratic republic of the": "COD",
    "congo, democratic republic of": "COD",
    "democratic republic of the congo": "COD",
    "democratic republic of congo": "COD",  # IEA Critical Minerals Data Explorer
    "dem. rep. of the congo": "COD",
    "drc": "COD",
    "congo (brazzaville)": "COG",
    "congo, rep.": "COG",
    "republic of the congo": "COG",
    "burma": "MMR",
    "myanmar": "MMR",
    "korea, republic of": "KOR",
    "korea, rep.": "KOR",
    "korea, south": "KOR",
    "south korea": "KOR",
    "republic of korea": "KOR",
    "rep. of korea": "KOR",
    "korea": "KOR",
    "korea, north": "PRK",
    "north korea": "PRK",
    "korea, dem. people's rep.": "PRK",
    "dem. people's rep. of korea": "PRK",
    "russia": "RUS",
    "russian federation": "RUS",
    "iran": "IRN",
    "iran, islamic rep.": "IRN",
    "laos": "LAO",
    "lao pdr": "LAO",
    "vietnam": "VNM",
    "viet nam": "VNM",
    "turkey": "TUR",
    "turkiye": "TUR",
    "bolivia": "BOL",
    "venezuela": "VEN",
    "venezuela, rb": "VEN",
    "tanzania": "TZA",
    "united republic of tanzania": "TZA",
    "syria": "SYR",
    "syrian arab republic": "SYR",
    "moldova": "MDA",
    "republic of moldova": "MDA",
    "taiwan": "TWN",
    "taiwan, china": "TWN",
    "other asia, nes": "TWN",
    "china, hong kong sar": "HKG",
    "hong kong sar, china": "HKG",
    "china, macao sar": "MAC",
    "macao sar, china": "MAC",
    "united states": "USA",
    "united states of america": "USA",
    "usa": "USA",
    "u.s.": "USA",
    "united kingdom": "GBR",
    "uk": "GBR",
    "czech republic": "CZE",
    "czechia": "CZE",
    "slovak republic": "SVK",
    "kyrgyz republic": "KGZ",
    "kyrgyzstan": "KGZ",
    "egypt, arab rep.": "EGY",
    "egypt": "EGY",
    "yemen, rep.": "YEM",
    "gambia, the": "GMB",
    "bahamas, the": "BHS",
    "the bahamas": "BHS",
    "micronesia, fed. sts.": "FSM",
    "st. lucia": "LCA",
    "st. kitts and nevis": "KNA",
    "st. vincent and the grenadines": "VCT",
    "cote d'ivoire": "CIV",
    "ivory coast": "CIV",
    "cabo verde": "CPV",
    "cape verde": "CPV",
    "eswatini": "SWZ",
    "swaziland": "SWZ",
    "north macedonia": "MKD",
    "macedonia": "MKD",
    "west bank and gaza": "PSE",
    "state of palestine": "PSE",
    "kosovo": "XKX",
    "brunei": "BRN",
    "brunei darussalam": "BRN",
    "curacao": "CUW",
    "reunion": "REU",
    "turks and caicos islands": "TCA",
    "virgin islands (u.s.)": "VIR",
    "new caledonia": "NCL",
    "netherlands antilles": "ANT",
    "east timor": "TLS",
    "timor-leste": "TLS",
    "bosnia and herzegovina": "BIH",
    "bosnia-herzegovina": "BIH",
    "united arab emirates": "ARE",
    "saudi arabia": "SAU",
    "papua new guinea": "PNG",
    "central african republic": "CAF",
    "dominican republic": "DOM",
    "sao tome and principe": "STP",
    "micronesia": "FSM",
    "holy see": "VAT",
    "vatican": "VAT",
}


#: Names, in normalised form, that more than one country goes by: each candidate
#: code with its readable name. :func:`to_iso3` refuses them with the choices.
AMBIGUOUS: dict[str, dict[str, str]] = {
    "congo": {
        "COD": "Democratic Republic of the Congo",
        "COG": "Republic of the Congo",
    },
}


def normalise_name(name: str) -> str:
    """Normalise a country name for lookup.

    Lower-cases, strips accents, trailing footnote digits (``"New Caledonia11"``),
    ``e`` estimate marks in parentheses, asterisks and surplus white space.

    Examples
    --------
    >>> normalise_name("New Caledonia11")
    'new caledonia'
    >>> normalise_name("  Côte d’Ivoire ")
    "cote d'ivoire"
    """
    text = unicodedata.normalize("NFKD", name)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = text.replace("\u2019", "'").replace("\u2018", "'")
    text = re.sub(r"[\d,*]+$", "", text.strip())
    text = re.sub(r"\s+", " ", text).strip().rstrip(",").strip()
    return text.lower()


@cache
def iso3_codes() -> frozenset[str]:
    """Return every country code riskengine accepts.

    These are the ISO 3166-1 alpha-3 codes plus :data:`EXTRA_CODES`.
    """
    import pycountry

    return frozenset({c.alpha_3 for c in pycountry.countries} | set(EXTRA_CODES))


@cache
def _iso_name_table() -> dict[str, str]:
    import pycountry

    table: dict[str, str] = {}
    for c in pycountry.countries:
        for attr in ("name", "official_name", "common_name"):
            value = getattr(c, attr, None)
            if value:
                table[normalise_name(value)] = c.alpha_3
    return table


def to_iso3(name: str) -> str | None:
    """Map one source spelling of a country to its ISO3 code.

    Parameters
    ----------
    name
        A country name or code as a source writes it.

    Returns
    -------
    str or None
        The ISO 3166-1 alpha-3 code, :data:`~riskengine.dims.OTHER_COUNTRIES` for
        residual rows, or ``None`` when nothing matches.

    Raises
    ------
    AmbiguousLabelError
        When the name is one several countries go by (:data:`AMBIGUOUS`);
        the message names the candidates.

    Examples
    --------
    >>> to_iso3("Congo (Kinshasa)")
    'COD'
    >>> to_iso3("Burma")
    'MMR'
    >>> to_iso3("CHN")
    'CHN'
    >>> to_iso3("Atlantis") is None
    True
    """
    stripped = name.strip()
    if stripped.upper() in iso3_codes() and len(stripped) == 3:
        return stripped.upper()
    key = normalise_name(stripped)
    if key in AMBIGUOUS:
        raise AmbiguousLabelError("country", stripped, AMBIGUOUS[key])
    if key in ALIASES:
        return ALIASES[key]
    return _iso_name_table().get(key)


def map_names(names: Iterable[str]) -> tuple[dict[str, str], list[str]]:
    """Map many names at once.

    Returns
    -------
    mapping : dict
        Name to ISO3 for every name that matched.
    unmatched : list of str
        Names that matched nothing, in first-seen order, for the caller to report.
    """
    mapping: dict[str, str] = {}
    unmatched: list[str] = []
    for name in dict.fromkeys(names):
        code = to_iso3(name)
        if code is None:
            unmatched.append(name)
        else:
            mapping[name] = code
    return mapping, unmatched


def country_name(code: str) -> str:
    """Return a readable name for an ISO3 code (the code itself when unknown)."""
    if code in EXTRA_CODES:
        return EXTRA_CODES[code]
    import pycountry

    c = pycountry.countries.get(alpha_3=code)
    if c is None:
        return code
    return str(getattr(c, "common_name", None) or c.name)
