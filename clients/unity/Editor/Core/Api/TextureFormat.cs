// SPDX-License-Identifier: MIT
// Mirrors proto/trellis2/v1/asset_generation.proto; tests/clients/test_unity_proto_mirror.py
// checks every field name and type against the proto descriptor.
namespace Trellis2.Editor
{
    /// <summary>Image encoding of the baked textures.</summary>
    [ProtoEnum("trellis2.v1.TextureFormat")]
    public enum TextureFormat
    {
        [ProtoName("TEXTURE_FORMAT_UNSPECIFIED")]
        Unspecified = 0,
        [ProtoName("TEXTURE_FORMAT_PNG")]
        Png = 1,
        [ProtoName("TEXTURE_FORMAT_JPEG")]
        Jpeg = 2,
        /// <summary>
        /// EXT_texture_webp; refused for the unity profile (glTFast cannot read it).
        /// </summary>
        [ProtoName("TEXTURE_FORMAT_WEBP")]
        Webp = 3,
    }
}
