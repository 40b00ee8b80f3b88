// SPDX-License-Identifier: MIT
using System;
using System.IO;
using System.Net.Http;
using System.Threading;
using System.Threading.Tasks;
using Newtonsoft.Json.Linq;

namespace Trellis2.Editor
{
    /// <summary>
    /// A server-streaming call (WatchJob / GenerateAsset) in progress: read events one by one
    /// with <see cref="ReadNextAsync"/> until it returns null. Dispose to hang up; hanging up
    /// never cancels the job (only CancelJob does), so the stream can be reopened later with
    /// WatchJob(after_seq).
    /// </summary>
    public sealed class JobEventStream : IDisposable
    {
        readonly HttpResponseMessage m_Response;
        readonly Stream m_Body;
        readonly EnvelopeReader m_Reader;
        bool m_Ended;
        bool m_Disposed;

        internal JobEventStream(HttpResponseMessage response, Stream body, TimeSpan idleTimeout)
        {
            m_Response = response;
            m_Body = body;
            m_Reader = new EnvelopeReader(body);
            IdleTimeout = idleTimeout;
        }

        /// <summary>
        /// Longest silence tolerated between frames (the server sends heartbeats while idle);
        /// after it the stream counts as dropped (ServerUnreachable). Infinite disables it.
        /// </summary>
        public TimeSpan IdleTimeout { get; set; }

        /// <summary>
        /// The next event, or null once the server ended the stream cleanly (after the terminal
        /// event). Throws <see cref="Trellis2Exception"/> for an error end-of-stream message or a
        /// dropped connection, <see cref="OperationCanceledException"/> when canceled.
        /// </summary>
        public async Task<JobEvent> ReadNextAsync(CancellationToken cancellationToken)
        {
            if (m_Ended)
                return null;
            if (m_Disposed)
                throw new ObjectDisposedException("JobEventStream");
            using (var idle = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            {
                if (IdleTimeout != Timeout.InfiniteTimeSpan)
                    idle.CancelAfter(IdleTimeout);
                // Network streams do not always honour the token; closing the body does.
                using (idle.Token.Register(CloseBody))
                {
                    ConnectEnvelope frame;
                    try
                    {
                        frame = await m_Reader.ReadAsync(idle.Token).ConfigureAwait(false);
                    }
                    catch (Exception e) when (IsReadFailure(e))
                    {
                        cancellationToken.ThrowIfCancellationRequested();
                        if (idle.IsCancellationRequested)
                            throw new Trellis2Exception(Trellis2ErrorCode.ServerUnreachable,
                                "no data from the server for " + IdleTimeout.TotalSeconds +
                                " s (connection lost?)", null, 0, e);
                        throw new Trellis2Exception(Trellis2ErrorCode.ServerUnreachable,
                            "the event stream broke off: " + e.Message, null, 0, e);
                    }
                    return Decode(frame);
                }
            }
        }

        JobEvent Decode(ConnectEnvelope frame)
        {
            if (frame == null)
            {
                m_Ended = true;
                throw new Trellis2Exception(Trellis2ErrorCode.ServerUnreachable,
                    "the event stream ended without an end-of-stream message (connection lost?)");
            }
            if (frame.IsCompressed)
                throw new Trellis2Exception(Trellis2ErrorCode.ProtocolError,
                    "the server sent a compressed frame although none was negotiated");
            if (frame.IsEndStream)
            {
                m_Ended = true;
                var end = ParseObject(frame.PayloadText);
                var error = end["error"] as JObject;
                if (error != null)
                    throw ConnectErrors.FromErrorObject(error, 0);
                return null;
            }
            try
            {
                return ProtoJson.Deserialize<JobEvent>(frame.PayloadText);
            }
            catch (Newtonsoft.Json.JsonException e)
            {
                throw new Trellis2Exception(Trellis2ErrorCode.ProtocolError,
                    "unreadable event: " + e.Message, null, 0, e);
            }
        }

        static JObject ParseObject(string text)
        {
            try
            {
                return string.IsNullOrEmpty(text) ? new JObject() : JObject.Parse(text);
            }
            catch (Newtonsoft.Json.JsonException e)
            {
                throw new Trellis2Exception(Trellis2ErrorCode.ProtocolError,
                    "unreadable end-of-stream message: " + e.Message, null, 0, e);
            }
        }

        static bool IsReadFailure(Exception e)
        {
            return e is IOException || e is ObjectDisposedException || e is OperationCanceledException
                || e is HttpRequestException || e is System.Net.WebException;
        }

        void CloseBody()
        {
            try
            {
                m_Body.Dispose();
            }
            catch (Exception)
            {
                // Closing a broken connection may throw; the reader reports the failure.
            }
        }

        public void Dispose()
        {
            if (m_Disposed)
                return;
            m_Disposed = true;
            CloseBody();
            m_Response.Dispose();
        }
    }
}
