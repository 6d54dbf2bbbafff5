"""A locmem mail backend whose server refuses some recipients, for retry tests."""

import smtplib

from django.core import mail
from django.core.mail.backends.locmem import EmailBackend


class RefusingBackend(EmailBackend):
    refuse: set[str] = set()  # addresses the "server" refuses
    down = False  # the whole server is unreachable

    def open(self):
        if RefusingBackend.down:
            raise ConnectionRefusedError("mail server down")
        return super().open()

    def send_messages(self, messages):
        for message in messages:
            if set(message.to) & RefusingBackend.refuse:
                raise smtplib.SMTPRecipientsRefused({message.to[0]: (550, b"no such user")})
        return super().send_messages(messages)


__all__ = ["RefusingBackend", "mail"]
