"""Product search: PostgreSQL full-text search, ranked; a plain "contains" on other databases.

On PostgreSQL the vector is an expression over name (weight A) and description (weight B),
so a name hit ranks above a description hit. A GIN index on exactly that expression
(migration 0007, created on PostgreSQL only) answers the match; keep the two in step
(tests/catalog/test_search.py checks the plan uses the index).
"""

from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector
from django.db import connections
from django.db.models import Case, FloatField, Q, QuerySet, Value, When

# The text search configuration: English stemming ("kettles" finds "kettle").
SEARCH_CONFIG = "english"
MAX_QUERY_LENGTH = 100


def product_search_vector() -> SearchVector:
    return SearchVector("name", weight="A", config=SEARCH_CONFIG) + SearchVector(
        "description", weight="B", config=SEARCH_CONFIG
    )


def products_matching(queryset: QuerySet, *, text: str) -> QuerySet:
    """The products of ``queryset`` that match ``text``, annotated with ``rank`` (higher is better).

    Not ordered: the caller sorts by ``-rank`` or by what the customer chose.
    """
    text = " ".join(text.split())[:MAX_QUERY_LENGTH]
    if not text:
        return queryset.annotate(rank=Value(0.0, output_field=FloatField()))
    if connections[queryset.db].vendor == "postgresql":
        return match_full_text(queryset, text=text)
    return match_contains(queryset, text=text)


def match_full_text(queryset: QuerySet, *, text: str) -> QuerySet:
    vector = product_search_vector()
    query = SearchQuery(text, search_type="websearch", config=SEARCH_CONFIG)
    return queryset.alias(search=vector).filter(search=query).annotate(rank=SearchRank(vector, query))


def match_contains(queryset: QuerySet, *, text: str) -> QuerySet:
    """Every word in the name or the description; name hits first (any database: SQLite,
    the embedded default, and bench/search.py's baseline)."""
    matched = Q()
    in_name = Q()
    for word in text.split():
        matched &= Q(name__icontains=word) | Q(description__icontains=word)
        in_name &= Q(name__icontains=word)
    return queryset.filter(matched).annotate(
        rank=Case(When(in_name, then=Value(1.0)), default=Value(0.5), output_field=FloatField())
    )
