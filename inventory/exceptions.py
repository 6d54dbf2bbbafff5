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
