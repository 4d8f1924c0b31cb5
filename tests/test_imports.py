"""Start-up stays light and imports flow one way (STYLE.md, conventions 1 and 8)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "envcheck"
HEAVY = ("docker", "pynvml", "jinja2", "torch")


def test_help_imports_none_of_the_heavy_libraries() -> None:
    # A fresh interpreter: what `envcheck --help` imports is all that is in sys.modules afterwards.
    code = (
        "import sys, json\n"
        "from envcheck.cli import main\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {list(HEAVY)!r})))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    loaded = json.loads(out.stdout.strip().splitlines()[-1])
    assert "Usage:" in out.stdout
    assert loaded == []


def test_doctor_list_imports_none_of_the_heavy_libraries() -> None:
    code = (
        "import sys, json\n"
        "from envcheck.cli import main\n"
        "try:\n"
        "    main(['doctor', '--list'])\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {list(HEAVY)!r})))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


# Layers, lowest first: a module may import its own layer or lower ones, never a higher one.
LAYERS = [
    {"envcheck.linereader", "envcheck.fixes"},  # standard library only: runner, checks, smoke and scaffold use them
    {"envcheck.model", "envcheck.runner", "envcheck.hostfs", "envcheck.redact", "envcheck", "envcheck.dockerapi",
     "envcheck.project_record"},
    {"envcheck.policy", "envcheck.compat", "envcheck.compat_data", "envcheck.compat_rules", "envcheck.xid"},
    # The units the engine runs are typed by the Policy, so they sit just above it.
    {"envcheck.units"},
    {"envcheck.probes"},
    {"envcheck.checks"},
    {"envcheck.engine"},
    {"envcheck.report", "envcheck.smoke", "envcheck.scaffold", "envcheck.doctor"},
    {"envcheck.cli", "envcheck.__main__"},
]


def _layer(module: str) -> int | None:
    best = None
    for index, names in enumerate(LAYERS):
        for name in names:
            if (module == name or module.startswith(name + ".")) and (best is None or len(name) > best[1]):
                best = (index, len(name))
    return best[0] if best else None


def test_imports_flow_one_way() -> None:
    wrong = []
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        module = ".".join(rel.parts).removesuffix(".__init__")
        own = _layer(module)
        assert own is not None, f"{module} has no place in LAYERS: add it"
        for node in ast.walk(ast.parse(path.read_text())):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            for target in targets:
                if not target.startswith("envcheck"):
                    continue
                layer = _layer(target)
                if layer is not None and layer > own and target != "envcheck":
                    wrong.append(f"{module} imports {target}")
    assert not wrong, "imports against the layering: " + "; ".join(sorted(set(wrong)))
    assert not any("envcheck.cli" in w.split(" imports ")[1] for w in wrong)


def test_only_the_adapter_imports_the_docker_sdk() -> None:
    """One adapter owns each heavy library (STYLE.md, convention 8): the docker SDK is envcheck.dockerapi's alone."""
    importers = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else []
            if any(name == "docker" or name.startswith("docker.") for name in names):
                importers.add(path.relative_to(PACKAGE.parent).as_posix())
    assert importers == {"envcheck/dockerapi.py"}


def test_smoke_modules_import_each_other_one_way() -> None:
    # Every import between envcheck.smoke's modules, TYPE_CHECKING and function-level ones too: a circle would
    # be two modules that can only be read, and loaded, together. (The child/ folder imports none of them.)
    smoke = PACKAGE / "smoke"
    names = {path.stem for path in smoke.glob("*.py") if path.stem != "__init__"}
    graph: dict[str, set[str]] = {}
    for name in names:
        edges = graph.setdefault(name, set())
        for node in ast.walk(ast.parse((smoke / f"{name}.py").read_text())):
            if isinstance(node, ast.ImportFrom) and node.module == "envcheck.smoke":
                edges |= {a.name for a in node.names if a.name in names}
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("envcheck.smoke."):
                edges.add((node.module or "").split(".")[2])
            elif isinstance(node, ast.Import):
                edges |= {a.name.split(".")[2] for a in node.names if a.name.startswith("envcheck.smoke.")}
    done: set[str] = set()

    def visit(name: str, path: tuple[str, ...]) -> None:
        assert name not in path, "an import circle: " + " -> ".join((*path, name))
        if name not in done:
            for target in sorted(graph.get(name, ())):
                visit(target, (*path, name))
            done.add(name)

    for name in sorted(names):
        visit(name, ())
    assert {"facts", "events", "judging"} <= graph["steps"] and "driver" not in graph["steps"]
