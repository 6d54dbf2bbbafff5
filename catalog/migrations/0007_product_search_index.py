"""A GIN index for product search, on PostgreSQL only.

Not in Product.Meta: the embedded default (SQLite) has neither GIN indexes nor
to_tsvector, and SQLite rebuilds a table with every index the model declares whenever
a later migration alters it. So the index lives outside the migration state and is
created here only when the database is PostgreSQL. The expression must stay the one
catalog.search.product_search_vector() builds, or the planner cannot use the index.
"""

from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector
from django.db import migrations

INDEX_NAME = "catalog_product_search"


def _index() -> GinIndex:
    vector = SearchVector("name", weight="A", config="english") + SearchVector(
        "description", weight="B", config="english"
    )
    return GinIndex(vector, name=INDEX_NAME)


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.add_index(apps.get_model("catalog", "Product"), _index())


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.remove_index(apps.get_model("catalog", "Product"), _index())


class Migration(migrations.Migration):
    dependencies = [("catalog", "0006_discount_rules_alternatives")]

    operations = [migrations.RunPython(create_index, drop_index, elidable=False)]
