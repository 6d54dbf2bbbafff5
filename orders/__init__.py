"""Orders and their rows with statuses and events (``services.rows``), checkout, allocation of
stock to waiting rows, promise dates, shipments and cancellations (``services/``), the one
availability selector and the age groups of waiting rows (``selectors``), and the order admin.
Announces what happened through ``signals.py``; it imports only inventory and catalog.
"""
