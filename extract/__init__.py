"""Feed polling, HTTP fetching and article extraction: the only place that does network I/O (http.py)."""
