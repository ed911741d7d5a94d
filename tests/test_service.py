"""`membucket service`: the login service's files for every platform, the steps that install
and remove them, and a server that stops cleanly on SIGTERM (what every service manager sends)."""

from __future__ import annotations

import json
import os
import plistlib
import shutil
import signal
import socket
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from types import SimpleNamespace

import pytest
from membucket.service import ServiceSpec, detect_platform, execute, launchd_plist, plan, systemd_unit, windows_task
from membucket.service.render import _win_quote

SPEC = ServiceSpec((sys.executable, "-m", "membucket"), "/media/alice/MY STICK/50% $HOME", 8766, {"MEMBUCKET_EMBEDDER": "hash"})
TASK_NS = "{http://schemas.microsoft.com/windows/2004/02/mit/task}"


@pytest.mark.parametrize("user_mode", [False, True])
def test_the_linux_unit_passes_systemd_analyze_verify(tmp_path, user_mode):
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed")
    unit = tmp_path / "membucket.service"
    unit.write_text(systemd_unit(SPEC))
    env = {**os.environ, "XDG_RUNTIME_DIR": str(tmp_path)}
    argv = ["systemd-analyze", *(["--user"] if user_mode else []), "verify", str(unit)]
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0 and not done.stderr.strip() and not done.stdout.strip(), done.stderr + done.stdout


def test_the_linux_unit_escapes_what_systemd_would_expand():
    unit = systemd_unit(SPEC)
    assert f'ExecStart={sys.executable} -m membucket --store "/media/alice/MY STICK/50%% $$HOME" serve --port 8766' in unit
    assert "Environment=MEMBUCKET_EMBEDDER=hash" in unit and "WantedBy=default.target" in unit
    assert "TimeoutStopSec=30" in unit and "Restart=on-failure" in unit


def test_the_launchd_agent_runs_at_load_and_restarts_only_after_a_crash():
    doc = plistlib.loads(launchd_plist(ServiceSpec(SPEC.command, SPEC.store, 8766, log_file="/Users/alice/Library/Logs/membucket/server.log")))
    assert doc["ProgramArguments"] == [sys.executable, "-m", "membucket", "--store", SPEC.store, "serve", "--port", "8766"]
    assert doc["RunAtLoad"] is True and doc["KeepAlive"] == {"SuccessfulExit": False}
    assert doc["StandardOutPath"] == doc["StandardErrorPath"] == "/Users/alice/Library/Logs/membucket/server.log"
    assert doc["ExitTimeOut"] == 30


def test_the_windows_task_starts_at_logon_natively_and_through_wsl():
    log = "C:\\Users\\alice\\AppData\\Local\\membucket\\server.log"
    native = ET.fromstring(windows_task(ServiceSpec(("C:\\Program Files\\mb\\membucket.exe",), "E:\\membucket", 8765, log_file=log), "PC\\alice"))
    assert native.tag == f"{TASK_NS}Task"
    assert native.find(f"{TASK_NS}Triggers/{TASK_NS}LogonTrigger/{TASK_NS}UserId").text == "PC\\alice"
    assert native.find(f"{TASK_NS}Settings/{TASK_NS}ExecutionTimeLimit").text == "PT0S"  # never stopped for running long
    assert native.find(f".//{TASK_NS}Exec/{TASK_NS}Command").text == "cmd.exe"
    args = native.find(f".//{TASK_NS}Exec/{TASK_NS}Arguments").text
    assert args == f'/d /s /c ""C:\\Program Files\\mb\\membucket.exe" --store E:\\membucket serve --port 8765 >> {log} 2>&1"'

    wsl_spec = ServiceSpec(
        ("/home/alice/.venv/bin/membucket",), "/home/alice/.membucket", 8765,
        log_file="/home/alice/.local/state/membucket/server.log", wsl_distro="Ubuntu-24.04",
    )
    wsl = ET.fromstring(windows_task(wsl_spec, "alice"))
    assert wsl.find(f".//{TASK_NS}Exec/{TASK_NS}Command").text == "wsl.exe"
    args = wsl.find(f".//{TASK_NS}Exec/{TASK_NS}Arguments").text
    assert args.startswith(
        '-d Ubuntu-24.04 --exec /bin/sh -c "mkdir -p /home/alice/.local/state/membucket'
        " && exec /home/alice/.venv/bin/membucket --store /home/alice/.membucket serve --port 8765 >> "
    )


@pytest.mark.parametrize(("arg", "quoted"), [
    ("plain", "plain"),
    ("C:\\Program Files\\x", '"C:\\Program Files\\x"'),
    ('say "hi"', '"say \\"hi\\""'),
    ("C:\\dir with space\\", '"C:\\dir with space\\\\"'),
    ("", '""'),
])
def test_windows_arguments_are_quoted_for_command_line_to_argv(arg, quoted):
    assert _win_quote(arg) == quoted


def test_dry_run_plans_every_platform_anywhere():
    for platform, first in [("linux", "systemctl"), ("macos", "mkdir"), ("windows", "schtasks")]:
        p = plan("install", platform, SPEC, home="/home/alice", user="alice", uid=501)
        assert p.steps[0].kind == "write"
        assert [s.argv[0] for s in p.steps if s.kind == "run"][0] == first
        assert "write " in p.describe() and "run " in p.describe()
    mac = plan("install", "macos", SPEC, home="/Users/alice", user="alice", uid=501).describe()
    assert "launchctl bootstrap gui/501 /Users/alice/Library/LaunchAgents/dev.membucket.server.plist" in mac
    wsl = plan("install", "windows", ServiceSpec(SPEC.command, "/home/alice/.membucket", wsl_distro="Ubuntu"), home="/home/alice", user="alice")
    xml = "\\\\wsl.localhost\\Ubuntu\\home\\alice\\.config\\membucket\\membucket-task.xml"
    assert wsl.steps[1].argv == ("schtasks.exe", "/Create", "/TN", "membucket", "/XML", xml, "/F")
    with pytest.raises(ValueError):
        plan("install", "beos", SPEC)
    with pytest.raises(ValueError):
        plan("reboot", "linux", SPEC)


class FakeRun:
    def __init__(self, codes=None):
        self.calls: list[list[str]] = []
        self.codes = codes or {}

    def __call__(self, argv):
        self.calls.append(argv)
        return SimpleNamespace(returncode=self.codes.get(argv[2] if len(argv) > 2 else argv[-1], 0))


def test_install_and_uninstall_on_linux(tmp_path):
    out: list[str] = []
    run = FakeRun()
    assert execute(plan("install", "linux", SPEC, home=str(tmp_path)), run=run, echo=out.append) == 0
    unit = tmp_path / ".config" / "systemd" / "user" / "membucket.service"
    assert unit.read_text() == systemd_unit(SPEC)
    assert run.calls == [["systemctl", "--user", "daemon-reload"], ["systemctl", "--user", "enable", "--now", "membucket.service"]]
    assert execute(plan("install", "linux", SPEC, home=str(tmp_path)), run=FakeRun(), echo=out.append) == 0  # again: same file

    run = FakeRun({"disable": 5})  # not running: fine
    assert execute(plan("uninstall", "linux", SPEC, home=str(tmp_path)), run=run, echo=out.append) == 0
    assert not unit.exists()
    assert run.calls[-1] == ["systemctl", "--user", "daemon-reload"]


def test_a_failing_step_stops_the_plan_with_its_code(tmp_path):
    out: list[str] = []
    run = FakeRun({"daemon-reload": 1})
    assert execute(plan("install", "linux", SPEC, home=str(tmp_path)), run=run, echo=out.append) == 1
    assert len(run.calls) == 1 and "failed (1): systemctl --user daemon-reload" in out

    def missing(argv):
        raise FileNotFoundError(argv[0])

    assert execute(plan("status", "linux", SPEC, home=str(tmp_path)), run=missing, echo=out.append) == 127
    assert execute(plan("status", "linux", SPEC, home=str(tmp_path)), run=FakeRun({"status": 3}), echo=out.append) == 3  # inactive


def test_logs_show_the_end_of_the_log_file(tmp_path):
    log = tmp_path / "server.log"
    spec = ServiceSpec(SPEC.command, SPEC.store, log_file=str(log))
    out: list[str] = []
    assert execute(plan("logs", "macos", spec, home=str(tmp_path)), echo=out.append) == 1
    assert out == [f"no log yet at {log}"]
    log.write_text("".join(f"line {i}\n" for i in range(500)))
    out.clear()
    assert execute(plan("logs", "macos", spec, home=str(tmp_path)), echo=out.append, lines=3) == 0
    assert out == ["line 497\nline 498\nline 499"]


def test_wsl_without_systemd_gets_a_windows_task(monkeypatch):
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setenv("WSL_DISTRO_NAME", "Ubuntu")
    expected = ("linux", None) if os.path.isdir("/run/systemd/system") else ("windows", "Ubuntu")
    assert detect_platform() == expected
    monkeypatch.delenv("WSL_DISTRO_NAME")
    assert detect_platform() == ("linux", None)


# -- SIGTERM: drain, then exit 0 ----------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_sigterm_lets_the_request_in_flight_finish_then_exits_0(tmp_path):
    env = {**os.environ, "MEMBUCKET_STORE": str(tmp_path / "bucket"), "MEMBUCKET_USER": "dana", "MEMBUCKET_CACHE_DIR": str(tmp_path / "cache")}
    port = _free_port()
    argv = [sys.executable, "-m", "membucket", "serve", "--port", str(port)]
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if "Uvicorn running" in line or not line:
                break
        body = json.dumps({"text": "Dana keeps her notes on a USB stick"}).encode()
        with socket.create_connection(("127.0.0.1", port), timeout=60) as conn:
            head = f"POST /api/v1/memories HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
            conn.sendall(head.encode() + body[:10])  # the request is in flight: half its body sent
            time.sleep(0.5)
            proc.send_signal(signal.SIGTERM)
            time.sleep(1.0)
            assert proc.poll() is None, "the server quit with a request in flight"
            conn.sendall(body[10:])
            answer = b""
            while b"\r\n\r\n" not in answer or len(answer.split(b"\r\n\r\n", 1)[1]) < 2:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 201"), answer[:300]
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    listed = subprocess.run([sys.executable, "-m", "membucket", "list"], env=env, capture_output=True, text=True, timeout=120)
    assert "USB stick" in listed.stdout  # the commit landed
