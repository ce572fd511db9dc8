"""The names of the KPIs a scenario produces, known before anything is simulated.

A typo in a target's KPI (``revenu.online``) used to pass ``channelsim validate`` and fail a
run minutes later; the names depend only on the scenario (its families, channels, tiers and
stock), so they are checked when the scenario loads. :mod:`sim.kpis` computes exactly these
names (``tests/test_validate.py`` holds the two together on every shipped scenario).

* ``KPI`` for the whole market, ``KPI.SCOPE`` for a family present, ``online`` (every family but
  offline; the whole market when there is no offline channel) or a channel id;
* market-wide only: :data:`MARKET_KPIS`, ``tier_share.<tier>``, ``repurchase_rate.<tier>``;
* with an ``inventory:`` section: :data:`INVENTORY_KPIS`, each also ``.<sku id>`` and
  ``.<location id>``.

    >>> from sim.scenario import load_scenario
    >>> sc = load_scenario("scenarios/baseline.yaml")
    >>> {"revenue.online", "roi_paid.tmall", "fill_rate.central"} <= kpi_names(sc)
    True
    >>> kpi_problem("revenu.online", sc)
    "unknown KPI 'revenu.online' (did you mean 'revenue.online'?)"
"""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING

from sim.levers.tiers import TIER_IDS

if TYPE_CHECKING:
    from sim.scenario.schema import Scenario

#: KPIs that exist for the whole market and for every scope (``KPI.SCOPE``).
SCOPED_KPIS: tuple[str, ...] = (
    "revenue",
    "orders",
    "visits",
    "buyers",
    "new_customers",
    "conversion_rate",
    "aov",
    "repurchase_rate",
    "spend",
    "cac",
    "ltv",
    "roi_paid",
    "roi_overall",
    "cost_share",
    "satisfaction",
    "profit",
    "coupon_cost",
    "subscription_share",
    "promo_revenue_share",
    "price_band_violations",
)
#: KPIs that only make sense for the whole market.
MARKET_KPIS: tuple[str, ...] = ("traffic_concentration", "customer_overlap", "private_pool")
#: Stock KPIs (:mod:`sim.inventory.kpis`), with an ``inventory:`` section only.
INVENTORY_KPIS: tuple[str, ...] = (
    "stockout_rate",
    "fill_rate",
    "lost_sales",
    "backorders",
    "backorder_days",
    "inventory_turnover",
    "days_of_supply",
    "holding_cost",
    "ordering_cost",
    "transfer_cost",
    "backorder_cost",
    "lost_margin",
    "inventory_cost",
    "delivery_days",
)
#: The scope of every online family together.
ONLINE_SCOPE = "online"
#: Names a channel id may not take: ``KPI.<name>`` already means a family, the online scope or
#: a private tier, so a channel of that name would silently replace those KPIs.
RESERVED_SCOPES: tuple[str, ...] = ("public", "private", "social", "offline", ONLINE_SCOPE)
RESERVED_CHANNEL_IDS: tuple[str, ...] = (*RESERVED_SCOPES, *TIER_IDS)


def scopes(scenario: Scenario) -> list[str]:
    """The scopes of ``KPI.SCOPE``: families present, ``online``, then the channel ids."""
    families = list(dict.fromkeys(c.family for c in scenario.channels))
    return [*families, ONLINE_SCOPE, *(c.id for c in scenario.channels)]


def kpi_names(scenario: Scenario) -> set[str]:
    """Every KPI name :func:`sim.kpis.compute_kpis` returns for ``scenario`` (any window)."""
    names = set(SCOPED_KPIS) | set(MARKET_KPIS)
    names |= {f"{k}.{s}" for k in SCOPED_KPIS for s in scopes(scenario)}
    names |= {f"{k}.{t}" for k in ("tier_share", "repurchase_rate") for t in TIER_IDS}
    inv = scenario.inventory
    if inv is not None:
        parts = [s.id for s in inv.skus] + [loc.id for loc in inv.locations]
        names |= set(INVENTORY_KPIS) | {f"{k}.{p}" for k in INVENTORY_KPIS for p in parts}
    return names


def kpi_problem(name: str, scenario: Scenario, names: set[str] | None = None) -> str | None:
    """``None`` if ``name`` is a KPI of ``scenario``, else the problem with a close match or
    the names it could have meant."""
    known = kpi_names(scenario) if names is None else names
    if name in known:
        return None
    base, _, scope = name.partition(".")
    if scope in RESERVED_SCOPES and base in SCOPED_KPIS:  # a family this scenario lacks
        ok = ", ".join(sorted(k.partition(".")[2] for k in known if k.startswith(base + ".")))
        return f"unknown KPI {name!r}: the scenario has no {scope} channel ({base}'s scopes: {ok})"
    close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.75)
    if close:
        return f"unknown KPI {name!r} (did you mean {close[0]!r}?)"
    bases = sorted({k.partition(".")[0] for k in known})
    if base not in bases:
        return f"unknown KPI {name!r} (known: {', '.join(bases)}; KPI.SCOPE for a scope)"
    ok = sorted(k.partition(".")[2] for k in known if k.startswith(base + ".")) or ["none"]
    return f"unknown KPI {name!r}: {base} has no scope {scope!r} (its scopes: {', '.join(ok)})"


def kpi_shape_problem(name: str) -> str | None:
    """Without a scenario (a sweep design checked alone): ``None`` if ``name`` is a KPI of some
    scenario — a known KPI, and a scope only where the KPI takes one."""
    base, dot, scope = name.partition(".")
    tiered = {"tier_share": TIER_IDS, "repurchase_rate": TIER_IDS}
    bases = sorted({*SCOPED_KPIS, *MARKET_KPIS, *INVENTORY_KPIS, *tiered})
    if base not in bases:
        close = difflib.get_close_matches(base, bases, n=1, cutoff=0.75)
        known = f"known: {', '.join(bases)}"
        hint = f"did you mean {close[0] + dot + scope!r}?" if close else known
        return f"unknown KPI {name!r} ({hint})"
    if dot and base in MARKET_KPIS:
        return f"unknown KPI {name!r}: {base} is for the whole market only (no scope)"
    if base == "tier_share" and scope not in TIER_IDS:
        return f"unknown KPI {name!r}: tier_share needs a tier ({', '.join(TIER_IDS)})"
    if dot and not scope:
        return f"unknown KPI {name!r}: an empty scope"
    return None
