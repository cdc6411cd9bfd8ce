"""A JupyterLab server on 127.0.0.1 and Debian's chromium driven by Playwright, for the browser tests.

Playwright's own browser download is not used: :func:`chromium_binary` finds the real chromium
binary the Debian package installs (its ``/usr/bin/chromium`` is a launcher script that Playwright
cannot drive), from ``KGQA_CHROMIUM`` or the package's file list. :class:`Lab` starts JupyterLab in
a folder of copies of the notebooks, with a token, autosave off and no news or update checks,
and stops it afterwards.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

CANDIDATES = ("/usr/lib/chromium/chromium", "/usr/lib/chromium-browser/chromium-browser")


def chromium_binary() -> str | None:
    """The chromium executable to drive: ``KGQA_CHROMIUM``, else the ELF binary listed by the
    Debian package ``chromium``, else a known install path; None when there is none."""
    env = os.environ.get("KGQA_CHROMIUM")
    if env:
        return env if os.access(env, os.X_OK) else None
    try:
        listed = subprocess.run(["dpkg", "-L", "chromium"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        listed = ""
    for path in [p for p in listed.splitlines() if p.endswith("/chromium") and "/lib/" in p] + list(CANDIDATES):
        p = Path(path)
        if p.is_file() and os.access(p, os.X_OK) and p.read_bytes()[:4] == b"\x7fELF":
            return str(p)
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


SETTINGS = {  # user settings: nothing saves behind the test's back, nothing is fetched
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                        "checkForUpdates": False},
}


class Lab:
    """``with Lab(folder) as lab:`` — JupyterLab serving ``folder``; ``lab.url(path)`` opens a file."""

    def __init__(self, root: Path, env: dict[str, str] | None = None) -> None:
        self.root, self.port, self.token = root, _free_port(), secrets.token_hex(16)
        self.env = {**os.environ, **(env or {})}
        self.log_path = root.parent / "jupyterlab.log"
        self.proc: subprocess.Popen | None = None

    def url(self, path: str = "", workspace: str | None = None) -> str:
        """The page that opens ``path``; in its own ``workspace`` (default: one named after the
        file), so that no tab of an earlier page is restored beside it."""
        ws = workspace or Path(path).stem or "empty"
        return f"http://127.0.0.1:{self.port}/lab/workspaces/{ws}/tree/{path}?token={self.token}"

    def __enter__(self) -> Lab:
        settings = self.root.parent / "lab-settings"
        for name, value in SETTINGS.items():
            f = settings / name
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_text(json.dumps(value))
        cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={self.port}",
               f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={self.root}",
               f"--LabApp.user_settings_dir={settings}", f"--LabApp.workspaces_dir={self.root.parent / 'ws'}",
               "--ServerApp.open_browser=False"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.append("--allow-root")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, env=self.env)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"JupyterLab exited; log: {self.log_path}\n{self.log_path.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/api/status?token={self.token}", timeout=2):
                    return self
            except OSError:
                time.sleep(0.3)
        raise RuntimeError(f"JupyterLab did not answer within 60 s; log: {self.log_path}")

    def __exit__(self, *exc) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log.close()


def copy_notebooks(src: Path, dst: Path, names: list[str]) -> None:
    dst.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copy2(src / name, dst / name)
