// SPDX-License-Identifier: MIT
using System;
using System.IO;
using System.Threading;
using System.Threading.Tasks;

namespace Trellis2.Editor
{
    /// <summary>
    /// Downloads every file of an <see cref="ImportPlan"/> into the project (resuming partial
    /// files, verifying each digest) and reports overall progress in bytes.
    /// </summary>
    public static class ArtifactDownloader
    {
        /// <param name="projectRoot">Folder that holds "Assets/" (the Unity project root).</param>
        /// <param name="progress">Receives (bytes done, bytes total); may be null.</param>
        public static async Task DownloadAllAsync(
            Trellis2Client client, ImportPlan plan, string projectRoot,
            Action<long, long> progress, CancellationToken cancellationToken)
        {
            long total = 0;
            foreach (var f in plan.Files)
                total += Math.Max(0, f.Artifact.SizeBytes);
            long done = 0;
            foreach (var file in plan.Files)
            {
                var target = Path.Combine(projectRoot, file.AssetPath);
                var baseline = done;
                if (File.Exists(target) && new FileInfo(target).Length == file.Artifact.SizeBytes
                    && Sha256.OfFile(target) == file.Artifact.Digest)
                {
                    done += file.Artifact.SizeBytes; // Already there from an earlier attempt.
                    if (progress != null)
                        progress(done, total);
                    continue;
                }
                IProgress<long> fileProgress = null;
                if (progress != null)
                    fileProgress = new CallbackProgress(bytes => progress(baseline + bytes, total));
                await client.DownloadArtifactAsync(file.Artifact, target, fileProgress,
                    cancellationToken).ConfigureAwait(false);
                done = baseline + file.Artifact.SizeBytes;
                if (progress != null)
                    progress(done, total);
            }
        }

        // Progress<T> posts to the captured context; this calls straight through instead.
        sealed class CallbackProgress : IProgress<long>
        {
            readonly Action<long> m_Callback;

            public CallbackProgress(Action<long> callback)
            {
                m_Callback = callback;
            }

            public void Report(long value)
            {
                m_Callback(value);
            }
        }
    }
}
