"""Settings of the web processes bench/checkout_load.py starts: the development settings
(DEBUG off through the environment) with the yardstick's URL added (bench/load_urls.py)."""

from config.settings.local import *  # noqa: F403

ROOT_URLCONF = "bench.load_urls"
