// SPDX-License-Identifier: MIT
using System;
using System.Text;

namespace Trellis2.Editor
{
    /// <summary>
    /// File and folder names for generated assets: safe on every OS and in the AssetDatabase,
    /// and never able to leave the output folder (server-chosen names are checked here too).
    /// </summary>
    public static class AssetNames
    {
        const int k_MaxLength = 64;

        /// <summary>"My chair #2!" → "My_chair_2"; empty or unusable names become "asset".</summary>
        public static string Sanitize(string name)
        {
            var text = new StringBuilder();
            if (name != null)
            {
                foreach (var c in name.Trim())
                {
                    if (char.IsLetterOrDigit(c) || c == '-' || c == '_')
                        text.Append(c);
                    else if ((c == ' ' || c == '.') && text.Length > 0 && text[text.Length - 1] != '_')
                        text.Append('_');
                }
            }
            var result = text.ToString().Trim('_');
            if (result.Length > k_MaxLength)
                result = result.Substring(0, k_MaxLength).TrimEnd('_');
            return result.Length == 0 ? "asset" : result;
        }

        /// <summary>
        /// "root/name", or "root/name_2", "root/name_3"... when <paramref name="exists"/> says the
        /// folder is taken, so a new job never overwrites an earlier import.
        /// </summary>
        public static string UniqueFolder(string root, string name, Func<string, bool> exists)
        {
            var cleanRoot = string.IsNullOrEmpty(root)
                ? GenerationSettings.k_DefaultOutputRoot
                : root.Replace('\\', '/').TrimEnd('/');
            var baseName = Sanitize(name);
            var candidate = cleanRoot + "/" + baseName;
            for (var i = 2; exists != null && exists(candidate); i++)
                candidate = cleanRoot + "/" + baseName + "_" + i;
            return candidate;
        }

        /// <summary>
        /// Checks a server-given relative file name ("textures/base_color.png") and returns it
        /// with forward slashes. Throws for absolute paths, "..", or empty segments.
        /// </summary>
        public static string SafeRelativePath(string fileName)
        {
            if (string.IsNullOrEmpty(fileName))
                throw new Trellis2Exception(Trellis2ErrorCode.ProtocolError,
                    "an artifact has no file name");
            var path = fileName.Replace('\\', '/');
            if (path.StartsWith("/", StringComparison.Ordinal) || path.Contains(":"))
                throw new Trellis2Exception(Trellis2ErrorCode.ProtocolError,
                    "the artifact file name '" + fileName + "' is not a relative path");
            foreach (var part in path.Split('/'))
            {
                if (part.Length == 0 || part == "." || part == "..")
                    throw new Trellis2Exception(Trellis2ErrorCode.ProtocolError,
                        "the artifact file name '" + fileName + "' leaves its folder");
            }
            return path;
        }
    }
}
