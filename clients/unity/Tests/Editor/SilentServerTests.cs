// SPDX-License-Identifier: MIT
using System;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using NUnit.Framework;

namespace Trellis2.Editor.Tests
{
    /// <summary>
    /// Deadlines against a real socket that accepts and then goes quiet: a unary call that gets
    /// no answer times out, and an event stream whose server stops sending (no heartbeats)
    /// counts as dropped so the watcher reconnects.
    /// </summary>
    [TestFixture]
    public class SilentServerTests
    {
        TcpListener m_Listener;
        string m_Url;

        [SetUp]
        public void SetUp()
        {
            m_Listener = new TcpListener(IPAddress.Loopback, 0);
            m_Listener.Start();
            m_Url = "http://127.0.0.1:" + ((IPEndPoint)m_Listener.LocalEndpoint).Port;
        }

        [TearDown]
        public void TearDown()
        {
            m_Listener.Stop();
        }

        /// <summary>Accepts one connection, optionally writes a response head, then stays silent.</summary>
        Task<TcpClient> AcceptAndAnswer(string head)
        {
            return Task.Run(async () =>
            {
                var client = await m_Listener.AcceptTcpClientAsync();
                var stream = client.GetStream();
                var buffer = new byte[65536];
                await stream.ReadAsync(buffer, 0, buffer.Length); // The request (not parsed).
                if (head != null)
                {
                    var bytes = Encoding.ASCII.GetBytes(head);
                    await stream.WriteAsync(bytes, 0, bytes.Length);
                }
                return client;
            });
        }

        [Test]
        public void Unanswered_unary_call_times_out_with_the_timeout_code()
        {
            var accepted = AcceptAndAnswer(null);
            using (var client = new Trellis2Client(m_Url, null) { UnaryTimeout = TimeSpan.FromMilliseconds(300) })
            {
                var e = Assert.Throws<Trellis2Exception>(() =>
                    AsyncTest.Run(() => client.GetServerInfoAsync(CancellationToken.None)));
                Assert.AreEqual(Trellis2ErrorCode.Timeout, e.Code, e.Message);
                Assert.IsTrue(e.IsTransient);
            }
            accepted.Result.Close();
        }

        [Test]
        public void Stream_that_goes_silent_counts_as_dropped_after_the_idle_timeout()
        {
            var accepted = AcceptAndAnswer(
                "HTTP/1.1 200 OK\r\nContent-Type: application/connect+json\r\nTransfer-Encoding: chunked\r\n\r\n");
            using (var client = new Trellis2Client(m_Url, null) { StreamIdleTimeout = TimeSpan.FromMilliseconds(300) })
            {
                var e = Assert.Throws<Trellis2Exception>(() => AsyncTest.Run(async () =>
                {
                    using (var stream = await client.WatchJobAsync("jobs/quiet", 0, CancellationToken.None))
                        await stream.ReadNextAsync(CancellationToken.None);
                }));
                Assert.AreEqual(Trellis2ErrorCode.ServerUnreachable, e.Code, e.Message);
                StringAssert.Contains("no data from the server", e.Message);
                Assert.IsTrue(e.IsTransient, "the watcher reconnects after this");
            }
            accepted.Result.Close();
        }

        [Test]
        public void Http_error_without_a_connect_body_maps_by_status()
        {
            var accepted = AcceptAndAnswer(
                "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/html\r\nContent-Length: 5\r\nConnection: close\r\n\r\n<html");
            using (var client = new Trellis2Client(m_Url, null))
            {
                var e = Assert.Throws<Trellis2Exception>(() =>
                    AsyncTest.Run(() => client.GetServerInfoAsync(CancellationToken.None)));
                Assert.AreEqual(Trellis2ErrorCode.ServerUnavailable, e.Code, e.Message);
                Assert.AreEqual(503, e.HttpStatus);
            }
            accepted.Result.Close();
        }
    }
}
