// SPDX-License-Identifier: MIT
// Mirrors proto/trellis2/v1/asset_generation.proto; tests/clients/test_unity_proto_mirror.py
// checks every field name and type against the proto descriptor.
namespace Trellis2.Editor
{
    /// <summary>How the asset is packaged.</summary>
    [ProtoEnum("trellis2.v1.AssetContainer")]
    public enum AssetContainer
    {
        [ProtoName("ASSET_CONTAINER_UNSPECIFIED")]
        Unspecified = 0,
        /// <summary>One binary .glb file.</summary>
        [ProtoName("ASSET_CONTAINER_GLB")]
        Glb = 1,
        /// <summary>
        /// A .gltf JSON file plus a .bin buffer and image files, each its own artifact.
        /// </summary>
        [ProtoName("ASSET_CONTAINER_GLTF")]
        Gltf = 2,
    }
}
