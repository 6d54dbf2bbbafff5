from . import orders  # noqa: F401
