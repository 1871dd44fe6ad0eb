#!/usr/bin/env python3
"""gendump.py - write the benchmark wiki's content as a MediaWiki XML dump.

Usage: gendump.py PAGES SITENAME > dump.xml
       gendump.py --main-page PAGES SITENAME > main-page.wiki

The content is generated, not random: the same arguments give the same
pages, so two runs of bench/run on different days time the same wiki.
It has a handful of templates (one nested in another, one building a
table), PAGES ordinary articles that link to each other and use them,
a Main Page, and "Bench heavy": a long article with several hundred
template calls, tables and links, the page the article_heavy row times.
Revision timestamps are recent so rebuildrecentchanges.php lists them.
The Main Page is printed apart, for edit.php: an imported revision older
than the installer's would not become the page's current one.
"""
import sys
import time
from xml.sax.saxutils import escape

WORDS = ("server worker request process socket memory page template "
         "revision cache latency queue signal module parser article "
         "response header checkpoint snapshot pool static loopback "
         "benchmark throughput opcode interpreter session cookie").split()

TEMPLATES = {
    "Template:Infobox": """{| class="infobox" style="float:right; border:1px solid #aaa"
! colspan="2" | {{{name|{{PAGENAME}}}}}
|-
| Kind || {{{kind|article}}}
|-
| Number || {{formatnum:{{{number|0}}}}}
|-
| Related || [[{{{related|Main Page}}}]]
|}<noinclude>An infobox for the benchmark's articles.</noinclude>""",
    "Template:Cite": """<span class="bench-cite">[{{{n|?}}}: ''{{{title|untitled}}}'', {{{year|2024}}}]</span><noinclude>An inline citation.</noinclude>""",
    "Template:Navitem": """[[{{{1}}}|{{lc:{{{1}}}}}]] &middot; """,
    "Template:Nav": """<div class="bench-nav">{{Navitem|{{{a}}}}}{{Navitem|{{{b}}}}}{{Navitem|{{{c}}}}}[[Main Page]]</div>""",
    "Template:Row": """|-
| {{{1}}} || {{{2}}} || {{formatnum:{{{3}}}}} || {{Cite|n={{{1}}}|title={{{2}}}}}""",
    "Template:Box": """<div class="bench-box" id="bench-box-{{{id}}}">bench-box-{{{id}}}: {{{text}}}</div>""",
}


def words(seed, n):
    return " ".join(WORDS[(seed * 7 + i * 13) % len(WORDS)] for i in range(n))


def article(i, pages):
    a, b, c = (i + 1) % pages, (i + 17) % pages, (i + 101) % pages
    out = [
        "{{Infobox|name=Bench article %d|number=%d|related=Bench article %d}}"
        % (i, i * 1000 + 7, a),
        "'''Bench article %d''' is generated content about %s." % (i, words(i, 4)),
    ]
    for s in range(4):
        out.append("== Section %d ==" % s)
        out.append("%s. See [[Bench article %d]] and [[Bench article %d]]. "
                   "{{Cite|n=%d|title=%s}}" % (words(i + s, 60).capitalize(),
                                              b, c, s, words(s, 3)))
    out.append("{{Nav|a=Bench article %d|b=Bench article %d|c=Bench article %d}}"
               % (a, b, c))
    out.append("[[Category:Bench articles]]")
    return "\n\n".join(out)


def heavy(pages):
    out = ["{{Infobox|name=Bench heavy|kind=heavy|number=123456789}}",
           "'''Bench heavy''' is the large article of the benchmark: "
           "sections, tables and many template calls.", "__TOC__"]
    for s in range(120):
        out.append("== Heavy section %d ==" % s)
        out.append("{{Box|id=%d|text=%s}}" % (s, words(s, 8)))
        out.append("%s. [[Bench article %d]], [[Bench article %d]]. "
                   "{{Cite|n=%d|title=%s|year=%d}}"
                   % (words(s, 80).capitalize(), s % pages, (s * 3) % pages,
                      s, words(s + 1, 3), 2000 + s % 25))
        out.append('{| class="wikitable"\n! # !! name !! value !! source')
        out.append("\n".join("{{Row|%d|%s|%d}}" % (s * 10 + r, words(r, 2),
                                                    r * 12345)
                             for r in range(5)))
        out.append("|}")
        out.append("{{Nav|a=Bench article %d|b=Bench article %d|c=Bench article %d}}"
                   % (s % pages, (s + 1) % pages, (s + 2) % pages))
    out.append("bench-heavy-end")
    out.append("[[Category:Bench articles]]")
    return "\n\n".join(out)


def main_page(sitename, pages):
    links = " &middot; ".join("[[Bench article %d]]" % i for i in range(0, pages, 10))
    return ("'''Welcome to %s.''' This wiki is the benchmark's content.\n\n"
            "== Articles ==\n%s\n\n== Large ==\n[[Bench heavy]]\n\n"
            "{{Box|id=main|text=main page box}}" % (sitename, links))


def page_xml(title, ns, text, ts):
    return ("  <page>\n    <title>%s</title>\n    <ns>%d</ns>\n    <revision>\n"
            "      <timestamp>%s</timestamp>\n"
            "      <contributor><username>Admin</username></contributor>\n"
            "      <comment>bench content</comment>\n"
            "      <model>wikitext</model>\n      <format>text/x-wiki</format>\n"
            "      <text xml:space=\"preserve\">%s</text>\n    </revision>\n"
            "  </page>\n" % (escape(title), ns, ts, escape(text)))


def main():
    args = sys.argv[1:]
    main_only = args[:1] == ["--main-page"]
    if main_only:
        args = args[1:]
    if len(args) != 2:
        sys.stderr.write(__doc__)
        sys.exit(2)
    pages, sitename = int(args[0]), args[1]
    if main_only:
        sys.stdout.write(main_page(sitename, pages) + "\n")
        return
    now = int(time.time()) - 3600
    n = [0]

    def ts():
        n[0] += 1
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + n[0]))

    w = sys.stdout.write
    w('<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.11/" '
      'version="0.11" xml:lang="en">\n')
    for title, text in TEMPLATES.items():
        w(page_xml(title, 10, text, ts()))
    for i in range(pages):
        w(page_xml("Bench article %d" % i, 0, article(i, pages), ts()))
    w(page_xml("Bench heavy", 0, heavy(pages), ts()))
    w("</mediawiki>\n")


if __name__ == "__main__":
    main()
