// SPDX-License-Identifier: MIT
using NUnit.Framework;

namespace Trellis2.Editor.Tests
{
    [TestFixture]
    public class ProtoJsonTests
    {
        [Test]
        public void Request_uses_camel_case_enum_names_string_int64_and_base64_bytes()
        {
            var request = new CreateJobRequest
            {
                Image = new byte[] { 1, 2, 3 },
                PipelineType = PipelineType.Res1024Cascade,
                Seed = 9007199254740993L, // beyond double precision: must travel as a string
                ExportOptions = new ExportOptions { TextureSize = 512, Profile = OutputProfile.Unity },
                DisplayName = "chair",
            };
            request.ExportOptions.ExtraTextures.Add(ExtraTexture.MaskMap);
            var json = ProtoJson.Serialize(request);
            StringAssert.Contains("\"image\":\"AQID\"", json);
            StringAssert.Contains("\"pipelineType\":\"PIPELINE_TYPE_1024_CASCADE\"", json);
            StringAssert.Contains("\"seed\":\"9007199254740993\"", json);
            StringAssert.Contains("\"textureSize\":512", json);
            StringAssert.Contains("\"profile\":\"OUTPUT_PROFILE_UNITY\"", json);
            StringAssert.Contains("\"extraTextures\":[\"EXTRA_TEXTURE_MASK_MAP\"]", json);
        }

        [Test]
        public void Unset_optional_fields_are_left_out()
        {
            var json = ProtoJson.Serialize(new CreateJobRequest { DisplayName = "x" });
            StringAssert.DoesNotContain("seed", json);
            StringAssert.DoesNotContain("exportOptions", json);
        }

        [Test]
        public void Event_reads_int64_as_string_or_number_and_keeps_timestamps_as_text()
        {
            var evt = ProtoJson.Deserialize<JobEvent>(
                "{\"job\":\"jobs/abc\",\"seq\":\"7\",\"time\":\"2026-01-02T03:04:05.123Z\"," +
                "\"progress\":{\"stage\":\"shape_slat\",\"step\":3,\"total\":12,\"fraction\":0.25}}");
            Assert.AreEqual(7L, evt.Seq);
            Assert.AreEqual("2026-01-02T03:04:05.123Z", evt.Time);
            Assert.AreEqual("shape_slat", evt.Progress.Stage);
            Assert.AreEqual(0.25f, evt.Progress.Fraction, 1e-6f);
            Assert.IsNull(evt.Completed);
            Assert.AreEqual(8L, ProtoJson.Deserialize<JobEvent>("{\"seq\":8}").Seq);
        }

        [Test]
        public void Unknown_enum_names_and_unknown_fields_from_a_newer_server_are_tolerated()
        {
            var job = ProtoJson.Deserialize<Job>(
                "{\"state\":\"JOB_STATE_SOMETHING_NEW\",\"brandNewField\":{\"a\":1},\"jobId\":\"j\"}");
            Assert.AreEqual(JobState.Unspecified, job.State);
            Assert.AreEqual("j", job.JobId);
        }

        [Test]
        public void Enums_also_read_from_numbers()
        {
            Assert.AreEqual(JobState.Succeeded, ProtoJson.Deserialize<Job>("{\"state\":3}").State);
        }

        [Test]
        public void Missing_repeated_fields_read_as_empty_lists()
        {
            var completed = ProtoJson.Deserialize<JobCompleted>("{}");
            Assert.IsNotNull(completed.Artifacts);
            Assert.AreEqual(0, completed.Artifacts.Count);
        }

        [Test]
        public void Completed_event_reads_artifacts_with_kinds_and_sizes()
        {
            var evt = ProtoJson.Deserialize<JobEvent>(
                "{\"seq\":\"9\",\"completed\":{\"artifacts\":[{\"digest\":\"ab\",\"sizeBytes\":\"123\"," +
                "\"mediaType\":\"model/gltf+json\",\"filename\":\"a.gltf\",\"kind\":\"ARTIFACT_KIND_ASSET\"}]," +
                "\"stats\":{\"triangleCount\":\"1000\",\"alphaMode\":\"MASK\",\"extent\":[1,2,0.5]}}}");
            var artifact = evt.Completed.Artifacts[0];
            Assert.AreEqual(123L, artifact.SizeBytes);
            Assert.AreEqual(ArtifactKind.Asset, artifact.Kind);
            Assert.AreEqual(1000L, evt.Completed.Stats.TriangleCount);
            Assert.AreEqual(3, evt.Completed.Stats.Extent.Count);
        }
    }
}
