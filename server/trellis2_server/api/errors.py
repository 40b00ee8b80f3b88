# SPDX-License-Identifier: MIT
"""Maps core exceptions onto gRPC statuses, with google.rpc details where they help."""

from __future__ import annotations

import logging

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from trellis2_server.core.errors import Trellis2Error

_LOGGER = logging.getLogger(__name__)


def to_status(exc: BaseException) -> grpc.Status:
    """A `grpc.Status` for `exc`. Unexpected exceptions become INTERNAL with a log line and no
    traceback or exception text sent to the client."""
    if not isinstance(exc, Trellis2Error):
        _LOGGER.error("unexpected error", exc_info=exc)
        status = status_pb2.Status(
            code=code_pb2.INTERNAL, message="internal server error; see the server log"
        )
        return rpc_status.to_status(status)
    details = []
    if exc.field is not None and exc.code == grpc.StatusCode.INVALID_ARGUMENT:
        violation = error_details_pb2.BadRequest.FieldViolation(
            field=exc.field, description=exc.message
        )
        details.append(error_details_pb2.BadRequest(field_violations=[violation]))
    if exc.code == grpc.StatusCode.RESOURCE_EXHAUSTED:
        violation = error_details_pb2.QuotaFailure.Violation(description=exc.message)
        details.append(error_details_pb2.QuotaFailure(violations=[violation]))
    if exc.retry_after is not None:
        delay = duration_pb2.Duration()
        delay.FromNanoseconds(int(exc.retry_after * 1e9))
        details.append(error_details_pb2.RetryInfo(retry_delay=delay))
    packed = []
    for d in details:
        a = any_pb2.Any()
        a.Pack(d)
        packed.append(a)
    status = status_pb2.Status(code=exc.code.value[0], message=exc.message, details=packed)
    return rpc_status.to_status(status)


async def abort(context: grpc.aio.ServicerContext, exc: BaseException) -> None:
    """Ends the RPC with the status for `exc` (raises grpc's abort exception)."""
    s = to_status(exc)
    await context.abort(s.code, s.details, s.trailing_metadata)
