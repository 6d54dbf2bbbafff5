class InventoryError(Exception):
    """Base of the inventory domain errors; str() is a message for a person."""


class InvalidQuantity(InventoryError):
    def __init__(self, *, field: str, value: object, message: str) -> None:
        self.field, self.value = field, value
        super().__init__(message)


class StockWouldGoNegative(InventoryError):
    def __init__(self, *, product: str, source: str, on_hand: int, allocated: int, change: int):
        self.product, self.source = product, source
        self.on_hand, self.allocated, self.change = on_hand, allocated, change
        super().__init__(
            f"{product} at {source}: a change of {change:+d} would leave {on_hand + change} "
            f"on hand with {allocated} allocated."
        )


class RestockFileInvalid(InventoryError):
    """A restock file with bad rows; nothing of it was applied."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        super().__init__(f"{len(errors)} bad row(s); nothing was applied:\n" + "\n".join(errors))


class PurchasingError(InventoryError):
    """A purchase order or supplier rule was broken; nothing was changed."""


class IllegalPurchaseOrderMove(PurchasingError):
    def __init__(self, *, number: str, from_status: str, to_status: str) -> None:
        self.number, self.from_status, self.to_status = number, from_status, to_status
        super().__init__(f"Purchase order {number} cannot move from {from_status} to {to_status}.")


class OverReceipt(PurchasingError):
    def __init__(self, *, line: str, product: str, quantity: int, outstanding: int) -> None:
        self.line, self.product, self.quantity, self.outstanding = line, product, quantity, outstanding
        super().__init__(
            f"{line} ({product}): receiving {quantity} would exceed what is outstanding "
            f"({outstanding}); nothing was received."
        )
