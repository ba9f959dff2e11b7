"""Benchmark: the client CPU of sending mail into Postfix's smtp-sink on loopback.

N messages of 46 KB (CRLF lines, as ``digest`` builds them) over 4 connections, sent by
``digest``'s own SMTP path (``SmtpConnection``: MAIL, RCPT and DATA in one write when the
server offers PIPELINING, the message as it is), then by stock ``aiosmtplib.sendmail``
on the same sink, in the same run; prints the wall clock, this process's CPU a message
and the ratio. The sink (no dump) is found or unpacked as ``bench_fanout.py`` does.

    .venv/bin/python benchmarks/bench_smtp.py [--messages N]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiosmtplib

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_fanout import free_port, sink_tool, wait_for_port

from digest.deliver.message import Wire
from digest.deliver.transport import SmtpConnection, SmtpSettings

CONNECTIONS = 4
LINE = b'<div class="snippet">We study flow matching and other things of that kind</div>\r\n'


def messages() -> list[Wire]:
    return [Wire(b"Subject: bench\r\nMessage-ID: <%d@bench>\r\n\r\n" % i + LINE * 560)
            for i in range(64)]


async def ours(port: int, mails: list[Wire], count: int) -> None:
    settings = SmtpSettings(host="127.0.0.1", port=port, starttls="off", timeout=30)

    async def one(k: int) -> None:
        connection = SmtpConnection(settings)
        for i in range(k, count, CONNECTIONS):
            await connection.send(mails[i % len(mails)], "a@bench.org", "b@bench.org")
        await connection.close()

    await asyncio.gather(*(one(k) for k in range(CONNECTIONS)))


async def stock(port: int, mails: list[Wire], count: int) -> None:
    async def one(k: int) -> None:
        smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False)
        await smtp.connect()
        for i in range(k, count, CONNECTIONS):
            await smtp.sendmail("a@bench.org", ["b@bench.org"], bytes(mails[i % len(mails)]))
        await smtp.quit()

    await asyncio.gather(*(one(k) for k in range(CONNECTIONS)))


def measure(send: Callable[[int, list[Wire], int], Awaitable[None]], count: int
            ) -> tuple[float, float]:
    """Wall clock and this process's CPU (user + system) of sending ``count`` mails."""
    tool = sink_tool("smtp-sink")
    if tool.binary is None:
        sys.exit("bench_smtp needs Postfix's smtp-sink (see bench_fanout.py)")
    port = free_port()
    sink = subprocess.Popen([str(tool.binary), "-c", "-u", "nobody", f"127.0.0.1:{port}",
                             "1000"], env=tool.env, stdout=subprocess.DEVNULL)
    try:
        wait_for_port(port, lambda: sink.poll() is None)
        before, start = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        asyncio.run(send(port, messages(), count))  # type: ignore[arg-type]
        wall, after = time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF)
    finally:
        sink.terminate()
        sink.wait(15)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=20_000, metavar="N")
    count = parser.parse_args().messages
    figures = {}
    for name, send in (("digest", ours), ("aiosmtplib.sendmail", stock)):
        wall, cpu = measure(send, count)
        figures[name] = cpu
        print(f"{name:20s} {count:,} mails {wall:6.1f} s, {count / wall:6.0f}/s, "
              f"client CPU {1e6 * cpu / count:5.0f} us a mail")
    print(f"ratio  digest's CPU a mail / stock's: {figures['digest'] / figures[name]:.2f}x")


if __name__ == "__main__":
    main()
