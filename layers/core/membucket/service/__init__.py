"""``membucket service``: start the server at login (systemd user unit, launchd agent, Task
Scheduler logon task). ``render`` writes the files, ``manage`` plans and runs the steps."""

from __future__ import annotations

from .manage import ACTIONS, Plan, Step, detect_platform, execute, plan
from .render import PLATFORMS, ServiceSpec, launchd_plist, systemd_unit, windows_task

__all__ = ["ACTIONS", "PLATFORMS", "Plan", "ServiceSpec", "Step", "detect_platform", "execute", "launchd_plist", "plan", "systemd_unit", "windows_task"]
