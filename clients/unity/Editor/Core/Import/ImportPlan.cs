// SPDX-License-Identifier: MIT
using System.Collections.Generic;

namespace Trellis2.Editor
{
    /// <summary>
    /// Where a finished job's files go and how they are imported: files, texture importer
    /// settings, the Lit material, and the prefab with its optional components.
    /// </summary>
    public sealed class ImportPlan
    {
        public ImportPlan()
        {
            Files = new List<PlannedFile>();
            Textures = new List<PlannedTexture>();
            Warnings = new List<string>();
        }

        /// <summary>Sanitized asset name, e.g. "chair".</summary>
        public string AssetName { get; set; }

        /// <summary>"Assets/Generated/chair".</summary>
        public string Folder { get; set; }

        /// <summary>"Assets/Generated/chair/chair.gltf" (or .glb).</summary>
        public string ModelPath { get; set; }

        /// <summary>"Assets/Generated/chair/chair.prefab".</summary>
        public string PrefabPath { get; set; }

        /// <summary>"Assets/Generated/chair/chair_Lit.mat".</summary>
        public string MaterialPath { get; set; }

        public List<PlannedFile> Files { get; private set; }

        /// <summary>Filled by <see cref="ImportPlanner.PlanMaterial"/> once the model is on disk.</summary>
        public List<PlannedTexture> Textures { get; private set; }

        /// <summary>
        /// Filled by <see cref="ImportPlanner.PlanMaterial"/>; null keeps glTFast's own materials
        /// (a .glb whose textures are embedded).
        /// </summary>
        public MaterialPlan Material { get; set; }

        public RenderPipelineKind RenderPipeline { get; set; }

        /// <summary>Edge of the baked textures; importers keep it as their max size.</summary>
        public int TextureSize { get; set; }

        public bool AddMeshCollider { get; set; }

        public bool AddLodGroup { get; set; }

        /// <summary>LODGroup: below this screen height fraction the object is culled.</summary>
        public float LodCullScreenHeight { get; set; }

        /// <summary>Things the user should know (e.g. a packed map the server did not send).</summary>
        public List<string> Warnings { get; private set; }

        public PlannedTexture FindTexture(TextureRole role)
        {
            return Textures.Find(t => t.Role == role);
        }
    }
}
