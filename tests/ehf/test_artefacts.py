"""The official rules come from Maven Central into the cache, complete, linked and current."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from lxml import etree

from infra import peppol
from infra.peppol import (
    PeppolArtefacts,
    billing_releases,
    ensure_peppol_artefacts,
    imports_without_location,
    release_key,
    with_schema_locations,
)
from tests.conftest import REPO_ROOT

NAMESPACE_XSD = "http://www.w3.org/2001/XMLSchema"
fetch_timeout_s = 900


def test_the_artefacts_are_there_with_the_named_rule_release() -> None:
    artefacts = ensure_peppol_artefacts()
    for path in (*artefacts.schemas, *artefacts.stylesheets):
        assert path.is_file(), path
    manifest = artefacts.manifest()
    assert manifest["phive_rules_version"] == peppol.phive_rules_version
    assert manifest["ph_ubl_version"] == peppol.ph_ubl_version
    assert manifest["ph_xsds_version"] == peppol.ph_xsds_version
    assert manifest["rules_release"] == peppol.peppol_rules_release
    releases = manifest["rules_releases_in_jar"]
    assert isinstance(releases, list) and releases
    newest = max(releases, key=release_key)
    assert newest == peppol.peppol_rules_release, "a newer rule release is in the jar: use it"
    assert REPO_ROOT not in artefacts.root.parents, "the cache is outside the checkout"


def test_the_readme_names_the_rule_release() -> None:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert peppol.peppol_rules_release in readme


def test_the_pom_fetches_the_versions_named_in_the_code() -> None:
    pom = peppol.pom_path.read_text(encoding="utf-8")
    assert f"<phive-rules.version>{peppol.phive_rules_version}</phive-rules.version>" in pom
    assert f"<ph-ubl.version>{peppol.ph_ubl_version}</ph-ubl.version>" in pom
    assert f"<ph-xsds.version>{peppol.ph_xsds_version}</ph-xsds.version>" in pom
    for artifact in ("phive-rules-peppol", "ph-ubl21", "ph-xsds-ccts-cct-schemamodule"):
        assert f"<artifactId>{artifact}</artifactId>" in pom


def test_the_schemas_load_offline_with_every_import_linked() -> None:
    artefacts = ensure_peppol_artefacts()
    common = artefacts.root / "xsd" / "common"
    for path in sorted(common.glob("*.xsd")):
        assert imports_without_location(path.read_text(encoding="utf-8")) == [], path.name
    for schema in artefacts.schemas:
        etree.XMLSchema(etree.parse(str(schema), etree.XMLParser(no_network=True)))


def test_quantity_unit_code_is_optional_as_in_oasis_ubl() -> None:
    """A BaseQuantity without unitCode is valid UBL 2.1; a required one would refuse it."""
    ccts = ensure_peppol_artefacts().root / "xsd" / "common" / "CCTS_CCT_SchemaModule.xsd"
    tree = etree.parse(str(ccts))
    uses = tree.xpath(
        "//xsd:complexType[@name='QuantityType']//xsd:attribute[@name='unitCode']/@use",
        namespaces={"xsd": NAMESPACE_XSD},
    )
    assert uses == ["optional"]


def test_a_second_call_uses_the_cache_without_maven(monkeypatch: pytest.MonkeyPatch) -> None:
    ensure_peppol_artefacts()

    def no_maven(target: Path) -> None:
        raise AssertionError(f"Maven was run again for {target}")

    monkeypatch.setattr(peppol, "fetch_jars", no_maven)
    assert peppol.artefacts_are_complete(ensure_peppol_artefacts())


def test_an_empty_cache_is_filled_once_by_parallel_processes(tmp_path: Path) -> None:
    """Two fresh processes at once: one fetches under the lock, the other reuses its result."""
    script = "from infra.peppol import ensure_peppol_artefacts; print(ensure_peppol_artefacts())"
    env = {**os.environ, "LEDGER_CACHE": str(tmp_path)}
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", script],
            env=env,
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [process.communicate(timeout=fetch_timeout_s) for process in processes]
    for process, (stdout, stderr) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, stderr
        assert "PeppolArtefacts" in stdout
    artefacts = PeppolArtefacts(tmp_path.resolve() / peppol.artefacts_folder_name())
    assert peppol.artefacts_are_complete(artefacts)
    left_over = [path.name for path in tmp_path.iterdir() if "partial" in path.name]
    assert left_over == []


def test_billing_releases_need_both_stylesheets_and_sort_as_year_month() -> None:
    prefix = peppol.RULES_PREFIX
    names = [
        f"{prefix}2025.5/xslt/CEN-EN16931-UBL.xslt",
        f"{prefix}2025.5/xslt/PEPPOL-EN16931-UBL.xslt",
        f"{prefix}2025.11/xslt/CEN-EN16931-UBL.xslt",
        f"{prefix}2025.11/xslt/PEPPOL-EN16931-UBL.xslt",
        f"{prefix}2026.3/xslt/CEN-EN16931-UBL.xslt",  # self-billing only: not a billing release
        f"{prefix}2026.3/xslt/PEPPOL-EN16931-UBL-SB.xslt",
        "external/schematron/pint-eu/2027.1/xslt/CEN-EN16931-UBL.xslt",  # another family
        f"{prefix}2026.5/",
    ]
    assert billing_releases(names) == ["2025.5", "2025.11"]


def test_imports_get_their_schema_location() -> None:
    xsd = (
        '<xsd:import namespace="urn:a"/>\n'
        '<xsd:import namespace="urn:b" />\n'
        '<xsd:import namespace="urn:c" schemaLocation="c.xsd"/>'
    )
    linked = with_schema_locations(xsd, {"urn:a": "a.xsd"})
    assert '<xsd:import namespace="urn:a" schemaLocation="a.xsd"/>' in linked
    assert imports_without_location(linked) == ["urn:b"]
    assert re.search(r'namespace="urn:c" schemaLocation="c.xsd"', linked)
