"""`envcheck fleet` end to end on a real fleet: ssh containers of every kind (tests/helpers/fleet.py), one run of
the real CLI through Ansible, then `envcheck report merge` of its out folder into JSON, JUnit, a Prometheus
textfile (checked by promtool) and an HTML page (rendered by headless Chromium).

One fleet run serves every test in this module (it takes most of the module's time): each test reads one part
of what it left. The policy below suits bare Debian containers (no GPU, no git, no compiler); the kinds of host
and what each must come to are in HOSTS.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import psutil
import pytest
from helpers.fleet import OTHER_PYTHON_IMAGE, Fleet, Host, HostSpec, env_without_ssh_agent, have_image

from envcheck.fleet.artifact import DEADLINE_RESERVE_S
from envcheck.fleet.outcomes import safe_file_name
from envcheck.model import EXIT_FAILED, EXIT_OK, EXIT_UNKNOWN, EXIT_UNREACHABLE

pytestmark = [pytest.mark.docker, pytest.mark.slow]

ENVCHECK = str(Path(sys.executable).with_name("envcheck"))
HOST_TIMEOUT_S = 15  # the fleet's per-host deadline (--timeout): the stalled host is cut there
RUN_TIMEOUT_S = 150  # the whole `envcheck fleet` subprocess
MEMORY_CAP_BYTES = 1536 << 20  # the controller's process tree is killed (and the test fails) above this
CONTROL_PERSIST_S = 10  # envcheck fleet's ssh ControlPersist
MARKER = "/fleet-test-marker"  # made on every host before the run: anything newer was left by the run
ODD_NAME = "lab-ok-<b>$(id)&"  # a host name with HTML and shell characters: data everywhere, never syntax

# host name -> (kind, inventory group, its outcome in the per-host file: a report's overall or a host-error reason)
HOSTS: dict[str, tuple[str, str, str]] = {
    "lab-ok-1": ("ok", "lab", "pass"),
    ODD_NAME: ("ok", "lab", "pass"),
    "lab-violates": ("violates", "lab", "fail"),
    "small-scratch-1": ("other-group", "small-scratch", "pass"),
    "lab-stopped": ("stopped", "lab", "unreachable"),
    "lab-hung": ("hung", "lab", "timed-out"),
    "lab-no-python": ("no-python", "lab", "no-python"),
    "lab-flood": ("flood", "lab", "invalid-report"),
    "lab-stalls": ("stalls", "lab", "timed-out"),
    "lab-python313": ("other-python", "lab", "pass"),
}
# The fleet outcome (envcheck.fleet.outcomes.HostOutcome) of each per-host outcome above.
FLEET_OUTCOME = {"pass": "pass", "warn": "warn", "fail": "failed", "unreachable": "unreachable",
                 "timed-out": "unjudged", "no-python": "unjudged", "invalid-report": "unjudged"}
REACHABLE = ("ok", "violates", "other-group", "no-python", "flood", "stalls", "other-python")

POLICY = """\
# The test lab: bare Debian containers. Every host must have 1 GiB free at /scratch; the small-scratch group's
# hosts have a small scratch disk by design.
os_allowed: ["debian 12", "debian 13"]
basic_tools: [ls, cp, cat, grep, ps, kill, tar]
free_space_gib:
  /scratch: 1
skip:
  git: the lab's containers get their code from images, not from a clone
  python.environment: envcheck runs with the system Python here; users work in containers
  python.pip: envcheck runs with the system Python here; users work in containers
  python.path-resolution: envcheck runs with the system Python here; users work in containers
groups:
  small-scratch:
    inventory_groups: [small-scratch]
    overrides:
      free_space_gib:
        /scratch: 0.005
"""


@dataclass
class FleetRun:
    hosts: dict[str, Host]
    out: Path
    rc: int
    stdout: str
    stderr: str
    wall_s: float
    peak_rss_bytes: int
    leftovers: dict[str, str] = field(default_factory=dict)
    controller_leftovers: list[str] = field(default_factory=list)


def _tree_rss(root: psutil.Process) -> int:
    total = 0
    for proc in [root, *root.children(recursive=True)]:
        try:
            total += proc.memory_info().rss
        except psutil.Error:
            pass
    return total


def _run_watched(argv: list[str], timeout_s: float) -> tuple[subprocess.CompletedProcess[str], int]:
    """Run ``argv``; sample its process tree's memory every 0.1 s and kill the tree above MEMORY_CAP_BYTES."""
    peak = 0
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          start_new_session=True, env=env_without_ssh_agent()) as child:
        done = threading.Event()

        def watch() -> None:
            nonlocal peak
            proc = psutil.Process(child.pid)
            while not done.wait(0.1):
                try:
                    peak = max(peak, _tree_rss(proc))
                except psutil.Error:
                    return
                if peak > MEMORY_CAP_BYTES:
                    os.killpg(child.pid, 9)
                    return

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        try:
            out, err = child.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, 9)
            out, err = child.communicate()
            pytest.fail(f"{argv[:2]} ran past {timeout_s} s; its stderr ends: {err[-2000:]}")
        finally:
            done.set()
            watcher.join(5)
    return subprocess.CompletedProcess(argv, child.returncode, out, err), peak


def _leftovers(fleet: Fleet, host: Host) -> str:
    """What the run left on a host: files newer than the marker where a run writes, anything named *envcheck*,
    and processes of envcheck still running."""
    files = fleet.exec(host, f"find /tmp /var/tmp /root /dev/shm -mindepth 1 -newer {MARKER} 2>/dev/null; "
                             "find / -xdev -iname '*envcheck*' ! -path '/proc/*' 2>/dev/null")
    # Apart: this command line holds no "envcheck" for grep to find.
    processes = fleet.exec(host, "ps -eo args= | grep -i '[e]nvcheck'")
    return (files.stdout + processes.stdout).strip()


def _controller_leftovers(hosts: dict[str, Host]) -> list[str]:
    """Processes on this machine still connected to a host's port (ssh clients, their connection masters)."""
    ports = {host.port: name for name, host in hosts.items()}
    found = []
    for conn in psutil.net_connections(kind="tcp"):
        if conn.raddr and conn.raddr.ip == "127.0.0.1" and conn.raddr.port in ports and conn.pid:
            try:
                cmdline = " ".join(psutil.Process(conn.pid).cmdline())
            except psutil.Error:
                continue
            found.append(f"{ports[conn.raddr.port]}: {cmdline[:160]}")
    return sorted(found)


@pytest.fixture(scope="module")
def run(ssh_fleet: Fleet, tmp_path_factory: pytest.TempPathFactory) -> FleetRun:
    fleet = ssh_fleet
    if not have_image(OTHER_PYTHON_IMAGE):
        pytest.fail(f"{OTHER_PYTHON_IMAGE} is missing: scripts/fleet-image could not build it here (its message "
                    "says why); the fleet tests need a second Python in the inventory")
    folder = tmp_path_factory.mktemp("fleet-run")
    hosts = {h.name: h for h in fleet.start([HostSpec(name, kind, group) for name, (kind, group, _) in HOSTS.items()])}
    for host in hosts.values():
        if host.kind in REACHABLE:
            assert fleet.exec(host, f"touch {MARKER}").returncode == 0
    time.sleep(1.1)  # find -newer compares whole seconds on some file systems: nothing of the run shares the marker's
    inventory = fleet.inventory(folder / "inventory.ini", list(hosts.values()))
    policy = folder / "policy.yaml"
    policy.write_text(POLICY)
    out = folder / "out"
    started = time.monotonic()
    done, peak = _run_watched([ENVCHECK, "fleet", "-i", str(inventory), "--policy", str(policy), "--out", str(out),
                               "--forks", str(len(hosts)), "--timeout", str(HOST_TIMEOUT_S), "--json"], RUN_TIMEOUT_S)
    result = FleetRun(hosts, out, done.returncode, done.stdout, done.stderr, time.monotonic() - started, peak)
    # A connection master may idle ControlPersist (10 s) after its last use; none may outlive that.
    grace = time.monotonic() + CONTROL_PERSIST_S + 2
    while (found := _controller_leftovers(hosts)) and time.monotonic() < grace:
        time.sleep(0.5)
    result.controller_leftovers = found
    # A host whose task the controller cut at its timeout (a slow connection or transfer on a loaded machine) may
    # still be ending its own run, which the artifact stops at its deadline counted from its own start: what is
    # left is what is still there once that deadline has surely passed.
    result.leftovers = {name: _leftovers(fleet, host) for name, host in hosts.items() if host.kind in REACHABLE}
    settled = time.monotonic() + HOST_TIMEOUT_S
    while any(result.leftovers.values()) and time.monotonic() < settled:
        time.sleep(1)
        result.leftovers.update({name: _leftovers(fleet, hosts[name]) for name, left in result.leftovers.items()
                                 if left})
    return result


def _host_file(run: FleetRun, name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((run.out / safe_file_name(name)).read_text())
    return data


def _outcome_of_file(data: dict[str, Any]) -> str:
    return str(data["overall"] if data.get("schema") == "envcheck.report" else data["outcome"])


def test_the_run_ends_with_the_worst_hosts_exit_code(run: FleetRun) -> None:
    # A host failed the policy (lab-violates): FAILED wins over unjudged and unreachable hosts.
    assert run.rc == EXIT_FAILED, run.stderr[-3000:]


def test_every_host_has_exactly_one_file(run: FleetRun) -> None:
    assert sorted(p.name for p in run.out.iterdir()) == sorted(safe_file_name(name) for name in HOSTS)


@pytest.mark.parametrize("name", list(HOSTS))
def test_each_host_comes_to_its_own_outcome(run: FleetRun, name: str) -> None:
    kind, group, expected = HOSTS[name]
    data = _host_file(run, name)
    assert (data["host"], _outcome_of_file(data)) == (name, expected), data.get("message", "")
    assert data["groups"] == [group]


def test_a_host_that_breaks_the_policy_fails_on_the_free_space_check(run: FleetRun) -> None:
    results = {r["id"]: r for r in _host_file(run, "lab-violates")["results"]}
    failed = sorted(check for check, r in results.items() if r["status"] == "fail")
    assert failed == ["host.free-space"]
    assert "/scratch" in results["host.free-space"]["observed"]


def test_the_other_group_is_judged_by_its_groups_requirement(run: FleetRun) -> None:
    data = _host_file(run, "small-scratch-1")
    assert data["policy"]["groups"] == ["small-scratch"]
    lab = _host_file(run, "lab-ok-1")
    assert lab["policy"]["groups"] == []
    assert data["policy"]["digest"] != lab["policy"]["digest"]
    assert {r["id"]: r["status"] for r in data["results"]}["host.free-space"] == "pass"


def test_the_second_python_ran_envcheck_with_its_own_interpreter(run: FleetRun) -> None:
    facts = _host_file(run, "lab-python313")["facts"]
    assert str(facts["python"]).startswith("3.13"), facts
    assert str(_host_file(run, "lab-ok-1")["facts"]["python"]).startswith("3.11")


def test_the_hung_and_the_stalled_host_are_cut_at_the_deadline(run: FleetRun) -> None:
    # Every other host finishes in a few seconds. The hung one is cut by ssh's connect timeout (it covers the
    # banner exchange); the stalled one, connected and running, by the artifact itself at HOST_TIMEOUT_S less its
    # reserve for connecting and ending (envcheck/fleet/artifact.py), before Ansible's backstop at HOST_TIMEOUT_S.
    # Then the merge.
    limit_s = HOST_TIMEOUT_S - DEADLINE_RESERVE_S - HOST_TIMEOUT_S // 10
    assert limit_s <= run.wall_s < HOST_TIMEOUT_S + 30, run.stderr[-2000:]
    assert "did not answer" in _host_file(run, "lab-hung")["message"]
    assert f"{HOST_TIMEOUT_S}" in _host_file(run, "lab-stalls")["message"]


def test_a_host_without_a_report_gets_the_host_error_record(run: FleetRun) -> None:
    for name, (_, group, expected) in HOSTS.items():
        data = _host_file(run, name)
        if data["schema"] == "envcheck.host-error":
            assert sorted(data) == ["groups", "host", "message", "outcome", "schema", "schema_version", "time"]
            assert (data["schema_version"], data["host"], data["groups"], data["outcome"]) == (1, name, [group],
                                                                                                expected)
            assert data["message"].strip(), name


def test_a_flooding_host_leaves_the_controller_within_its_memory(run: FleetRun) -> None:
    assert 0 < run.peak_rss_bytes < MEMORY_CAP_BYTES, f"{run.peak_rss_bytes >> 20} MiB"
    assert len((run.out / safe_file_name("lab-flood")).read_bytes()) < 64 * 1024


def test_nothing_of_envcheck_is_left_on_a_host_that_finished(run: FleetRun) -> None:
    finished = {name: found for name, found in run.leftovers.items() if run.hosts[name].kind != "stalls"}
    assert finished == {name: "" for name in finished}


# Ansible's task `timeout` ends the worker, not its ssh client, and nothing of it ends the session on the host: the
# artifact ends its own run before the deadline, and `envcheck fleet` closes its ssh connection masters at its end.
def test_nothing_of_envcheck_is_left_on_a_host_cut_at_the_deadline(run: FleetRun) -> None:
    assert run.leftovers["lab-stalls"] == ""


def test_no_ssh_of_the_run_outlives_it_on_the_controller(run: FleetRun) -> None:
    assert run.controller_leftovers == []


def test_the_odd_host_name_stays_data(run: FleetRun) -> None:
    assert _host_file(run, ODD_NAME)["host"] == ODD_NAME
    assert safe_file_name(ODD_NAME) != ODD_NAME + ".json"


def test_the_json_on_stdout_is_the_fleet_view(run: FleetRun) -> None:
    view = json.loads(run.stdout)
    assert view["schema"] == "envcheck.fleet" and view["exit_code"] == EXIT_FAILED
    got = {h["host"]: h["outcome"] for h in view["hosts"]}
    assert got == {name: FLEET_OUTCOME[expected] for name, (_, _, expected) in HOSTS.items()}


# ---- report merge of the run's folder -------------------------------------------------------------------------


@dataclass
class Merged:
    rc: int
    json: dict[str, Any]
    junit: Path
    prometheus: Path
    html: Path
    stderr: str


@pytest.fixture(scope="module")
def merged(run: FleetRun, tmp_path_factory: pytest.TempPathFactory) -> Merged:
    folder = tmp_path_factory.mktemp("fleet-merge")
    junit, prom, html = folder / "fleet.xml", folder / "fleet.prom", folder / "fleet.html"
    done = subprocess.run([ENVCHECK, "report", "merge", str(run.out), "--json", "--junit", str(junit),
                           "--prometheus", str(prom), "--html", str(html)],
                          capture_output=True, text=True, timeout=60, env=env_without_ssh_agent())
    return Merged(done.returncode, json.loads(done.stdout), junit, prom, html, done.stderr)


@pytest.mark.parametrize(("names", "code"), [
    (["lab-ok-1", "lab-python313"], EXIT_OK),
    (["lab-ok-1", "lab-stopped"], EXIT_UNREACHABLE),
    (["lab-ok-1", "lab-stopped", "lab-no-python"], EXIT_UNKNOWN),
    (["lab-stopped", "lab-hung", "lab-violates"], EXIT_FAILED),
], ids=["pass", "unreachable", "unjudged-over-unreachable", "failed-over-all"])
def test_the_worst_host_wins_the_exit_code(run: FleetRun, names: list[str], code: int) -> None:
    files = [str(run.out / safe_file_name(name)) for name in names]
    done = subprocess.run([ENVCHECK, "report", "merge", *files, "--json"], capture_output=True, text=True,
                          timeout=60)
    assert (done.returncode, sorted(h["host"] for h in json.loads(done.stdout)["hosts"])) == (code, sorted(names))


def test_fleet_limited_to_a_passing_and_an_unreachable_host_exits_unreachable(run: FleetRun, tmp_path: Path) -> None:
    inventory = run.out.parent / "inventory.ini"
    done, _ = _run_watched([ENVCHECK, "fleet", "-i", str(inventory), "--policy", str(run.out.parent / "policy.yaml"),
                            "--limit", "lab-ok-1,lab-stopped", "--out", str(tmp_path / "out"),
                            "--timeout", str(HOST_TIMEOUT_S), "--json"], RUN_TIMEOUT_S)
    assert done.returncode == EXIT_UNREACHABLE, done.stderr[-2000:]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["lab-ok-1.json", "lab-stopped.json"]


def test_merge_gives_the_same_outcomes_and_exit_code(run: FleetRun, merged: Merged) -> None:
    assert merged.rc == EXIT_FAILED, merged.stderr[-2000:]
    got = {h["host"]: h["outcome"] for h in merged.json["hosts"]}
    assert got == {name: FLEET_OUTCOME[expected] for name, (_, _, expected) in HOSTS.items()}
    assert merged.json["file_errors"] == [] and merged.json["missing"] == []


def test_junit_has_one_suite_per_host_and_unreachable_is_an_error(merged: Merged) -> None:
    root = ET.parse(merged.junit).getroot()
    suites = root.findall("testsuite")
    names = [s.get("name") for s in suites]
    assert len(names) == len(set(names)) == len(HOSTS)
    assert sorted(names) == sorted(f"envcheck.doctor@{name}" for name in HOSTS)
    stopped = next(s for s in suites if str(s.get("name")).endswith("@lab-stopped"))
    assert stopped.get("errors") == "1" and stopped.find("testcase/error") is not None
    violates = next(s for s in suites if str(s.get("name")).endswith("@lab-violates"))
    assert int(str(violates.get("failures"))) == 1


def test_promtool_accepts_the_textfile(merged: Merged) -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing (Debian's prometheus package; scripts/test installs it)"
    checked = subprocess.run([promtool, "check", "metrics"], stdin=merged.prometheus.open(), capture_output=True,
                             text=True, timeout=30)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    text = merged.prometheus.read_text()
    assert 'envcheck_fleet_host_outcome{host="lab-stopped",outcome="unreachable"} 1' in text


def _chromium(*args: str, timeout_s: float = 60) -> subprocess.CompletedProcess[str]:
    chromium = shutil.which("chromium")
    assert chromium, "chromium is missing (Debian's chromium package; scripts/test installs it)"
    return subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                           *args], capture_output=True, text=True, timeout=timeout_s)


class _Grid(HTMLParser):
    """The fleet page's grid as the browser left it: per row (tr.host-row), its host name as the row header's
    text, its outcome cell's text, and each subject cell's class."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, dict[str, str]] = {}
        self._row: dict[str, str] | None = None
        self._cell: str | None = None  # "host", "outcome" or None
        self._text = ""
        self.elements: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append(tag)
        found = dict(attrs)
        classes = (found.get("class") or "").split()
        if tag == "tr" and "host-row" in classes:
            self._row = {}
        elif self._row is not None and tag in ("th", "td"):
            self._cell = "host" if "host" in classes else "outcome" if "outcome" in classes else None
            self._text = ""
            if found.get("data-subject"):
                self._row[f"subject:{found['data-subject']}"] = " ".join(classes)

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._text += data

    def handle_endtag(self, tag: str) -> None:
        if self._row is not None and tag in ("th", "td") and self._cell is not None:
            self._row[self._cell] = self._text.strip()
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.rows[self._row.get("host", "")] = self._row
            self._row = None


def test_the_page_renders_in_chromium_and_its_grid_reads_back(merged: Merged, tmp_path: Path) -> None:
    dom = _chromium("--dump-dom", merged.html.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    grid = _Grid()
    grid.feed(dom.stdout)
    # Every host's row, its name as text (the odd one too: no element made of it), its outcome with its symbol.
    assert {name: row["outcome"].split()[-1] for name, row in grid.rows.items()} == {
        name: FLEET_OUTCOME[expected] for name, (_, _, expected) in HOSTS.items()}
    assert grid.rows["lab-violates"]["subject:host"] == "s-fail"
    assert grid.rows["lab-ok-1"]["subject:host"] == "s-pass"
    assert "b" not in grid.elements  # the page uses no <b>: one would have come from the odd host name
    shot = tmp_path / "fleet.png"
    taken = _chromium(f"--screenshot={shot}", "--window-size=1400,900", merged.html.as_uri())
    assert taken.returncode == 0 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", taken.stderr[-2000:]


def test_the_admins_ansible_cfg_in_the_folder_they_run_from_is_the_runs(ssh_fleet: Fleet, tmp_path: Path) -> None:
    # The key and user come only from ./ansible.cfg, as an admin keeps them beside their inventory: ansible-runner
    # runs ansible-playbook from a folder of its own, where Ansible would not find that file by itself. (Last in
    # this module: a host started after the stopped one may get its port.)
    host = ssh_fleet.start([HostSpec("lab-cfg", "ok", "lab")])[0]
    (tmp_path / "inventory.ini").write_text(f"lab-cfg ansible_host=127.0.0.1 ansible_port={host.port}\n")
    (tmp_path / "ansible.cfg").write_text(
        f"[defaults]\nremote_user = root\nprivate_key_file = {ssh_fleet.private_key}\nhost_key_checking = False\n"
        "[ssh_connection]\nssh_args = -o ControlMaster=auto -o ControlPersist=5s -o UserKnownHostsFile=/dev/null\n")
    env = {k: v for k, v in env_without_ssh_agent().items() if not k.startswith("ANSIBLE_")}
    done = subprocess.run([ENVCHECK, "fleet", "-i", "inventory.ini", "--out", "out"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False)
    data = json.loads((tmp_path / "out" / safe_file_name("lab-cfg")).read_text())
    assert (data["schema"], data["host"]) == ("envcheck.report", "lab-cfg"), data.get("message", done.stderr)
    assert done.returncode in (EXIT_OK, EXIT_FAILED, EXIT_UNKNOWN)
