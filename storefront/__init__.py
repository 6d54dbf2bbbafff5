"""Every page a customer sees: the catalogue, the cart, checkout and its confirmation, the
account and order pages, signed guest and cancel links, the back-in-stock forms, "find my
order", sign-up, password reset and the sign-in lockout page; with their forms, the session
cart, the ``shop`` template tags and templates/storefront/.

Pages parse input, ask the selectors of the apps below for what to show and call their
services for every write; no business rule lives here.
"""
