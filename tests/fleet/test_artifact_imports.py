"""What the fleet artifact leaves out (envcheck/fleet/artifact.py NOT_SHIPPED, NOT_SHIPPED_PACKAGES,
CONTROLLER_ONLY) is never imported on a host: every import statement in the shipped modules names a module of the
standard library or of the payload, except the few below, each on a code path a host run never takes."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

from envcheck.fleet.artifact import CONTROLLER_ONLY, payload

# (shipped file, module imported inside a function): why a host never gets there.
NEVER_ON_A_HOST = {
    # The docker SDK: the smoke test's and verify's container runs (doctor speaks to the engine by itself).
    ("envcheck/dockerapi.py", "docker"), ("envcheck/dockerapi.py", "docker.tls"),
    ("envcheck/dockerapi.py", "docker.errors"), ("envcheck/dockerapi.py", "docker.types"),
    ("envcheck/doctor.py", "envcheck.smoke"),  # doctor --smoke, which a fleet run never passes
    ("envcheck/fleet/artifact.py", "packaging.requirements"),  # the build, on the controller
    # A host's doctor prints the JSON report (envcheck/fleet/hostdoctor.py) and writes no report file: the other
    # renderers, and the fleet's outputs, are for the CLI's options. click: text that needs it (escape codes,
    # non-ASCII letters) is written without it where it is missing.
    ("envcheck/output.py", "click"),
    ("envcheck/output.py", "envcheck.report.console"), ("envcheck/output.py", "envcheck.report.terminal"),
    ("envcheck/output.py", "envcheck.report.junit"), ("envcheck/output.py", "envcheck.report.prometheus"),
    ("envcheck/output.py", "envcheck.report.brief"), ("envcheck/output.py", "envcheck.report.markdown"),
    ("envcheck/output.py", "envcheck.fleet.junit"), ("envcheck/output.py", "envcheck.fleet.metrics"),
    ("envcheck/output.py", "envcheck.fleet.html"), ("envcheck/output.py", "envcheck.fleet.fleetjson"),
    ("envcheck/output.py", "envcheck.fleet.table"),
}


def _module(name: str) -> str:
    dotted = name.removesuffix(".py").replace("/", ".")
    return dotted.removesuffix(".__init__")


def _imports(tree: ast.AST) -> list[tuple[int, str, bool]]:
    """(line, module, at module level) for every import, TYPE_CHECKING blocks left out (they never run)."""
    found: list[tuple[int, str, bool]] = []

    def walk(node: ast.AST, module_level: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and isinstance(child.test, ast.Name) and child.test.id == "TYPE_CHECKING":
                continue
            here = module_level and not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                found.extend((child.lineno, alias.name, here) for alias in child.names)
            elif isinstance(child, ast.ImportFrom) and child.level == 0 and child.module:
                found.append((child.lineno, child.module, here))
                if child.module.split(".")[0] == "envcheck":  # `from envcheck.report import junit`: a module too
                    found.extend((child.lineno, f"{child.module}.{alias.name}", here) for alias in child.names)
            walk(child, here)

    walk(tree, True)
    return found


def test_every_import_in_the_payload_resolves_inside_it_or_is_on_a_path_no_host_takes() -> None:
    files = payload()
    shipped = {_module(name) for name, _ in files if name.endswith(".py")}
    package = Path(files[0][1]).resolve().parents[len(Path(files[0][0]).parts) - 1]
    everything = {_module(path.relative_to(package).as_posix()) for path in (package / "envcheck").rglob("*.py")}
    tops = {module.split(".")[0] for module in shipped}
    wrong, used = [], set()
    for name, path in files:
        if not name.endswith(".py"):
            continue
        for line, target, module_level in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            top = target.split(".")[0]
            if top in sys.stdlib_module_names or top == "__future__":
                continue
            if top == "envcheck" and (target not in everything or target in shipped):
                continue  # shipped, or `from envcheck.x import name` naming no module
            if top != "envcheck" and top in tops:
                continue
            if not module_level and (name, target) in NEVER_ON_A_HOST:
                used.add((name, target))
                continue
            wrong.append(f"{name}:{line}: {target}" + (" (at import)" if module_level else ""))
    assert not wrong, "imports of what the artifact leaves out: " + "; ".join(wrong)
    assert used == NEVER_ON_A_HOST, f"no longer imported, take them off the list: {NEVER_ON_A_HOST - used}"


def test_what_the_controller_alone_uses_is_left_out() -> None:
    names = {name for name, _ in payload()}
    assert not names & CONTROLLER_ONLY
    assert {"envcheck/fleet/hostdoctor.py", "envcheck/fleet/record.py", "envcheck/fleet/classify.py",
            "envcheck/report/jsonreport.py", "envcheck/data/default-policy.json", "envcheck/data/xid.json",
            "envcheck/data/compat.json"} <= names
