"""The dependency locks (issue 13): requirements.in and requirements-dev.in are edited by hand,
``make lock`` (pip-compile --generate-hashes) writes requirements.txt and requirements-dev.txt,
and every install (Makefile, Dockerfile) takes only a lock, with ``--require-hashes``.

These read the files; whether the locks install is proven by ``make install-dev`` in CI, which
pip refuses when a requirement has no pin or no hash."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==(\S+)")
#: Where the development lock may differ from the runtime one, and why.
DEV_DIFFERS = {
    # allotropy (dev only, the instrument-file cross-check) requires jsonschema<4.18
    "jsonschema": "allotropy pins jsonschema<4.18",
    "jsonschema-specifications": "comes with jsonschema>=4.18 only",
    "referencing": "comes with jsonschema>=4.18 only",
    "rpds-py": "comes with jsonschema>=4.18 only",
}


def _name(raw: str) -> str:
    return re.sub(r"[-_.]+", "-", raw).lower()


def _lock(filename: str) -> dict[str, tuple[str, list[str]]]:
    """Each locked package: its version and its hashes."""
    packages: dict[str, tuple[str, list[str]]] = {}
    current = ""
    for line in (ROOT / filename).read_text().splitlines():
        match = PIN.match(line)
        if match:
            current = _name(match.group(1))
            packages[current] = (match.group(2), [])
        elif line.strip().startswith("--hash=sha256:"):
            packages[current][1].append(line.strip().removeprefix("--hash=sha256:").rstrip(" \\"))
    return packages


def _inputs(filename: str) -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (ROOT / filename).read_text().splitlines():
        match = PIN.match(line.split("#")[0].strip())
        if match:
            pins[_name(match.group(1))] = match.group(2)
    return pins


@pytest.mark.parametrize("lock", ["requirements.txt", "requirements-dev.txt"])
def test_every_locked_package_is_pinned_with_at_least_one_hash(lock: str) -> None:
    text = (ROOT / lock).read_text()
    requirements = [
        line for line in text.splitlines() if line and not line.startswith((" ", "#", "\t"))
    ]
    packages = _lock(lock)

    assert len(requirements) == len(packages)  # nothing unpinned (a range, a URL, an -r)
    assert all(re.fullmatch(r"[0-9a-f]{64}", h) for _, hashes in packages.values() for h in hashes)
    assert all(hashes for _, hashes in packages.values())
    assert "pip-compile" in text.splitlines()[1]


def test_the_locks_keep_every_pin_of_their_inputs() -> None:
    runtime, dev = _lock("requirements.txt"), _lock("requirements-dev.txt")

    for name, version in _inputs("requirements.in").items():
        assert runtime[name][0] == version, name
        assert dev[name][0] == version, name
    for name, version in _inputs("requirements-dev.in").items():
        assert dev[name][0] == version, name
    for name in ("django-axes", "drf-spectacular-sidecar"):
        assert name in runtime
    for name in ("schemathesis", "pip-audit", "pip-tools"):
        assert name in dev
        assert name not in runtime


def test_the_dev_lock_holds_the_runtime_lock_except_where_written_down() -> None:
    runtime, dev = _lock("requirements.txt"), _lock("requirements-dev.txt")

    differs = {name for name, (version, _) in runtime.items() if dev.get(name, ("",))[0] != version}

    assert differs <= DEV_DIFFERS.keys()


def test_installs_take_only_the_locks_and_check_every_hash() -> None:
    makefile = (ROOT / "Makefile").read_text()
    dockerfile = (ROOT / "Dockerfile").read_text()

    assert "--require-hashes" in makefile.split("PIP_INSTALL :=")[1].splitlines()[0]
    assert "$(PIP_INSTALL) -r requirements.txt" in makefile
    assert "$(PIP_INSTALL) -r requirements-dev.txt" in makefile
    assert "pip install --require-hashes -r requirements.txt" in dockerfile
    assert re.search(r"^lock:", makefile, re.M)
    assert re.search(r"^audit:", makefile, re.M)
    assert "make audit" in (ROOT / ".ci" / "run").read_text()
