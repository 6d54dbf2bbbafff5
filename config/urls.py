from django.contrib import admin
from django.urls import include, path

from notifications import views as notification_views

urlpatterns = [
    path("admin/", admin.site.urls),
    # Before the auth URLs: the reset email goes through the outbox, rate-limited.
    path("accounts/password_reset/", notification_views.password_reset, name="password_reset"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("storefront.urls")),
    path("", include("notifications.urls")),
]

# Error pages in the storefront's or the admin's look (the 503 comes from config.middleware).
handler403 = "config.views.permission_denied"
