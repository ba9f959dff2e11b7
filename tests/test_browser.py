"""The rendered digest in a real browser: one card per paper, nothing wider than the screen."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from digest.config import load_config
from digest.plan import build_digests
from digest.render import Links, render_digest
from digest.store import Store
from tests.browser import chromium, png_size, screenshot
from tests.conftest import ROOT, SEEDS
from tests.test_rank import ingest

OUTPUT = ROOT / "tests" / "output"
# A page that lays the mail out in an iframe exactly WIDTH px wide (headless Chromium will
# not make its own window narrower than 500 px), measures it there and writes the findings
# into the DOM for --dump-dom to show. The mail itself has no script.
PROBE = """<!DOCTYPE html><html><body style="margin:0"><pre id="probe"></pre>
<iframe id="frame" style="width:WIDTHpx;height:4000px;border:0"></iframe><script>
const frame = document.getElementById('frame');
frame.onload = () => {
  const doc = frame.contentDocument, width = frame.contentWindow.innerWidth;
  const titles = [...doc.querySelectorAll('a[style*="font-size:17px"]')].map(a => a.textContent);
  const cards = doc.querySelectorAll('table.card').length;
  const wide = [...doc.querySelectorAll('body *')].filter(
    e => e.getBoundingClientRect().right > width + 0.5).length;
  document.getElementById('probe').textContent = JSON.stringify(
    {titles, cards, wide, width, scroll: doc.documentElement.scrollWidth});
};
frame.srcdoc = MAIL;
</script></body></html>"""


def probe(html: str, width: int, tmp_path: Path) -> dict[str, Any]:
    """Lay ``html`` out ``width`` px wide in Chromium and report what the DOM shows."""
    page = tmp_path / f"probe-{width}.html"
    mail = json.dumps(html).replace("</", "<\\/")
    page.write_text(PROBE.replace("WIDTH", str(width)).replace("MAIL", mail), encoding="utf-8")
    dom = chromium(page.as_uri(), "--dump-dom", width=800)
    found = dom.split('<pre id="probe">', 1)[1].split("</pre>", 1)[0]
    return json.loads(found.replace("&quot;", '"').replace("&lt;", "<").replace("&gt;", ">")
                      .replace("&amp;", "&"))


@pytest.fixture(scope="module")
def mail(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[str], str]:
    store = Store(f"sqlite:///{tmp_path_factory.mktemp('b') / 'd.db'}")
    ingest(store, SEEDS, now=datetime(2026, 6, 1, 5, tzinfo=UTC))
    sub = load_config(ROOT / "subscriptions.yaml").subscribers[0]
    (digest,) = build_digests(store, [sub], datetime(2026, 6, 1, 6, tzinfo=UTC))
    html = render_digest(digest, Links.placeholders("https://digest.example.org")).html
    return [it.paper.title for it in digest.items], html


@pytest.mark.parametrize("width", [375, 800])
def test_digest_layout_in_chromium(mail: tuple[list[str], str], tmp_path: Path,
                                   width: int) -> None:
    titles, html = mail
    page = tmp_path / "digest.html"
    page.write_text(html, encoding="utf-8")
    shot = screenshot(page.as_uri(), OUTPUT / f"digest-{width}.png", width=width)
    assert png_size(shot)[0] == width

    found = probe(html, width, tmp_path)
    assert found["titles"] == titles  # one card per paper, with its title, in order
    assert found["cards"] == len(titles)
    assert found["width"] == width
    assert found["scroll"] <= width, "the page scrolls sideways"
    assert found["wide"] == 0, "elements overflow the screen"


def test_probe_notices_overflow(tmp_path: Path) -> None:
    """The overflow check can fail: a 900 px wide table overflows a 375 px screen."""
    found = probe('<!DOCTYPE html><html><body><table style="width:900px"><tr><td>x</td></tr>'
                  "</table></body></html>", 375, tmp_path)
    assert found["wide"] > 0
    assert found["scroll"] > 375
