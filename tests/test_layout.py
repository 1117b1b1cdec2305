"""The tree's layers import in one direction, and the built package is the sidecar alone.

product  `sidecar/`   imports none of the project's other Python packages
stand-ins `standins/` import no product code and no tooling
devstack `devstack/`  (make dev, the database builder) may use the stand-ins, not the tooling
tools    `tools/`     (the test runner, e2e, type generation) may use everything above
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {"sidecar", "standins", "devstack", "tools", "tests", "bench"}
FORBIDDEN = {
    "sidecar": PACKAGES - {"sidecar"},
    "standins": PACKAGES - {"standins"},
    "devstack": {"sidecar", "tools", "tests", "bench"},
    "tools": {"tests", "bench"},
}


def project_imports(path: Path) -> set[str]:
    """The top-level project packages a module imports (absolute imports only)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found.update(name.partition(".")[0] for name in names)
    return found & PACKAGES


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_imports_point_one_way(package: str) -> None:
    crossings = [
        f"{path.relative_to(ROOT)} imports {', '.join(sorted(bad))}"
        for path in sorted((ROOT / package).rglob("*.py"))
        if (bad := project_imports(path) & FORBIDDEN[package])
    ]
    assert crossings == []


def test_the_import_check_sees_a_crossing(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("import os\nfrom standins.stripe import app\nimport tools.check as c\n")
    assert project_imports(module) == {"standins", "tools"}


def test_the_built_package_is_the_sidecar_alone(tmp_path: Path) -> None:
    uv = shutil.which("uv")
    if uv is None:
        pytest.skip("uv is not on PATH (make install brings it)")
    subprocess.run(
        [uv, "build", "--quiet", "--out-dir", str(tmp_path)], cwd=ROOT, check=True, timeout=300
    )
    (wheel,) = tmp_path.glob("*.whl")
    (sdist,) = tmp_path.glob("*.tar.gz")
    with zipfile.ZipFile(wheel) as archive:
        in_wheel = {name.split("/")[0] for name in archive.namelist()}
    with tarfile.open(sdist) as archive:
        in_sdist = {name.split("/")[1] for name in archive.getnames() if "/" in name}
    assert {name for name in in_wheel if not name.endswith(".dist-info")} == {"sidecar"}
    allowed = {"sidecar", "README.md", "LICENSE", "pyproject.toml", "PKG-INFO", ".gitignore"}
    assert in_sdist <= allowed
    assert "sidecar" in in_sdist
