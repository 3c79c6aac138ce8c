"""Cost of text cleaning per character, 10k to 1M characters, and of a 5 MB pathological page end to end.

Usage: ``.venv/bin/python bench/clean.py [--sizes 10000,100000,1000000] [--page-mb 5]``

For each input shape (normal prose; one long word; long runs of punctuation; long runs of whitespace; many
short lines; lines of digits; e-mail-like runs) it times ``transform.clean.cleaned_text`` (CPU time, best
of three) at every size and prints microseconds per character and the ratio of the per-character cost at
each size to the cost at the smallest size, measured in the same run. A linear cleaner keeps that ratio
near 1 (below ~2 allows for cache effects); a quadratic rule shows as a ratio near size/10k.

Then it builds 5 MB pages of the same pathological shapes (plus deeply nested markup and a page whose
text sits just under ``MAX_PAGE_TEXT_CHARS``) and runs what a worker runs on a fetched page,
``decoded_html`` then ``extracted_page``, printing the CPU seconds each costs and how it ended (the typed
``ItemError`` reason, or the length of the text kept).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from extract.html import MAX_PAGE_TEXT_CHARS, decoded_html, page_content  # noqa: E402
from newswatch.errors import ItemError  # noqa: E402
from newswatch.models import PageReading  # noqa: E402
from transform.articles import needs_date_search, page_reading  # noqa: E402
from transform.clean import cleaned_text  # noqa: E402

PROSE = ("The minister said on Tuesday that the budget, delayed twice since March, would reach parliament "
         "next week. Critics called it \"a missed chance\" for schools and hospitals.\n")


def _repeat(unit: str) -> Callable[[int], str]:
    return lambda n: (unit * (n // len(unit) + 1))[:n]


SHAPES: dict[str, Callable[[int], str]] = {
    "prose": lambda n: "".join(f"{i} {PROSE}" for i in range(n // len(PROSE) + 1))[:n],
    "one long word": _repeat("a"),
    "capitalised word": lambda n: "By " + "A" * (n - 3),
    "punctuation run": _repeat("!?.-"),
    "dots": _repeat("."),
    "whitespace run": lambda n: "a" + " \t\u00a0" * (n // 3) + "b",
    "short lines": _repeat("Share this:\n"),
    "digits": _repeat("1"),
    "e-mail-like": _repeat("a@b."),
}


def cpu_seconds(fn: Callable[[], object], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        fn()
        best = min(best, time.process_time() - started)
    return best


def extracted_page(html: str, url: str) -> PageReading:
    """What a worker makes of one fetched page: extraction (``extract``), then interpretation (``transform``)."""
    return page_reading(page_content(html, url, date_search=needs_date_search))


def page_outcome(html_bytes: bytes) -> tuple[float, str]:
    started = time.process_time()
    try:
        page = extracted_page(decoded_html(html_bytes, "text/html"), "http://example.com/2026/11/19/a")
        outcome = f"text of {len(page.text)} characters"
    except ItemError as exc:
        outcome = f"ItemError {exc.reason}"
    return time.process_time() - started, outcome


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--page-mb", type=float, default=5.0)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"load average {os.getloadavg()[0]:.2f}; cleaned_text, CPU time, best of 3")
    print(f"{'shape':<18}" + "".join(f"{f'{s:,} µs/ch':>16}" for s in sizes) + f"  ratio {sizes[-1]:,}/{sizes[0]:,}")
    for name, make in SHAPES.items():
        per_char = []
        for size in sizes:
            text = make(size)
            per_char.append(cpu_seconds(lambda text=text: cleaned_text(text)) / size * 1e6)
        print(f"{name:<18}" + "".join(f"{p:>16.3f}" for p in per_char) + f"{per_char[-1] / max(per_char[0], 1e-9):>22.2f}")

    n = int(args.page_mb * 1_000_000)
    head, tail = "<html><head><title>t</title></head><body><article>", "</article></body></html>"
    pages = {
        "one long word": head + "<p>" + "a" * n + "</p>" + tail,
        "punctuation run": head + "<p>" + _repeat("!?.-")(n) + "</p>" + tail,
        "whitespace run": head + "<p>a" + " " * n + "b</p>" + tail,
        "short lines": head + "<p>Hello world line.</p>\n" * (n // 25) + tail,
        "nested markup": head + "<div>" * (n // 11) + "x" + "</div>" * (n // 11) + tail,
        "prose": head + "".join(f"<p>{i} {PROSE}</p>" for i in range(n // (len(PROSE) + 12))) + tail,
        "text under cap": head + "<p>Hello world line number.</p>\n" * (int(MAX_PAGE_TEXT_CHARS * 0.95) // 25) + tail,
    }
    print(f"\n{args.page_mb:g} MB pages through decoded_html + extracted_page (CPU seconds)")
    for name, html in pages.items():
        body = html.encode()
        seconds, outcome = page_outcome(body)
        print(f"{name:<18}{len(body) / 1e6:>7.2f} MB {seconds:>8.2f} s  {outcome}")


if __name__ == "__main__":
    main()
