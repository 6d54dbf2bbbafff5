"""Checkout: one transaction that allocates stock, backorders or pre-orders the rest."""

import datetime as dt
import secrets
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from catalog.availability import Decision
from catalog.discounts import LinePrice, availability_line_price, discountable
from catalog.models import Product
from catalog.selectors import discount_rules_active, global_settings_get
from inventory.selectors import free_stock_of_locked, inbound_open_by_product, stocks_in_priority
from inventory.services import stock_allocate, stock_lock_with_products
from inventory.sourcing import free_by_source, sources_choose

from ..exceptions import CheckoutRefused, EmptyCart, LineProblem
from ..models import CustomerTier, Order, OrderRow, RowStatus
from ..selectors import availability_from, waiting_units_by_product
from ..signals import order_placed
from .rows import Change, row_events_write

MAX_LINE_QUANTITY = 10_000  # more than any real basket; refuses 10^9 before any work


@dataclass(frozen=True)
class CartLine:
    product_id: int
    quantity: int


@dataclass(frozen=True)
class Customer:
    email: str
    full_name: str
    address: str
    user: object = None
    language: str = settings.LANGUAGE_CODE  # the order's emails are written in it


def _new_order_number() -> str:
    # Unguessable, short and unambiguous to read out on the phone.
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "R-" + "".join(secrets.choice(alphabet) for _ in range(8))


def _clean_lines(lines: list[CartLine]) -> list[CartLine]:
    merged: dict[int, int] = defaultdict(int)
    for line in lines:
        if isinstance(line.quantity, bool) or not isinstance(line.quantity, int):
            raise CheckoutRefused(
                [LineProblem(str(line.product_id), 0, None, "Quantity must be a whole number.")]
            )
        merged[line.product_id] += line.quantity
    return [CartLine(pid, qty) for pid, qty in merged.items()]


def _new_row(
    *, order, product, line_no, tier, status, quantity, source_id=None, promise_date=None, discount=None
) -> OrderRow:
    # The price is snapshotted on the row, with the discount (if any) that made it.
    return OrderRow(
        order=order,
        product=product,
        status=status,
        quantity=quantity,
        source_id=source_id,
        unit_price=discount.unit_price if discount else product.price,
        list_price=discount.list_price if discount else None,
        discount=discount.snapshot() if discount else None,
        queue_tier=tier,
        queue_at=order.placed_at,
        line_no=line_no,
        promise_date=promise_date,
    )


# What a caller may check under the locks before anything is written: each line with its
# product (None: it no longer exists) and its decision (None with no product), and what each
# line that can be bought costs (by product id). Raising refuses the checkout; nothing has
# been written yet and the transaction rolls back.
LinesCheck = Callable[[list[tuple[CartLine, Product | None, Decision | None]], dict[int, LinePrice]], None]


def _decide(lines, products, found) -> list[tuple[CartLine, Product | None, Decision | None]]:
    return [
        (line, products[line.product_id], found[line.product_id].decide(line.quantity))
        if line.product_id in products
        else (line, None, None)
        for line in lines
    ]


def checkout_place_order(
    *,
    lines: list[CartLine],
    customer: Customer,
    today: dt.date | None = None,
    check: LinesCheck | None = None,
    expect_waiting: Iterable[int] = (),
) -> Order:
    """Place an order in one transaction, or refuse it whole with every problem named.

    Each line takes free stock from sources by priority (a row per source), and the
    rest becomes backordered or pre-ordered when the product's policy and limits allow.
    Availability is decided once, under the locks, from the rows the locks read; the
    storefront passes ``check`` to refuse a cart whose lines changed since the
    customer saw them, instead of reviewing the cart again before the transaction.
    ``expect_waiting`` names the products the caller expects to have units wait (the cart
    showed them so): their inbound supply and the discount rules are read before the locks,
    which those reads do not need. A product found waiting that was not expected has them
    read under the locks; the order placed is the same either way.
    """
    lines = _clean_lines(lines)
    if not lines:
        raise EmptyCart()
    for line in lines:
        if not 0 < line.quantity <= MAX_LINE_QUANTITY:
            raise CheckoutRefused(
                [
                    LineProblem(
                        str(line.product_id),
                        line.quantity,
                        None,
                        f"Quantity must be between 1 and {MAX_LINE_QUANTITY}, got {line.quantity}.",
                    )
                ]
            )
    # Everything that needs no lock is done before the locks: they are held until commit.
    ids = [line.product_id for line in lines]
    number = _new_order_number()
    tier = 0
    if customer.user is not None:
        tier = CustomerTier.objects.filter(user=customer.user).values_list("priority", flat=True).first() or 0
    defaults = global_settings_get()  # read once: the products' policies and the sourcing
    # Inbound supply only dates the units that wait and the discount rules only price them:
    # for the lines expected to wait they are read here, outside the locks (every statement
    # under the locks makes other checkouts of these products wait longer).
    expected = sorted(set(expect_waiting) & set(ids))
    inbound = inbound_open_by_product(product_ids=expected) if expected else {}
    rules = discount_rules_active(today=today or timezone.localdate()) if expected else None
    with transaction.atomic():
        products, stocks = stock_lock_with_products(product_ids=ids)
        availability_with = partial(
            availability_from,
            products=products.values(),
            defaults=defaults,
            free=free_stock_of_locked(stocks.values()),
            waiting=waiting_units_by_product(product_ids=ids),
            today=today,
        )
        found = availability_with(inbound=inbound)
        decided = _decide(lines, products, found)
        # Lines waiting unexpectedly: their inbound supply read now, and those lines decided
        # again with it (the same quantities, now with their promise date).
        unexpected = [
            line.product_id
            for line, _, d in decided
            if d and (d.backordered or d.preordered) and line.product_id not in expected
        ]
        if unexpected and (more := inbound_open_by_product(product_ids=unexpected)):
            inbound = {**inbound, **more}
            found = availability_with(inbound=inbound)
            decided = _decide(lines, products, found)
        if rules is None:  # not read above: only when a rule could price some unit
            needed = any(d is not None and discountable(found[line.product_id], d) for line, _, d in decided)
            rules = discount_rules_active(today=today or timezone.localdate()) if needed else []
        # Units from stock at the list price, waiting ones maybe discounted (catalog.discounts).
        prices = {
            line.product_id: availability_line_price(found[line.product_id], d, rules)
            for line, _, d in decided
            if d is not None and d.ok
        }
        if check is not None:
            check(decided, prices)
        problems, decisions = [], []
        for line, product, decision in decided:
            if product is None:
                problems.append(
                    LineProblem("?", line.quantity, 0, "A product in your cart no longer exists.")
                )
                continue
            if not decision.ok:
                problems.append(
                    LineProblem(product.name, line.quantity, decision.salable, decision.reason, product.pk)
                )
            decisions.append((product, decision))
        if problems:
            raise CheckoutRefused(problems)

        # Created under the lock: its time is the rows' place in the queue.
        order = Order.objects.create(
            number=number,
            user=customer.user,
            email=customer.email,
            full_name=customer.full_name,
            address=customer.address,
            language=customer.language,
        )
        rows, takes = [], []
        sourced = defaultdict(list)  # product id -> [(source id, units)], the strategy's choice
        for product_id, source_id, units in sources_choose(
            needs={product.pk: decision.from_stock for product, decision in decisions},
            free=free_by_source(stocks_in_priority(stocks.values())),
            strategy=defaults.sourcing,
        ):
            sourced[product_id].append((source_id, units))
        for line_no, (product, decision) in enumerate(decisions, start=1):
            new_row = partial(_new_row, order=order, product=product, line_no=line_no, tier=tier)
            for source_id, take in sourced[product.pk]:
                rows.append(new_row(status=RowStatus.ALLOCATED, quantity=take, source_id=source_id))
                takes.append((stocks[(source_id, product.pk)], take))
            waiting = decision.backordered or decision.preordered
            if waiting:
                status = RowStatus.BACKORDERED if decision.backordered else RowStatus.PREORDERED
                # Only the waiting units may be discounted (the stock rows above are at list price).
                discount = prices[product.pk].discount
                rows.append(
                    new_row(
                        status=status, quantity=waiting, promise_date=decision.ships_by, discount=discount
                    )
                )
        stock_allocate(takes=takes)
        OrderRow.objects.bulk_create(rows)
        row_events_write(
            changes=[Change(r, "", r.status, r.quantity, r.source_id) for r in rows],
            user=customer.user,
            reason="Order placed",
            at=timezone.now(),
        )
        # Receivers write here only what must commit with the order (the emails are
        # rendered after commit: rendering here would hold the locks).
        order_placed.send(sender=Order, order=order, decisions=[d for _, d in decisions], rows=rows)
    return order
