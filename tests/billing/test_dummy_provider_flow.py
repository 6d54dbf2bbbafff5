"""The dummy provider's flow through django-payments' own API and callback view: the payer's
page, a 3-D Secure detour, the provider's return to our process URL, and what billing records."""

from decimal import Decimal as D

import pytest
from payments import FraudStatus, PaymentStatus, RedirectNeeded

from billing.models import EntryKind, EntryState, LedgerEntry
from billing.selectors import order_is_paid
from billing.services import payment_start
from tests.billing.factories import place
from tests.catalog.factories import ProductFactory
from tests.helpers import receive

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.urls("tests.billing.urls"),
    pytest.mark.usefixtures("global_settings"),
]


@pytest.fixture
def order(main, settings):
    settings.BILLING_SHIPPING, settings.BILLING_FREE_SHIPPING_FROM = "4.90", ""
    product = ProductFactory(price=D("20.00"))
    receive(product, 1, main)
    return place([(product, 1)])


def test_an_authorization_after_3d_secure_comes_back_through_the_process_url(client, order):
    payment = payment_start(order_id=order.pk)
    data = {
        "status": PaymentStatus.WAITING,
        "fraud_status": FraudStatus.ACCEPT,
        "gateway_response": "3ds-redirect",
        "verification_result": PaymentStatus.PREAUTH,
    }
    with pytest.raises(RedirectNeeded) as redirect:
        payment.get_form(data=data)
    assert str(redirect.value).startswith(f"/payments/process/{payment.token}/")
    assert not order_is_paid(order_id=order.pk)

    response = client.get(str(redirect.value))

    assert response.status_code == 302 and response.url == payment.get_success_url()
    (auth,) = LedgerEntry.objects.filter(order=order)
    assert (auth.kind, auth.state, auth.amount) == (EntryKind.AUTHORIZE, EntryState.SUCCEEDED, D("24.90"))
    assert order_is_paid(order_id=order.pk)


def test_a_gateway_error_records_nothing_and_the_payer_may_try_again(client, order):
    payment = payment_start(order_id=order.pk)
    data = {
        "status": PaymentStatus.ERROR,
        "fraud_status": FraudStatus.UNKNOWN,
        "gateway_response": "3ds-disabled",
    }
    with pytest.raises(RedirectNeeded) as redirect:
        payment.get_form(data=data)
    assert str(redirect.value) == payment.get_failure_url()
    assert not LedgerEntry.objects.exists()
    assert payment_start(order_id=order.pk) != payment  # a fresh attempt
