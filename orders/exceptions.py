from dataclasses import dataclass


class OrderError(Exception):
    """Base of the orders domain errors; str() is a message for a person."""


@dataclass(frozen=True)
class LineProblem:
    product: str  # the product's name
    requested: int
    available: int | None  # what could be had now; None = unlimited
    reason: str

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
