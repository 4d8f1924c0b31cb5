"""The real host probe over recorded real os-release files (tests/data/os-release/README.md says where each
came from), and the Ubuntu support verdicts on a fixed day so that the dates in envcheck.compat decide."""

from __future__ import annotations

import dataclasses
import os
import shutil
from datetime import date
from pathlib import Path

import pytest

from envcheck.checks import CHECKS
from envcheck.checks import host as checks
from envcheck.engine import examine, make_context
from envcheck.hostfs import HostFS
from envcheck.model import Status
from envcheck.policy import default_policy
from envcheck.probes import PROBES
from envcheck.probes.host import collect, parse_os_release
from envcheck.units import ProbeContext

DATA = Path(__file__).parents[1] / "data" / "os-release"
DAY = date(2026, 11, 27)  # the day envcheck's compat data was read


def _ctx(root: Path) -> ProbeContext:
    ctx: ProbeContext = make_context(default_policy())(5.0)
    return dataclasses.replace(ctx, fs=HostFS(str(root)))


def _tree(tmp_path: Path, recording: str, where: str = "etc/os-release") -> Path:
    target = tmp_path / where
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(DATA / recording, target)
    return tmp_path


def _ubuntu_verdict(tmp_path: Path, recording: str, today: date = DAY):
    facts = dataclasses.replace(collect(_ctx(_tree(tmp_path, recording))), today=today)
    return facts, checks.ubuntu_support(facts, default_policy())


@pytest.mark.parametrize(
    ("recording", "status", "words"),
    [
        ("ubuntu-16.04", Status.FAIL, "standard support ended 2021-04-30, ESM ended 2026-04-23"),  # only Legacy left
        ("ubuntu-18.04", Status.WARN, "standard support ended 2023-05-31"),
        ("ubuntu-20.04", Status.WARN, "standard support ended 2025-05-31"),
        ("ubuntu-22.04", Status.PASS, "standard support until 2027-06-01"),  # 186 days left > 180
        ("ubuntu-24.04", Status.PASS, "standard support until 2029-05-31"),
        ("ubuntu-25.10", Status.FAIL, "interim release, support ended about 2026-07"),
        ("ubuntu-26.04", Status.PASS, "standard support until 2031-05-29"),
        ("debian-12", Status.WARN, "Debian GNU/Linux 12 (bookworm)"),
        ("fedora-40", Status.WARN, "Fedora Linux 40 (Container Image)"),
    ],
)
def test_recorded_release_verdicts(tmp_path: Path, recording: str, status: Status, words: str) -> None:
    facts, verdict = _ubuntu_verdict(tmp_path, recording)
    assert facts.os_release_path == str(tmp_path / "etc/os-release")
    assert checks.os_release(facts, default_policy()).status is Status.PASS
    assert verdict.status is status, verdict
    assert words in verdict.observed
    if status is not Status.PASS and facts.os_release["ID"] == "ubuntu":
        assert verdict.fix.startswith("sudo do-release-upgrade")


def test_ubuntu_fields_parsed_from_recordings(tmp_path: Path) -> None:
    facts = collect(_ctx(_tree(tmp_path, "ubuntu-24.04")))
    osr = facts.os_release
    assert (osr["ID"], osr["VERSION_ID"], osr["VERSION_CODENAME"]) == ("ubuntu", "24.04", "noble")
    assert osr["PRETTY_NAME"] == "Ubuntu 24.04.3 LTS"  # quotes removed
    assert osr["VERSION"] == "24.04.3 LTS (Noble Numbat)"


def test_lts_label_and_sources_in_evidence(tmp_path: Path) -> None:
    _, verdict = _ubuntu_verdict(tmp_path, "ubuntu-26.04")
    assert verdict.observed.startswith("Ubuntu 26.04 LTS (resolute)")
    assert verdict.evidence["esm_end"] == "2036-04-23"
    assert "distro-info" in str(verdict.evidence["source"])


def test_support_ending_within_policy_days_warns(tmp_path: Path) -> None:
    _, verdict = _ubuntu_verdict(tmp_path, "ubuntu-22.04", today=date(2026, 12, 10))
    assert verdict.status is Status.WARN
    assert "ends 2027-06-01 (in 173 days)" in verdict.observed
    policy = dataclasses.replace(default_policy(), ubuntu_support_warn_days=30)
    facts = dataclasses.replace(collect(_ctx(_tree(tmp_path, "ubuntu-22.04"))), today=date(2026, 12, 10))
    assert checks.ubuntu_support(facts, policy).status is Status.PASS


def test_interim_release_still_in_support_warns_not_fails(tmp_path: Path) -> None:
    _, verdict = _ubuntu_verdict(tmp_path, "ubuntu-25.10", today=date(2026, 1, 15))
    assert verdict.status is Status.WARN
    assert "support ends about 2026-07" in verdict.observed
    assert "9 months" in verdict.reason


def test_usr_lib_fallback_when_etc_is_missing(tmp_path: Path) -> None:
    facts = collect(_ctx(_tree(tmp_path, "ubuntu-20.04", where="usr/lib/os-release")))
    assert facts.os_release_path == str(tmp_path / "usr/lib/os-release")
    assert facts.os_release["VERSION_CODENAME"] == "focal"


def test_etc_wins_over_usr_lib(tmp_path: Path) -> None:
    _tree(tmp_path, "ubuntu-20.04", where="usr/lib/os-release")
    facts = collect(_ctx(_tree(tmp_path, "ubuntu-24.04")))
    assert facts.os_release["VERSION_ID"] == "24.04"


def test_no_os_release_is_unknown_and_other_checks_still_run(tmp_path: Path) -> None:
    policy = default_policy()
    host_checks = [c for c in CHECKS if c.probe == "host" and c.applies_to(policy)]
    report = examine(host_checks, PROBES, policy, ctx_for=make_context(policy, fs=HostFS(str(tmp_path))))
    by_id = {r.id: r for r in report.results}
    assert by_id["host.os-release"].status is Status.UNKNOWN
    assert by_id["host.ubuntu-support"].status is Status.UNKNOWN
    assert by_id["host.ubuntu-support"].caused_by == "host.os-release"
    # Live measurements do not depend on the root: they still judge this machine, its home folder and its kernel.
    disk = by_id["host.disk-home"]
    home = os.path.expanduser("~")
    st = os.statvfs(home)
    assert (disk.evidence["path"], disk.evidence["total_bytes"]) == (home, st.f_blocks * st.f_frsize)
    free_gib = disk.evidence["free_bytes"] / 2**30
    assert disk.status is (Status.FAIL if free_gib < policy.disk_free_fail_gib else
                           Status.WARN if free_gib < policy.disk_free_warn_gib else Status.PASS)
    assert by_id["host.kernel"].observed == f"Linux {os.uname().release} {os.uname().machine}"


def test_non_ubuntu_warns_but_every_host_check_runs(tmp_path: Path) -> None:
    _tree(tmp_path, "fedora-40")
    policy = default_policy()
    host_checks = [c for c in CHECKS if c.probe == "host" and c.applies_to(policy)]
    report = examine(host_checks, PROBES, policy, ctx_for=make_context(policy, fs=HostFS(str(tmp_path))))
    by_id = {r.id: r for r in report.results}
    assert by_id["host.ubuntu-support"].status is Status.WARN
    assert len(by_id) == len(host_checks)
    assert all(r.caused_by is None for r in report.results)


def test_parser_handles_quoting_comments_and_escapes() -> None:
    text = '# a comment\n\nNAME="Foo \\"Bar\\" Linux"\nID=foo\nVERSION=\'1 (one)\'\nBROKEN="unterminated\nEMPTY=""\n'
    values = parse_os_release(text)
    assert values == {"NAME": 'Foo "Bar" Linux', "ID": "foo", "VERSION": "1 (one)", "BROKEN": "unterminated",
                      "EMPTY": ""}


def test_this_machines_own_os_release() -> None:
    facts = collect(make_context(default_policy())(5.0))
    path = "/etc/os-release" if os.path.exists("/etc/os-release") else "/usr/lib/os-release"
    with open(path, encoding="utf-8") as fh:
        expected = parse_os_release(fh.read())
    assert facts.os_release == expected
    assert checks.os_release(facts, default_policy()).observed == expected["PRETTY_NAME"]
