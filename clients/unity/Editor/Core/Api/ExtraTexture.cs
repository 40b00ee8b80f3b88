// SPDX-License-Identifier: MIT
// Mirrors proto/trellis2/v1/asset_generation.proto; tests/clients/test_unity_proto_mirror.py
// checks every field name and type against the proto descriptor.
namespace Trellis2.Editor
{
    /// <summary>
    /// Extra texture packings an engine wants instead of repacking pixels itself.
    /// </summary>
    [ProtoEnum("trellis2.v1.ExtraTexture")]
    public enum ExtraTexture
    {
        [ProtoName("EXTRA_TEXTURE_UNSPECIFIED")]
        Unspecified = 0,
        /// <summary>
        /// URP / Built-in Standard metallic map: R = metallic, A = smoothness (1 - roughness).
        /// </summary>
        [ProtoName("EXTRA_TEXTURE_METALLIC_SMOOTHNESS")]
        MetallicSmoothness = 1,
        /// <summary>
        /// HDRP mask map: R = metallic, G = occlusion, B = detail mask (1), A = smoothness.
        /// </summary>
        [ProtoName("EXTRA_TEXTURE_MASK_MAP")]
        MaskMap = 2,
        /// <summary>ORM: R = occlusion, G = roughness, B = metallic (Godot / Unreal).</summary>
        [ProtoName("EXTRA_TEXTURE_ORM")]
        Orm = 3,
    }
}
