// SPDX-License-Identifier: MIT
using System.Collections.Generic;

namespace Trellis2.Editor
{
    /// <summary>
    /// Folds job events (and Job snapshots from GetJob) into a <see cref="JobRecord"/>. Events are
    /// idempotent by seq, so a replay after reattaching never applies anything twice.
    /// </summary>
    public static class JobRecordUpdater
    {
        public static JobEventEffect Apply(JobRecord record, JobEvent evt)
        {
            if (evt.Heartbeat != null)
                return JobEventEffect.Heartbeat;
            if (evt.Seq <= record.LastSeq)
                return JobEventEffect.Duplicate;
            record.LastSeq = evt.Seq;
            if (evt.Queued != null)
            {
                record.State = JobState.Queued;
                record.QueuePosition = evt.Queued.Position;
            }
            else if (evt.Started != null)
            {
                record.State = JobState.Running;
                record.QueuePosition = 0;
            }
            else if (evt.Progress != null)
            {
                record.State = JobState.Running;
                record.ProgressFraction = evt.Progress.Fraction;
                record.Stage = evt.Progress.Stage;
                record.EtaSeconds = evt.Progress.EtaSeconds;
            }
            else if (evt.Preview != null)
            {
                if (evt.Preview.Thumbnail != null)
                    record.LatestThumbnail = evt.Preview.Thumbnail;
            }
            else if (evt.Completed != null)
            {
                record.State = JobState.Succeeded;
                record.ProgressFraction = 1f;
                record.Artifacts = new List<Artifact>(evt.Completed.Artifacts);
                record.Stats = evt.Completed.Stats;
                return JobEventEffect.Terminal;
            }
            else if (evt.Failed != null)
            {
                record.State = JobState.Failed;
                var error = evt.Failed.Error ?? new JobError();
                record.ErrorCode = ConnectErrors.FromGrpcCode(error.Code);
                record.ErrorMessage = error.Message;
                return JobEventEffect.Terminal;
            }
            else if (evt.Canceled != null)
            {
                record.State = JobState.Canceled;
                record.ErrorCode = Trellis2ErrorCode.Canceled;
                record.ErrorMessage = evt.Canceled.WasRunning
                    ? "canceled while running"
                    : "canceled while queued";
                return JobEventEffect.Terminal;
            }
            return JobEventEffect.Updated;
        }

        /// <summary>Takes state, artifacts and error from a Job snapshot (GetJob / CreateJob).</summary>
        public static void ApplyJob(JobRecord record, Job job)
        {
            if (!string.IsNullOrEmpty(job.Name))
                record.Name = job.Name;
            if (!string.IsNullOrEmpty(job.JobId))
                record.JobId = job.JobId;
            if (job.Spec != null)
                record.SeedUsed = job.Spec.Seed;
            record.State = job.State;
            record.QueuePosition = job.QueuePosition;
            record.ProgressFraction = job.ProgressFraction;
            if (job.State == JobState.Succeeded)
            {
                record.Artifacts = new List<Artifact>(job.Artifacts);
                record.Stats = job.Stats;
            }
            else if (job.State == JobState.Failed && job.Error != null)
            {
                record.ErrorCode = ConnectErrors.FromGrpcCode(job.Error.Code);
                record.ErrorMessage = job.Error.Message;
            }
            else if (job.State == JobState.Canceled)
            {
                record.ErrorCode = Trellis2ErrorCode.Canceled;
                record.ErrorMessage = "canceled";
            }
            // LastSeq is only advanced by events, so a later watch still replays what we lack.
        }
    }
}
