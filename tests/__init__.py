"""End-to-end tests against a real restate-server (see tests/conftest.py and tests/harness.py)."""

import pytest

# Plain `assert`s in the helpers explain their failures as they do in test modules.
pytest.register_assert_rewrite("tests.harness", "tests.readme")
