"""The one reader of /var/run/reboot-required, for the host probe and the gpu probe alike.

On Debian and Ubuntu, a package whose update needs a reboot (a kernel, an NVIDIA driver, libc) runs
/usr/share/update-notifier/notify-reboot-required (package update-notifier-common) from its postinst: that
creates the flag file and appends the package's name to ``reboot-required.pkgs``, so a name can be listed
more than once (linux-base, for one, asks with every kernel).
"""

from __future__ import annotations

from envcheck.frozen import frozen
from envcheck.hostfs import HostFS

FLAG = "/var/run/reboot-required"
PACKAGES = FLAG + ".pkgs"


@frozen
class PendingReboot:
    required: bool = False
    packages: tuple[str, ...] = ()  # each once, in the order they asked


def read_pending_reboot(fs: HostFS) -> PendingReboot:
    if not fs.exists(FLAG):
        return PendingReboot()
    try:
        text = fs.read_text(PACKAGES)
    except OSError:  # the flag alone: a reboot is pending, no package named
        text = ""
    return PendingReboot(True, tuple(dict.fromkeys(p.strip() for p in text.splitlines() if p.strip())))
