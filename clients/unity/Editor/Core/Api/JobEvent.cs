// SPDX-License-Identifier: MIT
// Mirrors proto/trellis2/v1/asset_generation.proto; tests/clients/test_unity_proto_mirror.py
// checks every field name and type against the proto descriptor.
using Newtonsoft.Json;

namespace Trellis2.Editor
{
    [ProtoMessage("trellis2.v1.JobEvent")]
    public sealed class JobEvent
    {
        /// <summary>"jobs/{job_id}".</summary>
        [JsonProperty("job")]
        public string Job { get; set; }

        /// <summary>Per-job sequence number, strictly increasing from 1.</summary>
        [JsonProperty("seq")]
        public long Seq { get; set; }

        /// <summary>RFC 3339 timestamp (google.protobuf.Timestamp JSON form).</summary>
        [JsonProperty("time")]
        public string Time { get; set; }

        [JsonProperty("queued")]
        public JobQueued Queued { get; set; }

        [JsonProperty("started")]
        public JobStarted Started { get; set; }

        [JsonProperty("progress")]
        public JobProgress Progress { get; set; }

        [JsonProperty("preview")]
        public JobPreview Preview { get; set; }

        [JsonProperty("completed")]
        public JobCompleted Completed { get; set; }

        [JsonProperty("failed")]
        public JobFailed Failed { get; set; }

        [JsonProperty("canceled")]
        public JobCanceled Canceled { get; set; }

        [JsonProperty("heartbeat")]
        public Heartbeat Heartbeat { get; set; }
    }
}
