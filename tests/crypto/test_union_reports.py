"""Rate and client report formats (crypto/union): strict fields, the ring signature over
the ballot keys, scoped linking, fixed size, and the exact quartile method."""

from __future__ import annotations

import os
import statistics
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.core.rates import quarter_of
from app.core.union_stats import quartiles
from crypto.ballot.blsag import Ring
from crypto.ballot.keys import BallotKeyPair
from crypto.errors import BadSignature, CaucusError, MalformedData
from crypto.union.fields import check_currency, normalise_name, parse_amount
from crypto.union.reports import (
    ClientReport,
    RateReport,
    RateUnit,
    ThresholdSetting,
    is_report,
    open_report,
    sign_report,
)

GROUP = bytes(range(16))
KEYS = [BallotKeyPair.generate(os.urandom) for _ in range(4)]
RING = Ring.of([k.public for k in KEYS])


def rate(period: str = "2026-Q4", amount: str = "450") -> RateReport:
    return RateReport(period, "translator", amount, "EUR", RateUnit.DAY, "senior", "berlin")


def test_round_trip_and_any_member_of_the_ring() -> None:
    for index, pair in enumerate(KEYS):
        data = sign_report(rate(), GROUP, 7, index, RING, pair, os.urandom)
        opened = open_report(data, RING)
        assert (opened.group_id, opened.log_seq, opened.revision) == (GROUP, 7, index)
        assert opened.report == rate()
        assert is_report(data)


def test_same_member_same_scope_links_other_scopes_do_not() -> None:
    pair = KEYS[1]

    def image(report: RateReport | ClientReport) -> bytes:
        return open_report(sign_report(report, GROUP, 1, 0, RING, pair, os.urandom), RING).key_image

    assert image(rate(amount="450")) == image(rate(amount="900"))  # same period: linked
    assert image(rate(period="2026-Q3")) != image(rate())  # other period: not
    acme = ClientReport("acme gmbh", 0, False, True)
    assert image(acme) == image(ClientReport("acme gmbh", 12, True, False, "late"))
    assert image(acme) != image(ClientReport("globex", 0, False, True))
    assert image(acme) != image(rate())
    others = {image(rate()) for _ in range(2)} | {
        open_report(sign_report(rate(), GROUP, 1, 0, RING, k, os.urandom), RING).key_image
        for k in KEYS
        if k is not pair
    }
    assert len(others) == 4  # each member its own image


def test_client_names_normalise_to_one_scope() -> None:
    names = ("ACME  GmbH", " acme gmbh ", "\uff21\uff23\uff2d\uff25\tGmbH", "Acme\u00a0GmbH")
    assert {normalise_name(n, 128, "client name") for n in names} == {"acme gmbh"}
    with pytest.raises(MalformedData):
        ClientReport("ACME GmbH", 0, False, True)  # only the normalised form travels


def test_every_report_has_one_size_and_names_no_member() -> None:
    short = ClientReport("a", 0, False, False)
    long = ClientReport("x" * 128, 3650, True, True, "é" * 500)
    widest = RateReport(
        "2026-Q4", "r" * 64, "123456789012.1234", "EUR", RateUnit.PROJECT, "s" * 32, "g" * 64
    )
    sizes = set()
    for pair in KEYS:
        for report in (rate(), widest, short, long):
            data = sign_report(report, GROUP, 1, 0, RING, pair, os.urandom)
            sizes.add(len(data))
            assert pair.public not in data
    assert len(sizes) == 1


def test_forgeries_are_refused() -> None:
    data = sign_report(rate(), GROUP, 1, 0, RING, KEYS[0], os.urandom)
    other_ring = Ring.of([k.public for k in KEYS[1:]] + [BallotKeyPair.generate(os.urandom).public])
    with pytest.raises(BadSignature):
        open_report(data, Ring.of([*RING.points[1:], other_ring.points[-1]]))
    outsider = BallotKeyPair.generate(os.urandom)
    with pytest.raises(CaucusError):
        sign_report(rate(), GROUP, 1, 0, RING, outsider, os.urandom)
    for position in range(0, len(data), 61):
        tampered = bytearray(data)
        tampered[position] ^= 0x01
        with pytest.raises(CaucusError):
            open_report(bytes(tampered), RING)


@pytest.mark.parametrize(
    "text", ["-1", "+1", "1e3", "01", "1.", ".5", "1.23456", "1,5", " 1", "0", "0.0000", "١٢"]
)
def test_amounts_are_strict(text: str) -> None:
    with pytest.raises(MalformedData):
        parse_amount(text)


def test_amount_currency_period_limits() -> None:
    assert parse_amount("999999999999.9999") == Decimal("999999999999.9999")
    with pytest.raises(MalformedData):
        parse_amount("1" * 13)
    assert check_currency("JPY") == "JPY"
    for code in ("eur", "XXX", "EURO", ""):
        with pytest.raises(MalformedData):
            check_currency(code)
    assert quarter_of(1_764_547_200_000) == "2025-Q4"  # 2025-12-01 UTC
    with pytest.raises(MalformedData):
        ClientReport("acme", 3651, False, False)
    with pytest.raises(MalformedData):
        ClientReport("acme", 0, False, False, "bell\x07")
    with pytest.raises(MalformedData):
        ThresholdSetting(2)
    assert ThresholdSetting.decode(ThresholdSetting(5).encode()) == ThresholdSetting(5)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.decimals(min_value="0.0001", max_value="99999", places=4), min_size=2))
def test_quartiles_equal_statistics_inclusive(values: list[Decimal]) -> None:
    got = quartiles([str(v) for v in values])
    expected = statistics.quantiles(values, n=4, method="inclusive")
    assert [Decimal(got.q1), Decimal(got.median), Decimal(got.q3)] == expected
    shuffled = quartiles([str(v) for v in reversed(values)])
    assert shuffled == got
