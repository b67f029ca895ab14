"""cellhub: run Python from a web browser, isolated and fast."""

__version__ = "0.1.0"
