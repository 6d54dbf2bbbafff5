"""Middleware: error pages a person can act on, and the admin's language.

DatabaseUnavailableMiddleware: a database that cannot be reached answers a friendly
503 (storefront or admin look), logged with the exception, instead of a bare 500.

AdminLanguageMiddleware: the admin keeps the merchant's language.

DeniedPermissionsMiddleware: notes every permission the user was refused during the
request, so the 403 page (config.views.permission_denied) can name the one missing.
"""

import logging
from functools import lru_cache, partial

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.urls import reverse
from django.utils import translation
from django.utils.functional import SimpleLazyObject

from .views import service_unavailable

logger = logging.getLogger(__name__)

# OperationalError: server down, refused, timed out, restarting; InterfaceError: the
# connection was closed under the request.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError)


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, DATABASE_UNAVAILABLE):
            return None
        logger.error(
            "Database unavailable: %s %s answered 503",
            request.method,
            request.path,
            exc_info=exception,
        )
        if settings.DEBUG:
            return None  # the developer's traceback page
        return service_unavailable(request)


def _watch_permissions(user, denied: list[str]):
    """USER, whose has_perm also appends each refused permission to DENIED."""
    has_perm = user.has_perm

    def recording_has_perm(perm, obj=None):
        allowed = has_perm(perm, obj)
        if not allowed:
            denied.append(perm)
        return allowed

    user.has_perm = recording_has_perm  # has_perms() goes through it too
    return user


class DeniedPermissionsMiddleware:
    """After AuthenticationMiddleware. The user stays lazy: no query unless the view asks."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.denied_permissions = []
        request.user = SimpleLazyObject(partial(_watch_permissions, request.user, request.denied_permissions))
        return self.get_response(request)


class AdminLanguageMiddleware:
    """The admin in the merchant's language (settings.ADMIN_LANGUAGE_CODE): the storefront's
    language cookie or a browser's Accept-Language choose the customer's pages only."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path_info.startswith(_admin_prefix()):
            translation.activate(settings.ADMIN_LANGUAGE_CODE)
            request.LANGUAGE_CODE = translation.get_language()
        return self.get_response(request)


@lru_cache(maxsize=1)
def _admin_prefix() -> str:
    return reverse("admin:index")
