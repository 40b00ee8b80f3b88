// SPDX-License-Identifier: MIT
// Mirrors proto/trellis2/v1/asset_generation.proto; tests/clients/test_unity_proto_mirror.py
// checks every field name and type against the proto descriptor.
using System.Collections.Generic;
using Newtonsoft.Json;

namespace Trellis2.Editor
{
    /// <summary>A generation job (resource name "jobs/{job_id}").</summary>
    [ProtoMessage("trellis2.v1.Job")]
    public sealed class Job
    {
        /// <summary>"jobs/{job_id}".</summary>
        [JsonProperty("name")]
        public string Name { get; set; }

        [JsonProperty("jobId")]
        public string JobId { get; set; }

        [JsonProperty("state")]
        public JobState State { get; set; }

        [JsonProperty("spec")]
        public JobSpec Spec { get; set; }

        /// <summary>RFC 3339 timestamp (google.protobuf.Timestamp JSON form).</summary>
        [JsonProperty("createTime")]
        public string CreateTime { get; set; }

        /// <summary>RFC 3339 timestamp (google.protobuf.Timestamp JSON form).</summary>
        [JsonProperty("startTime")]
        public string StartTime { get; set; }

        /// <summary>RFC 3339 timestamp (google.protobuf.Timestamp JSON form).</summary>
        [JsonProperty("endTime")]
        public string EndTime { get; set; }

        /// <summary>
        /// seq of the last stored event; WatchJob(after_seq = last_seq) waits for the next.
        /// </summary>
        [JsonProperty("lastSeq")]
        public long LastSeq { get; set; }

        /// <summary>1-based place in the queue while QUEUED, else 0.</summary>
        [JsonProperty("queuePosition")]
        public int QueuePosition { get; set; }

        /// <summary>Set when SUCCEEDED: the main asset first, then companion files.</summary>
        [JsonProperty("artifacts")]
        public List<Artifact> Artifacts { get; set; } = new List<Artifact>();

        [JsonProperty("stats")]
        public AssetStats Stats { get; set; }

        /// <summary>Set when FAILED.</summary>
        [JsonProperty("error")]
        public JobError Error { get; set; }

        [JsonProperty("requestId")]
        public string RequestId { get; set; }

        /// <summary>Runs started so far (a job requeued after a crash runs again).</summary>
        [JsonProperty("attempt")]
        public int Attempt { get; set; }

        /// <summary>Last progress seen (0..1).</summary>
        [JsonProperty("progressFraction")]
        public float ProgressFraction { get; set; }

        /// <summary>Team that owns the job (from the API key; "default" without auth).</summary>
        [JsonProperty("team")]
        public string Team { get; set; }
    }
}
