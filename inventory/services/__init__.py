"""Every write inventory does. Import services from here.

stock: stock rows and the ledger (receipts, corrections, the allocation counters);
inbound: supply expected on a date, until it is received or cancelled;
purchasing: purchase orders from draft to received, their lines' inbound supply and receipts.
"""

from .inbound import announce_supply_changed, inbound_cancel, inbound_create, inbound_receive, inbound_update
from .purchasing import (
    DraftLine,
    LineReceipt,
    LineReceiptResult,
    purchase_order_add_lines,
    purchase_order_cancel,
    purchase_order_create_draft,
    purchase_order_line_receive,
    purchase_order_move,
    purchase_order_receive_many,
    purchase_order_send,
    receipt_reference,
    receipts_apply,
)
from .stock import (
    FixResult,
    ReceiptLine,
    ReceiptResult,
    StockKey,
    announce_stock_freed,
    check_quantity,
    stock_adjust,
    stock_allocate,
    stock_count,
    stock_lock,
    stock_receive,
    stock_receive_many,
    stock_reconcile_fix,
    stock_release,
    stock_return,
    stock_ship,
)

__all__ = [
    "DraftLine",
    "LineReceipt",
    "LineReceiptResult",
    "purchase_order_add_lines",
    "purchase_order_cancel",
    "purchase_order_create_draft",
    "purchase_order_line_receive",
    "purchase_order_move",
    "purchase_order_receive_many",
    "purchase_order_send",
    "receipt_reference",
    "receipts_apply",
    "FixResult",
    "ReceiptLine",
    "ReceiptResult",
    "StockKey",
    "announce_stock_freed",
    "announce_supply_changed",
    "check_quantity",
    "inbound_cancel",
    "inbound_create",
    "inbound_receive",
    "inbound_update",
    "stock_adjust",
    "stock_allocate",
    "stock_count",
    "stock_lock",
    "stock_receive",
    "stock_receive_many",
    "stock_reconcile_fix",
    "stock_release",
    "stock_return",
    "stock_ship",
]
