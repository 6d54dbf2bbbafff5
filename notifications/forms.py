"""Customer forms of notifications: the back-in-stock address, the password-reset request
and "find my order". Each is checked before anything is stored or sent."""

from django import forms
from django.contrib.auth.forms import PasswordResetForm
from django.core.exceptions import ValidationError

from . import accounts


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


EMAIL_ERRORS = {
    "required": "Enter your email address.",
    "invalid": "Enter a valid email address, like name@example.com.",
    "max_length": "An email address has at most 254 characters.",
}


def _email_field(label: str = "Your email address") -> SingleLineEmailField:
    field = SingleLineEmailField(label=label, max_length=254, error_messages=EMAIL_ERRORS)
    field.widget.attrs.update(autocomplete="email", spellcheck="false")
    return field


class SubscribeForm(forms.Form):
    email = SingleLineEmailField(label="Your email address", max_length=254, error_messages=EMAIL_ERRORS)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["email"].widget.attrs.update(autocomplete="email", spellcheck="false")


class PasswordResetOutboxForm(PasswordResetForm):
    """Django's reset form, but the email goes through the outbox instead of being sent
    during the request (where a mail server that is down would lose it)."""

    email = _email_field()

    def send_mail(
        self,
        subject_template_name,
        email_template_name,
        context,
        from_email,
        to_email,
        html_email_template_name=None,
    ):
        accounts.password_reset_mail(to=to_email, context=context)


class FindOrderForm(forms.Form):
    number = forms.CharField(
        label="Order number",
        max_length=20,
        help_text="As in your confirmation email, like R-ABCD2345.",
        error_messages={
            "required": "Enter your order number.",
            "max_length": "An order number has at most 20 characters.",
        },
    )
    email = _email_field("Email address the order was placed with")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["number"].widget.attrs.update(autocomplete="off", spellcheck="false")
