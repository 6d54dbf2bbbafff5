from django.urls import path

from . import views

app_name = "notifications"

urlpatterns = [
    path("cancel/<str:token>/", views.row_cancel_link, name="row_cancel"),
]
