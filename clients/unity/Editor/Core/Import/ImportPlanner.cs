// SPDX-License-Identifier: MIT
using System;
using System.Collections.Generic;

namespace Trellis2.Editor
{
    /// <summary>
    /// Decides, without Unity, how a finished job becomes project assets. Two steps:
    /// <see cref="PlanFiles"/> (before downloading: names and folder) and
    /// <see cref="PlanMaterial"/> (after: texture roles from the .gltf, importer flags and the
    /// pipeline's Lit material).
    /// </summary>
    public static class ImportPlanner
    {
        /// <summary>Files of a succeeded job under record.OutputFolder.</summary>
        public static ImportPlan PlanFiles(JobRecord record)
        {
            if (record.State != JobState.Succeeded || record.Artifacts.Count == 0)
                throw new Trellis2Exception(Trellis2ErrorCode.ImportFailed,
                    "job " + record.JobId + " has no finished asset to import (state " +
                    record.State + ")");
            var settings = record.Settings ?? new GenerationSettings();
            var name = AssetNames.Sanitize(string.IsNullOrEmpty(record.DisplayName)
                ? settings.DisplayName
                : record.DisplayName);
            var folder = string.IsNullOrEmpty(record.OutputFolder)
                ? AssetNames.UniqueFolder(settings.OutputRoot, name, null)
                : record.OutputFolder.Replace('\\', '/').TrimEnd('/');
            var plan = new ImportPlan
            {
                AssetName = name,
                Folder = folder,
                PrefabPath = folder + "/" + name + ".prefab",
                MaterialPath = folder + "/" + name + "_Lit.mat",
                RenderPipeline = record.RenderPipeline,
                AddMeshCollider = settings.AddMeshCollider,
                AddLodGroup = settings.AddLodGroup,
                LodCullScreenHeight = 0.01f,
                TextureSize = record.Stats != null && record.Stats.TextureSize > 0
                    ? record.Stats.TextureSize
                    : settings.TextureSize,
            };
            foreach (var artifact in record.Artifacts)
            {
                var webp = artifact.MediaType == "image/webp" || (artifact.Filename ?? "").EndsWith(".webp",
                    StringComparison.OrdinalIgnoreCase);
                if (webp && artifact.Kind != ArtifactKind.Preview && artifact.Kind != ArtifactKind.Thumbnail)
                    throw new Trellis2Exception(Trellis2ErrorCode.ImportFailed,
                        "job " + record.JobId + " has WebP textures (made for another engine) and glTFast " +
                        "cannot read WebP; generate it again from Unity (the unity profile uses PNG/JPEG)");
            }
            var taken = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            foreach (var artifact in record.Artifacts)
            {
                if (artifact.Kind == ArtifactKind.Preview || artifact.Kind == ArtifactKind.Thumbnail)
                    continue;
                var isModel = artifact.Kind == ArtifactKind.Asset && plan.ModelPath == null;
                string relative;
                if (isModel)
                {
                    // The main file can be renamed freely: parts are referenced relative to it.
                    var ext = artifact.Filename != null
                        && artifact.Filename.EndsWith(".glb", StringComparison.OrdinalIgnoreCase)
                        ? ".glb"
                        : ".gltf";
                    relative = name + ext;
                }
                else
                {
                    relative = AssetNames.SafeRelativePath(artifact.Filename);
                }
                if (!taken.Add(relative))
                    throw new Trellis2Exception(Trellis2ErrorCode.ProtocolError,
                        "two artifacts of job " + record.JobId + " share the file name " + relative);
                var file = new PlannedFile
                {
                    Artifact = artifact,
                    AssetPath = folder + "/" + relative,
                    IsModel = isModel,
                };
                if (isModel)
                    plan.ModelPath = file.AssetPath;
                plan.Files.Add(file);
            }
            if (plan.ModelPath == null)
                throw new Trellis2Exception(Trellis2ErrorCode.ProtocolError,
                    "job " + record.JobId + " finished without a main asset artifact");
            return plan;
        }

        /// <summary>
        /// Fills texture importer settings and the material from the model's first material and
        /// the extra (packed) textures the server delivered.
        /// </summary>
        public static void PlanMaterial(ImportPlan plan, GltfMaterialInfo gltf)
        {
            plan.Textures.Clear();
            var dir = plan.Folder + "/";
            var maxSize = plan.TextureSize;
            var alpha = (gltf.AlphaMode ?? "OPAQUE").ToUpperInvariant();
            var hasAlpha = alpha == "MASK" || alpha == "BLEND";
            AddTexture(plan, dir, gltf.BaseColorUri, TextureRole.BaseColor, true, false, hasAlpha, maxSize);
            AddTexture(plan, dir, gltf.MetallicRoughnessUri, TextureRole.MetallicRoughness, false,
                false, false, maxSize);
            AddTexture(plan, dir, gltf.NormalUri, TextureRole.Normal, false, true, false, maxSize);
            if (gltf.OcclusionUri != null && gltf.OcclusionUri != gltf.MetallicRoughnessUri)
                AddTexture(plan, dir, gltf.OcclusionUri, TextureRole.Occlusion, false, false, false,
                    maxSize);
            AddTexture(plan, dir, gltf.EmissiveUri, TextureRole.Emissive, true, false, false, maxSize);
            AddExtraTextures(plan);
            if (gltf.BaseColorUri == null && plan.ModelPath.EndsWith(".glb", StringComparison.OrdinalIgnoreCase))
            {
                // Textures embedded in a GLB are not project assets a Lit material could use.
                plan.Material = null;
                plan.Warnings.Add("the asset is a single .glb with embedded textures, so it keeps " +
                    "glTFast's materials; generate with the glTF container (the default) to get the " +
                    "pipeline's Lit material");
                return;
            }
            plan.Material = MaterialPlanner.Plan(plan, gltf);
        }

        static void AddTexture(
            ImportPlan plan, string dir, string uri, TextureRole role, bool sRgb, bool normal,
            bool alphaIsTransparency, int maxSize)
        {
            if (uri == null)
                return;
            var path = dir + AssetNames.SafeRelativePath(uri);
            if (plan.Textures.Exists(t => t.AssetPath == path))
                return; // One image used by two slots keeps its first (stricter) role.
            plan.Textures.Add(new PlannedTexture
            {
                AssetPath = path,
                Role = role,
                SRgb = sRgb,
                IsNormalMap = normal,
                AlphaIsTransparency = alphaIsTransparency,
                MaxSize = maxSize,
            });
        }

        static void AddExtraTextures(ImportPlan plan)
        {
            var extras = plan.Files.FindAll(f => f.Artifact.Kind == ArtifactKind.ExtraTexture);
            var expected = JobRequests.PackedTextureFor(plan.RenderPipeline);
            foreach (var file in extras)
            {
                var role = RoleFromFileName(file.Artifact.Filename);
                // A single extra texture without a telling name is the one we asked for.
                if (role == TextureRole.Other && extras.Count == 1)
                    role = expected == ExtraTexture.MaskMap
                        ? TextureRole.MaskMap
                        : TextureRole.MetallicSmoothness;
                if (role == TextureRole.Other)
                    continue;
                plan.Textures.Add(new PlannedTexture
                {
                    AssetPath = file.AssetPath,
                    Role = role,
                    SRgb = false,
                    MaxSize = plan.TextureSize,
                });
            }
        }

        /// <summary>
        /// Recognises the server's packed-texture file names, "&lt;asset&gt;_&lt;kind&gt;.png" with kind
        /// metallic_smoothness, mask_map or orm. The suffix decides, so an asset name that
        /// happens to contain one of the words cannot mislead it.
        /// </summary>
        public static TextureRole RoleFromFileName(string fileName)
        {
            var name = System.IO.Path.GetFileNameWithoutExtension(fileName ?? "").ToLowerInvariant()
                .Replace("-", "_");
            if (name.EndsWith("metallic_smoothness", StringComparison.Ordinal))
                return TextureRole.MetallicSmoothness;
            if (name.EndsWith("mask_map", StringComparison.Ordinal))
                return TextureRole.MaskMap;
            if (name == "orm" || name.EndsWith("_orm", StringComparison.Ordinal))
                return TextureRole.Orm;
            return TextureRole.Other;
        }
    }
}
