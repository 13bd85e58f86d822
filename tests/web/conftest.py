"""Page fixtures: the HTTP API's in-process app (tests/http/conftest.py), used as a browser."""

from __future__ import annotations

from tests.http.conftest import api, worker  # noqa: F401  (fixtures)
from tests.integration.conftest import workspace  # noqa: F401  (fixture)
