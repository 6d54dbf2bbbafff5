"""Checkout under load, over HTTP: gunicorn (2 sync workers) on PostgreSQL and Redis,
the real checkout form posted by shoppers whose carts are already in their sessions,
and the product page fetched in the same run as the yardstick of a page view.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/restock_bench \\
    CELERY_BROKER_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python bench/checkout_load.py [--mode hot|low|both] [--checkouts 600]

Per mode and contender, not timed: the app tables and sessions are wiped; sources,
products and stock are built (``hot``: every cart holds the same 2 products, one of
them running out halfway and then backordered up to its limit; ``low``: 5,000 products,
each cart 2 of them at random); one session per checkout is written with its cart (as
the cart page leaves it) and a CSRF cookie and form token; gunicorn starts, and each
worker is warmed (pages and a few checkouts of a warm-up product).

Timed, at ``--connections`` concurrent HTTP/1.0 clients (threads, one connection per
request as sync workers close them): first ``--gets`` product-page GETs (the shoppers'
sessions, products of their carts), then one checkout POST per session (the real
form: email, name, address, csrfmiddlewaretoken; a 302 to the payment page is a
placed order). Reported per phase: req/s, p50/p95 latency, and CPU per request of
the gunicorn workers (utime + stime from /proc, so the client and other sessions'
processes are not counted) and of their PostgreSQL backends.

Contenders:

* **service**: the shop's checkout as it is in this checkout of the code.
* **before** (``--before DIR``): the same view from another checkout of the code (e.g.
  ``git worktree add --detach /tmp/restock-before <commit>``), on the same database;
  the schema must be the same (no migration between the two).
* **plain ORM**: the yardstick in bench/load_urls.py: lock, take, insert, no rules.

After each run the end state is checked (exit status 1 when wrong): one order per 302,
per stock row ``allocated`` = the allocated rows' units and ``allocated <= on_hand``,
the waiting units within the backorder limit, every order holding its cart's units.
The send jobs published to the broker are counted (LLEN of the queue, then purged):
the shop publishes one per burst, not one per checkout.

Refuses a database whose name does not contain "bench" (tables are wiped). Needs a
Redis broker (web processes without one would run the send job inside the request).
"""

from __future__ import annotations

import argparse
import http.client
import os
import queue
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlencode, urlparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a file: the repository root

from bench.common import BenchError, analyze, format_table, positive, run_main, start, wipe  # noqa: E402

# Read before bench.common blanks it for this process: the web processes need a broker.
BROKER_URL = os.environ.get("CELERY_BROKER_URL", "")
CLK_TCK = os.sysconf("SC_CLK_TCK")
FORM = {"email": "shopper@example.com", "full_name": "Ada Shopper", "address": "1 Bench Way\nTestville"}
HOT_STOCK_SHARE = 0.5  # the second hot product has stock for half the checkouts, then backorders
WARM_CHECKOUTS = 6  # per worker: code paths, templates and connections warm before the clock


@dataclass
class Phase:
    name: str
    requests: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    web_cpu: float = 0.0  # seconds, gunicorn workers
    db_cpu: float = 0.0  # seconds, their PostgreSQL backends
    published: int = 0  # send jobs the phase left in the broker

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0

    def per_request_ms(self, cpu: float) -> float:
        return 1000 * cpu / self.requests if self.requests else 0.0


@dataclass
class Result:
    mode: str
    contender: str
    get: Phase
    post: Phase
    load: str

    @property
    def ratio(self) -> float:
        return self.post.rate / self.get.rate if self.get.rate else 0.0


# -- The data ------------------------------------------------------------------------


@dataclass
class Shop:
    products: list[tuple[int, str]]  # (pk, slug) of the cart products
    sessions: list[tuple[str, str, str]]  # (session key, csrf cookie, csrf form token)
    warm: list[tuple[str, str, str]]
    hot_limited: int | None = None  # pk of the hot product that runs out, then backorders
    backorder_limit: int = 0


def build(*, mode: str, checkouts: int, products: int, workers: int) -> Shop:
    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session
    from django.middleware.csrf import get_token
    from django.test import RequestFactory

    from bench.common import setup_quiet
    from catalog.models import Backorders, GlobalSettings, Product
    from inventory.models import Source, Stock

    wipe()
    Session.objects.all().delete()
    rng = random.Random(12)  # noqa: S311 - the same carts every run
    with setup_quiet():
        GlobalSettings.get_solo()
        main = Source.objects.create(code="main", name="Main warehouse", priority=1)
        overflow = Source.objects.create(code="overflow", name="Overflow", priority=2)
        count = 2 if mode == "hot" else products
        made = Product.objects.bulk_create(
            Product(
                sku=f"LOAD-{i:05d}",
                name=f"Load widget {i}",
                slug=f"load-widget-{i}",
                price=Decimal("9.90") + i % 50,
                backorders=Backorders.ALLOW,
                use_global_backorders=False,
            )
            for i in range(count + 1)
        )
        warm, cart_products = made[0], made[1:]
        carts = (
            [{cart_products[0].pk: 1, cart_products[1].pk: 1} for _ in range(checkouts)]
            if mode == "hot"
            else [{p.pk: 1 for p in rng.sample(cart_products, 2)} for _ in range(checkouts)]
        )
        demand: dict[int, int] = {}
        for cart in carts:
            for pk, qty in cart.items():
                demand[pk] = demand.get(pk, 0) + qty
        limited = cart_products[1].pk if mode == "hot" else None
        stocks = [Stock(source=main, product=warm, on_hand=10_000)]
        limit = 0
        for product in cart_products:
            need = demand.get(product.pk, 0)
            if product.pk == limited:
                # Half from stock (split over both sources), the rest backordered up to a limit
                # that the last checkout reaches exactly.
                in_stock = int(need * HOT_STOCK_SHARE)
                stocks += [
                    Stock(source=main, product=product, on_hand=in_stock // 2),
                    Stock(source=overflow, product=product, on_hand=in_stock - in_stock // 2),
                ]
                limit = need - in_stock
            else:
                stocks += [
                    Stock(source=main, product=product, on_hand=need // 2 + 1),
                    Stock(source=overflow, product=product, on_hand=need + 5),
                ]
        Stock.objects.bulk_create(stocks)
        if limited:
            Product.objects.filter(pk=limited).update(backorder_limit=limit, use_global_backorder_limit=False)

    factory = RequestFactory()

    def session_for(cart: dict[int, int]) -> tuple[str, str, str]:
        store = SessionStore()
        # As the cart page leaves it: the lines and the outcome the shopper saw of each.
        store["cart"] = {str(pk): qty for pk, qty in cart.items()}
        store["cart_seen"] = {str(pk): "in_stock" for pk in cart}
        store.create()
        request = factory.get("/checkout/")
        token = get_token(request)  # the masked form token; the cookie holds the secret
        return store.session_key, request.META["CSRF_COOKIE"], token

    sessions = [session_for(cart) for cart in carts]
    warm_sessions = [session_for({warm.pk: 1}) for _ in range(WARM_CHECKOUTS * workers)]
    analyze(("catalog_product", "inventory_stock", "orders_order", "orders_orderrow", "django_session"))
    shown = cart_products if mode == "hot" else rng.sample(cart_products, min(200, len(cart_products)))
    return Shop(
        products=[(p.pk, p.slug) for p in shown],
        sessions=sessions,
        warm=warm_sessions,
        hot_limited=limited,
        backorder_limit=limit,
    )


def check_end_state(shop: Shop, *, placed: int) -> list[str]:
    """Zero oversell: counters against rows, nothing above a limit, every order whole."""
    from django.db.models import Count, F, Q, Sum

    from inventory.models import Stock
    from orders.models import Order, OrderRow, RowStatus

    problems = []
    orders = Order.objects.exclude(rows__product__sku="LOAD-00000").distinct().count()
    if orders != placed:
        problems.append(f"{orders} orders in the database, {placed} checkouts answered 302")
    over = Stock.objects.filter(allocated__gt=F("on_hand")).count()
    if over:
        problems.append(f"{over} stock rows with allocated > on hand")
    allocated = {
        (r["source_id"], r["product_id"]): r["units"]
        for r in OrderRow.objects.filter(status=RowStatus.ALLOCATED)
        .values("source_id", "product_id")
        .annotate(units=Sum("quantity"))
    }
    drift = [s for s in Stock.objects.all() if s.allocated != allocated.get((s.source_id, s.product_id), 0)]
    if drift:
        problems.append(f"{len(drift)} stock rows whose allocated counter differs from their rows")
    if shop.hot_limited:
        waiting = (
            OrderRow.objects.filter(product_id=shop.hot_limited, status=RowStatus.BACKORDERED).aggregate(
                units=Sum("quantity")
            )["units"]
            or 0
        )
        if waiting > shop.backorder_limit:
            problems.append(f"{waiting} units backordered, above the limit of {shop.backorder_limit}")
    short = (
        Order.objects.annotate(units=Sum("rows__quantity"), lines=Count("rows__line_no", distinct=True))
        .filter(~Q(units=2) | ~Q(lines=2))
        .exclude(rows__product__sku="LOAD-00000")
        .count()
    )
    if short:
        problems.append(f"{short} orders whose rows are not their cart's 2 lines of 1 unit")
    return problems


# -- The web processes ---------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """gunicorn with N sync workers, in its own process group."""

    def __init__(self, *, code: Path, settings_module: str, workers: int, env: dict[str, str]) -> None:
        self.port = free_port()
        gunicorn = Path(sys.executable).with_name("gunicorn")
        self.proc = subprocess.Popen(
            [
                str(gunicorn),
                "config.wsgi",
                "--workers",
                str(workers),
                "--worker-class",
                "sync",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--log-level",
                "warning",
                "--timeout",
                "120",
            ],
            cwd=code,
            env={**os.environ, **env, "DJANGO_SETTINGS_MODULE": settings_module, "PYTHONPATH": str(code)},
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.workers = workers
        deadline = time.monotonic() + 60
        while len(self.worker_pids()) < workers or not self._answers():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise BenchError("gunicorn did not start (its output is above)")
            time.sleep(0.2)

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), 0.5):
                return True
        except OSError:
            return False

    def worker_pids(self) -> list[int]:
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        try:
            return [int(p) for p in children.read_text().split()]
        except OSError:
            return []

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
    return total / CLK_TCK


def backend_pids() -> list[int]:
    """The PostgreSQL backends of the web workers (persistent connections to this database)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return [row[0] for row in cursor.fetchall()]


# -- The client ----------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    cookies: str = ""
    body: bytes = b""
    expect: int = 200


def send(port: int, request: Request) -> tuple[int, float, str]:
    headers = {"Host": "127.0.0.1", "Connection": "close"}
    if request.cookies:
        headers["Cookie"] = request.cookies
    if request.body:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        conn.request(request.method, request.path, body=request.body or None, headers=headers)
        response = conn.getresponse()
        response.read()
        return response.status, time.perf_counter() - started, response.getheader("Location") or ""
    finally:
        conn.close()


def run_phase(name: str, server: Server, requests: list[Request], *, connections: int, broker) -> Phase:
    phase = Phase(name)
    todo: queue.SimpleQueue = queue.SimpleQueue()
    for request in requests:
        todo.put(request)
    lock = threading.Lock()
    errors: list[str] = []

    def client() -> None:
        while True:
            try:
                request = todo.get_nowait()
            except queue.Empty:
                return
            try:
                status, seconds, location = send(server.port, request)
            except OSError as exc:
                errors.append(f"{request.method} {request.path}: {exc}")
                continue
            with lock:
                phase.latencies.append(seconds)
                phase.statuses[status] = phase.statuses.get(status, 0) + 1
            if status != request.expect and len(errors) < 5:
                errors.append(f"{request.method} {request.path}: {status} {location}")

    workers, backends = server.worker_pids(), backend_pids()
    queued = broker.llen("celery") if broker else 0
    web0, db0 = cpu_seconds(workers), cpu_seconds(backends)
    started = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    phase.seconds = time.perf_counter() - started
    phase.web_cpu, phase.db_cpu = cpu_seconds(workers) - web0, cpu_seconds(backends) - db0
    phase.requests = len(phase.latencies)
    phase.published = (broker.llen("celery") - queued) if broker else 0
    if errors:
        raise BenchError(f"{name}: unexpected answers, e.g. " + "; ".join(errors[:5]))
    return phase


def posts(sessions, path: str) -> list[Request]:
    return [
        Request(
            "POST",
            path,
            cookies=f"sessionid={key}; csrftoken={cookie}",
            body=urlencode({**FORM, "csrfmiddlewaretoken": token}).encode(),
            expect=302,
        )
        for key, cookie, token in sessions
    ]


# -- One run -------------------------------------------------------------------------

CHECKOUT_PATH = {"service": "/checkout/", "before": "/checkout/", "plain ORM": "/bench/plain-checkout/"}


def measure(*, mode: str, contender: str, args, broker, py_spy: str | None) -> Result:
    import redis  # noqa: F401 - the broker client is redis-py

    shop = build(mode=mode, checkouts=args.checkouts, products=args.products, workers=args.workers)
    code = args.before if contender == "before" else ROOT
    settings_module = "config.settings.local" if contender == "before" else "bench.load_settings"
    env = {
        "DEBUG": "False",
        "LOG_LEVEL": "WARNING",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "CELERY_BROKER_URL": BROKER_URL,
        "CACHE_URL": args.cache_url,
        "CONN_MAX_AGE": str(args.conn_max_age),
        "EMAIL_URL": "memorymail://",
    }
    server = Server(code=Path(code), settings_module=settings_module, workers=args.workers, env=env)
    spy = None
    try:
        path = CHECKOUT_PATH[contender]
        rng = random.Random(5)  # noqa: S311
        cookies = [f"sessionid={key}" for key, _, _ in shop.sessions]
        gets = [
            Request("GET", f"/products/{rng.choice(shop.products)[1]}/", cookies=rng.choice(cookies))
            for _ in range(args.gets)
        ]
        # Warm: every worker serves pages and a few checkouts before the clock starts.
        run_phase("warm-up", server, gets[: 10 * args.workers], connections=args.workers, broker=None)
        run_phase("warm-up", server, posts(shop.warm, path), connections=args.workers, broker=None)
        if broker:
            broker.delete("celery")
        if py_spy:
            spy = subprocess.Popen(
                [
                    py_spy,
                    "record",
                    "--rate",
                    "200",
                    "--nonblocking",
                    "--subprocesses",
                    "--format",
                    "raw",
                    "-o",
                    f"{args.profile_dir}/{mode}-{contender.replace(' ', '_')}.txt",
                    "--pid",
                    str(server.proc.pid),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(1)
        get = run_phase("GET", server, gets, connections=args.connections, broker=broker)
        post = run_phase(
            "POST", server, posts(shop.sessions, path), connections=args.connections, broker=broker
        )
    finally:
        if spy:
            spy.send_signal(signal.SIGINT)
            spy.wait(30)
        server.stop()
        if broker:
            broker.delete("celery")
    problems = check_end_state(shop, placed=post.statuses.get(302, 0))
    if problems:
        raise BenchError(f"{mode}/{contender}: wrong end state: " + "; ".join(problems))
    return Result(mode, contender, get, post, load=" ".join(f"{x:.2f}" for x in os.getloadavg()))


# -- Report --------------------------------------------------------------------------

HEADER = (
    "mode",
    "contender",
    "checkout/s",
    "p50 ms",
    "p95 ms",
    "web CPU ms",
    "db CPU ms",
    "GET/s",
    "GET p95",
    "GET web CPU",
    "ratio",
    "send jobs",
    "load",
)


def cells(result: Result) -> tuple[str, ...]:
    post, get = result.post, result.get
    return (
        result.mode,
        result.contender,
        f"{post.rate:.1f}",
        f"{post.pct(0.50):.0f}",
        f"{post.pct(0.95):.0f}",
        f"{post.per_request_ms(post.web_cpu):.1f}",
        f"{post.per_request_ms(post.db_cpu):.1f}",
        f"{get.rate:.1f}",
        f"{get.pct(0.95):.0f}",
        f"{get.per_request_ms(get.web_cpu):.1f}",
        f"{result.ratio:.2f}",
        f"{post.published}/{post.requests}",
        result.load,
    )


def median_result(runs: list[Result]) -> Result:
    """The run with the median checkout rate (its own figures, not a mix of runs)."""
    return sorted(runs, key=lambda r: r.post.rate)[len(runs) // 2]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", choices=["hot", "low", "both"], default="both")
    parser.add_argument("--checkouts", type=positive, default=600, help="checkouts (sessions) per run")
    parser.add_argument("--gets", type=positive, default=600, help="product-page GETs per run")
    parser.add_argument("--products", type=positive, default=5000, help="products in the low-contention mode")
    parser.add_argument("--connections", type=positive, default=8)
    parser.add_argument("--workers", type=positive, default=2, help="gunicorn sync workers")
    parser.add_argument("--repeat", type=positive, default=1, help="runs per contender, the median reported")
    parser.add_argument("--only", choices=list(CHECKOUT_PATH), action="append")
    parser.add_argument(
        "--before", type=Path, help="a checkout of the code before, run as contender 'before'"
    )
    parser.add_argument("--conn-max-age", type=int, default=600, help="CONN_MAX_AGE of the web processes")
    parser.add_argument(
        "--cache-url", default="", help="CACHE_URL of the web processes (default: the broker's)"
    )
    parser.add_argument("--profile", action="store_true", help="py-spy record the workers (speedscope files)")
    parser.add_argument("--py-spy", default=shutil.which("py-spy") or "py-spy")
    parser.add_argument("--profile-dir", default=tempfile.gettempdir())
    parser.add_argument("--strict", action="store_true", help="exit status 3 when a target is missed")
    parser.add_argument("--allow-sqlite", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not BROKER_URL.startswith("redis://"):
        raise BenchError("set CELERY_BROKER_URL=redis://...: the web processes need a broker", status=2)
    args.cache_url = args.cache_url or BROKER_URL
    contenders = [
        c for c in CHECKOUT_PATH if (c != "before" or args.before) and (not args.only or c in args.only)
    ]
    start(allow_sqlite=False)
    import redis

    broker = redis.Redis.from_url(BROKER_URL)
    parsed = urlparse(BROKER_URL)
    print(
        f"gunicorn {args.workers} sync workers, {args.connections} connections, "
        f"broker {parsed.netloc}{parsed.path}"
    )
    modes = ["hot", "low"] if args.mode == "both" else [args.mode]
    results: dict[tuple[str, str], list[Result]] = {}
    for attempt in range(1, args.repeat + 1):
        for mode in modes:
            for contender in contenders:
                result = measure(
                    mode=mode,
                    contender=contender,
                    args=args,
                    broker=broker,
                    py_spy=args.py_spy if args.profile else None,
                )
                results.setdefault((mode, contender), []).append(result)
                print(
                    f"  run {attempt}/{args.repeat} {mode:<4} {contender:<10} "
                    f"{result.post.rate:6.1f} checkout/s "
                    f"(GET {result.get.rate:6.1f}/s)  end state ok  load {result.load}",
                    flush=True,
                )
    wipe()
    print()
    print(format_table(HEADER, [cells(median_result(runs)) for runs in results.values()]))
    print(
        "\nweb/db CPU ms: CPU time of the gunicorn workers / their PostgreSQL backends per request; "
        "ratio: checkout/s ÷ GET/s of the same run; send jobs: published to the broker / checkouts"
    )
    missed = []
    for (mode, contender), runs in results.items():
        if contender != "service":
            continue
        r = median_result(runs)
        cpu, p95 = r.post.per_request_ms(r.post.web_cpu), r.post.pct(0.95)
        for label, ok in (
            (f"{mode}: web CPU per checkout {cpu:.1f} ms ≤ 12", cpu <= 12),
            (f"{mode}: checkout ÷ GET {r.ratio:.2f} ≥ 0.45", r.ratio >= 0.45),
            (f"{mode}: p95 {p95:.0f} ms ≤ 100", p95 <= 100),
        ):
            print(f"{label}: {'met' if ok else 'MISSED'}")
            if not ok:
                missed.append(label)
    return 3 if args.strict and missed else 0


if __name__ == "__main__":
    sys.exit(run_main(main))
