"""Paying on the storefront's payment page with django-payments' dummy provider, as a payer's
browser does: open the page, submit the provider's form, follow the redirects back."""

from payments import FraudStatus, PaymentStatus

APPROVE = PaymentStatus.PREAUTH  # the card is authorized (charged per shipment)
CHARGE = PaymentStatus.CONFIRMED  # charged at once
DECLINE = PaymentStatus.REJECTED


def dummy_answer(status: str, *, three_d_secure: str | None = None) -> dict:
    """The dummy provider's form as the payer fills it in; ``three_d_secure``: the status the
    3-D Secure detour ends with."""
    data = {"status": status, "fraud_status": FraudStatus.ACCEPT, "gateway_response": "3ds-disabled"}
    if three_d_secure:
        data.update(gateway_response="3ds-redirect", verification_result=three_d_secure)
    return data


def pay(client, pay_url: str, status: str = APPROVE, **answer):
    """Open the payment page at ``pay_url``, answer the provider, land where it sends us."""
    page = client.get(pay_url)
    assert page.status_code == 200, page.status_code
    return client.post(pay_url, dummy_answer(status, **answer), follow=True)


def texts(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]
