"""Channels: the family of each channel, order and first-order shares, switching between
channels, and how customers join the private pool.

Family affinities are not fitted here: :mod:`sim.calibration.mapping` derives them from the
first-order shares through the choice model's logit. Private-pool joining and the members'
private choice share come from a two-state (member or not) hidden-Markov likelihood of when
customers first buy privately (:func:`fit_private_joining`).

    >>> fams, notes = infer_families(["Tmall旗舰店", "企业微信", "shop"], {"shop": "offline"})
    >>> fams
    {'Tmall旗舰店': 'public', '企业微信': 'private', 'shop': 'offline'}
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, special

FAMILY_HINTS: dict[str, tuple[str, ...]] = {  # checked in this order, on the lower-cased name
    "public": (
        "tmall",
        "taobao",
        "jd",
        "douyin",
        "pdd",
        "pinduoduo",
        "kuaishou",
        "vip",
        "marketplace",
        "amazon",
        "suning",
        "天猫",
        "淘宝",
        "京东",
        "抖音",
        "拼多多",
        "快手",
    ),
    "private": (
        "wecom",
        "wechat",
        "weixin",
        "miniprogram",
        "miniapp",
        "applet",
        "website",
        "member",
        "private",
        "crm",
        "youzan",
        "企业微信",
        "微信",
        "小程序",
        "官网",
        "私域",
    ),
    "social": ("xiaohongshu", "xhs", "redbook", "weibo", "bilibili", "social", "小红书", "微博"),
    "offline": (
        "store",
        "offline",
        "retail",
        "distributor",
        "counter",
        "shoppingmall",
        "门店",
        "线下",
        "经销",
    ),
}


def infer_families(
    channels: list[str], mapping: dict[str, str] | None = None
) -> tuple[dict[str, str], list[str]]:
    """Family of each channel: the user's mapping first, then name hints (with a warning)."""
    mapping = dict(mapping or {})
    out, notes = {}, []
    for ch in channels:
        if ch in mapping:
            out[ch] = mapping[ch]
            continue
        key = re.sub(r"[\W_]", "", ch.lower())
        fam = next((f for f, hints in FAMILY_HINTS.items() if any(h in key for h in hints)), None)
        notes.append(
            f"channel {ch!r}: family {fam or 'public'!r} "
            f"{'guessed from its name' if fam else 'assumed (no hint in the name)'}; "
            "set it with --families"
        )
        out[ch] = fam or "public"
    return out, notes


def channel_stats(table: pd.DataFrame, families: dict[str, str]) -> dict[str, Any]:
    """Order shares, first-order shares, switching matrix and family activity."""
    t = table.sort_values(["customer", "date", "line"])
    shares = t["channel"].value_counts(normalize=True)
    first = t.drop_duplicates("customer")["channel"].value_counts(normalize=True)
    nxt = t.groupby("customer")["channel"].shift(-1)
    pairs = pd.DataFrame({"from": t["channel"], "to": nxt}).dropna()
    switching = pd.crosstab(pairs["from"], pairs["to"], normalize="index")
    # who buys where after their first order: first channel → channels of the later orders
    first_ch = t.groupby("customer")["channel"].transform("first")
    later = t.groupby("customer").cumcount() > 0
    after_first = pd.crosstab(first_ch[later], t.loc[later, "channel"], normalize="index")
    after_first.index.name, after_first.columns.name = "first_channel", "later_channel"
    fam = t["channel"].map(families)
    active = (pd.crosstab(t["customer"], fam) > 0).mean()
    return {
        "order_share": shares.to_dict(),
        "first_order_share": first.to_dict(),
        "switching": switching,
        "after_first": after_first,
        "family_active_share": active.to_dict(),
        "transitions": int(len(pairs)),
    }


def fit_private_joining(table: pd.DataFrame, families: dict[str, str]) -> dict[str, float]:
    """MLE of (join probability j per non-private order, P(member picks private)).

    Hidden state: in the private pool or not. Orders before the first private one are
    non-private; after each, a non-member joins with j; a member picks a private channel with
    P. Returns j, P, and each customer's posterior membership after their last order.
    """
    idx, m_before, saw = _orders_before_private(table, families)
    if saw.sum() == 0 or (m_before[saw] == 0).all():
        return {"join": 0.0, "p_private": 0.0, "members": pd.Series(saw.astype(float), idx)}
    m_before = np.maximum(m_before, 1)  # a first order in private: treat as joining on order 1
    mmax = int(m_before.max()) + 1

    def nll(theta):
        j, p = special.expit(theta)
        first, stay, _ = _joining_masses(j, p, mmax)
        ll = np.where(
            saw,
            np.log(np.maximum(first[m_before], 1e-300)),
            np.log(np.maximum(stay[m_before], 1e-300)),
        )
        return -ll.sum()

    res = optimize.minimize(nll, [-2.0, 0.0], method="Nelder-Mead")
    j, p = (float(v) for v in special.expit(res.x))
    member = np.where(saw, 1.0, _joining_masses(j, p, mmax)[2][m_before])
    return {"join": j, "p_private": p, "members": pd.Series(member, idx)}


def _orders_before_private(
    table: pd.DataFrame, families: dict[str, str]
) -> tuple[pd.Index, np.ndarray, np.ndarray]:
    """Per customer: the number of orders before their first private one (all their orders if
    none), and whether they ever bought privately."""
    t = table.sort_values(["customer", "date", "line"])
    private = t["channel"].map(families).eq("private").to_numpy()
    cust = t["customer"].to_numpy()
    first_priv = (
        pd.Series(private)
        .groupby(cust)
        .apply(lambda s: int(np.argmax(s.to_numpy())) if s.any() else -1)
    )
    n_orders = pd.Series(cust).value_counts()
    idx = first_priv.index
    m_before = np.where(first_priv.to_numpy() >= 0, first_priv.to_numpy(), n_orders[idx].to_numpy())
    return idx, m_before, first_priv.to_numpy() >= 0


def _joining_masses(j: float, p: float, mmax: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """After m = 1..mmax non-private orders (each followed by a join try): P(the first private
    order comes next), P(no private order yet), P(member | no private order yet)."""
    a, b = 1.0, 0.0
    first, stay, member = np.zeros(mmax + 1), np.zeros(mmax + 1), np.zeros(mmax + 1)
    for m in range(1, mmax + 1):
        b, a = b + a * j, a * (1 - j)
        first[m] = b * p
        stay[m] = a + b
        member[m] = b / (a + b) if a + b > 0 else 1.0
        b *= 1 - p
    return first, stay, member
