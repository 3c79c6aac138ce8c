"""``newswatch ui``: a read-only web workbench and JSON API over the analysts' snapshot."""
