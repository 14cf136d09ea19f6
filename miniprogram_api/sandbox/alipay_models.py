"""Alipay trades kept by the sandbox (filled in by the Alipay sandbox)."""
