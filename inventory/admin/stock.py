"""Stock counters (read-only), the receive / adjust / upload pages, and the ledger."""

from dataclasses import dataclass, field

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import DataError
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from catalog.models import Product

from ..exceptions import InvalidQuantity, InventoryError, StockWouldGoNegative
from ..forms import AdjustStockForm, ReceiveStockForm
from ..models import InboundSupply, Source, Stock, StockMovement, free_units
from ..restock_import import COLUMNS as RESTOCK_COLUMNS
from ..restock_import import restock_parse
from ..selectors import receipts_preview_figures
from ..services import (
    ReceiptLine,
    receipts_apply,
    stock_adjust,
    stock_count,
    stock_receive,
)
from .common import MOVE_STOCK_PERMISSION, ProductSourceColumns, ReadOnlyAdmin, stock_page_url, titled
from .uploads import PREVIEW_PAGE_SIZE, CsvImportMixin


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
class StockAdmin(ProductSourceColumns, CsvImportMixin, ReadOnlyAdmin):
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

    @admin.display(description="free", ordering=free_units())
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

    # -- restock CSV upload: preview, then receipts_apply --------------------------------

    import_kind = "upload"
    import_url_name = "inventory_stock_upload"
    import_columns = RESTOCK_COLUMNS
    import_example = "source,sku,quantity,reference\nmain,KETTLE-1,24,PO-1042\nshop,KETTLE-1,6,PO-1042"
    import_title = "Upload restock CSV"
    import_intro = (
        "Each line receives units at a source under the supplier's reference. A reference "
        "already received at that source for that product adds nothing (the line is skipped). "
        "A reference naming a purchase order line (PO-00042/1, or PO-00042/1/DN-7 for a further "
        "delivery) receives against that line: no more than it still expects."
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
            results = receipts_apply(lines=lines, user=request.user)
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
class StockMovementAdmin(ProductSourceColumns, ReadOnlyAdmin):
    """The ledger: append-only, so read-only here."""

    list_display = ("created_at", "kind", "sku", "source_code", "change", "reference", "reason", "user")
    list_filter = ("kind", "source", "created_at")
    date_hierarchy = "created_at"
    search_fields = ("product__sku", "product__name", "reference")
    list_select_related = ("product", "source", "user")
    fields = ("created_at", "kind", "product", "source", "quantity", "reference", "reason", "user")
    readonly_fields = fields

    @admin.display(description="source", ordering="source__code")
    def source_code(self, movement):
        return movement.source.code

    @admin.display(description="quantity", ordering="quantity")
    def change(self, movement):
        return f"{movement.quantity:+d}"
