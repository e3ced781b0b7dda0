"""xueliang: integrate and share a city's public-space video resources (雪亮平台)."""

__version__ = "0.1.0"
