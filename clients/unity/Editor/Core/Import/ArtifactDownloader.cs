// SPDX-License-Identifier: MIT
using System;
using System.IO;
using System.Threading;
using System.Threading.Tasks;

namespace Trellis2.Editor
{
    /// <summary>
    /// Downloads every file of an <see cref="ImportPlan"/> (resuming partial files, verifying
    /// each digest, retrying dropped connections) and reports overall progress in bytes. With a staging folder (the editor uses
    /// Library/Trellis2Downloads) files are downloaded outside Assets/ and moved in only when all
    /// of them are complete and verified, so the AssetDatabase never sees a partial file.
    /// </summary>
    public static class ArtifactDownloader
    {
        /// <summary>Downloads straight into the project (no staging).</summary>
        public static Task DownloadAllAsync(
            Trellis2Client client, ImportPlan plan, string projectRoot,
            Action<long, long> progress, CancellationToken cancellationToken)
        {
            return DownloadAllAsync(client, plan, projectRoot, null, progress, cancellationToken);
        }

        /// <param name="projectRoot">Folder that holds "Assets/" (the Unity project root).</param>
        /// <param name="stagingRoot">Where downloads land first; null downloads in place.</param>
        /// <param name="progress">Receives (bytes done, bytes total); may be null.</param>
        public static async Task DownloadAllAsync(
            Trellis2Client client, ImportPlan plan, string projectRoot, string stagingRoot,
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
                if (IsComplete(target, file.Artifact))
                {
                    done += file.Artifact.SizeBytes; // Already there from an earlier import.
                    if (progress != null)
                        progress(done, total);
                    continue;
                }
                var destination = stagingRoot == null ? target : Path.Combine(stagingRoot, file.AssetPath);
                if (!IsComplete(destination, file.Artifact))
                {
                    IProgress<long> fileProgress = null;
                    if (progress != null)
                        fileProgress = new CallbackProgress(bytes => progress(baseline + bytes, total));
                    await DownloadWithRetriesAsync(client, file.Artifact, destination, fileProgress,
                        cancellationToken).ConfigureAwait(false);
                }
                done = baseline + file.Artifact.SizeBytes;
                if (progress != null)
                    progress(done, total);
            }
            if (stagingRoot != null)
                Publish(plan, projectRoot, stagingRoot);
        }

        /// <summary>Attempts per file; each retry resumes from the bytes already on disk.</summary>
        public const int k_Attempts = 4;

        static async Task DownloadWithRetriesAsync(
            Trellis2Client client, Artifact artifact, string destination, IProgress<long> progress,
            CancellationToken cancellationToken)
        {
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    await client.DownloadArtifactAsync(artifact, destination, progress, cancellationToken)
                        .ConfigureAwait(false);
                    return;
                }
                catch (Trellis2Exception e) when (attempt < k_Attempts
                    && (e.IsTransient || e.Code == Trellis2ErrorCode.DigestMismatch))
                {
                    // A dropped connection resumes with a Range request; a corrupt file (deleted
                    // by the digest check) starts over.
                    await Task.Delay(TimeSpan.FromMilliseconds(500 * attempt), cancellationToken)
                        .ConfigureAwait(false);
                }
            }
        }

        /// <summary>Moves every staged, verified file to its place in the project.</summary>
        static void Publish(ImportPlan plan, string projectRoot, string stagingRoot)
        {
            foreach (var file in plan.Files)
            {
                var staged = Path.Combine(stagingRoot, file.AssetPath);
                if (!File.Exists(staged))
                    continue; // It was already in place.
                var target = Path.Combine(projectRoot, file.AssetPath);
                Directory.CreateDirectory(Path.GetDirectoryName(target));
                if (File.Exists(target))
                    File.Delete(target);
                File.Move(staged, target);
            }
        }

        static bool IsComplete(string path, Artifact artifact)
        {
            return File.Exists(path) && new FileInfo(path).Length == artifact.SizeBytes
                && string.Equals(Sha256.OfFile(path), artifact.Digest, StringComparison.OrdinalIgnoreCase);
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
