// SPDX-License-Identifier: MIT
// Mirrors proto/trellis2/v1/asset_generation.proto; tests/clients/test_unity_proto_mirror.py
// checks every field name and type against the proto descriptor.
namespace Trellis2.Editor
{
    /// <summary>What an artifact is.</summary>
    [ProtoEnum("trellis2.v1.ArtifactKind")]
    public enum ArtifactKind
    {
        [ProtoName("ARTIFACT_KIND_UNSPECIFIED")]
        Unspecified = 0,
        /// <summary>The main asset file (.glb, or the .gltf of a glTF container).</summary>
        [ProtoName("ARTIFACT_KIND_ASSET")]
        Asset = 1,
        /// <summary>A companion file of a glTF container (.bin buffer or texture image).</summary>
        [ProtoName("ARTIFACT_KIND_ASSET_PART")]
        AssetPart = 2,
        /// <summary>An extra packed texture (see ExtraTexture).</summary>
        [ProtoName("ARTIFACT_KIND_EXTRA_TEXTURE")]
        ExtraTexture = 3,
        /// <summary>A preview model (.glb).</summary>
        [ProtoName("ARTIFACT_KIND_PREVIEW")]
        Preview = 4,
        /// <summary>A small PNG rendering of a preview.</summary>
        [ProtoName("ARTIFACT_KIND_THUMBNAIL")]
        Thumbnail = 5,
    }
}
