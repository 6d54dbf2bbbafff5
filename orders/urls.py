from django.urls import path

from . import views

app_name = "orders"

urlpatterns = [
    path("", views.product_list, name="product_list"),
    path("products/<slug:slug>/", views.product_detail, name="product_detail"),
    path("cart/", views.cart_detail, name="cart"),
    path("cart/add/", views.cart_add, name="cart_add"),
    path("cart/update/", views.cart_update, name="cart_update"),
    path("cart/remove/", views.cart_remove, name="cart_remove"),
    path("checkout/", views.checkout, name="checkout"),
    path("checkout/thanks/<str:number>/", views.order_confirmation, name="order_confirmation"),
    path("account/", views.account, name="account"),
    path("account/orders/<str:number>/", views.order_detail, name="order_detail"),
    path("account/orders/<str:number>/cancel/", views.order_row_cancel, name="order_row_cancel"),
    path("orders/<str:token>/", views.guest_order, name="guest_order"),
    path("orders/<str:token>/cancel/", views.guest_row_cancel, name="guest_row_cancel"),
    path("accounts/signup/", views.signup, name="signup"),
]
