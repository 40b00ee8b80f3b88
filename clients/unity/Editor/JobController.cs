// SPDX-License-Identifier: MIT
using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using UnityEditor;
using UnityEngine;

namespace Trellis2.Editor
{
    /// <summary>
    /// Runs jobs for the editor: submit, follow with background progress (UnityEditor.Progress,
    /// with a cancel button), download, import. The history lives in
    /// UserSettings/Trellis2Jobs.json; after a domain reload or an editor restart every unfinished
    /// job is reattached with WatchJob(after_seq) and imported when it completes. Everything here
    /// runs on the main thread except the stream callbacks, which post back to it; nothing blocks.
    /// </summary>
    [InitializeOnLoad]
    public static class JobController
    {
        const string k_StorePath = "UserSettings/Trellis2Jobs.json";
        static readonly JobRecordStore s_Store = new JobRecordStore();
        static readonly Dictionary<string, ActiveJob> s_Active = new Dictionary<string, ActiveJob>();

        static JobController()
        {
            LoadStore();
            AssemblyReloadEvents.beforeAssemblyReload += StopWatching;
            EditorApplication.quitting += StopWatching;
            EditorApplication.delayCall += ResumePending;
        }

        /// <summary>Raised on the main thread whenever a job or the history changes.</summary>
        public static event Action Changed;

        /// <summary>The last error shown to the user (for the window's status line).</summary>
        public static string LastError { get; private set; }

        /// <summary>Newest first.</summary>
        public static IList<JobRecord> History
        {
            get { return s_Store.Records; }
        }

        public static bool IsActive(string jobId)
        {
            return s_Active.ContainsKey(jobId);
        }

        /// <summary>Submits <paramref name="imagePath"/> (a project path) and follows the job.</summary>
        public static async void Generate(string imagePath, GenerationSettings settings)
        {
            try
            {
                await GenerateAsync(imagePath, settings);
            }
            catch (Trellis2Exception e)
            {
                ReportError(null, e);
            }
            catch (Exception e)
            {
                Debug.LogException(e);
                ReportError(null, new Trellis2Exception(Trellis2ErrorCode.Unknown, e.Message));
            }
        }

        /// <summary>Same image and settings, another seed (null: the server draws one).</summary>
        public static void Regenerate(string jobId, long? seed)
        {
            var record = s_Store.Find(jobId);
            if (record == null)
                return;
            if (string.IsNullOrEmpty(record.SourceImagePath) || !File.Exists(record.SourceImagePath))
            {
                ReportError(record, new Trellis2Exception(Trellis2ErrorCode.InvalidImage,
                    "the source image " + record.SourceImagePath + " is gone; pick it again in the window"));
                return;
            }
            var settings = record.Settings.Clone();
            settings.Seed = seed;
            Generate(record.SourceImagePath, settings);
        }

        /// <summary>Asks the server to cancel; the watch then ends with the canceled event.</summary>
        public static async void Cancel(string jobId)
        {
            var record = s_Store.Find(jobId);
            if (record == null || record.IsTerminal)
                return;
            try
            {
                using (var client = CreateClient(record.ServerUrl))
                    await client.CancelJobAsync(record.Name, CancellationToken.None);
            }
            catch (Trellis2Exception e)
            {
                ReportError(record, e);
            }
        }

        /// <summary>Downloads and imports a finished job again (files, material, prefab).</summary>
        public static void Reimport(string jobId)
        {
            var record = s_Store.Find(jobId);
            if (record == null || record.State != JobState.Succeeded || IsActive(jobId))
                return;
            record.Imported = false;
            record.ErrorCode = Trellis2ErrorCode.Unknown;
            record.ErrorMessage = null;
            SaveStore();
            Follow(record);
        }

        /// <summary>Forgets a job (stops following it; the server keeps it).</summary>
        public static void Remove(string jobId)
        {
            ActiveJob active;
            if (s_Active.TryGetValue(jobId, out active))
                active.Cancellation.Cancel();
            lock (s_Store)
                s_Store.Remove(jobId);
            SaveStore();
            RaiseChanged();
        }

        /// <summary>The team's recent jobs on the server (ListJobs), newest first.</summary>
        public static async Task<List<Job>> ListTeamJobsAsync()
        {
            var serverUrl = Trellis2Settings.instance.ServerUrl;
            using (var client = CreateClient(serverUrl))
            {
                var response = await client.ListJobsAsync(new ListJobsRequest { PageSize = 50 },
                    CancellationToken.None);
                return response.Jobs;
            }
        }

        /// <summary>Adopts a team job into this editor's history and imports it when done.</summary>
        public static void ImportTeamJob(Job job)
        {
            var existing = s_Store.Find(job.JobId);
            if (existing != null)
            {
                if (existing.State == JobState.Succeeded)
                    Reimport(existing.JobId);
                return;
            }
            var name = AssetNames.Sanitize(job.Spec != null ? job.Spec.DisplayName : null);
            var root = Trellis2Settings.instance.OutputRoot;
            var folder = AssetNames.UniqueFolder(root, name, FolderTaken);
            var record = JobRequests.RecordFromJob(job, RenderPipelineDetector.Current(), folder,
                Trellis2Settings.instance.ServerUrl);
            lock (s_Store)
                s_Store.Upsert(record);
            SaveStore();
            Follow(record);
        }

        static async Task GenerateAsync(string imagePath, GenerationSettings settings)
        {
            var ext = Path.GetExtension(imagePath ?? "").ToLowerInvariant();
            if (ext != ".png" && ext != ".jpg" && ext != ".jpeg" && ext != ".webp")
                throw new Trellis2Exception(Trellis2ErrorCode.InvalidImage,
                    (imagePath ?? "no image") + " is not a PNG, JPEG or WebP file; export it as PNG first");
            var image = File.ReadAllBytes(imagePath);
            var serverUrl = Trellis2Settings.instance.ServerUrl;
            var pipeline = RenderPipelineDetector.Current();
            var folder = AssetNames.UniqueFolder(settings.OutputRoot, settings.DisplayName, FolderTaken);
            var request = JobRequests.Create(image, settings, pipeline, null);
            Job job;
            using (var client = CreateClient(serverUrl))
                job = await client.CreateJobAsync(request, CancellationToken.None);
            var record = JobRequests.NewRecord(job, request, settings, pipeline, folder, serverUrl, imagePath);
            lock (s_Store)
                s_Store.Upsert(record);
            SaveStore();
            RaiseChanged();
            Follow(record);
        }

        static bool FolderTaken(string folder)
        {
            if (AssetDatabase.IsValidFolder(folder))
                return true;
            lock (s_Store)
                return s_Store.Records.Any(r => r.OutputFolder == folder && r.NeedsAttention);
        }

        static async void Follow(JobRecord record)
        {
            if (s_Active.ContainsKey(record.JobId))
                return;
            var active = new ActiveJob(record);
            s_Active[record.JobId] = active;
            active.ProgressId = Progress.Start("Trellis2: " + record.DisplayName, "Connecting");
            Progress.RegisterCancelCallback(active.ProgressId, () =>
            {
                Cancel(record.JobId);
                return true;
            });
            RaiseChanged();
            Trellis2Client client = null;
            try
            {
                client = CreateClient(record.ServerUrl);
                if (!record.IsTerminal)
                {
                    var watcher = new JobWatcher(client, r => SaveStore());
                    var progressId = active.ProgressId;
                    watcher.EventApplied += (r, e) => MainThread.Post(() => OnEvent(r, e, progressId));
                    watcher.Reconnecting += (r, e) => MainThread.Post(() =>
                        ReportProgress(progressId, r.ProgressFraction, "Reconnecting: " + e.Detail));
                    await watcher.WatchUntilDoneAsync(record, active.Cancellation.Token);
                }
                SaveStore();
                if (record.State == JobState.Succeeded && !record.Imported)
                {
                    await ImportAsync(record, client, active);
                    FinishProgress(active.ProgressId, Progress.Status.Succeeded);
                }
                else if (record.State == JobState.Canceled)
                {
                    FinishProgress(active.ProgressId, Progress.Status.Canceled);
                }
                else if (record.State == JobState.Failed)
                {
                    ReportError(record, new Trellis2Exception(record.ErrorCode, record.ErrorMessage));
                    FinishProgress(active.ProgressId, Progress.Status.Failed);
                }
                else
                {
                    FinishProgress(active.ProgressId, Progress.Status.Succeeded);
                }
            }
            catch (OperationCanceledException)
            {
                // Stopped watching (domain reload, quit, removed): the record stays pending.
                if (Progress.Exists(active.ProgressId))
                    Progress.Remove(active.ProgressId);
            }
            catch (Trellis2Exception e)
            {
                record.ErrorMessage = e.Detail;
                ReportError(record, e);
                FinishProgress(active.ProgressId, Progress.Status.Failed);
            }
            catch (Exception e)
            {
                Debug.LogException(e);
                ReportError(record, new Trellis2Exception(Trellis2ErrorCode.ImportFailed, e.Message));
                FinishProgress(active.ProgressId, Progress.Status.Failed);
            }
            finally
            {
                s_Active.Remove(record.JobId);
                if (client != null)
                    client.Dispose();
                SaveStore();
                RaiseChanged();
            }
        }

        static async Task ImportAsync(JobRecord record, Trellis2Client client, ActiveJob active)
        {
            var plan = ImportPlanner.PlanFiles(record);
            var projectRoot = Path.GetDirectoryName(Application.dataPath);
            var progressId = active.ProgressId;
            ReportProgress(progressId, 0f, "Downloading " + plan.Files.Count + " files");
            // Staged under Library/ so the AssetDatabase never imports a partial file; resumes
            // from there after a reload or restart.
            var staging = Path.Combine(projectRoot, "Library", "Trellis2Downloads", record.JobId);
            await ArtifactDownloader.DownloadAllAsync(client, plan, projectRoot, staging, (done, total) =>
                MainThread.Post(() => ReportProgress(progressId, total > 0 ? (float)done / total : 0f,
                    "Downloading " + (done / 1024) + " / " + (total / 1024) + " KiB")),
                active.Cancellation.Token);
            // Back on the main thread (the editor's synchronization context resumes us here).
            if (Directory.Exists(staging))
                Directory.Delete(staging, true);
            ReportProgress(progressId, 1f, "Importing");
            var info = GltfMaterialInfo.FromFile(Path.Combine(projectRoot, plan.ModelPath));
            ImportPlanner.PlanMaterial(plan, info);
            var prefab = GlbPrefabBuilder.Build(plan, record);
            foreach (var warning in plan.Warnings)
                Debug.LogWarning("[Trellis2] " + record.DisplayName + ": " + warning);
            record.Imported = true;
            record.PrefabPath = plan.PrefabPath;
            SaveStore();
            if (prefab != null)
                EditorGUIUtility.PingObject(prefab);
            Debug.Log("[Trellis2] imported " + record.DisplayName + " (job " + record.JobId + ", seed " +
                record.SeedUsed + ") as " + plan.PrefabPath);
        }

        static void OnEvent(JobRecord record, JobEvent evt, int progressId)
        {
            ReportProgress(progressId, record.ProgressFraction, Describe(record));
            if (evt.Preview != null && evt.Preview.Thumbnail != null)
                ThumbnailCache.Fetch(record.ServerUrl, evt.Preview.Thumbnail);
            RaiseChanged();
        }

        /// <summary>"Queued (#2)", "shape_slat 40%, about 12 s left", ...</summary>
        public static string Describe(JobRecord record)
        {
            switch (record.State)
            {
                case JobState.Queued:
                    return record.QueuePosition > 0 ? "Queued (#" + record.QueuePosition + ")" : "Queued";
                case JobState.Running:
                    var text = (string.IsNullOrEmpty(record.Stage) ? "Running" : record.Stage) + " " +
                        Mathf.RoundToInt(record.ProgressFraction * 100f) + "%";
                    if (record.EtaSeconds > 0f)
                        text += ", about " + Mathf.CeilToInt(record.EtaSeconds) + " s left";
                    return text;
                case JobState.Succeeded:
                    return record.Imported ? "Imported" : "Done, importing";
                case JobState.Failed:
                    return "Failed: " + record.ErrorMessage;
                case JobState.Canceled:
                    return "Canceled";
                default:
                    return "Submitted";
            }
        }

        // The user may have dismissed or canceled the progress item already.
        static void ReportProgress(int id, float fraction, string description)
        {
            if (id >= 0 && Progress.Exists(id))
                Progress.Report(id, fraction, description);
        }

        static void FinishProgress(int id, Progress.Status status)
        {
            if (id >= 0 && Progress.Exists(id))
                Progress.Finish(id, status);
        }

        static Trellis2Client CreateClient(string serverUrl)
        {
            try
            {
                return new Trellis2Client(serverUrl, Trellis2UserSettings.GetApiKey(serverUrl));
            }
            catch (ArgumentException e)
            {
                throw new Trellis2Exception(Trellis2ErrorCode.ServerUnreachable, e.Message);
            }
        }

        static void ResumePending()
        {
            List<JobRecord> pending;
            lock (s_Store)
                pending = s_Store.Pending();
            foreach (var record in pending)
            {
                // A finished job whose import failed waits for Re-import instead of failing
                // again after every script change.
                if (record.State == JobState.Succeeded && (record.ErrorCode == Trellis2ErrorCode.ImportFailed
                    || record.ErrorCode == Trellis2ErrorCode.ProtocolError))
                    continue;
                Follow(record);
            }
        }

        static void StopWatching()
        {
            foreach (var active in s_Active.Values.ToList())
            {
                active.Cancellation.Cancel();
                if (active.ProgressId >= 0 && Progress.Exists(active.ProgressId))
                    Progress.Remove(active.ProgressId);
            }
            SaveStore();
        }

        static void ReportError(JobRecord record, Trellis2Exception error)
        {
            var prefix = record != null ? "[Trellis2] " + record.DisplayName + " (job " + record.JobId + "): " : "[Trellis2] ";
            LastError = error.Message;
            if (record != null)
            {
                record.ErrorCode = error.Code;
                SaveStore();
            }
            Debug.LogError(prefix + error.Message);
            RaiseChanged();
        }

        static void LoadStore()
        {
            try
            {
                lock (s_Store)
                    s_Store.LoadFile(k_StorePath);
            }
            catch (IOException e)
            {
                Debug.LogWarning("[Trellis2] could not read " + k_StorePath + ": " + e.Message);
            }
        }

        /// <summary>Thread-safe; called after every applied event (from the stream's thread).</summary>
        static void SaveStore()
        {
            try
            {
                lock (s_Store)
                    s_Store.SaveFile(k_StorePath);
            }
            catch (IOException e)
            {
                Debug.LogWarning("[Trellis2] could not write " + k_StorePath + ": " + e.Message);
            }
        }

        static void RaiseChanged()
        {
            var handler = Changed;
            if (handler != null)
                handler();
        }
    }
}
