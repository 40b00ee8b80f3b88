// SPDX-License-Identifier: MIT
namespace Trellis2.Editor
{
    /// <summary>What applying one event did to a <see cref="JobRecord"/>.</summary>
    public enum JobEventEffect
    {
        /// <summary>seq at or below the record's LastSeq: already applied (replay overlap).</summary>
        Duplicate,
        /// <summary>A heartbeat: the stream is alive, nothing changed.</summary>
        Heartbeat,
        /// <summary>The record changed (queued, started, progress, preview).</summary>
        Updated,
        /// <summary>The job finished (completed, failed or canceled).</summary>
        Terminal,
    }
}
