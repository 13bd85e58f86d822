"""Locked by default, the pure parts: configuration rendered, secrets kept, grants computed."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from infra import kafka, postgres
from infra.common import InfraError
from infra.credentials import Login, ensure_password, kept_password, password_path
from infra.services import external_kafka_security, mask_password
from ledger.domain.workspaces import topic_names
from ledger.store.engine import writer_role
from streams.access import AccessError, KafkaAccess
from streams.topics import (
    operation_read,
    operation_write,
    pattern_literal,
    resource_topic,
    workspace_grants,
)

admin = Login("ledger-admin", "admin-password-0123456789")


def parse_properties(text: str) -> dict[str, str]:
    pairs = [line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#")]
    return {key: value for key, value in pairs}


def test_a_locked_broker_takes_sasl_scram_only_and_denies_what_no_acl_allows() -> None:
    ports = kafka.BrokerPorts(broker=19092, controller=19093)
    settings = parse_properties(kafka.render_server_properties(ports, Path("/srv/data"), admin))
    assert settings["listeners"] == (
        "SASL_PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093"
    )
    assert settings["advertised.listeners"] == "SASL_PLAINTEXT://127.0.0.1:19092"
    assert "PLAINTEXT:PLAINTEXT" not in settings["listener.security.protocol.map"]
    assert settings["listener.security.protocol.map"] == (
        "CONTROLLER:SASL_PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT"
    )
    assert settings["sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    assert settings["sasl.mechanism.inter.broker.protocol"] == "SCRAM-SHA-512"
    assert settings["authorizer.class.name"] == (
        "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
    )
    assert settings["allow.everyone.if.no.acl.found"] == "false"
    assert settings["super.users"] == "User:ledger-admin"
    jaas = settings["listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config"]
    assert 'username="ledger-admin"' in jaas and 'password="admin-password-0123456789"' in jaas


def test_an_unlocked_broker_renders_as_before() -> None:
    """A broker made before SASL keeps running as it was until `ledger infra up` locks it."""
    ports = kafka.BrokerPorts(broker=19092, controller=19093)
    settings = parse_properties(kafka.render_server_properties(ports, Path("/srv/data")))
    assert settings["listeners"].startswith("PLAINTEXT://")
    assert "authorizer.class.name" not in settings


def test_scram_users_are_given_to_the_storage_tool() -> None:
    assert kafka.scram_argument(admin) == (
        "SCRAM-SHA-512=[name=ledger-admin,password=admin-password-0123456789]"
    )
    options = kafka.client_security_options(admin)
    assert options["security_protocol"] == "SASL_PLAINTEXT"
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert kafka.client_security_options(None) == {}


def test_postgres_trusts_nobody_and_its_roles_are_not_superusers() -> None:
    methods = {
        line.split()[-1]
        for line in postgres.render_hba().splitlines()
        if line and not line.startswith("#")
    }
    assert methods == {"scram-sha-256"}
    settings = postgres.server_settings(5432, Path("/run/x"))
    assert settings["password_encryption"] == "'scram-sha-256'"
    statements = " ".join(
        postgres.role_statements(Login("ledger_owner", "o" * 20), Login("ledger_app", "a" * 20))
    )
    assert "ALTER ROLE ledger_owner LOGIN CREATEDB NOSUPERUSER NOCREATEROLE" in statements
    assert "ALTER ROLE ledger_app LOGIN NOCREATEDB NOSUPERUSER NOCREATEROLE" in statements
    assert "GRANT ledger_writer TO ledger_app" in statements
    assert "GRANT pg_signal_backend TO ledger_owner" in statements  # DROP DATABASE … FORCE
    assert postgres.writer_role_name == writer_role  # infra cannot import the store


def test_passwords_are_made_once_kept_private_and_refused_when_exposed(tmp_path: Path) -> None:
    assert kept_password(tmp_path, "postgres-app") is None
    first = ensure_password(tmp_path, "postgres-app")
    assert (
        ensure_password(tmp_path, "postgres-app")
        == first
        == kept_password(tmp_path, "postgres-app")
    )
    assert len(first) >= 40
    path = password_path(tmp_path, "postgres-app")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert ensure_password(tmp_path, "kafka-admin") != first
    os.chmod(path, 0o644)
    with pytest.raises(InfraError, match="chmod 600"):
        ensure_password(tmp_path, "postgres-app")


def test_printed_urls_hide_the_password() -> None:
    url = "postgresql+asyncpg://ledger_owner:s3cret-value@127.0.0.1:5432/postgres"
    masked = mask_password(url)
    assert "s3cret-value" not in masked
    assert masked == "postgresql+asyncpg://ledger_owner:***@127.0.0.1:5432/postgres"


def test_login_and_access_keep_their_passwords_out_of_repr() -> None:
    assert "admin-password" not in repr(admin)
    access = KafkaAccess("h:1", "SASL_PLAINTEXT", "SCRAM-SHA-512", "u", "hidden-password-1")
    assert "hidden-password-1" not in repr(access)


def test_external_broker_credentials_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("USERNAME", "PASSWORD", "MECHANISM"):
        monkeypatch.delenv(f"LEDGER_KAFKA_SASL_{name}", raising=False)
    monkeypatch.delenv("LEDGER_KAFKA_SECURITY_PROTOCOL", raising=False)
    assert external_kafka_security().protocol == "PLAINTEXT"
    monkeypatch.setenv("LEDGER_KAFKA_SASL_USERNAME", "vendor-bridge")
    with pytest.raises(InfraError, match="LEDGER_KAFKA_SASL_PASSWORD"):
        external_kafka_security()
    monkeypatch.setenv("LEDGER_KAFKA_SASL_PASSWORD", "pw")
    security = external_kafka_security()
    assert (security.protocol, security.mechanism) == ("SASL_PLAINTEXT", "SCRAM-SHA-512")
    assert security.admin == security.ingest == security.worker == Login("vendor-bridge", "pw")
    assert not security.grants  # someone else's broker: its ACLs are its owner's
    monkeypatch.setenv("LEDGER_KAFKA_SASL_MECHANISM", "scram-sha-256")
    monkeypatch.setenv("LEDGER_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    security = external_kafka_security()
    assert (security.protocol, security.mechanism) == ("SASL_SSL", "SCRAM-SHA-256")
    monkeypatch.setenv("LEDGER_KAFKA_SASL_MECHANISM", "GSSAPI")
    with pytest.raises(InfraError, match="LEDGER_KAFKA_SASL_MECHANISM"):
        external_kafka_security()


def test_kafka_access_options_for_each_protocol() -> None:
    assert KafkaAccess("h:1").client_options() == {"bootstrap_servers": "h:1"}
    assert KafkaAccess("h:1").faust_credentials() is None
    sasl = KafkaAccess("h:1", "SASL_PLAINTEXT", "SCRAM-SHA-512", "ledger-worker", "pw-0123")
    options = sasl.client_options()
    assert options["security_protocol"] == "SASL_PLAINTEXT"
    assert (options["sasl_plain_username"], options["sasl_plain_password"]) == (
        "ledger-worker",
        "pw-0123",
    )
    credentials = sasl.faust_credentials()
    assert credentials is not None and credentials.mechanism.value == "SCRAM-SHA-512"
    assert sasl.principal == "User:ledger-worker"
    with pytest.raises(AccessError):
        KafkaAccess("h:1", "SASL_PLAINTEXT")
    with pytest.raises(AccessError):
        KafkaAccess("h:1", "SSL")


@given(st.from_regex(r"[a-z][a-z0-9_]{0,39}", fullmatch=True))
def test_grants_let_only_ingest_write_and_only_the_worker_read_the_raw_topic(name: str) -> None:
    topics = topic_names(name)
    grants = workspace_grants(
        topics,
        ingest="User:ledger-ingest",
        worker="User:ledger-worker",
        worker_app_ids=(f"ledger-{name}", f"ledger-replay-{name}"),
    )

    def covers(binding_name: str, pattern: int, topic: str) -> bool:
        if pattern == pattern_literal:
            return binding_name == topic
        return topic.startswith(binding_name)

    on_raw = {
        (grant.principal, grant.operation)
        for grant in grants
        if grant.resource_type == resource_topic
        and covers(grant.resource_name, grant.pattern_type, topics.raw)
    }
    writers = {principal for principal, operation in on_raw if operation == operation_write}
    readers = {principal for principal, operation in on_raw if operation == operation_read}
    assert writers == {"User:ledger-ingest"}
    assert readers == {"User:ledger-worker"}
    assert all(grant.principal in ("User:ledger-ingest", "User:ledger-worker") for grant in grants)
