# SPDX-License-Identifier: MIT
"""One exception tree for the core. Each error knows its gRPC status code; transports map it
(gRPC through `api.errors.to_status`, Connect/HTTP through their own table)."""

from __future__ import annotations

from grpc import StatusCode


class Trellis2Error(Exception):
    """Base of every error the core raises on purpose. `message` is safe to show a client."""

    code: StatusCode = StatusCode.INTERNAL

    def __init__(self, message: str, *, field: str | None = None, retry_after: float | None = None):
        super().__init__(message)
        self.message = message
        # The request field at fault (for google.rpc.BadRequest details), if any.
        self.field = field
        # Seconds after which a retry may succeed (for google.rpc.RetryInfo), if known.
        self.retry_after = retry_after


class InvalidArgument(Trellis2Error):
    code = StatusCode.INVALID_ARGUMENT


class NotFound(Trellis2Error):
    code = StatusCode.NOT_FOUND


class Unauthenticated(Trellis2Error):
    code = StatusCode.UNAUTHENTICATED


class PermissionDenied(Trellis2Error):
    code = StatusCode.PERMISSION_DENIED


class ResourceExhausted(Trellis2Error):
    code = StatusCode.RESOURCE_EXHAUSTED


# Quotas (queue depth, per-team limits) are one kind of exhausted resource.
QuotaExceeded = ResourceExhausted


class FailedPrecondition(Trellis2Error):
    code = StatusCode.FAILED_PRECONDITION


class Unavailable(Trellis2Error):
    code = StatusCode.UNAVAILABLE


class DeadlineExceeded(Trellis2Error):
    code = StatusCode.DEADLINE_EXCEEDED


class Internal(Trellis2Error):
    code = StatusCode.INTERNAL
