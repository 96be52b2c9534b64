"""No dependency runs back up the layers (issue 10).

The layers, from the bottom (a module may import its own layer and any layer below it):

0. the project's base modules: ``labpanel.env``, ``labpanel.db``, ``labpanel.exceptions``,
   ``labpanel.middleware``, ``labpanel.bulk``, ``labpanel.copy_text``;
1. ``labpanel.accounts``, ``labpanel.events``, ``labpanel.audit``, ``labpanel.webhooks`` and
   ``labpanel.idempotency``;
2. ``reference_ranges``;
3. ``panels``, the records;
4. ``reports``;
5. ``panels.intake``, the ways in: they orchestrate a submission and so may call reports
   (amendments, which also produce a report, belong with them).

The project's configuration (settings, URLs, API router, Celery app, launcher, WSGI/ASGI, the
health view, the package ``__init__``) is the one exception: it may import anything, and only
``labpanel.celery`` may be imported by the layers (see ``CONFIGURATION_IMPORTABLE``).

The walk reads every ``.py`` under ``labpanel/``, ``reference_ranges/``, ``panels/`` and
``reports/`` except migrations with ``ast`` and collects every import: module-level and
function-level (and under ``TYPE_CHECKING``), ``import x``, ``from x import y`` (``y`` counted as
the module ``x.y`` when there is such a module), relative imports resolved, and
``import_module("x")`` with a literal name.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("labpanel", "reference_ranges", "panels", "reports")
SKIPPED_DIRS = frozenset({"migrations", "tests", "bench", "__pycache__"})

# The configuration: the one exception to the layering (it wires the layers together).
CONFIGURATION = frozenset(
    {
        "labpanel",  # the package __init__: loads the Celery app
        "labpanel.settings",
        "labpanel.urls",
        "labpanel.api_router",
        "labpanel.celery",
        "labpanel.launcher",
        "labpanel.wsgi",
        "labpanel.asgi",
        # a started process's last step (the web's and the worker's): imports every view
        "labpanel.process_start",
        "labpanel.views",
        # the API's OpenAPI description: the token scheme and each operation's token scope
        "labpanel.api_auth",
        "labpanel.schema",
    }
)

# Configuration modules a layered module may import, with the reason.
CONFIGURATION_IMPORTABLE = {
    # reports.tasks measures the broker queue (queue_depth) with the project's Celery app.
    # labpanel.celery imports no app module (task discovery is lazy; checked below), and
    # ``labpanel/__init__.py`` already loads it for every ``labpanel.*`` import, so the import
    # adds no dependency on anything above the importer.
    "labpanel.celery": "the Celery app; imports no layered module",
}

LAYER_NAMES = {
    0: "base",
    1: "accounts/events",
    2: "reference_ranges",
    3: "panels",
    4: "reports",
    5: "panels.intake",
}


# Edges that run back up and cannot be removed yet: (importing module, imported module) -> why.
# Only edges that exist may stay here (test_allowed_back_edges_all_exist fails on a stale one),
# so this list can only shrink.
ALLOWED_BACK_EDGES: dict[tuple[str, str], str] = {}


def layer_of(module: str) -> int | None:
    """The layer of a first-party module; None for configuration and third-party modules."""
    parts = module.split(".")
    top = parts[0]
    if top == "labpanel":
        if module in CONFIGURATION or ".".join(parts[:2]) in CONFIGURATION:
            return None
        if len(parts) > 1 and parts[1] in (
            "accounts",
            "events",
            "audit",
            "webhooks",
            "idempotency",
        ):
            return 1
        return 0
    if top == "reference_ranges":
        return 2
    if top == "panels":
        return 5 if len(parts) > 1 and parts[1] == "intake" else 3
    if top == "reports":
        return 4
    return None


def is_first_party(module: str) -> bool:
    return module.split(".")[0] in PACKAGES


def is_configuration(module: str) -> bool:
    parts = module.split(".")
    return module in CONFIGURATION or ".".join(parts[:2]) in CONFIGURATION


@dataclass(frozen=True)
class SourceModule:
    name: str
    is_package: bool
    source: str
    path: str


def _module_name(path: Path) -> tuple[str, bool]:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    is_package = parts[-1] == "__init__"
    if is_package:
        parts = parts[:-1]
    return ".".join(parts), is_package


def all_module_names() -> frozenset[str]:
    """Every first-party module, migrations included (to resolve ``from x import y``)."""
    names = set()
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            names.add(_module_name(path)[0])
    return frozenset(names)


def walked_modules() -> Iterator[SourceModule]:
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if SKIPPED_DIRS.intersection(path.relative_to(ROOT).parts[:-1]):
                continue
            name, is_package = _module_name(path)
            yield SourceModule(
                name=name,
                is_package=is_package,
                source=path.read_text(encoding="utf-8"),
                path=str(path.relative_to(ROOT)),
            )


def _resolve_relative(module: SourceModule, level: int, target: str | None) -> str:
    package = module.name.split(".") if module.is_package else module.name.split(".")[:-1]
    if level > 1:
        package = package[: len(package) - (level - 1)]
    return ".".join([*package, *([target] if target else [])])


def imports_of(module: SourceModule, known: Iterable[str]) -> set[str]:
    """Every module ``module`` imports, at any depth of its syntax tree."""
    known_modules = frozenset(known)
    imported: set[str] = set()
    for node in ast.walk(ast.parse(module.source, filename=module.path)):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = (
                _resolve_relative(module, node.level, node.module)
                if node.level
                else (node.module or "")
            )
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                imported.add(candidate if candidate in known_modules else base)
        elif (
            isinstance(node, ast.Call)
            and (
                (isinstance(node.func, ast.Name) and node.func.id == "import_module")
                or (isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")
            )
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            imported.add(node.args[0].value)
    return {name for name in imported if is_first_party(name)}


def back_edges(modules: Iterable[SourceModule], known: Iterable[str]) -> set[tuple[str, str]]:
    """Each (module, imported) where the import runs up a layer or into the configuration."""
    known_modules = frozenset(known)
    edges = set()
    for module in modules:
        source_layer = layer_of(module.name)
        if source_layer is None:
            continue  # the configuration may import anything
        for target in imports_of(module, known_modules):
            if is_configuration(target):
                if target not in CONFIGURATION_IMPORTABLE:
                    edges.add((module.name, target))
                continue
            target_layer = layer_of(target)
            if target_layer is not None and target_layer > source_layer:
                edges.add((module.name, target))
    return edges


def _describe(edge: tuple[str, str]) -> str:
    source, target = edge
    source_layer, target_layer = layer_of(source), layer_of(target)
    target_name = "configuration" if target_layer is None else LAYER_NAMES[target_layer]
    assert source_layer is not None  # back_edges skips the configuration
    return f"{source} ({LAYER_NAMES[source_layer]}) -> {target} ({target_name})"


def test_no_import_runs_back_up_the_layers() -> None:
    modules = list(walked_modules())
    assert any(m.name == "panels.models" for m in modules)  # the walk sees the apps
    found = back_edges(modules, all_module_names())
    new = sorted(found - ALLOWED_BACK_EDGES.keys())
    assert new == [], "imports that run back up the layers:\n" + "\n".join(map(_describe, new))


def test_allowed_back_edges_all_exist() -> None:
    """The allowance can only shrink: an entry whose import is gone must be deleted."""
    found = back_edges(walked_modules(), all_module_names())
    stale = sorted(ALLOWED_BACK_EDGES.keys() - found)
    assert stale == [], "ALLOWED_BACK_EDGES entries that no longer exist (delete them):\n" + (
        "\n".join(f"{source} -> {target}" for source, target in stale)
    )


def test_the_importable_configuration_imports_no_layered_module_and_is_used() -> None:
    known = all_module_names()
    used: set[str] = set()
    for module in walked_modules():
        imported = imports_of(module, known)
        if module.name in CONFIGURATION_IMPORTABLE:
            layered = {name for name in imported if layer_of(name) is not None}
            assert layered == set(), module.name
        if layer_of(module.name) is not None:
            used.update(imported & CONFIGURATION_IMPORTABLE.keys())
    assert used == set(CONFIGURATION_IMPORTABLE)  # like the back edges, this list only shrinks


KNOWN_FOR_SELF_TEST = frozenset(
    {
        "panels.models",
        "panels.intake",
        "panels.intake.views",
        "reports.services",
        "reference_ranges.models",
    }
)


@pytest.mark.parametrize(
    ("name", "is_package", "source", "expected"),
    [
        pytest.param(
            "reference_ranges.services",
            False,
            "from panels.models import Panel\n",
            {("reference_ranges.services", "panels.models")},
            id="module-level from-import",
        ),
        pytest.param(
            "reference_ranges.services",
            False,
            "def preview():\n    from panels.models import Panel\n    return Panel\n",
            {("reference_ranges.services", "panels.models")},
            id="function-level from-import",
        ),
        pytest.param(
            "labpanel.accounts.access",
            False,
            "class A:\n    def m(self):\n        import reports.services\n",
            {("labpanel.accounts.access", "reports.services")},
            id="method-level import",
        ),
        pytest.param(
            "panels.models",
            False,
            "from panels import intake\n",
            {("panels.models", "panels.intake")},
            id="from-package import of a higher subpackage",
        ),
        pytest.param(
            "panels.notation",
            False,
            "from .intake import views\n",
            {("panels.notation", "panels.intake.views")},
            id="relative import resolved",
        ),
        pytest.param(
            "reports.rendering",
            True,
            "from ..intake import x\n",
            set(),
            id="relative import out of the package (reports.intake is not intake)",
        ),
        pytest.param(
            "reference_ranges.selectors",
            False,
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from reports import models\n",
            {("reference_ranges.selectors", "reports")},
            id="type-checking import",
        ),
        pytest.param(
            "labpanel.db",
            False,
            "from importlib import import_module\nimport_module('labpanel.accounts.models')\n",
            {("labpanel.db", "labpanel.accounts.models")},
            id="import_module with a literal",
        ),
        pytest.param(
            "reports.services",
            False,
            "from labpanel.settings import DEBUG\nfrom labpanel.celery import queue_depth\n",
            {("reports.services", "labpanel.settings")},
            id="configuration import (only labpanel.celery is importable)",
        ),
        pytest.param(
            "panels.intake.views",
            False,
            "from reports.services import report_request\nfrom panels.models import Panel\n"
            "from reference_ranges.models import ReferenceRangeSet\n",
            set(),
            id="downward imports are fine",
        ),
        pytest.param(
            "labpanel.urls",
            False,
            "from panels.intake.views import PanelViewSet\n",
            set(),
            id="the configuration may import anything",
        ),
    ],
)
def test_the_walker_catches_a_synthetic_back_edge(
    name: str, is_package: bool, source: str, expected: set[tuple[str, str]]
) -> None:
    module = SourceModule(name=name, is_package=is_package, source=source, path="<synthetic>")
    assert back_edges([module], KNOWN_FOR_SELF_TEST) == expected


APP_PACKAGES = (
    "labpanel/accounts",
    "labpanel/events",
    "reference_ranges",
    "panels",
    "reports",
    "panels/intake",  # once the intake move lands
)


@pytest.mark.parametrize("package", APP_PACKAGES)
def test_every_app_package_opens_with_what_it_owns(package: str) -> None:
    init = ROOT / package / "__init__.py"
    if not init.exists():
        pytest.skip(f"{package} is not a package yet")
    docstring = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
    assert docstring, f"{package}/__init__.py has no docstring"
