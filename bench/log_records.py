"""``python -m bench.log_records``: what a log record costs a service, whatever its rsyslog
does.

A service's record goes to stderr and, with ``log_shipper`` set, to this host's rsyslog
on a non-blocking datagram socket (src/cellhub/log_records.py). This times
``log.info(…)`` with the kernel id and client a kernel start logs, ``--records`` times in
each state of the shipper, and prints the median and p99 per record and their ratio to
stderr alone:

- ``stderr only``: no shipper;
- ``store away``: a real rsyslogd that forwards to a log store that is not there (its
  queue holds the records: what the services see while the log database is down);
- ``rsyslog stopped``: the same rsyslogd after SIGSTOP (its socket fills, then refuses);
- ``rsyslog killed``: after SIGKILL (no one at the socket).

stderr goes to /dev/null meanwhile. A timing, not a test: run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from bench.servers import free_port
from cellhub import log_records
from cellhub.deploy.log_service import LogService
from cellhub.deploy.render import Endpoint, LogShipper

log = log_records.service_logger("cellhub.worker.bench")


def per_record(records: int) -> list[float]:
    """Seconds each of ``records`` records took to log."""
    times = []
    extra = {"kernel_id": "5f0c6d4e-0000-4000-8000-000000000000", "client": "192.0.2.1"}
    for i in range(records):
        began = time.perf_counter()
        log.info("started (python3, session pid %d)", i, extra=extra)
        times.append(time.perf_counter() - began)
    return times


@contextlib.contextmanager
def quiet_stderr() -> Iterator[None]:
    real = sys.stderr
    with open(os.devnull, "w") as null:
        sys.stderr = null
        try:
            yield
        finally:
            sys.stderr = real


def show(state: str, times: list[float], baseline: float | None) -> float:
    times = sorted(times)
    median = statistics.median(times)
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
    ratio = f"  {median / baseline:4.2f}x stderr only's" if baseline else ""
    print(f"{state:16} median {median * 1e6:7.1f} µs  p99 {p99 * 1e6:7.1f} µs{ratio}")
    return median


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cellhub-bench-logs-") as directory:
        work = Path(directory)
        shipper = LogShipper(
            str(work), str(work / "log.sock"), forward=Endpoint("127.0.0.1", free_port())
        )
        service = LogService(shipper)
        service.start()
        assert service.process is not None
        try:
            with quiet_stderr():
                alone = per_record(args.records)
                log_records.setup("worker", shipper.socket)
                away = per_record(args.records)
                service.process.send_signal(signal.SIGSTOP)
                stopped = per_record(args.records)
                service.process.kill()
                service.process.wait()
                killed = per_record(args.records)
                log_records.setup("worker")
            baseline = show("stderr only", alone, None)
            for state, times in (
                ("store away", away),
                ("rsyslog stopped", stopped),
                ("rsyslog killed", killed),
            ):
                show(state, times, baseline)
        finally:
            service.stop()


if __name__ == "__main__":
    main()
