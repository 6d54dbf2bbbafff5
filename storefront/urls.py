from django.urls import path

from .views import account, accounts, cart, catalogue, checkout, links, payment, waitlist

app_name = "storefront"

urlpatterns = [
    path("", catalogue.product_list, name="product_list"),
    path("products/<slug:slug>/", catalogue.product_detail, name="product_detail"),
    path("category/<slug:slug>/", catalogue.category_detail, name="category_detail"),
    path("cart/", cart.cart_detail, name="cart"),
    path("cart/add/", cart.cart_add, name="cart_add"),
    path("cart/update/", cart.cart_update, name="cart_update"),
    path("cart/remove/", cart.cart_remove, name="cart_remove"),
    path("checkout/", checkout.checkout, name="checkout"),
    path("checkout/thanks/<str:number>/", checkout.order_confirmation, name="order_confirmation"),
    path("checkout/pay/<str:number>/", payment.order_pay, name="order_pay"),
    path("checkout/pay/<str:number>/shipment/<int:entry_id>/", payment.shipment_pay, name="shipment_pay"),
    path("checkout/paid/<str:token>/", payment.payment_success, name="payment_success"),
    path("checkout/not-paid/<str:token>/", payment.payment_failure, name="payment_failure"),
    path("account/", account.account, name="account"),
    path("account/orders/<str:number>/", account.order_detail, name="order_detail"),
    path("account/orders/<str:number>/cancel/", account.order_row_cancel, name="order_row_cancel"),
    path("account/orders/<str:number>/return/", account.order_return, name="order_return"),
    path("orders/<str:token>/", links.guest_order, name="guest_order"),
    path("orders/<str:token>/cancel/", links.guest_row_cancel, name="guest_row_cancel"),
    path("orders/<str:token>/pay/", payment.guest_pay, name="guest_pay"),
    path("orders/<str:token>/pay/<int:entry_id>/", payment.guest_shipment_pay, name="guest_shipment_pay"),
    path("accounts/signup/", accounts.signup, name="signup"),
    path("cancel/<str:token>/", links.row_cancel_link, name="row_cancel"),
    path("notify-me/<slug:slug>/", waitlist.subscribe, name="subscribe"),
    path("unsubscribe/<str:token>/", waitlist.unsubscribe, name="unsubscribe"),
    path("account/subscriptions/", waitlist.subscriptions, name="subscriptions"),
    path("find-my-order/", accounts.find_order, name="find_order"),
]
