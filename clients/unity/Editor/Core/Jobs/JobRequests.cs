// SPDX-License-Identifier: MIT
using System;

namespace Trellis2.Editor
{
    /// <summary>
    /// Builds CreateJob requests and fresh job records from the user's settings and the active
    /// render pipeline. The export options ask the server for the texture packing the pipeline's
    /// Lit shader reads, so the client never repacks pixels.
    /// </summary>
    public static class JobRequests
    {
        public static ExportOptions ExportOptionsFor(
            GenerationSettings settings, RenderPipelineKind pipeline)
        {
            var options = new ExportOptions
            {
                DecimationTarget = settings.DecimationTarget,
                TextureSize = settings.TextureSize,
                // glTFast cannot read WebP; the unity profile refuses it anyway.
                TextureFormat = settings.TextureFormat == TextureFormat.Jpeg
                    ? TextureFormat.Jpeg
                    : TextureFormat.Png,
                Profile = OutputProfile.Unity,
                Container = settings.Container == AssetContainer.Glb
                    ? AssetContainer.Glb
                    : AssetContainer.Gltf,
                NormalMap = settings.NormalMap,
            };
            options.ExtraTextures.Add(PackedTextureFor(pipeline));
            return options;
        }

        /// <summary>HDRP's Lit reads a mask map; URP Lit and Built-in Standard a metallic map.</summary>
        public static ExtraTexture PackedTextureFor(RenderPipelineKind pipeline)
        {
            return pipeline == RenderPipelineKind.HighDefinition
                ? ExtraTexture.MaskMap
                : ExtraTexture.MetallicSmoothness;
        }

        public static CreateJobRequest Create(
            byte[] image, GenerationSettings settings, RenderPipelineKind pipeline, string requestId)
        {
            if (image == null || image.Length == 0)
                throw new Trellis2Exception(Trellis2ErrorCode.InvalidImage, "the image is empty");
            return new CreateJobRequest
            {
                Image = image,
                PipelineType = settings.Resolution,
                Seed = settings.Seed,
                ExportOptions = ExportOptionsFor(settings, pipeline),
                RequestId = string.IsNullOrEmpty(requestId) ? NewRequestId() : requestId,
                Priority = settings.Priority,
                DisplayName = AssetNames.Sanitize(settings.DisplayName),
                Backend = settings.Backend ?? "",
            };
        }

        /// <summary>A record for a job just created by <paramref name="job"/>.</summary>
        public static JobRecord NewRecord(
            Job job, CreateJobRequest request, GenerationSettings settings,
            RenderPipelineKind pipeline, string outputFolder, string serverUrl,
            string sourceImagePath)
        {
            var record = new JobRecord
            {
                JobId = job.JobId,
                Name = string.IsNullOrEmpty(job.Name) ? JobNames.ToName(job.JobId) : job.Name,
                ServerUrl = serverUrl,
                RequestId = request.RequestId,
                DisplayName = request.DisplayName,
                SourceImagePath = sourceImagePath,
                Settings = settings.Clone(),
                RenderPipeline = pipeline,
                OutputFolder = outputFolder,
                CreatedUtc = DateTime.UtcNow.ToString("o"),
            };
            if (string.IsNullOrEmpty(record.JobId))
                record.JobId = JobNames.ToId(record.Name);
            JobRecordUpdater.ApplyJob(record, job);
            return record;
        }

        /// <summary>
        /// A record for a job found on the server (the team's history, ListJobs), so this
        /// editor can import it: settings come from the job's spec.
        /// </summary>
        public static JobRecord RecordFromJob(
            Job job, RenderPipelineKind pipeline, string outputFolder, string serverUrl)
        {
            var spec = job.Spec ?? new JobSpec();
            var export = spec.ExportOptions ?? new ExportOptions();
            var settings = new GenerationSettings
            {
                DisplayName = AssetNames.Sanitize(spec.DisplayName),
                Resolution = spec.PipelineType,
                Seed = spec.Seed,
                Backend = spec.Backend ?? "",
                Priority = spec.Priority,
            };
            if (export.TextureSize > 0)
                settings.TextureSize = export.TextureSize;
            if (export.DecimationTarget > 0)
                settings.DecimationTarget = export.DecimationTarget;
            if (export.Container != AssetContainer.Unspecified)
                settings.Container = export.Container;
            var record = new JobRecord
            {
                JobId = string.IsNullOrEmpty(job.JobId) ? JobNames.ToId(job.Name) : job.JobId,
                Name = string.IsNullOrEmpty(job.Name) ? JobNames.ToName(job.JobId) : job.Name,
                ServerUrl = serverUrl,
                RequestId = job.RequestId,
                DisplayName = settings.DisplayName,
                Settings = settings,
                RenderPipeline = pipeline,
                OutputFolder = outputFolder,
                CreatedUtc = string.IsNullOrEmpty(job.CreateTime) ? DateTime.UtcNow.ToString("o") : job.CreateTime,
            };
            JobRecordUpdater.ApplyJob(record, job);
            return record;
        }

        public static string NewRequestId()
        {
            return "unity-" + Guid.NewGuid().ToString("N");
        }
    }
}
