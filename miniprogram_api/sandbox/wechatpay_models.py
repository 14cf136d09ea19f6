"""WeChat Pay trades kept by the sandbox (filled in by the WeChat Pay sandbox)."""
