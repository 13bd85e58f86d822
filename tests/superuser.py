"""The cluster's superuser, for tests that play an attacker going behind the ledger's back.

The services we run keep the superuser's password in the state folder (infra/credentials.py);
an external server (LEDGER_DATABASE_URL) is used as its URL's user, as before.
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy.engine import make_url

from infra.credentials import kept_password, postgres_superuser_secret
from infra.postgres import superuser_name

REPO_ROOT = Path(__file__).resolve().parents[1]


def superuser_url(database_url: str) -> str:
    """The same database as the superuser (its kept password), when we run the server."""
    if os.environ.get("LEDGER_DATABASE_URL"):
        return database_url
    home = Path(os.environ.get("LEDGER_HOME") or REPO_ROOT / ".ledger")
    password = kept_password(home, postgres_superuser_secret)
    if password is None:
        return database_url
    url = make_url(database_url).set(username=superuser_name, password=password)
    rendered: str = url.render_as_string(hide_password=False)
    return rendered
