// SPDX-License-Identifier: MIT
using System;
using Newtonsoft.Json.Linq;

namespace Trellis2.Editor
{
    /// <summary>
    /// Maps Connect errors (the JSON body of a failed unary call, or the "error" member of an
    /// end-of-stream message) and bare HTTP statuses onto <see cref="Trellis2ErrorCode"/>.
    /// </summary>
    public static class ConnectErrors
    {
        /// <summary>Connect code string ("invalid_argument") → our code.</summary>
        public static Trellis2ErrorCode FromConnectCode(string connectCode)
        {
            switch (connectCode)
            {
                case "canceled": return Trellis2ErrorCode.Canceled;
                case "invalid_argument":
                case "out_of_range":
                case "failed_precondition": return Trellis2ErrorCode.InvalidImage;
                case "deadline_exceeded": return Trellis2ErrorCode.Timeout;
                case "not_found": return Trellis2ErrorCode.NotFound;
                case "permission_denied": return Trellis2ErrorCode.PermissionDenied;
                case "unauthenticated": return Trellis2ErrorCode.Unauthenticated;
                case "resource_exhausted": return Trellis2ErrorCode.QuotaExceeded;
                case "unavailable": return Trellis2ErrorCode.ServerUnavailable;
                case "unimplemented": return Trellis2ErrorCode.Unimplemented;
                case "internal":
                case "unknown":
                case "data_loss":
                case "aborted":
                case "already_exists": return Trellis2ErrorCode.ServerError;
                default: return Trellis2ErrorCode.Unknown;
            }
        }

        /// <summary>
        /// The Connect code the protocol implies for an HTTP status without an error body
        /// (e.g. from a proxy), per the Connect spec's HTTP-to-code table.
        /// </summary>
        public static string ConnectCodeFromHttpStatus(int status)
        {
            switch (status)
            {
                case 400: return "internal";
                case 401: return "unauthenticated";
                case 403: return "permission_denied";
                case 404: return "unimplemented";
                case 429:
                case 502:
                case 503:
                case 504: return "unavailable";
                default: return "unknown";
            }
        }

        /// <summary>gRPC numeric code (JobError.code) → our code, for failed jobs.</summary>
        public static Trellis2ErrorCode FromGrpcCode(int grpcCode)
        {
            switch (grpcCode)
            {
                case 1: return Trellis2ErrorCode.Canceled;
                case 3: return Trellis2ErrorCode.InvalidImage;
                case 4: return Trellis2ErrorCode.Timeout;
                case 8: return Trellis2ErrorCode.QuotaExceeded;
                case 14: return Trellis2ErrorCode.ServerUnavailable;
                default: return Trellis2ErrorCode.JobFailed;
            }
        }

        /// <summary>
        /// Builds the exception for a Connect error object {"code": ..., "message": ...}.
        /// <paramref name="error"/> may be null (no body); then the HTTP status decides.
        /// </summary>
        public static Trellis2Exception FromErrorObject(JObject error, int httpStatus)
        {
            string connectCode = null;
            string message = null;
            if (error != null)
            {
                var codeToken = error["code"];
                var messageToken = error["message"];
                connectCode = codeToken != null ? (string)codeToken : null;
                message = messageToken != null ? (string)messageToken : null;
            }
            if (string.IsNullOrEmpty(connectCode))
                connectCode = ConnectCodeFromHttpStatus(httpStatus);
            if (string.IsNullOrEmpty(message))
                message = httpStatus > 0 ? "HTTP " + httpStatus : connectCode;
            return new Trellis2Exception(FromConnectCode(connectCode), message, connectCode,
                httpStatus, null);
        }

        /// <summary>Parses a unary error body; falls back to the HTTP status if it is not JSON.</summary>
        public static Trellis2Exception FromUnaryBody(string body, int httpStatus)
        {
            JObject error = null;
            try
            {
                if (!string.IsNullOrEmpty(body) && body.TrimStart().StartsWith("{", StringComparison.Ordinal))
                    error = JObject.Parse(body);
            }
            catch (Newtonsoft.Json.JsonException)
            {
                error = null;
            }
            return FromErrorObject(error, httpStatus);
        }
    }
}
