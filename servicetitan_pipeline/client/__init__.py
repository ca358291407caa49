"""HTTP client for ServiceTitan's V2 tenant APIs: auth, retries, rate limit, pagination.

See docs/architecture.md ("Contract: the client") for how the rest of the pipeline uses it.
"""

from servicetitan_pipeline.client.client import DEFAULT_LIST_PAGE_SIZE, ServiceTitanClient
from servicetitan_pipeline.client.errors import (
    ApiError,
    AuthenticationError,
    EndpointSettingsError,
    InvalidResponseError,
    PaginationError,
    PermissionDeniedError,
    ResponseLimitError,
    RetriesExhaustedError,
    ServiceTitanError,
    SettingsError,
)
from servicetitan_pipeline.client.pagination import (
    BodyNotJsonError,
    DecodedBody,
    ExportPage,
    JsonRecords,
    ListPage,
    NotAPageError,
    PageDecoder,
    PagingLimits,
    decode_json_page,
)
from servicetitan_pipeline.client.ratelimit import RateLimiter
from servicetitan_pipeline.client.settings import ConnectionSettings, Environment
from servicetitan_pipeline.client.transport import ClientStats, ResponseLimits, RetryPolicy

__all__ = [
    "DEFAULT_LIST_PAGE_SIZE",
    "ApiError",
    "AuthenticationError",
    "BodyNotJsonError",
    "ClientStats",
    "ConnectionSettings",
    "DecodedBody",
    "EndpointSettingsError",
    "Environment",
    "ExportPage",
    "InvalidResponseError",
    "JsonRecords",
    "ListPage",
    "NotAPageError",
    "PageDecoder",
    "PaginationError",
    "PagingLimits",
    "PermissionDeniedError",
    "RateLimiter",
    "ResponseLimitError",
    "ResponseLimits",
    "RetriesExhaustedError",
    "RetryPolicy",
    "ServiceTitanClient",
    "ServiceTitanError",
    "SettingsError",
    "decode_json_page",
]
