"""Finding an order export's columns: the user's names, common names, or what can stand in.

Real exports name their columns every which way (``CustomerID``, ``InvoiceDate``, ``实付金额``),
and some lack a field the calibration reads. :func:`resolve_columns` decides, before a row is
parsed, where each field comes from:

* a column the user mapped (``--columns customer=buyer_id``): it must exist;
* else the field's own name, else a common name (:data:`COMMON_NAMES`, compared lower-case
  with spaces and dashes as ``_``), said in a note so nothing is guessed silently;
* ``amount`` missing: quantity × unit price when both are found (a line-item export such as
  the UCI Online Retail data), else every order counts 1.0 (repurchase can still be fitted;
  revenue then counts orders), with a note;
* ``channel`` missing: every order in one channel, :data:`ONE_CHANNEL`, with a note.

A bare ``id`` is never taken for the customer: it is as often an order id, and reading orders
as customers would silently make every order a new customer.

    >>> plan = resolve_columns(["CustomerID", "InvoiceDate", "Quantity", "UnitPrice"], {})
    >>> plan.mapping["customer"], plan.mapping["date"], plan.amount_from, plan.constants
    ('CustomerID', 'InvoiceDate', ('Quantity', 'UnitPrice'), {'channel': 'all'})
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sim.scenario import ScenarioError
from sim.scenario.spend_file import header_key

FIELDS: tuple[str, ...] = ("customer", "date", "amount", "channel")
OPTIONAL_FIELDS: tuple[str, ...] = ("order_id", "status")
ONE_CHANNEL = "all"  # the channel of every order when the export has no channel column
NO_AMOUNT = 1.0  # each order's amount when the export has none: revenue then counts orders

# Column names recognised without --columns (normalised: lower-case, spaces/dashes as "_").
COMMON_NAMES: dict[str, tuple[str, ...]] = {
    "customer": (
        "customer",
        "customer_id",
        "customerid",
        "cust_id",
        "client_id",
        "user_id",
        "userid",
        "buyer_id",
        "member_id",
        "buyer",
        "客户id",
        "用户id",
        "买家id",
        "会员id",
        "买家会员名",  # Tmall / Taobao order exports
        "买家昵称",
        "用户名",
        "会员名",
    ),
    "date": (
        "date",
        "order_date",
        "orderdate",
        "invoicedate",
        "invoice_date",
        "order_time",
        "created_at",
        "paid_at",
        "pay_time",
        "transaction_date",
        "timestamp",
        "下单时间",
        "付款时间",
        "订单付款时间",  # Tmall / Taobao: the payment, not the (possibly unpaid) creation
        "支付时间",
        "订单创建时间",
        "成交时间",
        "日期",
    ),
    "amount": (
        "amount",
        "order_amount",
        "total",
        "order_total",
        "revenue",
        "sales",
        "gmv",
        "payment",
        "paid_amount",
        "金额",
        "实付金额",
        "买家实际支付金额",  # Tmall / Taobao: what was paid, before the list total
        "支付金额",
        "订单金额",
        "总金额",
    ),
    "channel": (
        "channel",
        "shop",
        "store",
        "platform",
        "source",
        "渠道",
        "平台",
        "店铺",
        "店铺名称",
    ),
    "order_id": (
        "order_id",
        "orderid",
        "order_no",
        "invoice",
        "invoiceno",
        "invoice_no",
        "transaction_id",
        "订单号",
        "订单编号",
    ),
    # an order's status: rows cancelled, unpaid or refunded are left out (order_status.py)
    "status": ("status", "order_status", "financial_status", "订单状态", "交易状态"),
    "quantity": ("quantity", "qty", "units", "数量"),
    "unit_price": ("unit_price", "unitprice", "price", "单价"),
}


class OrderColumnsError(ScenarioError):
    """The export lacks a field the calibration cannot do without."""


@dataclass(frozen=True)
class ColumnPlan:
    """Where each field comes from: ``mapping`` (field → the file's column), ``amount_from``
    ((quantity, unit price) columns, or None), ``constants`` (field → the value every order
    gets) and ``notes`` (what was found or assumed, for the user)."""

    mapping: dict[str, str]
    amount_from: tuple[str, str] | None = None
    constants: dict[str, object] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def read(self) -> list[str]:
        """The file's columns to read, each once."""
        return sorted(set(self.mapping.values()) | set(self.amount_from or ()))


def resolve_columns(
    header: list[str], given: dict[str, str], source: str = "<orders>"
) -> ColumnPlan:
    """The plan for ``header`` given the user's mapping ``given`` (field → column; an entry
    mapping a field to its own name counts as not given). Raises :class:`OrderColumnsError`
    naming every field that can be found nowhere."""
    by_norm: dict[str, str] = {}
    for h in header:
        by_norm.setdefault(header_key(h), h)
    mapping, notes, problems = {}, [], []
    for fld in (*FIELDS, *OPTIONAL_FIELDS):
        col = given.get(fld, fld)
        if col in header:
            mapping[fld] = col
        elif col != fld:  # the user named it: it must be there
            problems.append(
                f"{source}:1: missing column '{col}' (for {fld}); the header has: "
                f"{', '.join(header)}"
            )
        elif (found := _common(fld, by_norm)) is not None:
            mapping[fld] = found
            notes.append(f"column '{found}' read as {fld} (map another with --columns {fld}=…)")
    if problems:
        raise OrderColumnsError([*problems, _hint()])
    return _stand_ins(mapping, notes, by_norm, header, source)


def _common(fld: str, by_norm: dict[str, str]) -> str | None:
    return next((by_norm[n] for n in COMMON_NAMES[fld] if n in by_norm), None)


def _stand_ins(mapping, notes, by_norm, header, source) -> ColumnPlan:
    """What stands in for a missing amount or channel; a missing customer or date is fatal."""
    missing = [
        f"{source}:1: no column for {fld} (looked for {fld}, "
        f"{', '.join(COMMON_NAMES[fld][1:5])} …); the header has: {', '.join(header)}"
        for fld in ("customer", "date")
        if fld not in mapping
    ]
    if missing:
        raise OrderColumnsError([*missing, _hint()])
    amount_from, constants = None, {}
    if "amount" not in mapping:
        qty, price = _common("quantity", by_norm), _common("unit_price", by_norm)
        if qty is not None and price is not None:
            amount_from = (qty, price)
            notes.append(f"no amount column: each row's amount is '{qty}' × '{price}'")
        else:
            constants["amount"] = NO_AMOUNT
            notes.append(
                "no amount column (nor quantity and unit price): every order counts "
                f"{NO_AMOUNT:g}, so revenue figures count orders; map one with --columns amount=…"
            )
    if "channel" not in mapping:
        constants["channel"] = ONE_CHANNEL
        notes.append(
            f"no channel column: every order is in one channel, '{ONE_CHANNEL}'; "
            "map one with --columns channel=…"
        )
    return ColumnPlan(mapping, amount_from, constants, notes)


def _hint() -> str:
    return "map your column names with --columns customer=...,date=...,amount=...,channel=..."
