"""One Lambda execution environment per function: read-only code, private /tmp, no root, CPU share.

Full isolation (root, util-linux ``unshare``/``setpriv``, as in CI): a private mount namespace in
which the function's build dir is ``/var/task``, the merged layers are ``/opt``, the runtime SDK
is ``/var/runtime`` and python3.12's prefix is ``/var/lang`` (all read-only binds), ``/tmp`` is a
tmpfs of the function's EphemeralStorage size, and the interpreter runs as ``nobody`` with no
capabilities. The CPU is capped to Lambda's share (memory MB / 1769 vCPU) with a cgroup when one
can be made (v2 ``cpu.max`` or v1 ``cpu.cfs_quota_us``); otherwise the report says why not.

Without root, the fallback runs the same interpreter on write-protected copies (``chmod a-w``)
with a per-function TMPDIR, as the current user: ``mode`` in the report says which one ran.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import subprocess
import threading
from pathlib import Path

__all__ = ["Layout", "Sandbox", "cpu_cgroup", "lambda_env", "prepare_layout", "runtime_sdk"]

HERE = Path(__file__).resolve().parent
LAMBDA_VCPU_PER_MB = 1 / 1769


class Layout:
    def __init__(self, work: Path, opt: Path, tasks: dict[str, Path], py312: str) -> None:
        self.work, self.opt, self.tasks, self.py312 = work, opt, tasks, py312
        self.prefix = Path(os.path.realpath(py312)).parent.parent
        self.rapid = work / "rapid"


def _read_only(path: Path) -> None:
    for base, _dirs, files in os.walk(path):
        for name in files:
            p = os.path.join(base, name)
            if not os.path.islink(p):
                os.chmod(p, os.stat(p).st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH) | stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
        os.chmod(base, 0o555)


def prepare_layout(build_dir: Path, functions: list[str], work: Path, py312: str) -> Layout:
    """Copy what Lambda would unpack: the layers merged into one /opt, each function's code."""
    opt = work / "opt"
    if not opt.exists():
        for layer in ("CoreLayer", "DepsLayer"):
            shutil.copytree(build_dir / layer, opt, dirs_exist_ok=True, symlinks=True)
        _read_only(opt)
    tasks = {}
    for fn in functions:
        dest = work / "task" / fn
        if not dest.exists():
            shutil.copytree(build_dir / fn, dest, symlinks=True)
            _read_only(dest)
        tasks[fn] = dest
    rapid = work / "rapid"
    if not rapid.exists():
        rapid.mkdir(parents=True)
        shutil.copy(HERE / "bootstrap.py", rapid / "bootstrap.py")
        _read_only(rapid)
    return Layout(work, opt, tasks, py312)


def runtime_sdk(cache: Path, py312: str, version: str) -> Path:
    """boto3 + botocore ``version`` (and their dependencies) in a dir that plays /var/runtime.

    Compiled to bytecode, as the runtime's own SDK comes: without .pyc files (and /var/runtime
    read-only) every cold start here would compile botocore, which no Lambda cold start does.
    """
    target = cache / f"runtime-sdk-{version}"
    if not (target / "botocore").exists():
        tmp = cache / f"runtime-sdk-{version}.part"
        shutil.rmtree(tmp, ignore_errors=True)
        subprocess.run([py312, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile", "--target", str(tmp),
                        f"boto3=={version}", f"botocore=={version}"], check=True)
        os.replace(tmp, target)
    if not (target / "botocore" / "__pycache__").exists():
        subprocess.run([py312, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash", str(target)], check=True)
    return target


def full_isolation_available() -> tuple[bool, str]:
    if os.geteuid() != 0:
        return False, "not root: no mount namespace or user switch (fallback: write-protected copies, current user)"
    if not (shutil.which("unshare") and shutil.which("setpriv")):
        return False, "unshare/setpriv missing (util-linux)"
    probe = subprocess.run(["unshare", "-m", "--propagation", "private", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        return False, f"unshare -m refused: {probe.stderr.strip()[:200]}"
    return True, "mount namespace, read-only binds, tmpfs /tmp, uid nobody"


def cpu_cgroup(name: str, memory_mb: int) -> tuple[Path | None, str]:
    """A cgroup capping CPU to memory_mb/1769 vCPU, and its cgroup.procs path (None + why when not possible)."""
    vcpu = memory_mb * LAMBDA_VCPU_PER_MB
    period = 100_000
    quota = max(1000, int(vcpu * period))
    v2 = Path("/sys/fs/cgroup")
    try:
        if (v2 / "cgroup.controllers").exists() and "cpu" in (v2 / "cgroup.controllers").read_text().split():
            d = v2 / name
            d.mkdir(exist_ok=True)
            (d / "cpu.max").write_text(f"{quota} {period}")
            return d / "cgroup.procs", f"cgroup v2 cpu.max {quota}/{period} ({vcpu:.2f} vCPU)"
        v1 = Path("/sys/fs/cgroup/cpu")
        if v1.is_dir():
            d = v1 / name
            d.mkdir(exist_ok=True)
            (d / "cpu.cfs_period_us").write_text(str(period))
            (d / "cpu.cfs_quota_us").write_text(str(quota))
            return d / "cgroup.procs", f"cgroup v1 cfs quota {quota}/{period} ({vcpu:.2f} vCPU)"
    except OSError as exc:
        return None, f"no CPU cap: cannot make a cgroup ({exc.strerror})"
    return None, "no CPU cap: no cpu cgroup controller"


def remove_cgroup(procs: Path | None) -> None:
    if procs is not None:
        try:
            procs.parent.rmdir()
        except OSError:
            pass


def lambda_env(fn, name: str, endpoint: str, access_key: str, xray_port: int, sandboxed: bool, paths: dict[str, str]) -> dict[str, str]:
    """The environment Lambda gives a python3.12 function, plus the template's variables and the S3 endpoint."""
    log_group = fn.log_group or f"/aws/lambda/{name}"
    env = {
        "AWS_LAMBDA_FUNCTION_NAME": name, "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_mb), "AWS_LAMBDA_LOG_GROUP_NAME": log_group,
        "AWS_LAMBDA_LOG_STREAM_NAME": "2026/12/06/[$LATEST]cloudcheck", "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1", "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
        "AWS_ACCESS_KEY_ID": access_key, "AWS_SECRET_ACCESS_KEY": f"secret-{access_key}", "AWS_SESSION_TOKEN": f"session-{access_key}",
        "AWS_XRAY_DAEMON_ADDRESS": f"127.0.0.1:{xray_port}", "_AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1", "_AWS_XRAY_DAEMON_PORT": str(xray_port),
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR", "_HANDLER": fn.handler, "TZ": ":UTC", "LANG": "en_US.UTF-8",
        "PATH": "/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin",
        "LD_LIBRARY_PATH": "/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib",
        "PYTHONPATH": "/var/runtime",
        # the one variable Lambda does not set: S3 (and Secrets Manager) are moto behind the IAM gate
        "AWS_ENDPOINT_URL": endpoint,
        **fn.environment,
    }
    if not sandboxed:
        env.update({"LAMBDA_TASK_ROOT": paths["task"], "CC_OPT": paths["opt"], "LAMBDA_RUNTIME_DIR": paths["runtime"],
                    "TMPDIR": paths["tmp"], "LD_LIBRARY_PATH": f"{paths['prefix']}/lib:" + env["LD_LIBRARY_PATH"],
                    "PATH": f"{paths['prefix']}/bin:" + env["PATH"]})
    else:
        env.update({"LAMBDA_TASK_ROOT": "/var/task", "LAMBDA_RUNTIME_DIR": "/var/runtime"})
    return env


_SCRIPT = """set -e
mount -t tmpfs -o size=1m,mode=755 cc-var /var
mkdir -p /var/task /var/runtime /var/lang /var/rapid
for pair in "$CC_TASK:/var/task" "$CC_RUNTIME:/var/runtime" "$CC_PREFIX:/var/lang" "$CC_RAPID:/var/rapid" "$CC_OPTDIR:/opt"; do
  src="${pair%%:*}"; dst="${pair#*:}"
  mount --bind "$src" "$dst"; mount -o remount,bind,ro "$dst"
done
mount -o remount,ro /var
mount -t tmpfs -o size="${CC_TMP_MB}m",mode=1777 cc-tmp /tmp
if [ -n "$CC_CGROUP" ]; then echo $$ > "$CC_CGROUP"; fi
unset CC_TASK CC_RUNTIME CC_PREFIX CC_RAPID CC_OPTDIR CC_TMP_MB CC_CGROUP
exec setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all /var/lang/bin/python3.12 -I -S /var/rapid/bootstrap.py
"""


class XRayListener:
    """The X-Ray daemon's UDP port: keeps every segment a function sends."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.segments: list[str] = []
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while True:
            try:
                data, _ = self.sock.recvfrom(65536)
            except OSError:
                return
            self.segments.append(data.decode("utf-8", "replace"))

    def close(self) -> None:
        self.sock.close()


class Sandbox:
    """A running execution environment: ``send`` a request line, ``recv`` an answer, ``kill`` it."""

    def __init__(self, layout: Layout, fn, name: str, runtime: Path, endpoint: str, access_key: str, isolated: bool,
                 cgroup_procs: Path | None, log_path: Path) -> None:
        self.xray = XRayListener()
        tmp = layout.work / "tmp" / name
        paths = {"task": str(layout.tasks[fn.name]), "opt": str(layout.opt), "runtime": str(runtime), "tmp": str(tmp),
                 "prefix": str(layout.prefix)}
        env = lambda_env(fn, name, endpoint, access_key, self.xray.port, isolated, paths)
        r, w = os.pipe()
        env["_CC_ANSWER_FD"] = str(w)  # the runtime API stand-in: answers come back on this pipe
        self.log = open(log_path, "ab")
        if isolated:
            env.update({"CC_TASK": paths["task"], "CC_RUNTIME": paths["runtime"], "CC_PREFIX": paths["prefix"],
                        "CC_RAPID": str(layout.rapid), "CC_OPTDIR": str(layout.opt), "CC_TMP_MB": str(fn.ephemeral_mb),
                        "CC_CGROUP": str(cgroup_procs or "")})
            cmd = ["unshare", "-m", "--propagation", "private", "/bin/sh", "-c", _SCRIPT]
            preexec = None
        else:
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
            cmd = [layout.py312, "-I", "-S", str(layout.rapid / "bootstrap.py")]
            procs = cgroup_procs

            def preexec():  # noqa: ANN202 - runs in the child before exec
                if procs is not None:
                    procs.write_text(str(os.getpid()))

        self.proc = subprocess.Popen(cmd, env=env, stdin=subprocess.PIPE, stdout=self.log, stderr=subprocess.STDOUT,
                                     pass_fds=(w,), preexec_fn=preexec, text=True)
        os.close(w)
        self._answers = os.fdopen(r, "r")
        self._lines: list[str] = []
        self._cv = threading.Condition()
        threading.Thread(target=self._reader, daemon=True).start()

    def _reader(self) -> None:
        for line in self._answers:
            with self._cv:
                self._lines.append(line)
                self._cv.notify_all()
        with self._cv:
            self._lines.append("")  # EOF
            self._cv.notify_all()

    def recv(self, timeout: float) -> dict | None:
        """The next answer, ``{"exited": rc}`` if the process died, or None on timeout."""
        with self._cv:
            if not self._cv.wait_for(lambda: self._lines, timeout):
                return None
            line = self._lines.pop(0)
        if not line:
            try:
                rc = self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                rc = None
            return {"exited": rc}
        return json.loads(line)

    def send(self, request: dict) -> None:
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        self.xray.close()
        self.log.close()
