"""Hot-product checkout benchmark: concurrent checkouts of one product on PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/restock_bench \\
        .venv/bin/python bench/checkout_hot.py [--workers 16] [--checkouts 20] [--repeat 1]

Each contender: wipe the app tables, create one product with plenty of stock at one
source, then start ``--workers`` processes that each buy one unit of a warm-up
product (URLs, templates and queries warm, as in a long-running web process), wait
for each other, and place ``--checkouts`` orders of one unit of the hot product
through ``orders.services.checkout_place_order``. Every checkout locks the same
product and stock rows, so they queue on those locks: throughput is bounded by how
long each holds them. Printed per contender: checkouts/s over the whole run, p50/p95
latency of one checkout, the time the product lock was held (from the moment
``SELECT ... FOR NO KEY UPDATE`` on the product returned to the end of COMMIT) and
the statements run meanwhile; with --profile, where the held time went.

* **service**: the shop as it is. The transaction writes the order and a small
  "order placed" note; one more process plays the send job and renders the notes
  into outbox messages as they commit (on the same CPUs; with --deferred it starts
  after the last checkout, as a worker on another machine would not compete for
  them). "emails lag s" is how long after the last checkout its email was rendered.
* **in-lock rendering**: the code before issue 9.6, kept here as a baseline: the
  ``order_placed`` receiver renders the confirmation (and the backorder and
  low-stock alerts) inside the checkout's transaction, with the locks held.

The outbox is not sent (sending is the same for both and is measured by
bench/outbox.py); mail never leaves the process. The end state is checked: every
order placed once, stock allocated = units sold, one confirmation per order.
The run refuses a database whose name does not contain "bench" (it wipes tables).
"""

from __future__ import annotations

import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a file: the repository root

from bench.common import (  # noqa: E402
    BenchError,
    analyze,
    bench_parser,
    best,
    format_table,
    positive,
    query_shape,
    run_contenders,
    run_main,
    server_line,
    start,
    wipe,
)

# -- The baseline: the confirmation rendered inside the checkout's transaction -------


def in_lock_order_placed(sender, order, **kwargs) -> None:
    """notifications.events.notify_order_placed as it was before issue 9.6 (benchmark only):
    everything the confirmation needs is read and rendered while the locks are held."""
    from collections import defaultdict

    from django.conf import settings

    from catalog.models import Backorders
    from catalog.selectors import global_settings_get, product_policy
    from notifications.events import _orders_with_rows, _row_lines, low_stock_check
    from notifications.outbox import outbox_message, outbox_write
    from orders.links import order_url
    from orders.models import RowStatus

    order = _orders_with_rows([order.pk]).get()
    rows = list(order.rows.all())
    defaults = global_settings_get()
    policies = {r.product_id: product_policy(product=r.product, defaults=defaults) for r in rows}
    backordered = defaultdict(int)
    ordered = defaultdict(int)
    for row in rows:
        ordered[row.product] += row.quantity
        if row.status == RowStatus.BACKORDERED:
            backordered[row.product] += row.quantity
    notices = [
        {"product": p, "backordered": n, "ordered": ordered[p]}
        for p, n in backordered.items()
        if policies[p.pk].backorders == Backorders.ALLOW_NOTIFY
    ]
    context = {"order": order, "lines": _row_lines(rows), "notices": notices, "order_url": order_url(order)}
    messages = [
        outbox_message(
            kind="order_confirmation", key=order.number, to=order.email, context=context, language="en"
        )
    ]
    if notices:
        messages += [
            outbox_message(kind="backorder_placed", key=order.number, to=to, context=context, language="en")
            for to in settings.MERCHANT_EMAILS
        ]
    outbox_write(messages=messages)
    low_stock_check(product_ids={r.product_id for r in rows if r.status == RowStatus.ALLOCATED})


def _use_receiver(receiver) -> None:
    """Make ``receiver`` the only order_placed receiver in this (worker) process."""
    from orders.signals import order_placed

    with order_placed.lock:
        order_placed.receivers = []
        order_placed.sender_receivers_cache.clear()
    order_placed.connect(receiver, dispatch_uid="bench_order_placed")


def setup_service() -> None:
    """Nothing to change: the receivers the shop connects at start-up."""


def setup_in_lock() -> None:
    _use_receiver(in_lock_order_placed)


def render_notes() -> int:
    """What the send job does first after commit: render the notes left by checkouts. An
    order's confirmation waits for its payment, so each order is paid here first, as its
    customer would (billing's payment, authorized through the dummy provider)."""
    from payments import PaymentStatus

    from billing.selectors import order_is_paid
    from billing.services import payment_start
    from notifications.events import order_notes_render
    from notifications.models import OrderPlacedNote

    for order_id in OrderPlacedNote.objects.values_list("order_id", flat=True):
        if not order_is_paid(order_id=order_id):
            payment_start(order_id=order_id).change_status(PaymentStatus.PREAUTH)
    return order_notes_render()


@dataclass(frozen=True)
class Contender:
    setup: Callable[[], None]
    send_worker: bool  # a worker process renders the emails after commit, as the send job does


CONTENDERS: dict[str, Contender] = {
    "service": Contender(setup_service, send_worker=True),
    "in-lock rendering": Contender(setup_in_lock, send_worker=False),
}


# -- The data: not measured ---------------------------------------------------------


def build_hot_product(*, units: int, warm_up: int) -> tuple[int, int]:
    """The hot product, and a second one each worker buys once before the clock starts
    (a long-running web process has its URLs, templates and queries warm)."""
    from catalog.models import Backorders, GlobalSettings, Product
    from inventory.models import Source, Stock

    GlobalSettings.get_solo()
    source = Source.objects.create(code="bench-main", name="Bench warehouse", priority=1)
    product = Product.objects.create(
        sku="HOT-1",
        name="Hot widget",
        slug="hot-widget",
        price=Decimal("19.90"),
        backorders=Backorders.ALLOW_NOTIFY,
        use_global_backorders=False,
    )
    warm = Product.objects.create(sku="WARM-1", name="Warm-up widget", slug="warm-up", price=Decimal("1.00"))
    # Counters set directly: the receipt path (ledger, signals) is not what is measured.
    Stock.objects.create(source=source, product=product, on_hand=units)
    Stock.objects.create(source=source, product=warm, on_hand=warm_up)
    analyze()
    return product.pk, warm.pk


def check_end_state(*, product_id: int, orders: int) -> None:
    from inventory.models import Stock
    from notifications.models import OutboxMessage
    from orders.models import Order, OrderRow

    problems = []
    placed = Order.objects.filter(rows__product_id=product_id).distinct().count()
    if placed != orders:
        problems.append(f"{placed} orders of the hot product, expected {orders}")
    rows = OrderRow.objects.filter(product_id=product_id, status="allocated").count()
    if rows != orders:
        problems.append(f"{rows} allocated rows, expected {orders}")
    stock = Stock.objects.get(product_id=product_id)
    if stock.allocated != orders:
        problems.append(f"stock allocated {stock.allocated}, expected {orders}")
    confirmations = set(OutboxMessage.objects.filter(kind="order_confirmation").values_list("key", flat=True))
    expected = {
        f"order_confirmation:{number}:{email.lower()}"
        for number, email in Order.objects.values_list("number", "email")
    }
    if confirmations != expected:
        problems.append(
            f"{len(expected - confirmations)} orders without a confirmation, "
            f"{len(confirmations - expected)} stray confirmations"
        )
    if problems:
        raise BenchError("Wrong end state:\n  " + "\n  ".join(problems))


# -- One worker process ------------------------------------------------------------


@dataclass
class LockClock:
    """Times the product lock per checkout through the statements the checkout issues.

    The lock is taken by ``SELECT ... FROM catalog_product ... FOR NO KEY UPDATE``
    and released at commit; an on_commit callback registered as the lock returns
    runs first after the commit."""

    waits: list[float] = field(default_factory=list)
    held: list[float] = field(default_factory=list)
    locked_queries: list[int] = field(default_factory=list)
    commits: list[float] = field(default_factory=list)
    shapes: dict[str, list] = field(default_factory=lambda: defaultdict(lambda: [0, 0.0]))
    _since: float | None = None
    _queries: int = 0

    def __call__(self, execute, sql, params, many, context):
        from django.db import transaction

        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            now = time.perf_counter()
            if self._since is None and "FOR NO KEY UPDATE" in sql and '"catalog_product"' in sql:
                self.waits.append(now - started)
                self._since, self._queries = now, 0
                transaction.on_commit(self._released)
            elif self._since is not None:
                self._queries += 1
                entry = self.shapes[query_shape(sql)]
                entry[0] += 1
                entry[1] += now - started

    def timed_commit(self, commit):
        def wrapped():
            started = time.perf_counter()
            try:
                return commit()
            finally:
                if self._since is not None:
                    self.commits.append(time.perf_counter() - started)

        return wrapped

    def _released(self) -> None:
        self.held.append(time.perf_counter() - self._since)
        self.locked_queries.append(self._queries)
        self._since = None


def worker(name: str, products: tuple[int, int], index: int, checkouts: int, barrier, results) -> None:
    from django.db import connection

    import notifications.outbox
    from orders.services import CartLine, Customer, checkout_place_order

    contender = CONTENDERS[name]
    contender.setup()
    # The send job is not run (bench/outbox.py measures it); the outbox rows stay pending.
    notifications.outbox._announce = lambda: None
    product_id, warm_id = products
    customer = Customer(email=f"warm{index}@bench.invalid", full_name="Warm", address="1 Bench St")
    checkout_place_order(lines=[CartLine(warm_id, 1)], customer=customer)
    clock = LockClock()
    connection._commit = clock.timed_commit(connection._commit)
    latencies = []
    barrier.wait()
    started = time.time()
    with connection.execute_wrapper(clock):
        for n in range(checkouts):
            begin = time.perf_counter()
            checkout_place_order(
                lines=[CartLine(product_id, 1)],
                customer=Customer(
                    email=f"c{index}-{n}@bench.invalid",
                    full_name=f"Customer {index}-{n}",
                    address="1 Bench St",
                ),
            )
            latencies.append(time.perf_counter() - begin)
    results.put(
        {
            "started": started,
            "ended": time.time(),
            "latencies": latencies,
            "waits": clock.waits,
            "held": clock.held,
            "locked_queries": clock.locked_queries,
            "commits": clock.commits,
            "shapes": dict(clock.shapes),
        }
    )
    connection.close()


def send_worker(stop, results, deferred: bool) -> None:
    """One worker rendering the notes as they come (the send job's first step), until
    told to stop and nothing is left; reports when it rendered the last one."""
    from django.db import connection

    import notifications.outbox

    notifications.outbox._announce = lambda: None
    render_notes()  # warm
    if deferred:
        stop.wait()
    rendered, last = 0, time.time()
    while True:
        done = render_notes()
        if done:
            rendered, last = rendered + done, time.time()
        elif stop.is_set():
            break
        else:
            time.sleep(0.02)
    results.put({"rendered": rendered, "last": last})
    connection.close()


# -- Measuring ---------------------------------------------------------------------


@dataclass
class Run:
    contender: str
    checkouts: int
    seconds: float
    latencies: list[float]
    waits: list[float]
    held: list[float]
    locked_queries: list[int]
    commits: list[float]
    shapes: dict[str, list]
    render_lag: float = 0.0  # last email rendered this long after the last checkout

    @property
    def per_second(self) -> float:
        return self.checkouts / self.seconds

    def progress(self) -> str:
        return f"{self.per_second:6.1f} checkouts/s  p95 {1000 * percentile(self.latencies, 0.95):5.0f} ms"


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def measure(name: str, *, workers: int, checkouts: int, deferred: bool = False) -> Run:
    import multiprocessing

    from django.db import connections

    total = workers * checkouts
    wipe()
    products = build_hot_product(units=total + 1000, warm_up=workers)
    connections.close_all()  # each forked worker opens its own connection
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(workers)
    results = context.Queue()
    processes = [
        context.Process(target=worker, args=(name, products, i, checkouts, barrier, results))
        for i in range(workers)
    ]
    stop, rendered = context.Event(), context.Queue()
    sender = context.Process(target=send_worker, args=(stop, rendered, deferred))
    if CONTENDERS[name].send_worker:
        sender.start()
    for process in processes:
        process.start()
    collected = [results.get(timeout=600) for _ in processes]
    stop.set()
    drained = rendered.get(timeout=600) if CONTENDERS[name].send_worker else None
    for process in [*processes, *([sender] if drained else [])]:
        process.join()
        if process.exitcode:
            raise BenchError(f"a worker of {name} exited with status {process.exitcode}")
    check_end_state(product_id=products[0], orders=total)
    shapes: dict[str, list] = defaultdict(lambda: [0, 0.0])
    for result in collected:
        for shape, (count, seconds) in result["shapes"].items():
            shapes[shape][0] += count
            shapes[shape][1] += seconds
    ended = max(r["ended"] for r in collected)
    return Run(
        contender=name,
        checkouts=total,
        seconds=ended - min(r["started"] for r in collected),
        render_lag=max(0.0, drained["last"] - ended) if drained else 0.0,
        latencies=[x for r in collected for x in r["latencies"]],
        waits=[x for r in collected for x in r["waits"]],
        held=[x for r in collected for x in r["held"]],
        locked_queries=[x for r in collected for x in r["locked_queries"]],
        commits=[x for r in collected for x in r["commits"]],
        shapes=dict(shapes),
    )


# -- Reporting ---------------------------------------------------------------------


def table(results: dict[str, list[Run]]) -> str:
    baseline = best(results["in-lock rendering"]).per_second if "in-lock rendering" in results else None
    header = (
        "contender",
        "checkouts",
        "seconds",
        "checkouts/s",
        "p50 ms",
        "p95 ms",
        "lock held ms",
        "queries locked",
        "emails lag s",
        "vs baseline",
    )
    lines = []
    for name, runs in results.items():
        run = best(runs)
        lines.append(
            (
                name,
                f"{run.checkouts:,}",
                f"{run.seconds:.2f}",
                f"{run.per_second:.1f}",
                f"{1000 * percentile(run.latencies, 0.5):.0f}",
                f"{1000 * percentile(run.latencies, 0.95):.0f}",
                f"{1000 * statistics.mean(run.held):.1f}",
                f"{statistics.mean(run.locked_queries):.1f}",
                f"{run.render_lag:.2f}",
                f"{run.per_second / baseline:.2f}×" if baseline else "-",
            )
        )
    return format_table(header, lines)


def profile(run: Run, *, top: int = 12) -> str:
    per = 1000 / run.checkouts
    held, in_db, commit = sum(run.held), sum(s for _, s in run.shapes.values()), sum(run.commits)
    lines = [
        f"{run.contender}: lock held {per * held:.1f} ms per checkout = {per * in_db:.1f} ms in "
        f"{statistics.mean(run.locked_queries):.0f} statements + {per * commit:.1f} ms COMMIT + "
        f"{per * (held - in_db - commit):.1f} ms Python; "
        f"lock wait p50 {1000 * percentile(run.waits, 0.5):.0f} ms",
    ]
    for shape, (count, seconds) in sorted(run.shapes.items(), key=lambda kv: kv[1][1], reverse=True)[:top]:
        lines.append(f"  {per * seconds:7.2f} ms  {count / run.checkouts:5.1f} × {shape}")
    return "\n".join(lines)


# -- Command line ------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = bench_parser(
        "Hot-product checkout benchmark: concurrent checkouts of one product.", CONTENDERS, cprofile=False
    )
    parser.add_argument("--workers", type=positive, default=16, help="concurrent processes (default 16)")
    parser.add_argument("--checkouts", type=positive, default=20, help="checkouts per process (default 20)")
    parser.add_argument("--deferred", action="store_true", help="the send worker starts after the checkouts")
    args = parser.parse_args(argv)
    start(allow_sqlite=args.allow_sqlite)
    print(server_line(f"{args.workers} processes × {args.checkouts} checkouts of one product"))
    results = run_contenders(
        CONTENDERS,
        only=args.only,
        repeat=args.repeat,
        measure=lambda name: measure(
            name, workers=args.workers, checkouts=args.checkouts, deferred=args.deferred
        ),
    )
    print()
    print(table(results))
    if args.profile:  # the statements run while the lock is held
        print()
        for runs in results.values():
            print(profile(best(runs)))
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
