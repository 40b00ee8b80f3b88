// SPDX-License-Identifier: MIT
namespace Trellis2.Editor
{
    /// <summary>Converts between job ids ("a1b2") and resource names ("jobs/a1b2").</summary>
    public static class JobNames
    {
        const string k_Prefix = "jobs/";

        public static string ToName(string idOrName)
        {
            if (string.IsNullOrEmpty(idOrName))
                return idOrName;
            return idOrName.StartsWith(k_Prefix, System.StringComparison.Ordinal)
                ? idOrName
                : k_Prefix + idOrName;
        }

        public static string ToId(string idOrName)
        {
            if (string.IsNullOrEmpty(idOrName))
                return idOrName;
            return idOrName.StartsWith(k_Prefix, System.StringComparison.Ordinal)
                ? idOrName.Substring(k_Prefix.Length)
                : idOrName;
        }
    }
}
