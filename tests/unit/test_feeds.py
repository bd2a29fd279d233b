"""Feed bytes → entries: exact image URLs per fixture, stable keys, and entity/XXE documents refused early."""

import calendar
import io
import time
from pathlib import Path
from xml.sax.saxutils import escape

import feedparser
import pytest

from errors import FeedInvalid
from services.downloads import feeds, xmlguard
from services.downloads.feeds import FeedEntry, is_excluded, parse_feed

FIXTURES = Path(__file__).resolve().parents[1] / "support" / "feeds"
IMG = "https://img.example.test"


def parse(name: str, content_type: str | None = "application/rss+xml"):
    return parse_feed((FIXTURES / name).read_bytes(), f"https://feeds.example.test/f/{name}", content_type)


def rss(items: str, extra_ns: str = "") -> bytes:
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0" {extra_ns}><channel><title>T</title>'
            f"<link>https://site.example.test/</link>{items}</channel></rss>").encode()


def images_of_html(html: str) -> tuple[str, ...]:
    item = f"<item><title>x</title><link>https://site.example.test/a/post</link><description>{escape(html)}</description></item>"
    return parse_feed(rss(item), "https://site.example.test/feed.xml").entries[0].image_urls


@pytest.fixture
def parser_spy(monkeypatch):
    """Records every document handed to feedparser."""
    seen: list[bytes] = []
    real = feedparser.parse

    def spy(source, *args, **kwargs):
        data = source.read()
        seen.append(data)
        return real(io.BytesIO(data), *args, **kwargs)

    monkeypatch.setattr(feeds.feedparser, "parse", spy)
    return seen


def test_rss2_enclosures():
    feed = parse("rss2_enclosures.xml")
    assert (feed.title, feed.link) == ("Enclosure Photos", "https://photos.example.test/")
    assert [e.image_urls for e in feed.entries] == [
        (f"{IMG}/sunrise.jpg",),
        ("https://photos.example.test/posts/harbour/images/harbour.png",),  # relative: against the entry link
        ("https://photos.example.test/media/night.webp",),  # no type: judged by extension; the .pdf is not
    ]
    assert [e.key for e in feed.entries] == ["sunrise-2024", "https://photos.example.test/posts/harbour/",
                                             "night-2024"]
    assert [e.published for e in feed.entries] == [calendar.timegm((2024, 1, 1, 6, 30, 0)),
                                                   calendar.timegm((2024, 1, 2, 11, 0, 0)), None]
    first = feed.entries[0]
    assert first == FeedEntry("sunrise-2024", "Sunrise over the bay", "https://photos.example.test/posts/sunrise",
                              1704090600.0, "Sunrise over the bay Early light over the water.",
                              (f"{IMG}/sunrise.jpg",))


def test_atom_media_content_widest_first_and_thumbnail_only_as_last_resort():
    feed = parse("atom_media.xml", "application/atom+xml")
    assert (feed.title, feed.link) == ("Atom Media Gallery", "https://atom.example.test/")
    mountains, lake = feed.entries
    assert mountains.image_urls == (f"{IMG}/mountains-large.jpg", f"{IMG}/mountains-small.jpg",
                                    "https://atom.example.test/entries/media/mountains-map.png")
    assert lake.image_urls == ("https://atom.example.test/entries/thumbs/lake.jpg",)
    assert mountains.title == "Mountains at dawn"  # type="html": markup removed
    assert mountains.key == "tag:atom.example.test,2024:mountains"
    assert mountains.published == calendar.timegm((2024, 3, 1, 8, 0, 0))
    assert lake.published == calendar.timegm((2024, 3, 2, 9, 0, 0))  # no <published>: <updated>


def test_rss1_rdf():
    feed = parse("rss1_rdf.xml", "application/rdf+xml")
    assert feed.title == "RDF Photo Log"
    assert [(e.key, e.title, e.image_urls) for e in feed.entries] == [
        ("https://rdf.example.test/log/1", "Forest path", ("https://rdf.example.test/pictures/forest.jpg",)),
        ("https://rdf.example.test/log/2", "Old bridge", (f"{IMG}/bridge.jpg",)),
    ]
    assert feed.entries[0].published == calendar.timegm((2024, 2, 10, 8, 15, 0))
    assert feed.entries[1].text == "Old bridge Stone arches."


def test_rss091_with_the_netscape_doctype():
    feed = parse("rss091.xml", "text/xml")
    assert (feed.title, feed.link) == ("Café Snapshots", "https://old.example.test/")
    assert [(e.key, e.image_urls) for e in feed.entries] == [
        ("https://old.example.test/snaps/espresso.html", ("https://old.example.test/snaps/espresso.jpg",)),
        ("https://old.example.test/snaps/croissant.html", ()),
    ]


def test_rss092_without_doctype():
    body = (b'<?xml version="1.0"?><rss version="0.92"><channel><title>Old</title><link>https://o.example.test/</link>'
            b'<item><description>&lt;img src="/a.jpg"&gt;</description>'
            b'<enclosure url="https://o.example.test/b.gif" type="image/gif" length="1"/></item></channel></rss>')
    entry = parse_feed(body, "https://o.example.test/rss.xml").entries[0]
    assert entry.image_urls == ("https://o.example.test/b.gif", "https://o.example.test/a.jpg")
    assert entry.key.startswith("sha1:") and len(entry.key) == 45  # no guid, no link


def test_lazy_html_images():
    lazy, fallback = parse("html_lazy.xml").entries
    base = "https://blog.example.test/2024/lazy-post"
    assert lazy.image_urls == (
        f"{IMG}/lazy-1.jpg",  # data-lazy-src beats the data: placeholder
        f"{base}/photos/lazy-2.jpg",  # data-src beats src, relative to the entry link
        f"{IMG}/plain-3.jpg",
        f"{IMG}/photo-4-1600.jpg",  # the widest srcset candidate
        f"{base}/photo-5@2x.jpg",  # data-srcset, highest density
        f"{base}/relative/plain-6.png",  # whitespace stripped; data: and javascript: dropped, duplicates too
        f"{base}/teaser.jpg",  # the summary comes after the content
    )
    assert "evil" not in " ".join(lazy.image_urls)  # text inside <script> is not HTML
    assert fallback.link is None
    assert fallback.image_urls == ("https://feeds.example.test/f/fallback.jpg",)  # against the feed URL
    assert lazy.text == "Lazy post Intro text with a Keyword. A teaser"


@pytest.mark.parametrize(("html", "expected"), [
    ('<img src="a.jpg" srcset="s.jpg 300w, l.jpg 1200w, m.jpg 800w">', "l.jpg"),
    ('<img srcset="one.jpg, two.jpg 2x, three.jpg 1.5x">', "two.jpg"),
    ('<img srcset="d.jpg 2x, w.jpg 100w">', "w.jpg"),  # width descriptors win over densities
    ('<img srcset="a,b.jpg 100w, c.jpg 50w">', "a,b.jpg"),  # a comma inside a URL
    ('<img srcset="data:image/png;base64,AAAA 2000w" src="real.jpg">', "real.jpg"),
    ('<img srcset="x.jpg 10w" data-srcset="y.jpg 5w">', "y.jpg"),  # the lazy srcset is the real one
    ('<img data-lazy-src="l.jpg" data-src="d.jpg" src="s.jpg">', "l.jpg"),
    ('<IMG SRC="upper.jpg">', "upper.jpg"),
    ('<img src="https://other.example.test/x.jpg?w=1&amp;h=2">', "https://other.example.test/x.jpg?w=1&h=2"),
    ('<![foo[ bad ]]><img src="after.jpg">', None),  # html.parser gives up on this section: no crash
])
def test_img_url_choice(html, expected):
    urls = images_of_html(html)
    if expected is None:
        assert urls == ()
    else:
        resolved = expected if expected.startswith("https://") else f"https://site.example.test/a/{expected}"
        assert urls == (resolved,)


def test_only_http_urls_and_at_most_100_per_entry():
    html = "".join(f'<img src="/p/{n}.jpg">' for n in range(150))
    html += '<img src="ftp://x.example.test/a.jpg"><img src="file:///etc/passwd"><img src="//cdn.example.test/c.jpg">'
    urls = images_of_html(html)
    assert len(urls) == feeds.MAX_IMAGES_PER_ENTRY == 100
    assert urls[0] == "https://site.example.test/p/0.jpg" and urls[-1] == "https://site.example.test/p/99.jpg"
    assert images_of_html('<img src="//cdn.example.test/c.jpg"><img src="ftp://x/a.jpg">') == (
        "https://cdn.example.test/c.jpg",)


def test_duplicates():
    feed = parse("duplicates.xml")
    keys = [e.key for e in feed.entries]
    assert keys[:2] == ["dup-1", "dup-2"] and keys[2].startswith("sha1:")  # repeats keep their first entry
    assert len(keys) == 3 == len(set(keys))
    assert [e.title for e in feed.entries] == ["First", "Second", "Anonymous"]
    assert [e.image_urls for e in feed.entries] == [
        (f"{IMG}/shared.jpg",),
        (f"{IMG}/shared.jpg", "https://dup.example.test/p/2/own.jpg"),  # once per entry, kept in both entries
        (f"{IMG}/anon.jpg",),
    ]


@pytest.mark.parametrize("name", ["rss2_enclosures.xml", "atom_media.xml", "rss1_rdf.xml", "rss091.xml",
                                  "html_lazy.xml", "duplicates.xml"])
def test_keys_are_stable_unique_and_short(name):
    first, second = parse(name), parse(name)
    keys = [e.key for e in first.entries]
    assert keys == [e.key for e in second.entries]
    assert len(keys) == len(set(keys)) and all(0 < len(k) <= feeds.MAX_KEY_CHARS for k in keys)


def test_guid_keys():
    body = rss('<item><title>a</title><guid isPermaLink="false">123</guid></item>'
               "<item><title>b</title><guid>456</guid></item>")  # isPermaLink defaults to true: a URL
    entries = parse_feed(body, "https://a.example.test/feeds/main.xml").entries
    assert [e.key for e in entries] == ["123", "https://a.example.test/feeds/456"]
    assert [e.link for e in entries] == [None, "https://a.example.test/feeds/456"]


def test_atom_xml_base_is_honoured():
    body = (b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom" xml:base="/blog/"><title>B</title>'
            b'<entry xml:base="2024/"><title>e</title><id>urn:e</id><link href="post.html"/>'
            b'<content type="html">&lt;img src="pic.jpg"&gt;</content></entry></feed>')
    entry = parse_feed(body, "https://base.example.test/feeds/atom.xml", "application/atom+xml").entries[0]
    assert entry.link == "https://base.example.test/blog/2024/post.html"
    assert entry.image_urls == ("https://base.example.test/blog/2024/pic.jpg",)  # against the entry link


def test_long_ids_are_hashed():
    guid = "urn:x:" + "a" * 500
    entry = parse_feed(rss(f'<item><title>t</title><guid isPermaLink="false">{guid}</guid></item>'),
                       "https://site.example.test/f").entries[0]
    assert entry.key.startswith("sha1:") and len(entry.key) == 45
    again = parse_feed(rss(f'<item><title>other</title><guid isPermaLink="false">{guid}</guid></item>'),
                       "https://site.example.test/f").entries[0]
    assert again.key == entry.key


def test_exclusion_keywords():
    entry = FeedEntry("k", "Straße in Berlin", None, None, "Straße in Berlin Sponsored post about cars", ())
    assert is_excluded(entry, ["STRASSE"])  # casefold, not lower
    assert is_excluded(entry, ["  sponsored "])
    assert not is_excluded(entry, ["munich", "", "   "])
    assert not is_excluded(entry, [])
    lazy = parse("html_lazy.xml").entries[0]
    assert is_excluded(lazy, ["keyword"]) and not is_excluded(lazy, ["placeholder"])  # text, not attributes


@pytest.mark.parametrize("name", ["billion_laughs.xml", "quadratic_blowup.xml", "xxe.xml"])
def test_entity_documents_are_refused_quickly(name, parser_spy):
    started = time.perf_counter()
    with pytest.raises(FeedInvalid) as caught:
        parse(name)
    assert time.perf_counter() - started < 0.5
    assert "entities" in caught.value.message
    assert parser_spy == []  # feedparser never saw the document
    assert "root:" not in repr(caught.value.__dict__) and caught.value.__cause__ is None


@pytest.mark.parametrize("body", [
    b'<?xml version="1.0"?><!DOCTYPE rss SYSTEM "http://evil.example.test/rss.dtd"><rss version="2.0"/>',
    b'<!DOCTYPE rss PUBLIC "-//Evil//DTD X//EN" "file:///etc/passwd"><rss version="2.0"/>',
    b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]><rss version="2.0"/>',
    b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY e SYSTEM "https://evil.example.test/x">]><rss>&e;</rss>',
    # not well-formed before the DTD: the whole document is searched instead
    b'junk <!DOCTYPE rss [\n<!ENTITY a "aaaa">\n]><rss version="2.0"><channel><title>&a;</title></channel></rss>',
    # a root name feedparser's `<\w` does not see: its idea of the prolog runs past the root
    '<?xml version="1.0"?><éroot/>\n<!DOCTYPE rss [\n<!ENTITY a "x">\n]><rss>&a;</rss>'.encode(),
    (FIXTURES / "quadratic_blowup.xml").read_text().replace('<?xml version="1.0"?>',
                                                            '<?xml version="1.0" encoding="utf-16"?>').encode("utf-16"),
])
def test_external_dtds_and_disguised_entities_are_refused(body, parser_spy):
    with pytest.raises(FeedInvalid, match="entities"):
        parse_feed(body, "https://evil.example.test/feed")
    assert parser_spy == []


def test_the_guard_reads_the_encoding_feedparser_will_use(parser_spy):
    # An HTTP charset makes feedparser read UTF-16 where a byte-level check would see "<rss >" first.
    dtd = '<!DOCTYPE rss [\n<!ENTITY a "' + "x" * 50_000 + '">\n]>'
    document = dtd + "<rss version='2.0'><channel><title>" + "&a;" * 3000 + "</title></channel></rss>"
    hidden = document.encode("utf-16-le")
    with pytest.raises(FeedInvalid, match="entities"):
        parse_feed(b"<rss >" + hidden, "https://evil.example.test/feed", "application/xml; charset=utf-16le")
    assert parser_spy == []


def test_entity_text_inside_cdata_is_fine():
    body = rss('<item><title>XXE explained</title><description><![CDATA[<!DOCTYPE x [<!ENTITY a SYSTEM "f">]>'
               "]]></description></item>")
    assert parse_feed(body, "https://site.example.test/f").entries[0].title == "XXE explained"


@pytest.mark.parametrize("body", [
    (FIXTURES / "not_a_feed.html").read_bytes(), b"", b"   \n", b"\x00\x01\x02garbage\xff", b"{\"json\": true}",
    b"Just some text.",
])
def test_documents_that_are_not_feeds(body):
    with pytest.raises(FeedInvalid):
        parse_feed(body, "https://site.example.test/page", "text/html")


def test_bozo_feed_with_entries_is_accepted():
    body = rss("<item><title>Caf&eacute; &amp; bar&nbsp;</title><link>/p/1</link></item>")  # undefined entities
    entry = parse_feed(body, "https://site.example.test/feeds/main.xml", "text/html").entries[0]
    assert entry.title == "Café & bar" and entry.link == "https://site.example.test/p/1"


def test_utf16_and_latin1_feeds():
    text = (FIXTURES / "rss2_enclosures.xml").read_text()
    utf16 = text.replace("UTF-8", "utf-16").encode("utf-16")
    assert len(parse_feed(utf16, "https://photos.example.test/rss").entries) == 3
    latin = rss("<item><title>Gr\xfc\xdfe</title><guid>g</guid></item>").replace(b"utf-8", b"iso-8859-1")
    latin = latin.decode().encode("latin-1")
    assert parse_feed(latin, "https://site.example.test/f").entries[0].title == "Grüße"


def test_bytes_are_never_treated_as_a_path_or_url(tmp_path, monkeypatch):
    fetched: list[object] = []
    monkeypatch.setattr(feedparser.http, "get", lambda *args, **kwargs: fetched.append(args) or b"")
    local = tmp_path / "feed.xml"
    local.write_bytes(rss("<item><title>from disk</title></item>"))
    for body in (str(local).encode(), b"https://feeds.example.test/remote.xml", b"/etc/passwd"):
        with pytest.raises(FeedInvalid) as caught:
            parse_feed(body, "https://site.example.test/f")
        assert "root:" not in caught.value.message
    assert fetched == []


def test_links_that_are_not_http_are_dropped():
    body = rss('<item><title>t</title><link>javascript:alert(1)</link><guid isPermaLink="false">g</guid></item>')
    feed = parse_feed(body, "https://site.example.test/f")
    assert feed.entries[0].link is None and feed.link == "https://site.example.test/"


BIG_FEED_ITEMS = 10_000


def big_feed(count: int) -> bytes:
    items = "".join(f'<item><title>Photo {n}</title><guid isPermaLink="false">{n}</guid>'
                    f'<enclosure url="/i/{n}.jpg" type="image/jpeg"/></item>\n' for n in range(count))
    return rss(items)


def test_a_big_feed_is_read_whole():
    """Every entry, in order, with its enclosure resolved. 100,000 entries go through the whole run (fetch, parse,
    store) in tests/security/test_feeds.py; parsing them here again cost the suite 90 s of CPU."""
    body = big_feed(BIG_FEED_ITEMS)
    started = time.perf_counter()
    xmlguard.refuse_entities(body)
    guarded = time.perf_counter()
    feed = parse_feed(body, "https://big.example.test/rss.xml")
    done = time.perf_counter()
    print(f"\n{len(body) / 1e6:.1f} MB, {BIG_FEED_ITEMS:,} items: guard {(guarded - started) * 1000:.1f} ms, "
          f"parse_feed {done - guarded:.1f} s")
    last = BIG_FEED_ITEMS - 1
    assert len(feed.entries) == BIG_FEED_ITEMS
    assert feed.entries[0].key == "0" and feed.entries[-1].key == str(last)
    assert feed.entries[-1].image_urls == (f"https://big.example.test/i/{last}.jpg",)


def test_the_guard_does_not_grow_with_the_feed():
    body = big_feed(20_000)
    started = time.perf_counter()
    xmlguard.refuse_entities(body)
    assert time.perf_counter() - started < 0.1
