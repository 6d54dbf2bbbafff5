# Product admin: see issue 2.
