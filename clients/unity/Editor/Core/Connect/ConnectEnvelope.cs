// SPDX-License-Identifier: MIT
using System;
using System.Text;

namespace Trellis2.Editor
{
    /// <summary>
    /// One frame of a Connect streaming body: 1 flag byte, a 4-byte big-endian length, then the
    /// message bytes (here UTF-8 JSON). Flag 0x02 marks the end-of-stream message, which carries
    /// the call's error (if any) and trailers instead of a response message.
    /// </summary>
    public sealed class ConnectEnvelope
    {
        public const byte k_FlagCompressed = 0x01;
        public const byte k_FlagEndStream = 0x02;
        public const int k_HeaderSize = 5;

        public ConnectEnvelope(byte flags, byte[] payload)
        {
            Flags = flags;
            Payload = payload ?? new byte[0];
        }

        public byte Flags { get; private set; }

        public byte[] Payload { get; private set; }

        public bool IsEndStream
        {
            get { return (Flags & k_FlagEndStream) != 0; }
        }

        public bool IsCompressed
        {
            get { return (Flags & k_FlagCompressed) != 0; }
        }

        public string PayloadText
        {
            get { return Encoding.UTF8.GetString(Payload); }
        }

        /// <summary>Encodes one frame: header followed by the payload.</summary>
        public static byte[] Encode(byte flags, byte[] payload)
        {
            var frame = new byte[k_HeaderSize + payload.Length];
            frame[0] = flags;
            WriteLength(frame, 1, payload.Length);
            Buffer.BlockCopy(payload, 0, frame, k_HeaderSize, payload.Length);
            return frame;
        }

        /// <summary>Encodes a JSON message frame (flags 0).</summary>
        public static byte[] EncodeJson(string json)
        {
            return Encode(0, Encoding.UTF8.GetBytes(json));
        }

        /// <summary>Reads the big-endian payload length from a 5-byte header.</summary>
        public static int ReadLength(byte[] header, int offset)
        {
            long length = ((long)header[offset] << 24) | ((long)header[offset + 1] << 16)
                | ((long)header[offset + 2] << 8) | header[offset + 3];
            if (length > int.MaxValue)
                throw new FormatException("Connect frame length " + length + " is too large");
            return (int)length;
        }

        static void WriteLength(byte[] buffer, int offset, int length)
        {
            buffer[offset] = (byte)(length >> 24);
            buffer[offset + 1] = (byte)(length >> 16);
            buffer[offset + 2] = (byte)(length >> 8);
            buffer[offset + 3] = (byte)length;
        }
    }
}
