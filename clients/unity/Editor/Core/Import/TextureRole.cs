// SPDX-License-Identifier: MIT
namespace Trellis2.Editor
{
    /// <summary>What a texture file is for; decides its import settings and material slot.</summary>
    public enum TextureRole
    {
        Other = 0,
        /// <summary>glTF baseColorTexture: sRGB colour, alpha in A.</summary>
        BaseColor,
        /// <summary>glTF metallicRoughnessTexture (G roughness, B metallic): linear.</summary>
        MetallicRoughness,
        /// <summary>Server-packed URP/Built-in metallic map (R metallic, A smoothness): linear.</summary>
        MetallicSmoothness,
        /// <summary>Server-packed HDRP mask map (R metal, G AO, B detail, A smoothness): linear.</summary>
        MaskMap,
        /// <summary>Server-packed ORM (R AO, G roughness, B metallic): linear.</summary>
        Orm,
        /// <summary>Tangent-space normal map (OpenGL convention, +Y, as Unity): imported as NormalMap.</summary>
        Normal,
        /// <summary>glTF occlusionTexture (R channel): linear.</summary>
        Occlusion,
        /// <summary>glTF emissiveTexture: sRGB colour.</summary>
        Emissive,
    }
}
