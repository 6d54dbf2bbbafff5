"""Storefront forms: they parse input only; availability and ordering live in services."""

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import UserCreationForm

from orders.services import MAX_LINE_QUANTITY

# Larger than any primary key; keeps a lookup from overflowing the database integer.
MAX_ID = 2**63 - 1

QUANTITY_ERRORS = {
    "required": "Enter a quantity.",
    "invalid": "Quantity must be a whole number.",
    "min_value": "Quantity must be at least 1.",
    "max_value": f"Quantity must be at most {MAX_LINE_QUANTITY:,}.",
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


class CheckoutForm(forms.Form):
    email = forms.EmailField(
        label="Email", widget=forms.EmailInput(attrs={"autocomplete": "email"}), max_length=254
    )
    full_name = forms.CharField(
        label="Full name", max_length=150, widget=forms.TextInput(attrs={"autocomplete": "name"})
    )
    address = forms.CharField(
        label="Shipping address",
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 4, "autocomplete": "street-address"}),
    )

    def clean_full_name(self) -> str:
        name = self.cleaned_data["full_name"].strip()
        if not name:
            raise forms.ValidationError("Enter your name.")
        return name

    def clean_address(self) -> str:
        address = self.cleaned_data["address"].strip()
        if not address:
            raise forms.ValidationError("Enter a shipping address.")
        return address


class SignupForm(UserCreationForm):
    email = forms.EmailField(
        label="Email",
        max_length=254,
        help_text="Order updates go here.",
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )

    class Meta(UserCreationForm.Meta):
        model = get_user_model()
        fields = ("username", "email")

    def clean_email(self) -> str:
        email = self.cleaned_data["email"]
        if get_user_model().objects.filter(email__iexact=email).exists():
            raise forms.ValidationError("An account with this email already exists. Sign in instead.")
        return email
