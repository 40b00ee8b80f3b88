// SPDX-License-Identifier: MIT
using System.Collections.Generic;
using System.Net.Http;
using System.Threading;
using System.Threading.Tasks;

namespace Trellis2.Editor.Tests
{
    /// <summary>Passes requests to the real network and records their Range headers.</summary>
    sealed class RecordingHandler : DelegatingHandler
    {
        readonly List<string> m_Ranges = new List<string>();

        public RecordingHandler() : base(new HttpClientHandler())
        {
        }

        public List<string> Ranges
        {
            get { lock (m_Ranges) return new List<string>(m_Ranges); }
        }

        protected override Task<HttpResponseMessage> SendAsync(
            HttpRequestMessage request, CancellationToken cancellationToken)
        {
            lock (m_Ranges)
                m_Ranges.Add(request.Headers.Range == null ? "" : request.Headers.Range.ToString());
            return base.SendAsync(request, cancellationToken);
        }
    }
}
