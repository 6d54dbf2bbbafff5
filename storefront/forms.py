"""Storefront forms: they parse input only; availability, ordering and the emails they ask
for live in services (the password reset's email goes through notifications' outbox)."""

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import PasswordResetForm, UserCreationForm
from django.core.exceptions import ValidationError
from django.utils import translation
from django.utils.formats import number_format
from django.utils.functional import lazy
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from catalog.search import MAX_QUERY_LENGTH
from notifications.accounts import password_reset_mail
from orders.selectors import IN_STOCK_NOW, ORDERABLE
from orders.services import MAX_LINE_QUANTITY

# Larger than any primary key; keeps a lookup from overflowing the database integer.
MAX_ID = 2**63 - 1

QUANTITY_ERRORS = {
    "required": _("Enter a quantity."),
    "invalid": _("Quantity must be a whole number."),
    "min_value": _("Quantity must be at least 1."),
    "max_value": lazy(
        lambda: (
            gettext("Quantity must be at most %(n)s.")
            % {"n": number_format(MAX_LINE_QUANTITY, force_grouping=True)}
        ),
        str,
    )(),
}


def quantity_field(**kwargs) -> forms.IntegerField:
    return forms.IntegerField(
        min_value=1,
        max_value=MAX_LINE_QUANTITY,
        error_messages=QUANTITY_ERRORS,
        widget=forms.NumberInput(attrs={"inputmode": "numeric", "class": "qty"}),
        **kwargs,
    )


def id_field() -> forms.IntegerField:
    return forms.IntegerField(min_value=1, max_value=MAX_ID, widget=forms.HiddenInput)


class QuantityForm(forms.Form):
    """The quantity a customer is looking at on the product page (GET)."""

    quantity = quantity_field(initial=1)


class CartLineForm(forms.Form):
    """Add to cart, or change a line's quantity."""

    product_id = id_field()
    quantity = quantity_field(initial=1)


class CartRemoveForm(forms.Form):
    product_id = id_field()


class RowCancelForm(forms.Form):
    row_id = id_field()


class ReturnRequestForm(forms.Form):
    """Units of one shipped row the customer asks to send back, and why."""

    row_id = id_field()
    quantity = quantity_field(label=_("Quantity to return"))
    reason = forms.CharField(
        label=_("Why are you returning it?"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 40}),
        error_messages={"required": _("Please say why you are returning these items.")},
    )


class CheckoutForm(forms.Form):
    email = forms.EmailField(
        label=_("Email"), widget=forms.EmailInput(attrs={"autocomplete": "email"}), max_length=254
    )
    full_name = forms.CharField(
        label=_("Full name"), max_length=150, widget=forms.TextInput(attrs={"autocomplete": "name"})
    )
    address = forms.CharField(
        label=_("Shipping address"),
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 4, "autocomplete": "street-address"}),
    )

    def clean_full_name(self) -> str:
        name = self.cleaned_data["full_name"].strip()
        if not name:
            raise forms.ValidationError(_("Enter your name."))
        return name

    def clean_address(self) -> str:
        address = self.cleaned_data["address"].strip()
        if not address:
            raise forms.ValidationError(_("Enter a shipping address."))
        return address


class SignupForm(UserCreationForm):
    email = forms.EmailField(
        label=_("Email"),
        max_length=254,
        help_text=_("Order updates go here."),
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )

    class Meta(UserCreationForm.Meta):
        model = get_user_model()
        fields = ("username", "email")

    def clean_email(self) -> str:
        email = self.cleaned_data["email"]
        if get_user_model().objects.filter(email__iexact=email).exists():
            raise forms.ValidationError(_("An account with this email already exists. Sign in instead."))
        return email


# -- back-in-stock address, password reset, find my order --------------------------------------


def normalize_email(value: str) -> str:
    """The address as the rate limit counts it: trimmed and case-folded."""
    return value.strip().lower()


def posted_address(group: str, request) -> str:
    """django-ratelimit key: the address the form names, however it is spelled."""
    return normalize_email(request.POST.get("email", ""))


class SingleLineEmailField(forms.EmailField):
    """An email address that may not hold a line break anywhere, not even at the end
    (where plain EmailField would trim it away): a header injection attempt is refused."""

    def to_python(self, value):
        if isinstance(value, str) and ("\n" in value or "\r" in value):
            raise ValidationError(_("An email address cannot contain a line break."), code="line_break")
        return super().to_python(value)


EMAIL_ERRORS = {
    "required": _("Enter your email address."),
    "invalid": _("Enter a valid email address, like name@example.com."),
    "max_length": _("An email address has at most 254 characters."),
}


def _email_field(label=None) -> SingleLineEmailField:
    field = SingleLineEmailField(
        label=label or _("Your email address"), max_length=254, error_messages=EMAIL_ERRORS
    )
    field.widget.attrs.update(autocomplete="email", spellcheck="false")
    return field


class SubscribeForm(forms.Form):
    email = SingleLineEmailField(label=_("Your email address"), max_length=254, error_messages=EMAIL_ERRORS)

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
        # The reset is asked for on a page in the customer's language: the email follows it.
        password_reset_mail(to=to_email, context=context, language=translation.get_language())


class FindOrderForm(forms.Form):
    number = forms.CharField(
        label=_("Order number"),
        max_length=20,
        help_text=_("As in your confirmation email, like R-ABCD2345."),
        error_messages={
            "required": _("Enter your order number."),
            "max_length": _("An order number has at most 20 characters."),
        },
    )
    email = _email_field(_("Email address the order was placed with"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["number"].widget.attrs.update(autocomplete="off", spellcheck="false")


# Sort keys of the product listings; "" is the best match for a search, else by name.
SORT_BY_SHIPS_BY = "ships_by"


class ProductFilterForm(forms.Form):
    """What a customer searches, keeps and sorts on the product listings (GET, no JavaScript)."""

    # Longer text is cut by the search (catalog.search), not refused.
    q = forms.CharField(
        label=_("Search"),
        required=False,
        widget=forms.TextInput(attrs={"type": "search", "maxlength": MAX_QUERY_LENGTH}),
    )
    availability = forms.ChoiceField(
        label=_("Availability"),
        required=False,
        choices=[
            ("", _("All products")),
            (IN_STOCK_NOW, _("In stock now")),
            (ORDERABLE, _("Can be ordered")),
        ],
    )
    sort = forms.ChoiceField(
        label=_("Sort by"),
        required=False,
        choices=[
            ("", _("Best match")),
            ("name", _("Name")),
            ("price", _("Price: low to high")),
            ("-price", _("Price: high to low")),
            (SORT_BY_SHIPS_BY, _("Ships soonest")),
        ],
    )

    def values(self) -> tuple[str, str, str]:
        """(text, availability, sort), each falling back to its default when not valid."""
        self.is_valid()
        data = self.cleaned_data
        return data.get("q", ""), data.get("availability", ""), data.get("sort", "")
