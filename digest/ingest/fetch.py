"""Live sources over HTTP: the Hugging Face daily_papers API, arXiv's Atom feeds, arXiv's
OAI-PMH interface and the bioRxiv/medRxiv API (``digest.ingest.harvest`` pages them).

``Fetcher.get`` retries what may pass (timeouts, dropped or cut-off responses, 5xx and
429 replies) with exponential back-off, or after the time a Retry-After asks for (up to
DIGEST_HARVEST_RETRY_AFTER_MAX, within the deadline, else an error at once), and fails
at once on other 4xx replies. What a fetch may cost is bounded, so that a hostile
server is one source's error and the run goes on: the body is read as it arrives and
cut off past DIGEST_HTTP_MAX_BYTES (sent and unpacked alike: a gzip bomb unpacks no
further), one URL gets DIGEST_HTTP_DEADLINE seconds in all, and redirects are followed
only to the scheme, host and port the URL had (``digest.ingest.guard`` checks the
addresses; a proxy the environment names is used as httpx would). Every failure is a
FetchError naming the URL, what happened and the setting to change.
"""

from __future__ import annotations

import email.utils
import time
import urllib.request
import zlib
from datetime import date, datetime
from types import TracebackType
from urllib.parse import urljoin, urlsplit

import httpx

from digest import __version__, defaults
from digest.errors import FetchError
from digest.ingest.guard import Guard, GuardedTransport, Refused
from digest.settings import HttpSettings


class _Passing(Exception):
    """A failure another attempt may not meet; the message says what it was, and
    ``retry_after`` how long the server asked to be left alone (a 503's Retry-After)."""

    def __init__(self, problem: str, retry_after: float | None = None) -> None:
        super().__init__(problem)
        self.retry_after = retry_after


class Fetcher:
    """An HTTP client with timeouts, retries and bounds; use as a context manager."""

    def __init__(self, settings: HttpSettings) -> None:
        self.settings = settings
        hosts = {urlsplit(base).hostname or "" for base in settings.bases}
        self._guard = Guard(hosts)
        self._client = httpx.Client(
            transport=GuardedTransport(self._guard), mounts=_proxied(settings),
            timeout=httpx.Timeout(settings.timeout),
            follow_redirects=False,  # followed by _follow, on the same origin only
            headers={"User-Agent": f"digest/{__version__} (paper digest bot)",
                     "Accept-Encoding": "gzip, deflate"},
        )

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._client.close()

    def get(self, url: str) -> bytes:
        """The body of ``url``; raises FetchError once the attempts or the deadline are
        spent, or at once for what no retry mends (a 4xx, a bound passed)."""
        deadline = time.monotonic() + self.settings.deadline
        problem = ""
        asked: float | None = None
        for attempt in range(self.settings.attempts):
            if attempt:
                wait = self.settings.backoff * 2 ** (attempt - 1) if asked is None else asked
                time.sleep(max(0.0, min(wait, deadline - time.monotonic())))
            self._guard.deadline = deadline
            try:
                return self._follow(url)
            except _Passing as e:
                if time.monotonic() >= deadline:
                    raise FetchError(url, self._late()) from e
                problem, asked = str(e), e.retry_after
                if asked is not None:
                    self._check_wait(url, problem, asked, deadline)
            except Refused as e:
                raise FetchError(url, f"refused: {e}; digest reaches only the source's "
                                 "configured host (DIGEST_HF_URL, DIGEST_ARXIV_URL, "
                                 "DIGEST_ARXIV_OAI_URL, DIGEST_BIORXIV_URL)") from e
        raise FetchError(url, f"{problem}; gave up after {self.settings.attempts} attempts")

    def _check_wait(self, url: str, problem: str, asked: float, deadline: float) -> None:
        """FetchError at once when the wait a server asks for (Retry-After) is longer than
        digest waits, or than the fetch has left: sleeping first would only fail later."""
        if asked > self.settings.retry_after_max:
            raise FetchError(url, f"{problem}, asking to retry after {asked:g} s, longer than "
                             f"digest waits ({self.settings.retry_after_max:g} s, "
                             "DIGEST_HARVEST_RETRY_AFTER_MAX); the next run tries again")
        if time.monotonic() + asked >= deadline:
            raise FetchError(url, f"{problem}, asking to retry after {asked:g} s, past the "
                             f"fetch's {self.settings.deadline:g} s (DIGEST_HTTP_DEADLINE)")

    def _late(self) -> str:
        return (f"not done within {self.settings.deadline:g} s (DIGEST_HTTP_DEADLINE), "
                "retries included; raise it if the source is slow but sound")

    def _follow(self, url: str) -> bytes:
        """The body at ``url``, following redirects that stay on its origin."""
        target = url
        for _ in range(defaults.HTTP_MAX_REDIRECTS + 1):
            try:
                with self._client.stream("GET", target) as response:
                    if not response.is_redirect:
                        _check_status(url, response)
                        return self._body(url, response)
                    target = _redirect(url, target, response.headers["location"])
            except httpx.TimeoutException as e:
                raise _Passing(f"no answer within {self.settings.timeout:g} s "
                               "(DIGEST_HTTP_TIMEOUT)") from e
            except httpx.RemoteProtocolError as e:
                raise _Passing(f"the response was cut off or malformed ({e})") from e
            except httpx.TransportError as e:
                raise _Passing(f"cannot connect ({e})") from e
        raise FetchError(url, f"more than {defaults.HTTP_MAX_REDIRECTS} redirects; set the "
                         "base URL (DIGEST_HF_URL, DIGEST_ARXIV_URL, DIGEST_ARXIV_OAI_URL, "
                         "DIGEST_BIORXIV_URL) to where the source is")

    def _body(self, url: str, response: httpx.Response) -> bytes:
        """The body, unpacked, read as it arrives and cut off past the bounds."""
        limit = self.settings.max_bytes
        unpack = _unpacker(url, response.headers.get("content-encoding", ""))
        sent = 0
        parts: list[bytes] = []
        size = 0
        for chunk in response.iter_raw():
            if time.monotonic() > self._guard.deadline:  # through a proxy, unguarded
                raise _Passing("the deadline passed")
            sent += len(chunk)
            data = chunk if unpack is None else _unpacked(url, unpack, chunk, limit + 1 - size)
            size += len(data)
            if max(sent, size) > limit:
                raise FetchError(url, f"the response is larger than {limit} bytes"
                                 f"{' unpacked' if size > sent else ''}; reading stopped "
                                 "(raise DIGEST_HTTP_MAX_BYTES if the source is that large)")
            parts.append(data)
        return b"".join(parts)


def _proxied(settings: HttpSettings) -> dict[str, httpx.BaseTransport]:
    """Transports through the proxy the environment names for a source's base URL
    (HTTPS_PROXY, HTTP_PROXY, ALL_PROXY, unless NO_PROXY lists its host), as httpx
    would use. The proxy connects, so the guard checks no address there: the redirect
    rule holds still, and the deadline is checked as the body arrives."""
    proxies = urllib.request.getproxies()
    mounts: dict[str, httpx.BaseTransport] = {}
    for base in settings.bases:
        parts = urlsplit(base)
        proxy = proxies.get(parts.scheme) or proxies.get("all")
        if proxy and not urllib.request.proxy_bypass(parts.hostname or ""):
            mounts[f"{parts.scheme}://{parts.netloc}"] = httpx.HTTPTransport(proxy=proxy)
    return mounts


def _unpacked(url: str, unpack: zlib._Decompress, chunk: bytes, most: int) -> bytes:
    try:
        return unpack.decompress(chunk, most)
    except zlib.error as e:
        raise FetchError(url, f"the packed response is corrupt ({e})") from e


def _check_status(url: str, response: httpx.Response) -> None:
    if response.status_code >= 500 or response.status_code == 429:
        raise _Passing(f"server error HTTP {response.status_code} {response.reason_phrase}",
                       _retry_after(response.headers.get("retry-after", ""),
                                    response.headers.get("date", "")))
    if response.status_code >= 400:
        raise FetchError(url, f"HTTP {response.status_code} {response.reason_phrase}; "
                         "check the date, category or base URL")


def _retry_after(value: str, sent: str) -> float | None:
    """The seconds a Retry-After header asks for (a number, or an HTTP date counted from
    the response's own Date), or None when there is none or it cannot be read (the usual
    back-off then applies)."""
    value = value.strip()
    if value.isdigit():
        return float(min(int(value[:9]), 10**8))
    when, now = _http_date(value), _http_date(sent)
    if when is None or now is None:
        return None
    return max(0.0, (when - now).total_seconds())


def _http_date(value: str) -> datetime | None:
    try:
        when = email.utils.parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    return when if when.tzinfo is not None else None


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    default = {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), parts.port or default


def _redirect(url: str, current: str, location: str) -> str:
    """Where a redirect leads; FetchError when that is off the URL's scheme, host, port."""
    target = urljoin(current, location)
    if _origin(target) != _origin(url):
        scheme, host, port = _origin(url)
        raise FetchError(url, f"redirected to {target}, off {scheme}://{host}:{port}; "
                         "redirects are followed on the configured scheme, host and port only (set "
                         "DIGEST_HF_URL, DIGEST_ARXIV_URL, DIGEST_ARXIV_OAI_URL or "
                         "DIGEST_BIORXIV_URL to where the source is)")
    return target


def _unpacker(url: str, encoding: str) -> zlib._Decompress | None:
    """A decompressor for the body's Content-Encoding (None for none)."""
    name = encoding.strip().lower()
    if name in ("", "identity"):
        return None
    if name in ("gzip", "x-gzip", "deflate"):
        return zlib.decompressobj(zlib.MAX_WBITS | 32)  # reads a gzip or a zlib header
    raise FetchError(url, f"the response is packed as {encoding!r}, which digest does not "
                     "unpack (it asks for gzip or deflate)")


def hf_daily_url(base: str, day: date, page: int, limit: int = defaults.HF_PAGE_LIMIT) -> str:
    """URL of one page of the Hugging Face daily_papers API for ``day``."""
    return f"{base}/api/daily_papers?date={day.isoformat()}&limit={limit}&p={page}"


def arxiv_feed_url(base: str, category: str) -> str:
    """URL of arXiv's Atom announcement feed for ``category`` (e.g. cs.LG)."""
    return f"{base}/atom/{category}"
