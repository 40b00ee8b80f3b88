// SPDX-License-Identifier: MIT
namespace Trellis2.Editor
{
    /// <summary>
    /// Everything that can go wrong, as the editor shows it. The text for each code (what
    /// happened and what to do next) lives in one table, <see cref="Trellis2ErrorMessages"/>.
    /// </summary>
    public enum Trellis2ErrorCode
    {
        Unknown = 0,
        /// <summary>No TCP connection, DNS failure, TLS failure, or the connection dropped.</summary>
        ServerUnreachable,
        /// <summary>Connect "unauthenticated": missing or wrong API key.</summary>
        Unauthenticated,
        /// <summary>Connect "permission_denied": the key's team may not do this.</summary>
        PermissionDenied,
        /// <summary>Connect "resource_exhausted": queue full or the team's quota is used up.</summary>
        QuotaExceeded,
        /// <summary>Connect "invalid_argument": the image or a parameter was refused.</summary>
        InvalidImage,
        /// <summary>Connect "not_found": the job or artifact does not exist (any more).</summary>
        NotFound,
        /// <summary>The job ran and failed on the server (a JobFailed event).</summary>
        JobFailed,
        /// <summary>The job was canceled, by this user or someone else.</summary>
        Canceled,
        /// <summary>Connect "deadline_exceeded": a call or the job took too long.</summary>
        Timeout,
        /// <summary>Connect "unavailable": the server is starting, stopping or overloaded.</summary>
        ServerUnavailable,
        /// <summary>Connect "unimplemented": the server is older than this client.</summary>
        Unimplemented,
        /// <summary>A downloaded file's SHA-256 does not match the artifact digest.</summary>
        DigestMismatch,
        /// <summary>The server answered something that is not valid Connect.</summary>
        ProtocolError,
        /// <summary>Connect "internal" / "unknown" / "data_loss": a server bug.</summary>
        ServerError,
        /// <summary>Writing the downloaded files or importing them failed.</summary>
        ImportFailed,
    }
}
