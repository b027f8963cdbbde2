"""Networking: HTTP client factory, retry policy, error mapping and secret redaction."""

from patchwarden.net.http import USER_AGENT, make_client, send_with_retry
from patchwarden.net.redact import redact_header, redact_headers, redact_text, redact_url
from patchwarden.net.retry import RetryPolicy, parse_retry_after

__all__ = [
    "USER_AGENT",
    "RetryPolicy",
    "make_client",
    "parse_retry_after",
    "redact_header",
    "redact_headers",
    "redact_text",
    "redact_url",
    "send_with_retry",
]
