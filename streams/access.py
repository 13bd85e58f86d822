"""How one principal reaches the broker: the bootstrap address and its SASL login, if any.

Every Kafka client of ours (producers, consumers, the admin client, the faust app) is built
from a `KafkaAccess`, so the security settings have one owner. ledger/app picks the principal
for each use from the services' endpoints: admin for topics and grants, ingest for writing
the raw log, worker for reading it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

import faust
from aiokafka.errors import (
    AuthenticationFailedError,
    KafkaConnectionError,
    SaslAuthenticationFailed,
)
from aiokafka.helpers import create_ssl_context

plaintext_protocol: Final = "PLAINTEXT"
sasl_protocols: Final = frozenset({"SASL_PLAINTEXT", "SASL_SSL"})


class AccessError(ValueError):
    """A broker access that cannot work as given (a SASL protocol without a login)."""


@dataclass(frozen=True)
class KafkaAccess:
    """bootstrap: "host:port[,host:port]"; protocol PLAINTEXT, SASL_PLAINTEXT or SASL_SSL."""

    bootstrap: str
    protocol: str = plaintext_protocol
    mechanism: str | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.protocol == plaintext_protocol:
            return
        if self.protocol not in sasl_protocols:
            raise AccessError(f"Kafka security protocol {self.protocol!r} is not supported")
        if not (self.mechanism and self.username and self.password):
            raise AccessError(f"{self.protocol} needs a SASL mechanism, user name and password")

    @property
    def principal(self) -> str | None:
        """The ACL principal (`User:<name>`), or None without SASL."""
        return f"User:{self.username}" if self.username else None

    def client_options(self) -> dict[str, Any]:
        """aiokafka's keyword arguments: bootstrap_servers and the security settings."""
        options: dict[str, Any] = {"bootstrap_servers": self.bootstrap}
        if self.protocol == plaintext_protocol:
            return options
        options.update(
            security_protocol=self.protocol,
            sasl_mechanism=self.mechanism,
            sasl_plain_username=self.username,
            sasl_plain_password=self.password,
        )
        if self.protocol == "SASL_SSL":
            options["ssl_context"] = create_ssl_context()
        return options

    def faust_credentials(self) -> faust.SASLCredentials | None:
        """The same login for faust's own clients (faust passes it on to aiokafka)."""
        if self.protocol == plaintext_protocol:
            return None
        ssl_context = create_ssl_context() if self.protocol == "SASL_SSL" else None
        return faust.SASLCredentials(
            username=self.username,
            password=self.password,
            mechanism=self.mechanism,
            ssl_context=ssl_context,
        )


def broker_login_refusal(error: BaseException) -> str | None:
    """One line when `error` is the broker refusing the SASL login or not answering at all.

    aiokafka's bootstrap logs the SASL failure and raises a bare `KafkaConnectionError`, so
    a refused login and an unreachable broker look alike here: the line names both.
    """
    seen: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in seen and len(seen) < 16:
        if isinstance(current, SaslAuthenticationFailed | AuthenticationFailedError):
            return (
                f"the Kafka broker refused the login ({current}): check"
                " LEDGER_KAFKA_SASL_USERNAME and LEDGER_KAFKA_SASL_PASSWORD"
            )
        if isinstance(current, KafkaConnectionError):
            return (
                f"cannot use the Kafka broker ({current}): is it running, and are"
                " LEDGER_KAFKA_SASL_USERNAME and LEDGER_KAFKA_SASL_PASSWORD right?"
            )
        seen.append(current)
        current = current.__cause__ or current.__context__
    return None
