// SPDX-License-Identifier: MIT
using System.Collections.Generic;

namespace Trellis2.Editor
{
    /// <summary>
    /// The one table of user-facing texts: for each <see cref="Trellis2ErrorCode"/>, a short title
    /// and what to do next. The editor shows title + server message + advice.
    /// </summary>
    public static class Trellis2ErrorMessages
    {
        static readonly Dictionary<Trellis2ErrorCode, string[]> s_Table =
            new Dictionary<Trellis2ErrorCode, string[]>
        {
            { Trellis2ErrorCode.Unknown, new[] { "Unexpected error",
                "Check the Console for details and the server log; report it if it repeats." } },
            { Trellis2ErrorCode.ServerUnreachable, new[] { "Server unreachable",
                "Check the server URL in Project Settings > Trellis2, that the server runs " +
                "(scripts/serve.sh) and that its HTTP port (default 8080) is reachable from this machine." } },
            { Trellis2ErrorCode.Unauthenticated, new[] { "API key missing or wrong",
                "Enter your API key in Preferences > Trellis2 (ask the server admin for one)." } },
            { Trellis2ErrorCode.PermissionDenied, new[] { "Not allowed",
                "Your API key's team may not do this; ask the server admin." } },
            { Trellis2ErrorCode.QuotaExceeded, new[] { "Server busy or quota reached",
                "The queue is full or your team's limit is reached. Wait for running jobs to " +
                "finish, cancel some in the job history, or ask the admin to raise the limit." } },
            { Trellis2ErrorCode.InvalidImage, new[] { "Image or settings refused",
                "Use a PNG, JPEG or WebP image within the server's size limits, one object on a " +
                "plain or transparent background, and check texture size and decimation." } },
            { Trellis2ErrorCode.NotFound, new[] { "Job or file not found",
                "The server no longer has it (cleaned up, or a different server). Generate again." } },
            { Trellis2ErrorCode.JobFailed, new[] { "Generation failed",
                "The server could not finish this job. Try another seed or image; if it keeps " +
                "failing, send the job id to the server admin." } },
            { Trellis2ErrorCode.Canceled, new[] { "Canceled",
                "The job was canceled. Generate again to get an asset." } },
            { Trellis2ErrorCode.Timeout, new[] { "Timed out",
                "The server took too long. Try a lower resolution or texture size, or try later." } },
            { Trellis2ErrorCode.ServerUnavailable, new[] { "Server unavailable",
                "The server is starting, stopping or overloaded. The client retries; if this " +
                "persists, check the server." } },
            { Trellis2ErrorCode.Unimplemented, new[] { "Server too old",
                "The server does not know this call. Update the server to match this package." } },
            { Trellis2ErrorCode.DigestMismatch, new[] { "Download corrupted",
                "The downloaded file does not match its checksum; it was deleted. Re-import the " +
                "job from the history to download it again." } },
            { Trellis2ErrorCode.ProtocolError, new[] { "Unexpected server answer",
                "The URL may point at something that is not a Trellis2 server (a proxy?). Check " +
                "the server URL, including the port of the HTTP listener." } },
            { Trellis2ErrorCode.ServerError, new[] { "Server error",
                "The server hit an internal error. Try again; if it repeats, send the job id " +
                "and time to the server admin." } },
            { Trellis2ErrorCode.ImportFailed, new[] { "Import failed",
                "Writing or importing the files failed. Check disk space and that glTFast is " +
                "installed, then re-import from the job history." } },
        };

        /// <summary>Short title, e.g. "Server unreachable".</summary>
        public static string Title(Trellis2ErrorCode code)
        {
            return Row(code)[0];
        }

        /// <summary>What the user should do next.</summary>
        public static string Advice(Trellis2ErrorCode code)
        {
            return Row(code)[1];
        }

        /// <summary>"Title: detail. Advice" in one line, for dialogs and the Console.</summary>
        public static string Format(Trellis2ErrorCode code, string detail)
        {
            var text = Title(code);
            if (!string.IsNullOrEmpty(detail))
                text += ": " + detail.TrimEnd('.') + ".";
            else
                text += ".";
            return text + " " + Advice(code);
        }

        /// <summary>Every code has a row (checked by a test).</summary>
        public static bool HasEntry(Trellis2ErrorCode code)
        {
            return s_Table.ContainsKey(code);
        }

        static string[] Row(Trellis2ErrorCode code)
        {
            string[] row;
            return s_Table.TryGetValue(code, out row) ? row : s_Table[Trellis2ErrorCode.Unknown];
        }
    }
}
