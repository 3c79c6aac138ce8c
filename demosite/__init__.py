"""The bundled offline demo corpus: fictional outlets, feeds and pages served on 127.0.0.1."""

from demosite.site import DEMO_CASES, DEMO_TOPICS, DemoPage, demo_feeds, demo_page_url, demo_pages, demo_site

__all__ = ["DEMO_CASES", "DEMO_TOPICS", "DemoPage", "demo_feeds", "demo_page_url", "demo_pages", "demo_site"]
