"""Customer pages, one module per part of the shop: catalogue, cart, checkout, account (the
signed-in customer's orders), links (signed links from confirmations and emails), waitlist
(back-in-stock alerts) and accounts (sign-up, sign-in lockout, password reset, find my order)."""
