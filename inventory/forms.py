"""Forms that parse a merchant's stock input; the rules stay in inventory.services."""

import csv

from django import forms
from django.contrib.admin.widgets import AdminRadioSelect, AutocompleteSelect

from catalog.models import Product

from .exceptions import InvalidQuantity, RestockFileInvalid, StockWouldGoNegative
from .models import InboundStatus, InboundSupply, Source, Stock
from .services import check_quantity


class StockFormBase(forms.Form):
    """Source and product; pass ``admin_site`` to pick the product by search (autocomplete)."""

    source = forms.ModelChoiceField(queryset=Source.objects.order_by("priority", "code"))
    product = forms.ModelChoiceField(queryset=Product.objects.order_by("sku"))

    # Which form field a service's InvalidQuantity(field=...) belongs to.
    service_fields: dict[str, str] = {}

    def __init__(self, *args, admin_site=None, **kwargs):
        super().__init__(*args, **kwargs)
        if admin_site is not None:
            widget = AutocompleteSelect(Stock._meta.get_field("product"), admin_site)
            self.fields["product"] = forms.ModelChoiceField(queryset=Product.objects.all(), widget=widget)

    def add_service_error(self, exc: InvalidQuantity | StockWouldGoNegative) -> None:
        """Show a service's refusal beside the field it is about."""
        if isinstance(exc, InvalidQuantity):
            field = self.service_fields.get(exc.field, exc.field)
        else:
            field = "quantity"
        self.add_error(field if field in self.fields else None, str(exc))


class ReceiveStockForm(StockFormBase):
    quantity = forms.IntegerField(min_value=1, help_text="Units that arrived.")
    reference = forms.CharField(
        max_length=100,
        help_text="The supplier's delivery or purchase-order reference. "
        "A reference already received at this source adds nothing.",
    )


class AdjustStockForm(StockFormBase):
    ADJUST = "adjust"
    COUNT = "count"

    mode = forms.ChoiceField(
        choices=[
            (ADJUST, "Adjust on hand by ± units"),
            (COUNT, "Set on hand to the count"),
        ],
        initial=ADJUST,
        widget=AdminRadioSelect(attrs={"class": "radiolist"}),
    )
    quantity = forms.IntegerField(
        help_text="Adjust: units to add (found) or, negative, to remove (damaged, lost). "
        "Count: units counted on the shelf."
    )
    reason = forms.CharField(max_length=255, help_text="Why on hand changes; kept in the ledger.")

    service_fields = {"change": "quantity", "counted": "quantity"}


class CsvUploadForm(forms.Form):
    """A CSV file, decoded and validated whole by ``parse``; bad rows land in ``row_errors``."""

    MAX_BYTES = 5 * 1024 * 1024

    file = forms.FileField(label="CSV file")

    def __init__(self, *args, parse, **kwargs):
        super().__init__(*args, **kwargs)
        self.parse = parse
        self.row_errors: list[str] = []

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > self.MAX_BYTES:
            raise forms.ValidationError(
                f"The file is {upload.size:,} bytes; at most {self.MAX_BYTES:,} are accepted. "
                "Split it into smaller files."
            )
        try:
            text = upload.read().decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise forms.ValidationError(f"The file is not UTF-8 text ({exc.reason}).") from exc
        if "\x00" in text:  # a binary file (and PostgreSQL refuses NUL in text)
            raise forms.ValidationError("The file is not readable as CSV (it contains NUL characters).")
        self.cleaned_data["text"] = text
        return upload

    def clean(self):
        cleaned = super().clean()
        if "text" in cleaned:
            try:
                cleaned["lines"] = self.parse(cleaned["text"])
            except RestockFileInvalid as exc:
                self.row_errors = exc.errors
                self.add_error("file", f"{len(exc.errors)} bad row(s); nothing was applied.")
            except csv.Error as exc:
                self.add_error("file", f"The file is not readable as CSV ({exc}).")
        return cleaned


class InboundSupplyForm(forms.ModelForm):
    """Adds or edits inbound supply; the admin saves it through inventory.services."""

    class Meta:
        model = InboundSupply
        fields = ("source", "product", "quantity", "expected_date", "reference")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "source" in self.fields:
            active = Source.objects.filter(is_active=True).order_by("priority", "code")
            self.fields["source"].queryset = active
        if "quantity" in self.fields:
            self.fields["quantity"].min_value = 1
            self.fields["quantity"].widget.attrs["min"] = 1

    def clean_quantity(self):
        quantity = self.cleaned_data["quantity"]
        try:
            return check_quantity(quantity)
        except InvalidQuantity as exc:
            raise forms.ValidationError(str(exc)) from exc

    def clean(self):
        cleaned = super().clean()
        supply = self.instance
        if supply.pk and supply.status != InboundStatus.OPEN:
            status = supply.get_status_display().lower()
            raise forms.ValidationError(f"Inbound {supply.reference} is {status}; it can no longer change.")
        return cleaned
