#!/usr/bin/env python3
"""Opens HTML pages in headless Chromium as a person would see them and fails on what a
person would notice: a picture that does not show, a local link that leads nowhere, a
script error, a word broken inside a table cell, the same caption twice, a navigation bar
that scrolls away. Keeps a screenshot of each page.

    python3 check_pages.py --shots DIR [--base DIR] [--chromium PATH] [--width PX] PAGE.html...

Exit 0: every page clean; 1: a problem (each printed on its own line, naming the page);
2: bad arguments or Chromium could not be run; 77: Chromium not found (the caller skips).

How: each page is copied beside itself with a small script injected at the top of <head>
that records script errors, failed resource loads and console.error calls, and after the
load event lists every <img> that did not decode (naturalWidth 0), writing the record into
the DOM; `chromium --headless --dump-dom` prints that DOM. Links are checked from the
page's own HTML: every relative href/src must name an existing file, and a #fragment an
id (or a name) in the page it points to. Standard library only.
"""
import argparse
import html.parser
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.parse

PROBE = """<script>
(function () {
  var problems = [];
  window.addEventListener('error', function (e) {
    var t = e.target;
    if (t && t !== window && t.tagName) {
      problems.push('could not load ' + t.tagName.toLowerCase() + ' ' +
                    String(t.getAttribute('src') || t.getAttribute('href')).slice(0, 100));
    } else {
      problems.push('script error: ' + e.message + ' (' + e.filename + ':' + e.lineno + ')');
    }
  }, true);
  window.addEventListener('unhandledrejection', function (e) {
    problems.push('unhandled promise rejection: ' + e.reason);
  });
  var consoleError = console.error;
  console.error = function () {
    problems.push('console.error: ' + Array.prototype.join.call(arguments, ' '));
    consoleError.apply(console, arguments);
  };
  window.addEventListener('load', function () {
    var imgs = document.querySelectorAll('img');
    for (var i = 0; i < imgs.length; i++) {
      if (!imgs[i].complete || imgs[i].naturalWidth === 0)
        problems.push('picture not shown: ' + String(imgs[i].getAttribute('src')).slice(0, 100));
    }
    // Boxes whose content is wider than they are: a reader has to scroll sideways.
    var wide = [], boxes = document.querySelectorAll('div, pre, table, figure');
    for (var j = 0; j < boxes.length; j++)
      if (boxes[j].scrollWidth > boxes[j].clientWidth + 1 && getComputedStyle(boxes[j]).overflowX !== 'visible')
        wide.push(boxes[j].scrollWidth + ' px: ' + boxes[j].textContent.replace(/\s+/g, ' ').trim().slice(0, 60));
    // A word whose letters sit on two lines of a table cell ("quickstar t"). Words end at
    // spaces and after hyphens, where a break is ordinary typography.
    var cells = document.querySelectorAll('td, th');
    for (var c = 0, broken = 0; c < cells.length && broken < 5; c++) {
      var walker = document.createTreeWalker(cells[c], NodeFilter.SHOW_TEXT);
      for (var node = walker.nextNode(); node && broken < 5; node = walker.nextNode()) {
        var re = /[^\s-]+-?/g, m;
        while ((m = re.exec(node.data)) !== null && broken < 5) {
          var range = document.createRange();
          range.setStart(node, m.index);
          range.setEnd(node, m.index + m[0].length);
          var rects = range.getClientRects(), tops = {}, lines = 0;
          for (var q = 0; q < rects.length; q++) {
            var top = Math.round(rects[q].top);
            if (rects[q].width >= 1 && !(top in tops)) { tops[top] = true; lines++; }
          }
          if (lines > 1) {
            problems.push('word broken inside a table cell: "' + m[0].slice(0, 40) + '" on ' + lines + ' lines');
            broken++;
          }
        }
      }
    }
    // The same caption twice: a reader cannot tell the pictures apart by it.
    var seen = {}, captions = document.querySelectorAll('figcaption, p.hint');
    for (var k = 0; k < captions.length; k++) {
      var text = captions[k].textContent.replace(/\s+/g, ' ').trim();
      if (text.length < 12) continue;
      if (seen[text] === 1) problems.push('caption printed twice: "' + text.slice(0, 80) + '"');
      seen[text] = (seen[text] || 0) + 1;
    }
    // The navigation on screen halfway down a page several screens long.
    var nav = document.querySelector('nav'), navState = 'no nav';
    var room = document.documentElement.scrollHeight - window.innerHeight;
    if (nav && room < window.innerHeight) {
      navState = 'page too short to scroll';
    } else if (nav) {
      window.scrollTo(0, Math.round(room / 2));
      var b = nav.getBoundingClientRect();
      navState = b.bottom > 0 && b.top < window.innerHeight ? 'nav on screen after scrolling' : 'nav off screen';
      if (navState === 'nav off screen')
        problems.push('the navigation bar is off screen after scrolling ' + Math.round(room / 2) + ' px down');
      window.scrollTo(0, 0);
    }
    var out = document.createElement('pre');
    out.id = '__browser_check__';
    out.textContent = JSON.stringify({problems: problems, images: imgs.length,
      scroll_width: document.documentElement.scrollWidth,
      client_width: document.documentElement.clientWidth, sideways: wide, nav: navState,
      height: document.documentElement.scrollHeight});
    document.body.appendChild(out);
  });
})();
</script>"""


class Refs(html.parser.HTMLParser):
    """Every href/src and every id/name of one page."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.refs = []      # (tag, attribute, value)
        self.anchors = set()

    def handle_starttag(self, tag, attrs):
        for key, value in attrs:
            if value is None:
                continue
            if key in ("href", "src"):
                self.refs.append((tag, key, value))
            elif key == "id" or (tag == "a" and key == "name"):
                self.anchors.add(value)


def parse(path):
    p = Refs()
    with open(path, encoding="utf-8", errors="replace") as f:
        p.feed(f.read())
    return p


def broken_links(page):
    """Problems with the page's local links: missing files, fragments with no target."""
    problems = []
    here = parse(page)
    anchors_of = {os.path.realpath(page): here.anchors}
    for tag, key, value in here.refs:
        url = urllib.parse.urlsplit(value)
        if url.scheme in ("data", "http", "https", "mailto", "javascript"):
            continue
        if url.scheme not in ("", "file") or url.netloc:
            continue
        path = urllib.parse.unquote(url.path)
        target = page if not path else (path if os.path.isabs(path) else
                                        os.path.join(os.path.dirname(page), path))
        target = os.path.realpath(target)
        if not os.path.exists(target):
            problems.append(f"broken link: <{tag} {key}=\"{value}\">: {target} does not exist")
            continue
        if url.fragment and target.endswith((".html", ".htm")):
            if target not in anchors_of:
                anchors_of[target] = parse(target).anchors
            if urllib.parse.unquote(url.fragment) not in anchors_of[target]:
                problems.append(f"broken link: <{tag} {key}=\"{value}\">: no id \"{url.fragment}\" "
                                f"in {os.path.basename(target)}")
    return problems


def chromium(binary, profile, args, timeout=180):
    cmd = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
           "--disable-dev-shm-usage", "--hide-scrollbars", f"--user-data-dir={profile}"] + args
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def check_page(binary, page, base, shots, profile, width):
    problems = broken_links(page)
    with open(page, encoding="utf-8", errors="replace") as f:
        text = f.read()
    m = re.search(r"<head[^>]*>", text, re.IGNORECASE)
    probed = text[:m.end()] + PROBE + text[m.end():] if m else PROBE + text
    # Beside the page, so that its relative links resolve as they do for the page itself.
    fd, copy = tempfile.mkstemp(prefix=".browser-check-", suffix=".html", dir=os.path.dirname(page))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(probed)
        r = chromium(binary, profile, ["--enable-logging=stderr", "--v=0", "--virtual-time-budget=5000",
                                       f"--window-size={width},1000", "--dump-dom",
                                       "file://" + urllib.parse.quote(copy)])
    finally:
        os.remove(copy)
    m = re.search(r'<pre id="__browser_check__">(.*?)</pre>', r.stdout, re.DOTALL)
    if not m:
        tail = "\n".join(r.stderr.strip().splitlines()[-5:])
        problems.append(f"the page never finished loading in Chromium (exit {r.returncode}): {tail}")
        record = {}
    else:
        record = json.loads(html.unescape(m.group(1)))
        problems += record["problems"]
    for line in r.stderr.splitlines():
        # Chromium's own log of the page's console: uncaught exceptions land here too.
        if "CONSOLE" in line and ("Uncaught" in line or "Error" in line):
            quoted = re.search(r'"(.*)"', line)
            message = quoted.group(1) if quoted else line
            if not any(message in p for p in problems):
                problems.append("console: " + line.strip())
    shot = os.path.join(shots, os.path.splitext(os.path.relpath(page, base))[0].replace(os.sep, "-") + ".png")
    s = chromium(binary, profile, ["--virtual-time-budget=5000", f"--window-size={width},2400",
                                   f"--screenshot={shot}", "file://" + urllib.parse.quote(os.path.realpath(page))])
    if s.returncode != 0 or not os.path.exists(shot):
        problems.append(f"no screenshot (exit {s.returncode})")
    return problems, record, shot


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shots", required=True, help="folder for the screenshots")
    ap.add_argument("--chromium", default=None, help="the browser (default: chromium on PATH)")
    ap.add_argument("--base", default=".", help="screenshots are named by the page's path from here")
    ap.add_argument("--width", type=int, default=1366, help="window width in pixels")
    ap.add_argument("pages", nargs="+")
    a = ap.parse_args()
    binary = a.chromium or shutil.which("chromium") or shutil.which("chromium-browser")
    if not binary:
        print("chromium not found (tools/install-deps.sh --test installs it)")
        return 77
    os.makedirs(a.shots, exist_ok=True)
    failed = False
    with tempfile.TemporaryDirectory(prefix="deconvscope-chromium-") as profile:
        for page in a.pages:
            if not os.path.isfile(page):
                print(f"{page}: no such page")
                failed = True
                continue
            try:
                problems, record, shot = check_page(binary, os.path.abspath(page), a.base, a.shots, profile, a.width)
            except (OSError, subprocess.TimeoutExpired) as e:
                print(f"{page}: could not run {binary}: {e}")
                return 2
            for p in problems:
                print(f"{page}: {p}")
            failed |= bool(problems)
            notes = []
            if record.get("scroll_width", 0) > record.get("client_width", 1 << 30):
                notes.append(f"the page is {record['scroll_width']} px wide in a {record['client_width']} px window")
            for box in record.get("sideways", []):
                notes.append(f"scrolls sideways in a {a.width} px window: {box}")
            print(f"{page}: {'FAIL' if problems else 'ok'}, {record.get('images', '?')} pictures, "
                  f"{record.get('height', '?')} px tall, {record.get('nav', '?')}, "
                  f"screenshot {shot}" + "".join("; note: " + n for n in notes))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
