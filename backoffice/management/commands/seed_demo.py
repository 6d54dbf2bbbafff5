"""Demo data: sources, global settings, a category tree, ~20 products in every availability
state (a few with pictures drawn here), an admin.

Idempotent, so scripts/demo.sh runs it on every start: what exists is left as the
merchant left it (products and sources by SKU / code, the admin by username) and
opening stock is received through inventory.services with fixed references, so a
rerun adds no units. The demo orders are placed, paid and one shipped only when the
shop has no orders yet; they are paid through billing's services with the dummy provider
(as simulate_shop pays), so the demo shows paid orders, not ones that expire unpaid.
"""

import contextlib
import datetime as dt
import io
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify
from payments import FraudStatus, PaymentStatus, RedirectNeeded
from PIL import Image, ImageDraw

from billing.models import EntryKind, EntryState, LedgerEntry, Settlement
from billing.money import money_format
from billing.services import entry_settle, payment_start
from catalog.images import product_image_add
from catalog.models import (
    POLICY_FIELD_NAMES,
    Backorders,
    Category,
    DiscountRule,
    GlobalSettings,
    PartialAllocation,
    Product,
)
from inventory.models import PurchaseOrder, Source, Supplier, SupplierProduct
from inventory.services import (
    DraftLine,
    ReceiptLine,
    inbound_create,
    purchase_order_create_draft,
    purchase_order_send,
    stock_receive_many,
)
from orders.models import Order
from orders.services import CartLine, Customer, checkout_place_order, shipment_create

ADMIN_USERNAME = "admin"
ADMIN_PASSWORD = "restock-demo"  # noqa: S105 - a demo login, printed on purpose
CUSTOMER_USERNAME = "customer"
CUSTOMER_PASSWORD = "restock-demo"  # noqa: S105 - a demo login, printed on purpose

# Placed once, through checkout, when the shop has no orders yet: (sku, quantity) per order.
DEMO_ORDERS = [
    [("TENT-2P-ULTRA", 2), ("STRAP-CANVAS", 1)],
    [("TENT-2P-ULTRA", 2)],
    [("KETTLE-GOOSENECK", 2), ("MUG-ENAMEL-12", 2)],
    [("HEADPHONES-OPEN", 3)],
]
# Every demo order is paid (an unpaid one would expire BILLING_PAYMENT_WINDOW_MINUTES after
# seeding and give its backorder headroom back, changing the demo); the one shipped at
# once is this order's (index into DEMO_ORDERS) allocated rows at the main warehouse.
DEMO_SHIPPED_ORDER = 2
# Discount rules on units that wait (by name; a rerun keeps the merchant's edits). None
# touches the demo orders (no pre-orders there; the backordered tent and kettle are silent).
DEMO_DISCOUNTS = [
    {"name": "10 % off every pre-order", "kind": "percent", "value": "10", "applies_to": "preorder"},
    {
        "name": "5.00 off Tidewater while on backorder",
        "kind": "amount",
        "value": "5.00",
        "applies_to": "backorder",
        "scope": "products",
        "products": ["GAME-TIDEWATER"],
    },
]
# The merchant's alternatives: offered where these cannot ship now, those in stock.
DEMO_ALTERNATIVES = {
    "POSTER-ALPS": ["NOTEBOOK-A5-DOT", "PLANTER-15", "CANDLE-CEDAR"],
    "KETTLE-GOOSENECK": ["MUG-ENAMEL-12", "TEA-SENCHA-100", "GRINDER-HAND"],
    "TENT-2P-ULTRA": ["STRAP-CANVAS", "SOCKS-HIKE-3"],
}
# Expected supply for a backordered product, so its promise dates show.
DEMO_INBOUND = {
    "sku": "KETTLE-GOOSENECK",
    "source": "main",
    "quantity": 5,
    "in_days": 10,
    "reference": "DEMO-PO-1",
}

# Suppliers and their terms per product (one preferred supplier per product; the kettle has two).
DEMO_SUPPLIERS = [
    {
        "name": "Northwind Outdoor",
        "email": "orders@northwind-outdoor.invalid",
        "lead_time_days": 12,
        "terms": [
            # sku, supplier SKU, cost, lead time (None: the supplier's), minimum, pack, preferred
            ("TENT-2P-ULTRA", "NW-T2U", "212.00", None, 2, 1, True),
            ("SOCKS-HIKE-3", "NW-SH3", "14.50", None, 10, 5, True),
            ("HEADPHONES-OPEN", "NW-HP-O", "131.00", 20, 1, 1, True),
            ("KETTLE-GOOSENECK", "NW-KG", "38.00", 18, 4, 2, False),
        ],
    },
    {
        "name": "Kestrel Kitchenware",
        "email": "sales@kestrel-kitchen.invalid",
        "lead_time_days": 7,
        "terms": [
            ("KETTLE-GOOSENECK", "KK-1101", "34.00", None, 4, 2, True),
            ("MUG-ENAMEL-12", "KK-0412", "7.40", None, 12, 6, True),
        ],
    },
]
# Sent when the shop has no purchase order yet: its lines are inbound at once (dates from the terms).
DEMO_PURCHASE_ORDER = {"supplier": "Northwind Outdoor", "source": "main", "lines": [("TENT-2P-ULTRA", 4)]}

SOURCES = [
    {"code": "main", "name": "Main warehouse", "priority": 1},
    {"code": "overflow", "name": "Overflow warehouse", "priority": 2},
    {"code": "supplier", "name": "Supplier drop-ship", "priority": 9},
]

GLOBAL_SETTINGS = {"backorders": Backorders.NO, "low_stock_threshold": 3}

# The category tree (two levels) and the products on each shelf, by SKU. Filled in when the
# tree is first created; later the merchant's changes are kept.
CATEGORIES = [
    ("Kitchen", [
        ("Coffee & tea", ["KETTLE-GOOSENECK", "GRINDER-HAND", "TEA-SENCHA-100", "MUG-ENAMEL-12"]),
        ("Cookware", ["KNIFE-PARING"]),
    ]),
    ("Outdoors", [
        ("Camping", ["TENT-2P-ULTRA", "SOCKS-HIKE-3", "BOOK-FORAGER", "SCARF-MERINO"]),
        ("Cycling", ["BIKE-LIGHT-SET"]),
    ]),
    ("Home & office", [
        ("Desk", ["DESK-OAK-140", "NOTEBOOK-A5-DOT", "KEYBOARD-TKL75"]),
        ("Decor", ["PLANTER-15", "CANDLE-CEDAR", "POSTER-ALPS"]),
        ("Games", ["GAME-TIDEWATER"]),
    ]),
    ("Music & photo", [
        ("Audio", ["HEADPHONES-OPEN", "LP-NIGHTFALL"]),
        ("Photo", ["LENS-35MM", "STRAP-CANVAS"]),
    ]),
]  # fmt: skip
# Pictures drawn for a few products (Pillow; no files shipped): SKU -> (colour, alt text) per picture.
DEMO_PICTURES = {
    "KETTLE-GOOSENECK": [
        ("#3b5b7a", "A matte blue gooseneck kettle on a wooden counter"),
        ("#7a8da0", "The kettle's thermometer in its lid, seen from above"),
    ],
    "TENT-2P-ULTRA": [("#4f7a3b", "A green two-person tent pitched on a meadow")],
    "MUG-ENAMEL-12": [("#c24d3a", "A red enamel mug with a white rim")],
    "LENS-35MM": [("#2e2e33", "A black 35 mm lens, front element facing the camera")],
    "PLANTER-15": [("#d8cbb5", "A speckled cream ceramic planter with a small fern")],
}

# "policy" overrides the global setting (its "use global" flag is turned off);
# "stock" is opening stock per source code; *_in_days are relative to today.
PRODUCTS: list[dict] = [
    # In stock, plenty, split across two sources.
    {
        "sku": "STRAP-CANVAS",
        "name": "Waxed Canvas Camera Strap",
        "price": "34.00",
        "description": "Hand-waxed cotton canvas with vegetable-tanned leather ends. Fits most cameras.",
        "stock": {"main": 40, "overflow": 25},
    },
    {
        "sku": "MUG-ENAMEL-12",
        "name": "Enamel Camp Mug, 12 oz",
        "price": "18.50",
        "description": "Speckled enamel over steel; goes from the campfire to the dishwasher.",
        "stock": {"main": 60, "overflow": 30},
    },
    {
        "sku": "NOTEBOOK-A5-DOT",
        "name": "A5 Dot-Grid Notebook",
        "price": "14.00",
        "description": "192 numbered pages of 100 gsm paper that takes fountain pen ink without bleeding.",
        "stock": {"main": 120, "overflow": 80},
    },
    {
        "sku": "PLANTER-15",
        "name": "Speckled Ceramic Planter, 15 cm",
        "price": "27.00",
        "description": "Stoneware planter with drainage hole and saucer, glazed by hand.",
        "stock": {"main": 45, "overflow": 10},
    },
    {
        "sku": "KNIFE-PARING",
        "name": "Carbon Steel Paring Knife",
        "price": "42.00",
        "description": "A 9 cm blade of high-carbon steel on a walnut handle. Takes a razor edge.",
        "stock": {"main": 18},
    },
    # In stock only at the supplier (drop-shipped).
    {
        "sku": "DESK-OAK-140",
        "name": "Solid Oak Standing Desk",
        "price": "890.00",
        "description": "140 × 70 cm oiled oak top on a dual-motor frame. Ships from the maker.",
        "stock": {"supplier": 25},
    },
    # Low stock: "Only N left" (free <= the global low-stock threshold of 3).
    {
        "sku": "TEA-SENCHA-100",
        "name": "First Flush Sencha, 100 g",
        "price": "16.00",
        "description": "Spring harvest green tea from Shizuoka, steamed lightly. Grassy and sweet.",
        "stock": {"main": 2},
    },
    {
        "sku": "CANDLE-CEDAR",
        "name": "Cedar & Smoke Soy Candle",
        "price": "29.00",
        "description": "Soy wax, cotton wick, 50 hours of burn time. Smells like a cabin in October.",
        "stock": {"main": 1, "overflow": 2},
    },
    # Backorders allowed silently, no limit.
    {
        "sku": "KETTLE-GOOSENECK",
        "name": "Gooseneck Pour-Over Kettle",
        "price": "69.00",
        "description": "1 l stainless kettle with a thermometer in the lid and a slow, precise spout.",
        "policy": {"backorders": Backorders.ALLOW},
    },
    # Backorders allowed, partly in stock: a large order is part stock, part backorder.
    {
        "sku": "GRINDER-HAND",
        "name": "Ceramic Burr Hand Grinder",
        "price": "58.00",
        "description": "Conical ceramic burrs with 18 click settings, from espresso to French press.",
        "policy": {"backorders": Backorders.ALLOW},
        "stock": {"main": 2},
    },
    # Backorders with notice, a running limit and a cap per order.
    {
        "sku": "HEADPHONES-OPEN",
        "name": "Open-Back Studio Headphones",
        "price": "249.00",
        "description": "Open-back dynamic drivers for mixing and long listening sessions. Cable included.",
        "policy": {
            "backorders": Backorders.ALLOW_NOTIFY,
            "backorder_limit": 10,
            "max_backorder_per_order": 3,
        },
    },
    # Backorders with notice, a longer lead time, and rows that wait until whole.
    {
        "sku": "GAME-TIDEWATER",
        "name": "Tidewater — Strategy Board Game",
        "price": "55.00",
        "description": "Two to four harbour masters race the tide. Second printing on its way.",
        "policy": {
            "backorders": Backorders.ALLOW_NOTIFY,
            "lead_time_days": 30,
            "partial_allocation": PartialAllocation.WAIT,
        },
    },
    # Backorders with a manual expected-restock date and a custom label and note.
    {
        "sku": "BIKE-LIGHT-SET",
        "name": "USB-C Bike Light Set",
        "price": "39.00",
        "description": "400 lumen front, 60 lumen rear, both charged over USB-C. Clips on without tools.",
        "policy": {"backorders": Backorders.ALLOW},
        "expected_restock_in_days": 21,
        "backorder_label": "Backorder now",
        "backorder_note": "Backorder now — ships in ~{days} days",
    },
    # Backorders allowed up to a running limit that the demo orders use up:
    # "No longer taking backorders".
    {
        "sku": "TENT-2P-ULTRA",
        "name": "Two-Person Ultralight Tent",
        "price": "389.00",
        "description": "1.1 kg with poles; the first batch sold out before it landed.",
        "policy": {"backorders": Backorders.ALLOW, "backorder_limit": 4},
    },
    # Pre-order with a future release date, a pre-order limit and custom wording.
    {
        "sku": "LP-NIGHTFALL",
        "name": "Nightfall — Limited Vinyl LP",
        "price": "32.00",
        "description": "180 g smoke-coloured vinyl, numbered sleeve, pressing limited to 500 copies.",
        "preorder_enabled": True,
        "release_in_days": 45,
        "preorder_limit": 50,
        "preorder_label": "Reserve your copy",
        "preorder_note": "Limited pressing: ships on release day, one of 50 pre-order copies.",
    },
    # Pre-order with a future release date, no limit; the stock is already in.
    {
        "sku": "BOOK-FORAGER",
        "name": "The Urban Forager's Field Guide (Hardcover)",
        "price": "28.00",
        "description": "240 plants you can find, name and cook between the pavement cracks.",
        "preorder_enabled": True,
        "release_in_days": 20,
        "stock": {"main": 40},
    },
    # Pre-order whose release date has passed: now a normal product.
    {
        "sku": "KEYBOARD-TKL75",
        "name": "75% Mechanical Keyboard Kit",
        "price": "149.00",
        "description": "Gasket-mounted aluminium case, hot-swap sockets, south-facing RGB.",
        "preorder_enabled": True,
        "release_in_days": -10,
        "stock": {"main": 30},
    },
    # Safety stock: 10 on hand, 4 held back, 6 for sale.
    {
        "sku": "LENS-35MM",
        "name": "35mm f/1.8 Prime Lens",
        "price": "379.00",
        "description": "Fast, quiet autofocus and a close focus of 25 cm. The lens that stays on.",
        "policy": {"safety_stock": 4},
        "stock": {"main": 6, "overflow": 4},
    },
    # Not sellable: every free unit is held back as safety stock.
    {
        "sku": "SOCKS-HIKE-3",
        "name": "Merino Hiking Socks, 3-Pack",
        "price": "36.00",
        "description": "Cushioned merino blend with a reinforced heel. Sizes 39–46.",
        "policy": {"safety_stock": 3},
        "stock": {"main": 3},
    },
    # Not sellable: out of stock and backorders off (the global default).
    {
        "sku": "POSTER-ALPS",
        "name": "Vintage Alps Travel Poster",
        "price": "24.00",
        "description": "50 × 70 cm giclée print of a 1930s railway poster on matte archival paper.",
    },
    # Not sellable: inactive.
    {
        "sku": "SCARF-MERINO",
        "name": "Merino Wool Scarf (Last Season)",
        "price": "45.00",
        "description": "Discontinued colourway, kept for order history.",
        "is_active": False,
        "stock": {"main": 5},
    },
]


def demo_picture(colour: str, *, seed: int = 0) -> bytes:
    """A small 960 x 720 JPEG: a coloured field with a few pale shapes (no files shipped)."""
    picture = Image.new("RGB", (960, 720), colour)
    draw = ImageDraw.Draw(picture)
    draw.ellipse((300 + 60 * seed, 180, 660 + 60 * seed, 540), fill="#f4f1ea")
    draw.rectangle((0, 600, 960, 720), fill="#00000022" if seed else "#e9e4d8")
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG", quality=80)
    return buffer.getvalue()


def product_fields(data: dict, *, today: dt.date) -> dict:
    """Model field values of one PRODUCTS entry."""
    fields = {
        key: value
        for key, value in data.items()
        if key not in {"sku", "policy", "stock", "release_in_days", "expected_restock_in_days"}
    }
    fields["slug"] = slugify(data["name"])
    fields["price"] = Decimal(data["price"])
    for name, value in data.get("policy", {}).items():
        if name not in POLICY_FIELD_NAMES:
            raise ValueError(f"{data['sku']}: unknown policy setting {name!r}")
        fields[name] = value
        fields[f"use_global_{name}"] = False
    if "release_in_days" in data:
        fields["release_date"] = today + dt.timedelta(days=data["release_in_days"])
    if "expected_restock_in_days" in data:
        fields["expected_restock_date"] = today + dt.timedelta(days=data["expected_restock_in_days"])
    return fields


class Command(BaseCommand):
    help = (
        "Load the demo shop: sources, global settings, ~20 products in every availability state "
        f"and an admin login ({ADMIN_USERNAME} / {ADMIN_PASSWORD}). Safe to rerun: creates only what "
        "is missing and receives each opening stock once."
    )

    def handle(self, *args, **options):
        today = timezone.localdate()
        with transaction.atomic():
            _, settings_created = GlobalSettings.objects.get_or_create(
                pk=GlobalSettings.singleton_instance_id, defaults=GLOBAL_SETTINGS
            )
            sources, new_sources = {}, 0
            for data in SOURCES:
                source, created = Source.objects.get_or_create(
                    code=data["code"], defaults={k: v for k, v in data.items() if k != "code"}
                )
                sources[source.code] = source
                new_sources += created
            lines, new_products = [], 0
            for data in PRODUCTS:
                product, created = Product.objects.get_or_create(
                    sku=data["sku"], defaults=product_fields(data, today=today)
                )
                new_products += created
                lines += [
                    ReceiptLine(
                        source=sources[code],
                        product=product,
                        quantity=quantity,
                        reference=f"DEMO-OPENING-{product.sku}",
                    )
                    for code, quantity in data.get("stock", {}).items()
                ]
            received = sum(r.created for r in stock_receive_many(lines=lines))
            new_categories = self._categories_ensure()
            admin_created = self._admin_ensure()
            discounts = self._discounts_ensure()
            placed = self._orders_ensure(sources)
            purchasing = self._purchasing_ensure(sources)
        # Outside the transaction: billing calls the provider only after commit.
        paid = self._orders_pay(placed, source=sources["main"]) if placed else ""

        self.stdout.write(
            f"Sources: {len(sources)} ({new_sources} new). Products: {len(PRODUCTS)} ({new_products} new). "
            f"Opening stock receipts: {len(lines)} ({received} new). "
            f"Categories: {Category.objects.count()} ({new_categories} new). "
            f"Global settings {'created' if settings_created else 'kept as they were'}. "
            f"Demo orders: {len(placed)} placed{paid}. {purchasing} {discounts}"
        )
        site = settings.SITE_URL.rstrip("/")
        password = ADMIN_PASSWORD if admin_created else f"{ADMIN_PASSWORD} (unless you changed it)"
        self.stdout.write(
            self.style.SUCCESS(
                "\nDemo shop ready.\n"
                f"  Shop:     {site}/\n"
                f"  Admin:    {site}/admin/\n"
                f"  Username: {ADMIN_USERNAME}\n"
                f"  Password: {password}\n"
                f"  Customer: {CUSTOMER_USERNAME} / {CUSTOMER_PASSWORD} (has paid orders with waiting rows)\n"
            )
        )

    def _discounts_ensure(self) -> str:
        """The demo's discount rules (by name) and the merchant's alternatives (only for a
        product that has none, so the merchant's own choice stays)."""
        by_sku = Product.objects.in_bulk(
            {sku for rule in DEMO_DISCOUNTS for sku in rule.get("products", ())}
            | set(DEMO_ALTERNATIVES)
            | {sku for skus in DEMO_ALTERNATIVES.values() for sku in skus},
            field_name="sku",
        )
        new_rules = 0
        for data in DEMO_DISCOUNTS:
            fields = {k: v for k, v in data.items() if k not in ("name", "products")}
            fields["value"] = Decimal(fields["value"])
            rule, created = DiscountRule.objects.get_or_create(name=data["name"], defaults=fields)
            if created:
                rule.products.set([by_sku[sku] for sku in data.get("products", ())])
            new_rules += created
        chosen = 0
        for sku, alternatives in DEMO_ALTERNATIVES.items():
            product = by_sku[sku]
            if not product.alternatives.exists():
                product.alternatives.set([by_sku[alt] for alt in alternatives])
                chosen += 1
        return (
            f"Discount rules: {len(DEMO_DISCOUNTS)} ({new_rules} new). "
            f"Alternatives chosen for {chosen} product{'s' if chosen != 1 else ''}."
        )

    def _categories_ensure(self) -> int:
        """The category tree, created once: the first time, its products are shelved and a few
        get pictures. Returns how many categories were created."""
        if Category.objects.exists():
            return 0
        products = {p.sku: p for p in Product.objects.all()}
        created = 0
        for position, (name, children) in enumerate(CATEGORIES):
            top = Category.objects.create(name=name, slug=slugify(name), position=position)
            created += 1
            for child_position, (child_name, skus) in enumerate(children):
                child = Category.objects.create(
                    name=child_name, slug=slugify(child_name), parent=top, position=child_position
                )
                created += 1
                Product.objects.filter(sku__in=skus, category__isnull=True).update(category=child)
        for sku, pictures in DEMO_PICTURES.items():
            product = products.get(sku)
            if product is None or product.images.exists():
                continue
            for position, (colour, alt) in enumerate(pictures):
                picture = ContentFile(
                    demo_picture(colour, seed=position), name=f"{product.slug}-{position}.jpg"
                )
                product_image_add(product=product, file=picture, alt=alt, position=position)
        return created

    def _orders_ensure(self, sources: dict) -> list[Order]:
        """A customer with a few orders (some rows waiting) and one inbound supply, placed
        through the real services the first time the demo starts."""
        if Order.objects.exists():
            return []
        users = get_user_model().objects
        customer = users.filter(username=CUSTOMER_USERNAME).first() or users.create_user(
            username=CUSTOMER_USERNAME,
            email="customer@restock.invalid",
            password=CUSTOMER_PASSWORD,
            first_name="Casey",
            last_name="Customer",
        )
        buyer = Customer(
            email=customer.email,
            full_name="Casey Customer",
            address="12 Harbour Road\nPortsmouth",
            user=customer,
        )
        supply = DEMO_INBOUND
        inbound_create(
            source=sources[supply["source"]],
            product=Product.objects.get(sku=supply["sku"]),
            quantity=supply["quantity"],
            expected_date=timezone.localdate() + dt.timedelta(days=supply["in_days"]),
            reference=supply["reference"],
        )
        products = {p.sku: p for p in Product.objects.filter(sku__in={s for o in DEMO_ORDERS for s, _ in o})}
        return [
            checkout_place_order(
                lines=[CartLine(products[sku].pk, quantity) for sku, quantity in lines], customer=buyer
            )
            for lines in DEMO_ORDERS
        ]

    def _purchasing_ensure(self, sources: dict) -> str:
        """Suppliers with their terms (what exists is left as the merchant left it), and one
        purchase order sent through the services when the shop has none. Returns what to print."""
        new_suppliers = new_terms = terms = 0
        suppliers = {}
        for data in DEMO_SUPPLIERS:
            supplier, created = Supplier.objects.get_or_create(
                name=data["name"], defaults={"email": data["email"], "lead_time_days": data["lead_time_days"]}
            )
            suppliers[supplier.name] = supplier
            new_suppliers += created
            products = {p.sku: p for p in Product.objects.filter(sku__in=[t[0] for t in data["terms"]])}
            for sku, supplier_sku, cost, lead_time, minimum, pack, preferred in data["terms"]:
                _, created = SupplierProduct.objects.get_or_create(
                    supplier=supplier,
                    product=products[sku],
                    defaults={
                        "supplier_sku": supplier_sku,
                        "cost_price": Decimal(cost),
                        "lead_time_days": lead_time,
                        "min_order_qty": minimum,
                        "pack_size": pack,
                        # Never a second preferred supplier for a product the merchant changed.
                        "is_preferred": preferred
                        and not SupplierProduct.objects.filter(
                            product=products[sku], is_preferred=True
                        ).exists(),
                    },
                )
                terms += 1
                new_terms += created
        said = f"Suppliers: {len(suppliers)} (+{new_suppliers}), product terms: {terms} (+{new_terms})."
        if PurchaseOrder.objects.exists():
            return said
        data = DEMO_PURCHASE_ORDER
        products = {p.sku: p for p in Product.objects.filter(sku__in=[sku for sku, _ in data["lines"]])}
        order = purchase_order_create_draft(
            supplier=suppliers[data["supplier"]],
            lines=[
                DraftLine(product=products[sku], quantity=quantity, source=sources[data["source"]])
                for sku, quantity in data["lines"]
            ],
        )
        purchase_order_send(purchase_order=order)
        return f"{said} Purchase order {order.number} sent to {order.supplier.name} (inbound now)."

    def _orders_pay(self, orders: list[Order], *, source: Source) -> str:
        """The customer approves each order on the dummy provider's page (an authorization
        per shipment, a capture at checkout); the merchant ships one order's allocated rows,
        and its capture is settled now as the settle job would. Returns what to print."""
        per_shipment = settings.BILLING_SETTLEMENT == Settlement.PER_SHIPMENT
        status = PaymentStatus.PREAUTH if per_shipment else PaymentStatus.CONFIRMED
        approve = {"status": status, "fraud_status": FraudStatus.ACCEPT, "gateway_response": "3ds-disabled"}
        for order in orders:
            with contextlib.suppress(RedirectNeeded):  # back to the shop's return page
                # The dummy provider whatever the shop is set to: the demo never charges a real card.
                payment_start(order_id=order.pk, variant="dummy").get_form(data=approve)
        shipped = orders[DEMO_SHIPPED_ORDER]
        shipment_create(order=shipped, source=source)
        pending = LedgerEntry.objects.filter(order__in=orders, state=EntryState.PENDING)
        for entry_id in pending.order_by("pk").values_list("pk", flat=True):
            entry_settle(entry_id=entry_id)
        how = "authorized, charged per shipment" if per_shipment else "charged at checkout"
        shipment = "shipped"
        capture = LedgerEntry.objects.filter(
            order=shipped, shipment__isnull=False, kind=EntryKind.CAPTURE, state=EntryState.SUCCEEDED
        ).first()
        if capture is not None:
            shipment += f" and charged {money_format(capture.amount, capture.currency)}"
        return (
            f", all {len(orders)} paid with the dummy provider ({how}), none left awaiting payment; "
            f"order {shipped.number}'s rows at {source.name} {shipment}"
        )

    def _admin_ensure(self) -> bool:
        """Create the demo superuser once; an existing one is left alone."""
        users = get_user_model().objects
        if users.filter(username=ADMIN_USERNAME).exists():
            return False
        users.create_superuser(
            username=ADMIN_USERNAME, email="admin@restock.invalid", password=ADMIN_PASSWORD
        )
        return True
