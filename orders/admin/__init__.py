from . import orders, returns  # noqa: F401
