"""Every write to stock and the ledger. Locks are taken through stock_lock only."""

from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial

from django.conf import settings
from django.db import connection, transaction

from catalog.models import Product

from ..exceptions import InvalidQuantity, StockWouldGoNegative
from ..models import MovementKind, Source, Stock, StockMovement
from ..selectors import stock_drift
from ..signals import stock_freed

StockKey = tuple[int, int]  # (source_id, product_id)


def stock_lock(*, product_ids: Iterable[int], create_for: Iterable[StockKey] = ()) -> dict[StockKey, Stock]:
    """Lock products, then their stock rows, each in primary-key order.

    Locking the product rows first serialises everything that decides on a
    product's stock (even a product with no stock row yet, whose backorder limit
    still needs guarding); one order for every caller means no deadlocks.
    Missing stock rows named in ``create_for`` are created while locked.
    Must run inside transaction.atomic().
    """
    return stock_lock_with_products(product_ids=product_ids, create_for=create_for)[1]


def stock_lock_with_products(
    *, product_ids: Iterable[int], create_for: Iterable[StockKey] = ()
) -> tuple[dict[int, Product], dict[StockKey, Stock]]:
    """stock_lock, also returning the locked products by id (as the lock read them: a
    caller needs no second read). Products that do not exist are simply absent."""
    ids = sorted(set(product_ids))
    # NO KEY UPDATE: rows inserted meanwhile may still reference the product.
    products = {
        p.pk: p for p in Product.objects.select_for_update(no_key=True).filter(pk__in=ids).order_by("pk")
    }
    missing = set(create_for)
    if missing:
        Stock.objects.bulk_create(
            [Stock(source_id=s, product_id=p) for s, p in sorted(missing)], ignore_conflicts=True
        )
    rows = (
        # of=("self",): the joined source rows must not be locked with them.
        Stock.objects.select_for_update(no_key=True, of=("self",))
        .filter(product_id__in=ids)
        .select_related("source")
        .order_by("pk")
    )
    return products, {(row.source_id, row.product_id): row for row in rows}


def announce_stock_freed(product_ids: Iterable[int]) -> None:
    """After commit, tell whoever listens that these products may have free stock."""
    ids = sorted(set(product_ids))
    if ids:
        transaction.on_commit(partial(stock_freed.send, sender=Stock, product_ids=ids))


@dataclass(frozen=True)
class ReceiptLine:
    source: Source
    product: Product
    quantity: int
    reference: str


@dataclass(frozen=True)
class ReceiptResult:
    line: ReceiptLine
    created: bool

    @property
    def message(self) -> str:
        line = self.line
        where = f"{line.product.sku} at {line.source.code}"
        if self.created:
            return f"Received {line.quantity} × {where} (reference {line.reference})."
        return f"Reference {line.reference} was already received for {where}; nothing added."


def check_quantity(value: object, *, field: str = "quantity") -> int:
    maximum = settings.RESTOCK_MAX_QUANTITY
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidQuantity(
            field=field,
            value=value,
            message=f"{field} must be a positive whole number, got {value!r}.",
        )
    if value > maximum:
        raise InvalidQuantity(
            field=field,
            value=value,
            message=f"{field} {value} is larger than the {maximum} allowed in one receipt.",
        )
    return value


def stock_receive_many(*, lines: list[ReceiptLine], user=None) -> list[ReceiptResult]:
    """Receive many lines in one transaction; each (source, product, reference) counts once."""
    for line in lines:
        check_quantity(line.quantity)
        if not line.reference.strip():
            raise InvalidQuantity(
                field="reference", value=line.reference, message="A receipt needs a reference."
            )
    results: list[ReceiptResult] = []
    with transaction.atomic():
        keys = {(line.source.pk, line.product.pk) for line in lines}
        stocks = stock_lock(product_ids=[p for _, p in keys], create_for=keys)
        seen = set(
            StockMovement.objects.filter(
                kind=MovementKind.RECEIPT,
                product_id__in={line.product.pk for line in lines},
                reference__in={line.reference for line in lines},
            ).values_list("source_id", "product_id", "reference")
        )
        movements, changed = [], {}
        for line in lines:
            key = (line.source.pk, line.product.pk, line.reference)
            if key in seen:
                results.append(ReceiptResult(line=line, created=False))
                continue
            seen.add(key)
            stock = stocks[key[:2]]
            stock.on_hand += line.quantity
            changed[stock.pk] = stock
            movements.append(
                StockMovement(
                    source=line.source,
                    product=line.product,
                    kind=MovementKind.RECEIPT,
                    quantity=line.quantity,
                    reference=line.reference,
                    reason="Receipt",
                    user=user,
                )
            )
            results.append(ReceiptResult(line=line, created=True))
        StockMovement.objects.bulk_create(movements)
        Stock.objects.bulk_update(changed.values(), ["on_hand"])
        announce_stock_freed(m.product_id for m in movements)
    return results


def stock_receive(
    *, source: Source, product: Product, quantity: int, reference: str, user=None
) -> ReceiptResult:
    """Receive units at a source; the same reference received again adds nothing."""
    line = ReceiptLine(source=source, product=product, quantity=quantity, reference=reference.strip())
    return stock_receive_many(lines=[line], user=user)[0]


def _move(
    *, source: Source, product: Product, kind: str, change: int, reason: str, reference: str, user
) -> StockMovement:
    with transaction.atomic():
        key = (source.pk, product.pk)
        stock = stock_lock(product_ids=[product.pk], create_for=[key])[key]
        if stock.on_hand + change < max(stock.allocated, 0):
            raise StockWouldGoNegative(
                product=product.sku,
                source=source.code,
                on_hand=stock.on_hand,
                allocated=stock.allocated,
                change=change,
            )
        stock.on_hand += change
        stock.save(update_fields=["on_hand"])
        movement = StockMovement.objects.create(
            source=source,
            product=product,
            kind=kind,
            quantity=change,
            reason=reason,
            reference=reference,
            user=user,
        )
        if change > 0:
            announce_stock_freed([product.pk])
    return movement


def stock_adjust(
    *, source: Source, product: Product, change: int, reason: str, user=None, reference: str = ""
) -> StockMovement:
    """A merchant's correction of on hand by ``change`` units (damage, found stock...)."""
    if not isinstance(change, int) or isinstance(change, bool) or change == 0:
        raise InvalidQuantity(
            field="change",
            value=change,
            message="An adjustment must change on hand by a non-zero whole number.",
        )
    if not reason.strip():
        raise InvalidQuantity(field="reason", value=reason, message="An adjustment needs a reason.")
    return _move(
        source=source,
        product=product,
        kind=MovementKind.ADJUSTMENT,
        change=change,
        reason=reason,
        reference=reference,
        user=user,
    )


def stock_count(
    *, source: Source, product: Product, counted: int, user=None, reason: str = "Stock count"
) -> StockMovement | None:
    """Set on hand to what was counted; the difference goes to the ledger."""
    if isinstance(counted, bool) or not isinstance(counted, int) or counted < 0:
        raise InvalidQuantity(
            field="counted", value=counted, message=f"A count must be 0 or more, got {counted!r}."
        )
    with transaction.atomic():
        key = (source.pk, product.pk)
        stock = stock_lock(product_ids=[product.pk], create_for=[key])[key]
        change = counted - stock.on_hand
        if change == 0:
            return None
        return _move(
            source=source,
            product=product,
            kind=MovementKind.COUNT,
            change=change,
            reason=reason,
            reference="",
            user=user,
        )


def stock_return(
    *, source: Source, product: Product, quantity: int, reference: str, user=None
) -> StockMovement:
    """Units a customer sent back, put on the shelf at ``source``."""
    check_quantity(quantity)
    return _move(
        source=source,
        product=product,
        kind=MovementKind.RETURN,
        change=quantity,
        reason="Customer return",
        reference=reference,
        user=user,
    )


@dataclass(frozen=True)
class FixResult:
    fixed: list
    refused: list[str]


def stock_reconcile_fix(*, drifts: list) -> FixResult:
    """Set each drifted on-hand counter to its ledger sum (the ledger is the truth).

    A pair whose ledger sum is below what is allocated cannot be set without
    breaking allocated <= on hand; it is reported, not changed.
    """
    fixed, refused = [], []
    with transaction.atomic():
        keys = {(d.source_id, d.product_id) for d in drifts}
        stocks = stock_lock(product_ids=[p for _, p in keys], create_for=keys)
        # Re-read under the lock: only what is still drifting is changed.
        current = {
            (d.source_id, d.product_id): d for d in stock_drift() if (d.source_id, d.product_id) in keys
        }
        for key, drift in sorted(current.items()):
            stock = stocks[key]
            if drift.ledger < stock.allocated or drift.ledger < 0:
                refused.append(f"{drift}: cannot fix, {stock.allocated} units are allocated")
                continue
            stock.on_hand = drift.ledger
            fixed.append(drift)
        Stock.objects.bulk_update([stocks[(d.source_id, d.product_id)] for d in fixed], ["on_hand"])
        announce_stock_freed(d.product_id for d in fixed if d.ledger > d.on_hand)
    return FixResult(fixed=fixed, refused=refused)


# -- Allocation counters: called by orders on stock rows it locked with stock_lock. --


def stock_allocate(*, takes: list[tuple[Stock, int]]) -> None:
    """Reserve units on locked stock rows; refuses to reserve more than is free."""
    changed = {}
    for stock, quantity in takes:
        if quantity < 1 or quantity > stock.free:
            raise StockWouldGoNegative(
                product=stock.product.sku,
                source=stock.source.code,
                on_hand=stock.on_hand,
                allocated=stock.allocated,
                change=-quantity,
            )
        stock.allocated += quantity
        changed[stock.pk] = stock
    if not changed:
        return
    if connection.vendor == "postgresql":
        # One statement as bulk_update, without compiling a CASE per row (checkout's hot
        # path, issue 12): the rows are locked, so the values written are those above.
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {Stock._meta.db_table} AS s SET allocated = v.allocated"  # noqa: S608 - our table name
                " FROM unnest(%s::bigint[], %s::integer[]) AS v(id, allocated) WHERE s.id = v.id",
                [list(changed), [stock.allocated for stock in changed.values()]],
            )
    else:
        Stock.objects.bulk_update(changed.values(), ["allocated"])


def stock_release(*, releases: list[tuple[Stock, int]]) -> None:
    """Give reserved units back to free stock and announce it after commit."""
    changed = {}
    for stock, quantity in releases:
        stock.allocated -= quantity
        changed[stock.pk] = stock
    Stock.objects.bulk_update(changed.values(), ["allocated"])
    announce_stock_freed(stock.product_id for stock in changed.values())


def stock_ship(*, shipped: list[tuple[Stock, int]], reference: str, user=None) -> None:
    """Units leave the source: on hand and allocated drop together, one ledger row each."""
    changed, movements = {}, []
    for stock, quantity in shipped:
        stock.on_hand -= quantity
        stock.allocated -= quantity
        changed[stock.pk] = stock
        movements.append(
            StockMovement(
                source_id=stock.source_id,
                product_id=stock.product_id,
                kind=MovementKind.SHIPMENT,
                quantity=-quantity,
                reference=reference,
                reason="Shipment",
                user=user,
            )
        )
    Stock.objects.bulk_update(changed.values(), ["on_hand", "allocated"])
    StockMovement.objects.bulk_create(movements)
