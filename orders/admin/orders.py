# Order admin: see issue 3.
