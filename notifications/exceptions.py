class NotificationError(Exception):
    """Base of the notifications domain errors; str() is a message for a person."""


class HeaderInjection(NotificationError):
    def __init__(self, *, field: str, value: str) -> None:
        self.field, self.value = field, value
        super().__init__(f"Refused to write an email: the {field} {value!r} contains a line break.")


class NotResendable(NotificationError):
    def __init__(self, *, message_id: int, reason: str) -> None:
        self.message_id, self.reason = message_id, reason
        super().__init__(f"Email {message_id} cannot be resent: {reason}")
