"""Facts about the torch build in the checked interpreter, from a child process (opt-in: importing torch costs ~2 s).

The child runs ``python -c <code>`` in the interpreter the user checks (``--python``, default this one) and
prints one JSON line: torch.__version__, torch.version.cuda (None: a CPU build), the architectures it was
built for, and whether CUDA initialises. CUDA init can hang (pytorch/pytorch#35754): hence the child
and its deadline. envcheck itself never imports torch.
"""

from __future__ import annotations

import json
from typing import Any

from envcheck.frozen import frozen
from envcheck.units import ProbeContext

# get_arch_list() is [] when CUDA is unavailable, so read the build's arch flags directly where they exist.
TORCH_CODE = r"""
import json, sys
out = {}
try:
    import torch
except Exception as exc:
    print(json.dumps({"import_error": "%s: %s" % (type(exc).__name__, exc)}))
    sys.exit(0)
out["version"] = torch.__version__
out["cuda"] = torch.version.cuda
flags = getattr(torch._C, "_cuda_getArchFlags", None)
try:
    out["arch_list"] = (flags() or "").split() if flags else []
except Exception:
    out["arch_list"] = []
try:
    out["available"] = bool(torch.cuda.is_available())
    if out["available"]:
        out["arch_list"] = list(torch.cuda.get_arch_list()) or out["arch_list"]
        out["capabilities"] = [list(torch.cuda.get_device_capability(i)) for i in range(torch.cuda.device_count())]
except Exception as exc:
    out["available"] = False
    out["cuda_error"] = "%s: %s" % (type(exc).__name__, exc)
print(json.dumps(out))
"""


@frozen
class TorchFacts:
    python: str
    error: str = ""  # the child could not tell (timeout, crash, torch missing)
    missing: bool = False  # torch is not installed there
    version: str | None = None
    cuda: str | None = None  # None: a CPU-only build
    arch_list: tuple[str, ...] = ()
    available: bool | None = None
    cuda_error: str = ""
    capabilities: tuple[tuple[int, int], ...] = ()
    duration_s: float = 0.0


def collect_torch(ctx: ProbeContext, python: str, timeout_s: float) -> TorchFacts:
    result = ctx.run([python, "-c", TORCH_CODE], timeout_s=timeout_s, env=ctx.env)
    duration_s = round(result.duration_s, 3)
    if not result.ok:
        return TorchFacts(python=python, error=result.describe(), duration_s=duration_s)
    try:
        doc: dict[str, Any] = json.loads(result.out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return TorchFacts(python=python, error=f"unreadable torch child output: {result.out[:200]!r}",
                          duration_s=duration_s)
    if doc.get("import_error"):
        return TorchFacts(python=python, missing=True, error=str(doc["import_error"]), duration_s=duration_s)
    caps = tuple((int(c[0]), int(c[1])) for c in doc.get("capabilities") or () if isinstance(c, list) and len(c) == 2)
    return TorchFacts(
        python=python,
        version=str(doc.get("version")),
        cuda=str(doc["cuda"]) if doc.get("cuda") else None,
        arch_list=tuple(str(a) for a in doc.get("arch_list") or ()),
        available=bool(doc.get("available")),
        cuda_error=str(doc.get("cuda_error") or ""),
        capabilities=caps,
        duration_s=duration_s,
    )
