"""The layers of design.md ("Repository layout") hold: imports run one way, and nothing made for
development ships.

- `app/` never imports `consumers`, `devstack` or `simulators`; the CLI entry point, which wires
  processes together, is the one exception.
- `consumers/` may import `app/`, never `devstack` or `simulators`.
- The simulators import nothing of ours: they stand for the vendors.
- The wheel and the image carry `app`, `consumers` and `migrations` only.
"""

from __future__ import annotations

import ast
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path

from setuptools import find_packages

ROOT = Path(__file__).resolve().parents[2]
NOT_SHIPPED = ("devstack", "simulators", "bench", "tests")


def imported_modules(source: Path) -> Iterator[tuple[int, str]]:
    """(line, module) for every import in the file, those inside functions included."""
    tree = ast.parse(source.read_text(), filename=str(source))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module


def forbidden_imports(
    package: str, forbidden: set[str], *, allowed: frozenset[str] = frozenset(), root: Path = ROOT
) -> list[str]:
    """Every import of a `forbidden` top-level package from a module of `package`, as
    "module:line imports name"."""
    found = []
    for source in sorted((root / package).rglob("*.py")):
        relative = source.relative_to(root).as_posix()
        if relative in allowed:
            continue
        module = relative.removesuffix(".py").replace("/", ".").removesuffix(".__init__")
        for line, name in imported_modules(source):
            if name.split(".")[0] in forbidden:
                found.append(f"{module}:{line} imports {name}")
    return found


def test_app_imports_no_process_dev_stack_or_simulator_module() -> None:
    assert forbidden_imports("app", {"consumers", "devstack", "simulators"}, allowed=frozenset({"app/cli.py"})) == []


def test_consumers_import_neither_the_dev_stack_nor_the_simulators() -> None:
    assert forbidden_imports("consumers", {"devstack", "simulators"}) == []


def test_simulators_import_nothing_of_ours() -> None:
    assert forbidden_imports("simulators", {"app", "consumers", "devstack"}) == []


def test_a_wrong_import_is_named_by_module_and_line(tmp_path: Path) -> None:
    (tmp_path / "app" / "control").mkdir(parents=True)
    (tmp_path / "app" / "control" / "status.py").write_text(
        "import json\n\ndef lag():\n    from consumers.roles import ROLES\n    return ROLES\n"
    )
    found = forbidden_imports("app", {"consumers"}, root=tmp_path)
    assert found == ["app.control.status:4 imports consumers.roles"]


def test_the_wheel_ships_the_service_packages_only() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    packages = find_packages(str(ROOT), include=config["include"], exclude=config.get("exclude", ()))
    assert {p.split(".")[0] for p in packages} == {"app", "consumers", "migrations"}
    assert not [p for p in packages if p.split(".")[0] in NOT_SHIPPED]


def test_the_image_copies_the_service_packages_only() -> None:
    copied = [
        match.group(1)
        for match in re.finditer(r"^COPY\s+(?!--from)(\S+)\s+\S+\s*$", (ROOT / "Dockerfile").read_text(), re.M)
    ]
    assert copied == ["pyproject.toml", "README.md", "app", "consumers", "migrations"]


def test_the_admin_ui_calls_the_control_services_never_the_vendors_or_the_database_directly() -> None:
    """app/ui renders what app/control decides, so that the UI, the API and the CLI never disagree."""
    assert forbidden_imports("app/ui", {"sqlalchemy", "aiohttp", "aiokafka", "asyncpg"}) == []
    found = []
    for source in sorted((ROOT / "app" / "ui").rglob("*.py")):
        for line, name in imported_modules(source):
            if name.startswith(("app.clients", "app.inbound", "app.bus")):
                found.append(f"{source.relative_to(ROOT)}:{line} imports {name}")
    assert found == []
