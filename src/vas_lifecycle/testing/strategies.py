"""Hypothesis strategies for vas_lifecycle, in one place, growing with each feature."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from hypothesis import strategies as st

from vas_lifecycle.catalog import Catalog, OfferKind, Service
from vas_lifecycle.policy import Channel, FirstPeriodRule, Policy

__all__ = [
    "amounts",
    "bad_amounts",
    "bad_msisdns",
    "catalogs",
    "channels",
    "china_mobile_numbers",
    "msisdn_spellings",
    "operator_channels",
    "policies",
    "services",
    "sms_texts",
]

channels = st.sampled_from(list(Channel))
operator_channels = st.sampled_from(
    [c for c in Channel if c in Policy.china_mobile().operator_channels]
)


@st.composite
def china_mobile_numbers(draw: st.DrawFn) -> str:
    """A Chinese mobile number in E.164 (``+861XXXXXXXXXX``)."""
    second = draw(st.sampled_from("3456789"))
    rest = draw(st.text(alphabet="0123456789", min_size=9, max_size=9))
    return f"+861{second}{rest}"


@st.composite
def msisdn_spellings(draw: st.DrawFn) -> tuple[str, str]:
    """``(spelling, e164)``: how people and systems write the same number."""
    e164 = draw(china_mobile_numbers())
    national = e164[3:]
    spelling = draw(
        st.sampled_from(
            [
                e164,
                national,
                "0086" + national,
                "86" + national,
                f"+86 {national[:3]} {national[3:7]} {national[7:]}",
                f"{national[:3]}-{national[3:7]}-{national[7:]}",
                "".join(chr(ord(c) + 0xFEE0) for c in national),  # full-width digits
            ]
        )
    )
    return spelling, e164


bad_msisdns = st.one_of(
    st.just(""),
    st.just("   "),
    st.text(alphabet="0123456789", min_size=1, max_size=6),
    st.from_regex(r"\A[1-9][0-9]{15,29}\Z"),  # too long even without a 00 prefix
    st.from_regex(r"\A\+?[0-9]{5,12}[A-Za-z#*][0-9]{0,4}\Z"),
    st.integers(),
    st.none(),
    st.floats(allow_nan=False),
)

amounts = st.decimals(
    min_value=0, max_value=10_000, places=2, allow_nan=False, allow_infinity=False
)

bad_amounts = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.decimals(max_value=Decimal("-0.01"), places=2, allow_nan=False, allow_infinity=False),
    st.decimals(min_value=0, max_value=100, places=4, allow_nan=False, allow_infinity=False).filter(
        lambda d: d != d.quantize(Decimal("0.01"))
    ),
    st.sampled_from(["abc", "NaN", "Infinity", "-1", "1.005", ""]),
    st.booleans(),
    st.none(),
)

_codes = st.text(alphabet="ABCDEFGHJKLMNPQRSTUVWXYZ", min_size=2, max_size=6)
_names = st.text(
    alphabet=st.characters(categories=("Lu", "Ll", "Lo", "Nd")), min_size=1, max_size=12
)


@st.composite
def services(draw: st.DrawFn, kind: OfferKind | None = None) -> Service:
    """A valid catalog entry of any offer kind."""
    chosen = kind if kind is not None else draw(st.sampled_from(list(OfferKind)))
    if chosen is OfferKind.TRIAL:
        price = Decimal("0")
        trial_days: int | None = draw(st.integers(1, 31))
    else:
        price = draw(st.decimals(min_value=Decimal("0.10"), max_value=30, places=2))
        trial_days = None
    return Service(
        code=draw(_codes),
        sp_id=draw(st.sampled_from(["SP01", "SP02", "SP03"])),
        sp_name=draw(_names),
        name=draw(_names),
        kind=chosen,
        price=price,
        access_code=draw(st.sampled_from(["10658001", "10658002", "10658003"])),
        trial_days=trial_days,
    )


@st.composite
def catalogs(draw: st.DrawFn, min_size: int = 1, max_size: int = 6) -> Catalog:
    """A catalog with unique codes and at least one service of each drawn kind."""
    entries = draw(
        st.lists(services(), min_size=min_size, max_size=max_size, unique_by=lambda s: s.code)
    )
    return Catalog(entries)


@st.composite
def policies(draw: st.DrawFn) -> Policy:
    """China-preset policies with their [practice] parameters varied."""
    return Policy.china_mobile(
        confirmation_window=dt.timedelta(hours=draw(st.integers(1, 72))),
        # IN1: a short window for USSD or SMS requests now and then
        confirmation_windows=draw(
            st.dictionaries(
                st.sampled_from([Channel.USSD, Channel.SMS]),
                st.integers(10, 7200).map(lambda s: dt.timedelta(seconds=s)),
                max_size=2,
            )
        ),
        trial_reminder_lead=dt.timedelta(hours=draw(st.integers(1, 96))),
        first_period=draw(st.sampled_from(list(FirstPeriodRule))),
        sp_daily_request_limit=draw(st.integers(1, 5)),
        fastest_human_reply=dt.timedelta(seconds=draw(st.integers(0, 5))),
    )


#: Texts subscribers send, well-formed and not.
SMS_WORDS = (
    "是",
    "否",
    "Y",
    "N",
    "YES",
    "NO",
    "y",
    "Ｙ",
    "０００００",
    "0000",
    "00000",
    "1",
    "2",
    "1，3",
    "1、2",
    "1 2",
    "3,1",
    "0",
    "TD",
    "ＴＤ",
    "td news",
    "QX",
    "退订",
    "帮助",
    "HELP",
    "?",
    "？",
    "Y 1234",
    "是1234",
    "TD WEATHER",
    "TD JOKE",
    "STOP",
    # the regimes' words (UK1, US2, IN4, AU3) and revocations in other words
    "stop all",
    "STOP NEWS",
    "END",
    "Cancel",
    "UNSUBSCRIBE",
    "quit",
    "REVOKE",
    "opt out",
    "INFO",
    "please stop texting me",
    "unsubscribe me",
)


def sms_texts() -> st.SearchStrategy[str]:
    """Commands in many spellings, and arbitrary Unicode: empty, long, control
    characters, emoji, direction marks."""
    noise = st.sampled_from(["", " ", "\u3000", "。", "!", "\u200f", "\u202e", "👍", "\t"])
    words = st.builds(lambda a, w, b: a + w + b, noise, st.sampled_from(SMS_WORDS), noise)
    return st.one_of(
        words,
        st.text(max_size=40),
        st.text(alphabet=st.characters(codec="utf-8"), max_size=200),
        st.sampled_from(["", "\x00", "\u202e\u202dY", "Y" * 10_000, "💥" * 500, "\ud800"]),
    )
