"""The product file (CSV or XLSX) that the product admin imports and exports, keyed by SKU
(django-import-export).

Columns: the catalogue fields, then each backorder setting, then pre-order, labels and
notes. A backorder setting's cell holds the product's own value, or the word ``global`` (any
case) for "use global": the product inherits the shop's default (Magento's "Use Config
Settings"). An explicit word, not an empty cell, because an empty limit already means
"unlimited" (backorder limit, max backorder per order). A missing column leaves that field as
it is, so a file with only ``sku`` and ``backorders`` changes only backorders. Stock is not in
this file: receipts go through inventory's idempotent stock service (Receive stock, the
restock CSV), never through here.
"""

from decimal import Decimal, InvalidOperation

import tablib
from django.core.exceptions import ValidationError
from import_export import fields, resources, widgets
from import_export.formats.base_formats import CSV, XLSX

from .models import POLICY_FIELD_NAMES, Product

USE_GLOBAL = "global"
# Columns that look like stock: refused, so nobody believes a product import received stock.
STOCK_COLUMNS = frozenset({"stock", "on_hand", "on hand", "quantity", "free", "allocated", "qty"})


# A spreadsheet runs a cell starting like this as a formula: exported behind a "'", which
# the import takes off again. (The library's own escaping turns every empty cell into "None".)
FORMULA_STARTS = frozenset("=+-@\t\r")


def _defused(value):
    return "'" + value if isinstance(value, str) and value[:1] in FORMULA_STARTS else value


class _FormulaSafe:
    def export_data(self, dataset, **kwargs):
        safe = tablib.Dataset(*[[_defused(v) for v in row] for row in dataset], headers=dataset.headers)
        return super().export_data(safe, **kwargs)


class SafeCSV(_FormulaSafe, CSV):
    pass


class SafeXLSX(_FormulaSafe, XLSX):
    pass


class _NumberCell:
    """A number cell that names its bad value: the library's own widgets raise Decimal's
    InvalidOperation, which the preview shows as "[<class 'decimal.ConversionSyntax'>]"
    against the row instead of against the column."""

    def clean(self, value, row=None, **kwargs):
        try:
            return super().clean(value, row=row, **kwargs)
        except InvalidOperation:
            raise ValueError(f"“{value}” is not a number.") from None


class DecimalCell(_NumberCell, widgets.DecimalWidget):
    pass


class IntegerCell(_NumberCell, widgets.IntegerWidget):
    pass


class BooleanCell(widgets.BooleanWidget):
    """The library reads any word it does not know ("yes", "maybe") as False, which would
    quietly deactivate a product or turn its pre-order off: refused instead."""

    def clean(self, value, row=None, **kwargs):
        if value not in self.NULL_VALUES and value not in self.TRUE_VALUES and value not in self.FALSE_VALUES:
            raise ValueError(f"“{value}” is not one of 1, 0, true or false.")
        return super().clean(value, row=row, **kwargs)


STRICT_WIDGETS = {
    widgets.DecimalWidget: DecimalCell,
    widgets.IntegerWidget: IntegerCell,
    widgets.BooleanWidget: BooleanCell,
}


class PolicyColumn(fields.Field):
    """One backorder setting: its value, or ``global`` (the use_global_<name> flag set)."""

    def __init__(self, name: str):
        super().__init__(attribute=name, column_name=name)
        self.name = name
        self.model_field = Product._meta.get_field(name)

    def clean(self, row, **kwargs):
        raw = row[self.column_name]
        text = "" if raw is None else str(raw).strip()
        if text.lower() == USE_GLOBAL:
            return USE_GLOBAL
        if not text:
            if self.model_field.null:
                return None  # an empty limit: unlimited
            raise ValueError(f"Enter a value or “{USE_GLOBAL}”.")
        if self.model_field.choices:
            allowed = [value for value, _ in self.model_field.choices]
            if text not in allowed:
                raise ValueError(f"“{text}” is not one of {', '.join(allowed)} or {USE_GLOBAL}.")
            return text
        try:
            number = Decimal(text)
        except InvalidOperation:
            number = None
        if number is None or number != number.to_integral_value() or number < 0:
            raise ValueError(f"“{text}” is not a whole number of 0 or more, nor {USE_GLOBAL}.")
        return int(number)

    def save(self, instance, row, is_m2m=False, **kwargs):
        cleaned = self.clean(row, **kwargs)
        inherit = cleaned == USE_GLOBAL
        setattr(instance, f"use_global_{self.name}", inherit)
        if not inherit:
            setattr(instance, self.name, cleaned)

    def get_value(self, instance):
        # Both halves: "unchanged" (skip_unchanged) must see a switch to or from global.
        return (getattr(instance, f"use_global_{self.name}"), getattr(instance, self.name))

    def export(self, instance, **kwargs):
        if getattr(instance, f"use_global_{self.name}"):
            return USE_GLOBAL
        value = getattr(instance, self.name)
        return "" if value is None else value


class ProductResource(resources.ModelResource):
    class Meta:
        model = Product
        import_id_fields = ("sku",)
        fields = (
            "sku",
            "name",
            "slug",
            "price",
            "description",
            "is_active",
            *POLICY_FIELD_NAMES,
            "expected_restock_date",
            "preorder_enabled",
            "release_date",
            "preorder_limit",
            "backorder_label",
            "backorder_note",
            "preorder_label",
            "preorder_note",
        )
        export_order = fields
        clean_model_instances = True  # the model's validators and constraints, per row
        skip_unchanged = True
        report_skipped = True
        use_transactions = True

    @classmethod
    def widget_from_django_field(cls, f, default=widgets.Widget):
        widget = super().widget_from_django_field(f, default)
        return STRICT_WIDGETS.get(widget, widget)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        for name in POLICY_FIELD_NAMES:
            self.fields[name] = PolicyColumn(name)

    def before_import(self, dataset, **kwargs):
        stock = sorted(h for h in (dataset.headers or []) if str(h).strip().lower() in STOCK_COLUMNS)
        if stock:
            raise ValueError(
                f"Column(s) {', '.join(stock)}: stock is not imported with products; receive it "
                "through Receive stock or the restock CSV (each receipt counted once)."
            )
        super().before_import(dataset, **kwargs)

    def before_import_row(self, row, **kwargs):
        for column, value in row.items():
            if value is None:
                row[column] = ""  # an empty XLSX cell reads as None: the same as an empty CSV cell
            elif isinstance(value, str) and value[:1] == "'" and value[1:2] in FORMULA_STARTS:
                row[column] = value[1:]  # what _defused added on export

    def import_instance(self, instance, row, **kwargs):
        super().import_instance(instance, row, **kwargs)
        user = kwargs.get("user")  # the admin passes the importing user
        if instance._state.adding and user is not None and not user.has_perm("catalog.add_product"):
            raise ValidationError(
                {"sku": f"No product has SKU {row.get('sku')}; you may change products but not add them."}
            )
