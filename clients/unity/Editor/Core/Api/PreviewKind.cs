// SPDX-License-Identifier: MIT
// Mirrors proto/trellis2/v1/asset_generation.proto; tests/clients/test_unity_proto_mirror.py
// checks every field name and type against the proto descriptor.
namespace Trellis2.Editor
{
    /// <summary>What a preview shows.</summary>
    [ProtoEnum("trellis2.v1.PreviewKind")]
    public enum PreviewKind
    {
        [ProtoName("PREVIEW_KIND_UNSPECIFIED")]
        Unspecified = 0,
        /// <summary>The coarse sparse structure, as boxes.</summary>
        [ProtoName("PREVIEW_KIND_VOXELS")]
        Voxels = 1,
        /// <summary>The decoded shape before texturing.</summary>
        [ProtoName("PREVIEW_KIND_MESH")]
        Mesh = 2,
    }
}
