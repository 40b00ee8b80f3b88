// SPDX-License-Identifier: MIT
using System;
using System.Globalization;
using System.IO;
using System.Net;
using System.Net.Http;
using System.Net.Http.Headers;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace Trellis2.Editor
{
    /// <summary>
    /// All networking with a Trellis2 server: the Connect protocol with JSON over HTTP/1.1
    /// (unary calls and server streaming) and artifact downloads by digest with resume.
    /// Task-based; every call takes a CancellationToken; continuations never need the caller's
    /// thread (ConfigureAwait(false)), so nothing here blocks or requires the editor's main thread.
    /// </summary>
    public sealed class Trellis2Client : IDisposable
    {
        public const string k_ServicePath = "/trellis2.v1.AssetGenerationService/";
        const string k_JsonType = "application/json";
        const string k_StreamJsonType = "application/connect+json";

        readonly HttpClient m_Http;
        readonly string m_BaseUrl;
        readonly string m_ApiKey;

        /// <param name="baseUrl">The server's HTTP listener, e.g. "http://gpu-box:8080".</param>
        /// <param name="apiKey">Sent as "Authorization: Bearer key"; null or empty for none.</param>
        /// <param name="handler">Optional HTTP handler (proxies, tests); the client owns it.</param>
        public Trellis2Client(string baseUrl, string apiKey, HttpMessageHandler handler)
        {
            if (string.IsNullOrEmpty(baseUrl))
                throw new ArgumentException(
                    "the server URL is empty; set it in Project Settings > Trellis2", "baseUrl");
            Uri parsed;
            if (!Uri.TryCreate(baseUrl.Trim(), UriKind.Absolute, out parsed)
                || (parsed.Scheme != "http" && parsed.Scheme != "https"))
                throw new ArgumentException(
                    "the server URL '" + baseUrl + "' is not an http(s) URL; use e.g. http://host:8080",
                    "baseUrl");
            m_BaseUrl = baseUrl.Trim().TrimEnd('/');
            m_ApiKey = string.IsNullOrEmpty(apiKey) ? null : apiKey.Trim();
            RaiseConnectionLimit(parsed);
            m_Http = handler != null ? new HttpClient(handler, true) : new HttpClient();
            // Per-call limits are applied with tokens; streams may legitimately last long.
            m_Http.Timeout = Timeout.InfiniteTimeSpan;
            UnaryTimeout = TimeSpan.FromSeconds(30);
            UploadTimeout = TimeSpan.FromMinutes(3);
            StreamIdleTimeout = TimeSpan.FromSeconds(60);
        }

        public Trellis2Client(string baseUrl, string apiKey) : this(baseUrl, apiKey, null)
        {
        }

        public string BaseUrl
        {
            get { return m_BaseUrl; }
        }

        /// <summary>Deadline of one unary call (sent as Connect-Timeout-Ms as well).</summary>
        public TimeSpan UnaryTimeout { get; set; }

        /// <summary>Deadline of CreateJob, which uploads the image (up to the server's size limit).</summary>
        public TimeSpan UploadTimeout { get; set; }

        /// <summary>Silence after which an event stream counts as dropped (heartbeats are ~10 s).</summary>
        public TimeSpan StreamIdleTimeout { get; set; }

        public Task<ServerInfo> GetServerInfoAsync(CancellationToken cancellationToken)
        {
            return UnaryAsync<ServerInfo>("GetServerInfo", new GetServerInfoRequest(), cancellationToken);
        }

        /// <summary>Queues a job; the image travels base64 in the JSON body.</summary>
        public Task<Job> CreateJobAsync(CreateJobRequest request, CancellationToken cancellationToken)
        {
            return UnaryAsync<Job>("CreateJob", request, UploadTimeout, cancellationToken);
        }

        public Task<Job> GetJobAsync(string name, CancellationToken cancellationToken)
        {
            return UnaryAsync<Job>("GetJob", new GetJobRequest { Name = JobNames.ToName(name) },
                cancellationToken);
        }

        public Task<Job> CancelJobAsync(string name, CancellationToken cancellationToken)
        {
            return UnaryAsync<Job>("CancelJob", new CancelJobRequest { Name = JobNames.ToName(name) },
                cancellationToken);
        }

        public Task<ListJobsResponse> ListJobsAsync(
            ListJobsRequest request, CancellationToken cancellationToken)
        {
            return UnaryAsync<ListJobsResponse>("ListJobs", request ?? new ListJobsRequest(),
                cancellationToken);
        }

        /// <summary>Opens WatchJob: events with seq &gt; afterSeq, then live ones.</summary>
        public Task<JobEventStream> WatchJobAsync(
            string name, long afterSeq, CancellationToken cancellationToken)
        {
            var request = new WatchJobRequest { Name = JobNames.ToName(name), AfterSeq = afterSeq };
            return StreamAsync("WatchJob", request, cancellationToken);
        }

        /// <summary>Opens GenerateAsset: CreateJob + WatchJob(0) in one stream.</summary>
        public Task<JobEventStream> GenerateAssetAsync(
            CreateJobRequest job, CancellationToken cancellationToken)
        {
            return StreamAsync("GenerateAsset", new GenerateAssetRequest { Job = job },
                cancellationToken);
        }

        /// <summary>
        /// Downloads an artifact to <paramref name="destinationPath"/> through
        /// "GET /v1/artifacts/{digest}". Bytes go to "destinationPath.part" first; a later call
        /// resumes from its length with a Range request. The SHA-256 of the whole file must equal
        /// the digest, else the part file is deleted and DigestMismatch is thrown.
        /// </summary>
        /// <param name="progress">Receives the bytes on disk so far (optional).</param>
        public async Task DownloadArtifactAsync(
            Artifact artifact, string destinationPath, IProgress<long> progress,
            CancellationToken cancellationToken)
        {
            if (artifact == null || string.IsNullOrEmpty(artifact.Digest))
                throw new ArgumentException("the artifact has no digest", "artifact");
            var dir = Path.GetDirectoryName(Path.GetFullPath(destinationPath));
            if (!string.IsNullOrEmpty(dir))
                Directory.CreateDirectory(dir);
            var partPath = destinationPath + ".part";
            long have = File.Exists(partPath) ? new FileInfo(partPath).Length : 0;
            if (artifact.SizeBytes > 0 && have > artifact.SizeBytes)
            {
                File.Delete(partPath);
                have = 0;
            }
            if (artifact.SizeBytes <= 0 || have < artifact.SizeBytes)
                have = await FetchIntoAsync(artifact, partPath, have, progress, cancellationToken)
                    .ConfigureAwait(false);
            if (artifact.SizeBytes > 0 && have != artifact.SizeBytes)
                throw new Trellis2Exception(Trellis2ErrorCode.ServerUnreachable,
                    "download of " + artifact.Filename + " stopped at " + have + " of " +
                    artifact.SizeBytes + " bytes; it resumes on the next try");
            var actual = Sha256.OfFile(partPath);
            if (!string.Equals(actual, artifact.Digest, StringComparison.OrdinalIgnoreCase))
            {
                File.Delete(partPath);
                throw new Trellis2Exception(Trellis2ErrorCode.DigestMismatch,
                    artifact.Filename + " has SHA-256 " + actual + ", expected " + artifact.Digest);
            }
            if (File.Exists(destinationPath))
                File.Delete(destinationPath);
            File.Move(partPath, destinationPath);
        }

        /// <summary>Downloads a small artifact (a thumbnail) into memory and verifies it.</summary>
        public async Task<byte[]> DownloadBytesAsync(Artifact artifact, CancellationToken cancellationToken)
        {
            using (var request = new HttpRequestMessage(HttpMethod.Get, ArtifactUrl(artifact.Digest)))
            {
                AddAuth(request);
                using (var response = await SendAsync(request, cancellationToken).ConfigureAwait(false))
                {
                    await ThrowIfHttpErrorAsync(response).ConfigureAwait(false);
                    var bytes = await response.Content.ReadAsByteArrayAsync().ConfigureAwait(false);
                    var actual = Sha256.OfBytes(bytes);
                    if (!string.Equals(actual, artifact.Digest, StringComparison.OrdinalIgnoreCase))
                        throw new Trellis2Exception(Trellis2ErrorCode.DigestMismatch,
                            artifact.Filename + " has SHA-256 " + actual + ", expected " +
                            artifact.Digest);
                    return bytes;
                }
            }
        }

        public string ArtifactUrl(string digest)
        {
            return m_BaseUrl + "/v1/artifacts/" + digest;
        }

        async Task<long> FetchIntoAsync(
            Artifact artifact, string partPath, long have, IProgress<long> progress,
            CancellationToken cancellationToken)
        {
            using (var request = new HttpRequestMessage(HttpMethod.Get, ArtifactUrl(artifact.Digest)))
            {
                AddAuth(request);
                if (have > 0)
                    request.Headers.Range = new RangeHeaderValue(have, null);
                using (var response = await SendAsync(request, cancellationToken).ConfigureAwait(false))
                {
                    if ((int)response.StatusCode == 416 && have > 0)
                        return have; // Already complete; the digest check decides.
                    await ThrowIfHttpErrorAsync(response).ConfigureAwait(false);
                    var append = have > 0 && response.StatusCode == HttpStatusCode.PartialContent;
                    if (append)
                    {
                        var range = response.Content.Headers.ContentRange;
                        if (range == null || !range.From.HasValue || range.From.Value != have)
                            throw new Trellis2Exception(Trellis2ErrorCode.ProtocolError,
                                "the server answered a Range request for byte " + have +
                                " with another range");
                    }
                    else
                    {
                        have = 0; // The server sent the whole file.
                    }
                    var mode = append ? FileMode.Append : FileMode.Create;
                    using (var body = await response.Content.ReadAsStreamAsync().ConfigureAwait(false))
                    using (cancellationToken.Register(() => body.Dispose()))
                    using (var file = new FileStream(partPath, mode, FileAccess.Write, FileShare.None,
                        81920, true))
                    {
                        var buffer = new byte[81920];
                        while (true)
                        {
                            int n;
                            try
                            {
                                n = await body.ReadAsync(buffer, 0, buffer.Length, cancellationToken)
                                    .ConfigureAwait(false);
                            }
                            catch (Exception e) when (!(e is OperationCanceledException))
                            {
                                cancellationToken.ThrowIfCancellationRequested();
                                await file.FlushAsync().ConfigureAwait(false);
                                throw new Trellis2Exception(Trellis2ErrorCode.ServerUnreachable,
                                    "download of " + artifact.Filename + " broke off at byte " +
                                    have + "; it resumes on the next try", null, 0, e);
                            }
                            if (n == 0)
                                break;
                            await file.WriteAsync(buffer, 0, n, cancellationToken).ConfigureAwait(false);
                            have += n;
                            if (progress != null)
                                progress.Report(have);
                        }
                    }
                    return have;
                }
            }
        }

        Task<TResponse> UnaryAsync<TResponse>(
            string method, object message, CancellationToken cancellationToken)
        {
            return UnaryAsync<TResponse>(method, message, UnaryTimeout, cancellationToken);
        }

        async Task<TResponse> UnaryAsync<TResponse>(
            string method, object message, TimeSpan timeout, CancellationToken cancellationToken)
        {
            using (var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            using (var request = new HttpRequestMessage(HttpMethod.Post, m_BaseUrl + k_ServicePath + method))
            {
                deadline.CancelAfter(timeout);
                request.Content = new StringContent(ProtoJson.Serialize(message), Encoding.UTF8, k_JsonType);
                request.Content.Headers.ContentType = new MediaTypeHeaderValue(k_JsonType);
                request.Headers.TryAddWithoutValidation("Connect-Protocol-Version", "1");
                request.Headers.TryAddWithoutValidation("Connect-Timeout-Ms",
                    ((long)timeout.TotalMilliseconds).ToString(CultureInfo.InvariantCulture));
                AddAuth(request);
                try
                {
                    using (var response = await SendAsync(request, deadline.Token).ConfigureAwait(false))
                    {
                        var body = await response.Content.ReadAsStringAsync().ConfigureAwait(false);
                        if (!response.IsSuccessStatusCode)
                            throw ConnectErrors.FromUnaryBody(body, (int)response.StatusCode);
                        try
                        {
                            return ProtoJson.Deserialize<TResponse>(body);
                        }
                        catch (Newtonsoft.Json.JsonException e)
                        {
                            throw new Trellis2Exception(Trellis2ErrorCode.ProtocolError,
                                method + " returned unreadable JSON: " + e.Message, null,
                                (int)response.StatusCode, e);
                        }
                    }
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    throw new Trellis2Exception(Trellis2ErrorCode.Timeout,
                        method + " got no answer within " + timeout.TotalSeconds + " s");
                }
                catch (Exception e) when (IsTransportFailure(e) && !cancellationToken.IsCancellationRequested)
                {
                    throw Unreachable(e);
                }
            }
        }

        async Task<JobEventStream> StreamAsync(
            string method, object message, CancellationToken cancellationToken)
        {
            var request = new HttpRequestMessage(HttpMethod.Post, m_BaseUrl + k_ServicePath + method);
            HttpResponseMessage response = null;
            try
            {
                var frame = ConnectEnvelope.EncodeJson(ProtoJson.Serialize(message));
                request.Content = new ByteArrayContent(frame);
                request.Content.Headers.ContentType = new MediaTypeHeaderValue(k_StreamJsonType);
                request.Headers.TryAddWithoutValidation("Connect-Protocol-Version", "1");
                AddAuth(request);
                response = await SendAsync(request, cancellationToken).ConfigureAwait(false);
                if (!response.IsSuccessStatusCode)
                {
                    var body = await response.Content.ReadAsStringAsync().ConfigureAwait(false);
                    throw ConnectErrors.FromUnaryBody(body, (int)response.StatusCode);
                }
                var stream = await response.Content.ReadAsStreamAsync().ConfigureAwait(false);
                var result = new JobEventStream(response, stream, StreamIdleTimeout);
                response = null; // Owned by the stream now.
                return result;
            }
            catch (Exception e) when (IsTransportFailure(e) && !cancellationToken.IsCancellationRequested)
            {
                throw Unreachable(e);
            }
            finally
            {
                if (response != null)
                    response.Dispose();
                request.Dispose();
            }
        }

        async Task<HttpResponseMessage> SendAsync(
            HttpRequestMessage request, CancellationToken cancellationToken)
        {
            try
            {
                return await m_Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead,
                    cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (IsTransportFailure(e) && !cancellationToken.IsCancellationRequested)
            {
                throw Unreachable(e);
            }
        }

        async Task ThrowIfHttpErrorAsync(HttpResponseMessage response)
        {
            if (response.IsSuccessStatusCode)
                return;
            var body = await response.Content.ReadAsStringAsync().ConfigureAwait(false);
            var status = (int)response.StatusCode;
            if (status == 404)
                throw new Trellis2Exception(Trellis2ErrorCode.NotFound,
                    "the server has no artifact at " + response.RequestMessage.RequestUri.AbsolutePath,
                    "not_found", status, null);
            throw ConnectErrors.FromUnaryBody(body, status);
        }

        void AddAuth(HttpRequestMessage request)
        {
            if (m_ApiKey != null)
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", m_ApiKey);
        }

        Trellis2Exception Unreachable(Exception e)
        {
            var inner = e;
            while (inner.InnerException != null)
                inner = inner.InnerException;
            return new Trellis2Exception(Trellis2ErrorCode.ServerUnreachable,
                m_BaseUrl + ": " + inner.Message, null, 0, e);
        }

        /// <summary>
        /// Mono's HTTP stack allows two connections per host by default; an editor following
        /// several jobs keeps one stream open per job and still needs unary calls and downloads.
        /// </summary>
        static void RaiseConnectionLimit(Uri server)
        {
            try
            {
                var point = ServicePointManager.FindServicePoint(server);
                if (point.ConnectionLimit < 32)
                    point.ConnectionLimit = 32;
            }
            catch (Exception)
            {
                // Runtimes without ServicePoint limits (or that refuse this) need nothing here.
            }
        }

        static bool IsTransportFailure(Exception e)
        {
            return e is HttpRequestException || e is WebException || e is IOException
                || e is System.Net.Sockets.SocketException;
        }

        public void Dispose()
        {
            m_Http.Dispose();
        }
    }
}
