"""The project's URLs and handlers plus one storefront page that refuses everyone (403)."""

from django.core.exceptions import PermissionDenied
from django.urls import path

from config.urls import handler403, urlpatterns

__all__ = ["handler403", "urlpatterns"]


def forbidden(request):
    raise PermissionDenied


urlpatterns = [path("forbidden/", forbidden), *urlpatterns]
