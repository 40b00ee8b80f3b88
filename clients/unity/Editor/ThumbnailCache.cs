// SPDX-License-Identifier: MIT
using System.Collections.Generic;
using System.Threading;
using UnityEngine;

namespace Trellis2.Editor
{
    /// <summary>Preview thumbnails (small PNGs) by digest, fetched as previews arrive.</summary>
    static class ThumbnailCache
    {
        static readonly Dictionary<string, Texture2D> s_Textures = new Dictionary<string, Texture2D>();
        static readonly HashSet<string> s_Loading = new HashSet<string>();

        public static event System.Action Loaded;

        public static Texture2D Get(Artifact artifact)
        {
            Texture2D texture;
            return artifact != null && s_Textures.TryGetValue(artifact.Digest, out texture) ? texture : null;
        }

        /// <summary>Starts a download unless cached or loading; main thread only.</summary>
        public static async void Fetch(string serverUrl, Artifact artifact)
        {
            if (artifact == null || s_Textures.ContainsKey(artifact.Digest) || !s_Loading.Add(artifact.Digest))
                return;
            try
            {
                using (var client = new Trellis2Client(serverUrl, Trellis2UserSettings.GetApiKey(serverUrl)))
                {
                    var bytes = await client.DownloadBytesAsync(artifact, CancellationToken.None);
                    var texture = new Texture2D(2, 2) { hideFlags = HideFlags.HideAndDontSave };
                    if (texture.LoadImage(bytes))
                        s_Textures[artifact.Digest] = texture;
                }
                var handler = Loaded;
                if (handler != null)
                    handler();
            }
            catch (Trellis2Exception e)
            {
                Debug.LogWarning("[Trellis2] preview thumbnail: " + e.Message);
            }
            finally
            {
                s_Loading.Remove(artifact.Digest);
            }
        }
    }
}
