"""The official e-invoice validation artefacts, fetched from Maven Central and cached.

EHF 3.0 is PEPPOL BIS Billing 3.0: a UBL 2.1 Invoice or CreditNote that must pass the UBL 2.1
XSD, the CEN EN 16931 rules and the OpenPeppol rules (the Norwegian NO-R rules are inside the
latter). Helger's phive-rules-peppol jar carries both rule sets compiled from Schematron to
XSLT 2.0, one folder per rule release; ph-ubl21 and the ph-xsds jars carry the schemas.

Like Kafka's jars (`infra/kafka.py`), Maven fetches the jars (`infra/peppol/pom.xml`), and the
few files the validator needs are taken out of them into
`<cache root>/peppol-<versions>/` (`$LEDGER_CACHE` or `~/.cache/usage-ledger`), shared by
every checkout on the machine, so only the first use downloads anything:

- `xslt/CEN-EN16931-UBL.xslt`, `xslt/PEPPOL-EN16931-UBL.xslt` of rule release
  `peppol_rules_release`;
- `xsd/maindoc/UBL-Invoice-2.1.xsd`, `xsd/maindoc/UBL-CreditNote-2.1.xsd` and `xsd/common/`;
- `manifest.json`: the versions, written last (its presence means the folder is complete).

infra imports nothing of ours: the validator itself is `billing.export.ehf_validation`, and the
use cases hand it these paths.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from infra.common import (
    InfraError,
    cache_root,
    file_lock,
    maven_copy_dependencies,
    write_text_atomic,
)

# Kept equal to the properties in infra/peppol/pom.xml (a test checks).
phive_rules_version = "4.3.7"
ph_ubl_version = "10.2.0"
ph_xsds_version = "4.1.0"
# The newest PEPPOL BIS Billing 3.0 rule release inside phive-rules-peppol 4.3.7 (a test checks
# that no newer one is there). Named in the README: update both when the jar is upgraded.
peppol_rules_release = "2026.5"

artefact_fetch_timeout_s = 900
# The largest file taken out of a jar: UBL's CommonAggregateComponents is 2.4 MB, the CEN
# XSLT 0.9 MB; the bound keeps a damaged jar from filling the disk.
jar_entry_bytes_max = 32 * 1024 * 1024

pom_path = Path(__file__).resolve().parent / "peppol" / "pom.xml"

RULES_PREFIX = "external/schematron/openpeppol/"
STYLESHEET_NAMES = ("CEN-EN16931-UBL.xslt", "PEPPOL-EN16931-UBL.xslt")
UBL_SCHEMAS_PREFIX = "external/schemas/ubl21/"
MAINDOC_NAMES = ("UBL-Invoice-2.1.xsd", "UBL-CreditNote-2.1.xsd")
# UBL 2.1's common modules import these by namespace only (no schemaLocation): ph-ubl resolves
# them through a Java catalogue. They come from the ph-xsds jars (CCTS's QuantityType there
# already has `unitCode` optional, as in OASIS UBL 2.1), and are linked by the patch below so
# lxml loads the schemas offline.
IMPORTED_SCHEMAS: Mapping[str, str] = {
    "urn:un:unece:uncefact:data:specification:CoreComponentTypeSchemaModule:2": (
        "schemas/CCTS_CCT_SchemaModule.xsd"
    ),
    "http://www.w3.org/2000/09/xmldsig#": "schemas/xmldsig-core-schema.xsd",
    "http://uri.etsi.org/01903/v1.3.2#": "schemas/XAdES01903v132-201601.xsd",
    "http://uri.etsi.org/01903/v1.4.1#": "schemas/XAdES01903v141-201601.xsd",
}
MANIFEST_NAME = "manifest.json"

_IMPORT_WITHOUT_LOCATION = re.compile(r'(<(?:[\w-]+:)?import\s+namespace="([^"]+)")\s*/>')


@dataclass(frozen=True)
class PeppolArtefacts:
    """Paths of one extracted, complete set of artefacts."""

    root: Path

    @property
    def schemas(self) -> tuple[Path, ...]:
        """The UBL 2.1 Invoice and CreditNote schemas (they include xsd/common/)."""
        return tuple(self.root / "xsd" / "maindoc" / name for name in MAINDOC_NAMES)

    @property
    def stylesheets(self) -> tuple[Path, ...]:
        """CEN EN 16931, then OpenPeppol BIS Billing 3.0 (with the Norwegian rules)."""
        return tuple(self.root / "xslt" / name for name in STYLESHEET_NAMES)

    @property
    def manifest_path(self) -> Path:
        return self.root / MANIFEST_NAME

    def manifest(self) -> dict[str, object]:
        value = json.loads(self.manifest_path.read_text(encoding="utf-8"))
        if not isinstance(value, dict):
            raise InfraError(f"{self.manifest_path} is damaged: delete {self.root} and retry")
        return value


# ---------------------------------------------------------------- pure


def release_key(release: str) -> tuple[int, ...]:
    """'2026.5' → (2026, 5): releases are year.month, so '2025.11' is newer than '2025.5'."""
    return tuple(int(part) for part in release.split("."))


def billing_releases(jar_names: Iterable[str]) -> list[str]:
    """The rule releases in the jar that carry both billing stylesheets, oldest first.

    Some folders hold only part of a release (2026.3 has the self-billing rules but not the
    PEPPOL billing ones), so a release counts only with both files.
    """
    files_by_release: dict[str, set[str]] = {}
    for name in jar_names:
        if not name.startswith(RULES_PREFIX):
            continue
        parts = PurePosixPath(name[len(RULES_PREFIX) :]).parts
        if len(parts) == 3 and parts[1] == "xslt" and re.fullmatch(r"\d+(\.\d+)*", parts[0]):
            files_by_release.setdefault(parts[0], set()).add(parts[2])
    complete = [r for r, files in files_by_release.items() if set(STYLESHEET_NAMES) <= files]
    return sorted(complete, key=release_key)


def with_schema_locations(xsd_text: str, locations: Mapping[str, str]) -> str:
    """Give each `<xsd:import namespace="…"/>` of a known namespace its schemaLocation."""

    def link(match: re.Match[str]) -> str:
        location = locations.get(match.group(2))
        if location is None:
            return match.group(0)
        return f'{match.group(1)} schemaLocation="{location}"/>'

    return _IMPORT_WITHOUT_LOCATION.sub(link, xsd_text)


def imports_without_location(xsd_text: str) -> list[str]:
    """Namespaces still imported without a schemaLocation (lxml could not load them offline)."""
    return [match.group(2) for match in _IMPORT_WITHOUT_LOCATION.finditer(xsd_text)]


def artefacts_folder_name() -> str:
    return f"peppol-{phive_rules_version}-ubl-{ph_ubl_version}-xsds-{ph_xsds_version}"


# ---------------------------------------------------------------- fetching


def artefacts_dir() -> Path:
    return cache_root() / artefacts_folder_name()


def artefacts_are_complete(artefacts: PeppolArtefacts) -> bool:
    """The manifest is written last, so with it every file is there."""
    return artefacts.manifest_path.is_file() and all(
        path.is_file() for path in (*artefacts.schemas, *artefacts.stylesheets)
    )


def ensure_peppol_artefacts() -> PeppolArtefacts:
    """The validation artefacts, fetched with Maven and extracted on first use, then reused."""
    artefacts = PeppolArtefacts(artefacts_dir())
    if artefacts_are_complete(artefacts):
        return artefacts
    with file_lock(
        artefacts.root.with_name(f"{artefacts.root.name}.lock"), "fetching the PEPPOL rules"
    ):
        if artefacts_are_complete(artefacts):
            return artefacts
        partial = artefacts.root.with_name(f"{artefacts.root.name}.partial-{os.getpid()}")
        shutil.rmtree(partial, ignore_errors=True)
        try:
            jars = partial / "jars"
            fetch_jars(jars)
            extract(jars, partial)
            shutil.rmtree(jars)
            if not artefacts_are_complete(PeppolArtefacts(partial)):
                raise InfraError(f"extracting the PEPPOL artefacts left {partial} incomplete")
            shutil.rmtree(artefacts.root, ignore_errors=True)
            os.replace(partial, artefacts.root)  # atomic: a reader sees no folder or all of it
        finally:
            shutil.rmtree(partial, ignore_errors=True)
    return artefacts


def fetch_jars(target: Path) -> None:
    maven_copy_dependencies(
        pom_path,
        target,
        f"the PEPPOL validation rules {phive_rules_version}",
        artefact_fetch_timeout_s,
    )


def jar_path(jars: Path, artifact: str, version: str) -> Path:
    path = jars / f"{artifact}-{version}.jar"
    if not path.is_file():
        raise InfraError(f"Maven finished but {path.name} is missing from {jars}: see ~/.m2")
    return path


def extract(jars: Path, root: Path) -> None:
    """Take the stylesheets and schemas out of the jars; link the schemas; write the manifest."""
    rules_jar = jar_path(jars, "phive-rules-peppol", phive_rules_version)
    with zipfile.ZipFile(rules_jar) as jar:
        releases = billing_releases(jar.namelist())
        if peppol_rules_release not in releases:
            raise InfraError(
                f"{rules_jar.name} has no rule release {peppol_rules_release}"
                f" (it has {', '.join(releases) or 'none'})"
            )
        for name in STYLESHEET_NAMES:
            entry = f"{RULES_PREFIX}{peppol_rules_release}/xslt/{name}"
            copy_entry(jar, entry, root / "xslt" / name)
    with zipfile.ZipFile(jar_path(jars, "ph-ubl21", ph_ubl_version)) as jar:
        for name in MAINDOC_NAMES:
            copy_entry(jar, f"{UBL_SCHEMAS_PREFIX}maindoc/{name}", root / "xsd" / "maindoc" / name)
        common = f"{UBL_SCHEMAS_PREFIX}common/"
        for entry in jar.namelist():
            if entry.startswith(common) and entry.endswith(".xsd"):
                copy_entry(jar, entry, root / "xsd" / "common" / PurePosixPath(entry).name)
    for entry in IMPORTED_SCHEMAS.values():
        copy_imported_schema(jars, entry, root / "xsd" / "common" / PurePosixPath(entry).name)
    link_common_schemas(root / "xsd" / "common")
    manifest = {
        "phive_rules_version": phive_rules_version,
        "ph_ubl_version": ph_ubl_version,
        "ph_xsds_version": ph_xsds_version,
        "rules_release": peppol_rules_release,
        "rules_releases_in_jar": releases,
    }
    write_text_atomic(root / MANIFEST_NAME, json.dumps(manifest, indent=2) + "\n")


def copy_imported_schema(jars: Path, entry: str, target: Path) -> None:
    """The ph-xsds jar that carries `entry` (each carries one schema)."""
    for path in sorted(jars.glob(f"ph-xsds-*-{ph_xsds_version}.jar")):
        with zipfile.ZipFile(path) as jar:
            if entry in jar.namelist():
                copy_entry(jar, entry, target)
                return
    raise InfraError(f"no ph-xsds jar in {jars} carries {entry}")


def copy_entry(jar: zipfile.ZipFile, entry: str, target: Path) -> None:
    try:
        info = jar.getinfo(entry)
    except KeyError:
        raise InfraError(f"{jar.filename} has no {entry}") from None
    if info.file_size > jar_entry_bytes_max:
        raise InfraError(f"{jar.filename}: {entry} is larger than {jar_entry_bytes_max} bytes")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(jar.read(info))


def link_common_schemas(common: Path) -> None:
    """Every import gets a schemaLocation in the same folder, or the fetch fails loudly."""
    locations = {
        namespace: PurePosixPath(entry).name for namespace, entry in IMPORTED_SCHEMAS.items()
    }
    for path in sorted(common.glob("*.xsd")):
        text = with_schema_locations(path.read_text(encoding="utf-8"), locations)
        unresolved = imports_without_location(text)
        if unresolved:
            raise InfraError(f"{path.name} imports {unresolved} with no schema to link")
        path.write_text(text, encoding="utf-8")
