// SPDX-License-Identifier: MIT
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using NUnit.Framework;

namespace Trellis2.Editor.Tests
{
    [TestFixture]
    public class EnvelopeTests
    {
        static byte[] Concat(params byte[][] parts)
        {
            return parts.SelectMany(p => p).ToArray();
        }

        static List<ConnectEnvelope> ReadAll(byte[] body, int maxRead)
        {
            var reader = new EnvelopeReader(new ChunkedStream(body, maxRead));
            var frames = new List<ConnectEnvelope>();
            while (true)
            {
                var frame = AsyncTest.Run(() => reader.ReadAsync(CancellationToken.None));
                if (frame == null)
                    return frames;
                frames.Add(frame);
            }
        }

        [Test]
        public void Encoded_frame_has_flag_and_big_endian_length_header()
        {
            var frame = ConnectEnvelope.Encode(0x02, new byte[300]);
            Assert.AreEqual(305, frame.Length);
            Assert.AreEqual(0x02, frame[0]);
            CollectionAssert.AreEqual(new byte[] { 0, 0, 1, 44 }, frame.Skip(1).Take(4).ToArray());
        }

        [Test]
        public void Frames_split_into_one_byte_reads_are_reassembled()
        {
            var body = Concat(ConnectEnvelope.EncodeJson("{\"seq\":\"1\"}"),
                ConnectEnvelope.EncodeJson("{\"seq\":\"2\"}"),
                ConnectEnvelope.Encode(ConnectEnvelope.k_FlagEndStream, new byte[0]));
            var frames = ReadAll(body, 1);
            Assert.AreEqual(3, frames.Count);
            Assert.AreEqual("{\"seq\":\"2\"}", frames[1].PayloadText);
            Assert.IsFalse(frames[1].IsEndStream);
            Assert.IsTrue(frames[2].IsEndStream);
            Assert.AreEqual(0, frames[2].Payload.Length);
        }

        [Test]
        public void Empty_body_reads_as_clean_end()
        {
            Assert.AreEqual(0, ReadAll(new byte[0], 7).Count);
        }

        [Test]
        public void Stream_ending_inside_a_frame_is_an_error()
        {
            var frame = ConnectEnvelope.EncodeJson("{\"seq\":\"1\"}");
            var cut = frame.Take(frame.Length - 3).ToArray();
            Assert.Throws<EndOfStreamException>(() => ReadAll(cut, 4));
            Assert.Throws<EndOfStreamException>(() => ReadAll(frame.Take(3).ToArray(), 4));
        }

        [Test]
        public void Oversized_frame_length_is_refused_before_allocating()
        {
            var header = new byte[] { 0, 0x7f, 0xff, 0xff, 0xff };
            Assert.Throws<InvalidDataException>(() => ReadAll(header, 5));
        }
    }
}
