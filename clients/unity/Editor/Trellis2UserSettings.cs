// SPDX-License-Identifier: MIT
using System;
using UnityEditor;

namespace Trellis2.Editor
{
    /// <summary>
    /// Per-user values kept in EditorPrefs (this machine and user only, never in the project):
    /// the API key, stored per server host so keys for different servers do not mix.
    /// </summary>
    public static class Trellis2UserSettings
    {
        const string k_ApiKeyPrefix = "Trellis2.ApiKey.";

        public static string GetApiKey(string serverUrl)
        {
            return EditorPrefs.GetString(Key(serverUrl), "");
        }

        public static void SetApiKey(string serverUrl, string apiKey)
        {
            if (string.IsNullOrEmpty(apiKey))
                EditorPrefs.DeleteKey(Key(serverUrl));
            else
                EditorPrefs.SetString(Key(serverUrl), apiKey.Trim());
        }

        static string Key(string serverUrl)
        {
            Uri uri;
            var host = Uri.TryCreate(serverUrl ?? "", UriKind.Absolute, out uri)
                ? uri.Host + ":" + uri.Port
                : "default";
            return k_ApiKeyPrefix + host;
        }
    }
}
