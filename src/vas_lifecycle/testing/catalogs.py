"""The catalogs of the test kit, the demos and the simulation's tests, in one place.

Plain data: nothing here needs Hypothesis.
"""

from __future__ import annotations

from decimal import Decimal

import attrs

from vas_lifecycle.catalog import Catalog, OfferKind, Service

__all__ = ["demo_catalog", "small_catalog"]


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
