"""Forms that parse a merchant's stock input; the rules stay in inventory.services."""

from django import forms
from django.contrib.admin.widgets import AdminRadioSelect, AutocompleteSelect

from catalog.models import Product

from .exceptions import InvalidQuantity, StockWouldGoNegative
from .models import Source, Stock


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
