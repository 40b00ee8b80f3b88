// SPDX-License-Identifier: MIT
using System.Collections.Generic;
using Newtonsoft.Json;

namespace Trellis2.Editor
{
    /// <summary>
    /// What the editor remembers about one job across domain reloads and restarts: enough to
    /// reattach with WatchJob(after_seq = LastSeq) and to finish (or redo) the import.
    /// </summary>
    public sealed class JobRecord
    {
        public JobRecord()
        {
            Artifacts = new List<Artifact>();
            Settings = new GenerationSettings();
        }

        [JsonProperty("jobId")]
        public string JobId { get; set; }

        /// <summary>"jobs/{job_id}".</summary>
        [JsonProperty("name")]
        public string Name { get; set; }

        [JsonProperty("serverUrl")]
        public string ServerUrl { get; set; }

        [JsonProperty("requestId")]
        public string RequestId { get; set; }

        [JsonProperty("displayName")]
        public string DisplayName { get; set; }

        /// <summary>Project path of the source image (for "regenerate with another seed").</summary>
        [JsonProperty("sourceImagePath")]
        public string SourceImagePath { get; set; }

        [JsonProperty("settings")]
        public GenerationSettings Settings { get; set; }

        [JsonProperty("renderPipeline")]
        public RenderPipelineKind RenderPipeline { get; set; }

        /// <summary>Project folder the files go to, e.g. "Assets/Generated/chair".</summary>
        [JsonProperty("outputFolder")]
        public string OutputFolder { get; set; }

        /// <summary>seq of the last event applied; reattach asks for events after it.</summary>
        [JsonProperty("lastSeq")]
        public long LastSeq { get; set; }

        [JsonProperty("state")]
        public JobState State { get; set; }

        [JsonProperty("queuePosition")]
        public int QueuePosition { get; set; }

        [JsonProperty("progressFraction")]
        public float ProgressFraction { get; set; }

        [JsonProperty("stage")]
        public string Stage { get; set; }

        [JsonProperty("etaSeconds")]
        public float EtaSeconds { get; set; }

        /// <summary>The seed the server used (from JobSpec), for the history and regenerate.</summary>
        [JsonProperty("seedUsed")]
        public long? SeedUsed { get; set; }

        /// <summary>Latest preview thumbnail (PNG), shown in the window while the job runs.</summary>
        [JsonProperty("latestThumbnail")]
        public Artifact LatestThumbnail { get; set; }

        [JsonProperty("artifacts")]
        public List<Artifact> Artifacts { get; set; }

        [JsonProperty("stats")]
        public AssetStats Stats { get; set; }

        [JsonProperty("errorCode")]
        public Trellis2ErrorCode ErrorCode { get; set; }

        [JsonProperty("errorMessage")]
        public string ErrorMessage { get; set; }

        /// <summary>True once files are written and the prefab built.</summary>
        [JsonProperty("imported")]
        public bool Imported { get; set; }

        [JsonProperty("prefabPath")]
        public string PrefabPath { get; set; }

        /// <summary>ISO 8601 UTC time the job was submitted from this editor.</summary>
        [JsonProperty("createdUtc")]
        public string CreatedUtc { get; set; }

        [JsonIgnore]
        public bool IsTerminal
        {
            get
            {
                return State == JobState.Succeeded || State == JobState.Failed
                    || State == JobState.Canceled;
            }
        }

        /// <summary>Still running on the server, or finished but not imported yet.</summary>
        [JsonIgnore]
        public bool NeedsAttention
        {
            get { return !IsTerminal || (State == JobState.Succeeded && !Imported); }
        }
    }
}
