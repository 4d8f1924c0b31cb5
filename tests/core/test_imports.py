"""Start-up stays light and imports flow one way.

`envcheck --help` and `doctor --list` must answer in a fraction of a second, so they load none of the heavy
libraries; each heavy library has one adapter module, so that a version change of it is handled in one place;
and the layers import downwards only, so that each can be read and tested without the ones above it.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "envcheck"
HEAVY = ("docker", "pynvml", "jinja2", "torch", "ansible_runner", "ansible")


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
    # Standard library only: runner, checks, smoke and scaffold use them.
    {"envcheck.linereader", "envcheck.fixes", "envcheck.proctree", "envcheck.shutdown", "envcheck.frozen"},
    {"envcheck.model", "envcheck.runner", "envcheck.hostfs", "envcheck.redact", "envcheck", "envcheck.dockerapi",
     "envcheck.dockerendpoint", "envcheck.project_record", "envcheck.atomicfile"},
    {"envcheck.policy", "envcheck.policy_rules", "envcheck.policy_groups", "envcheck.compat", "envcheck.compat_data",
     "envcheck.compat_rules", "envcheck.xid"},
    # The units the engine runs are typed by the Policy, so they sit just above it.
    {"envcheck.units"},
    {"envcheck.probes"},
    {"envcheck.checks"},
    {"envcheck.engine"},
    {"envcheck.report", "envcheck.smoke", "envcheck.scaffold"},
    # Commands that compose the packages below: doctor adds smoke's steps, verify builds a scaffolded project
    # and runs its smoke module with smoke's container launcher. fleet runs doctor on many hosts through Ansible
    # and merges their reports.
    {"envcheck.doctor", "envcheck.verify", "envcheck.fleet", "envcheck.recipes", "envcheck.policy_init"},
    # The entries and what prints: the CLI, and the fleet artifact's doctor on a host, which runs without click.
    {"envcheck.cli", "envcheck.output", "envcheck.__main__", "envcheck.policy_cli", "envcheck.fleet.hostdoctor"},
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


def _imports(path: Path) -> list[tuple[str, str]]:
    """(where, module) for every import statement in ``path``, function-level and TYPE_CHECKING ones too:
    ``where`` is ``envcheck/x.py:12: from a import b`` as the source has it, ``module`` the module it loads
    (``a`` there; a relative import keeps its dots, so that no rule below mistakes it for a top-level name)."""
    rel = path.relative_to(PACKAGE.parent).as_posix()
    found: list[tuple[str, str]] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(f"{rel}:{node.lineno}: import {a.name}", a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = "." * node.level + (node.module or "")
            names = ", ".join(a.name for a in node.names)
            found.append((f"{rel}:{node.lineno}: from {module} import {names}", module))
    return sorted(found)


def _top(module: str) -> str:
    return module.split(".")[0]


def test_the_model_imports_nothing_of_envcheck() -> None:
    # Status, Outcome, Result and Report are what every other layer shares; a model that imported any of them
    # would tie them all into one circle. envcheck.frozen (how envcheck makes its frozen dataclasses) imports
    # nothing of envcheck itself.
    offending = [where for where, module in _imports(PACKAGE / "model.py")
                 if _top(module) in ("envcheck", "") and module != "envcheck.frozen"]
    assert offending == [], "envcheck/model.py imports envcheck: " + "; ".join(offending)


def test_smoke_and_scaffold_do_not_import_each_other() -> None:
    # What needs both (`envcheck verify` runs a scaffolded project's smoke module with smoke's container launcher)
    # lives a layer above them, in envcheck/verify.py, so that each can be read and changed without the other.
    crossings = []
    for here, other in (("smoke", "scaffold"), ("scaffold", "smoke")):
        for path in sorted((PACKAGE / here).rglob("*.py")):
            crossings += [where for where, module in _imports(path) if module.startswith(f"envcheck.{other}")]
    assert crossings == [], "smoke and scaffold import each other: " + "; ".join(crossings)


# The one module allowed to import each heavy library (docker's SDK, nvidia-ml-py, Jinja2, torch): a new version
# of one is then handled in one place, and `envcheck --help` loads none of them.
ADAPTERS = {
    "docker": ["envcheck/dockerapi.py"],
    # The NVML child alone: the gpu probe only finds pynvml's folder for it (importlib.util.find_spec) and runs
    # it in a process of its own, so that a hung driver cannot hang envcheck.
    "pynvml": ["envcheck/probes/gpu_nvml_child.py"],
    "jinja2": ["envcheck/scaffold/render.py"],
    # The smoke child's CUDA and all-reduce steps; the gpu-torch probe imports torch only inside the code string
    # it hands to `python -c` (envcheck/probes/gpu_torch.py), so envcheck itself never does.
    "torch": ["envcheck/smoke/child/smoke_allreduce.py", "envcheck/smoke/child/smoke_cuda.py"],
    # The optional extra envcheck[fleet]: `envcheck fleet` drives Ansible through ansible-runner from one module.
    "ansible_runner": ["envcheck/fleet/ansible.py"],
}


@pytest.mark.parametrize("library", sorted(ADAPTERS))
def test_only_its_adapter_imports_a_heavy_library(library: str) -> None:
    found = [where for path in sorted(PACKAGE.rglob("*.py")) for where, module in _imports(path)
             if _top(module) == library]
    importers = sorted({where.split(":")[0] for where in found})
    assert importers == ADAPTERS[library], f"{library} imported outside its adapter: " + "; ".join(
        where for where in found if where.split(":")[0] not in ADAPTERS[library])


def test_the_smoke_child_imports_only_the_standard_library_torch_and_its_own_modules() -> None:
    # The child runs by path in the interpreter the user checks, which may have neither envcheck nor any of its
    # dependencies: the standard library, torch (what it tests) and its own files are all it can count on.
    child = PACKAGE / "smoke" / "child"
    own = {path.stem for path in child.glob("*.py")}
    outside = [(where, module) for path in sorted(child.glob("*.py")) for where, module in _imports(path)
               if _top(module) not in sys.stdlib_module_names and _top(module) not in own]
    assert {_top(module) for _, module in outside} == {"torch"}, "the smoke child imports more than the " \
        "standard library, torch and its own modules: " + "; ".join(where for where, m in outside if _top(m) != "torch")


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
