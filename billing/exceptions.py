"""Billing's domain errors: each carries its data; str() is a message for a person.
Raised before anything is written."""

from decimal import Decimal


class BillingError(Exception):
    pass


class RowNotInOrder(BillingError):
    def __init__(self, *, order: str, row_ids: list[int]) -> None:
        self.order, self.row_ids = order, row_ids
        super().__init__(f"Rows {row_ids} are not rows of order {order}.")


class AmountNotOrders(BillingError):
    """An amount in another currency than the order's, or not a positive amount of it."""

    def __init__(self, *, order: str, amount: Decimal, currency: str, expected_currency: str) -> None:
        self.order, self.amount, self.currency, self.expected_currency = (
            order,
            amount,
            currency,
            expected_currency,
        )
        super().__init__(
            f"{amount} {currency} is not an amount of order {order} (paid in {expected_currency})."
        )


class RefundAboveCapture(BillingError):
    def __init__(self, *, order: str, requested: Decimal, available: Decimal) -> None:
        self.order, self.requested, self.available = order, requested, available
        super().__init__(
            f"Order {order}: a refund of {requested} is more than the {available} captured and not refunded."
        )


class RowNotRefundable(BillingError):
    def __init__(self, *, order: str, row_id: int, status: str) -> None:
        self.order, self.row_id, self.status = order, row_id, status
        super().__init__(f"Order {order}, row {row_id} is {status}; only cancelled rows are refunded here.")


class CaptureOfCancelledRow(BillingError):
    def __init__(self, *, order: str, row_ids: list[int]) -> None:
        self.order, self.row_ids = order, row_ids
        super().__init__(f"Order {order}: rows {row_ids} are cancelled and are never charged.")


class NotPayable(BillingError):
    """The order cannot be paid now: already paid, window closed, nothing left, or no totals."""

    def __init__(self, *, order: str, reason: str) -> None:
        self.order, self.reason = order, reason
        super().__init__(f"Order {order} cannot be paid: {reason}")


class ReturnNotRefundable(BillingError):
    """The return's units cannot be refunded now: what charged them is not settled, or absent."""

    def __init__(self, *, order: str, return_id: int, reason: str) -> None:
        self.order, self.return_id, self.reason = order, return_id, reason
        super().__init__(f"Order {order}, return {return_id} cannot be refunded: {reason}")
