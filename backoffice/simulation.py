"""A shop on a fake clock, driven through the real services only (manage.py simulate_shop).

A development harness: it imports time_machine and django.test, so only the
simulate_shop command loads it, when it runs; nothing on the production import
path imports this module.

Day after day customers check out random carts, merchants order supply that
arrives on time, late or never, customers and merchants cancel rows, merchants
ship, and the scheduled jobs run as beat would run them. Nothing here writes a
counter or a status: every change goes through the services.

The whole run is one transaction, rolled back at the end unless ``keep``: inside
it no after-commit callback fires, so the jobs those callbacks would queue
(allocation, promise refresh, outbox sending) are run explicitly every day.
At the end the books are checked: promises kept, slips emailed, oversold units
and broken invariants, which must both be 0.

Money moves through billing's services with the dummy provider, in the settlement mode
asked for: customers pay at checkout (a few are declined first and pay again, a few abandon
and their orders expire), the merchant ships paid orders only, shipments are captured,
cancelled rows refunded or released, an authorization too old to capture gets a pay link
that the customer pays; each night the pending ledger entries are settled as their jobs
would, and at the end billing's ledger_reconcile must find no violation. Each waiting row's first promise is
recorded at checkout with what the promise walk rested it on (free stock, which
inbound supply, or the lead time), so the kept share is reported per cause and
every miss gets a reason (PromiseAudit).

The run keeps to what it creates (sources, SIM- products, their orders): allocation
and promise refreshes run for those products only, and the clock starts on a fixed
date in the past, so a real shop's pre-orders (release) and outbox messages (sending),
whose jobs are global, are not yet due on it.
"""

import contextlib
import datetime as dt
import random
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

import time_machine
from django.conf import settings
from django.db import transaction
from django.db.models import Count, Max, Q, Sum
from django.test.utils import override_settings
from django.utils import timezone
from payments import FraudStatus, PaymentStatus, RedirectNeeded

from billing.models import EntryKind, EntryState, LedgerEntry, Settlement
from billing.money import money_round
from billing.selectors import ledger_reconcile, order_is_paid
from billing.services import entry_settle, pay_link_create, payment_start, unpaid_orders_expire
from catalog.availability import is_preorder
from catalog.models import (
    POLICY_FIELD_NAMES,
    Backorders,
    GlobalSettings,
    PartialAllocation,
    Product,
    Sourcing,
)
from catalog.promise import Basis, Promise
from catalog.selectors import product_policy
from inventory.exceptions import StockWouldGoNegative
from inventory.models import (
    InboundStatus,
    InboundSupply,
    MovementKind,
    PurchaseOrderLine,
    Source,
    Stock,
    StockMovement,
    Supplier,
    SupplierProduct,
)
from inventory.selectors import free_stock_by_product, inbound_open_by_product, stock_drift
from inventory.services import (
    inbound_cancel,
    inbound_create,
    inbound_receive,
    inbound_update,
    stock_adjust,
    stock_receive,
)
from inventory.services.purchasing import purchase_order_line_receive, purchase_order_send
from notifications.events import emails_send_batch
from notifications.models import OutboxMessage, OutboxStatus
from orders.exceptions import CheckoutRefused
from orders.models import AT_SOURCE, WAITING, Order, OrderRow, RowEvent, RowStatus, Shipment
from orders.selectors import (
    products_needing_allocation,
    products_with_waiting_rows,
    replenishment_suggestions,
    waiting_units_by_product,
)
from orders.services import (
    CartLine,
    Customer,
    backorders_allocate,
    checkout_place_order,
    preorders_release,
    promises_refresh,
    purchase_orders_from_suggestions,
    row_cancel,
    shipment_create,
)
from orders.services.promises import promises_explain

START = dt.date(2025, 1, 6)  # fixed, so a seed always tells the same story
SKU_PREFIX = "SIM-"
LOCMEM = "django.core.mail.backends.locmem.EmailBackend"
MAX_LISTED_VIOLATIONS = 20
ABANDONED = 0.06  # checkouts never paid: the order expires when its window closes
DECLINED_FIRST = 0.05  # declined once, then paid on the same order
# How the merchant buys: purchase orders drafted from the replenishment suggestions, or the
# scripted reorder points of PRODUCTS (the baseline the suggestions are compared with).
SUGGESTIONS, SCRIPTED = "suggestions", "scripted"
SUPPLY_MODES = (SUGGESTIONS, SCRIPTED)
DEMAND_WINDOW_DAYS = 28  # the run's own, so a real shop's global setting does not change it


class SimulationError(Exception):
    pass


@dataclass(frozen=True)
class SourcePlan:
    code: str
    name: str
    priority: int


SOURCES = (
    SourcePlan("sim-main", "Simulated main warehouse", 1),
    SourcePlan("sim-overflow", "Simulated overflow warehouse", 2),
    SourcePlan("sim-dropship", "Simulated supplier drop-ship", 9),
)


@dataclass(frozen=True)
class ProductPlan:
    """A product's policy (every setting overridden, so the run ignores the global
    record), its opening stock, how popular it is and how its merchant buys it."""

    sku: str
    name: str
    price: str
    weight: int  # relative popularity in carts
    backorders: str = Backorders.NO
    backorder_limit: int | None = None
    max_backorder_per_order: int | None = None
    safety_stock: int = 0
    lead_time_days: int = 14
    partial: str = PartialAllocation.SPLIT
    release_day: int | None = None  # a pre-order releasing on this simulated day
    preorder_limit: int | None = None
    opening: tuple[tuple[str, int], ...] = ()
    reorder_point: int = 8  # the merchant orders when stock + supply - waiting falls to this
    reorder_qty: int = 40
    supplier_days: int = 10
    source: str = "sim-main"
    # The supplier's terms when buying from suggestions (lead time: supplier_days).
    min_order_qty: int = 1
    pack_size: int = 1


ALLOW, NOTIFY, NO = Backorders.ALLOW, Backorders.ALLOW_NOTIFY, Backorders.NO
WAIT = PartialAllocation.WAIT
PRODUCTS = (
    ProductPlan(
        "TEE", "Organic Cotton Tee", "24.00", 9, opening=(("sim-main", 60), ("sim-overflow", 20)),
        min_order_qty=20, pack_size=10,
    ),
    ProductPlan(
        "MUG", "Stoneware Mug", "16.00", 8, ALLOW, lead_time_days=10, opening=(("sim-main", 15),),
        pack_size=6,
    ),
    ProductPlan(
        "LAMP", "Brass Desk Lamp", "89.00", 5, NOTIFY, backorder_limit=25, max_backorder_per_order=3,
        lead_time_days=21, opening=(("sim-main", 5),), reorder_qty=25, supplier_days=18,
    ),
    ProductPlan(
        "CHAIR", "Oak Dining Chair", "149.00", 4, NOTIFY, partial=WAIT, reorder_point=4, reorder_qty=20,
        supplier_days=14,
    ),
    ProductPlan(
        "KETTLE", "Stovetop Kettle", "45.00", 6, ALLOW, backorder_limit=10, safety_stock=3,
        lead_time_days=12, opening=(("sim-main", 8), ("sim-overflow", 4)), reorder_point=10, reorder_qty=30,
    ),
    ProductPlan("BOOTS", "Waxed Leather Boots", "179.00", 4, NO, opening=(("sim-main", 25),), reorder_qty=25),
    ProductPlan(
        "CONSOLE", "Handheld Game Console", "299.00", 8, NOTIFY, release_day=30, preorder_limit=60,
        lead_time_days=20, reorder_point=15, reorder_qty=60, supplier_days=12,
    ),
    ProductPlan(
        "NOVEL", "Signed First-Edition Novel", "32.00", 5, NO, release_day=55, lead_time_days=10,
        reorder_point=10, reorder_qty=50, supplier_days=8, source="sim-overflow",
    ),
    ProductPlan(
        "DESK", "Standing Desk", "690.00", 2, ALLOW, lead_time_days=30, opening=(("sim-dropship", 6),),
        reorder_point=2, reorder_qty=10, supplier_days=25, source="sim-dropship",
    ),
    ProductPlan(
        "PEN", "Fountain Pen", "38.00", 7, NO, opening=(("sim-main", 80),), reorder_qty=60, min_order_qty=24,
        pack_size=12,
    ),
    ProductPlan(
        "BAG", "Canvas Weekender Bag", "120.00", 5, NOTIFY, max_backorder_per_order=2, lead_time_days=7,
        opening=(("sim-overflow", 10),), reorder_qty=30, supplier_days=6, source="sim-overflow",
    ),
    ProductPlan(
        "RUG", "Wool Flatweave Rug", "260.00", 3, ALLOW, backorder_limit=15, partial=WAIT,
        lead_time_days=28, opening=(("sim-main", 4),), reorder_point=3, reorder_qty=15, supplier_days=21,
    ),
    ProductPlan(
        "SOAP", "Olive Oil Soap", "7.50", 10, ALLOW, lead_time_days=5, opening=(("sim-main", 30),),
        reorder_point=15, reorder_qty=60, supplier_days=5, min_order_qty=48, pack_size=24,
    ),
    ProductPlan(
        "CAMERA", "Instant Film Camera", "129.00", 4, NOTIFY, backorder_limit=8, lead_time_days=28,
        opening=(("sim-main", 3),), reorder_point=3, reorder_qty=15, supplier_days=24,
    ),
    ProductPlan("TENT", "Two-Person Tent", "340.00", 2, NO, opening=(("sim-overflow", 6),), reorder_point=2,
                reorder_qty=8, supplier_days=15, source="sim-overflow"),
)  # fmt: skip


# -- first promises and what became of them, by cause ------------------------------------


class Cause(StrEnum):
    """What a row's first promise rested on, judged by what that supply then did."""

    FREE_STOCK = "free stock"
    ON_TIME = "on-time inbound"
    LATE = "late or cancelled supply"  # some supply it counted on came late, short or never
    LEAD_TIME = "lead time only"  # no known supply covered it: the lead time (or manual date)


class Outcome(StrEnum):
    KEPT = "kept"  # allocated in full by the date
    MISSED = "missed"  # allocated late, or still waiting / cancelled after the date passed
    NOT_DUE = "not due"  # still waiting, the date is after the run: excluded from shares
    CANCELLED = "cancelled"  # cancelled while waiting before the date: excluded from shares


class MissReason(StrEnum):
    SUPPLY_LATE = "supply late"
    QUEUE_CHANGED = "queue changed by a tier or a release"
    LEAD_TIME_SHORT = "lead time too short"
    OTHER = "other (e.g. stock written off)"


@dataclass(frozen=True)
class FirstPromise:
    row_id: int
    product_id: int
    date: dt.date  # the date the customer was given at checkout
    promise: Promise  # what the queue walk rested it on at that moment
    at: dt.datetime
    queue_key: tuple


@dataclass(frozen=True)
class Verdict:
    cause: Cause
    outcome: Outcome
    reason: MissReason | None = None


def _queue_key(row: OrderRow) -> tuple:
    return (-row.queue_tier, row.queue_at, row.order_id, row.line_no, row.pk)  # models.QUEUE_ORDER


@dataclass
class PromiseTally:
    verdicts: dict[int, Verdict] = field(default_factory=dict)  # by row id
    disagreements: int = 0  # checkout dates the queue walk did not give at that moment

    def count(self, *, cause: Cause | None = None, outcome: Outcome | None = None) -> int:
        return sum(
            1
            for v in self.verdicts.values()
            if (cause is None or v.cause == cause) and (outcome is None or v.outcome == outcome)
        )

    def misses(self, *, reason: MissReason, cause: Cause | None = None) -> int:
        return sum(
            1 for v in self.verdicts.values() if v.reason == reason and (cause is None or v.cause == cause)
        )

    def share(self, cause: Cause | None = None) -> float | None:
        kept, missed = (
            self.count(cause=cause, outcome=Outcome.KEPT),
            self.count(cause=cause, outcome=Outcome.MISSED),
        )
        return kept / (kept + missed) if kept + missed else None

    def lines(self) -> list[str]:
        head = f"  {'cause of the first promise':<28}{'rows':>6}" + "".join(f"{o.value:>11}" for o in Outcome)
        lines = [
            "first promises by cause (kept share = kept / (kept + missed)):",
            f"{head}{'kept share':>12}",
        ]
        for cause in [*Cause, None]:
            cells = "".join(f"{self.count(cause=cause, outcome=o):>11}" for o in Outcome)
            name = cause.value if cause else "all"
            lines.append(f"  {name:<28}{self.count(cause=cause):>6}{cells}{_pct(self.share(cause)):>12}")
        short = {
            Cause.FREE_STOCK: "stock",
            Cause.ON_TIME: "on time",
            Cause.LATE: "late",
            Cause.LEAD_TIME: "lead",
        }
        lines.append("misses by reason and cause:")
        lines.append(f"  {'reason':<38}" + "".join(f"{short[c]:>9}" for c in Cause) + f"{'all':>7}")
        for reason in MissReason:
            cells = "".join(f"{self.misses(reason=reason, cause=c):>9}" for c in Cause)
            lines.append(f"  {reason.value:<38}{cells}{self.misses(reason=reason):>7}")
        return lines


def format_ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _pct(share: float | None) -> str:
    return "n/a" if share is None else f"{100 * share:.1f} %"


class PromiseAudit:
    """Records each waiting row's first promise with its basis, taken from the promise walk
    itself (orders.services.promises), and judges it at the end from what the database says
    happened: when the row was allocated, what the supply did, who joined the queue ahead."""

    def __init__(self) -> None:
        self.first: dict[int, FirstPromise] = {}
        self.disagreements = 0

    def record(self, *, order: Order, today: dt.date) -> None:
        """Call right after checkout, before anything else changes the queue."""
        rows = list(order.rows.filter(status__in=WAITING).order_by("pk"))
        walks = {
            pid: promises_explain(product_id=pid, today=today) for pid in sorted({r.product_id for r in rows})
        }
        for row in rows:
            promise = walks[row.product_id][row.pk]
            if promise.date != row.promise_date:
                self.disagreements += 1
            self.first[row.pk] = FirstPromise(
                row_id=row.pk,
                product_id=row.product_id,
                date=row.promise_date,
                promise=promise,
                at=order.placed_at,
                queue_key=_queue_key(row),
            )

    def tally(self, *, end: dt.date) -> PromiseTally:
        tally = PromiseTally(disagreements=self.disagreements)
        if not self.first:
            return tally
        product_ids = {f.product_id for f in self.first.values()}
        done: dict[int, tuple[str, dt.date]] = {}
        events = RowEvent.objects.filter(
            row_id__in=list(self.first),
            from_status__in=WAITING,
            to_status__in=[RowStatus.ALLOCATED, RowStatus.CANCELLED],
        ).order_by("created_at", "pk")
        for row_id, to_status, at in events.values_list("row_id", "to_status", "created_at"):
            done.setdefault(row_id, (to_status, timezone.localdate(at)))
        supply_ids = {entry[2] for f in self.first.values() for entry in f.promise.supply}
        supplies = {
            pk: (status, quantity, timezone.localdate(updated))
            for pk, status, quantity, updated in InboundSupply.objects.filter(pk__in=supply_ids).values_list(
                "pk", "status", "quantity", "updated_at"
            )
        }
        # Rows that began waiting (at checkout, or released by the merchant) after a promise
        # was made and may sit ahead of it in the queue.
        joined = defaultdict(list)
        for product_id, at, *key in (
            RowEvent.objects.filter(row__product_id__in=product_ids, to_status__in=WAITING)
            .exclude(from_status__in=WAITING)
            .values_list(
                "row__product_id",
                "created_at",
                "row__queue_tier",
                "row__queue_at",
                "row__order_id",
                "row__line_no",
                "row_id",
            )
        ):
            tier, *rest = key
            joined[product_id].append((at, (-tier, *rest)))

        def on_time(entry: tuple) -> bool:
            expected, quantity, pk = entry
            if pk not in supplies:
                return False  # deleted: it never came
            status, now_quantity, updated = supplies[pk]
            if status == InboundStatus.OPEN:
                return expected > end  # not due yet: not late either
            return status == InboundStatus.RECEIVED and updated <= expected and now_quantity >= quantity

        for row_id, first in self.first.items():
            basis = first.promise
            if basis.basis == Basis.STOCK:
                cause = Cause.FREE_STOCK
            elif basis.basis == Basis.FALLBACK:
                cause = Cause.LEAD_TIME
            else:
                cause = Cause.ON_TIME if all(on_time(e) for e in basis.supply) else Cause.LATE
            status, when = done.get(row_id, (None, None))
            if status is None:
                outcome = Outcome.MISSED if first.date <= end else Outcome.NOT_DUE
            elif when <= first.date:
                outcome = Outcome.KEPT if status == RowStatus.ALLOCATED else Outcome.CANCELLED
            else:
                outcome = Outcome.MISSED
            reason = None
            if outcome == Outcome.MISSED:
                jumped = any(
                    at > first.at and timezone.localdate(at) <= first.date and key < first.queue_key
                    for at, key in joined[first.product_id]
                )
                if cause == Cause.LATE:
                    reason = MissReason.SUPPLY_LATE
                elif jumped:
                    reason = MissReason.QUEUE_CHANGED
                elif cause == Cause.LEAD_TIME:
                    reason = MissReason.LEAD_TIME_SHORT
                else:
                    reason = MissReason.OTHER
            tally.verdicts[row_id] = Verdict(cause, outcome, reason)
        return tally


@dataclass
class SimulationResult:
    days: int
    seed: int
    start: dt.date
    orders_placed: int = 0
    checkouts_refused: int = 0
    rows_waited: int = 0
    promises_kept: int = 0
    promises_missed: int = 0  # allocated late, or still waiting / cancelled after the date passed
    promises_not_due: int = 0  # still waiting, first promise in the future: excluded
    cancelled_before_due: int = 0  # cancelled while waiting before the date: excluded
    slips: int = 0
    slips_emailed: int = 0
    promise_emails: int = 0
    oversold_units: int = 0
    violations: int = 0
    violation_details: list[str] = field(default_factory=list)
    supplies_created: int = 0
    supplies_slipped: int = 0
    supplies_cancelled: int = 0
    supplies_received: int = 0
    units_received: int = 0
    units_damaged: int = 0
    adjustments_refused: int = 0
    units_shipped: int = 0
    shipments: int = 0
    customer_cancellations: int = 0
    merchant_cancellations: int = 0
    emails_sent: int = 0
    promise_tally: PromiseTally = field(default_factory=PromiseTally)
    settlement: str = Settlement.PER_SHIPMENT
    currency: str = ""
    orders_paid: int = 0
    payments_declined: int = 0
    orders_abandoned: int = 0
    orders_expired: int = 0
    pay_links_paid: int = 0
    captured: Decimal = Decimal("0")
    refunded: Decimal = Decimal("0")
    released: Decimal = Decimal("0")
    money_open: int = 0
    money_violations: int = 0
    supply: str = SUGGESTIONS
    purchase_orders: int = 0
    # Product-days a released product closed with nothing to sell from stock (free − safety
    # stock − waiting ≤ 0): the days a new customer could not have it from the shelf.
    stockout_days: int = 0
    stockout_days_with_history: int = 0  # of those, once the demand window has a full history
    sourcing: str = Sourcing.PRIORITY
    orders_shipped: int = 0  # orders with at least one shipment
    shipments_of_orders: int = 0  # their shipments

    @property
    def shipments_per_order(self) -> float | None:
        return self.shipments_of_orders / self.orders_shipped if self.orders_shipped else None

    @property
    def promises_share(self) -> float | None:
        due = self.promises_kept + self.promises_missed
        return self.promises_kept / due if due else None

    @property
    def supply_label(self) -> str:
        return "purchase orders from suggestions" if self.supply == SUGGESTIONS else "scripted reorder points"

    @property
    def slips_emailed_share(self) -> float | None:
        return self.slips_emailed / self.slips if self.slips else None

    def lines(self) -> list[str]:
        pct = _pct
        end = self.start + dt.timedelta(days=self.days - 1)
        lines = [
            f"Simulated {self.days} days, {self.start} to {end}, seed {self.seed}, "
            f"sourcing {Sourcing(self.sourcing).label.split(':')[0].lower()}",
            f"days:                        {self.days}",
            f"orders placed:               {self.orders_placed}",
            f"checkouts refused:           {self.checkouts_refused}",
            f"rows that waited:            {self.rows_waited}",
            f"allocated by first promise:  {pct(self.promises_share)} "
            f"({self.promises_kept} kept, {self.promises_missed} missed; excluded: "
            f"{self.promises_not_due} not yet due, {self.cancelled_before_due} cancelled before due)",
            *self.promise_tally.lines(),
            f"first promises off the walk: {self.promise_tally.disagreements}",
            f"promise slips emailed:       {pct(self.slips_emailed_share)} "
            f"({self.slips_emailed} of {self.slips} slips, {self.promise_emails} promise_moved emails)",
            f"oversold units:              {self.oversold_units}",
            f"invariant violations:        {self.violations}",
            f"buying:                      {self.supply_label} ({self.purchase_orders} purchase orders)",
            f"stock-out days:              {self.stockout_days} (product-days, nothing to sell from stock)",
            f"supply: {self.supplies_created} created, {self.supplies_slipped} slipped, "
            f"{self.supplies_cancelled} cancelled, {self.supplies_received} received "
            f"({self.units_received} units received in all)",
            f"shipping: {self.shipments} shipments, {self.units_shipped} units; {self.units_damaged} "
            f"written off as damaged ({self.adjustments_refused} refused: all allocated)",
            f"shipments per order:         {format_ratio(self.shipments_per_order)} "
            f"({self.shipments_of_orders} shipments for {self.orders_shipped} orders shipped)",
            f"cancellations: {self.customer_cancellations} by customers, "
            f"{self.merchant_cancellations} by the merchant",
            f"emails sent: {self.emails_sent}",
            f"settlement:                  {Settlement(self.settlement).label.lower()}",
            f"payments: {self.orders_paid} orders paid ({self.payments_declined} after a decline), "
            f"{self.orders_abandoned} abandoned ({self.orders_expired} expired), "
            f"{self.pay_links_paid} pay links paid",
            f"captured:                    {self.captured} {self.currency}",
            f"refunded:                    {self.refunded} {self.currency}",
            f"released:                    {self.released} {self.currency}",
            f"money open:                  {self.money_open}",
            f"money violations:            {self.money_violations}",
        ]
        lines += [f"VIOLATION {detail}" for detail in self.violation_details[:MAX_LISTED_VIOLATIONS]]
        if len(self.violation_details) > MAX_LISTED_VIOLATIONS:
            lines.append(f"... and {len(self.violation_details) - MAX_LISTED_VIOLATIONS} more")
        return lines


def supply_comparison(*results: SimulationResult) -> list[str]:
    """The same seed bought two ways, side by side: stock-out days and the first-promise share."""
    by_supply = {r.supply: r for r in results}
    scripted, suggested = by_supply[SCRIPTED], by_supply[SUGGESTIONS]
    avoided = scripted.stockout_days - suggested.stockout_days
    width = 34
    rows = [
        ("stock-out days", lambda r: str(r.stockout_days)),
        (f"  from day {DEMAND_WINDOW_DAYS} (full history)", lambda r: str(r.stockout_days_with_history)),
        ("allocated by first promise", lambda r: _pct(r.promises_share)),
        ("purchase orders / supplies", lambda r: f"{r.purchase_orders} / {r.supplies_created}"),
        ("units received", lambda r: str(r.units_received)),
        ("checkouts refused", lambda r: str(r.checkouts_refused)),
    ]
    lines = [
        f"buying compared (seed {scripted.seed}, {scripted.days} days, the same customers' carts):",
        f"  {'':<{width}}{'scripted':>12}{'suggestions':>14}",
    ]
    lines += [f"  {label:<{width}}{show(scripted):>12}{show(suggested):>14}" for label, show in rows]
    share = ""
    if scripted.stockout_days:
        share = f" ({abs(avoided) / scripted.stockout_days:.0%} {'fewer' if avoided >= 0 else 'more'})"
    lines.append(f"stock-outs avoided by suggestions: {avoided} product-days{share}")
    return lines


def simulate_shop(
    *,
    days: int,
    seed: int,
    keep: bool = False,
    settlement: str = Settlement.PER_SHIPMENT,
    supply: str = SUGGESTIONS,
    sourcing: str = Sourcing.PRIORITY,
) -> SimulationResult:
    """Run the simulation with the shop's sourcing strategy set to ``sourcing``; everything
    it wrote is rolled back unless ``keep`` (the strategy is put back either way)."""
    if sourcing not in Sourcing.values:
        raise SimulationError(f"Unknown sourcing {sourcing!r}: one of {', '.join(Sourcing.values)}.")
    if days < 1:
        raise SimulationError("Simulate at least one day.")
    if supply not in SUPPLY_MODES:
        raise SimulationError(f"Unknown supply {supply!r}: one of {', '.join(SUPPLY_MODES)}.")
    if settlement not in Settlement.values:
        raise SimulationError(f"Unknown settlement {settlement!r}: one of {', '.join(Settlement.values)}.")
    if Product.objects.filter(sku__startswith=SKU_PREFIX).exists():
        raise SimulationError(
            f"Products with SKUs starting {SKU_PREFIX!r} exist: a kept simulation is in this database."
        )
    connection = transaction.get_connection()
    with (
        override_settings(EMAIL_BACKEND=LOCMEM, BILLING_SETTLEMENT=settlement, PAYMENT_VARIANT="dummy"),
        time_machine.travel(_at(START, 6), tick=False) as clock,
        transaction.atomic(),
    ):
        # This transaction only exists to roll the run back, as a TestCase's does, and the run
        # is single-threaded (no lock it holds blocks a gateway call): billing's guard against
        # gateway calls inside a transaction treats it as such.
        connection.atomic_blocks[-1]._from_testcase = True
        callbacks_before = len(connection.run_on_commit)
        defaults = GlobalSettings.get_solo()
        shop_sourcing, defaults.sourcing = defaults.sourcing, sourcing
        defaults.save(update_fields=["sourcing"])
        result = _Simulation(days=days, seed=seed, clock=clock, supply=supply).run()
        defaults.sourcing = shop_sourcing
        defaults.save(update_fields=["sourcing"])
        if keep:
            # Every job the run's after-commit callbacks would queue (allocate, refresh
            # promises, send the outbox) was run explicitly each day and would find
            # nothing to do; dropped, so a commit does not start thousands of them.
            del connection.run_on_commit[callbacks_before:]
        else:
            transaction.set_rollback(True)
    return result


def _at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, minute)))


class _Simulation:
    def __init__(self, *, days: int, seed: int, clock, supply: str = SUGGESTIONS) -> None:
        self.days, self.seed, self.clock, self.supply = days, seed, clock, supply
        self.rng = random.Random(seed)
        # Carts apart: both ways of buying meet the same customers, whatever else draws.
        self.carts = random.Random(f"carts:{seed}")
        self.money_rng = random.Random(f"money:{seed}")  # payments apart: the stock story stays
        # Apart too, what depends on where units sit (sources): the customers' story stays the
        # same under either sourcing strategy, so their shipments per order compare.
        self.shelf_rng = random.Random(f"shelf:{seed}")
        self.order_ids: list[int] = []
        self.result = SimulationResult(
            days=days,
            seed=seed,
            start=START,
            settlement=settings.BILLING_SETTLEMENT,
            currency=settings.BILLING_CURRENCY,
            supply=supply,
            sourcing=GlobalSettings.get_solo().sourcing,
        )
        self.sources: dict[str, Source] = {}
        self.suppliers: dict[str, Supplier] = {}  # by the source they deliver to (plan.source)
        self.held: dict[int, dt.date] = {}  # purchase order supplies delivered late: until
        self.products: dict[str, Product] = {}  # by plan SKU
        self.plans: dict[int, ProductPlan] = {}  # by product pk
        self.ids: list[int] = []
        self.promises = PromiseAudit()  # waiting rows' first promises and their basis
        self.ordered: dict[tuple[int, int], int] = defaultdict(int)  # (order, product) -> units
        self.actions: dict[dt.date, list[tuple[int, str]]] = defaultdict(list)  # supplier news by day
        self.po_number = 0
        self.slipped_yesterday: set[int] = set()
        self.last_promise_email = 0
        self.first_outbox = 0

    # -- the run ---------------------------------------------------------------------

    def run(self) -> SimulationResult:
        self.first_outbox = OutboxMessage.objects.aggregate(last=Max("pk"))["last"] or 0
        self.last_promise_email = self.first_outbox
        self.setup()
        for offset in range(self.days):
            self.day(START + dt.timedelta(days=offset))
        self.audit(START + dt.timedelta(days=self.days - 1))
        return self.result

    def setup(self) -> None:
        for plan in SOURCES:
            self.sources[plan.code] = Source.objects.create(
                code=plan.code, name=plan.name, priority=plan.priority
            )
        for plan in PRODUCTS:
            sku = SKU_PREFIX + plan.sku
            release = START + dt.timedelta(days=plan.release_day) if plan.release_day is not None else None
            policy = {
                "backorders": plan.backorders,
                "backorder_limit": plan.backorder_limit,
                "max_backorder_per_order": plan.max_backorder_per_order,
                "safety_stock": plan.safety_stock,
                "low_stock_threshold": 2,
                "lead_time_days": plan.lead_time_days,
                "partial_allocation": plan.partial,
            }
            product = Product.objects.create(
                sku=sku,
                name=plan.name,
                slug=sku.lower(),
                price=Decimal(plan.price),
                preorder_enabled=release is not None,
                release_date=release,
                preorder_limit=plan.preorder_limit,
                **policy,
                **{f"use_global_{name}": False for name in POLICY_FIELD_NAMES},
            )
            self.products[plan.sku] = product
            self.plans[product.pk] = plan
            self.ids.append(product.pk)
            for code, quantity in plan.opening:
                stock_receive(
                    source=self.sources[code],
                    product=product,
                    quantity=quantity,
                    reference=f"OPENING-{plan.sku}",
                )
                self.result.units_received += quantity
            if self.supply == SUGGESTIONS:
                if plan.source not in self.suppliers:
                    self.suppliers[plan.source] = Supplier.objects.create(
                        name=f"Simulated supplier to {plan.source}", email=f"{plan.source}@sim.invalid"
                    )
                supplier = self.suppliers[plan.source]
                SupplierProduct.objects.create(
                    supplier=supplier,
                    product=product,
                    supplier_sku=f"S-{plan.sku}",
                    cost_price=(Decimal(plan.price) / 2).quantize(Decimal("0.01")),
                    lead_time_days=plan.supplier_days,
                    min_order_qty=plan.min_order_qty,
                    pack_size=plan.pack_size,
                    is_preferred=True,
                )

    def day(self, today: dt.date) -> None:
        self.clock.move_to(_at(today, 7))
        self.supplier_news(today)
        self.arrivals(today)
        self.clock.move_to(_at(today, 8))
        self.ship()
        self.checkouts(today)
        self.clock.move_to(_at(today, 20, 30))
        self.cancellations()
        self.clock.move_to(_at(today, 21))
        self.check_limits(today)
        self.count_stockouts(today)
        if self.supply == SUGGESTIONS:
            self.merchant_buys_from_suggestions(today)
        else:
            self.merchant_orders(today)
        self.clock.move_to(_at(today, 23))
        self.nightly_jobs(today)

    # -- suppliers and merchants -----------------------------------------------------

    def supplier_news(self, today: dt.date) -> None:
        """Suppliers announce delays and cancellations (at the latest on the due date)."""
        for pk, kind in self.actions.pop(today, []):
            supply = InboundSupply.objects.get(pk=pk)
            if supply.status != InboundStatus.OPEN:
                continue
            if PurchaseOrderLine.objects.filter(inbound=supply).exists():
                # A purchase order's line is changed only on its order: the supplier just
                # delivers late, or never; the open line shows late and slips its promises.
                if kind == "cancel":
                    self.held[pk] = dt.date.max
                    self.result.supplies_cancelled += 1
                    continue
                held = max(self.held.get(pk, supply.expected_date), supply.expected_date)
                self.held[pk] = held + dt.timedelta(days=self.rng.randint(2, 12))
                self.result.supplies_slipped += 1
                if self.rng.random() < 0.3:  # and late again
                    self.schedule(pk, "slip", today, self.held[pk])
                continue
            if kind == "cancel":
                inbound_cancel(supply=supply)
                self.result.supplies_cancelled += 1
                continue
            delay = self.rng.randint(2, 12)
            quantity = supply.quantity
            if self.rng.random() < 0.2:  # a short shipment as well
                quantity = max(1, int(quantity * self.rng.uniform(0.5, 0.9)))
            new_date = supply.expected_date + dt.timedelta(days=delay)
            inbound_update(supply=supply, quantity=quantity, expected_date=new_date)
            self.result.supplies_slipped += 1
            if self.rng.random() < 0.3:  # and late again
                self.schedule(pk, "slip", today, new_date)

    def schedule(self, pk: int, kind: str, today: dt.date, due: dt.date) -> None:
        notice = today + dt.timedelta(days=self.rng.randint(1, max(1, (due - today).days)))
        self.actions[min(notice, due)].append((pk, kind))

    def arrivals(self, today: dt.date) -> None:
        due = InboundSupply.objects.filter(
            product_id__in=self.ids, status=InboundStatus.OPEN, expected_date__lte=today
        ).order_by("expected_date", "pk")
        lines = {
            line.inbound_id: line
            for line in PurchaseOrderLine.objects.filter(inbound__in=due).select_related("purchase_order")
        }
        for supply in due:
            if self.held.get(supply.pk, today) > today:
                continue  # its supplier is late
            if line := lines.get(supply.pk):
                # A purchase order's line: the receipt is referenced by the line (the supplier
                # may deliver short: what was announced, which inbound_update lowered).
                purchase_order_line_receive(line=line, quantity=supply.quantity)
            else:
                inbound_receive(supply=supply)
            self.result.supplies_received += 1
            self.result.units_received += supply.quantity
        if self.rng.random() < 0.05:  # stock found in a corner, no supply announced it
            product = self.products[self.rng.choice(PRODUCTS).sku]
            if not is_preorder(product, today):
                quantity = self.rng.randint(3, 12)
                stock_receive(
                    source=self.sources["sim-overflow"],
                    product=product,
                    quantity=quantity,
                    reference=f"FOUND-{today:%Y%m%d}",
                )
                self.result.units_received += quantity
        if self.rng.random() < 0.05:  # a unit found damaged on the shelf
            stock = (
                Stock.objects.filter(product_id__in=self.ids, on_hand__gt=0)
                .select_related("source", "product")
                .order_by("pk")
            )
            stock = self.shelf_rng.choice(list(stock) or [None])
            if stock is not None:
                try:
                    stock_adjust(source=stock.source, product=stock.product, change=-1, reason="Damaged")
                    self.result.units_damaged += 1
                except StockWouldGoNegative:
                    self.result.adjustments_refused += 1  # every unit there is promised

    def merchant_orders(self, today: dt.date) -> None:
        """Order supply when stock + open supply - waiting falls to the reorder point."""
        free = free_stock_by_product(product_ids=self.ids)
        waiting = waiting_units_by_product(product_ids=self.ids)
        inbound = inbound_open_by_product(product_ids=self.ids)
        for pk in self.ids:
            plan = self.plans[pk]
            if self.too_early(plan, today):
                continue
            position = (
                free.get(pk, 0)
                + sum(quantity for _, quantity in inbound.get(pk, []))
                - sum(waiting.get(pk, {}).values())
                - plan.safety_stock
            )
            if position > plan.reorder_point or self.rng.random() >= 0.6:
                continue
            product = self.products[plan.sku]
            quantity = plan.reorder_qty + max(0, -position)
            expected = today + dt.timedelta(days=max(1, plan.supplier_days + self.rng.randint(-2, 3)))
            self.po_number += 1
            supply = inbound_create(
                source=self.sources[plan.source],
                product=product,
                quantity=quantity,
                expected_date=expected,
                reference=f"PO-{self.po_number:05d}",
            )
            self.result.supplies_created += 1
            self.supply_fate(supply.pk, today, expected)

    def merchant_buys_from_suggestions(self, today: dt.date) -> None:
        """The merchant opens the replenishment page each evening, drafts purchase orders for
        every suggestion (one per supplier), and sends them; suppliers then deliver on time,
        late, short or never, with the same chances as scripted supply."""
        wanted = [
            s.product.pk
            for s in replenishment_suggestions(
                product_ids=self.ids, now=timezone.now(), window_days=DEMAND_WINDOW_DAYS, only_to_order=True
            )
            if not self.too_early(self.plans[s.product.pk], today)
        ]
        if not wanted:
            return
        for order in purchase_orders_from_suggestions(product_ids=wanted):
            purchase_order_send(purchase_order=order)
            self.result.purchase_orders += 1
            for line in order.lines.order_by("line_no"):
                self.result.supplies_created += 1
                self.supply_fate(line.inbound_id, today, line.expected_date)

    def supply_fate(self, pk: int, today: dt.date, expected: dt.date) -> None:
        fate = self.rng.random()
        if fate < 0.22:
            self.schedule(pk, "slip", today, expected)
        elif fate < 0.28:
            self.schedule(pk, "cancel", today, expected)

    @staticmethod
    def too_early(plan: ProductPlan, today: dt.date) -> bool:
        """Too early to buy a product not released yet."""
        return plan.release_day is not None and (today - START).days < plan.release_day - 25

    def count_stockouts(self, today: dt.date) -> None:
        """Released products that close the day with nothing to sell from stock."""
        free = free_stock_by_product(product_ids=self.ids)
        waiting = waiting_units_by_product(product_ids=self.ids)
        for pk in self.ids:
            plan = self.plans[pk]
            if is_preorder(self.products[plan.sku], today):
                continue
            if free.get(pk, 0) - plan.safety_stock - sum(waiting.get(pk, {}).values()) <= 0:
                self.result.stockout_days += 1
                if (today - START).days >= DEMAND_WINDOW_DAYS:
                    self.result.stockout_days_with_history += 1

    # -- customers -------------------------------------------------------------------

    def checkouts(self, today: dt.date) -> None:
        weights = [plan.weight for plan in PRODUCTS]
        for n in range(self.carts.randint(5, 12)):
            self.clock.move_to(_at(today, 9, 0) + dt.timedelta(minutes=45 * n + self.carts.randint(0, 30)))
            count = self.carts.choices((1, 2, 3), weights=(6, 3, 1))[0]
            plans = {plan.sku: plan for plan in self.carts.choices(PRODUCTS, weights=weights, k=count)}
            lines = [
                CartLine(
                    product_id=self.products[sku].pk,
                    quantity=self.carts.choices((1, 2, 3, 4, 5, 6), weights=(50, 25, 15, 4, 3, 3))[0],
                )
                for sku in sorted(plans)
            ]
            who = self.carts.randint(1, 400)
            customer = Customer(
                email=f"customer{who}@sim.invalid", full_name=f"Customer {who}", address=f"{who} Test Street"
            )
            try:
                order = checkout_place_order(lines=lines, customer=customer, today=today)
            except CheckoutRefused:
                self.result.checkouts_refused += 1
                continue
            self.result.orders_placed += 1
            self.order_ids.append(order.pk)
            self.promises.record(order=order, today=today)
            self.pay(order)
            for line in lines:
                self.ordered[(order.pk, line.product_id)] += line.quantity

    def cancellations(self) -> None:
        """Customers drop some waiting rows (more often just after a slip email); the
        merchant cancels a few allocated rows (a customer phoned, an address failed)."""
        rows = OrderRow.objects.filter(product_id__in=self.ids, status__in=[*WAITING, RowStatus.ALLOCATED])
        for pk, status in rows.order_by("pk").values_list("pk", "status"):
            if status in WAITING:
                chance = 0.12 if pk in self.slipped_yesterday else 0.012
                if self.rng.random() < chance:
                    row_cancel(row_ids=[pk], by_customer=True)
                    self.result.customer_cancellations += 1
            elif self.rng.random() < 0.01:
                row_cancel(row_ids=[pk], reason="Cancelled by merchant (simulation)")
                self.result.merchant_cancellations += 1

    def ship(self) -> None:
        pairs = list(
            OrderRow.objects.filter(product_id__in=self.ids, status=RowStatus.ALLOCATED)
            .values_list("order_id", "source_id")
            .annotate(units=Sum("quantity"))
            .order_by("order_id", "source_id")
        )
        orders = Order.objects.in_bulk({order_id for order_id, _, _ in pairs})
        sources = {source.pk: source for source in self.sources.values()}
        parcels = defaultdict(list)  # an order's allocated units per source: a shipment each
        for order_id, source_id, units in pairs:
            parcels[order_id].append((source_id, units))
        for order_id, at_sources in parcels.items():
            # The merchant ships a paid order's parcels on the same day, or none of them.
            if self.shelf_rng.random() < 0.85 and order_is_paid(order_id=order_id):
                for source_id, units in at_sources:
                    shipment_create(order=orders[order_id], source=sources[source_id])
                    self.result.shipments += 1
                    self.result.units_shipped += units

    # -- what beat would run ---------------------------------------------------------

    def nightly_jobs(self, today: dt.date) -> None:
        ours = set(self.ids)
        # Global, like the pre-order release: the fixed past clock leaves a real shop's
        # orders (paid by a later date) alone.
        while expired := unpaid_orders_expire():
            self.result.orders_expired += len(expired)
        preorders_release(today=today)
        for pk in products_needing_allocation(today=today):
            if pk in ours:
                backorders_allocate(product_id=pk, today=today)
        self.check_idle_stock(today)
        self.slipped_yesterday = set()
        for pk in products_with_waiting_rows():
            if pk in ours:
                slips = promises_refresh(product_id=pk, today=today)
                if slips:
                    self.count_slip_emails(slips)
        self.pay_links()
        self.settle_pending()
        while True:
            sent = emails_send_batch(batch_size=200)
            self.result.emails_sent += sent.sent
            if not (sent.sent + sent.retried + sent.failed):
                break

    # -- money -----------------------------------------------------------------------

    def submit(self, payment, status: str) -> None:
        """The customer on the dummy provider's page: approve, charge or decline."""
        data = {"status": status, "fraud_status": FraudStatus.ACCEPT, "gateway_response": "3ds-disabled"}
        with contextlib.suppress(RedirectNeeded):  # back to the shop's return page
            payment.get_form(data=data)

    def pay(self, order: Order) -> None:
        roll = self.money_rng.random()
        if roll < ABANDONED:
            self.result.orders_abandoned += 1
            return
        if roll < ABANDONED + DECLINED_FIRST:
            self.submit(payment_start(order_id=order.pk), PaymentStatus.REJECTED)
            self.result.payments_declined += 1
        per_shipment = settings.BILLING_SETTLEMENT == Settlement.PER_SHIPMENT
        status = PaymentStatus.PREAUTH if per_shipment else PaymentStatus.CONFIRMED
        self.submit(payment_start(order_id=order.pk), status)
        self.result.orders_paid += 1

    def pay_links(self) -> None:
        """Shipments an expired authorization could not pay: the customer pays the link."""
        waiting = LedgerEntry.objects.filter(
            order_id__in=self.order_ids, kind=EntryKind.CAPTURE, state=EntryState.AWAITING_PAYMENT
        )
        for entry_id in waiting.order_by("pk").values_list("pk", flat=True):
            self.submit(pay_link_create(entry_id=entry_id), PaymentStatus.CONFIRMED)
            self.result.pay_links_paid += 1

    def settle_pending(self) -> None:
        """What the settle jobs would do after commit: call the provider for each intent."""
        pending = LedgerEntry.objects.filter(order_id__in=self.order_ids, state=EntryState.PENDING)
        for entry_id in pending.order_by("pk").values_list("pk", flat=True):
            entry_settle(entry_id=entry_id)

    def check_money(self) -> None:
        """billing's reconciliation over the run's orders, and its totals."""
        books = ledger_reconcile(order_ids=self.order_ids)
        for finding in books.violations:
            self.violation(f"money: {finding}")
        self.result.money_violations = len(books.violations)
        self.result.money_open = len(books.open)
        sums = dict(
            LedgerEntry.objects.filter(order_id__in=self.order_ids, state=EntryState.SUCCEEDED)
            .values_list("kind")
            .annotate(total=Sum("amount"))
            .order_by()
        )
        currency = self.result.currency
        self.result.captured = money_round(sums.get(EntryKind.CAPTURE, 0), currency)
        self.result.refunded = money_round(sums.get(EntryKind.REFUND, 0), currency)
        self.result.released = money_round(sums.get(EntryKind.RELEASE, 0), currency)

    def count_slip_emails(self, slips) -> None:
        """Each slip should be told to its order's customer by a promise_moved email
        that this refresh wrote (the subject names the order)."""
        self.result.slips += len(slips)
        self.slipped_yesterday.update(slip.row_id for slip in slips)
        orders = {
            pk: (number, email)
            for pk, number, email in OrderRow.objects.filter(pk__in=[s.row_id for s in slips]).values_list(
                "pk", "order__number", "order__email"
            )
        }
        told = set()
        messages = OutboxMessage.objects.filter(kind="promise_moved", pk__gt=self.last_promise_email)
        for pk, to_email, subject in messages.order_by("pk").values_list("pk", "to_email", "subject"):
            self.last_promise_email = max(self.last_promise_email, pk)
            self.result.promise_emails += 1
            told.update(
                (number, email)
                for number, email in orders.values()
                if email == to_email and number in subject
            )
        self.result.slips_emailed += sum(1 for slip in slips if orders.get(slip.row_id) in told)

    # -- checks ----------------------------------------------------------------------

    def violation(self, text: str) -> None:
        self.result.violations += 1
        self.result.violation_details.append(text)

    def check_limits(self, today: dt.date) -> None:
        """Running limits hold whatever the day brought (checked before the night's jobs)."""
        waiting = waiting_units_by_product(product_ids=self.ids)
        for pk in self.ids:
            plan, product = self.plans[pk], self.products[self.plans[pk].sku]
            units = waiting.get(pk, {})
            backordered = units.get(RowStatus.BACKORDERED, 0)
            preordered = units.get(RowStatus.PREORDERED, 0)
            limit, cap = plan.backorder_limit, plan.preorder_limit
            if plan.release_day is None and limit is not None and backordered > limit:
                self.violation(f"{today} {product.sku}: {backordered} units backordered, limit {limit}")
            if plan.backorders == NO and plan.release_day is None and backordered:
                self.violation(f"{today} {product.sku}: {backordered} units backordered with backorders off")
            if is_preorder(product, today) and cap is not None and preordered > cap:
                self.violation(f"{today} {product.sku}: {preordered} units pre-ordered, limit {cap}")

    def check_idle_stock(self, today: dt.date) -> None:
        """After the allocation job no free stock (beyond safety stock) sits idle while a
        row that could take it waits."""
        free = free_stock_by_product(product_ids=self.ids)
        for pk in products_needing_allocation(today=today):
            if pk not in self.plans:
                continue
            product = self.products[self.plans[pk].sku]
            policy = product_policy(product=product)
            spare = free.get(pk, 0) - policy.safety_stock
            statuses = [RowStatus.BACKORDERED]
            if not is_preorder(product, today):
                statuses.append(RowStatus.PREORDERED)
            head = (
                OrderRow.objects.filter(product_id=pk, status__in=statuses)
                .order_by("-queue_tier", "queue_at", "order_id", "line_no", "pk")
                .values_list("quantity", flat=True)
                .first()
            )
            if head is None or spare <= 0:
                continue
            if policy.partial_allocation == PartialAllocation.SPLIT or head <= spare:
                self.violation(f"{today} {product.sku}: {spare} units free while rows wait")

    def audit(self, end: dt.date) -> None:
        self.promise_figures(end)
        self.shipment_figures()
        self.check_stock()
        self.check_rows(end)
        self.check_money()
        unsent = OutboxMessage.objects.filter(pk__gt=self.first_outbox).exclude(status=OutboxStatus.SENT)
        if count := unsent.count():
            self.violation(f"{count} outbox messages were never sent")

    def shipment_figures(self) -> None:
        """Shipments per order shipped: what the sourcing strategy saves on."""
        per_order = (
            Shipment.objects.filter(order_id__in=self.order_ids)
            .values("order_id")
            .annotate(n=Count("pk"))
            .values_list("n", flat=True)
        )
        counts = list(per_order)
        self.result.orders_shipped, self.result.shipments_of_orders = len(counts), sum(counts)

    def promise_figures(self, end: dt.date) -> None:
        """Each row that waited: allocated by its first promise date, or not, by cause."""
        result = self.result
        tally = result.promise_tally = self.promises.tally(end=end)
        result.rows_waited = len(tally.verdicts)
        result.promises_kept = tally.count(outcome=Outcome.KEPT)
        result.promises_missed = tally.count(outcome=Outcome.MISSED)
        result.promises_not_due = tally.count(outcome=Outcome.NOT_DUE)
        result.cancelled_before_due = tally.count(outcome=Outcome.CANCELLED)

    def check_stock(self) -> None:
        """Counters against rows and the ledger; nothing allocated or shipped that was
        not there."""
        key = ("source_id", "product_id")
        stocks = {
            (s, p): (on_hand, allocated)
            for s, p, on_hand, allocated in Stock.objects.filter(product_id__in=self.ids).values_list(
                *key, "on_hand", "allocated"
            )
        }
        rows = OrderRow.objects.filter(product_id__in=self.ids)
        allocated_rows = {
            (r["source_id"], r["product_id"]): r["units"]
            for r in rows.filter(status=RowStatus.ALLOCATED).values(*key).annotate(units=Sum("quantity"))
        }
        shipped_rows = {
            (r["source_id"], r["product_id"]): r["units"]
            for r in rows.filter(status=RowStatus.SHIPPED).values(*key).annotate(units=Sum("quantity"))
        }
        ledger = defaultdict(lambda: defaultdict(int))
        for r in (
            StockMovement.objects.filter(product_id__in=self.ids)
            .values(*key, "kind")
            .annotate(units=Sum("quantity"))
        ):
            ledger[(r["source_id"], r["product_id"])][r["kind"]] = r["units"]
        names = {p.pk: p.sku for p in self.products.values()}
        codes = {s.pk: s.code for s in self.sources.values()}

        def where(pair) -> str:
            return f"{names.get(pair[1], pair[1])} at {codes.get(pair[0], pair[0])}"

        for pair in sorted(set(stocks) | set(allocated_rows) | set(shipped_rows) | set(ledger)):
            on_hand, allocated = stocks.get(pair, (0, 0))
            by_rows, shipped = allocated_rows.get(pair, 0), shipped_rows.get(pair, 0)
            moves = ledger.get(pair, {})
            came_in = sum(units for kind, units in moves.items() if kind != MovementKind.SHIPMENT)
            self.result.oversold_units += max(0, allocated - on_hand)
            self.result.oversold_units += max(0, by_rows - allocated)
            self.result.oversold_units += max(0, shipped - came_in)
            if on_hand < 0 or allocated < 0 or allocated > on_hand:
                self.violation(f"{where(pair)}: on hand {on_hand}, allocated {allocated}")
            if by_rows != allocated:
                self.violation(f"{where(pair)}: counter says {allocated} allocated, rows hold {by_rows}")
            if -moves.get(MovementKind.SHIPMENT, 0) != shipped:
                self.violation(
                    f"{where(pair)}: ledger shipped {-moves.get(MovementKind.SHIPMENT, 0)}, rows {shipped}"
                )
        ours = set(self.ids)
        for drift in stock_drift():
            if drift.product_id in ours:
                self.violation(f"ledger drift: {drift}")

    def check_rows(self, end: dt.date) -> None:
        rows = OrderRow.objects.filter(product_id__in=self.ids)
        broken = rows.filter(
            Q(status__in=AT_SOURCE, source__isnull=True)
            | Q(status__in=WAITING, source__isnull=False)
            | Q(status=RowStatus.SHIPPED, shipment__isnull=True)
            | Q(quantity__lte=0)
            | Q(status__in=WAITING, promise_date__isnull=True)
            | Q(status__in=WAITING, promise_date__lt=end)
        )
        for pk, status, promise in broken.order_by("pk").values_list("pk", "status", "promise_date"):
            self.violation(f"row {pk}: {status} row breaks a row rule (promise {promise})")
        # Units are neither lost nor made up: every (order, product) still adds up.
        units = {
            (r["order_id"], r["product_id"]): r["units"]
            for r in rows.values("order_id", "product_id").annotate(units=Sum("quantity"))
        }
        for pair, quantity in sorted(self.ordered.items()):
            if units.get(pair, 0) != quantity:
                self.violation(
                    f"order {pair[0]} product {pair[1]}: ordered {quantity}, rows hold {units.get(pair, 0)}"
                )
        # A row's status is the last move its events recorded.
        last = {}
        for row_id, to_status in (
            RowEvent.objects.filter(row__product_id__in=self.ids)
            .order_by("created_at", "pk")
            .values_list("row_id", "to_status")
        ):
            last[row_id] = to_status
        for pk, status in rows.order_by("pk").values_list("pk", "status"):
            if last.get(pk) != status:
                self.violation(f"row {pk}: status {status}, last event says {last.get(pk)}")
        # No row backordered more than its product allows per order.
        for row_id, product_id, quantity in (
            RowEvent.objects.filter(
                row__product_id__in=self.ids, from_status="", to_status=RowStatus.BACKORDERED
            )
            .order_by("pk")
            .values_list("row_id", "row__product_id", "quantity")
        ):
            cap = self.plans[product_id].max_backorder_per_order
            if cap is not None and quantity > cap:
                self.violation(f"row {row_id}: {quantity} units backordered at checkout, cap {cap}")
