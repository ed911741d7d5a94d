"""Install, remove and inspect the login service: a plan of steps (write a file, run a command),
printed by ``--dry-run`` and carried out otherwise, with ``systemctl --user``, ``launchctl`` or
``schtasks``."""

from __future__ import annotations

import getpass
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath

from .render import LABEL, NAME, PLATFORMS, ServiceSpec, launchd_plist, systemd_unit, unit_path, windows_task

__all__ = ["Step", "Plan", "plan", "execute", "detect_platform", "ACTIONS"]

ACTIONS = ("install", "uninstall", "status", "logs")
_UNIT = f"{NAME}.service"


@dataclass(frozen=True)
class Step:
    kind: str  # "write", "remove", "run", "show" (print a file's last lines)
    path: str = ""
    body: bytes = b""
    argv: tuple[str, ...] = ()
    check: bool = True  # a failing command stops the plan (False: "stop it if it runs")

    def describe(self) -> str:
        if self.kind == "write":
            text = self.body.decode("utf-16") if self.body[:2] in (b"\xff\xfe", b"\xfe\xff") else self.body.decode()
            return f"write {self.path}:\n" + "\n".join(f"    {line}" for line in text.rstrip("\n").splitlines())
        if self.kind == "remove":
            return f"remove {self.path}"
        if self.kind == "show":
            return f"show the end of {self.path}"
        return "run " + " ".join(self.argv) + ("" if self.check else "   (a failure is fine)")


@dataclass
class Plan:
    action: str
    platform: str
    steps: list[Step] = field(default_factory=list)

    def describe(self) -> str:
        return "\n".join(step.describe() for step in self.steps)


def detect_platform() -> tuple[str, str | None]:
    """(platform, WSL distro or None). WSL with systemd is Linux; WSL without it gets a
    Windows logon task that starts the server inside the distro."""
    if sys.platform == "darwin":
        return "macos", None
    if sys.platform == "win32":
        return "windows", None
    distro = os.environ.get("WSL_DISTRO_NAME")
    if distro and not Path("/run/systemd/system").is_dir():
        return "windows", distro
    return "linux", None


def plan(
    action: str, platform: str, spec: ServiceSpec, *, home: str | None = None, user: str | None = None, uid: int | None = None
) -> Plan:
    """The steps of ``action`` on ``platform`` (rendered for any platform on any machine)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}: one of {', '.join(ACTIONS)}")
    if platform not in PLATFORMS:
        raise ValueError(f"unknown platform {platform!r}: one of {', '.join(PLATFORMS)}")
    home = home or str(Path.home())
    if user is None:
        user = getpass.getuser()
        if os.name == "nt" and os.environ.get("USERDOMAIN"):  # pragma: no cover - Windows only
            user = f"{os.environ['USERDOMAIN']}\\{user}"
    uid = os.getuid() if uid is None and hasattr(os, "getuid") else (uid or 0)
    return {"linux": _linux, "macos": _macos, "windows": _windows}[platform](action, spec, home, user, uid)


def _linux(action: str, spec: ServiceSpec, home: str, user: str, uid: int) -> Plan:
    p, path = Plan(action, "linux"), unit_path(home, "linux")
    ctl = ("systemctl", "--user")
    if action == "install":
        p.steps += [
            Step("write", path, systemd_unit(spec).encode()),
            Step("run", argv=(*ctl, "daemon-reload")),
            Step("run", argv=(*ctl, "enable", "--now", _UNIT)),
        ]
    elif action == "uninstall":
        p.steps += [Step("run", argv=(*ctl, "disable", "--now", _UNIT), check=False), Step("remove", path), Step("run", argv=(*ctl, "daemon-reload"))]
    elif action == "status":
        p.steps.append(Step("run", argv=(*ctl, "status", "--no-pager", _UNIT), check=False))
    else:
        p.steps.append(Step("run", argv=("journalctl", "--user", "-u", _UNIT, "-n", "200", "--no-pager"), check=False))
    return p


def _macos(action: str, spec: ServiceSpec, home: str, user: str, uid: int) -> Plan:
    p, path = Plan(action, "macos"), unit_path(home, "macos")
    log = spec.log_file or str(PurePosixPath(home, "Library", "Logs", "membucket", "server.log"))
    domain, service = f"gui/{uid}", f"gui/{uid}/{LABEL}"
    if action == "install":
        spec = ServiceSpec(spec.command, spec.store, spec.port, spec.env, log, None)
        p.steps += [
            Step("write", path, launchd_plist(spec)),
            Step("run", argv=("mkdir", "-p", str(PurePosixPath(log).parent))),
            Step("run", argv=("launchctl", "bootout", service), check=False),  # an older one
            Step("run", argv=("launchctl", "bootstrap", domain, path)),
        ]
    elif action == "uninstall":
        p.steps += [Step("run", argv=("launchctl", "bootout", service), check=False), Step("remove", path)]
    elif action == "status":
        p.steps.append(Step("run", argv=("launchctl", "print", service), check=False))
    else:
        p.steps.append(Step("show", log))
    return p


def _windows(action: str, spec: ServiceSpec, home: str, user: str, uid: int) -> Plan:
    p = Plan(action, "windows")
    exe = "schtasks.exe" if spec.wsl_distro else "schtasks"
    if spec.wsl_distro:  # the files live in the distro; Windows reaches them by UNC path
        xml_path = str(PurePosixPath(home, ".config", "membucket", f"{NAME}-task.xml"))
        xml_arg = f"\\\\wsl.localhost\\{spec.wsl_distro}" + xml_path.replace("/", "\\")
        log = spec.log_file or str(PurePosixPath(home, ".local", "state", "membucket", "server.log"))
    else:
        xml_path = xml_arg = unit_path(home, "windows")
        log = spec.log_file or str(PureWindowsPath(xml_path).with_name("server.log"))
    if action == "install":
        spec = ServiceSpec(spec.command, spec.store, spec.port, spec.env, log, spec.wsl_distro)
        p.steps += [
            Step("write", xml_path, windows_task(spec, user).encode("utf-16")),
            Step("run", argv=(exe, "/Create", "/TN", NAME, "/XML", xml_arg, "/F")),
            Step("run", argv=(exe, "/Run", "/TN", NAME)),
        ]
    elif action == "uninstall":
        p.steps += [
            Step("run", argv=(exe, "/End", "/TN", NAME), check=False),
            Step("run", argv=(exe, "/Delete", "/TN", NAME, "/F")),
            Step("remove", xml_path),
        ]
    elif action == "status":
        p.steps.append(Step("run", argv=(exe, "/Query", "/TN", NAME, "/V", "/FO", "LIST"), check=False))
    else:
        p.steps.append(Step("show", log))
    return p


def execute(p: Plan, *, run: Callable = subprocess.run, echo: Callable[[str], None] = print, lines: int = 200) -> int:
    """Carry out a plan; return the exit code of the first failing checked command, else 0
    (status and logs return their command's code)."""
    code = 0
    for step in p.steps:
        if step.kind == "write":
            path = Path(step.path)
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.tmp")
            tmp.write_bytes(step.body)
            os.replace(tmp, path)
            echo(f"wrote {path}")
        elif step.kind == "remove":
            try:
                Path(step.path).unlink()
                echo(f"removed {step.path}")
            except FileNotFoundError:
                pass
        elif step.kind == "show":
            try:
                text = Path(step.path).read_text(encoding="utf-8", errors="replace")
            except FileNotFoundError:
                echo(f"no log yet at {step.path}")
                return 1
            echo("\n".join(text.splitlines()[-lines:]))
        else:
            try:
                done = run(list(step.argv))
            except FileNotFoundError:
                echo(f"{step.argv[0]} not found: is this the right platform?")
                return 127
            code = done.returncode
            if code != 0 and step.check:
                echo(f"failed ({code}): {' '.join(step.argv)}")
                return code
    return code if p.action in ("status", "logs") else 0
