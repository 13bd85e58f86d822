"""Installing Debian packages with apt-get on first use (PostgreSQL, Chromium).

CI is a fresh Debian machine where we run as root: the project installs what it needs from
Debian's own archive rather than asking the user. Anyone else gets one line saying what to
install. Every step is bounded: apt's own lock is waited on (another apt-get, or a second
`ledger` installing the same thing), never broken.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Sequence

from infra.common import InfraError, run_command

log = logging.getLogger(__name__)

apt_update_timeout_s = 600
apt_install_timeout_s = 900
apt_lock_timeout_s = 300  # waiting for another apt-get or dpkg to finish
apt_packages_max = 16  # one call installs one tool and what it needs, never a desktop


def apt_get_command(arguments: Sequence[str]) -> list[str]:
    """apt-get that waits for the dpkg lock instead of failing at once when it is taken."""
    return ["apt-get", "-o", f"DPkg::Lock::Timeout={apt_lock_timeout_s}", *arguments]


def apt_install_command(packages: Sequence[str]) -> list[str]:
    """Only what the packages depend on: recommended extras are not needed to run them."""
    if not 1 <= len(packages) <= apt_packages_max:
        raise InfraError(f"apt-get install: {len(packages)} packages (1 to {apt_packages_max})")
    return apt_get_command(["install", "-y", "--no-install-recommends", *packages])


def apt_install(packages: Sequence[str], what: str, manual_hint: str) -> None:
    """apt-get update, then install `packages`; InfraError naming `manual_hint` when we cannot.

    `what` names the tool for messages ("PostgreSQL"); `manual_hint` says what else the user
    can do ("or set LEDGER_DATABASE_URL").
    """
    command_line = f"apt-get install -y {' '.join(packages)}"
    if shutil.which("apt-get") is None:
        raise InfraError(
            f"{what} is not installed and apt-get is not available: install {what} {manual_hint}"
        )
    if os.geteuid() != 0:
        raise InfraError(
            f"{what} is not installed: run `sudo {command_line}` (installing needs root)"
            f" {manual_hint}"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    log.info("installing %s with apt-get (first use on this machine)", what)
    run_command(apt_get_command(["update"]), "apt-get update", apt_update_timeout_s, env)
    run_command(apt_install_command(packages), command_line, apt_install_timeout_s, env)
