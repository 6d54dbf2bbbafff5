"""manage.py seed_demo: every promised availability state, paid demo orders, the admin login,
idempotent reruns."""

import datetime as dt
from decimal import Decimal
from io import StringIO

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db.models import Sum
from django.urls import reverse
from django.utils import timezone

from billing.models import EntryKind, EntryState, LedgerEntry, Payment, Settlement
from billing.selectors import RowPayment, ledger_reconcile, order_is_paid, rows_payment_state
from catalog.availability import Badge, Outcome
from catalog.models import Backorders, GlobalSettings, Product
from catalog.selectors import GLOBAL, PRODUCT, product_policy
from inventory.models import MovementKind, Source, Stock, StockMovement
from inventory.selectors import stock_drift
from orders.models import Order, OrderRow, RowStatus
from orders.selectors import availability_for

pytestmark = pytest.mark.django_db


def seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def state(sku: str):
    return availability_for(product=Product.objects.get(sku=sku))


def on_hand(sku: str) -> dict[str, int]:
    return dict(Stock.objects.filter(product__sku=sku).values_list("source__code", "on_hand"))


@pytest.fixture
def seeded() -> str:
    return seed()


def test_sources_by_priority_and_global_settings(seeded):
    assert list(Source.objects.values_list("code", "priority", "is_active")) == [
        ("main", 1, True),
        ("overflow", 2, True),
        ("supplier", 9, True),
    ]
    defaults = GlobalSettings.get_solo()
    assert defaults.backorders == Backorders.NO
    assert defaults.low_stock_threshold == 3


def test_about_twenty_real_looking_products(seeded):
    products = list(Product.objects.all())
    assert len(products) == 21  # the 21 of seed_demo.PRODUCTS, once each
    for product in products:
        assert product.name and not product.name.startswith("Product ")
        assert product.slug and product.description
        assert product.price > 0


def test_in_stock_plenty_split_across_two_sources(seeded):
    a = state("STRAP-CANVAS")
    assert a.badge() == (Badge.IN_STOCK, "In stock")
    assert on_hand("STRAP-CANVAS") == {"main": 40, "overflow": 25}
    decision = a.decide(50)  # more than one source holds
    assert decision.outcome == Outcome.IN_STOCK
    assert (decision.free, decision.from_stock) == (64, 50)  # a demo order holds one


def test_drop_ship_source_holds_stock(seeded):
    assert on_hand("DESK-OAK-140") == {"supplier": 25}
    assert state("DESK-OAK-140").badge()[0] == Badge.IN_STOCK


@pytest.mark.parametrize(("sku", "left"), [("TEA-SENCHA-100", 2), ("CANDLE-CEDAR", 3)])
def test_low_stock_only_n_left(seeded, sku, left):
    a = state(sku)
    assert a.badge() == (Badge.LOW_STOCK, f"Only {left} left")
    assert a.decide(left).outcome == Outcome.IN_STOCK
    refused = a.decide(left + 1)
    assert refused.outcome == Outcome.REFUSED
    assert f"Only {left}" in refused.reason


def test_low_stock_counts_both_sources(seeded):
    assert on_hand("CANDLE-CEDAR") == {"main": 1, "overflow": 2}


def test_backorder_allowed_without_limit(seeded):
    a = state("KETTLE-GOOSENECK")
    assert a.policy.backorders == Backorders.ALLOW
    assert a.policy.origin("backorders") == PRODUCT
    assert a.badge()[0] == Badge.BACKORDER
    assert a.badge()[1].startswith("Available on backorder — ships by ")
    decision = a.decide(500)
    assert decision.outcome == Outcome.BACKORDER
    assert decision.backordered == 500
    assert decision.headroom is None
    assert decision.notify_customer is False


def test_backorder_partly_in_stock(seeded):
    a = state("GRINDER-HAND")
    assert a.badge() == (Badge.LOW_STOCK, "Only 2 left")
    decision = a.decide(5)
    assert decision.outcome == Outcome.PARTIAL
    assert (decision.from_stock, decision.backordered) == (2, 3)


def test_backorder_notify_with_limit_and_per_order_cap(seeded):
    a = state("HEADPHONES-OPEN")
    assert a.policy.backorders == Backorders.ALLOW_NOTIFY
    assert (a.policy.backorder_limit, a.policy.max_backorder_per_order) == (10, 3)
    assert a.badge()[0] == Badge.BACKORDER
    assert a.badge()[1].startswith("Available on backorder — ships by ")
    ok = a.decide(3)
    assert ok.outcome == Outcome.BACKORDER
    assert ok.notify_customer is True
    assert ok.headroom == 7  # a demo order waits for 3 of the 10
    refused = a.decide(4)
    assert refused.outcome == Outcome.REFUSED
    assert "at most 3 per order" in refused.reason


def test_backorder_with_other_overrides(seeded):
    policy = state("GAME-TIDEWATER").policy
    assert (policy.lead_time_days, policy.partial_allocation) == (30, "wait")
    assert policy.origin("lead_time_days") == PRODUCT
    assert policy.origin("low_stock_threshold") == GLOBAL


def test_backorder_with_expected_restock_date_and_custom_wording(seeded):
    product = Product.objects.get(sku="BIKE-LIGHT-SET")
    assert product.expected_restock_date == timezone.localdate() + dt.timedelta(days=21)
    assert product.backorder_label == "Backorder now"
    assert product.backorder_note.format(days=21) == "Backorder now — ships in ~21 days"
    a = availability_for(product=product)
    assert a.badge()[0] == Badge.BACKORDER
    assert a.decide(2).outcome == Outcome.BACKORDER


def test_preorder_with_future_release_limit_and_wording(seeded):
    product = Product.objects.get(sku="LP-NIGHTFALL")
    assert product.release_date > timezone.localdate()
    assert product.preorder_limit == 50
    assert product.preorder_label and product.preorder_note
    a = availability_for(product=product)
    assert a.badge() == (Badge.PREORDER, f"Pre-order — releases {product.release_date:%-d %b %Y}")
    assert a.decide(50).outcome == Outcome.PREORDER
    assert a.decide(51).outcome == Outcome.REFUSED


def test_preorder_without_limit_holds_stock_until_release(seeded):
    a = state("BOOK-FORAGER")
    assert on_hand("BOOK-FORAGER") == {"main": 40}
    assert a.badge()[0] == Badge.PREORDER
    decision = a.decide(3)
    assert (decision.outcome, decision.preordered, decision.from_stock) == (Outcome.PREORDER, 3, 0)


def test_preorder_past_release_is_a_normal_product(seeded):
    product = Product.objects.get(sku="KEYBOARD-TKL75")
    assert product.preorder_enabled
    assert product.release_date < timezone.localdate()
    a = availability_for(product=product)
    assert a.badge() == (Badge.IN_STOCK, "In stock")
    assert a.decide(2).outcome == Outcome.IN_STOCK


def test_safety_stock_held_back(seeded):
    a = state("LENS-35MM")
    assert a.policy.safety_stock == 4
    assert a.figures.free == 10
    assert a.stock_salable == 6
    assert a.badge()[0] == Badge.IN_STOCK
    assert a.decide(7).outcome == Outcome.REFUSED


def test_not_sellable_all_stock_held_as_safety_stock(seeded):
    a = state("SOCKS-HIKE-3")
    assert a.figures.free == 3
    assert a.badge() == (Badge.OUT_OF_STOCK, "Out of stock")
    assert a.decide(1).outcome == Outcome.REFUSED


def test_not_sellable_out_of_stock_with_backorders_off(seeded):
    product = Product.objects.get(sku="POSTER-ALPS")
    assert product_policy(product=product).origin("backorders") == GLOBAL
    a = availability_for(product=product)
    assert a.badge() == (Badge.OUT_OF_STOCK, "Out of stock")
    assert a.decide(1).outcome == Outcome.REFUSED


def test_not_sellable_inactive(seeded):
    a = state("SCARF-MERINO")
    assert a.badge()[0] == Badge.UNAVAILABLE
    assert a.decide(1).outcome == Outcome.REFUSED


def test_every_badge_is_shown(seeded):
    shown = {availability_for(product=p).badge()[0] for p in Product.objects.all()}
    assert shown == set(Badge)
    assert state("TENT-2P-ULTRA").badge() == (Badge.BACKORDERS_EXHAUSTED, "No longer taking backorders")


def test_demo_orders_wait_in_the_queue_with_promise_dates(seeded, client):
    rows = OrderRow.objects.filter(order__user__username="customer")
    assert rows.filter(status=RowStatus.BACKORDERED).count() == 4
    assert rows.filter(status=RowStatus.ALLOCATED).count() == 1
    assert rows.filter(status=RowStatus.SHIPPED).count() == 1
    assert not rows.filter(status=RowStatus.BACKORDERED, promise_date__isnull=True).exists()
    kettle = rows.get(product__sku="KETTLE-GOOSENECK")
    assert kettle.promise_date == timezone.localdate() + dt.timedelta(days=10)  # the demo PO
    # Through the sign-in page, as the printed login is used (django-axes needs the request).
    signed_in = client.post(reverse("login"), {"username": "customer", "password": "restock-demo"})
    assert signed_in.status_code == 302
    account = client.get(reverse("storefront:account")).content.decode()
    assert all(order.number in account for order in Order.objects.filter(user__username="customer"))


def test_stock_goes_through_the_ledger(seeded):
    assert stock_drift() == []
    receipts = StockMovement.objects.filter(reference__startswith="DEMO-OPENING-")
    assert receipts.count() == StockMovement.objects.count() - 1 > 0  # and the demo shipment
    shipped = StockMovement.objects.get(kind=MovementKind.SHIPMENT)
    assert (shipped.product.sku, shipped.source.code, shipped.quantity) == ("MUG-ENAMEL-12", "main", -2)
    assert receipts.aggregate(n=Sum("quantity"))["n"] - 2 == Stock.objects.aggregate(n=Sum("on_hand"))["n"]
    assert on_hand("MUG-ENAMEL-12") == {"main": 58, "overflow": 30}


def demo_orders() -> list[Order]:
    return list(Order.objects.filter(user__username="customer").order_by("pk"))


def test_demo_orders_are_paid_and_one_shipment_is_charged(seeded, client):
    """Per shipment (the default): each order authorized for its total (all above the
    free-shipping threshold), the shipped rows captured from it, nothing awaiting payment."""
    assert settings.BILLING_SETTLEMENT == Settlement.PER_SHIPMENT
    orders = demo_orders()
    assert len(orders) == 4
    assert all(order_is_paid(order_id=o.pk) for o in orders)
    authorized = LedgerEntry.objects.filter(kind=EntryKind.AUTHORIZE, state=EntryState.SUCCEEDED)
    assert sorted(authorized.values_list("order__number", "amount")) == sorted(
        [
            (orders[0].number, Decimal("812.00")),  # 2 x 389.00 tent + 34.00 strap
            (orders[1].number, Decimal("778.00")),
            (orders[2].number, Decimal("175.00")),  # 2 x 69.00 kettle + 2 x 18.50 mugs
            (orders[3].number, Decimal("747.00")),
        ]
    )
    capture = LedgerEntry.objects.get(kind=EntryKind.CAPTURE)
    assert (capture.order_id, capture.state, capture.amount) == (
        orders[2].pk,
        EntryState.SUCCEEDED,
        Decimal("37.00"),
    )
    assert capture.provider_reference.startswith("dummy-capture-")
    assert capture.shipment.rows.get().product.sku == "MUG-ENAMEL-12"
    assert LedgerEntry.objects.count() == 5  # four authorizations and the capture
    assert Payment.objects.filter(variant="dummy").count() == 4
    books = ledger_reconcile()
    assert (books.violations, books.open) == ([], [])
    mugs, kettles = (orders[2].rows.get(product__sku=sku) for sku in ("MUG-ENAMEL-12", "KETTLE-GOOSENECK"))
    states = rows_payment_state(order_id=orders[2].pk)
    assert (states[mugs.pk], states[kettles.pk]) == (RowPayment.PAID, RowPayment.CHARGED_WHEN_SHIPPED)
    assert f"order {orders[2].number}'s rows at Main warehouse shipped and charged €37.00" in seeded
    assert "all 4 paid with the dummy provider (authorized, charged per shipment)" in seeded
    client.post(reverse("login"), {"username": "customer", "password": "restock-demo"})
    page = client.get(reverse("storefront:order_detail", args=[orders[2].number])).content.decode()
    assert "Awaiting payment" not in page
    assert "To be charged when it ships" in page


def test_demo_orders_prepaid_when_the_shop_charges_at_checkout(settings):
    settings.BILLING_SETTLEMENT = Settlement.AT_CHECKOUT
    out = seed()
    orders = demo_orders()
    captured = LedgerEntry.objects.filter(kind=EntryKind.CAPTURE, state=EntryState.SUCCEEDED)
    assert sorted(captured.values_list("order__number", "amount")) == sorted(
        zip([o.number for o in orders], map(Decimal, ["812.00", "778.00", "175.00", "747.00"]), strict=True)
    )
    assert not LedgerEntry.objects.exclude(kind=EntryKind.CAPTURE).exists()
    assert ledger_reconcile().violations == []
    assert OrderRow.objects.filter(status=RowStatus.SHIPPED).count() == 1
    assert f"(charged at checkout), none left awaiting payment; order {orders[2].number}'s rows" in out


def test_admin_can_log_in(seeded, client):
    signed_in = client.post("/admin/login/", {"username": "admin", "password": "restock-demo"})
    assert signed_in.status_code == 302
    assert client.get("/admin/").status_code == 200
    user = get_user_model().objects.get(username="admin")
    assert user.is_superuser and user.is_staff


def test_prints_shop_and_admin_urls_with_login(seeded):
    site = settings.SITE_URL.rstrip("/")
    assert f"{site}/\n" in seeded
    assert f"{site}/admin/\n" in seeded
    assert "admin" in seeded
    assert "restock-demo" in seeded


def test_default_urls_are_the_local_demo(settings):
    """What the README promises with SITE_URL at its default (tests/config/test_settings.py
    pins that default), whatever the environment running the tests sets."""
    settings.SITE_URL = "http://127.0.0.1:8000"
    out = seed()
    assert "http://127.0.0.1:8000/\n" in out
    assert "http://127.0.0.1:8000/admin/\n" in out


def test_urls_follow_site_url(settings):
    settings.SITE_URL = "https://shop.example.com/"
    out = seed()
    assert "https://shop.example.com/\n" in out
    assert "https://shop.example.com/admin/\n" in out


def snapshot() -> dict:
    return {
        "products": Product.objects.count(),
        "sources": Source.objects.count(),
        "stock_rows": Stock.objects.count(),
        "ledger_rows": StockMovement.objects.count(),
        "users": get_user_model().objects.count(),
        "global_settings": GlobalSettings.objects.count(),
        "on_hand": sorted(Stock.objects.values_list("source__code", "product__sku", "on_hand")),
        "products_state": sorted(Product.objects.values_list("sku", "slug", "price", "is_active")),
        "orders": sorted(OrderRow.objects.values_list("order__number", "product__sku", "quantity", "status")),
        "payments": sorted(Payment.objects.values_list("order__number", "status", "total")),
        "money_ledger": sorted(LedgerEntry.objects.values_list("order__number", "kind", "state", "amount")),
    }


def test_second_run_changes_nothing(seeded):
    before = snapshot()
    out = seed()
    assert snapshot() == before
    assert out.count("(0 new)") == 5  # sources, products, receipts, discount rules, categories
    assert "Alternatives chosen for 0 products." in out
    assert "Demo orders: 0 placed." in out
    assert "Global settings kept" in out


def test_rerun_leaves_merchant_changes_and_existing_admin_alone(seeded):
    GlobalSettings.objects.filter(pk=GlobalSettings.singleton_instance_id).update(low_stock_threshold=7)
    Product.objects.filter(sku="POSTER-ALPS").update(price="30.00")
    admin = get_user_model().objects.get(username="admin")
    admin.set_password("changed-by-merchant")
    admin.save()
    seed()
    assert GlobalSettings.get_solo().low_stock_threshold == 7
    assert str(Product.objects.get(sku="POSTER-ALPS").price) == "30.00"
    admin.refresh_from_db()
    assert admin.check_password("changed-by-merchant")


def test_existing_admin_before_first_run_is_kept():
    user = get_user_model().objects.create_user(username="admin", password="mine-already")
    out = seed()
    user.refresh_from_db()
    assert user.check_password("mine-already")
    assert not user.is_superuser
    assert "unless you changed it" in out


def test_suppliers_with_terms_and_a_sent_purchase_order_whose_lines_are_inbound(seeded):
    from inventory.models import InboundSupply, PurchaseOrder, PurchaseOrderStatus, SupplierProduct
    from notifications.models import OutboxMessage

    terms = SupplierProduct.objects.select_related("supplier", "product")
    kettle = sorted((t.supplier.name, t.is_preferred) for t in terms.filter(product__sku="KETTLE-GOOSENECK"))
    assert kettle == [
        ("Kestrel Kitchenware", True),
        ("Northwind Outdoor", False),
    ]  # two suppliers, one preferred
    mug = terms.get(product__sku="MUG-ENAMEL-12")
    assert (mug.min_order_qty, mug.pack_size, mug.effective_lead_time_days) == (12, 6, 7)

    order = PurchaseOrder.objects.get()
    assert (order.supplier.name, order.status) == ("Northwind Outdoor", PurchaseOrderStatus.SENT)
    line = order.lines.get()
    assert (line.product.sku, line.quantity, line.unit_cost) == ("TENT-2P-ULTRA", 4, Decimal("212.00"))
    supply = InboundSupply.objects.get(reference=line.reference)
    assert (supply.quantity, supply.expected_date) == (4, timezone.localdate() + dt.timedelta(days=12))
    assert OutboxMessage.objects.filter(kind="purchase_order", to_email=order.supplier.email).count() == 1
    assert f"Purchase order {order.number} sent to Northwind Outdoor" in seeded

    out = seed()  # a rerun adds no supplier, terms or purchase order
    assert "Suppliers: 2 (+0), product terms: 6 (+0)." in out
    assert PurchaseOrder.objects.count() == 1 and SupplierProduct.objects.count() == 6


def test_discount_rules_and_alternatives_show_in_the_shop(seeded, client):
    def page(sku: str) -> str:
        slug = Product.objects.get(sku=sku).slug
        return " ".join(
            client.get(reverse("storefront:product_detail", args=[slug])).content.decode().split()
        )

    assert "Discount rules: 2 (2 new). Alternatives chosen for 3 products." in seeded
    lp = page("LP-NIGHTFALL")  # pre-order, 32.00
    assert "€28.80</ins>" in lp and "10 % off while on pre-order" in lp
    game = page("GAME-TIDEWATER")  # backorder with notice, 55.00
    assert "€50.00</ins>" in game and "€5.00 off while on backorder" in game
    poster = page("POSTER-ALPS")  # out of stock
    assert "Want it sooner? In stock now:" in poster
    assert all(name in poster for name in ("Dot-Grid Notebook", "Planter", "Candle"))


# -- categories and pictures -----------------------------------------------------------


def test_a_two_level_category_tree_shelves_every_product(seeded):
    from catalog.models import Category

    tops = Category.objects.filter(parent=None)
    assert tops.count() >= 3
    assert all(c.children.exists() for c in tops)
    assert not Category.objects.filter(parent__parent__isnull=False).exists()  # two levels
    assert not Product.objects.filter(category=None).exists()
    assert "Categories: " in seeded


def test_a_few_products_have_pictures_drawn_with_their_renditions(seeded, media_root):
    from catalog.models import ProductImage

    images = ProductImage.objects.select_related("product")
    assert 3 <= images.values("product").distinct().count() <= 10
    for image in images:
        assert image.alt and image.renditions == [320, 640, 960]
        assert all((media_root / image.rendition_name(w)).exists() for w in image.renditions)


def test_rerun_adds_no_category_or_picture_and_keeps_the_merchants_shelving(seeded):
    from catalog.models import Category, ProductImage

    Product.objects.filter(sku="POSTER-ALPS").update(category=None)
    counts = (Category.objects.count(), ProductImage.objects.count())
    seed()
    assert (Category.objects.count(), ProductImage.objects.count()) == counts
    assert Product.objects.get(sku="POSTER-ALPS").category is None
