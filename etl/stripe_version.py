"""The API version the pinned `stripe` library speaks, read without importing it.

Importing the `stripe` package takes about 0.2 s (it loads aiohttp and
requests), which every sync would wait for before its first request, and the
sync uses only these two strings from it. They come from the same files the
library reads (tests/etl/test_stripe_version.py compares them with the
imported library).
"""
from __future__ import annotations

import importlib.metadata
import importlib.util
from pathlib import Path


def _load_api_version_module():
    package = Path(importlib.util.find_spec("stripe").submodule_search_locations[0])
    spec = importlib.util.spec_from_file_location("_tally_stripe_api_version",
                                                  package / "_api_version.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


API_VERSION: str = _load_api_version_module()._ApiVersion.CURRENT
LIBRARY_VERSION: str = importlib.metadata.version("stripe")
