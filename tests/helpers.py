"""Small helpers shared by tests."""

from uuid import uuid4

from inventory.services import stock_receive


def receive(product, quantity: int, source, reference: str | None = None):
    """Put units on the shelf through the real service (ledger included)."""
    ref = reference or f"TEST-{uuid4().hex[:10]}"
    return stock_receive(source=source, product=product, quantity=quantity, reference=ref)


def staff_client(client, *perms: str, username: str = "clerk"):
    """Log ``client`` in as a staff user holding only the given permissions ("app.codename")."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission

    user = get_user_model().objects.create_user(username, password="pw", is_staff=True)
    for perm in perms:
        app_label, codename = perm.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    client.force_login(user)
    return client
