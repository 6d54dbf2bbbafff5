"""What catalog announces; apps above it react (catalog imports none of them)."""

from django.dispatch import Signal

# A bulk write changed products' settings without saving each one (no post_save):
# sent inside the transaction with product_ids=[...]; receivers act after commit.
products_settings_changed = Signal()
