from dataclasses import dataclass

from django.utils.translation import gettext as _


class OrderError(Exception):
    """Base of the orders domain errors; str() is a message for a person."""


@dataclass(frozen=True)
class LineProblem:
    product: str  # the product's name
    requested: int
    available: int | None  # what could be had now; None = unlimited
    reason: str
    product_id: int | None = None  # None: the product no longer exists

    def __str__(self) -> str:
        return self.reason


class CheckoutRefused(OrderError):
    """Some lines cannot be had; nothing was written."""

    def __init__(self, problems: list[LineProblem]) -> None:
        self.problems = problems
        super().__init__(" ".join(str(p) for p in problems))


class EmptyCart(OrderError):
    def __init__(self) -> None:
        super().__init__("Your cart is empty.")


class InvalidTransition(OrderError):
    def __init__(self, *, row_id: int, from_status: str, to_status: str) -> None:
        self.row_id, self.from_status, self.to_status = row_id, from_status, to_status
        super().__init__(f"Row {row_id} cannot move from {from_status} to {to_status}.")


class NotAllowed(OrderError):
    """The user may not do this to this row or order."""


class NotEnoughFreeStock(OrderError):
    def __init__(self, *, product: str, source: str, needed: int, free: int) -> None:
        self.product, self.source, self.needed, self.free = product, source, needed, free
        super().__init__(f"{product}: {source} has {free} free, {needed} needed.")


class ReturnRefused(OrderError):
    """More units asked back than the row can still return (shipped − already returned or asked)."""

    def __init__(
        self, *, product: str, order: str, line_no: int, row_id: int, requested: int, returnable: int
    ):
        self.product, self.order, self.line_no, self.row_id = product, order, line_no, row_id
        self.requested, self.returnable = requested, returnable
        super().__init__(
            _(
                "%(product)s (order %(order)s, line %(line)s): %(returnable)s can still be returned; "
                "you asked to return %(requested)s."
            )
            % {
                "product": product,
                "order": order,
                "line": line_no,
                "returnable": returnable,
                "requested": requested,
            }
        )


class InvalidReturnMove(OrderError):
    def __init__(self, *, return_id: int, from_status: str, to_status: str) -> None:
        self.return_id, self.from_status, self.to_status = return_id, from_status, to_status
        super().__init__(f"Return {return_id} cannot move from {from_status} to {to_status}.")


class InvalidTracking(OrderError):
    def __init__(self, *, field: str, value: str, message: str) -> None:
        self.field, self.value = field, value
        super().__init__(message)


class ReplenishmentRefused(OrderError):
    """Some selected suggestions cannot become purchase order lines; no order was drafted.
    ``problems``: (SKU, reason) per product, e.g. ("MUG-1", "no preferred supplier")."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__(" ".join(f"{sku}: {reason}." for sku, reason in problems))
