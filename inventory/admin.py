"""Merchant admin for inventory. Counters are read-only here: every change goes through
inventory.services, from the "Receive stock", "Adjust / count" and CSV upload pages, and
inbound supply is created, changed, received and cancelled through its services too."""

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import DataError, IntegrityError
from django.db.models import F
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from catalog.models import Product

from .exceptions import InvalidQuantity, InventoryError, RestockFileInvalid, StockWouldGoNegative
from .forms import AdjustStockForm, CsvUploadForm, InboundSupplyForm, ReceiveStockForm
from .inbound_import import InboundLine, inbound_existing, inbound_import_apply, inbound_parse
from .models import InboundStatus, InboundSupply, Source, Stock, StockMovement
from .restock_import import COLUMNS as RESTOCK_COLUMNS
from .restock_import import restock_parse
from .selectors import receipts_preview_figures
from .services import (
    ReceiptLine,
    inbound_cancel,
    inbound_create,
    inbound_receive,
    inbound_update,
    stock_adjust,
    stock_count,
    stock_receive,
    stock_receive_many,
)

# The ledger's add permission guards every page that writes stock through a service.
MOVE_STOCK_PERMISSION = "inventory.add_stockmovement"


def stock_page_url(name: str, **params) -> str:
    """URL of a stock page ("receive", "adjust", "changelist", "ledger") with optional filters."""
    url = {
        "receive": "admin:inventory_stock_receive",
        "adjust": "admin:inventory_stock_adjust",
        "changelist": "admin:inventory_stock_changelist",
        "ledger": "admin:inventory_stockmovement_changelist",
    }[name]
    query = urlencode({k: v for k, v in params.items() if v is not None})
    return reverse(url) + (f"?{query}" if query else "")


def titled(title: str):
    """A yes/no filter under its own title (two "active" filters would look alike)."""

    class Filter(admin.BooleanFieldListFilter):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.title = title

    return Filter


@admin.register(Source)
class SourceAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "priority", "is_active")
    list_display_links = ("code", "name")
    list_editable = ("priority",)
    list_filter = ("is_active",)
    search_fields = ("code", "name")
    ordering = ("priority", "code")


class StockInline(admin.TabularInline):
    """Stock per source on the product page: counters only, changed through the stock pages."""

    model = Stock
    fields = ("source", "on_hand", "allocated", "free")
    readonly_fields = ("source", "on_hand", "allocated", "free", "stock_links")
    extra = 0
    can_delete = False
    verbose_name_plural = "stock per source"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("source")

    def get_fields(self, request, obj=None):
        if request.user.has_perm(MOVE_STOCK_PERMISSION):
            return (*self.fields, "stock_links")
        return self.fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="")
    def stock_links(self, stock):
        params = {"source": stock.source_id, "product": stock.product_id}
        return format_html(
            '<a href="{}">Receive</a> · <a href="{}">Adjust / count</a> · <a href="{}">Ledger</a>',
            stock_page_url("receive", **params),
            stock_page_url("adjust", **params),
            stock_page_url("ledger", source__id__exact=stock.source_id, product__id__exact=stock.product_id),
        )


# -- CSV uploads: upload, preview every line, then apply all of it or nothing -----------

PREVIEW_PAGE_SIZE = 200  # lines (and stock pairs) shown per preview page


class PendingUploads:
    """Uploaded files kept server-side, in the session, between the preview and the confirm.

    The browser carries only a random token: what is applied is exactly the file that was
    previewed, never content the client could alter. The last few uploads per kind are kept.
    """

    KEEP = 3

    def __init__(self, request, kind: str):
        self.session = request.session
        self.key = f"inventory_uploads_{kind}"

    def _kept(self) -> dict:
        return dict(self.session.get(self.key, {}))

    def store(self, *, name: str, text: str) -> str:
        token = secrets.token_urlsafe(16)
        kept = dict(list(self._kept().items())[-(self.KEEP - 1) :])
        kept[token] = {"name": name, "text": text}
        self.session[self.key] = kept
        return token

    def get(self, token: str) -> dict | None:
        return self._kept().get(token)

    def discard(self, token: str) -> None:
        kept = self._kept()
        if kept.pop(token, None) is not None:
            self.session[self.key] = kept


def references_text(references: list[str], limit: int = 10) -> str:
    shown = ", ".join(references[:limit])
    return shown + (f" and {len(references) - limit} more" if len(references) > limit else "")


class CsvImportMixin:
    """ModelAdmin pages to upload a CSV, preview what it would change and apply it whole.

    Upload (POST) validates the whole file: bad rows are all listed and nothing is kept.
    A good file is kept in the session and the browser is sent to its preview (GET,
    paginated); the confirm button POSTs to the same address and applies it.
    """

    import_kind: str  # session namespace and URL path
    import_url_name: str  # <name> is the upload page, <name>_preview the preview
    import_columns: tuple[str, ...]
    import_example: str
    import_title: str
    import_intro = ""
    import_preview_template: str
    import_upload_template = "admin/inventory/csv_upload.html"
    import_parse: Callable[[str], list]

    def import_check_permission(self, request) -> None:
        raise NotImplementedError

    def import_preview_context(self, request, lines: list) -> dict:
        raise NotImplementedError

    def import_apply(self, request, lines: list, *, name: str) -> bool:
        """Apply the lines and tell the user how it went; False when nothing was applied."""
        raise NotImplementedError

    def import_done_url(self, request) -> str:
        raise NotImplementedError

    def import_urls(self) -> list:
        site = self.admin_site
        return [
            path(f"{self.import_kind}/", site.admin_view(self.import_upload_view), name=self.import_url_name),
            path(
                f"{self.import_kind}/<str:token>/",
                site.admin_view(self.import_preview_view),
                name=f"{self.import_url_name}_preview",
            ),
        ]

    def _parse(self, text: str) -> list:
        return self.import_parse(text)

    def _import_context(self, request, **extra) -> dict:
        return {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "has_view_permission": self.has_view_permission(request),
            "upload_url": reverse(f"admin:{self.import_url_name}"),
            "columns": self.import_columns,
            "example": self.import_example,
            "intro": self.import_intro,
            **extra,
        }

    def _render_upload(self, request, form, *, row_errors: list[str], stale_name: str = ""):
        context = self._import_context(
            request,
            title=self.import_title,
            form=form,
            row_errors=row_errors,
            stale_name=stale_name,
            max_bytes=CsvUploadForm.MAX_BYTES,
        )
        return TemplateResponse(request, self.import_upload_template, context)

    def import_upload_view(self, request):
        self.import_check_permission(request)
        form = CsvUploadForm(request.POST or None, request.FILES or None, parse=self._parse)
        if request.method == "POST" and form.is_valid():
            name = form.cleaned_data["file"].name
            token = PendingUploads(request, self.import_kind).store(name=name, text=form.cleaned_data["text"])
            return redirect(reverse(f"admin:{self.import_url_name}_preview", args=[token]))
        return self._render_upload(request, form, row_errors=form.row_errors)

    def import_preview_view(self, request, token: str):
        self.import_check_permission(request)
        uploads = PendingUploads(request, self.import_kind)
        pending = uploads.get(token)
        if pending is None:
            self.message_user(
                request,
                "That upload was already applied or has expired; nothing was applied now. "
                "Upload the file again to see its preview.",
                messages.WARNING,
            )
            return redirect(reverse(f"admin:{self.import_url_name}"))
        try:
            lines = self._parse(pending["text"])
        except RestockFileInvalid as exc:
            # Sources or products changed since the upload: the file is rejected whole.
            uploads.discard(token)
            form = CsvUploadForm(parse=self._parse)
            return self._render_upload(request, form, row_errors=exc.errors, stale_name=pending["name"])
        if request.method == "POST":
            if not self.import_apply(request, lines, name=pending["name"]):
                return redirect(request.path)
            uploads.discard(token)
            return redirect(self.import_done_url(request))
        context = self._import_context(
            request,
            title=f"{self.import_title}: preview",
            file_name=pending["name"],
            **self.import_preview_context(request, lines),
        )
        return TemplateResponse(request, self.import_preview_template, context)


@dataclass
class PairChange:
    """What a restock file changes at one (source, product)."""

    source: Source
    product: Product
    on_hand: int
    lines: int = 0
    units: int = 0
    skipped: int = 0

    @property
    def after(self) -> int:
        return self.on_hand + self.units


@dataclass
class RestockPreview:
    lines: list[tuple[int, ReceiptLine, bool]] = field(default_factory=list)  # (n, line, already received)
    pairs: list[PairChange] = field(default_factory=list)
    units: int = 0
    skipped_lines: int = 0
    skipped_units: int = 0

    @property
    def products(self) -> int:
        return len({pair.product.pk for pair in self.pairs})

    @property
    def sources(self) -> int:
        return len({pair.source.pk for pair in self.pairs})


def restock_preview(lines: list[ReceiptLine]) -> RestockPreview:
    """On hand now and after per (source, product), and the lines stock_receive_many would skip
    because their reference was already received there. Two queries, whatever the lines."""
    on_hand, received = receipts_preview_figures(lines=lines)
    preview, pairs = RestockPreview(), {}
    for n, line in enumerate(lines, start=1):
        key = (line.source.pk, line.product.pk)
        pair = pairs.get(key)
        if pair is None:
            pair = pairs[key] = PairChange(line.source, line.product, on_hand.get(key, 0))
        skipped = (*key, line.reference) in received
        pair.lines += 1
        if skipped:
            pair.skipped += 1
            preview.skipped_lines += 1
            preview.skipped_units += line.quantity
        else:
            pair.units += line.quantity
            preview.units += line.quantity
        preview.lines.append((n, line, skipped))
    preview.pairs = sorted(pairs.values(), key=lambda p: (p.product.sku, p.source.priority, p.source.code))
    return preview


@admin.register(Stock)
class StockAdmin(CsvImportMixin, admin.ModelAdmin):
    list_display = ("sku", "product_name", "source_code", "on_hand", "allocated", "free", "ledger_link")
    list_filter = (
        "source",
        ("source__is_active", titled("source active")),
        ("product__is_active", titled("product active")),
    )
    search_fields = ("product__sku", "product__name", "source__code", "source__name")
    list_select_related = ("product", "source")
    ordering = ("product__sku", "source__priority", "source__code")
    fields = ("product", "source", "on_hand", "allocated", "free")
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="SKU", ordering="product__sku")
    def sku(self, stock):
        return stock.product.sku

    @admin.display(description="product", ordering="product__name")
    def product_name(self, stock):
        return stock.product.name

    @admin.display(description="source", ordering="source__priority")
    def source_code(self, stock):
        return stock.source.code

    @admin.display(description="free", ordering=F("on_hand") - F("allocated"))
    def free(self, stock):
        return stock.free

    @admin.display(description="ledger")
    def ledger_link(self, stock):
        return format_html(
            '<a href="{}">movements</a>',
            stock_page_url("ledger", source__id__exact=stock.source_id, product__id__exact=stock.product_id),
        )

    # -- pages that change stock through the services ------------------------------

    def get_urls(self):
        site = self.admin_site
        return [
            path("receive/", site.admin_view(self.receive_view), name="inventory_stock_receive"),
            path("adjust/", site.admin_view(self.adjust_view), name="inventory_stock_adjust"),
            *self.import_urls(),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "can_move_stock": request.user.has_perm(MOVE_STOCK_PERMISSION),
            "can_view_inbound": self.admin_site.is_registered(InboundSupply)
            and self.admin_site.get_model_admin(InboundSupply).has_view_or_change_permission(request),
        }
        return super().changelist_view(request, extra_context=extra_context)

    def _check_move_permission(self, request) -> None:
        if not request.user.has_perm(MOVE_STOCK_PERMISSION):
            raise PermissionDenied

    def _form_kwargs(self, request) -> dict:
        """Bound to POST, or prefilled from ?source=&product=; product search when allowed."""
        kwargs: dict = {}
        if request.method == "POST":
            kwargs["data"] = request.POST
        else:
            kwargs["initial"] = {
                key: request.GET[key] for key in ("source", "product") if request.GET.get(key, "").isdigit()
            }
        if self.admin_site.is_registered(Product):
            product_admin = self.admin_site.get_model_admin(Product)
            if product_admin.search_fields and product_admin.has_view_permission(request):
                kwargs["admin_site"] = self.admin_site
        return kwargs

    def _after_save(self, request, form, *, page: str):
        """Back to the form for another entry, or to the product's stock when allowed."""
        source, product = form.cleaned_data["source"], form.cleaned_data["product"]
        if "_addanother" in request.POST or not self.has_view_permission(request):
            return redirect(stock_page_url(page, source=source.pk))
        return redirect(stock_page_url("changelist", product__id__exact=product.pk))

    def _render(self, request, form, *, title: str, template: str, submit: str):
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": title,
            "form": form,
            "media": self.media + form.media,
            "submit_label": submit,
            "has_view_permission": self.has_view_permission(request),
        }
        return TemplateResponse(request, template, context)

    def receive_view(self, request):
        self._check_move_permission(request)
        form = ReceiveStockForm(**self._form_kwargs(request))
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                result = stock_receive(
                    source=data["source"],
                    product=data["product"],
                    quantity=data["quantity"],
                    reference=data["reference"],
                    user=request.user,
                )
            except InvalidQuantity as exc:
                form.add_service_error(exc)
            else:
                level = messages.SUCCESS if result.created else messages.WARNING
                self.message_user(request, result.message, level)
                return self._after_save(request, form, page="receive")
        return self._render(
            request,
            form,
            title="Receive stock",
            template="admin/inventory/stock/receive.html",
            submit="Receive",
        )

    def adjust_view(self, request):
        self._check_move_permission(request)
        form = AdjustStockForm(**self._form_kwargs(request))
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            source, product = data["source"], data["product"]
            where = f"{product.sku} at {source.code}"
            try:
                if data["mode"] == AdjustStockForm.COUNT:
                    movement = stock_count(
                        source=source,
                        product=product,
                        counted=data["quantity"],
                        reason=data["reason"],
                        user=request.user,
                    )
                else:
                    movement = stock_adjust(
                        source=source,
                        product=product,
                        change=data["quantity"],
                        reason=data["reason"],
                        user=request.user,
                    )
            except (InvalidQuantity, StockWouldGoNegative) as exc:
                form.add_service_error(exc)
            else:
                if movement is None:
                    message = f"Counted {data['quantity']} × {where}: matches on hand, nothing changed."
                else:
                    on_hand = Stock.objects.get(source=source, product=product).on_hand
                    message = (
                        f"{movement.get_kind_display()} of {movement.quantity:+d} × {where} "
                        f"({movement.reason}); on hand is now {on_hand}."
                    )
                self.message_user(request, message, messages.SUCCESS)
                return self._after_save(request, form, page="adjust")
        return self._render(
            request,
            form,
            title="Adjust or count stock",
            template="admin/inventory/stock/adjust.html",
            submit="Save",
        )

    # -- restock CSV upload: preview, then stock_receive_many ----------------------------

    import_kind = "upload"
    import_url_name = "inventory_stock_upload"
    import_columns = RESTOCK_COLUMNS
    import_example = "source,sku,quantity,reference\nmain,KETTLE-1,24,PO-1042\nshop,KETTLE-1,6,PO-1042"
    import_title = "Upload restock CSV"
    import_intro = (
        "Each line receives units at a source under the supplier's reference. A reference "
        "already received at that source for that product adds nothing (the line is skipped)."
    )
    import_preview_template = "admin/inventory/stock/upload_preview.html"
    import_parse = staticmethod(restock_parse)

    def import_check_permission(self, request) -> None:
        self._check_move_permission(request)

    def import_preview_context(self, request, lines: list[ReceiptLine]) -> dict:
        preview = restock_preview(lines)
        return {
            "preview": preview,
            "line_page": Paginator(preview.lines, PREVIEW_PAGE_SIZE).get_page(request.GET.get("page")),
            "pair_page": Paginator(preview.pairs, PREVIEW_PAGE_SIZE).get_page(request.GET.get("pairs")),
        }

    def import_apply(self, request, lines: list[ReceiptLine], *, name: str) -> bool:
        try:
            results = stock_receive_many(lines=lines, user=request.user)
        except (InventoryError, DataError) as exc:
            # DataError: a value the parser let through but the database refuses (PostgreSQL
            # enforces the 100-character reference); the transaction left nothing behind.
            self.message_user(request, f"{name}: nothing was applied. {exc}", messages.ERROR)
            return False
        added = [r.line for r in results if r.created]
        skipped = len(results) - len(added)
        units = sum(line.quantity for line in added)
        products = len({line.product.pk for line in added})
        sources = len({line.source.pk for line in added})
        if added:
            message = (
                f"{name}: received {len(added)} of {len(results)} line(s), {units} unit(s) "
                f"of {products} product(s) at {sources} source(s)."
            )
            if skipped:
                message += f" {skipped} line(s) already received — skipped."
            self.message_user(request, message, messages.SUCCESS)
        else:
            self.message_user(
                request,
                f"{name}: every one of its {len(results)} line(s) was already received; nothing added.",
                messages.WARNING,
            )
        return True

    def import_done_url(self, request) -> str:
        if self.has_view_permission(request):
            return stock_page_url("changelist")
        return reverse("admin:inventory_stock_upload")


@admin.register(StockMovement)
class StockMovementAdmin(admin.ModelAdmin):
    """The ledger: append-only, so read-only here."""

    list_display = ("created_at", "kind", "sku", "source_code", "change", "reference", "reason", "user")
    list_filter = ("kind", "source", "created_at")
    date_hierarchy = "created_at"
    search_fields = ("product__sku", "product__name", "reference")
    list_select_related = ("product", "source", "user")
    fields = ("created_at", "kind", "product", "source", "quantity", "reference", "reason", "user")
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="SKU", ordering="product__sku")
    def sku(self, movement):
        return movement.product.sku

    @admin.display(description="source", ordering="source__code")
    def source_code(self, movement):
        return movement.source.code

    @admin.display(description="quantity", ordering="quantity")
    def change(self, movement):
        return f"{movement.quantity:+d}"


# -- inbound supply ----------------------------------------------------------------------


class LateFilter(admin.SimpleListFilter):
    title = "late"
    parameter_name = "late"

    def lookups(self, request, model_admin):
        return [("yes", "Open and past its expected date")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(status=InboundStatus.OPEN, expected_date__lt=timezone.localdate())
        return queryset


@admin.register(InboundSupply)
class InboundSupplyAdmin(CsvImportMixin, admin.ModelAdmin):
    """Expected units per source and date. Saved, received and cancelled through the services;
    never deleted (cancel it instead), and the status only moves through the actions."""

    form = InboundSupplyForm
    list_display = (
        "expected_date",
        "sku",
        "product_name",
        "source_code",
        "quantity",
        "reference",
        "status_display",
    )
    list_display_links = ("expected_date", "sku")
    list_filter = ("status", LateFilter, "source", "expected_date")
    search_fields = ("product__sku", "reference")
    list_select_related = ("product", "source")
    date_hierarchy = "expected_date"
    ordering = ("expected_date", "pk")
    actions = ("receive_selected", "cancel_selected")
    add_fields = ("source", "product", "quantity", "expected_date", "reference")
    change_fields = (*add_fields, "status_display", "created_at", "updated_at")

    def get_fields(self, request, obj=None):
        return self.add_fields if obj is None else self.change_fields

    def get_autocomplete_fields(self, request):
        """Search products by SKU when the user may see products; a plain list otherwise."""
        if self.admin_site.is_registered(Product):
            product_admin = self.admin_site.get_model_admin(Product)
            if product_admin.search_fields and product_admin.has_view_permission(request):
                return ("product",)
        return ()

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        if obj.status != InboundStatus.OPEN:
            return self.change_fields
        # What arrives and when may change; where, what and under which reference may not.
        return ("source", "product", "reference", "status_display", "created_at", "updated_at")

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="SKU", ordering="product__sku")
    def sku(self, supply):
        return supply.product.sku

    @admin.display(description="product", ordering="product__name")
    def product_name(self, supply):
        return supply.product.name

    @admin.display(description="source", ordering="source__priority")
    def source_code(self, supply):
        return supply.source.code

    @admin.display(description="status", ordering="status")
    def status_display(self, supply):
        label = supply.get_status_display()
        if supply.status == InboundStatus.OPEN and supply.expected_date:
            late = (timezone.localdate() - supply.expected_date).days
            if late > 0:
                return format_html('{} <strong class="inbound-late">— late {} day(s)</strong>', label, late)
        return label

    # -- saving through the services ---------------------------------------------------

    def save_model(self, request, obj, form, change):
        if change:
            saved = inbound_update(supply=obj, quantity=obj.quantity, expected_date=obj.expected_date)
        else:
            saved = inbound_create(
                source=obj.source,
                product=obj.product,
                quantity=obj.quantity,
                expected_date=obj.expected_date,
                reference=obj.reference,
            )
        for name in ("pk", "status", "created_at", "updated_at"):
            setattr(obj, name, getattr(saved, name))
        obj._state.adding, obj._state.db = False, saved._state.db

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except InventoryError as exc:
            # The supply changed under the form (received or cancelled meanwhile): nothing saved.
            self.message_user(request, f"Nothing was saved: {exc}", messages.ERROR)
            return redirect(request.get_full_path())

    # -- actions -------------------------------------------------------------------------

    @admin.action(description="Receive selected inbound supply", permissions=["change"])
    def receive_selected(self, request, queryset):
        received, closed, already, refused = [], [], [], []
        for supply in queryset.select_related("source", "product").order_by("expected_date", "pk"):
            if supply.status == InboundStatus.RECEIVED:
                already.append(supply.reference)
                continue
            if supply.status == InboundStatus.CANCELLED:
                refused.append(supply.reference)
                continue
            try:
                result = inbound_receive(supply=supply, user=request.user)
            except InventoryError:  # cancelled meanwhile
                refused.append(supply.reference)
                continue
            (received if result.created else closed).append(supply)
        if received:
            units = sum(s.quantity for s in received)
            self.message_user(
                request,
                f"Received {len(received)} inbound supply line(s), {units} unit(s): "
                + references_text([s.reference for s in received])
                + ".",
                messages.SUCCESS,
            )
        if closed:
            self.message_user(
                request,
                "Marked received without adding units, their reference was already received at "
                "the source: " + references_text([s.reference for s in closed]) + ".",
                messages.WARNING,
            )
        if already:
            self.message_user(
                request, f"Already received, nothing added: {references_text(already)}.", messages.WARNING
            )
        if refused:
            self.message_user(
                request,
                f"Cancelled, not received: {references_text(refused)}. Use Receive stock for units "
                "that arrived anyway.",
                messages.ERROR,
            )

    @admin.action(description="Cancel selected inbound supply", permissions=["change"])
    def cancel_selected(self, request, queryset):
        cancelled, received, already = [], [], []
        for supply in queryset.order_by("expected_date", "pk"):
            if supply.status == InboundStatus.CANCELLED:
                already.append(supply.reference)
                continue
            if supply.status == InboundStatus.RECEIVED:
                received.append(supply.reference)
                continue
            try:
                inbound_cancel(supply=supply)
            except InventoryError:  # received meanwhile
                received.append(supply.reference)
                continue
            cancelled.append(supply.reference)
        if cancelled:
            self.message_user(
                request,
                f"Cancelled {len(cancelled)} inbound supply line(s): {references_text(cancelled)}.",
                messages.SUCCESS,
            )
        if already:
            self.message_user(request, f"Already cancelled: {references_text(already)}.", messages.WARNING)
        if received:
            self.message_user(
                request,
                f"Already received, cannot be cancelled: {references_text(received)}.",
                messages.ERROR,
            )

    # -- CSV import: preview, then inbound_import_apply ----------------------------------

    import_kind = "import"
    import_url_name = "inventory_inboundsupply_import"
    import_columns = ("source", "sku", "quantity", "expected_date", "reference")
    import_example = (
        "source,sku,quantity,expected_date,reference\n"
        "main,KETTLE-1,120,2026-03-02,PO-2210\n"
        "main,TEAPOT-1,40,2026-03-16,PO-2211"
    )
    import_title = "Import inbound supply CSV"
    import_intro = (
        "Each line records units expected at a source on a date (YYYY-MM-DD). A line whose "
        "source, SKU and reference are already recorded is skipped, so importing a file twice "
        "adds nothing."
    )
    import_preview_template = "admin/inventory/inboundsupply/import_preview.html"
    import_parse = staticmethod(inbound_parse)

    def get_urls(self):
        return [*self.import_urls(), *super().get_urls()]

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "can_import": self.has_add_permission(request)}
        return super().changelist_view(request, extra_context=extra_context)

    def import_check_permission(self, request) -> None:
        if not self.has_add_permission(request):
            raise PermissionDenied

    def import_preview_context(self, request, lines: list[InboundLine]) -> dict:
        existing = inbound_existing(lines=lines)
        today = timezone.localdate()
        rows = [(line, existing.get(line.key)) for line in lines]
        new = [line for line, found in rows if found is None]
        return {
            "line_page": Paginator(rows, PREVIEW_PAGE_SIZE).get_page(request.GET.get("page")),
            "totals": {
                "lines": len(lines),
                "new": len(new),
                "skipped": len(lines) - len(new),
                "units": sum(line.quantity for line in new),
                "products": len({line.product.pk for line in lines}),
                "sources": len({line.source.pk for line in lines}),
                "first": min((line.expected_date for line in new), default=None),
                "last": max((line.expected_date for line in new), default=None),
                "late": sum(1 for line in new if line.expected_date < today),
            },
            "today": today,
        }

    def import_apply(self, request, lines: list[InboundLine], *, name: str) -> bool:
        try:
            result = inbound_import_apply(lines=lines)
        except (InventoryError, IntegrityError) as exc:
            reason = exc if isinstance(exc, InventoryError) else "another import added the same references"
            self.message_user(request, f"{name}: nothing was applied ({reason}). Try again.", messages.ERROR)
            return False
        if result.created:
            created = len(result.created)
            message = f"{name}: imported {created} inbound supply line(s), {result.units} unit(s)."
            if result.skipped:
                message += f" {len(result.skipped)} line(s) already recorded — skipped."
            self.message_user(request, message, messages.SUCCESS)
        else:
            self.message_user(
                request,
                f"{name}: every one of its {len(result.skipped)} line(s) was already recorded; "
                "nothing added.",
                messages.WARNING,
            )
        return True

    def import_done_url(self, request) -> str:
        return reverse("admin:inventory_inboundsupply_changelist")
