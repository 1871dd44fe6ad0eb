#!/usr/bin/env python3
"""check.py - make sure a stack answers every workload right before it is timed.

Usage: check.py HOST:PORT WORKLOADS.tsv STATIC_FILE SITENAME HELLO_BODY

Fetches each workload's URL once (with its request header, if the line
has one) and prints one line per workload: "NAME<TAB>ok" or
"NAME<TAB>FAIL: why", then on stderr the size and coding of each answer
that came compressed.  A compressed answer is decoded (gzip by Python,
br by the brotli command) and checked as the workload without "_gz".  A fast wrong answer (an error
page, a 503 from an empty pool, a truncated body) must not be timed, so
bench/run times only the rows that print ok.
"""
import gzip
import http.client
import json
import subprocess
import sys


def fetch(hostport, path, header):
    host, port = hostport.rsplit(":", 1)
    headers = {"Accept-Encoding": "identity"}
    if header:
        k, _, v = header.partition(":")
        headers[k.strip()] = v.strip()
    conn = http.client.HTTPConnection(host, int(port), timeout=60)
    try:
        conn.request("GET", path, headers=headers)
        resp = conn.getresponse()
        return (resp.status, resp.getheader("Content-Type") or "",
                resp.getheader("Content-Encoding") or "", resp.read())
    finally:
        conn.close()


def decode(coding, body):
    """The body without its Content-Encoding (ValueError if it fails)."""
    if coding == "gzip":
        try:
            return gzip.decompress(body)
        except OSError as e:
            raise ValueError("not gzip: %s" % e)
    if coding == "br":
        p = subprocess.run(["brotli", "-d", "-c"], input=body,
                           capture_output=True)
        if p.returncode != 0:
            raise ValueError("not brotli: %s" % p.stderr.decode().strip())
        return p.stdout
    if coding:
        raise ValueError("unknown Content-Encoding %r" % coding)
    return body


def check_body(name, ctype, body, static_bytes, sitename, hello):
    """None if body is what workload name must answer, else the reason."""
    text = body.decode("utf-8", "replace")
    if name == "main_page":
        # MediaWiki titles its main page with the site name alone.
        if "<title>%s</title>" % sitename not in text:
            return "no <title>%s</title>" % sitename
        if "Welcome to %s." % sitename not in text:
            return "the Main Page's content is missing"
    elif name == "article_heavy":
        if "<title>Bench heavy - %s</title>" % sitename not in text:
            return "no <title>Bench heavy - %s</title>" % sitename
        for marker in ("bench-box-119: ", "bench-heavy-end", 'class="wikitable"'):
            if marker not in text:
                return "the rendered article lacks %r" % marker
    elif name == "api_allmessages":
        # The big answer (~1 MB): what a slow client would read for long.
        try:
            data = json.loads(text)
        except ValueError as e:
            return "not JSON: %s" % e
        msgs = data.get("query", {}).get("allmessages", [])
        if len(msgs) < 1000 or len(body) < 500000:
            return "%d messages in %d bytes, not the whole list" % (
                len(msgs), len(body))
    elif name in ("api_siteinfo", "api_recentchanges"):
        try:
            data = json.loads(text)
        except ValueError as e:
            return "not JSON: %s" % e
        if "error" in data:
            return "API error: %s" % data["error"]
        q = data.get("query", {})
        if name == "api_siteinfo":
            got = q.get("general", {}).get("sitename")
            if got != sitename:
                return "query.general.sitename is %r, not %r" % (got, sitename)
        else:
            rc = q.get("recentchanges", [])
            if len(rc) != 50:
                return "%d recent changes, not 50" % len(rc)
    elif name == "load_startup":
        if "javascript" not in ctype:
            return "Content-Type is %r, not JavaScript" % ctype
        if "mw.loader" not in text or len(body) < 10000:
            return "not the startup module (%d bytes)" % len(body)
        if "/*" in text[:200] and "exception" in text[:500].lower():
            return "ResourceLoader reported an exception"
    elif name == "static_file":
        if body != static_bytes:
            return "%d bytes that differ from the file on disk (%d bytes)" % (
                len(body), len(static_bytes))
    elif name == "static_asset":
        # MediaWiki's own file, two directories and a link down
        if "image/png" not in ctype or not body.startswith(b"\x89PNG\r\n"):
            return "Content-Type %r, %d bytes: not MediaWiki's PNG" % (
                ctype, len(body))
    elif name == "hello_php":
        if body != hello:
            return "body %r, not %r" % (body[:80], hello)
    elif name == "bootstrap_only":
        want = ("bootstrapped: %s\n" % sitename).encode()
        if body != want:
            return "body %r, not %r" % (body[:80], want)
    else:
        return "no check for this workload"
    return None


def main():
    if len(sys.argv) != 6:
        sys.stderr.write(__doc__)
        sys.exit(2)
    hostport, wl_file, static_file, sitename, hello = sys.argv[1:]
    with open(static_file, "rb") as f:
        static_bytes = f.read()
    hello = hello.encode() + b"\n"
    for line in open(wl_file):
        if not line.strip() or line.startswith("#"):
            continue
        name, path, header = (line.rstrip("\n").split("\t") + [""])[:3]
        try:
            status, ctype, coding, body = fetch(hostport, path, header)
        except (OSError, http.client.HTTPException) as e:
            print("%s\tFAIL: %s" % (name, e))
            continue
        if coding:
            sys.stderr.write("%s\t%d bytes %s\n" % (name, len(body), coding))
            try:
                body = decode(coding, body)
            except ValueError as e:
                print("%s\tFAIL: %s" % (name, e))
                continue
        elif header:
            sys.stderr.write("%s\t%d bytes identity\n" % (name, len(body)))
        if status != 200:
            print("%s\tFAIL: HTTP %d (%s)" % (name, status, " ".join(
                body[:200].decode("utf-8", "replace").split())[:80]))
            continue
        base = name[:-3] if name.endswith("_gz") else name
        why = check_body(base, ctype, body, static_bytes, sitename, hello)
        why = None if why is None else " ".join(why.split())
        print("%s\t%s" % (name, "ok" if why is None else "FAIL: " + why))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
