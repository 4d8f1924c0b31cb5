"""Verdicts about the distribution: which OS this is, and where an Ubuntu release stands in the support phases
Canonical sells (https://ubuntu.com/about/release-cycle): standard support, Expanded Security Maintenance with
Ubuntu Pro, then Pro's paid Legacy add-on. The dates come from envcheck.compat (data with sources).
"""

from __future__ import annotations

import fnmatch
from datetime import date
from typing import TYPE_CHECKING

from envcheck.compat_data import last_day
from envcheck.model import Outcome, Status
from envcheck.policy import Policy
from envcheck.probes.host import HostFacts

if TYPE_CHECKING:  # the data module loads compat.json: imported at run time only by the check that reads it
    from envcheck.compat_data import UbuntuRelease


def _pretty(facts: HostFacts) -> str:
    osr = facts.os_release
    return osr.get("PRETTY_NAME") or f"{osr.get('NAME', 'unknown')} {osr.get('VERSION', '')}".strip()


def os_release(facts: HostFacts, policy: Policy) -> Outcome:
    if not facts.os_release:
        return Outcome(status=Status.UNKNOWN, observed="no os-release", reason=facts.os_release_error,
                       expected="/etc/os-release or /usr/lib/os-release",
                       fix="ls -l /etc/os-release /usr/lib/os-release  # base-files (Debian/Ubuntu) ships them")
    keys = ("ID", "ID_LIKE", "VERSION_ID", "VERSION_CODENAME", "PRETTY_NAME")
    return Outcome(status=Status.PASS, observed=_pretty(facts),
                   evidence={"path": facts.os_release_path, **{k: facts.os_release[k] for k in keys
                                                                if k in facts.os_release}})


def release_id(facts: HostFacts) -> str | None:
    """"ID VERSION_ID" as the policy's os_allowed globs match it ("ubuntu 22.04", "debian 12", "rocky 9.4");
    None when os-release was not read."""
    osr = facts.os_release
    if not osr.get("ID"):
        return None
    return f"{osr['ID']} {osr.get('VERSION_ID', '')}".strip().lower()


def os_allowed_by(facts: HostFacts, policy: Policy) -> str | None:
    """The os_allowed glob this host's release matches, or None (none matches, none is set, or it is unknown)."""
    release = release_id(facts)
    if release is None:
        return None
    return next((p for p in policy.os_allowed if fnmatch.fnmatchcase(release, p.lower())), None)


def os_allowed(facts: HostFacts, policy: Policy) -> Outcome:
    release = release_id(facts)
    expected = f"one of: {', '.join(policy.os_allowed)}"
    if release is None:
        return Outcome(status=Status.UNKNOWN, observed="no os-release", expected=expected,
                       reason=facts.os_release_error or "the distribution could not be identified",
                       caused_by="host.os-release")
    observed = f"{release} ({_pretty(facts)})"
    allowed = os_allowed_by(facts, policy)
    if allowed is not None:
        return Outcome(status=Status.PASS, observed=observed, expected=expected, evidence={"matched": allowed})
    return Outcome(status=Status.FAIL, observed=observed, expected=expected,
                   reason="the lab runs only the policy's OS releases: images, drivers and runbooks are made for them",
                   fix="reinstall this host with an allowed release, or add its release to os_allowed "
                       f"(grep -E '^(ID|VERSION_ID)=' /etc/os-release shows {release!r})")


def _add_months(year: int, month: int, months: int) -> date:
    index = year * 12 + (month - 1) + months
    y, m = divmod(index, 12)
    return last_day(y, m + 1)


def _yymm(version: str) -> tuple[int, int]:
    year, month = (int(p) for p in version.split(".")[:2])
    return year, month


def _paid_phases(release: UbuntuRelease, today: date, lead: str) -> str:
    """What support can still be bought for a release whose free support ended (empty when none can)."""
    if release.esm_end is not None and release.esm_end >= today:
        return f"{lead}Ubuntu Pro (ESM) sells security updates until {release.esm_end.isoformat()}"
    if release.legacy_end is not None and release.legacy_end >= today:
        return f"{lead}only the paid Legacy add-on of Ubuntu Pro still covers it, until {release.legacy_end:%B %Y}"
    return ""


def ubuntu_support(facts: HostFacts, policy: Policy) -> Outcome:
    from envcheck import compat  # data file read once, only when this check runs

    osr = facts.os_release
    name = _pretty(facts)
    if osr.get("ID") != "ubuntu":
        allowed = os_allowed_by(facts, policy)
        if allowed is not None:  # a Debian or Rocky lab chose its OS: not a warning on every server
            return Outcome(status=Status.SKIP, observed=name,
                           reason=f"not Ubuntu; the policy allows this release (os_allowed {allowed!r}, "
                                  "judged by host.os-allowed)")
        based = " (based on Ubuntu)" if "ubuntu" in osr.get("ID_LIKE", "").split() else ""
        return Outcome(
            status=Status.WARN, observed=f"{name}{based}", expected="Ubuntu LTS",
            reason="envcheck's advice (apt packages, CUDA images, support dates) is written for Ubuntu LTS; "
                   "the other checks still run",
        )
    version = osr.get("VERSION_ID", "")
    release = compat.ubuntu_release(version)
    evidence: dict[str, object] = {"version_id": version, "data_version": compat.DATA_VERSION}
    upgrade = "sudo do-release-upgrade  # or reinstall with the current LTS"
    if release is None:
        return _not_in_data(name, version, facts.today, evidence, upgrade)
    return _in_data(release, facts.today, policy, evidence, upgrade)


def _not_in_data(name: str, version: str, today: date, evidence: dict[str, object], upgrade: str) -> Outcome:
    """A release missing from the data: older than every known LTS (its support ended before theirs did), newer
    than the data (unknown), or an interim release judged by the months Canonical gives every interim release."""
    from envcheck import compat, compat_data

    try:
        year, month = (int(p) for p in version.split(".")[:2])
    except ValueError:
        return Outcome(status=Status.UNKNOWN, observed=name, reason=f"VERSION_ID {version!r} is not YY.MM",
                       fix="grep -E '^(ID|VERSION_ID)=' /etc/os-release")
    lts_rows = [r for r in compat_data.ubuntu_rows() if r.lts]
    oldest = lts_rows[0] if lts_rows else None
    if month == 4 and year % 2 == 0 and oldest is not None and (year, month) < _yymm(oldest.version):
        # Support only ever ends: an LTS older than the oldest one in the data ended before it did.
        evidence["oldest_known"] = oldest.version
        return Outcome(
            status=Status.FAIL, observed=f"{name}: out of standard support since before "
                     f"{oldest.standard_support_end.isoformat()}",
            expected="a release in standard support", evidence=evidence, fix=upgrade,
            reason=f"Ubuntu {version} LTS is older than {oldest.version} LTS, the oldest in envcheck's data, "
                   f"whose standard support ended {oldest.standard_support_end.isoformat()}; support only "
                   f"ever ends, so {version}'s ended earlier",
        )
    if month == 4 and year % 2 == 0:  # an LTS newer than envcheck's data
        return Outcome(status=Status.UNKNOWN, observed=name, evidence=evidence,
                       reason=f"Ubuntu {version} is not in envcheck's data ({compat.DATA_VERSION}); "
                              "update envcheck to judge its support dates",
                       fix="ubuntu-distro-info --supported --fullname  # Ubuntu's own list; "
                           "sudo apt-get install -y distro-info if missing")
    end = _add_months(2000 + year, month, compat.ubuntu_interim_support_months())
    evidence["support_end_estimate"] = end.isoformat()
    ended = end < today
    return Outcome(
        status=Status.FAIL if ended else Status.WARN,
        observed=f"{name}: interim release, support {'ended' if ended else 'ends'} about {end:%Y-%m}",
        expected="an Ubuntu LTS release", evidence=evidence, fix=upgrade,
        reason=f"interim releases get {compat.ubuntu_interim_support_months()} months of updates; "
               "CUDA images and most guides target LTS releases",
    )


def _in_data(release: UbuntuRelease, today: date, policy: Policy, evidence: dict[str, object],
             upgrade: str) -> Outcome:
    days = policy.ubuntu_support_warn_days
    evidence.update(standard_support_end=release.standard_support_end.isoformat(),
                    esm_end=release.esm_end.isoformat() if release.esm_end else None,
                    legacy_end=release.legacy_end.isoformat() if release.legacy_end else None, source=release.source)
    label = f"Ubuntu {release.version} {'LTS ' if release.lts else ''}({release.codename})"
    end, esm, legacy = release.standard_support_end, release.esm_end, release.legacy_end
    if end < today:
        # The phases as Canonical sells them (https://ubuntu.com/about/release-cycle): standard support,
        # then Expanded Security Maintenance with Ubuntu Pro, then Pro's paid Legacy add-on.
        last = max(d for d in (end, esm, legacy) if d is not None)
        if last < today:
            return Outcome(
                status=Status.FAIL, observed=f"{label}: all support ended {last.isoformat()}",
                expected="a supported Ubuntu release", evidence=evidence, fix=upgrade,
                reason="no security updates at all, not even paid ones, and current CUDA images and drivers no "
                       "longer target it",
            )
        if esm is None or esm < today:
            return Outcome(
                status=Status.FAIL, observed=f"{label}: standard support ended {end.isoformat()}"
                + (f", ESM ended {esm.isoformat()}" if esm else ""),
                expected="a release in standard support", evidence=evidence, fix=upgrade,
                reason="no free security updates, nor Ubuntu Pro's ESM" + _paid_phases(release, today, "; "),
            )
        return Outcome(
            status=Status.WARN, observed=f"{label}: standard support ended {end.isoformat()}",
            expected="a release in standard support", evidence=evidence, fix=upgrade,
            reason=f"only Ubuntu Pro (ESM) security updates remain, until {esm.isoformat()}"
                   + (f"; then the paid Legacy add-on, until {legacy:%B %Y}" if legacy else ""),
        )
    left = (end - today).days
    if left <= days:
        return Outcome(
            status=Status.WARN, observed=f"{label}: standard support ends {end.isoformat()} (in {left} days)",
            expected=f"more than {days} days of standard support left", evidence=evidence, fix=upgrade,
            reason="plan the upgrade before updates stop",
        )
    if not release.lts and policy.ubuntu_require_lts:
        return Outcome(status=Status.WARN, observed=f"{label}: not an LTS release", expected="an Ubuntu LTS release",
                       evidence=evidence, fix=upgrade, reason="the policy asks for an LTS release")
    return Outcome(status=Status.PASS, observed=f"{label}, standard support until {end.isoformat()}", evidence=evidence)
