// SPDX-License-Identifier: MIT
using System;
using System.IO;
using System.Threading;
using System.Threading.Tasks;

namespace Trellis2.Editor
{
    /// <summary>
    /// Reads Connect frames one at a time from a response stream as bytes arrive. Frames may be
    /// split across any number of reads (HTTP chunks); a stream that ends inside a frame is a
    /// protocol error, a stream that ends between frames returns null.
    /// </summary>
    public sealed class EnvelopeReader
    {
        /// <summary>Frames larger than this are refused (a broken or hostile peer).</summary>
        public const int k_MaxFrameBytes = 64 * 1024 * 1024;

        readonly Stream m_Stream;
        readonly byte[] m_Header = new byte[ConnectEnvelope.k_HeaderSize];

        public EnvelopeReader(Stream stream)
        {
            if (stream == null)
                throw new ArgumentNullException("stream");
            m_Stream = stream;
        }

        /// <summary>The next frame, or null at a clean end of the stream.</summary>
        public async Task<ConnectEnvelope> ReadAsync(CancellationToken cancellationToken)
        {
            var got = await FillAsync(m_Header, cancellationToken).ConfigureAwait(false);
            if (got == 0)
                return null;
            if (got < m_Header.Length)
                throw new EndOfStreamException(
                    "the stream ended inside a Connect frame header (" + got + " of 5 bytes)");
            var length = ConnectEnvelope.ReadLength(m_Header, 1);
            if (length > k_MaxFrameBytes)
                throw new InvalidDataException(
                    "Connect frame of " + length + " bytes exceeds the " + k_MaxFrameBytes + " limit");
            var payload = new byte[length];
            var read = await FillAsync(payload, cancellationToken).ConfigureAwait(false);
            if (read < length)
                throw new EndOfStreamException(
                    "the stream ended inside a Connect frame (" + read + " of " + length + " bytes)");
            return new ConnectEnvelope(m_Header[0], payload);
        }

        async Task<int> FillAsync(byte[] buffer, CancellationToken cancellationToken)
        {
            var offset = 0;
            while (offset < buffer.Length)
            {
                var n = await m_Stream.ReadAsync(buffer, offset, buffer.Length - offset,
                    cancellationToken).ConfigureAwait(false);
                if (n == 0)
                    break;
                offset += n;
            }
            return offset;
        }
    }
}
