"""What travels, checked by parsers (issue 20): renders the sample articles (examples/articles,
without their photos, at 144 px: the cards do not depend on them) in a fresh temporary home with
``VIDEOGEN_PUBLIC_URL`` set, then prints

1. what an unfurler sees: the Open Graph / Twitter tags of one embed page;
2. the video sitemap, checked with lxml: namespaces, one ``url`` per published clip with every
   tag Google's format asks for, absolute URLs, integer durations, W3C dates, newest first;
3. the MRSS feed (all, and ``?language=fr``), checked with feedparser (no bozo, media:content
   with url/type/duration/width/height, media:thumbnail) and lxml (media:subTitle).

Usage: ``python scripts/check_travel.py [--public-url https://video.example.org]``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from datetime import datetime
from pathlib import Path

import feedparser
from fastapi.testclient import TestClient
from lxml import etree

from videogen.http.app import create_app
from videogen.service.videos import VideoService
from videogen.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
NS = {"sm": "http://www.sitemaps.org/schemas/sitemap/0.9", "video": "http://www.google.com/schemas/sitemap-video/1.1",
      "xhtml": "http://www.w3.org/1999/xhtml", "media": "http://search.yahoo.com/mrss/"}
VIDEO_TAGS = ("thumbnail_loc", "title", "description", "content_loc", "player_loc", "duration", "publication_date")


def samples() -> list[dict]:
    d = ROOT / "examples" / "articles"
    out = [json.loads((d / n).read_text()) for n in ("en-space-exhibition.json", "fr-chine-ia.json")]
    out += [json.loads(line) for line in (d / "hot-news-fr.jsonl").read_text().splitlines() if line.strip()][:3]
    for a in out:
        a.pop("images", None)
    return out


def check(ok: bool, what: str) -> None:
    print(("  ok    " if ok else "  FAIL  ") + what)
    if not ok:
        check.failed = True  # type: ignore[attr-defined]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--public-url", default="https://video.example.org")
    args = ap.parse_args()
    check.failed = False  # type: ignore[attr-defined]
    base = args.public_url.rstrip("/")
    s = Settings(home=Path(tempfile.mkdtemp(prefix="videogen-travel-")), public_url=base, rate_limit=0)
    svc = VideoService(s)
    with TestClient(create_app(s, svc, run_sweeper=False)) as c:
        ids = []
        for a in samples():
            r = c.post("/v1/videos", json={**a, "options": {"height": 144, "fps": 8}})
            assert r.status_code == 202, r.text
            ids.append(r.json()["id"])
            assert svc.run(ids[-1], "check").status == "done"
        print(f"{len(ids)} sample articles rendered and published; public URL {base}\n")

        print(f"1. What an unfurler sees: the card tags of {base}/embed/{ids[0]}")
        page = c.get(f"/embed/{ids[0]}").text
        for tag in re.findall(r'<meta (?:property="og:|name="twitter:)[^>]*>', page):
            print("  " + tag)
        print(f"  (and <title>, <link rel=alternate type=application/json+oembed>: "
              f"{'yes' if 'json+oembed' in page else 'NO'})\n")

        print("2. /sitemaps/videos.xml, checked with lxml")
        r = c.get("/sitemaps/videos.xml")
        root = etree.fromstring(r.content)
        check(root.tag == f"{{{NS['sm']}}}urlset", "root is sitemaps.org urlset")
        urls = root.findall("sm:url", NS)
        check(len(urls) == len(ids), f"{len(urls)} <url> for {len(ids)} published clips")
        dates = []
        for u in urls:
            v = u.find("video:video", NS)
            missing = [t for t in VIDEO_TAGS if not (v.findtext(f"video:{t}", namespaces=NS) or "").strip()]
            check(not missing, f"{u.findtext('sm:loc', namespaces=NS)}: every video tag present"
                  + (f" (missing {missing})" if missing else ""))
            locs = [u.findtext("sm:loc", namespaces=NS)] + [v.findtext(f"video:{t}", namespaces=NS) for t in
                                                            ("thumbnail_loc", "content_loc", "player_loc")]
            check(all(x.startswith(("https://", "http://")) for x in locs), "  absolute URLs")
            check(1 <= int(v.findtext("video:duration", namespaces=NS)) <= 28800, "  duration an integer in 1..28800 s")
            dates.append(datetime.fromisoformat(v.findtext("video:publication_date", namespaces=NS)))
            check(u.find("xhtml:link", NS) is not None, f"  language: hreflang={u.find('xhtml:link', NS).get('hreflang')}")
        check(dates == sorted(dates, reverse=True), "newest first")
        check(c.get("/sitemaps/videos.xml", headers={"If-None-Match": r.headers["etag"]}).status_code == 304,
              f"ETag {r.headers['etag']} -> 304; Last-Modified {r.headers['last-modified']}")
        robots = c.get("/robots.txt").text
        check(f"Sitemap: {base}/sitemaps/videos.xml" in robots, "robots.txt names it")
        print()

        print("3. /feeds/videos.rss, checked with feedparser")
        for query, want in (("", len(ids)), ("?language=fr", sum(1 for a in samples() if a.get("language") == "fr"))):
            r = c.get("/feeds/videos.rss" + query)
            feed = feedparser.parse(r.content)
            check(not feed.bozo, f"/feeds/videos.rss{query}: well-formed ({feed.version}), {len(feed.entries)} items, "
                  f"want {want}")
            check(len(feed.entries) == want, "  item count")
            for e in feed.entries:
                mc = e.media_content[0]
                check(all(mc.get(k) for k in ("url", "type", "duration", "width", "height")) and mc["type"] == "video/mp4",
                      f"  {e.title[:50]!r}: media:content {mc['width']}x{mc['height']} {mc['duration']} s, "
                      f"thumbnail {'yes' if e.get('media_thumbnail') else 'NO'}")
            subs = etree.fromstring(r.content).findall("channel/item/media:subTitle", NS)
            check(len(subs) == want and all(x.get("type") == "text/vtt" and x.get("href") for x in subs),
                  "  media:subTitle (WebVTT) on every item")
            check(r.headers["cache-control"].startswith("public"), f"  cacheable: {r.headers['cache-control']}")
    return 1 if check.failed else 0  # type: ignore[attr-defined]


if __name__ == "__main__":
    sys.exit(main())
