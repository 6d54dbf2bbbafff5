"""The back-in-stock form: one email address, checked before anything is stored."""

from django import forms
from django.core.exceptions import ValidationError


def normalize_email(value: str) -> str:
    """The address as the rate limit counts it: trimmed and case-folded."""
    return value.strip().lower()


class SingleLineEmailField(forms.EmailField):
    """An email address that may not hold a line break anywhere, not even at the end
    (where plain EmailField would trim it away): a header injection attempt is refused."""

    def to_python(self, value):
        if isinstance(value, str) and ("\n" in value or "\r" in value):
            raise ValidationError("An email address cannot contain a line break.", code="line_break")
        return super().to_python(value)


class SubscribeForm(forms.Form):
    email = SingleLineEmailField(
        label="Your email address",
        max_length=254,
        error_messages={
            "required": "Enter your email address.",
            "invalid": "Enter a valid email address, like name@example.com.",
            "max_length": "An email address has at most 254 characters.",
        },
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["email"].widget.attrs.update(autocomplete="email", spellcheck="false")
