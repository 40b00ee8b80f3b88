// SPDX-License-Identifier: MIT
using System;
using System.IO;

namespace Trellis2.Editor.Tests
{
    /// <summary>A read-only stream that hands out at most N bytes per read, like HTTP chunks.</summary>
    sealed class ChunkedStream : Stream
    {
        readonly byte[] m_Data;
        readonly int m_MaxRead;
        int m_Position;

        public ChunkedStream(byte[] data, int maxRead)
        {
            m_Data = data;
            m_MaxRead = maxRead;
        }

        public override int Read(byte[] buffer, int offset, int count)
        {
            var n = Math.Min(Math.Min(count, m_MaxRead), m_Data.Length - m_Position);
            Buffer.BlockCopy(m_Data, m_Position, buffer, offset, n);
            m_Position += n;
            return n;
        }

        public override bool CanRead { get { return true; } }
        public override bool CanSeek { get { return false; } }
        public override bool CanWrite { get { return false; } }
        public override long Length { get { return m_Data.Length; } }

        public override long Position
        {
            get { return m_Position; }
            set { throw new NotSupportedException(); }
        }

        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) { throw new NotSupportedException(); }
        public override void SetLength(long value) { throw new NotSupportedException(); }
        public override void Write(byte[] buffer, int offset, int count) { throw new NotSupportedException(); }
    }
}
