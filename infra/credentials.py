"""The passwords of a home's own services: generated once, kept 0600 in `<home>/secrets/`.

This module is the one owner of those files: infra/postgres.py and infra/kafka.py read them
here when they lock their service, and infra/services.py when it says how to reach it.
A password never appears in a command's output, a log line or a `repr`.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from infra.common import InfraError

secrets_folder_name: Final = "secrets"
password_bytes: Final = 32  # token_urlsafe: 43 characters of [A-Za-z0-9_-], safe in every syntax
password_chars_min: Final = 16
password_file_suffix: Final = ".pass"
secrets_folder_mode: Final = 0o700
secret_file_mode: Final = 0o600

# PostgreSQL: the cluster's superuser is for infra/ alone; the owner creates the workspace
# databases and runs the migrations; the application role does everything else.
postgres_superuser_secret: Final = "postgres-superuser"
postgres_owner_secret: Final = "postgres-owner"
postgres_app_secret: Final = "postgres-app"
# Kafka: admin creates topics and ACLs; ingest writes the raw log; the worker reads it.
kafka_admin_secret: Final = "kafka-admin"
kafka_ingest_secret: Final = "kafka-ingest"
kafka_worker_secret: Final = "kafka-worker"


@dataclass(frozen=True)
class Login:
    """A user name and its password; the password is left out of `repr` (logs, tracebacks)."""

    username: str
    password: str = field(repr=False)


def secrets_folder(home: Path) -> Path:
    """`<home>/secrets/`, created 0700 (learner keys live there too)."""
    folder = home.resolve() / secrets_folder_name
    folder.mkdir(parents=True, exist_ok=True)
    if stat.S_IMODE(folder.stat().st_mode) != secrets_folder_mode:
        os.chmod(folder, secrets_folder_mode)
    return folder


def password_path(home: Path, name: str) -> Path:
    return secrets_folder(home) / f"{name}{password_file_suffix}"


def read_password(path: Path) -> str:
    """A kept password; InfraError when the file was damaged or made readable to others."""
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise InfraError(
            f"{path} is readable by others (mode {mode:o}): run `chmod 600 {path}` and retry"
        )
    value = path.read_text(encoding="utf-8").strip()
    if len(value) < password_chars_min or any(char.isspace() for char in value):
        raise InfraError(f"{path} does not hold a usable password: delete it only with its service")
    return value


def ensure_password(home: Path, name: str) -> str:
    """The password kept under `name`, generated on first use (O_EXCL: the first writer wins)."""
    path = password_path(home, name)
    if not path.exists():
        with contextlib.suppress(FileExistsError):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, secret_file_mode)
            with os.fdopen(fd, "w", encoding="utf-8") as file:
                file.write(secrets.token_urlsafe(password_bytes) + "\n")
    return read_password(path)


def kept_password(home: Path, name: str) -> str | None:
    """The password kept under `name`, or None when none was made yet (nothing is created)."""
    path = home.resolve() / secrets_folder_name / f"{name}{password_file_suffix}"
    return read_password(path) if path.exists() else None


def write_secret_file(path: Path, text: str) -> None:
    """Replace a file that holds secrets atomically, never readable by others even briefly."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with contextlib.suppress(FileNotFoundError):
        partial.unlink()
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, secret_file_mode)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(text)
    os.replace(partial, path)
