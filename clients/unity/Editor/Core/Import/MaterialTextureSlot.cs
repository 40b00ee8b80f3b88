// SPDX-License-Identifier: MIT
namespace Trellis2.Editor
{
    /// <summary>A texture property of the planned material, e.g. _BaseMap = base colour file.</summary>
    public sealed class MaterialTextureSlot
    {
        public MaterialTextureSlot(string property, string assetPath)
        {
            Property = property;
            AssetPath = assetPath;
        }

        public string Property { get; private set; }

        public string AssetPath { get; private set; }
    }
}
