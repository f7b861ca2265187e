"""IM: images behind proxies."""
