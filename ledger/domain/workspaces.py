"""A workspace's names: database `ledger_<ws>` and topics `ledger.<ws>.*`.

Two workspaces share the servers and nothing else. The CLI checks names for the user; they are
checked here again because they end up in SQL identifiers and topic names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

workspace_name_pattern: Final = re.compile(r"^[a-z][a-z0-9_]{0,39}$")

database_prefix: Final = "ledger_"
topic_prefix: Final = "ledger."
raw_topic_suffix: Final = "usage-events"
rejected_topic_suffix: Final = "rejected-events"


@dataclass(frozen=True)
class Topics:
    raw: str
    rejected: str

    @property
    def names(self) -> tuple[str, str]:
        return (self.raw, self.rejected)


def checked_name(workspace: str) -> str:
    """Guard: a workspace name reaches SQL identifiers and topic names only if it is safe."""
    if not workspace_name_pattern.match(workspace):
        raise ValueError(f"workspace name {workspace!r} does not match {workspace_name_pattern}")
    return workspace


def topic_names(workspace: str) -> Topics:
    name = checked_name(workspace)
    return Topics(
        raw=f"{topic_prefix}{name}.{raw_topic_suffix}",
        rejected=f"{topic_prefix}{name}.{rejected_topic_suffix}",
    )


def workspace_database_name(workspace: str) -> str:
    return f"{database_prefix}{checked_name(workspace)}"
