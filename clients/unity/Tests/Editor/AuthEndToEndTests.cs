// SPDX-License-Identifier: MIT
using System;
using System.Collections.Generic;
using System.IO;
using System.Threading;
using NUnit.Framework;

namespace Trellis2.Editor.Tests
{
    /// <summary>
    /// API keys and quotas against a real server that requires keys and queues at most one job.
    /// Set TRELLIS2_TEST_AUTH_SERVER_URL, TRELLIS2_TEST_API_KEY and TRELLIS2_TEST_IMAGE (pytest
    /// does); ignored otherwise.
    /// </summary>
    [TestFixture]
    public class AuthEndToEndTests
    {
        static readonly CancellationToken k_None = CancellationToken.None;

        string m_ServerUrl;
        string m_ApiKey;
        byte[] m_Image;

        [SetUp]
        public void SetUp()
        {
            m_ServerUrl = Environment.GetEnvironmentVariable("TRELLIS2_TEST_AUTH_SERVER_URL");
            m_ApiKey = Environment.GetEnvironmentVariable("TRELLIS2_TEST_API_KEY");
            var image = Environment.GetEnvironmentVariable("TRELLIS2_TEST_IMAGE");
            if (string.IsNullOrEmpty(m_ServerUrl) || string.IsNullOrEmpty(m_ApiKey) || string.IsNullOrEmpty(image))
                Assert.Ignore("set TRELLIS2_TEST_AUTH_SERVER_URL, TRELLIS2_TEST_API_KEY and TRELLIS2_TEST_IMAGE");
            m_Image = File.ReadAllBytes(image);
        }

        static void AssertUnauthenticated(TestDelegate call)
        {
            var e = Assert.Throws<Trellis2Exception>(call);
            Assert.AreEqual(Trellis2ErrorCode.Unauthenticated, e.Code, e.Message);
            StringAssert.Contains(Trellis2ErrorMessages.Advice(Trellis2ErrorCode.Unauthenticated), e.Message);
        }

        [Test]
        public void Calls_without_or_with_a_wrong_key_are_unauthenticated_and_say_where_to_set_it()
        {
            foreach (var key in new[] { null, "not-the-key" })
            {
                using (var client = new Trellis2Client(m_ServerUrl, key))
                {
                    AssertUnauthenticated(() => AsyncTest.Run(() => client.ListJobsAsync(null, k_None)));
                    var request = JobRequests.Create(m_Image, new GenerationSettings(), RenderPipelineKind.Universal, null);
                    AssertUnauthenticated(() => AsyncTest.Run(() => client.CreateJobAsync(request, k_None)));
                    AssertUnauthenticated(() => AsyncTest.Run(async () =>
                    {
                        using (var stream = await client.WatchJobAsync("jobs/anything", 0, k_None))
                            while (await stream.ReadNextAsync(k_None) != null) { }
                    }));
                }
            }
        }

        [Test]
        public void A_full_queue_is_reported_as_quota_with_advice()
        {
            using (var client = new Trellis2Client(m_ServerUrl, m_ApiKey))
            {
                var settings = new GenerationSettings
                {
                    DisplayName = "flood", Resolution = PipelineType.Res512, TextureSize = 256, DecimationTarget = 2000,
                };
                var created = new List<Job>();
                Trellis2Exception refused = null;
                for (var i = 0; i < 4 && refused == null; i++)
                {
                    var request = JobRequests.Create(m_Image, settings, RenderPipelineKind.Universal, null);
                    try
                    {
                        created.Add(AsyncTest.Run(() => client.CreateJobAsync(request, k_None)));
                    }
                    catch (Trellis2Exception e)
                    {
                        refused = e;
                    }
                }
                foreach (var job in created)
                    AsyncTest.Run(() => client.CancelJobAsync(job.Name, k_None));
                Assert.IsNotNull(refused, "the server accepted " + created.Count + " jobs with a queue of one");
                Assert.AreEqual(Trellis2ErrorCode.QuotaExceeded, refused.Code, refused.Message);
                Assert.AreEqual("resource_exhausted", refused.ConnectCode);
                StringAssert.Contains(Trellis2ErrorMessages.Advice(Trellis2ErrorCode.QuotaExceeded), refused.Message);
            }
        }

        [Test]
        public void The_right_key_creates_follows_and_downloads_and_artifacts_need_it_too()
        {
            using (var client = new Trellis2Client(m_ServerUrl, m_ApiKey))
            using (var anonymous = new Trellis2Client(m_ServerUrl, null))
            {
                var settings = new GenerationSettings
                {
                    DisplayName = "keyed", Resolution = PipelineType.Res512, Seed = 3, TextureSize = 256,
                    DecimationTarget = 2000,
                };
                var request = JobRequests.Create(m_Image, settings, RenderPipelineKind.Universal, null);
                var job = AsyncTest.Run(() => client.CreateJobAsync(request, k_None));
                Assert.AreEqual("unity", job.Team);
                var record = JobRequests.NewRecord(job, request, settings, RenderPipelineKind.Universal,
                    "Assets/Generated/keyed", m_ServerUrl, null);
                AsyncTest.Run(() => new JobWatcher(client, null).WatchUntilDoneAsync(record, k_None));
                Assert.AreEqual(JobState.Succeeded, record.State, record.ErrorMessage);
                var artifact = record.Artifacts[0];
                var bytes = AsyncTest.Run(() => client.DownloadBytesAsync(artifact, k_None));
                Assert.AreEqual(artifact.SizeBytes, (long)bytes.Length);
                AssertUnauthenticated(() => AsyncTest.Run(() => anonymous.DownloadBytesAsync(artifact, k_None)));
            }
        }
    }
}
