// SPDX-License-Identifier: MIT
using System.Threading;

namespace Trellis2.Editor
{
    /// <summary>A job this editor is following right now: its watch token and progress bar.</summary>
    sealed class ActiveJob
    {
        public ActiveJob(JobRecord record)
        {
            Record = record;
            Cancellation = new CancellationTokenSource();
            ProgressId = -1;
        }

        public JobRecord Record { get; private set; }

        /// <summary>Stops watching and downloading (not the job on the server).</summary>
        public CancellationTokenSource Cancellation { get; private set; }

        /// <summary>UnityEditor.Progress item id, -1 before it exists.</summary>
        public int ProgressId { get; set; }
    }
}
