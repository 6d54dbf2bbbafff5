from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path

from storefront.views import accounts as storefront_accounts

urlpatterns = [
    path("admin/", admin.site.urls),
    # Before the auth URLs: the reset email goes through the outbox, rate-limited.
    path("accounts/password_reset/", storefront_accounts.password_reset, name="password_reset"),
    path("accounts/", include("django.contrib.auth.urls")),
    # django-payments' callbacks (the provider's return and webhooks)
    path("payments/", include("payments.urls")),
    # The language switcher posts to set_language (a cookie; works without JavaScript).
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("storefront.urls")),
]
# Uploaded pictures in development (static() adds nothing unless DEBUG is on).
urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)

# Error pages in the storefront's or the admin's look (the 503 comes from config.middleware).
handler403 = "config.views.permission_denied"
