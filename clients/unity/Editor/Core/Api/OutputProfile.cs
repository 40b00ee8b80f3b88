// SPDX-License-Identifier: MIT
// Mirrors proto/trellis2/v1/asset_generation.proto; tests/clients/test_unity_proto_mirror.py
// checks every field name and type against the proto descriptor.
namespace Trellis2.Editor
{
    /// <summary>Which engine the asset is tuned for.</summary>
    [ProtoEnum("trellis2.v1.OutputProfile")]
    public enum OutputProfile
    {
        [ProtoName("OUTPUT_PROFILE_UNSPECIFIED")]
        Unspecified = 0,
        /// <summary>Plain glTF 2.0 with core extensions only.</summary>
        [ProtoName("OUTPUT_PROFILE_GENERIC")]
        Generic = 1,
        /// <summary>
        /// Unity with glTFast: PNG/JPEG textures only, plus Unity's packed maps on request.
        /// </summary>
        [ProtoName("OUTPUT_PROFILE_UNITY")]
        Unity = 2,
        /// <summary>Godot 4: WebP allowed, never Draco or meshopt compression.</summary>
        [ProtoName("OUTPUT_PROFILE_GODOT")]
        Godot = 3,
    }
}
