"""README "Layout" names what the tree holds: every package folder, every DAG file, and every module of the
folders it lists module by module (bench/, include/pipeline/, dev/'s top level)."""

from __future__ import annotations

import subprocess

from tests.conftest import REPO_ROOT

LISTED_MODULE_BY_MODULE = (("bench",), ("include", "pipeline"), ("dev",), ("dags",))


def layout_section() -> str:
    readme = (REPO_ROOT / "README.md").read_text()
    start = readme.index("## Layout")
    return readme[start : readme.index("\n## ", start + 1)]


def tracked_files() -> list[tuple[str, ...]]:
    listed = subprocess.run(["git", "ls-files"], cwd=REPO_ROOT, capture_output=True, text=True, check=True).stdout
    return [tuple(path.split("/")) for path in listed.splitlines()]


def test_layout_names_every_package_dag_and_listed_module() -> None:
    layout = layout_section()
    unnamed = set()
    for parts in tracked_files():
        if parts[0] == "plugins" and len(parts) > 3 and parts[2] not in layout:
            unnamed.add("/".join(parts[:3]))
        if parts[0] in ("include", "dev", "tests") and len(parts) > 2 and parts[1] not in layout:
            unnamed.add("/".join(parts[:2]))
        module = parts[-1].removesuffix(".py")
        if (
            parts[-1].endswith(".py")
            and parts[:-1] in LISTED_MODULE_BY_MODULE
            and module not in ("__init__", "__main__")
            and module not in layout
        ):
            unnamed.add("/".join(parts))
    assert not unnamed, f"README Layout does not name {sorted(unnamed)}"
