"""The plan's levers as form fields: dotted path, label in the plan's words, unit, valid range.

Descriptions, bounds (``ge``/``gt``/``le``/``lt``), types and choices are read from the pydantic
models of the scenario (:mod:`sim.scenario.schema` and the levers' own schemas) through
``Model.model_fields``, so the form follows the schema: a bound changed there changes the
form. The schema states units in words in its descriptions; :data:`UNITS` gives each lever a
short unit for the form. Values come from the *validated* plan and baseline (their
``model_dump``), so a field the file leaves at its default shows that default.

    >>> import sim
    >>> plan = sim.load_scenario("scenarios/six_schemes.yaml").model_dump(mode="json")
    >>> base = sim.load_scenario("scenarios/baseline.yaml").model_dump(mode="json")
    >>> paid = next(f for f in plan_levers(plan, base) if f.path == "channels.tmall.budget.paid")
    >>> (paid.unit, paid.range_text(), paid.base, paid.value)
    ('CNY/day', '≥ 0', 40000.0, 48000.0)
"""

from __future__ import annotations

import datetime as dt
import re
import types
import typing
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from sim.scenario import Scenario, resolve_path

__all__ = ["UNITS", "Entry", "Lever", "calendar_entries", "field_problems", "plan_levers"]

#: Short units per field name (the schema's descriptions say them in words).
UNITS: dict[str, str] = {
    "paid": "CNY/day",
    "seeding": "CNY/day",
    "private_ops": "CNY/day",
    "price_index": "× guide price",
    "price": "× price",
    "discount": "share off",
    "value": "CNY",
    "min_spend": "CNY",
    "reply_minutes": "minutes",
    "delivery_days": "days",
    "resolution_hours": "hours",
    "date": "date",
    "start": "date",
    "end": "date",
    "days": "days",
    "presale_days": "days",
    "weekday": "weekday",
    "day_of_month": "day",
    "s": "units",
    "S": "units",
    "Q": "units",
    "level": "units",
    "k": "× demand over lead time + review",
    "review_period": "days",
    "lead_time": "days",
}
#: Field names in words, for the labels.
WORDS: dict[str, str] = {
    "paid": "paid traffic",
    "private_ops": "private operations",
    "price_index": "price index",
    "reply_minutes": "first reply",
    "delivery_days": "delivery",
    "resolution_hours": "after-sales resolution",
    "presale_days": "pre-sale days",
    "day_of_month": "day of month",
    "min_spend": "minimum spend",
    "review_period": "review period",
    "lead_time": "lead time",
    "at_least": "at least",
    "at_most": "at most",
}
GROUPS: tuple[str, ...] = (
    "Budgets",
    "Prices and discounts",
    "Promotion calendar",
    "Service levels",
    "Stock policies",
    "Targets",
)
#: Calendar sections and the fields of their entries the form shows.
CALENDAR: dict[str, tuple[str, tuple[str, ...]]] = {
    "events": ("mega-sale", ("date", "days", "presale_days", "discount")),
    "flash_sales": ("flash sale", ("weekday", "discount")),
    "member_days": ("member day", ("day_of_month", "discount")),
    "group_buys": ("group buy", ("start", "end", "discount")),
    "full_reduction": ("full reduction", ("start", "end")),
}
POLICY_FIELDS: tuple[str, ...] = ("s", "S", "Q", "level", "k", "review_period", "lead_time")
BUDGET_BY_FAMILY = {"public": "paid", "social": "seeding", "private": "private_ops"}
MONEY_KPIS = ("revenue", "profit", "spend", "aov", "ltv", "cac", "coupon_cost")


@dataclass(frozen=True)
class Lever:
    """One form field: ``path`` is a ``--set`` path (list items by id, policies by index)."""

    path: str
    group: str
    label: str
    unit: str
    kind: str  # float | int | date | choice
    value: Any
    base: Any  # the baseline's value; None where the baseline has no such item
    description: str = ""
    low: float | None = None
    low_strict: bool = False
    high: float | None = None
    high_strict: bool = False
    choices: tuple[Any, ...] = ()

    def range_text(self) -> str:
        """The valid range as the schema states it, e.g. ``≥ 0``, ``0 – 1``, ``> 0``."""
        lo = None if self.low is None else f"{'>' if self.low_strict else '≥'} {self.low:g}"
        hi = None if self.high is None else f"{'<' if self.high_strict else '≤'} {self.high:g}"
        if self.choices:
            return " | ".join(map(str, self.choices))
        if lo and hi and not (self.low_strict or self.high_strict):
            return f"{self.low:g} – {self.high:g}"
        return ", ".join(x for x in (lo, hi) if x) or "any"


@dataclass(frozen=True)
class Entry:
    """A promotion-calendar entry the plan can switch off (``on``) or the baseline lacks."""

    section: str
    id: str
    label: str
    on: bool
    in_baseline: bool


# --------------------------------------------------------------------------------------------
# The schema, read from the models
# --------------------------------------------------------------------------------------------
def schema_field(path: str, model: type[BaseModel] = Scenario) -> FieldInfo | None:
    """The pydantic field at a dotted path (ids and dict keys step into items), or None."""
    info: FieldInfo | None = None
    current: Any = model
    for part in path.split("."):
        if isinstance(current, type) and issubclass(current, BaseModel):
            info = current.model_fields.get(part)
            if info is None:
                return None
            current = _inner(info.annotation)
        elif current in ("list", "dict"):
            current = _inner_item(info.annotation if info else None)
        else:
            return None
    return info


def _strip(tp: Any) -> Any:
    """``X | None`` → X; ``Annotated[X, ...]`` → X."""
    if typing.get_origin(tp) is typing.Annotated:
        return _strip(typing.get_args(tp)[0])
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        models = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
        return _strip(models[0] if models else args[0])
    return tp


def _inner(tp: Any) -> Any:
    tp = _strip(tp)
    origin = typing.get_origin(tp)
    if origin is list:
        return "list"
    if origin is dict:
        return "dict"
    return tp


def _inner_item(tp: Any) -> Any:
    tp = _strip(tp)
    args = typing.get_args(tp)
    return _inner(args[-1]) if args else None


def _bounds(info: FieldInfo) -> dict[str, Any]:
    out: dict[str, Any] = {}
    metadata = list(info.metadata)
    tp = info.annotation
    for arg in typing.get_args(tp) or ():
        if typing.get_origin(arg) is typing.Annotated:
            metadata += list(arg.__metadata__)
    for m in metadata:
        for attr, key, strict in (("ge", "low", False), ("gt", "low", True)):
            if getattr(m, attr, None) is not None:
                out.update({key: float(getattr(m, attr)), "low_strict": strict})
        for attr, key, strict in (("le", "high", False), ("lt", "high", True)):
            if getattr(m, attr, None) is not None:
                out.update({key: float(getattr(m, attr)), "high_strict": strict})
        for sub in getattr(m, "metadata", ()):  # Field(ge=0) inside Annotated
            for attr in ("ge", "gt", "le", "lt"):
                if getattr(sub, attr, None) is not None:
                    key = "low" if attr in ("ge", "gt") else "high"
                    out.update({key: float(getattr(sub, attr)), f"{key}_strict": attr[1] == "t"})
    return out


def _kind(info: FieldInfo) -> tuple[str, tuple[Any, ...]]:
    tp = info.annotation
    if typing.get_origin(tp) in (typing.Union, types.UnionType):  # a number, or a model
        scalars = [
            a
            for a in typing.get_args(tp)
            if a is not type(None) and not (isinstance(a, type) and issubclass(a, BaseModel))
        ]
        tp = scalars[0] if scalars else tp
    tp = _strip(tp)
    if typing.get_origin(tp) is Literal:
        return "choice", typing.get_args(tp)
    if tp is dt.date:
        return "date", ()
    if tp is int:
        return "int", ()
    return "float", ()


def make_lever(path: str, group: str, who: str, plan: dict, base: dict, **kw: Any) -> Lever:
    """The field at ``path``, labelled ``who · field in words``."""
    info = schema_field(path)
    name = path.split(".")[-1]
    label = f"{who} · {WORDS.get(name, name)}"
    kind, choices = _kind(info) if info is not None else ("float", ())
    return Lever(
        path=path,
        group=group,
        label=label,
        unit=kw.pop("unit", UNITS.get(name, "")),
        kind=kind,
        value=_get(plan, path),
        base=_get(base, path),
        description=(info.description or "") if info is not None else "",
        choices=choices,
        **(_bounds(info) if info is not None else {}),
        **kw,
    )


def _get(data: dict, path: str) -> Any:
    try:
        return resolve_path(data, path)
    except KeyError:
        return None


# --------------------------------------------------------------------------------------------
# The plan's levers
# --------------------------------------------------------------------------------------------
def plan_levers(plan: dict[str, Any], base: dict[str, Any]) -> list[Lever]:
    """The form of a plan: ``plan`` and ``base`` are validated scenarios' ``model_dump(mode=
    "json")``. Grouped as :data:`GROUPS`, in the plan's order of channels and entries."""
    out: list[Lever] = []
    for ch in plan["channels"]:
        cid, name = ch["id"], ch.get("name") or ch["id"]
        for lever, spend in ch["budget"].items():
            if not isinstance(spend, int | float):  # periods, observed: not a single number
                continue
            if spend or lever == BUDGET_BY_FAMILY.get(ch["family"]):
                out.append(
                    make_lever(f"channels.{cid}.budget.{lever}", GROUPS[0], name, plan, base)
                )
    for ch in plan["channels"]:
        if ch["sells"]:
            label = ch.get("name") or ch["id"]
            out.append(make_lever(f"channels.{ch['id']}.price_index", GROUPS[1], label, plan, base))
    out += _discounts(plan, base)
    for section, (what, fields) in CALENDAR.items():
        for item in plan["promotions"][section]:
            for f in fields:
                path = f"promotions.{section}.{item['id']}.{f}"
                out.append(make_lever(path, GROUPS[2], f"{what} {item['id']}", plan, base))
    for ch in plan["channels"]:
        if ch["sells"]:
            for f in ("reply_minutes", "delivery_days", "resolution_hours"):
                path = f"channels.{ch['id']}.service.{f}"
                out.append(make_lever(path, GROUPS[3], ch.get("name") or ch["id"], plan, base))
    out += _policies(plan, base)
    out += _targets(plan, base)
    return out


def _discounts(plan: dict, base: dict) -> list[Lever]:
    out = []
    for lvl in (plan.get("membership") or {}).get("levels", []):
        path = f"membership.levels.{lvl['id']}.price"
        out.append(make_lever(path, GROUPS[1], f"member level {lvl['id']}", plan, base))
    for tier in (plan.get("tiers") or {}).get("perks") or {}:
        path = f"tiers.perks.{tier}.discount"
        out.append(make_lever(path, GROUPS[1], f"private tier {tier}", plan, base))
    for c in plan["promotions"]["coupons"]:
        for f in ("value", "min_spend"):
            path = f"promotions.coupons.{c['id']}.{f}"
            out.append(make_lever(path, GROUPS[1], f"coupon {c['id']}", plan, base))
    if plan["promotions"].get("subscription"):
        path = "promotions.subscription.discount"
        out.append(make_lever(path, GROUPS[1], "subscription", plan, base))
    return out


def _policies(plan: dict, base: dict) -> list[Lever]:
    inv = plan.get("inventory")
    if not inv:
        return []
    base_policies = (base.get("inventory") or {}).get("policies", [])
    out = []
    for i, pol in enumerate(inv["policies"]):
        who = pol.get("sku") or pol.get("klass") or "every SKU"
        where = f" @ {pol['location']}" if pol.get("location") else ""
        match = [
            j
            for j, b in enumerate(base_policies)
            if (b.get("sku"), b.get("klass"), b.get("location"))
            == (pol.get("sku"), pol.get("klass"), pol.get("location"))
        ]
        for f in POLICY_FIELDS:
            if pol.get(f) is None or isinstance(pol.get(f), dict):
                continue
            lever = make_lever(
                f"inventory.policies.{i}.{f}",
                GROUPS[4],
                f"{who}{where} ({pol['type']})",
                plan,
                base,
            )
            b = base_policies[match[0]].get(f) if match else None
            out.append(_with_base(lever, b))
    return out


def _targets(plan: dict, base: dict) -> list[Lever]:
    out = []
    for i, t in enumerate(plan["targets"]):
        bound = "at_least" if t.get("at_least") is not None else "at_most"
        window = f" days {t['window'][0]}–{t['window'][1]}" if t.get("window") else ""
        label = t.get("label") or f"{t['kpi']}{window}"
        unit = "× baseline" if t.get("relative_to") else kpi_unit(t["kpi"])
        lever = make_lever(f"targets.{i}.{bound}", GROUPS[5], label, plan, base, unit=unit)
        same = [b for b in base["targets"] if (b["kpi"], b["window"]) == (t["kpi"], t["window"])]
        out.append(_with_base(lever, same[0].get(bound) if same else None))
    return out


def kpi_unit(kpi: str) -> str:
    name = kpi.split(".")[0]
    if name in MONEY_KPIS:
        return "CNY"
    if name.startswith("roi"):
        return "CNY per CNY spent"
    if name.endswith(("rate", "share", "satisfaction", "concentration", "overlap")):
        return "share"
    return "count"


def _with_base(lever: Lever, base_value: Any) -> Lever:
    return Lever(**{**lever.__dict__, "base": base_value})


def calendar_entries(plan: dict[str, Any], base: dict[str, Any]) -> list[Entry]:
    """The calendar entries of the plan and of the baseline, each switchable on/off."""
    out = []
    for section, (what, _) in CALENDAR.items():
        ids = [e["id"] for e in plan["promotions"][section]]
        base_ids = [e["id"] for e in base["promotions"][section]]
        for eid in ids + [i for i in base_ids if i not in ids]:
            out.append(Entry(section, eid, f"{what} {eid}", eid in ids, eid in base_ids))
    return out


# --------------------------------------------------------------------------------------------
# Validation messages on the fields
# --------------------------------------------------------------------------------------------
_ITEM = re.compile(r"\[(\d+)\](?:\(([^)]*)\))?")


def problem_path(problem: str) -> str:
    """``channels[0](tmall).budget.paid: …`` → ``channels.tmall.budget.paid``."""
    where = problem.split(": ", 1)[0]
    return _ITEM.sub(lambda m: "." + (m.group(2) or m.group(1)), where).lstrip(".")


def field_problems(problems: list[str], paths: list[str]) -> tuple[dict[str, list[str]], list]:
    """``validate``'s messages put on the fields they name (a message on ``a.b`` goes to field
    ``a.b`` or, failing that, to every field under ``a.b``); the rest are general."""
    on_field: dict[str, list[str]] = {}
    general = []
    for problem in problems:
        where = problem_path(problem)
        hits = [p for p in paths if p == where] or [p for p in paths if p.startswith(where + ".")]
        for p in hits:
            on_field.setdefault(p, []).append(problem)
        if not hits:
            general.append(problem)
    return on_field, general
