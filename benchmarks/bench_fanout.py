"""Benchmark: one weekly send pass end to end, against a local SMTP sink.

Setup (timed apart from the pass): a fresh database (a SQLite file in a temp folder;
``--db postgres`` starts a throwaway cluster with tests/pgserver.py; ``--db URL`` uses
that database after dropping every table in it), every ../shared/data/hf-daily file
ingested with ``digest ingest``, and N synthetic weekly subscribers who share one send
time (1-3 real author names and 1-3 real ``ai_keywords`` each, seeded) loaded with
``digest subscribers import``. The sink is Postfix's smtp-sink on a free loopback port in
its own process (found on PATH, in ./.bench/postfix, or unpacked there from the Debian
package with apt-get download), else an aiosmtpd sink in its own process; a fresh sink
per phase counts what arrives and keeps every message, so duplicates show.

Then, measured in the same run: ``digest send`` as a real command (wall clock, peak RSS
of that process, its stage times when it has ``--json``), checked against the outbox and
the sink; the same mails for a sample of S of those digests sent the way a hand-made
script would (a Jinja2 template, ``EmailMessage``, a new smtplib connection per mail, no
matching, no bookkeeping); and a raw ceiling: S of the pass's own serialized messages
sent over 8 reused aiosmtplib connections. Prints a table with the ratios (``--json``:
the same figures as JSON). Not a test: machines here are shared and noisy.

With ``--dkim`` every mail of the pass is DKIM-signed (rsa-sha256, a temporary 2048-bit
key from ``digest dkim keygen``), and the cost of signing one of the pass's messages is
measured apart, in this process: digest's signer next to dkimpy's ``dkim.sign``.

    .venv/bin/python benchmarks/bench_fanout.py --subscribers N [--db URL|postgres]
        [--workers K] [--sample S] [--sink auto|smtp-sink|aiosmtpd] [--dkim] [--json]
        [--profile FILE [--profile-rate HZ]]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import mmap
import multiprocessing
import os
import random
import re
import shutil
import smtplib
import socket
import subprocess
import sys
import tempfile
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import aiosmtplib
import dkim
import jinja2
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import Envelope, Session
from sqlalchemy import MetaData, create_engine, select

from digest.deliver import MailSettings
from digest.deliver.dkim import SIGNED, signer_from_env
from digest.deliver.message import Wire
from digest.ingest import parse
from digest.ingest.common import ParseContext
from digest.model import Paper
from digest.store import Store
from digest.store import schema as s

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"
CACHE = ROOT / ".bench" / "postfix"
INGEST_AT = datetime(2026, 8, 21, 23, 0, tzinfo=UTC)
IMPORT_AT = datetime(2026, 8, 22, 12, 0, tzinfo=UTC)
SEND_AT = datetime(2026, 8, 24, 8, 0, tzinfo=UTC)  # a Monday: everyone's send time
CONFIG = "defaults:\n  cadence: weekly\n  max_age_days: 400\nsubscribers: []\nsources: []\n"
SENDER = "bench@example.org"
RAW_CONNECTIONS = 8
MARK = b"=====digest-bench-message=====\n"  # starts every message in a sink's dump


# ---- setup ------------------------------------------------------------------------------

def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, required=True, metavar="N")
    parser.add_argument("--db", default="sqlite",
                        help="sqlite (a temp file, default), postgres (a throwaway cluster) "
                             "or a database URL, whose tables are all dropped first")
    parser.add_argument("--workers", type=int, metavar="K",
                        help="passed to digest send --workers (only when given)")
    parser.add_argument("--sample", type=int, default=1000, metavar="S",
                        help="digests sent the naive way, and messages sent raw")
    parser.add_argument("--sink", choices=("auto", "smtp-sink", "aiosmtpd"), default="auto")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--dkim", action="store_true",
                        help="sign every mail (a temporary 2048-bit RSA key)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--profile", type=Path, metavar="FILE",
                        help="record the first pass with py-spy (pip install py-spy) into "
                             "FILE, as collapsed stacks (flamegraph.pl or speedscope read them)")
    parser.add_argument("--profile-rate", type=int, default=200, metavar="HZ",
                        help="py-spy samples a second (fewer for long passes: 50 at 100,000)")
    return parser.parse_args()


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def base_env(url: str, folder: Path) -> dict[str, str]:
    """The environment of every digest command: ours, none of the caller's DIGEST_*."""
    config = folder / "subscriptions.yaml"
    config.write_text(CONFIG)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    return {**env, "DIGEST_DB": url, "DIGEST_CONFIG": str(config),
            "DIGEST_SECRET": "bench-secret", "DIGEST_BASE_URL": "http://127.0.0.1:8000",
            "DIGEST_MAILDIR": str(folder / "maildir"),
            # the sink is on this machine; the mails stay as they were before send refused
            # links and a sender at localhost, so runs compare byte for byte
            "DIGEST_ALLOW_LOCALHOST": "1"}


def digest(*args: str, env: dict[str, str], cwd: Path) -> tuple[float, str]:
    """Seconds one ``digest`` command takes (it must succeed), and what it printed."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "digest", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"digest {' '.join(args)} failed ({done.returncode}):\n"
                 f"{done.stdout}{done.stderr}")
    return seconds, done.stdout


@contextmanager
def database(spec: str, folder: Path) -> Iterator[tuple[str, str, float]]:
    """A fresh database: its URL, what it is, and the seconds it took to get."""
    start = time.perf_counter()
    if spec == "sqlite":
        yield f"sqlite:///{folder / 'bench.db'}", "SQLite file", time.perf_counter() - start
    elif spec == "postgres":
        sys.path.insert(0, str(ROOT))
        from tests.pgserver import PgCluster

        with PgCluster() as pg:
            yield pg.url, "PostgreSQL (throwaway cluster)", time.perf_counter() - start
    else:
        engine = create_engine(spec)
        tables = MetaData()
        tables.reflect(engine)
        tables.drop_all(engine)
        engine.dispose()
        yield spec, f"{engine.dialect.name} at the given URL", time.perf_counter() - start


def plain(text: str) -> bool:
    """What ``digest check`` accepts as an author or keyword."""
    return 0 < len(text) <= 300 and not any(
        unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in text)


def follows(data: Path) -> tuple[list[str], list[str]]:
    """Every author name and ``ai_keywords`` phrase of the data, sorted (as bench_match)."""
    names: set[str] = set()
    keywords: set[str] = set()
    for path in sorted(data.glob("*.json")):
        for p in parse(path.read_bytes(), ParseContext(path.name, INGEST_AT.date()))[1]:
            names.update(a for a in p.authors if plain(a))
            keywords.update(k for k in p.keywords if plain(" ".join(k.split())))
    return sorted(names), sorted(keywords)


def subscriber_file(count: int, seed: int, data: Path, path: Path) -> None:
    """N weekly subscribers with one send time, written as a JSON ``subscribers:`` list."""
    rng = random.Random(seed)
    names, keywords = follows(data)
    people = [{"email": f"fan{i}@example.org", "name": f"Reader {i}", "cadence": "weekly",
               "day": "monday", "send_at": "08:00", "timezone": "UTC",
               "authors": rng.sample(names, rng.randint(1, 3)),
               "keywords": rng.sample(keywords, rng.randint(1, 3)),
               "max_papers": 20, "trending": 5, "max_age_days": 400} for i in range(count)]
    path.write_text(json.dumps({"subscribers": people}, ensure_ascii=False))


# ---- the sink ---------------------------------------------------------------------------

@dataclass(frozen=True)
class SinkTool:
    """How to start a sink: smtp-sink's binary (with its library path), else aiosmtpd."""

    binary: Path | None
    env: dict[str, str]
    how: str


@dataclass
class Tally:
    """What one sink got: its own count, Message-IDs, sizes, and the first messages."""

    counted: int
    ids: Counter[str] = field(default_factory=Counter)
    sizes: list[int] = field(default_factory=list)
    sample: list[bytes] = field(default_factory=list)


def smtp_sink_works(binary: Path, env: dict[str, str]) -> bool:
    """It runs (its libraries load): without arguments it prints its usage."""
    try:
        done = subprocess.run([str(binary)], env=env, capture_output=True, timeout=10,
                              check=False)
    except OSError:
        return False
    return b"usage" in done.stdout + done.stderr


def cached_tool() -> SinkTool | None:
    binary = CACHE / "usr" / "sbin" / "smtp-sink"
    env = {**os.environ, "LD_LIBRARY_PATH": str(CACHE / "usr" / "lib" / "postfix")}
    if binary.exists() and smtp_sink_works(binary, env):
        return SinkTool(binary, env, f"Postfix smtp-sink from {CACHE}")
    return None


def unpack_postfix() -> SinkTool | None:
    """``apt-get download postfix`` and ``dpkg -x`` it into CACHE: the binary, no daemon."""
    if not (shutil.which("apt-get") and shutil.which("dpkg")):
        return None
    CACHE.mkdir(parents=True, exist_ok=True)
    say(f"smtp-sink not found: unpacking the postfix package into {CACHE}")
    try:
        subprocess.run(["apt-get", "download", "postfix"], cwd=CACHE, check=True,
                       capture_output=True, timeout=300)
        debs = sorted(CACHE.glob("postfix_*.deb"))
        subprocess.run(["dpkg", "-x", str(debs[-1]), str(CACHE)], check=True,
                       capture_output=True, timeout=300)
    except (subprocess.SubprocessError, OSError, IndexError) as e:
        say(f"could not unpack postfix ({e})")
        return None
    return cached_tool()


def sink_tool(choice: str) -> SinkTool:
    if choice != "aiosmtpd":
        for found in (shutil.which("smtp-sink"), "/usr/sbin/smtp-sink"):
            if found and smtp_sink_works(Path(found), dict(os.environ)):
                return SinkTool(Path(found), dict(os.environ), f"Postfix smtp-sink {found}")
        tool = cached_tool() or unpack_postfix()
        if tool:
            return tool
        if choice == "smtp-sink":
            sys.exit("smtp-sink is not available and could not be unpacked")
    return SinkTool(None, {}, "aiosmtpd sink (smtp-sink not available)"
                    if choice == "auto" else "aiosmtpd sink (--sink aiosmtpd)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, alive: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if not alive():
            sys.exit("the SMTP sink exited at start")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"the SMTP sink did not listen on 127.0.0.1:{port}")


class DumpHandler:
    """The aiosmtpd sink's handler: every message appended to a dump file."""

    def __init__(self, dump: Path) -> None:
        self.file = dump.open("ab")

    async def handle_DATA(self, server: SMTPServer, session: Session,
                          envelope: Envelope) -> str:
        data = envelope.original_content or b""
        self.file.write(MARK + data.replace(b"\r\n", b"\n") + b"\n")
        self.file.flush()
        return "250 OK"


def serve_aiosmtpd(port: int, dump: str, stop: Any) -> None:
    """The aiosmtpd sink process: listen until ``stop`` (a multiprocessing Event) is set."""
    handler = DumpHandler(Path(dump))
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    stop.wait()
    controller.stop()
    handler.file.close()


@contextmanager
def sink(tool: SinkTool, folder: Path, phase: str) -> Iterator[tuple[int, list[Tally]]]:
    """A fresh sink process for one phase: its port; after the block, its tally."""
    port, dump = free_port(), folder / phase
    result: list[Tally] = []
    runner = aiosmtpd_sink if tool.binary is None else smtp_sink
    with runner(tool, port, dump) as counted:
        yield port, result
    result.append(read_dump(dump, counted()))


@contextmanager
def aiosmtpd_sink(tool: SinkTool, port: int, dump: Path
                  ) -> Iterator[Callable[[], int | None]]:
    context = multiprocessing.get_context("spawn")
    stop = context.Event()
    proc = context.Process(target=serve_aiosmtpd, args=(port, str(dump), stop))
    proc.start()
    try:
        wait_for_port(port, proc.is_alive)
        yield lambda: None  # the dump holds every message it accepted
    finally:
        stop.set()
        proc.join(15)


@contextmanager
def smtp_sink(tool: SinkTool, port: int, dump: Path) -> Iterator[Callable[[], int | None]]:
    """smtp-sink -c (running counters on stdout) -D (every message appended to a file)."""
    assert tool.binary is not None
    counters = dump.with_suffix(".counters")
    user = ["-u", "nobody"] if os.geteuid() == 0 else []  # it refuses to stay root
    marker = MARK.decode().replace("\n", "\\n")
    with counters.open("wb") as out:
        server = subprocess.Popen(
            [str(tool.binary), "-c", *user, "-D", str(dump), "-S", marker,
             f"127.0.0.1:{port}", "1000"], env=tool.env, stdout=out, stderr=out)
        try:
            wait_for_port(port, lambda: server.poll() is None)
            yield lambda: last_count(counters)
        finally:
            server.terminate()
            server.wait(15)


def last_count(counters: Path) -> int:
    """The last ``mesg=N`` of smtp-sink's counters."""
    found = re.findall(rb"mesg=(\d+)", counters.read_bytes())
    return int(found[-1]) if found else 0


# What a sink's dump takes a digest, with room to spare (the pass's are 45-60 KB).
DUMP_BYTES = 80_000
RAM_DISK = Path("/dev/shm")


def sink_folder(messages: int) -> Path:
    """Where sinks dump: a folder smtp-sink can write once it dropped root for nobody; on
    the RAM disk when it has room for ``messages``, where writing the dump costs the sink
    a sixth less CPU than on this machine's disk (0.60 against 0.70 ms a message)."""
    ram = RAM_DISK.is_dir() and shutil.disk_usage(RAM_DISK).free > 2 * DUMP_BYTES * messages
    folder = Path(tempfile.mkdtemp(prefix="digest-sink-", dir=RAM_DISK if ram else None))
    folder.chmod(0o777)
    return folder


def strip_sink_headers(chunk: bytes) -> bytes:
    """The message as sent: without the X-* and 3-line Received header smtp-sink adds."""
    if chunk.startswith(b"X-Client-Addr:"):
        at = chunk.find(b"\nReceived: ")
        for _ in range(3):
            at = chunk.index(b"\n", at + 1)
        chunk = chunk[at + 1:]
    return chunk[:-1] if chunk.endswith(b"\n\n") else chunk


def read_dump(dump: Path, counted: int | None, keep: int = 5000) -> Tally:
    """Message-IDs, sizes (bytes, LF line ends) and the first ``keep`` messages, read a
    message at a time (a pass of 100,000 dumps 5 GB)."""
    tally = Tally(0 if counted is None else counted)
    parser = BytesHeaderParser()
    for message in dumped(dump):
        tally.ids[str(parser.parsebytes(message).get("Message-ID", "")).strip()] += 1
        tally.sizes.append(len(message))
        if len(tally.sample) < keep:
            tally.sample.append(message)
    if counted is None:
        tally.counted = len(tally.sizes)
    dump.unlink(missing_ok=True)
    return tally


def dumped(dump: Path) -> Iterator[bytes]:
    """The messages of a sink's dump, each as sent (``strip_sink_headers``)."""
    if not dump.exists() or dump.stat().st_size == 0:
        return
    with dump.open("rb") as file, mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as data:
        at = data.find(MARK)
        while at >= 0:
            end = data.find(MARK, at + len(MARK))
            chunk = data[at + len(MARK):end if end >= 0 else len(data)]
            if chunk:
                yield strip_sink_headers(chunk)
            at = end


# ---- the pass ---------------------------------------------------------------------------

@dataclass
class PassRun:
    seconds: float
    rss_mb: float
    summary: dict[str, Any] | None


def send_options() -> str:
    return subprocess.run([sys.executable, "-m", "digest", "send", "--help"],
                          capture_output=True, text=True, check=True).stdout


def pass_command(workers: int | None, options: str) -> list[str]:
    command = [sys.executable, "-m", "digest", "send", "--now", SEND_AT.isoformat()]
    if workers is not None:
        if "--workers" not in options:
            sys.exit("digest send has no --workers option yet: run without --workers")
        command += ["--workers", str(workers)]
    return [*command, "--json"] if "--json" in options else command


def profiling(command: list[str], into: Path | None, rate: int = 200) -> list[str]:
    """``command`` run under py-spy recording into ``into`` (all its processes), ``rate``
    samples a second."""
    if into is None:
        return command
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(spy).exists():
        sys.exit("--profile needs py-spy: pip install py-spy")
    return [spy, "record", "--subprocesses", "--format", "raw", "--rate", str(rate),
            "--output", str(into.resolve()), "--", *command]


def run_pass(command: list[str], env: dict[str, str], folder: Path) -> PassRun:
    """Wall clock and peak RSS (wait4: this process and what it waited for) of the pass."""
    out, err = folder / "send.out", folder / "send.err"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        start = time.perf_counter()
        proc = subprocess.Popen(command, cwd=folder, env=env, stdout=stdout, stderr=stderr)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        sys.exit(f"digest send failed ({proc.returncode}):\n{out.read_text()}{err.read_text()}")
    return PassRun(seconds, usage.ru_maxrss / 1024,
                   summary_of(out.read_text()) if "--json" in command else None)


def summary_of(text: str) -> dict[str, Any] | None:
    """The JSON ``digest send --json`` printed (the whole output, or its last object line)."""
    for candidate in (text, *reversed(text.splitlines())):
        try:
            found = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(found, dict):
            return found
    return None


@dataclass(frozen=True)
class Row:
    """One digest of the outbox, with what the naive sender needs."""

    id: int
    period: datetime
    state: str
    email: str
    name: str
    sections: list[dict[str, Any]]
    ref: str
    kind: str


def outbox_rows(store: Store) -> list[Row]:
    """Every digest (not alert) planned with mail to send, i.e. not skipped or missed."""
    d, sub = s.digests.c, s.subscribers.c
    query = select(d.id, d.period, d.state, sub.email, sub.name, d.sections, sub.ref,
                   d.kind).join(
        s.subscribers).where(d.kind == "digest", d.state.not_in(("skipped", "missed")))
    with store.engine.connect() as conn:
        return [Row(*row) for row in conn.execute(query.order_by(d.id))]


def check_pass(rows: list[Row], tally: Tally, env: dict[str, str]) -> dict[str, int]:
    """Each planned digest sent, and received by the sink exactly once."""
    envelope = MailSettings.from_env(env).envelope
    expected = {envelope.message_id(r.ref, r.kind, r.period) for r in rows}
    return {"expected": len(expected), "received": tally.counted,
            "sent_in_outbox": sum(r.state == "sent" for r in rows),
            "duplicates": sum(n - 1 for n in tally.ids.values() if n > 1),
            "missing": len(expected - tally.ids.keys()),
            "unexpected": len(tally.ids.keys() - expected)}


# ---- the naive sender and the raw ceiling ------------------------------------------------

NAIVE_HTML = jinja2.Environment(autoescape=True).from_string("""\
<html><body style="margin:0;background:#f6f6f6;font-family:Helvetica,Arial,sans-serif">
<table width="640" align="center" cellpadding="0" cellspacing="0" style="background:#fff">
<tr><td style="padding:16px"><h1 style="font-size:20px">Paper Digest</h1>
<p>Hello {{ name }}, {{ count }} new papers this week.</p>
{% for section in sections %}<h2 style="font-size:16px">{{ section.name }}</h2>
{% for p in section.papers %}<table cellpadding="0" cellspacing="0" style="margin:0 0 16px">
<tr><td valign="top" style="width:48px;text-align:center;border:1px solid #e5e7eb;
border-radius:8px;padding:6px;font-size:12px">&#9650;<br>{{ p.upvotes }}</td>
<td style="padding-left:12px"><a href="{{ p.url }}" style="font-weight:bold;color:#111827;
text-decoration:none">{{ p.title }}</a>
<div style="color:#6b7280;font-size:13px">{{ p.authors }}</div>
<div style="color:#374151;font-size:13px">{{ p.snippet }}</div></td></tr></table>
{% endfor %}{% endfor %}
<p style="font-size:12px;color:#6b7280"><a href="{{ unsubscribe }}">Unsubscribe</a></p>
</td></tr></table></body></html>
""")
NAIVE_TEXT = jinja2.Environment(autoescape=False).from_string("""\
Hello {{ name }}, {{ count }} new papers this week.
{% for section in sections %}
== {{ section.name }} ==
{% for p in section.papers %}
[{{ p.upvotes }}] {{ p.title }}
{{ p.authors }}
{{ p.snippet }}
{{ p.url }}
{% endfor %}{% endfor %}
Unsubscribe: {{ unsubscribe }}
""")


def card(paper: Paper) -> dict[str, Any]:
    """What the naive template shows of a paper: as on a digest card."""
    more = len(paper.authors) - 3
    abstract = " ".join(paper.abstract.split())
    snippet = abstract if len(abstract) <= 300 else abstract[:300].rsplit(" ", 1)[0] + "…"
    url = (f"https://arxiv.org/abs/{paper.arxiv_id}" if paper.arxiv_id
           else f"https://arxiv.org/a/search?query={paper.title}")
    return {"title": paper.title, "url": url, "snippet": snippet,
            "upvotes": "-" if paper.upvotes is None else paper.upvotes,
            "authors": ", ".join(paper.authors[:3]) + (f" +{more}" if more > 0 else "")}


def naive_message(row: Row, papers: dict[int, Paper]) -> EmailMessage:
    """The mail of one outbox row, made the hand-made way."""
    sections = [{"name": sec["name"], "papers": [card(papers[it["paper_id"]]) for it in
                                                sec["items"] if it["paper_id"] in papers]}
                for sec in row.sections]
    values = {"name": row.name, "sections": sections, "count": sum(
        len(sec["papers"]) for sec in sections),
        "unsubscribe": f"http://127.0.0.1:8000/unsubscribe/{row.id}"}
    msg = EmailMessage()
    msg["From"] = f"Paper Digest <{SENDER}>"
    msg["To"] = f"{row.name} <{row.email}>"
    msg["Subject"] = f"Paper Digest: {values['count']} new papers"
    msg["Date"] = format_datetime(datetime.now(UTC))
    msg["Message-ID"] = f"<naive-{row.id}@example.org>"
    msg.set_content(NAIVE_TEXT.render(values))
    msg.add_alternative(NAIVE_HTML.render(values), subtype="html")
    return msg


def naive_send(rows: list[Row], papers: dict[int, Paper], port: int) -> tuple[float, list[int]]:
    """Seconds to render and send each mail on a new connection, and the mails' sizes."""
    sizes = []
    start = time.perf_counter()
    for row in rows:
        msg = naive_message(row, papers)
        with smtplib.SMTP("127.0.0.1", port) as smtp:
            smtp.send_message(msg, SENDER, [row.email])
        sizes.append(len(msg.as_bytes()))
    return time.perf_counter() - start, sizes


async def raw_send(messages: list[bytes], port: int) -> float:
    """Seconds to send pre-serialised messages over RAW_CONNECTIONS reused connections."""
    queue = list(reversed(messages))

    async def worker() -> None:
        smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False)
        await smtp.connect()
        while queue:
            await smtp.sendmail(SENDER, ["raw@example.org"], queue.pop())
        await smtp.quit()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(RAW_CONNECTIONS)))
    return time.perf_counter() - start


# ---- the run ----------------------------------------------------------------------------

def per_s(count: int, seconds: float) -> float:
    return count / seconds if seconds else 0.0


def average(sizes: list[int]) -> float:
    return sum(sizes) / len(sizes) if sizes else 0.0


def setup(args: argparse.Namespace, url: str, folder: Path) -> dict[str, Any]:
    """Ingest and import as an operator would; their seconds."""
    env = base_env(url, folder)
    ingest, _ = digest("ingest", str(DATA / "hf-daily"), "--now", INGEST_AT.isoformat(),
                       env=env, cwd=folder)
    people = folder / "subscribers.json"
    subscriber_file(args.subscribers, args.seed, DATA / "hf-daily", people)
    imported, _ = digest("subscribers", "import", str(people), "--now",
                         IMPORT_AT.isoformat(), env=env, cwd=folder)
    if args.dkim:
        key = folder / "dkim.pem"
        digest("dkim", "keygen", "--selector", "bench", "--domain", "example.org", "-o",
               str(key), env=env, cwd=folder)
        env.update(DIGEST_DKIM_KEY=str(key), DIGEST_DKIM_SELECTOR="bench")
    return {"env": env, "ingest": ingest, "import": imported}


def the_pass(command: list[str], env: dict[str, str], tool: SinkTool, dumps: Path,
             folder: Path) -> tuple[PassRun, Tally]:
    with sink(tool, dumps, "pass") as (port, tally):
        smtp_env = {**env, "DIGEST_SMTP_URL": f"smtp://127.0.0.1:{port}?starttls=off"}
        say(f"pass: {' '.join(command[1:])}")
        run = run_pass(command, smtp_env, folder)
    return run, tally[0]


def comparisons(args: argparse.Namespace, store: Store, rows: list[Row], tool: SinkTool,
                dumps: Path, ours: Tally) -> dict[str, Any]:
    sent = [r for r in rows if r.state == "sent"]
    sample = sorted(random.Random(args.seed).sample(sent, min(args.sample, len(sent))),
                    key=lambda r: r.id)
    papers = store.papers_by_id({it["paper_id"] for r in sample for sec in r.sections
                                 for it in sec["items"]})
    say(f"naive: {len(sample)} mails, a new connection each")
    with sink(tool, dumps, "naive") as (port, naive_tally):
        naive_s, naive_sizes = naive_send(sample, papers, port)
    raw = ours.sample[:args.sample]
    say(f"raw: {len(raw)} of the pass's messages over {RAW_CONNECTIONS} connections")
    with sink(tool, dumps, "raw") as (port, raw_tally):
        raw_s = asyncio.run(raw_send(raw, port))
    return {"naive": {"mails": len(sample), "seconds": naive_s,
                      "per_s": per_s(len(sample), naive_s), "avg_bytes": average(naive_sizes),
                      "received": naive_tally[0].counted},
            "raw": {"mails": len(raw), "connections": RAW_CONNECTIONS, "seconds": raw_s,
                    "per_s": per_s(len(raw), raw_s), "avg_bytes": average(
                        [len(m) for m in raw]), "received": raw_tally[0].counted}}


def measure(args: argparse.Namespace, tool: SinkTool, folder: Path) -> dict[str, Any]:
    options = send_options()
    command = pass_command(args.workers, options)  # before setup: it may refuse --workers
    profiled = profiling(command, args.profile, args.profile_rate)
    dumps = sink_folder(args.subscribers)
    try:
        with database(args.db, folder) as (url, what, db_s):
            say(f"database: {what}; ingest and import")
            prepared = setup(args, url, folder)
            env = prepared.pop("env")
            run, tally = the_pass(profiled, env, tool, dumps, folder)
            store = Store(url)
            rows = outbox_rows(store)
            later = [*command[:5], (SEND_AT + timedelta(days=7)).isoformat(), *command[6:]]
            again, _ = the_pass(later, env, tool, dumps, folder)
            figures = {"subscribers": args.subscribers, "database": what, "sink": tool.how,
                       "papers": store.count_papers(),
                       "setup_seconds": {"database": db_s, **prepared},
                       "pass": pass_figures(run, rows), "outbox": store.outbox_counts(),
                       "week_later": {"seconds": again.seconds, "summary": again.summary},
                       "check": check_pass(rows, tally, env),
                       "ours_avg_bytes": average(tally.sizes), "cli_missing": [
                           o for o in ("--json", "--workers") if o not in options],
                       **comparisons(args, store, rows, tool, dumps, tally),
                       "dkim": signing_cost(tally.sample, env) if args.dkim else None}
            store.engine.dispose()
    finally:
        shutil.rmtree(dumps, ignore_errors=True)
    return with_ratios(figures)


def signing_cost(messages: list[bytes], env: dict[str, str], count: int = 200
                 ) -> dict[str, Any]:
    """CPU microseconds to sign one of the pass's messages (the first ``count``, as the
    Composer built them: CRLF, their signature taken off), with digest's signer (key
    loaded once) and with dkimpy's ``dkim.sign`` (the key parsed and RSA done in Python
    for every message). CPU time, not the clock: other work on a shared machine would
    count otherwise."""
    signer = signer_from_env(env, "localhost")
    assert signer is not None
    wires = [Wire(re.sub(rb"\A(DKIM-Signature:.*\n([ \t].*\n)*)+", b"", m)
                  .replace(b"\n", b"\r\n")) for m in messages[:count]]
    start = time.process_time()
    for wire in wires:
        signer.sign(wire)
    ours = (time.process_time() - start) / len(wires) * 1e6
    pem = Path(env["DIGEST_DKIM_KEY"]).read_bytes()
    few = wires[:20]
    start = time.process_time()
    for wire in few:
        dkim.sign(wire, b"bench", b"localhost", pem, canonicalize=(b"relaxed", b"relaxed"),
                  include_headers=list(SIGNED))
    theirs = (time.process_time() - start) / len(few) * 1e6
    return {"messages": len(wires), "avg_bytes": average([len(w) for w in wires]),
            "us_per_mail": ours, "dkimpy_us_per_mail": theirs}


def pass_figures(run: PassRun, rows: list[Row]) -> dict[str, Any]:
    sent = sum(r.state == "sent" for r in rows)
    stages = (run.summary or {}).get("seconds")
    return {"seconds": run.seconds, "digests": sent, "digests_per_s": per_s(sent, run.seconds),
            "peak_rss_mb": run.rss_mb, "stages": stages if isinstance(stages, dict) else None,
            "summary": run.summary}


def with_ratios(figures: dict[str, Any]) -> dict[str, Any]:
    ours = figures["pass"]["digests_per_s"]
    naive, raw = figures["naive"]["per_s"], figures["raw"]["per_s"]
    figures["ratios"] = {"digest_over_naive": ours / naive if naive else None,
                         "digest_over_raw": ours / raw if raw else None}
    return figures


def ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}x"


def table(f: dict[str, Any]) -> str:
    setup_s, p, c, naive, raw = (f["setup_seconds"], f["pass"], f["check"], f["naive"],
                                 f["raw"])
    dups = f"{c['duplicates']} duplicates" if c["duplicates"] else "no duplicates"
    lines = [
        f"{f['subscribers']:,} subscribers, {f['papers']:,} papers; {f['database']}; "
        f"sink: {f['sink']}",
        f"setup   database {setup_s['database']:8.2f} s",
        f"        ingest   {setup_s['ingest']:8.2f} s  (digest ingest, all hf-daily)",
        f"        import   {setup_s['import']:8.2f} s  (digest subscribers import)",
        f"pass             {p['seconds']:8.2f} s  {p['digests']:,} digests, "
        f"{p['digests_per_s']:.1f} digests/s, peak RSS {p['peak_rss_mb']:.0f} MB",
    ]
    if p["stages"]:
        lines.append("  stages " + ", ".join(f"{k} {v:.2f} s" for k, v in p["stages"].items()
                                            if isinstance(v, int | float)))
    week = f["week_later"]
    lines.append(f"again   {week['seconds']:8.2f} s  a week later with nothing new "
                 f"({week['seconds'] / p['seconds']:.2f}x the first pass)")
    lines += [
        f"outbox  {json.dumps(f['outbox'], sort_keys=True)}; sent {c['sent_in_outbox']} "
        f"of {c['expected']} planned",
        f"sink    received {c['received']}, expected {c['expected']}, {dups}, "
        f"{c['missing']} missing, {c['unexpected']} unexpected",
        f"naive            {naive['seconds']:8.2f} s  {naive['mails']:,} mails, "
        f"{naive['per_s']:.1f} mails/s, avg {naive['avg_bytes'] / 1024:.1f} KB "
        f"(ours {f['ours_avg_bytes'] / 1024:.1f} KB); sink received {naive['received']}",
        f"raw              {raw['seconds']:8.2f} s  {raw['mails']:,} mails, "
        f"{raw['per_s']:.1f} mails/s over {raw['connections']} connections, "
        f"avg {raw['avg_bytes'] / 1024:.1f} KB; sink received {raw['received']}",
        f"ratios  digest/naive {ratio(f['ratios']['digest_over_naive'])}, "
        f"digest/raw {ratio(f['ratios']['digest_over_raw'])}",
    ]
    if f["dkim"]:
        d = f["dkim"]
        lines.append(f"dkim    every mail signed; signing one of {d['messages']} (avg "
                     f"{d['avg_bytes'] / 1024:.1f} KB): {d['us_per_mail']:.0f} us CPU, dkimpy's "
                     f"dkim.sign {d['dkimpy_us_per_mail']:.0f} us")
    if f["cli_missing"]:
        lines.append("digest send has no " + " or ".join(f["cli_missing"]) +
                     ": whole pass time only")
    return "\n".join(lines)


def main() -> None:
    args = arguments()
    if not sorted((DATA / "hf-daily").glob("*.json")):
        say(f"this benchmark needs the real data in {DATA} (hf-daily/*.json); it is absent")
        sys.exit(1)
    tool = sink_tool(args.sink)
    say(f"sink: {tool.how}")
    with tempfile.TemporaryDirectory(prefix="digest-fanout-") as tmp:
        figures = measure(args, tool, Path(tmp))
    if args.json:
        print(json.dumps(figures, indent=2, default=str))
    else:
        print(table(figures))


if __name__ == "__main__":
    main()
