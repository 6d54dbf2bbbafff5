"""Fixtures only the inventory tests use (main and overflow come from tests/conftest.py)."""

import pytest

from tests.catalog.factories import ProductFactory
from tests.inventory.factories import SourceFactory


@pytest.fixture
def shop():
    return SourceFactory(code="shop", name="Shop floor", priority=2)


@pytest.fixture
def kettle():
    return ProductFactory(sku="KETTLE-1", name="Copper kettle")


@pytest.fixture
def product(kettle):
    """The one product of a test that needs only one."""
    return kettle


@pytest.fixture
def teapot():
    return ProductFactory(sku="TEAPOT-1", name="Stoneware teapot")
