"""Courier providers: one interface (``base``), the local implementation (``local``), the
choice from settings (``providers``) and the signature of their webhook (``signing``)."""
