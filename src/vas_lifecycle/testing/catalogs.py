"""The catalogs of the test kit, the demos and the simulation's tests, in one place.

Plain data: nothing here needs Hypothesis.
"""

from __future__ import annotations

from decimal import Decimal

import attrs

from vas_lifecycle.catalog import Catalog, OfferKind, Service

__all__ = ["ROGUE_SP", "demo_catalog", "simulation_catalog", "small_catalog"]

#: The simulation's rogue SP, which tries forced subscriptions.
ROGUE_SP = "SP09"


def demo_catalog() -> Catalog:
    """Two SPs, one service of each offer kind plus a short trial and a second
    subscription on the same access code."""
    return Catalog(
        [
            Service(
                code="NEWS",
                sp_id="SP01",
                sp_name="星辰科技",
                name="新闻早报",
                kind=OfferKind.SUBSCRIPTION,
                price=Decimal("5.00"),
                access_code="10658001",
            ),
            Service(
                code="WEATHER",
                sp_id="SP01",
                sp_name="星辰科技",
                name="天气预报",
                kind=OfferKind.SUBSCRIPTION,
                price=Decimal("3.00"),
                access_code="10658001",
            ),
            Service(
                code="JOKE",
                sp_id="SP01",
                sp_name="星辰科技",
                name="笑话点播",
                kind=OfferKind.ON_DEMAND,
                price=Decimal("1.00"),
                access_code="10658001",
            ),
            Service(
                code="MUSIC7",
                sp_id="SP02",
                sp_name="乐享音乐",
                name="彩铃体验",
                kind=OfferKind.TRIAL,
                price=Decimal("0"),
                trial_days=7,
                access_code="10658002",
            ),
            Service(
                code="GAME1",
                sp_id="SP02",
                sp_name="乐享音乐",
                name="游戏一日体验",
                kind=OfferKind.TRIAL,
                price=Decimal("0"),
                trial_days=1,
                access_code="10658002",
            ),
        ]
    )


def small_catalog() -> Catalog:
    """The explorer's world: the demo's subscription and on-demand service of SP01,
    and a one-day trial of SP02."""
    demo = demo_catalog()
    return Catalog(
        [demo.get("NEWS"), demo.get("JOKE"), attrs.evolve(demo.get("GAME1"), code="GAME")]
    )


def simulation_catalog() -> Catalog:
    """Three honest SPs and a rogue one, each kind of offer."""

    def service(
        code: str,
        sp: tuple[str, str, str],
        name: str,
        kind: OfferKind,
        price: str,
        days: int | None = None,
    ) -> Service:
        return Service(
            code=code,
            sp_id=sp[0],
            sp_name=sp[1],
            name=name,
            kind=kind,
            price=Decimal(price),
            access_code=sp[2],
            trial_days=days,
        )

    stars = ("SP01", "星辰科技", "10658001")
    music = ("SP02", "乐享音乐", "10658002")
    games = ("SP03", "趣玩游戏", "10658003")
    rogue = (ROGUE_SP, "暗影传媒", "10658009")
    return Catalog(
        [
            service("NEWS", stars, "新闻早报", OfferKind.SUBSCRIPTION, "5"),
            service("WEATHER", stars, "天气预报", OfferKind.SUBSCRIPTION, "3"),
            service("JOKE", stars, "笑话点播", OfferKind.ON_DEMAND, "1"),
            service("RING", music, "彩铃包月", OfferKind.SUBSCRIPTION, "6"),
            service("MUSIC7", music, "彩铃体验", OfferKind.TRIAL, "0", 7),
            service("GAME", games, "游戏会员", OfferKind.SUBSCRIPTION, "10"),
            service("GAME1", games, "游戏一日体验", OfferKind.TRIAL, "0", 1),
            service("SONG", games, "单曲下载", OfferKind.ON_DEMAND, "2"),
            service("SHADOW", rogue, "暗影资讯", OfferKind.SUBSCRIPTION, "15"),
        ]
    )
