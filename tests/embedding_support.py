"""Whether the tests of semantic matching can run the real model, shared by their modules.

Without the `embeddings` extra the tests marked `needs_model` skip, unless
GAPBOT_TEST_EMBEDDINGS=1 (CI sets it): then a module importing this fails to load.
"""

from __future__ import annotations

import os

import pytest

from config.settings import embeddings_installed

MODEL_MISSING = not embeddings_installed()
if MODEL_MISSING and os.environ.get("GAPBOT_TEST_EMBEDDINGS") == "1":
    pytest.fail(
        "GAPBOT_TEST_EMBEDDINGS=1 but the embeddings extra is not installed: "
        "see README, Optional: semantic matching",
        pytrace=False,
    )

needs_model = pytest.mark.skipif(
    MODEL_MISSING,
    reason="the embeddings extra is not installed (GAPBOT_TEST_EMBEDDINGS=1 makes this fail)",
)
