"""The deployment's log service on one host: an rsyslogd of its own, started, checked and
stopped here, for the launcher (``cellhub up``) and the tests.

Each host runs one. Its role follows from the configuration (:meth:`LogService.for_host`):

- the **store** (one per deployment; every host when there is a single one): takes this
  host's records on the ``log_shipper`` socket and, when ``log_store`` is set, the other
  hosts' by RELP on that address, and writes them to the log database (``log_database_url``)
  — creating the ``log_records`` table first (db/log_store.py);
- a **forwarder** (every other host): takes this host's records on its socket and sends
  them to the store by RELP.

Either keeps what it cannot pass on yet in a disk-assisted queue in its work dir, retried
forever, and saved there when it is stopped; so the log database or the store may be
away for a while and nothing is lost. rsyslogd runs in the foreground (``-n``) with the
configuration rendered by :func:`cellhub.deploy.render.render_rsyslog`, its own pid file
and work dir: it neither reads /etc/rsyslog.conf nor meets the host's own syslog daemon.
Its work dir is the service user's alone (0700): the socket in it takes records from
the services, not from sessions (which run as other users).
"""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from cellhub.config import Config
from cellhub.deploy.render import Endpoint, LogDatabase, LogShipper, render_rsyslog
from cellhub.log_records import service_logger

log = service_logger(__name__)

#: Seconds rsyslogd has to save its queues when stopped, before it is killed.
STOP_TIMEOUT = 10.0
#: Seconds to wait for it to listen after a start.
START_TIMEOUT = 10.0


class LogServiceError(RuntimeError):
    """rsyslogd is not installed, refused its configuration, or did not start."""


def rsyslogd() -> str:
    found = shutil.which("rsyslogd", path="/usr/sbin:/usr/bin:/sbin:/bin")
    if found is None:
        raise LogServiceError(
            "rsyslogd is not installed (apt-get install rsyslog rsyslog-relp rsyslog-pgsql)"
        )
    return found


def rsyslogd_argv(config: Path, pid_file: Path, executable: str = "rsyslogd") -> list[str]:
    """rsyslogd in the foreground with this configuration and pid file only."""
    return [executable, "-n", "-f", str(config), "-i", str(pid_file)]


@dataclass
class LogService:
    """One rsyslogd: :meth:`start`, :meth:`healthy`, :meth:`stop`. ``database_url``: the
    log database's SQLAlchemy URL, when this one writes it (to create its table)."""

    shipper: LogShipper
    database_url: str = ""
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @classmethod
    def for_host(cls, config: Config, store: bool, work_dir: Path | None = None) -> LogService:
        """This host's log service: the ``store`` of the deployment, or a forwarder to it
        (``log_store``). Its socket is ``log_shipper`` (default: log.sock in its work
        dir, default: logs/ in the data dir)."""
        work = work_dir or config.data_path / "logs"
        shipper_socket = config.log_shipper or str(work / "log.sock")
        relp = Endpoint.parse(config.log_store) if config.log_store else None
        if not store:
            if relp is None:
                raise LogServiceError("a forwarding log service needs log_store (HOST:PORT)")
            return cls(LogShipper(str(work), shipper_socket, forward=relp))
        if not config.log_db_url:
            raise LogServiceError("the log store needs log_database_url (PostgreSQL)")
        database = LogDatabase.from_url(config.log_db_url)
        return cls(
            LogShipper(str(work), shipper_socket, relp, database=database), config.log_db_url
        )

    @property
    def work_dir(self) -> Path:
        return Path(self.shipper.work_dir)

    def start(self) -> None:
        """Render the configuration, check it (``rsyslogd -N1``), create the log table if
        this one writes it, start rsyslogd, and return once it listens."""
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.work_dir.chmod(0o700)
        conf = self.work_dir / "rsyslog.conf"
        conf.write_text(render_rsyslog(self.shipper))
        conf.chmod(0o600)  # it may hold the log database's password
        executable = rsyslogd()
        checked = subprocess.run(
            [executable, "-N1", "-f", str(conf)], capture_output=True, text=True
        )
        if checked.returncode != 0:
            raise LogServiceError(f"rsyslogd refused {conf}:\n{checked.stdout}{checked.stderr}")
        if self.database_url:
            self.create_table()
        if self.shipper.socket:
            Path(self.shipper.socket).unlink(missing_ok=True)
        with open(self.work_dir / "rsyslogd.stderr", "ab") as output:
            self.process = subprocess.Popen(
                rsyslogd_argv(conf, self.work_dir / "rsyslogd.pid", executable),
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=output,
                start_new_session=True,  # a ^C at the launcher's terminal is the launcher's
            )
        self.wait_until_healthy()

    def create_table(self) -> None:
        """Create the log table if it is not there. A log database that is down does not
        stop the start: rsyslog retries each row until it is stored, and a table that is
        still missing then is made by the next start (records wait for it meanwhile)."""
        from sqlalchemy.exc import OperationalError

        from cellhub.db.database import make_engine
        from cellhub.db.log_store import create_log_table

        engine = make_engine(self.database_url)
        try:
            create_log_table(engine)
        except OperationalError as exc:
            log.warning("the log database is not there (%s); its records wait", exc.orig)
        finally:
            engine.dispose()

    def wait_until_healthy(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while not self.healthy():
            if self.process is None or self.process.poll() is not None:
                raise LogServiceError(f"rsyslogd exited; see {self.work_dir}/rsyslogd.stderr")
            if time.monotonic() > deadline:
                self.stop()
                raise LogServiceError(f"rsyslogd did not listen within {START_TIMEOUT:g} s")
            time.sleep(0.02)

    def healthy(self) -> bool:
        """Running, and listening where it takes records (its socket, its RELP port)."""
        if self.process is None or self.process.poll() is not None:
            return False
        if self.shipper.socket and not Path(self.shipper.socket).is_socket():
            return False
        listen = self.shipper.listen
        return listen is None or self.listens_on(listen.port)

    def listens_on(self, port: int) -> bool:
        """Whether rsyslogd has a listening TCP socket on ``port`` (asked of the kernel: a
        probe connection would be a broken RELP session in its log)."""
        assert self.process is not None
        try:
            sockets = psutil.Process(self.process.pid).net_connections(kind="tcp")
        except psutil.Error:
            return False
        return any(s.status == psutil.CONN_LISTEN and s.laddr.port == port for s in sockets)

    def stop(self) -> None:
        """SIGTERM, on which rsyslogd saves its queues to disk; SIGKILL after
        :data:`STOP_TIMEOUT` seconds."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
