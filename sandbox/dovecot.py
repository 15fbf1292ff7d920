"""A real IMAP server for tests, benchmarks and ``make run``: Debian's Dovecot (``dovecot-imapd``)
started in the foreground with a config of its own (``sandbox/dovecot.conf``), on a free
loopback port, everything it writes under one folder.

Users come from a passwd-file (``add_user``; a password change takes effect on the next
login, which is how tests make a login fail mid-way). Each user has INBOX and a ``Sent`` folder
flagged ``\\Sent`` (RFC 6154). ``scripts/install_dovecot.py`` installs the package (``make test``
runs it).

``python -m sandbox.dovecot --port 1143 --user ava@example.com:secret`` runs one alone.
"""

from __future__ import annotations

import argparse
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CONFIG_TEMPLATE = Path(__file__).with_name("dovecot.conf")
BINARY_CANDIDATES = ("/usr/sbin/dovecot", "/usr/local/sbin/dovecot")


class DovecotMissing(RuntimeError):
    """Dovecot is not installed; the message says what to run."""


def dovecot_binary() -> str:
    found = shutil.which("dovecot") or next(
        (path for path in BINARY_CANDIDATES if os.access(path, os.X_OK)), None)
    if not found:
        raise DovecotMissing("Dovecot is not installed: run `python scripts/install_dovecot.py` "
                             "(as root on Debian: apt-get install dovecot-imapd).")
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Dovecot:
    """One Dovecot instance. ``start()`` returns once IMAP answers; ``stop()`` ends it."""

    def __init__(self, port: int = 0, folder: str | Path | None = None, oauth2_url: str = ""):
        self.port = port or free_port()
        self.host = "127.0.0.1"
        self._own_folder = folder is None
        self.folder = Path(folder or tempfile.mkdtemp(prefix="dovecot-"))
        self.oauth2_url = oauth2_url
        self._process: subprocess.Popen | None = None

    # Dovecot refuses mail access as root, and its login processes need an unprivileged
    # user: as root, Debian's ``mail`` user; otherwise whoever runs it.
    def _run_as(self) -> pwd.struct_passwd:
        if os.geteuid() == 0:
            return pwd.getpwnam("mail")
        return pwd.getpwuid(os.geteuid())

    def _config(self) -> Path:
        account = self._run_as()
        for sub in ("run", "state", "mail", "users"):
            (self.folder / sub).mkdir(parents=True, exist_ok=True)
        # Its processes run as that user: the folder (a private temporary one) is theirs.
        for path in (self.folder, *self.folder.iterdir()):
            os.chown(path, account.pw_uid, account.pw_gid)
        self.folder.chmod(0o755)
        oauth2 = ""
        if self.oauth2_url:
            (self.folder / "oauth2.conf.ext").write_text(
                f"introspection_mode = post\nintrospection_url = {self.oauth2_url}\n"
                "username_attribute = username\nactive_attribute = active\n"
                "active_value = true\ntls_ca_cert_file = /etc/ssl/certs/ca-certificates.crt\n")
            oauth2 = ("passdb {\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n"
                      f"  args = {self.folder / 'oauth2.conf.ext'}\n}}\n")
        text = CONFIG_TEMPLATE.read_text().format(
            folder=self.folder, port=self.port, user=account.pw_name, uid=account.pw_uid,
            gid=account.pw_gid, oauth2_passdb=oauth2)
        config = self.folder / "dovecot.conf"
        config.write_text(text)
        return config

    def add_user(self, username: str, password: str) -> None:
        """Add the user, or change their password (next login): one passwd-file each, so a
        new file is read at once. Dovecot re-reads a file it knows when its mtime (whole
        seconds) changes, checking at most once a second: a changed one gets a later mtime
        than the one it replaces, and the change waits out that second."""
        path = self.folder / "users" / username
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{username}.new")
        temporary.write_text(f"{username}:{{PLAIN}}{password}::::::\n")
        stamp = 0
        if path.exists():
            stamp = max(int(path.stat().st_mtime) + 1, int(time.time()))
            os.utime(temporary, (stamp, stamp))
        temporary.replace(path)
        if stamp:
            time.sleep(1.1)

    def start(self, timeout: float = 20) -> Dovecot:
        config = self._config()
        self._process = subprocess.Popen(
            [dovecot_binary(), "-F", "-c", str(config)], stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=open(self.folder / "stderr.log", "wb"),  # noqa: SIM115
            start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"Dovecot exited: {self.log_tail()}")
            try:
                with socket.create_connection((self.host, self.port), timeout=1) as probe:
                    if probe.recv(200).startswith(b"* OK"):
                        return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"Dovecot did not answer on port {self.port}: {self.log_tail()}")

    def log_tail(self, lines: int = 20) -> str:
        text = ""
        for name in ("stderr.log", "dovecot.log"):
            path = self.folder / name
            if path.exists():
                text += path.read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            os.killpg(self._process.pid, signal.SIGTERM)
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self._process.pid, signal.SIGKILL)
                self._process.wait()
        self._process = None
        if self._own_folder:
            shutil.rmtree(self.folder, ignore_errors=True)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=1143)
    parser.add_argument("--folder", default="var/dovecot")
    parser.add_argument("--user", action="append", default=[],
                        help="username:password (repeatable)")
    args = parser.parse_args(argv)
    server = Dovecot(port=args.port, folder=args.folder)
    for pair in args.user:
        name, _, password = pair.partition(":")
        server.add_user(name, password)
    # Stopped by Ctrl-C or by honcho's SIGTERM (make run): Dovecot runs in a session of its
    # own, so it is stopped here either way.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    server.start()
    print(f"Dovecot IMAP on 127.0.0.1:{server.port} (Ctrl-C stops it)", flush=True)
    try:
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
