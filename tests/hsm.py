"""A real SoftHSM2 token in a temporary directory, for the PKCS#11 key tests.

``softhsm_token(dir)`` writes a ``softhsm2.conf`` whose ``directories.tokendir`` is under
``dir``, points ``SOFTHSM2_CONF`` at it (the module reads it when it is loaded, so one
token directory per test process: the fixture is session-scoped, and registered once,
in ``tests/conftest.py``; a test module that imported it would get an instance of its
own, a second token directory that the module, already loaded, never reads) and initialises a token
labelled ``absentia`` with ``softhsm2-util``.  The test's config then names the module
and a PIN file (``pkcs11_table``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ledger.config import Pkcs11Settings

TOKEN = "absentia"
USER_PIN = "4711-2026"
SO_PIN = "so-87654321"


def module_path() -> str | None:
    """Where Debian's libsofthsm2 put the module (None: softhsm2 is not installed)."""
    for path in ("/usr/lib/softhsm/libsofthsm2.so",
                 "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so"):
        if Path(path).exists():
            return path
    try:
        listing = subprocess.run(["dpkg", "-L", "libsofthsm2"], capture_output=True,
                                 text=True, check=False).stdout
    except OSError:
        return None
    return next((line for line in listing.splitlines()
                 if line.endswith("/libsofthsm2.so")), None)


@dataclass(frozen=True)
class SoftHsm:
    """An initialised SoftHSM2 token: its module, config file and PIN file."""

    module: str
    conf: Path
    pin_file: Path
    token: str = TOKEN

    @property
    def settings(self) -> Pkcs11Settings:
        return Pkcs11Settings(self.module, pin_file=self.pin_file)

    def table(self) -> str:
        """``[pkcs11]`` as TOML text for a test's config."""
        return f'[pkcs11]\nmodule = "{self.module}"\npin_file = "{self.pin_file}"\n'

    def env(self) -> dict[str, str]:
        """The environment a child process needs to find the token."""
        return {**os.environ, "SOFTHSM2_CONF": str(self.conf)}


def init_token(folder: Path, label: str = TOKEN) -> SoftHsm:
    """Write a SoftHSM2 config under ``folder`` and initialise token ``label`` there.

    Raises:
        subprocess.CalledProcessError: softhsm2-util failed.
    """
    module = module_path()
    assert module is not None, "softhsm2 is not installed (make install adds it)"
    tokens = folder / "tokens"
    tokens.mkdir(parents=True, exist_ok=True)
    conf = folder / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tokens}\nobjectstore.backend = file\n"
                    "log.level = ERROR\nslots.removable = false\n", encoding="utf-8")
    env = {**os.environ, "SOFTHSM2_CONF": str(conf)}
    subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", label,
                    "--so-pin", SO_PIN, "--pin", USER_PIN], env=env, check=True,
                   capture_output=True)
    pin_file = folder / "pin"
    pin_file.write_text(USER_PIN + "\n", encoding="utf-8")
    pin_file.chmod(0o600)
    return SoftHsm(module, conf, pin_file, label)


@pytest.fixture(scope="session")
def softhsm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SoftHsm]:
    """One SoftHSM2 token for the test session (``SOFTHSM2_CONF`` set for this process)."""
    if shutil.which("softhsm2-util") is None or module_path() is None:
        pytest.fail("softhsm2 is not installed: run `make install` (it installs softhsm2)")
    hsm = init_token(tmp_path_factory.mktemp("softhsm"))
    old = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = str(hsm.conf)
    yield hsm
    if old is None:
        os.environ.pop("SOFTHSM2_CONF", None)
    else:
        os.environ["SOFTHSM2_CONF"] = old
