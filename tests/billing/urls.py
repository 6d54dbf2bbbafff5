"""The project's URLs plus django-payments' callbacks, as config/urls.py will mount them
(``payments/``) once the storefront's payment pages exist."""

from django.urls import include, path

from config.urls import urlpatterns as project

urlpatterns = [path("payments/", include("payments.urls")), *project]
