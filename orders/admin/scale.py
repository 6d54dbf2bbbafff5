"""What lets the order and order-row changelists stay fast at a million rows: a paginator that
does not count a million rows nor join the rows it skips, and a product filter that does not
list every product (an autocomplete, through Django's own admin autocomplete view).
"""

import json

from django import forms
from django.contrib import admin
from django.contrib.admin.widgets import AutocompleteSelect
from django.core.paginator import Paginator
from django.db import connections
from django.utils.functional import cached_property

# Counted exactly up to this many rows (ten pages); beyond it, PostgreSQL's planner estimate
# is shown: counting 10,000 matches of a filter such as "has backordered rows" took 0.5 s.
EXACT_COUNT_LIMIT = 1_000


class LargeTablePaginator(Paginator):
    """Counts exactly up to EXACT_COUNT_LIMIT matches (a bounded count stops there), and beyond
    that takes the planner's estimate of the same query (``estimated`` is then true and the
    page says "about"): an exact count of a million rows costs more than the whole page. A
    page first reads its primary keys alone (a walk of the ordering's index), then only those
    rows with their joins, instead of joining every row it skips."""

    estimated = False

    @cached_property
    def count(self) -> int:
        rows = self.object_list.order_by()
        bounded = rows.values("pk")[: EXACT_COUNT_LIMIT + 1].count()
        if bounded <= EXACT_COUNT_LIMIT:
            return bounded
        connection = connections[rows.db]
        if connection.vendor != "postgresql":
            return rows.count()
        sql, params = rows.values("pk").query.get_compiler(using=rows.db).as_sql()
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (FORMAT JSON) " + sql, params)
            plan = cursor.fetchone()[0]
        plan = json.loads(plan) if isinstance(plan, str) else plan
        self.estimated = True
        return max(int(plan[0]["Plan"]["Plan Rows"]), bounded)

    def validate_number(self, number):
        if self.estimated:  # the last page of an estimate may hold fewer rows, or none
            return max(self._validate_int(number), 1)
        return super().validate_number(number)

    def _validate_int(self, number) -> int:
        try:
            return int(number)
        except (TypeError, ValueError):
            return 1

    def page(self, number):
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        ids = list(self.object_list.values_list("pk", flat=True)[bottom : bottom + self.per_page])
        # Same ordering and joins, over this page's rows only.
        return self._get_page(self.object_list.filter(pk__in=ids), number, self)


class AutocompleteFilter(admin.FieldListFilter):
    """A foreign-key filter chosen with the admin's autocomplete widget (select2, searched
    through the related model admin's search_fields), for a relation with too many objects
    to list as links. Use as ``("product", AutocompleteFilter)``."""

    template = "admin/autocomplete_filter.html"

    def __init__(self, field, request, params, model, model_admin, field_path):
        self.lookup_kwarg = f"{field_path}__{field.target_field.name}__exact"
        super().__init__(field, request, params, model, model_admin, field_path)
        self.admin_site = model_admin.admin_site
        chosen = self.used_parameters.get(self.lookup_kwarg)
        self.value = chosen[-1] if isinstance(chosen, list) and chosen else chosen

    def expected_parameters(self):
        return [self.lookup_kwarg]

    def choices(self, changelist):
        yield {
            "selected": self.value is None,
            "query_string": changelist.get_query_string(remove=[self.lookup_kwarg]),
            "display": "All",
        }

    def widget(self) -> str:
        """The select2 box, holding the chosen object (one query) and nothing else."""
        select = AutocompleteSelect(self.field, self.admin_site, attrs={"data-filter": self.lookup_kwarg})
        chooser = forms.ModelChoiceField(
            queryset=self.field.remote_field.model._default_manager.all(), widget=select, required=False
        )
        return chooser.widget.render(self.lookup_kwarg, self.value, attrs={"id": f"filter-{self.field_path}"})

    @staticmethod
    def filter_media(model_field, admin_site) -> forms.Media:
        """What the changelist page needs for it (select2 and the reload on choice)."""
        return AutocompleteSelect(model_field, admin_site).media + forms.Media(
            js=["admin/js/autocomplete_filter.js"]
        )
