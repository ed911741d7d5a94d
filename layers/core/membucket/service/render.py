"""The files that start ``membucket serve`` at login: a systemd user unit (Linux, WSL with
systemd), a launchd agent (macOS), a Task Scheduler logon task (Windows, native or WSL).

Pure functions of a ``ServiceSpec``: nothing here touches the machine, so every platform's file
is rendered and checked on any machine (``--dry-run --platform``). plistlib and the XML escaper
load when a file is rendered: the CLI reads ``PLATFORMS`` for its ``--help``.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import PurePosixPath, PureWindowsPath

__all__ = ["ServiceSpec", "PLATFORMS", "NAME", "LABEL", "systemd_unit", "launchd_plist", "windows_task"]

PLATFORMS = ("linux", "macos", "windows")
NAME = "membucket"  # systemd unit membucket.service, Task Scheduler task \membucket
LABEL = "dev.membucket.server"  # launchd label
# uvicorn waits up to 10 s for in-flight requests after SIGTERM (http serve): the service
# manager must wait longer before it kills.
STOP_TIMEOUT_SECONDS = 30


@dataclass(frozen=True)
class ServiceSpec:
    """What the service runs: ``<command...> --store STORE serve --port PORT``."""

    command: tuple[str, ...]  # e.g. (sys.executable, "-m", "membucket")
    store: str  # absolute path or URL: a service has no working directory to resolve against
    port: int = 8765
    env: dict[str, str] = field(default_factory=dict)  # MEMBUCKET_* settings to carry over
    log_file: str | None = None  # launchd and Windows: where output goes (systemd: the journal)
    wsl_distro: str | None = None  # Windows task starting the server inside this WSL distro

    @property
    def argv(self) -> list[str]:
        return [*self.command, "--store", self.store, "serve", "--port", str(self.port)]


def systemd_unit(spec: ServiceSpec) -> str:
    """A systemd user unit (``~/.config/systemd/user/membucket.service``)."""
    lines = [
        "[Unit]",
        "Description=membucket memory server (REST + MCP)",
        "After=network.target",
        "",
        "[Service]",
        "Type=exec",
        f"ExecStart={' '.join(_systemd_quote(a) for a in spec.argv)}",
        "Environment=PYTHONUNBUFFERED=1",
    ]
    lines += [f"Environment={_systemd_quote(f'{k}={v}')}" for k, v in sorted(spec.env.items())]
    lines += [
        # Secrets (API keys) belong in this optional file, not in the unit.
        "EnvironmentFile=-%h/.config/membucket/env",
        "Restart=on-failure",
        "RestartSec=5",
        # SIGTERM: stop accepting, finish in-flight requests, exit 0 (a commit is acknowledged
        # only once its log object exists, so even SIGKILL loses nothing acknowledged).
        "KillSignal=SIGTERM",
        f"TimeoutStopSec={STOP_TIMEOUT_SECONDS}",
        "",
        "[Install]",
        "WantedBy=default.target",
        "",
    ]
    return "\n".join(lines)


def launchd_plist(spec: ServiceSpec) -> bytes:
    """A launchd agent (``~/Library/LaunchAgents/dev.membucket.server.plist``)."""
    doc = {
        "Label": LABEL,
        "ProgramArguments": spec.argv,
        "EnvironmentVariables": {"PYTHONUNBUFFERED": "1", **spec.env},
        "RunAtLoad": True,
        "KeepAlive": {"SuccessfulExit": False},  # restart after a crash, not after a clean stop
        "ThrottleInterval": 5,
        "ExitTimeOut": STOP_TIMEOUT_SECONDS,  # SIGTERM, then SIGKILL after this long
        "ProcessType": "Background",
    }
    if spec.log_file:
        doc["StandardOutPath"] = doc["StandardErrorPath"] = spec.log_file
    import plistlib

    return plistlib.dumps(doc, sort_keys=False)


def windows_task(spec: ServiceSpec, user: str) -> str:
    """A Task Scheduler task (XML for ``schtasks /Create /XML``) that starts at ``user``'s logon.

    Natively it runs the command through ``cmd.exe`` so output reaches the log file; from WSL it
    runs ``wsl.exe -d <distro> --exec <command>`` (the server lives in the distro, logs there).
    """
    from xml.sax.saxutils import escape

    if spec.wsl_distro:
        program = "wsl.exe"
        inner = " ".join(shlex.quote(a) for a in spec.argv)
        if spec.env:
            inner = "env " + " ".join(shlex.quote(f"{k}={v}") for k, v in sorted(spec.env.items())) + " " + inner
        inner = "exec " + inner
        if spec.log_file:
            log_dir = str(PurePosixPath(spec.log_file).parent)
            inner = f"mkdir -p {shlex.quote(log_dir)} && {inner} >> {shlex.quote(spec.log_file)} 2>&1"
        arguments = f"-d {_win_quote(spec.wsl_distro)} --exec /bin/sh -c {_win_quote(inner)}"
    else:
        program = "cmd.exe"
        sets = "".join(f'set "{k}={v}" && ' for k, v in sorted(spec.env.items()))
        command = " ".join(_win_quote(a) for a in spec.argv)
        if spec.log_file:
            command += f" >> {_win_quote(spec.log_file)} 2>&1"
        arguments = f'/d /s /c "{sets}{command}"'
    return f"""<?xml version="1.0" encoding="UTF-16"?>
<Task version="1.2" xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task">
  <RegistrationInfo>
    <Description>membucket memory server (REST + MCP), started at logon</Description>
    <URI>\\{NAME}</URI>
  </RegistrationInfo>
  <Triggers>
    <LogonTrigger>
      <Enabled>true</Enabled>
      <UserId>{escape(user)}</UserId>
    </LogonTrigger>
  </Triggers>
  <Principals>
    <Principal id="Author">
      <UserId>{escape(user)}</UserId>
      <LogonType>InteractiveToken</LogonType>
      <RunLevel>LeastPrivilege</RunLevel>
    </Principal>
  </Principals>
  <Settings>
    <MultipleInstancesPolicy>IgnoreNew</MultipleInstancesPolicy>
    <DisallowStartIfOnBatteries>false</DisallowStartIfOnBatteries>
    <StopIfGoingOnBatteries>false</StopIfGoingOnBatteries>
    <AllowHardTerminate>true</AllowHardTerminate>
    <StartWhenAvailable>true</StartWhenAvailable>
    <RunOnlyIfNetworkAvailable>false</RunOnlyIfNetworkAvailable>
    <IdleSettings>
      <StopOnIdleEnd>false</StopOnIdleEnd>
      <RestartOnIdle>false</RestartOnIdle>
    </IdleSettings>
    <AllowStartOnDemand>true</AllowStartOnDemand>
    <Enabled>true</Enabled>
    <Hidden>false</Hidden>
    <RunOnlyIfIdle>false</RunOnlyIfIdle>
    <ExecutionTimeLimit>PT0S</ExecutionTimeLimit>
    <Priority>7</Priority>
    <RestartOnFailure>
      <Interval>PT1M</Interval>
      <Count>3</Count>
    </RestartOnFailure>
  </Settings>
  <Actions Context="Author">
    <Exec>
      <Command>{escape(program)}</Command>
      <Arguments>{escape(arguments)}</Arguments>
    </Exec>
  </Actions>
</Task>
"""


def _systemd_quote(arg: str) -> str:
    """Quote one ExecStart/Environment word: systemd expands % specifiers and $ variables."""
    arg = arg.replace("%", "%%").replace("$", "$$")
    if arg and not any(c in arg for c in " \t\"'\\;"):
        return arg
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _win_quote(arg: str) -> str:
    """Quote one argument for a Windows command line (CommandLineToArgvW rules)."""
    if arg and not any(c in arg for c in ' \t"'):
        return arg
    out, backslashes = ['"'], 0
    for c in arg:
        if c == "\\":
            backslashes += 1
            continue
        if c == '"':
            out.append("\\" * (2 * backslashes + 1) + '"')
        else:
            out.append("\\" * backslashes + c)
        backslashes = 0
    out.append("\\" * (2 * backslashes) + '"')
    return "".join(out)


def unit_path(home: str, platform: str) -> str:
    """Where a platform's service file lives under ``home``."""
    if platform == "linux":
        return str(PurePosixPath(home, ".config", "systemd", "user", f"{NAME}.service"))
    if platform == "macos":
        return str(PurePosixPath(home, "Library", "LaunchAgents", f"{LABEL}.plist"))
    return str(PureWindowsPath(home, "AppData", "Local", "membucket", f"{NAME}-task.xml"))
