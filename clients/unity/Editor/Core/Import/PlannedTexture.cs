// SPDX-License-Identifier: MIT
namespace Trellis2.Editor
{
    /// <summary>TextureImporter settings for one texture file of the import.</summary>
    public sealed class PlannedTexture
    {
        /// <summary>Project path of the image file.</summary>
        public string AssetPath { get; set; }

        public TextureRole Role { get; set; }

        /// <summary>TextureImporter.sRGBTexture: true only for colour data.</summary>
        public bool SRgb { get; set; }

        /// <summary>TextureImporterType.NormalMap instead of Default.</summary>
        public bool IsNormalMap { get; set; }

        /// <summary>TextureImporter.alphaIsTransparency (base colour with real alpha).</summary>
        public bool AlphaIsTransparency { get; set; }

        /// <summary>TextureImporter.maxTextureSize (the baked size, so nothing is downscaled).</summary>
        public int MaxSize { get; set; }
    }
}
