"""The merchant's side of the shop, on top of the domain apps: the admin site
(``admin_site.RestockAdminSite``, made the default site by config.apps), the backorder
dashboard with its charts and CSV exports, the product admin that shows availability
and stock (catalog's model, registered here because it reads orders and inventory),
and the development commands ``seed_demo`` (demo data) and ``simulate_shop`` (a shop
on a fake clock; its harness, ``simulation.py``, is loaded only when that command runs).

Like storefront it parses input, asks selectors and calls services; no business rule
lives here.
"""
