"""Debian's Chromium for the browser tests, installed with apt-get on first use.

Playwright's own browser download needs a network CI does not have, so Playwright drives the
distribution's `chromium` through `executable_path`. Which one: `$LEDGER_CHROMIUM` when set
(an explicit choice is never second-guessed), else Debian's /usr/bin/chromium, else the first
`chromium` on PATH; when there is none, `apt-get install chromium` as PostgreSQL is installed.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path

from infra.apt import apt_install
from infra.common import InfraError, cache_root, file_lock, last_line, run_command

chromium_env_var = "LEDGER_CHROMIUM"
debian_chromium_path = Path("/usr/bin/chromium")
chromium_names_on_path = ("chromium", "chromium-browser")
# The browser and a font family it recommends: pages (æøå, kr 12 687,50) render the same on
# every machine instead of in whatever fallback font happens to be there.
chromium_packages = ("chromium", "fonts-liberation")
chromium_version_timeout_s = 30
chromium_install_lock_timeout_s = 1200  # another process may be running apt-get for it

# Every launch, by Playwright or by hand. Headless and without a sandbox (we run as root in
# CI, where Chromium's sandbox refuses to start) and without a GPU. The rest stop Chromium's
# own calls home (updates, sync, QUIC probes, first-run pages): on the closed CI network
# those connections are refused, and a refused background request can show as a console
# error on the page under test.
chromium_flags: tuple[str, ...] = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)

Which = Callable[[str], str | None]
IsExecutable = Callable[[Path], bool]


def is_executable_file(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def find_chromium(
    env: Mapping[str, str],
    which: Which = shutil.which,
    is_executable: IsExecutable = is_executable_file,
) -> Path | None:
    """The Chromium to use, or None when none is installed.

    A `$LEDGER_CHROMIUM` that names no executable is an error, not a reason to look
    elsewhere: the user asked for that one.
    """
    chosen = env.get(chromium_env_var, "").strip()
    if chosen:
        path = Path(chosen)
        if not is_executable(path):
            raise InfraError(
                f"{chromium_env_var}={chosen} is not an executable file:"
                f" point it at a Chromium binary or unset it"
            )
        return path
    if is_executable(debian_chromium_path):
        return debian_chromium_path
    for name in chromium_names_on_path:
        found = which(name)
        if found is not None:
            return Path(found)
    return None


def parse_chromium_version(text: str) -> tuple[int, ...] | None:
    """'Chromium 156.0.8078.114 built on Debian …' → (156, 0, 8078, 114); None when absent."""
    match = re.search(r"\b(\d+)\.(\d+)\.(\d+)\.(\d+)\b", text)
    return tuple(int(part) for part in match.groups()) if match else None


def chromium_version(path: Path) -> str:
    """`chromium --version`'s line: proof the binary runs here (its libraries are present)."""
    output = run_command(
        [str(path), *chromium_flags, "--version"],
        f"{path} --version",
        chromium_version_timeout_s,
    )
    line = last_line(output)
    if parse_chromium_version(line) is None:
        raise InfraError(f"{path} --version printed no version: {line or 'nothing'}")
    return line


def install_chromium() -> Path:
    """apt-get install chromium, once per machine even when several processes ask at once."""
    lock = cache_root() / "chromium-install.lock"
    with file_lock(lock, "installing Chromium", chromium_install_lock_timeout_s):
        found = find_chromium(os.environ)  # another process may have installed it meanwhile
        if found is not None:
            return found
        apt_install(
            chromium_packages,
            "Chromium",
            f"or set {chromium_env_var} to a Chromium binary (the browser tests need one)",
        )
        found = find_chromium(os.environ)
    if found is None:
        raise InfraError(f"apt-get installed chromium but {debian_chromium_path} is missing")
    return found


def ensure_chromium() -> Path:
    """The Chromium binary the browser tests drive, installing Debian's package when missing."""
    return find_chromium(os.environ) or install_chromium()
