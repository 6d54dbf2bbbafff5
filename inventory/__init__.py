"""Sources and stock per source, the movement ledger, receipts and restock imports, inbound
supply (``services/``: stock, inbound). Free stock is defined here once (``models.free_units``,
``StockQuerySet.free_of``/``free_by_product``, ``Stock.free``), and so is the low-stock rule
(``selectors.products_low_on_stock``). It imports only catalog.
"""
