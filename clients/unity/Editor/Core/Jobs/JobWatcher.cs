// SPDX-License-Identifier: MIT
using System;
using System.Threading;
using System.Threading.Tasks;

namespace Trellis2.Editor
{
    /// <summary>
    /// Follows one job until it finishes, surviving dropped connections: it watches with
    /// after_seq = record.LastSeq, applies each new event to the record, saves it, and on a
    /// transient failure reconnects with backoff from the last applied seq. The same code
    /// reattaches after a domain reload or an editor restart (the record comes from the store).
    /// </summary>
    public sealed class JobWatcher
    {
        readonly Trellis2Client m_Client;
        readonly Action<JobRecord> m_Save;

        /// <param name="save">Persists the record after every applied event (may be null).</param>
        public JobWatcher(Trellis2Client client, Action<JobRecord> save)
        {
            if (client == null)
                throw new ArgumentNullException("client");
            m_Client = client;
            m_Save = save;
            MaxConsecutiveFailures = 6;
            FirstRetryDelay = TimeSpan.FromSeconds(1);
            MaxRetryDelay = TimeSpan.FromSeconds(15);
        }

        /// <summary>Failed attempts in a row, with no new event in between, before giving up.</summary>
        public int MaxConsecutiveFailures { get; set; }

        public TimeSpan FirstRetryDelay { get; set; }

        public TimeSpan MaxRetryDelay { get; set; }

        /// <summary>Called after each applied (new) event, on a thread-pool thread.</summary>
        public event Action<JobRecord, JobEvent> EventApplied;

        /// <summary>Called before each reconnect with the failure that caused it.</summary>
        public event Action<JobRecord, Trellis2Exception> Reconnecting;

        /// <summary>
        /// Returns when the record is terminal (succeeded, failed or canceled). Throws the last
        /// <see cref="Trellis2Exception"/> after too many failures in a row, or at once for a
        /// permanent error (unauthenticated, not found...). Canceling the token only stops
        /// watching; the job keeps running on the server and can be reattached later.
        /// </summary>
        public async Task<JobRecord> WatchUntilDoneAsync(
            JobRecord record, CancellationToken cancellationToken)
        {
            if (record == null || string.IsNullOrEmpty(record.JobId))
                throw new ArgumentException("the record has no job id", "record");
            if (string.IsNullOrEmpty(record.Name))
                record.Name = JobNames.ToName(record.JobId);
            var failures = 0;
            var delay = FirstRetryDelay;
            while (true)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var seqBefore = record.LastSeq;
                Trellis2Exception failure;
                try
                {
                    if (await FollowOnceAsync(record, cancellationToken).ConfigureAwait(false))
                        return record;
                    // The stream ended cleanly without a terminal event we had not seen (for
                    // example we already had the last one): ask for the job itself.
                    var job = await m_Client.GetJobAsync(record.Name, cancellationToken)
                        .ConfigureAwait(false);
                    if (job.State == JobState.Succeeded || job.State == JobState.Failed
                        || job.State == JobState.Canceled)
                    {
                        JobRecordUpdater.ApplyJob(record, job);
                        Save(record);
                        return record;
                    }
                    failure = new Trellis2Exception(Trellis2ErrorCode.ServerUnavailable,
                        "the event stream ended before the job finished");
                }
                catch (Trellis2Exception e) when (e.IsTransient)
                {
                    failure = e;
                }
                if (record.LastSeq > seqBefore)
                {
                    // Events arrived before the failure: the connection works, start over.
                    failures = 0;
                    delay = FirstRetryDelay;
                }
                failures++;
                if (failures >= MaxConsecutiveFailures)
                    throw failure;
                var handler = Reconnecting;
                if (handler != null)
                    handler(record, failure);
                await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, MaxRetryDelay.Ticks));
            }
        }

        /// <summary>One WatchJob stream; true once the job reached a terminal state.</summary>
        async Task<bool> FollowOnceAsync(JobRecord record, CancellationToken cancellationToken)
        {
            using (var stream = await m_Client.WatchJobAsync(record.Name, record.LastSeq,
                cancellationToken).ConfigureAwait(false))
            {
                while (true)
                {
                    var evt = await stream.ReadNextAsync(cancellationToken).ConfigureAwait(false);
                    if (evt == null)
                        return record.IsTerminal;
                    var effect = JobRecordUpdater.Apply(record, evt);
                    if (effect == JobEventEffect.Duplicate || effect == JobEventEffect.Heartbeat)
                        continue;
                    Save(record);
                    var handler = EventApplied;
                    if (handler != null)
                        handler(record, evt);
                    if (effect == JobEventEffect.Terminal)
                        return true;
                }
            }
        }

        void Save(JobRecord record)
        {
            if (m_Save != null)
                m_Save(record);
        }
    }
}
