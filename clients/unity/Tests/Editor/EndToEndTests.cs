// SPDX-License-Identifier: MIT
using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using NUnit.Framework;

namespace Trellis2.Editor.Tests
{
    /// <summary>
    /// The client against a real server (preview backend). Set TRELLIS2_TEST_SERVER_URL (the
    /// HTTP/Connect listener) and TRELLIS2_TEST_IMAGE (a PNG); pytest
    /// (tests/clients/test_unity_core.py) starts the server and sets both. Without them the
    /// tests are ignored, e.g. in the Unity Test Runner.
    /// </summary>
    [TestFixture]
    public class EndToEndTests
    {
        static readonly CancellationToken k_None = CancellationToken.None;
        static readonly object s_Lock = new object();
        static JobRecord s_Finished;

        string m_ServerUrl;
        byte[] m_Image;
        string m_Dir;

        [SetUp]
        public void SetUp()
        {
            m_ServerUrl = Environment.GetEnvironmentVariable("TRELLIS2_TEST_SERVER_URL");
            var image = Environment.GetEnvironmentVariable("TRELLIS2_TEST_IMAGE");
            if (string.IsNullOrEmpty(m_ServerUrl) || string.IsNullOrEmpty(image))
                Assert.Ignore("set TRELLIS2_TEST_SERVER_URL and TRELLIS2_TEST_IMAGE to run against a server");
            m_Image = File.ReadAllBytes(image);
            m_Dir = Path.Combine(Path.GetTempPath(), "trellis2-unity-e2e-" + Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(m_Dir);
        }

        [TearDown]
        public void TearDown()
        {
            if (m_Dir != null && Directory.Exists(m_Dir))
                Directory.Delete(m_Dir, true);
        }

        Trellis2Client Client()
        {
            return new Trellis2Client(m_ServerUrl, null);
        }

        static GenerationSettings Small(string name)
        {
            return new GenerationSettings
            {
                DisplayName = name,
                Resolution = PipelineType.Res512,
                Seed = 1,
                TextureSize = 256,
                DecimationTarget = 2000,
            };
        }

        CreateJobRequest Request(string name)
        {
            return JobRequests.Create(m_Image, Small(name), RenderPipelineKind.Universal, null);
        }

        static bool RequireGltf
        {
            get { return Environment.GetEnvironmentVariable("TRELLIS2_TEST_REQUIRE_GLTF") == "1"; }
        }

        /// <summary>One finished job shared by the download tests (generated once).</summary>
        JobRecord FinishedJob()
        {
            lock (s_Lock)
            {
                if (s_Finished != null)
                    return s_Finished;
                using (var client = Client())
                {
                    var request = Request("shared");
                    var job = AsyncTest.Run(() => client.CreateJobAsync(request, k_None));
                    var record = JobRequests.NewRecord(job, request, Small("shared"),
                        RenderPipelineKind.Universal, "Assets/Generated/shared", m_ServerUrl, null);
                    AsyncTest.Run(() => new JobWatcher(client, null).WatchUntilDoneAsync(record, k_None));
                    Assert.AreEqual(JobState.Succeeded, record.State, record.ErrorMessage);
                    s_Finished = record;
                    return record;
                }
            }
        }

        [Test]
        public void Server_info_reports_a_loaded_backend_and_limits()
        {
            using (var client = Client())
            {
                var info = AsyncTest.Run(() => client.GetServerInfoAsync(k_None));
                Assert.IsNotEmpty(info.Version);
                Assert.IsTrue(info.Backends.Any(b => b.Loaded), "no loaded backend");
                Assert.Greater(info.Limits.MaxUploadBytes, 0L);
                // The preview backend accepts every pipeline type, so the form offers them all.
                var all = new[] { PipelineType.Res512, PipelineType.Res1536Cascade };
                CollectionAssert.AreEqual(all, PipelineChoices.Offered(all, info, ""));
            }
        }

        [Test]
        public void Generate_streams_ordered_progress_to_completion_and_imports_verified_files()
        {
            using (var client = Client())
            {
                var events = new List<JobEvent>();
                var request = Request("streamed");
                AsyncTest.Run(async () =>
                {
                    using (var stream = await client.GenerateAssetAsync(request, k_None))
                    {
                        JobEvent evt;
                        while ((evt = await stream.ReadNextAsync(k_None)) != null)
                            events.Add(evt);
                    }
                });
                var stored = events.Where(e => e.Heartbeat == null).ToList();
                Assert.AreEqual(1L, stored[0].Seq, "GenerateAsset starts at seq 1");
                for (var i = 1; i < stored.Count; i++)
                    Assert.Greater(stored[i].Seq, stored[i - 1].Seq);
                Assert.IsTrue(stored.Any(e => e.Progress != null), "no progress event");
                var fractions = stored.Where(e => e.Progress != null).Select(e => e.Progress.Fraction).ToList();
                for (var i = 1; i < fractions.Count; i++)
                    Assert.GreaterOrEqual(fractions[i], fractions[i - 1] - 1e-6f, "progress went back");
                var last = stored.Last();
                Assert.IsNotNull(last.Completed, "the stream must end with the completed event");

                // Preview thumbnails (shown in the window while the job runs) are verified PNGs.
                var thumbnails = stored.Where(e => e.Preview != null && e.Preview.Thumbnail != null)
                    .Select(e => e.Preview.Thumbnail).ToList();
                Assert.Greater(thumbnails.Count, 0, "no preview thumbnail arrived");
                var png = AsyncTest.Run(() => client.DownloadBytesAsync(thumbnails[0], k_None));
                CollectionAssert.AreEqual(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, png.Take(4).ToArray());

                var record = new JobRecord
                {
                    JobId = JobNames.ToId(last.Job),
                    Name = last.Job,
                    DisplayName = "streamed",
                    Settings = Small("streamed"),
                    RenderPipeline = RenderPipelineKind.Universal,
                    OutputFolder = "Assets/Generated/streamed",
                };
                foreach (var e in stored)
                    JobRecordUpdater.Apply(record, e);
                Assert.AreEqual(JobState.Succeeded, record.State);
                var plan = ImportPlanner.PlanFiles(record);
                long lastDone = -1, total = 0;
                var staging = Path.Combine(m_Dir, "Library", "Trellis2Downloads");
                AsyncTest.Run(() => ArtifactDownloader.DownloadAllAsync(client, plan, m_Dir, staging,
                    (done, all) => { lastDone = done; total = all; }, k_None));
                Assert.AreEqual(total, lastDone, "progress reaches the total");
                Assert.AreEqual(0, Directory.GetFiles(staging, "*", SearchOption.AllDirectories).Length,
                    "every staged file was moved into the project");
                foreach (var file in plan.Files)
                {
                    var path = Path.Combine(m_Dir, file.AssetPath);
                    Assert.IsTrue(File.Exists(path), file.AssetPath);
                    Assert.AreEqual(file.Artifact.Digest, Sha256.OfFile(path));
                    Assert.AreEqual(file.Artifact.SizeBytes, new FileInfo(path).Length);
                    Assert.IsFalse(File.Exists(path + ".part"));
                }
                var model = plan.Files.First(f => f.IsModel).Artifact;
                var isGltf = model.MediaType != null && model.MediaType.StartsWith("model/gltf", StringComparison.Ordinal);
                if (RequireGltf)
                    Assert.IsTrue(isGltf, "the main artifact is " + model.MediaType + ", expected glTF");
                if (!isGltf)
                    return;
                var info = GltfMaterialInfo.FromFile(Path.Combine(m_Dir, plan.ModelPath));
                ImportPlanner.PlanMaterial(plan, info);
                Assert.AreEqual(MaterialPlanner.k_UrpLit, plan.Material.ShaderName);
                if (plan.ModelPath.EndsWith(".gltf", StringComparison.Ordinal))
                {
                    // Every texture the material uses is a file the download put in place.
                    var baseColor = plan.FindTexture(TextureRole.BaseColor);
                    Assert.IsNotNull(baseColor, "the .gltf names no base colour image file");
                    foreach (var t in plan.Textures)
                        Assert.IsTrue(File.Exists(Path.Combine(m_Dir, t.AssetPath)), t.AssetPath);
                    Assert.IsNotNull(plan.FindTexture(TextureRole.MetallicSmoothness),
                        "the server did not deliver the requested METALLIC_SMOOTHNESS texture");
                }
            }
        }

        [Test]
        public void Reattach_after_a_disconnect_resumes_after_the_last_seq_without_duplicates()
        {
            using (var client = Client())
            {
                var request = Request("reattached");
                var job = AsyncTest.Run(() => client.CreateJobAsync(request, k_None));
                Assert.IsNotEmpty(job.JobId);
                var record = JobRequests.NewRecord(job, request, Small("reattached"),
                    RenderPipelineKind.Universal, "Assets/Generated/reattached", m_ServerUrl, null);
                // Follow the first two stored events, then hang up (a domain reload does this).
                AsyncTest.Run(async () =>
                {
                    using (var stream = await client.WatchJobAsync(record.Name, 0, k_None))
                    {
                        var seen = 0;
                        while (seen < 2)
                        {
                            var evt = await stream.ReadNextAsync(k_None);
                            Assert.IsNotNull(evt, "stream ended early");
                            var effect = JobRecordUpdater.Apply(record, evt);
                            if (effect != JobEventEffect.Heartbeat)
                                seen++;
                            if (effect == JobEventEffect.Terminal)
                                break;
                        }
                    }
                });
                var before = record.LastSeq;
                Assert.Greater(before, 0L);

                // The record survives a reload through the store.
                var store = new JobRecordStore();
                store.Upsert(record);
                var path = Path.Combine(m_Dir, "Trellis2Jobs.json");
                store.SaveFile(path);
                var reloaded = new JobRecordStore();
                reloaded.LoadFile(path);
                var restored = reloaded.Find(record.JobId);
                Assert.AreEqual(before, restored.LastSeq);

                var seqs = new List<long>();
                var saves = 0;
                var watcher = new JobWatcher(client, r => saves++);
                watcher.EventApplied += (r, e) => seqs.Add(e.Seq);
                AsyncTest.Run(() => watcher.WatchUntilDoneAsync(restored, k_None));
                Assert.AreEqual(JobState.Succeeded, restored.State, restored.ErrorMessage);
                Assert.IsTrue(restored.NeedsAttention, "finished, import pending");
                Assert.Greater(seqs.Count, 0, "nothing after reattaching");
                Assert.AreEqual(before + 1, seqs[0], "the replay starts right after the last seq");
                for (var i = 1; i < seqs.Count; i++)
                    Assert.Greater(seqs[i], seqs[i - 1]);
                Assert.AreEqual(seqs.Count, saves, "the record is saved after every applied event");
                Assert.Greater(restored.Artifacts.Count, 0);
                Assert.IsNotNull(restored.SeedUsed);

                // Reattaching once more when everything was already seen finishes from GetJob.
                var again = new JobRecord { JobId = restored.JobId, LastSeq = restored.LastSeq };
                AsyncTest.Run(() => new JobWatcher(client, null).WatchUntilDoneAsync(again, k_None));
                Assert.AreEqual(JobState.Succeeded, again.State);
                CollectionAssert.AreEqual(restored.Artifacts.Select(a => a.Digest).ToList(),
                    again.Artifacts.Select(a => a.Digest).ToList());
            }
        }

        [Test]
        public void Dropped_connection_mid_job_reconnects_by_itself_and_resumes_after_the_last_seq()
        {
            using (var relay = new TcpRelay(new Uri(m_ServerUrl)))
            using (var client = new Trellis2Client(relay.Url, null))
            {
                var request = Request("dropped");
                var job = AsyncTest.Run(() => client.CreateJobAsync(request, k_None));
                var record = JobRequests.NewRecord(job, request, Small("dropped"),
                    RenderPipelineKind.Universal, "Assets/Generated/dropped", m_ServerUrl, null);
                var seqs = new List<long>();
                var failures = new List<Trellis2ErrorCode>();
                var cut = false;
                var watcher = new JobWatcher(client, null) { FirstRetryDelay = TimeSpan.FromMilliseconds(50) };
                watcher.EventApplied += (r, e) =>
                {
                    seqs.Add(e.Seq);
                    if (!cut)
                    {
                        cut = true;
                        relay.CutAll(); // The network fails in the middle of the stream.
                    }
                };
                watcher.Reconnecting += (r, e) => failures.Add(e.Code);
                AsyncTest.Run(() => watcher.WatchUntilDoneAsync(record, k_None));
                Assert.AreEqual(JobState.Succeeded, record.State, record.ErrorMessage);
                Assert.GreaterOrEqual(failures.Count, 1, "the cut was not noticed");
                Assert.IsTrue(failures.TrueForAll(c => c == Trellis2ErrorCode.ServerUnreachable));
                Assert.GreaterOrEqual(relay.Accepted, 2, "no second connection");
                for (var i = 1; i < seqs.Count; i++)
                    Assert.Greater(seqs[i], seqs[i - 1], "duplicate or out-of-order event after reconnecting");
            }
        }

        [Test]
        public void Cancel_of_a_queued_job_ends_its_watch_with_canceled()
        {
            using (var client = Client())
            {
                // One worker: the first job keeps it busy, so the second is still queued.
                var busy = AsyncTest.Run(() => client.CreateJobAsync(Request("busy"), k_None));
                var request = Request("canceled");
                var victim = AsyncTest.Run(() => client.CreateJobAsync(request, k_None));
                var after = AsyncTest.Run(() => client.CancelJobAsync(victim.Name, k_None));
                Assert.IsTrue(after.State == JobState.Canceled || after.State == JobState.Running,
                    "state after cancel: " + after.State);
                var record = JobRequests.NewRecord(victim, request, Small("canceled"),
                    RenderPipelineKind.Universal, "Assets/Generated/canceled", m_ServerUrl, null);
                AsyncTest.Run(() => new JobWatcher(client, null).WatchUntilDoneAsync(record, k_None));
                Assert.AreEqual(JobState.Canceled, record.State);
                Assert.AreEqual(Trellis2ErrorCode.Canceled, record.ErrorCode);
                Assert.IsFalse(record.NeedsAttention);
                var fetched = AsyncTest.Run(() => client.GetJobAsync(victim.JobId, k_None));
                Assert.AreEqual(JobState.Canceled, fetched.State);
                // Canceling a running job stops it at its next step boundary.
                AsyncTest.Run(() => client.CancelJobAsync(busy.Name, k_None));
                var busyRecord = new JobRecord { JobId = busy.JobId };
                AsyncTest.Run(() => new JobWatcher(client, null).WatchUntilDoneAsync(busyRecord, k_None));
                Assert.IsTrue(busyRecord.State == JobState.Canceled || busyRecord.State == JobState.Succeeded,
                    "busy job ended " + busyRecord.State);
            }
        }

        [Test]
        public void Interrupted_download_resumes_with_a_range_request_and_verifies_the_digest()
        {
            var record = FinishedJob();
            var artifact = record.Artifacts.OrderByDescending(a => a.SizeBytes).First();
            Assert.Greater(artifact.SizeBytes, 16L);
            var handler = new RecordingHandler();
            using (var client = new Trellis2Client(m_ServerUrl, null, handler))
            {
                var whole = AsyncTest.Run(() => client.DownloadBytesAsync(artifact, k_None));
                Assert.AreEqual(artifact.SizeBytes, (long)whole.Length);
                var target = Path.Combine(m_Dir, "resumed", artifact.Filename);
                Directory.CreateDirectory(Path.GetDirectoryName(target));
                var half = whole.Length / 2;
                File.WriteAllBytes(target + ".part", whole.Take(half).ToArray());
                AsyncTest.Run(() => client.DownloadArtifactAsync(artifact, target, null, k_None));
                Assert.AreEqual("bytes=" + half + "-", handler.Ranges.Last());
                CollectionAssert.AreEqual(whole, File.ReadAllBytes(target));
                Assert.IsFalse(File.Exists(target + ".part"));

                // A corrupted partial file is caught by the digest and removed.
                var bad = Path.Combine(m_Dir, "bad", artifact.Filename);
                Directory.CreateDirectory(Path.GetDirectoryName(bad));
                var garbage = whole.Take(half).ToArray();
                garbage[0] ^= 0xff;
                File.WriteAllBytes(bad + ".part", garbage);
                var e = Assert.Throws<Trellis2Exception>(() =>
                    AsyncTest.Run(() => client.DownloadArtifactAsync(artifact, bad, null, k_None)));
                Assert.AreEqual(Trellis2ErrorCode.DigestMismatch, e.Code);
                Assert.IsFalse(File.Exists(bad + ".part"));
                Assert.IsFalse(File.Exists(bad));
                // The next attempt starts over and succeeds.
                AsyncTest.Run(() => client.DownloadArtifactAsync(artifact, bad, null, k_None));
                Assert.AreEqual(artifact.Digest, Sha256.OfFile(bad));
            }
        }

        [Test]
        public void Hdrp_job_delivers_the_mask_map_that_hdrp_lit_reads_and_team_list_offers_it()
        {
            using (var client = Client())
            {
                var settings = Small("hdrp");
                var request = JobRequests.Create(m_Image, settings, RenderPipelineKind.HighDefinition, null);
                CollectionAssert.AreEqual(new[] { ExtraTexture.MaskMap }, request.ExportOptions.ExtraTextures);
                var job = AsyncTest.Run(() => client.CreateJobAsync(request, k_None));
                var record = JobRequests.NewRecord(job, request, settings, RenderPipelineKind.HighDefinition,
                    "Assets/Generated/hdrp", m_ServerUrl, null);
                AsyncTest.Run(() => new JobWatcher(client, null).WatchUntilDoneAsync(record, k_None));
                Assert.AreEqual(JobState.Succeeded, record.State, record.ErrorMessage);

                // The team's job list has it, and a record made from the listing plans the same files.
                var listed = AsyncTest.Run(() => client.ListJobsAsync(new ListJobsRequest { PageSize = 50 }, k_None));
                var mine = listed.Jobs.FirstOrDefault(j => j.JobId == record.JobId);
                Assert.IsNotNull(mine, "ListJobs does not list the job");
                var adopted = JobRequests.RecordFromJob(mine, RenderPipelineKind.HighDefinition,
                    "Assets/Generated/hdrp", m_ServerUrl);
                var plan = ImportPlanner.PlanFiles(adopted);
                CollectionAssert.AreEquivalent(ImportPlanner.PlanFiles(record).Files.Select(f => f.AssetPath).ToList(),
                    plan.Files.Select(f => f.AssetPath).ToList());

                AsyncTest.Run(() => ArtifactDownloader.DownloadAllAsync(client, plan, m_Dir, null, k_None));
                var model = plan.Files.First(f => f.IsModel).Artifact;
                if (!(model.MediaType ?? "").StartsWith("model/gltf", StringComparison.Ordinal))
                {
                    Assert.IsFalse(RequireGltf, "the main artifact is " + model.MediaType);
                    return;
                }
                ImportPlanner.PlanMaterial(plan, GltfMaterialInfo.FromFile(Path.Combine(m_Dir, plan.ModelPath)));
                var mask = plan.FindTexture(TextureRole.MaskMap);
                Assert.IsNotNull(mask, "the server did not deliver the requested MASK_MAP texture");
                Assert.IsFalse(mask.SRgb);
                Assert.AreEqual(MaterialPlanner.k_HdrpLit, plan.Material.ShaderName);
                Assert.AreEqual(mask.AssetPath, plan.Material.GetTexture("_MaskMap"));
                Assert.IsTrue(File.Exists(Path.Combine(m_Dir, mask.AssetPath)));
            }
        }

        [Test]
        public void Several_streams_at_once_leave_room_for_other_calls()
        {
            // An editor follows every running job and still needs unary calls and downloads;
            // Mono's default of two connections per host must not make them queue behind streams.
            using (var client = Client())
            {
                var streams = new List<JobEventStream>();
                try
                {
                    for (var i = 0; i < 4; i++)
                    {
                        var request = Request("parallel" + i);
                        var job = AsyncTest.Run(() => client.CreateJobAsync(request, k_None));
                        var stream = AsyncTest.Run(() => client.WatchJobAsync(job.Name, 0, k_None));
                        streams.Add(stream);
                        Assert.IsNotNull(AsyncTest.Run(() => stream.ReadNextAsync(k_None)));
                    }
                    client.UnaryTimeout = TimeSpan.FromSeconds(5);
                    var info = AsyncTest.Run(() => client.GetServerInfoAsync(k_None));
                    Assert.GreaterOrEqual(info.QueueDepth + info.RunningJobs, 1);
                    foreach (var job in AsyncTest.Run(() => client.ListJobsAsync(null, k_None)).Jobs)
                        if (job.Spec != null && job.Spec.DisplayName.StartsWith("parallel", StringComparison.Ordinal))
                            AsyncTest.Run(() => client.CancelJobAsync(job.Name, k_None));
                }
                finally
                {
                    foreach (var stream in streams)
                        stream.Dispose();
                }
            }
        }

        [Test]
        public void Invalid_image_is_refused_with_advice()
        {
            using (var client = Client())
            {
                var request = Request("broken");
                request.Image = new byte[] { 1, 2, 3, 4, 5, 6, 7, 8 };
                var e = Assert.Throws<Trellis2Exception>(() =>
                    AsyncTest.Run(() => client.CreateJobAsync(request, k_None)));
                Assert.AreEqual(Trellis2ErrorCode.InvalidImage, e.Code);
                Assert.AreEqual("invalid_argument", e.ConnectCode);
                StringAssert.Contains(Trellis2ErrorMessages.Advice(Trellis2ErrorCode.InvalidImage), e.Message);
            }
        }

        [Test]
        public void Unknown_job_is_not_found_for_unary_and_streaming_calls()
        {
            using (var client = Client())
            {
                var unary = Assert.Throws<Trellis2Exception>(() =>
                    AsyncTest.Run(() => client.GetJobAsync("jobs/does-not-exist", k_None)));
                Assert.AreEqual(Trellis2ErrorCode.NotFound, unary.Code);
                var streamed = Assert.Throws<Trellis2Exception>(() => AsyncTest.Run(async () =>
                {
                    using (var stream = await client.WatchJobAsync("does-not-exist", 0, k_None))
                        while (await stream.ReadNextAsync(k_None) != null) { }
                }));
                Assert.AreEqual(Trellis2ErrorCode.NotFound, streamed.Code);
                var download = Assert.Throws<Trellis2Exception>(() => AsyncTest.Run(() =>
                    client.DownloadBytesAsync(new Artifact { Digest = new string('0', 64) }, k_None)));
                Assert.AreEqual(Trellis2ErrorCode.NotFound, download.Code);
            }
        }

        [Test]
        public void Closed_port_is_reported_as_server_unreachable()
        {
            using (var client = new Trellis2Client("http://127.0.0.1:9", null))
            {
                var e = Assert.Throws<Trellis2Exception>(() =>
                    AsyncTest.Run(() => client.GetServerInfoAsync(k_None)));
                Assert.AreEqual(Trellis2ErrorCode.ServerUnreachable, e.Code);
                StringAssert.Contains("127.0.0.1:9", e.Message);
            }
        }

        [Test]
        public void Canceling_the_token_stops_watching_but_not_the_job()
        {
            using (var client = Client())
            using (var cts = new CancellationTokenSource())
            {
                var request = Request("detached");
                var job = AsyncTest.Run(() => client.CreateJobAsync(request, k_None));
                var record = JobRequests.NewRecord(job, request, Small("detached"),
                    RenderPipelineKind.Universal, "Assets/Generated/detached", m_ServerUrl, null);
                var watcher = new JobWatcher(client, null);
                watcher.EventApplied += (r, e) => cts.Cancel();
                Assert.Catch<OperationCanceledException>(() =>
                    AsyncTest.Run(() => watcher.WatchUntilDoneAsync(record, cts.Token)),
                    "canceling the token ends the watch");
                var resumed = new JobWatcher(client, null);
                AsyncTest.Run(() => resumed.WatchUntilDoneAsync(record, k_None));
                Assert.AreEqual(JobState.Succeeded, record.State, "the job itself kept running");
            }
        }
    }
}
