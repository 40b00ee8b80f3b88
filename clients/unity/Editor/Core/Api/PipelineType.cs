// SPDX-License-Identifier: MIT
// Mirrors proto/trellis2/v1/asset_generation.proto; tests/clients/test_unity_proto_mirror.py
// checks every field name and type against the proto descriptor.
namespace Trellis2.Editor
{
    /// <summary>
    /// Which TRELLIS.2 cascade produces the shape. Unspecified means the server default
    /// (1024_CASCADE for the trellis2 backend).
    /// </summary>
    [ProtoEnum("trellis2.v1.PipelineType")]
    public enum PipelineType
    {
        [ProtoName("PIPELINE_TYPE_UNSPECIFIED")]
        Unspecified = 0,
        /// <summary>512^3 output grid, 32^3 latent.</summary>
        [ProtoName("PIPELINE_TYPE_512")]
        Res512 = 1,
        /// <summary>1024^3 output grid sampled directly at 64^3 latent.</summary>
        [ProtoName("PIPELINE_TYPE_1024")]
        Res1024 = 2,
        /// <summary>512 model then 1024 model (the reference default).</summary>
        [ProtoName("PIPELINE_TYPE_1024_CASCADE")]
        Res1024Cascade = 3,
        /// <summary>512 model then the 1024 model at 96^3 latent, capped by max tokens.</summary>
        [ProtoName("PIPELINE_TYPE_1536_CASCADE")]
        Res1536Cascade = 4,
    }
}
