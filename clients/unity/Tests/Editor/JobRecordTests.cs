// SPDX-License-Identifier: MIT
using System.IO;
using NUnit.Framework;

namespace Trellis2.Editor.Tests
{
    [TestFixture]
    public class JobRecordTests
    {
        string m_Dir;

        [SetUp]
        public void SetUp()
        {
            m_Dir = Path.Combine(Path.GetTempPath(), "trellis2-unity-" + System.Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(m_Dir);
        }

        [TearDown]
        public void TearDown()
        {
            if (Directory.Exists(m_Dir))
                Directory.Delete(m_Dir, true);
        }

        static JobEvent Event(long seq, string json)
        {
            var evt = ProtoJson.Deserialize<JobEvent>(json);
            evt.Seq = seq;
            return evt;
        }

        static JobRecord Record(string id)
        {
            return new JobRecord { JobId = id, Name = "jobs/" + id, State = JobState.Queued };
        }

        [Test]
        public void Events_fold_into_the_record_and_replayed_seqs_are_ignored()
        {
            var r = Record("a");
            Assert.AreEqual(JobEventEffect.Updated, JobRecordUpdater.Apply(r, Event(1, "{\"queued\":{\"position\":2}}")));
            Assert.AreEqual(2, r.QueuePosition);
            Assert.AreEqual(JobEventEffect.Updated, JobRecordUpdater.Apply(r, Event(2, "{\"started\":{\"worker\":\"w0\"}}")));
            Assert.AreEqual(JobState.Running, r.State);
            Assert.AreEqual(JobEventEffect.Updated, JobRecordUpdater.Apply(r,
                Event(3, "{\"progress\":{\"stage\":\"tex_slat\",\"fraction\":0.5,\"etaSeconds\":4}}")));
            Assert.AreEqual(0.5f, r.ProgressFraction, 1e-6f);
            Assert.AreEqual("tex_slat", r.Stage);
            // A replay after reattaching repeats seq 2 and 3: nothing changes.
            Assert.AreEqual(JobEventEffect.Duplicate, JobRecordUpdater.Apply(r, Event(2, "{\"started\":{}}")));
            Assert.AreEqual(JobEventEffect.Duplicate, JobRecordUpdater.Apply(r,
                Event(3, "{\"progress\":{\"fraction\":0.1}}")));
            Assert.AreEqual(0.5f, r.ProgressFraction, 1e-6f);
            Assert.AreEqual(JobEventEffect.Heartbeat, JobRecordUpdater.Apply(r, Event(3, "{\"heartbeat\":{}}")));
            Assert.AreEqual(3L, r.LastSeq);
            Assert.AreEqual(JobEventEffect.Updated, JobRecordUpdater.Apply(r,
                Event(4, "{\"preview\":{\"kind\":\"PREVIEW_KIND_MESH\",\"thumbnail\":{\"digest\":\"t\",\"kind\":\"ARTIFACT_KIND_THUMBNAIL\"}}}")));
            Assert.AreEqual("t", r.LatestThumbnail.Digest);
            Assert.AreEqual(JobEventEffect.Terminal, JobRecordUpdater.Apply(r,
                Event(5, "{\"completed\":{\"artifacts\":[{\"digest\":\"d\",\"filename\":\"a.gltf\",\"kind\":\"ARTIFACT_KIND_ASSET\"}]}}")));
            Assert.AreEqual(JobState.Succeeded, r.State);
            Assert.AreEqual(1, r.Artifacts.Count);
            Assert.IsTrue(r.IsTerminal);
            Assert.IsTrue(r.NeedsAttention, "succeeded but not imported yet");
            r.Imported = true;
            Assert.IsFalse(r.NeedsAttention);
        }

        [Test]
        public void Failed_and_canceled_events_record_a_user_facing_error()
        {
            var failed = Record("f");
            JobRecordUpdater.Apply(failed, Event(1, "{\"failed\":{\"error\":{\"code\":13,\"message\":\"decoder crashed\"}}}"));
            Assert.AreEqual(JobState.Failed, failed.State);
            Assert.AreEqual(Trellis2ErrorCode.JobFailed, failed.ErrorCode);
            Assert.AreEqual("decoder crashed", failed.ErrorMessage);
            Assert.IsFalse(failed.NeedsAttention);
            var canceled = Record("c");
            JobRecordUpdater.Apply(canceled, Event(1, "{\"canceled\":{\"wasRunning\":true}}"));
            Assert.AreEqual(JobState.Canceled, canceled.State);
            Assert.AreEqual(Trellis2ErrorCode.Canceled, canceled.ErrorCode);
        }

        [Test]
        public void Store_round_trips_through_a_file_and_lists_pending_jobs()
        {
            var store = new JobRecordStore();
            var running = Record("run");
            running.LastSeq = 41;
            running.Settings.Seed = 123456789012345L;
            running.Settings.DisplayName = "chair";
            running.RenderPipeline = RenderPipelineKind.HighDefinition;
            running.OutputFolder = "Assets/Generated/chair";
            var done = Record("done");
            done.State = JobState.Succeeded;
            done.Imported = true;
            store.Upsert(done);
            store.Upsert(running);
            var path = Path.Combine(m_Dir, "UserSettings", "Trellis2Jobs.json");
            store.SaveFile(path);
            store.SaveFile(path); // Replacing an existing file works too.

            var loaded = new JobRecordStore();
            loaded.LoadFile(path);
            Assert.AreEqual(2, loaded.Records.Count);
            Assert.AreEqual("run", loaded.Records[0].JobId, "newest first");
            var back = loaded.Find("jobs/run");
            Assert.AreEqual(41L, back.LastSeq);
            Assert.AreEqual(123456789012345L, back.Settings.Seed);
            Assert.AreEqual(RenderPipelineKind.HighDefinition, back.RenderPipeline);
            Assert.AreEqual("Assets/Generated/chair", back.OutputFolder);
            Assert.AreEqual(1, loaded.Pending().Count);
            Assert.AreEqual("run", loaded.Pending()[0].JobId);
            StringAssert.Contains("\"lastSeq\": \"41\"", File.ReadAllText(path));
        }

        [Test]
        public void Upsert_replaces_by_job_id_and_trimming_keeps_unfinished_jobs()
        {
            var store = new JobRecordStore { MaxRecords = 3 };
            for (var i = 0; i < 5; i++)
            {
                var r = Record("done" + i);
                r.State = JobState.Succeeded;
                r.Imported = true;
                store.Upsert(r);
            }
            var pending = Record("pending");
            store.Upsert(pending);
            var again = Record("pending");
            again.LastSeq = 9;
            store.Upsert(again);
            Assert.AreEqual(3, store.Records.Count);
            Assert.AreEqual(9L, store.Find("pending").LastSeq);
            Assert.IsTrue(store.Remove("pending"));
            Assert.IsNull(store.Find("pending"));
        }

        [Test]
        public void Corrupt_history_file_is_moved_aside_not_lost()
        {
            var path = Path.Combine(m_Dir, "jobs.json");
            File.WriteAllText(path, "[{\"jobId\": ");
            var store = new JobRecordStore();
            store.LoadFile(path);
            Assert.AreEqual(0, store.Records.Count);
            Assert.IsTrue(File.Exists(path + ".corrupt"));
            Assert.IsFalse(File.Exists(path));
        }

        [Test]
        public void A_finished_team_job_from_list_jobs_becomes_an_importable_record()
        {
            var job = ProtoJson.Deserialize<Job>(
                "{\"name\":\"jobs/t1\",\"jobId\":\"t1\",\"state\":\"JOB_STATE_SUCCEEDED\",\"lastSeq\":\"12\"," +
                "\"spec\":{\"displayName\":\"old lamp\",\"seed\":\"99\",\"pipelineType\":\"PIPELINE_TYPE_512\"," +
                "\"exportOptions\":{\"textureSize\":2048,\"container\":\"ASSET_CONTAINER_GLB\"}}," +
                "\"artifacts\":[{\"digest\":\"d\",\"filename\":\"a.glb\",\"kind\":\"ARTIFACT_KIND_ASSET\"}]}");
            var r = JobRequests.RecordFromJob(job, RenderPipelineKind.Universal, "Assets/Generated/old_lamp", "http://s:8080");
            Assert.AreEqual("t1", r.JobId);
            Assert.AreEqual("old_lamp", r.DisplayName);
            Assert.AreEqual(99L, r.SeedUsed);
            Assert.AreEqual(PipelineType.Res512, r.Settings.Resolution);
            Assert.AreEqual(2048, r.Settings.TextureSize);
            Assert.AreEqual(AssetContainer.Glb, r.Settings.Container);
            Assert.AreEqual(0L, r.LastSeq, "only events advance LastSeq");
            Assert.IsTrue(r.NeedsAttention);
            Assert.AreEqual("Assets/Generated/old_lamp/old_lamp.glb", ImportPlanner.PlanFiles(r).ModelPath);
        }

        [Test]
        public void Missing_history_file_is_an_empty_history()
        {
            var store = new JobRecordStore();
            store.LoadFile(Path.Combine(m_Dir, "nope.json"));
            Assert.AreEqual(0, store.Records.Count);
        }
    }
}
