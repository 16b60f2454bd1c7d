"""Ingest, pure part: article pages → the article model, feed bytes → items, and the reasons an
item is left out. No network: the fixtures of tests/fixtures/ingest."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from videogen.render.article import ArticleLimits
from videogen.service.ingest.feeds import (
    FeedItem,
    NotAFeed,
    Policy,
    article_from_item,
    is_teaser,
    item_problem,
    newest,
    parse_feed,
    policy_problem,
)
from videogen.service.ingest.pages import (
    NotAnArticle,
    article_id_for,
    canonical_url,
    extract_article,
)

from .ingest_server import FIXTURES

BASE = "http://feeds.test"
NOW = datetime(2026, 12, 2, tzinfo=UTC)
BOILERPLATE = ("cookie", "Read also", "Lire aussi", "Subscribe", "Abonnez", "Advertisement", "All rights reserved",
               "Politics", "Share this", "tram line through the old town", "illuminations", "Mentions légales")


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes().replace(b"{base}", BASE.encode())


def test_page_with_json_ld_takes_headline_description_language_images_and_no_boilerplate():
    a = extract_article(fixture("page_jsonld.html"), "https://news.example/2026/12/harbour-bridge-reopens?utm_source=x")
    assert a.title == "Harbour bridge reopens after eight months of repairs"  # JSON-LD headline, not og:title
    assert a.summary.startswith("The harbour bridge reopened to traffic on Tuesday, two weeks")  # JSON-LD description
    assert a.language == "en-GB" and a.source == "The Coastal Herald"
    assert a.url == "https://news.example/2026/12/harbour-bridge-reopens"  # <link rel=canonical>, tracking dropped
    assert a.id == article_id_for(a.url) and a.published_at == datetime(2026, 12, 1, 8, 30, tzinfo=UTC)
    srcs = [i.src for i in a.images]
    assert srcs[:2] == ["https://news.example/img/bridge-wide.jpg", "https://news.example/img/bridge-detail.jpg"]
    assert "https://news.example/img/og-bridge.jpg" in srcs  # og:image, made absolute
    assert a.images[0].caption == "The bridge at dawn" and a.images[0].credit == "Photo: A. Smith"
    figure = next(i for i in a.images if i.src.endswith("bridge-traffic.jpg"))
    assert figure.caption == "The first cars crossed at six in the morning." and figure.credit == "Photo: B. Jones"
    assert "four hundred bolts" in a.body and "separate lane" in a.body
    for junk in BOILERPLATE:
        assert junk.lower() not in (a.body + a.summary).lower(), junk


def test_page_without_json_ld_takes_open_graph_lead_paragraph_and_html_lang():
    a = extract_article(fixture("page_og.html"), "https://gazette.example/culture/marche-de-noel-ouvre")
    assert a.title == "Le marché de Noël ouvre ses portes sur la place du Port"  # og:title
    assert a.summary.startswith("Le marché de Noël a ouvert vendredi soir")  # the lead paragraph
    assert a.language == "fr" and a.source == "La Gazette du Port"
    assert [i.src for i in a.images] == ["https://gazette.example/photos/marche.jpg", "https://gazette.example/photos/chalets.jpg"]
    assert a.images[1].caption == "Les chalets des artisans, vendredi soir."
    for junk in BOILERPLATE:
        assert junk.lower() not in (a.body + a.summary).lower(), junk


def test_language_is_detected_when_nothing_declares_it():
    page = fixture("page_og.html").replace(b'<html lang="fr">', b"<html>")
    assert extract_article(page, "https://gazette.example/x").language == "fr"


@pytest.mark.parametrize("name", ["no_article.html", "error_page.html"])
def test_a_page_with_no_article_says_so(name):
    with pytest.raises(NotAnArticle, match="no article on the page"):
        extract_article(fixture(name), "https://news.example/x")


def test_stable_article_id_from_canonical_url():
    assert canonical_url("HTTPS://News.Example/a/b?utm_source=rss&id=3#top") == "https://news.example/a/b?id=3"
    assert article_id_for("https://news.example/a/b?utm_medium=x") == article_id_for("https://news.example/a/b")
    assert article_id_for("https://news.example/a/b") != article_id_for("https://news.example/a/c")


def test_wordpress_rss_content_encoded_cdata_and_media():
    feed = parse_feed(fixture("wordpress.rss"), BASE + "/feed")
    assert feed.kind == "rss20" and feed.language == "en-GB" and len(feed.items) == 3
    tram, storm, croissant = feed.items
    assert tram.key == BASE + "/?p=1201" and "280 million euros" in tram.content
    assert "Share this" not in tram.content  # WordPress sharing block
    assert tram.images == ({"src": BASE + "/img/tram.jpg", "credit": "Photo: C. Lee"},)  # media:content
    assert storm.images == ({"src": BASE + "/img/storm.jpg"},)  # enclosure
    assert croissant.images == ({"src": BASE + "/img/croissant.jpg"},)  # media:thumbnail
    assert not is_teaser(tram)
    a = article_from_item(tram, feed)
    assert a.title == tram.title and a.language == "en-GB" and a.source == "Hot news – The Coastal Herald"
    assert a.summary.startswith("The council approved") and a.id == article_id_for(BASE + "/2026/12/tram-airport/")


def test_atom_html_summaries_and_teasers():
    feed = parse_feed(fixture("atom.xml"), BASE + "/atom")
    assert feed.kind == "atom10" and feed.language == "fr"
    teaser, pool = feed.items
    assert teaser.title == "Le marché de Noël ouvre ses portes"  # type="html" title decoded
    assert teaser.summary == "Le marché ouvre…" and is_teaser(teaser)
    assert not is_teaser(pool) and "huit mois de travaux" in pool.summary and "<b>" not in pool.summary
    assert pool.images == ({"src": BASE + "/img/piscine.jpg"},) and pool.categories == ("Sport",)


def test_json_feed():
    feed = parse_feed(fixture("feed.json"), BASE + "/feed.json", "application/feed+json")
    assert feed.kind == "json" and feed.title == "Harbour Weekly" and [i.key for i in feed.items] == ["hw-2026-048", "hw-2026-047"]
    light, fish = feed.items
    assert light.images == ({"src": BASE + "/img/lighthouse.jpg"},) and light.published == datetime(2026, 11, 29, 12, tzinfo=UTC)
    assert "symbolic euro" in light.content and fish.content.startswith("Fishing quotas")
    assert article_from_item(fish, feed).body.startswith("Fishing quotas")


@pytest.mark.parametrize("data, ctype, reason", [
    (fixture("error_page.html"), "application/rss+xml", "not a feed: the URL answered an HTML page ('502 Bad Gateway')"),
    (fixture("invalid.xml"), "application/rss+xml", "invalid XML"),
    (b"", "application/rss+xml", "the feed is empty"),
    (b'{"title": "x"}', "application/json", "JSON without a JSON Feed version"),
    (b"<?xml version='1.0'?><catalog><book/></catalog>", "application/xml", "no RSS, Atom or RDF root"),
])
def test_what_is_not_a_feed_gets_a_reason(data, ctype, reason):
    with pytest.raises(NotAFeed, match=reason.replace("(", r"\(").replace(")", r"\)")):
        parse_feed(data, BASE + "/feed", ctype)


def rss(items: str) -> bytes:
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title><language>en</language>{items}</channel></rss>'.encode()


def test_items_with_no_title_future_or_unreadable_dates_are_refused_with_a_reason():
    future = (NOW + timedelta(days=3)).strftime("%a, %d %b %Y %H:%M:%S +0000")
    feed = parse_feed(rss(
        "<item><guid>a</guid><description>No title here but a text long enough.</description></item>"
        f"<item><guid>b</guid><title>From the future</title><pubDate>{future}</pubDate><description>x</description></item>"
        "<item><guid>c</guid><title>Bad date</title><pubDate>the day after tomorrow</pubDate><description>x</description></item>"
        "<item><guid>d</guid><title>Fine</title><pubDate>Tue, 01 Dec 2026 09:00:00 +0000</pubDate><description>x</description></item>"
    ), BASE)
    reasons = [item_problem(i, NOW) for i in feed.items]
    assert reasons[0] == "the item has no title"
    assert reasons[1].startswith("the item is dated in the future")
    assert reasons[2] == "the item's date 'the day after tomorrow' cannot be read"
    assert reasons[3] is None


def test_a_feed_of_5000_items_is_cut_to_the_newest_n():
    items = "".join(f"<item><guid>g{n}</guid><title>Story {n}</title><pubDate>"
                    f"{(NOW - timedelta(minutes=n)).strftime('%a, %d %b %Y %H:%M:%S +0000')}</pubDate>"
                    f"<description>Text {n}</description></item>" for n in range(5000))
    feed = parse_feed(rss(items), BASE)
    assert len(feed.items) == 5000
    top = newest(list(reversed(feed.items)), 20)
    assert [i.key for i in top] == [f"g{n}" for n in range(20)]


def test_policy_reasons():
    item = FeedItem(key="k", title="T", link=None, summary="s", content="", images=(), published=NOW - timedelta(days=2),
                    date_text=None, categories=("Sport",))
    assert policy_problem(item, "en", Policy(exclude_categories=("sport",)), NOW) == "category 'sport' is excluded"
    assert policy_problem(item, "en", Policy(include_categories=("Politics",)), NOW).startswith("none of its categories")
    assert policy_problem(item, "fr-CA", Policy(languages=("en",)), NOW) == "language fr-CA is not one of en"
    assert policy_problem(item, "en", Policy(max_age=86400), NOW) == "older than 86400 s"
    assert policy_problem(item, "en", Policy(languages=("en",), max_age=7 * 86400), NOW) is None


def test_content_hash_changes_with_what_is_rendered_only():
    item = FeedItem(key="k", title="T", link="http://a/b", summary="s", content="c", images=({"src": "http://a/i.jpg"},),
                    published=NOW, date_text=None, categories=())
    same = FeedItem(**{**item.__dict__, "published": NOW - timedelta(hours=1), "categories": ("x",)})
    changed = FeedItem(**{**item.__dict__, "title": "T2"})
    assert item.content_hash == same.content_hash != changed.content_hash
    assert item.item_key == changed.item_key


def test_item_article_respects_limits():
    feed = parse_feed(fixture("feed.json"), BASE + "/feed.json")
    a = article_from_item(feed.items[0], feed, ArticleLimits(max_title_chars=20, max_text_chars=100, max_images=0))
    assert len(a.title) <= 20 and len(a.body or "") <= 100 and a.images == []
    assert json.loads(a.model_dump_json())["url"] == BASE + "/weekly/lighthouse"
