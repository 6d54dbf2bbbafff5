from django.urls import path

from . import views

app_name = "notifications"

urlpatterns = [
    path("cancel/<str:token>/", views.row_cancel_link, name="row_cancel"),
    path("notify-me/<slug:slug>/", views.subscribe, name="subscribe"),
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("account/subscriptions/", views.subscriptions, name="subscriptions"),
    path("find-my-order/", views.find_order, name="find_order"),
]
