// SPDX-License-Identifier: MIT
using System;

namespace Trellis2.Editor
{
    /// <summary>
    /// A failed call or job. <see cref="Exception.Message"/> is ready to show: the title, the
    /// server's message and what to do next (from <see cref="Trellis2ErrorMessages"/>).
    /// </summary>
    public sealed class Trellis2Exception : Exception
    {
        public Trellis2Exception(Trellis2ErrorCode code, string detail)
            : this(code, detail, null, 0, null)
        {
        }

        public Trellis2Exception(
            Trellis2ErrorCode code, string detail, string connectCode, int httpStatus,
            Exception inner)
            : base(Trellis2ErrorMessages.Format(code, detail), inner)
        {
            Code = code;
            Detail = detail;
            ConnectCode = connectCode;
            HttpStatus = httpStatus;
        }

        public Trellis2ErrorCode Code { get; private set; }

        /// <summary>The server's own message (or the local cause), without advice.</summary>
        public string Detail { get; private set; }

        /// <summary>The Connect error code string ("invalid_argument"), if the server sent one.</summary>
        public string ConnectCode { get; private set; }

        /// <summary>HTTP status of the response, 0 when none arrived.</summary>
        public int HttpStatus { get; private set; }

        /// <summary>True for failures a retry (or a reattach) may fix.</summary>
        public bool IsTransient
        {
            get
            {
                return Code == Trellis2ErrorCode.ServerUnreachable
                    || Code == Trellis2ErrorCode.ServerUnavailable
                    || Code == Trellis2ErrorCode.Timeout;
            }
        }
    }
}
