// SPDX-License-Identifier: MIT
using System.IO;
using System.Security.Cryptography;
using System.Text;

namespace Trellis2.Editor
{
    /// <summary>SHA-256 as lowercase hex, the form artifact digests use.</summary>
    public static class Sha256
    {
        public static string OfBytes(byte[] data)
        {
            using (var sha = SHA256.Create())
                return Hex(sha.ComputeHash(data));
        }

        public static string OfFile(string path)
        {
            using (var sha = SHA256.Create())
            using (var stream = File.OpenRead(path))
                return Hex(sha.ComputeHash(stream));
        }

        static string Hex(byte[] hash)
        {
            var text = new StringBuilder(hash.Length * 2);
            foreach (var b in hash)
                text.Append(b.ToString("x2"));
            return text.ToString();
        }
    }
}
