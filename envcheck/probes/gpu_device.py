"""One GPU as NVML saw it: typed values, and for each field it could not read, the NVML error's name.

A field the GPU does not have (ECC on a GeForce, retired pages on an A100) carries ``NotSupported`` in
``errors`` and ``None`` as its value: the checks render it n/a. A lost GPU has only ``errors["handle"]``.
"""

from __future__ import annotations

from dataclasses import field
from typing import Any, Mapping

from envcheck.frozen import frozen

# nvmlClocksEventReason* bits (nvml.h; pynvml's nvmlClocksEventReason* / nvmlClocksThrottleReason* constants).
THROTTLE_BITS: tuple[tuple[int, str], ...] = (
    (0x1, "GpuIdle"),
    (0x2, "ApplicationsClocksSetting"),
    (0x4, "SwPowerCap"),
    (0x8, "HwSlowdown"),
    (0x10, "SyncBoost"),
    (0x20, "SwThermalSlowdown"),
    (0x40, "HwThermalSlowdown"),
    (0x80, "HwPowerBrakeSlowdown"),
    (0x100, "DisplayClockSetting"),
)


# NVML errors about the GPU itself rather than one field: NVML_ERROR_GPU_IS_LOST ("fallen off the bus or has
# otherwise become inaccessible") and NVML_ERROR_RESET_REQUIRED ("requires a reset before it can be used
# again"), nvmlReturn_t in https://docs.nvidia.com/deploy/nvml-api/.
DEVICE_GONE = ("GpuIsLost", "ResetRequired")


def throttle_names(mask: int) -> tuple[str, ...]:
    names = [name for bit, name in THROTTLE_BITS if mask & bit]
    rest = mask & ~sum(bit for bit, _ in THROTTLE_BITS)
    return tuple(names + ([f"0x{rest:x}"] if rest else []))


@frozen
class GpuDevice:
    index: int
    errors: Mapping[str, str] = field(default_factory=dict)  # field -> NVML error name
    name: str | None = None
    uuid: str | None = None
    pci_bus_id: str | None = None  # "00000000:18:00.0"
    memory_total: int | None = None  # bytes
    memory_used: int | None = None
    temperature_c: int | None = None
    power_draw_w: float | None = None
    power_limit_w: float | None = None
    power_default_limit_w: float | None = None
    persistence_mode: bool | None = None
    compute_capability: tuple[int, int] | None = None
    ecc_current: bool | None = None
    ecc_pending: bool | None = None
    ecc_volatile_uncorrected: int | None = None
    ecc_aggregate_uncorrected: int | None = None
    retired_pages_pending: bool | None = None
    remapped_correctable: int | None = None
    remapped_uncorrectable: int | None = None
    remap_pending: bool | None = None
    remap_failure: bool | None = None
    clocks_event_mask: int | None = None
    clocks_event_reasons: tuple[str, ...] | None = None
    pcie_gen_current: int | None = None
    pcie_gen_max: int | None = None
    pcie_width_current: int | None = None
    pcie_width_max: int | None = None
    mig_current: bool | None = None
    mig_pending: bool | None = None

    @property
    def lost(self) -> str | None:
        """The error that keeps this GPU from being queried at all (GpuIsLost, ...), or None.

        NVML may still hand out a handle for a GPU that fell off the bus and then fail each query on it with
        GpuIsLost (or ResetRequired): one such field error means the whole GPU is gone, not "could not read"."""
        if "handle" in self.errors:
            return self.errors["handle"]
        return next((e for e in self.errors.values() if e in DEVICE_GONE), None)

    @property
    def label(self) -> str:
        return f"GPU {self.index} ({self.uuid})" if self.uuid else f"GPU {self.index}"

    @property
    def pci_short(self) -> str | None:
        """"00000000:9B:00.0" -> "0000:9b:00", the form the kernel log uses in Xid lines."""
        if not self.pci_bus_id:
            return None
        domain, _, rest = self.pci_bus_id.lower().partition(":")
        return f"{domain[-4:]}:{rest.rsplit('.', 1)[0]}"

    def why_missing(self, *fields: str) -> str | None:
        """The NVML error behind the first of these fields that has none, e.g. "NotSupported"."""
        for name in fields:
            if name in self.errors:
                return self.errors[name]
        return self.lost


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _flag(value: Any) -> bool | None:
    number = _int(value)
    return None if number is None else number != 0


def _watts(value: Any) -> float | None:
    number = _int(value)
    return None if number is None else round(number / 1000.0, 2)


def device_from_child(doc: Mapping[str, Any]) -> GpuDevice:
    """The child's {"index", "values", "errors"} -> a GpuDevice; unexpected shapes become None, never a crash."""
    values = doc.get("values") or {}
    raw_errors = doc.get("errors") or {}
    errors = {str(k): str((v or {}).get("error", "Unknown")) if isinstance(v, dict) else str(v)
              for k, v in raw_errors.items()}
    rows = values.get("remapped_rows")
    remap = [_int(x) for x in rows] if isinstance(rows, list) and len(rows) == 4 else [None] * 4
    for name in ("remapped_correctable", "remapped_uncorrectable", "remap_pending", "remap_failure"):
        if "remapped_rows" in errors:
            errors[name] = errors["remapped_rows"]
    cap = values.get("compute_capability")
    mask = _int(values.get("clocks_event_reasons"))
    if "clocks_event_reasons" in errors:
        errors["clocks_event_mask"] = errors["clocks_event_reasons"]
    for src, dst in (("power_draw_mw", "power_draw_w"), ("power_limit_mw", "power_limit_w"),
                     ("power_default_limit_mw", "power_default_limit_w"), ("ecc_mode_current", "ecc_current"),
                     ("ecc_mode_pending", "ecc_pending"), ("mig_mode_current", "mig_current"),
                     ("mig_mode_pending", "mig_pending")):
        if src in errors:
            errors[dst] = errors[src]
    return GpuDevice(
        index=_int(doc.get("index")) or 0,
        errors=errors,
        name=values.get("name"),
        uuid=values.get("uuid"),
        pci_bus_id=values.get("pci_bus_id"),
        memory_total=_int(values.get("memory_total")),
        memory_used=_int(values.get("memory_used")),
        temperature_c=_int(values.get("temperature_c")),
        power_draw_w=_watts(values.get("power_draw_mw")),
        power_limit_w=_watts(values.get("power_limit_mw")),
        power_default_limit_w=_watts(values.get("power_default_limit_mw")),
        persistence_mode=_flag(values.get("persistence_mode")),
        compute_capability=(int(cap[0]), int(cap[1])) if isinstance(cap, list) and len(cap) == 2 else None,
        ecc_current=_flag(values.get("ecc_mode_current")),
        ecc_pending=_flag(values.get("ecc_mode_pending")),
        ecc_volatile_uncorrected=_int(values.get("ecc_volatile_uncorrected")),
        ecc_aggregate_uncorrected=_int(values.get("ecc_aggregate_uncorrected")),
        retired_pages_pending=_flag(values.get("retired_pages_pending")),
        remapped_correctable=remap[0],
        remapped_uncorrectable=remap[1],
        remap_pending=None if remap[2] is None else remap[2] != 0,
        remap_failure=None if remap[3] is None else remap[3] != 0,
        clocks_event_mask=mask,
        clocks_event_reasons=None if mask is None else throttle_names(mask),
        pcie_gen_current=_int(values.get("pcie_gen_current")),
        pcie_gen_max=_int(values.get("pcie_gen_max")),
        pcie_width_current=_int(values.get("pcie_width_current")),
        pcie_width_max=_int(values.get("pcie_width_max")),
        mig_current=_flag(values.get("mig_mode_current")),
        mig_pending=_flag(values.get("mig_mode_pending")),
    )
