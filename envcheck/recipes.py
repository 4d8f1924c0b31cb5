"""Files that put envcheck into the tools a lab already runs, shipped in the wheel (envcheck/data/recipes/) and
printed by `envcheck recipe NAME`, so an admin copies them from the installed version rather than from a web
page of another version. README.md ("Recipes") says where each goes; tests/recipes/ runs each where it can
run: the NHC module inside real LBNL NHC, the node-problem-detector plugin under its exit contract, srun under a
real single-node Slurm.
"""

from __future__ import annotations

from envcheck import packagedata
from envcheck.model import UsageError

# name -> (file under data/recipes, what it is)
RECIPES: dict[str, tuple[str, str]] = {
    "nhc": ("envcheck.nhc", "LBNL NHC module: drains a Slurm node with envcheck's first problem as the reason"),
    "npd-plugin": ("envcheck-npd", "node-problem-detector custom plugin script (exit 0 OK, 1 NonOK, else Unknown)"),
    "npd-config": ("npd-envcheck.json", "node-problem-detector custom plugin monitor config for that script"),
}


def recipe_text(name: str) -> str:
    """The shipped file of recipe ``name``; an unknown name is a UsageError listing the known ones."""
    if name not in RECIPES:
        raise UsageError(f"recipe {name!r}: no such recipe (known: {', '.join(RECIPES)})")
    return packagedata.read_text(f"recipes/{RECIPES[name][0]}")
