// SPDX-License-Identifier: MIT
using UnityEditor;
using UnityEngine;

namespace Trellis2.Editor
{
    /// <summary>
    /// Applies the planned TextureImporter settings: sRGB only for colour data, the normal map as
    /// TextureImporterType.NormalMap, alpha-is-transparency for cut-out or blended base colours,
    /// and the baked size as max size so nothing is downscaled by default.
    /// </summary>
    static class TextureImportApplier
    {
        public static void Apply(ImportPlan plan)
        {
            foreach (var planned in plan.Textures)
            {
                AssetDatabase.ImportAsset(planned.AssetPath, ImportAssetOptions.ForceSynchronousImport);
                var importer = AssetImporter.GetAtPath(planned.AssetPath) as TextureImporter;
                if (importer == null)
                {
                    Debug.LogWarning("[Trellis2] " + planned.AssetPath + " is not imported as a texture");
                    continue;
                }
                importer.textureType = planned.IsNormalMap
                    ? TextureImporterType.NormalMap
                    : TextureImporterType.Default;
                importer.sRGBTexture = planned.SRgb;
                importer.alphaIsTransparency = planned.AlphaIsTransparency;
                importer.mipmapEnabled = true;
                if (planned.MaxSize > 0)
                    importer.maxTextureSize = Mathf.Clamp(Mathf.NextPowerOfTwo(planned.MaxSize), 32, 16384);
                importer.SaveAndReimport();
            }
        }
    }
}
