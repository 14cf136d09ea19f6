"""Payment providers: one interface (``base``), WeChat Pay API v3 and Alipay (RSA2)."""
