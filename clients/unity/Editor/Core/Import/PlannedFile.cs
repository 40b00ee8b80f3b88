// SPDX-License-Identifier: MIT
namespace Trellis2.Editor
{
    /// <summary>One artifact to download and where it goes in the project.</summary>
    public sealed class PlannedFile
    {
        public Artifact Artifact { get; set; }

        /// <summary>Project path, e.g. "Assets/Generated/chair/chair.gltf".</summary>
        public string AssetPath { get; set; }

        /// <summary>True for the main .gltf/.glb file.</summary>
        public bool IsModel { get; set; }
    }
}
