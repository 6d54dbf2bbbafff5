"""Error pages in the look of the part of the site they answer for (storefront or admin)."""

from django.contrib import admin
from django.contrib.auth.models import Permission
from django.http import HttpResponse, HttpResponseForbidden
from django.template.loader import render_to_string
from django.urls import reverse

RETRY_AFTER_SECONDS = 60


def is_admin_request(request) -> bool:
    return request.path_info.startswith(reverse("admin:index"))


def service_unavailable(request) -> HttpResponse:
    """503 while the database is unreachable. Rendered without the request: the session,
    the user and the cart all live in the database."""
    if is_admin_request(request):
        site = admin.site
        context = {
            "site_header": site.site_header,
            "site_title": site.site_title,
            "title": "Temporarily unavailable",
        }
        html = render_to_string("admin/503.html", context)
    else:
        html = render_to_string("503.html")
    response = HttpResponse(html, status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def missing_permissions(request) -> list[dict]:
    """The permissions refused during this request (DeniedPermissionsMiddleware), in the
    order asked, each with its name: [{"perm": "orders.change_orderrow", "name": "Can change order row"}]."""
    perms = list(dict.fromkeys(getattr(request, "denied_permissions", [])))
    names = {}
    codenames = [perm.partition(".")[2] for perm in perms]
    for app_label, codename, name in Permission.objects.filter(codename__in=codenames).values_list(
        "content_type__app_label", "codename", "name"
    ):
        names[f"{app_label}.{codename}"] = name
    return [{"perm": perm, "name": names.get(perm, perm)} for perm in perms]


def permission_denied(request, exception=None):
    """handler403: admin pages name the permission that is missing; the storefront says no plainly."""
    user = request.user
    if is_admin_request(request) and user.is_active and user.is_staff:
        missing = missing_permissions(request)  # before each_context asks for more
        context = {
            **admin.site.each_context(request),
            "title": "Permission needed",
            "missing": missing,
            "reason": str(exception or ""),
        }
        return HttpResponseForbidden(render_to_string("admin/403.html", context, request))
    return HttpResponseForbidden(render_to_string("403.html", {}, request))
