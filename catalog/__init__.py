"""Products and categories, the shop-wide backorder and pre-order defaults with each product's
overrides (``selectors.product_policy``, ``selectors.effective_setting`` for SQL), and the pure
rules that need nothing above them: availability (``availability.py``) and promise dates
(``promise.py``). The bottom app: it imports no other.
"""
