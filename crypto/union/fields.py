"""Field rules shared by rate and client reports: names, decimal amounts, currencies, periods.

Everything here is pure and strict: a value either parses to its one canonical form or
raises ``MalformedData`` with a one-line reason (docs/union-tools.md section 2). No
floats anywhere: amounts are ``Decimal`` strings with at most 12 integer and 4 fractional
digits.
"""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal
from typing import Final

from crypto.errors import MalformedData

__all__ = [
    "CURRENCIES",
    "MAX_AMOUNT_TEXT",
    "MAX_CLIENT_NAME",
    "MAX_COMMENT",
    "MAX_LATE_DAYS",
    "MAX_REGION",
    "MAX_ROLE",
    "MAX_SENIORITY",
    "check_comment",
    "check_currency",
    "normalise_name",
    "parse_amount",
    "parse_period",
]

MAX_ROLE: Final = 64
MAX_SENIORITY: Final = 32
MAX_REGION: Final = 64
MAX_CLIENT_NAME: Final = 128
MAX_COMMENT: Final = 1000
MAX_AMOUNT_TEXT: Final = 17  # 12 digits, a point, 4 digits
MAX_LATE_DAYS: Final = 3650

_AMOUNT = re.compile(r"(0|[1-9][0-9]{0,11})(\.[0-9]{1,4})?")
_PERIOD = re.compile(r"(20[0-9]{2})-Q([1-4])")
_SPACES = re.compile(r"\s+")

_ISO_4217 = """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL
    BSD BTN BWP BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP
    ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR
    IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL
    LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR
    NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD
    SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX
    USD UYU UZS VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG
"""

CURRENCIES: Final = frozenset(_ISO_4217.split())
"""Active ISO 4217 currency codes (funds, metals and test codes left out)."""


def normalise_name(text: str, limit: int, what: str) -> str:
    """NFKC, case folded, whitespace runs collapsed to one space, trimmed; non-empty, no
    control characters, at most ``limit`` UTF-8 bytes after normalising."""
    name = _SPACES.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()
    if not name:
        raise MalformedData(f"the {what} is empty")
    if any(unicodedata.category(c) in ("Cc", "Cf", "Cs") for c in name):
        raise MalformedData(f"the {what} contains control characters")
    if len(name.encode("utf-8")) > limit:
        raise MalformedData(f"the {what} is longer than {limit} bytes")
    return name


def check_comment(text: str) -> str:
    """Free text of at most ``MAX_COMMENT`` UTF-8 bytes, no control characters but newlines."""
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError:
        raise MalformedData("the comment is not valid text") from None
    if size > MAX_COMMENT:
        raise MalformedData(f"the comment is longer than {MAX_COMMENT} bytes")
    if any(unicodedata.category(c) == "Cc" and c != "\n" for c in text):
        raise MalformedData("the comment contains control characters")
    return text


def parse_amount(text: str) -> Decimal:
    """A positive decimal ``123``, ``123.5``, ``0.25``: no sign, exponent, spaces or
    leading zeros, at most 12 digits before the point and 4 after."""
    if len(text) > MAX_AMOUNT_TEXT or _AMOUNT.fullmatch(text) is None:
        raise MalformedData("a rate is a positive decimal such as 450 or 52.50")
    value = Decimal(text)
    if value <= 0:
        raise MalformedData("a rate must be more than zero")
    return value


def check_currency(code: str) -> str:
    """An active ISO 4217 code, upper case as written (``EUR``)."""
    if code not in CURRENCIES:
        raise MalformedData(f"unknown currency {code[:8]!r}; use an ISO 4217 code such as EUR")
    return code


def parse_period(text: str) -> str:
    """A calendar quarter ``YYYY-Qn`` from 2000-Q1 to 2099-Q4."""
    if _PERIOD.fullmatch(text) is None:
        raise MalformedData("a period is a calendar quarter such as 2026-Q4")
    return text
