"""Live sources over HTTP: the Hugging Face daily_papers API and arXiv's Atom feeds.

``Fetcher.get`` retries what may pass (timeouts, dropped or cut-off responses, 5xx and
429 replies) with exponential back-off and fails at once on other 4xx replies; every
failure is a FetchError naming the URL and what to check.
"""

from __future__ import annotations

import time
from datetime import date
from types import TracebackType

import httpx

from digest import __version__, defaults
from digest.errors import FetchError
from digest.settings import HttpSettings


class Fetcher:
    """An HTTP client with timeouts and retries; use as a context manager."""

    def __init__(self, settings: HttpSettings) -> None:
        self.settings = settings
        self._client = httpx.Client(
            timeout=httpx.Timeout(settings.timeout),
            follow_redirects=True,
            headers={"User-Agent": f"digest/{__version__} (paper digest bot)"},
        )

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._client.close()

    def get(self, url: str) -> bytes:
        """The body of ``url``; raises FetchError once the attempts are spent."""
        problem = ""
        for attempt in range(self.settings.attempts):
            if attempt:
                time.sleep(self.settings.backoff * 2 ** (attempt - 1))
            try:
                response = self._client.get(url)
            except httpx.TimeoutException:
                problem = f"no answer within {self.settings.timeout:g} s (DIGEST_HTTP_TIMEOUT)"
                continue
            except httpx.RemoteProtocolError as e:
                problem = f"the response was cut off or malformed ({e})"
                continue
            except httpx.TransportError as e:
                problem = f"cannot connect ({e})"
                continue
            if response.status_code >= 500 or response.status_code == 429:
                problem = f"server error HTTP {response.status_code} {response.reason_phrase}"
                continue
            if response.status_code >= 400:
                raise FetchError(url, f"HTTP {response.status_code} {response.reason_phrase}; "
                                 "check the date, category or base URL")
            return response.content
        raise FetchError(url, f"{problem}; gave up after {self.settings.attempts} attempts")


def hf_daily_url(base: str, day: date, page: int, limit: int = defaults.HF_PAGE_LIMIT) -> str:
    """URL of one page of the Hugging Face daily_papers API for ``day``."""
    return f"{base}/api/daily_papers?date={day.isoformat()}&limit={limit}&p={page}"


def arxiv_feed_url(base: str, category: str) -> str:
    """URL of arXiv's Atom announcement feed for ``category`` (e.g. cs.LG)."""
    return f"{base}/atom/{category}"
