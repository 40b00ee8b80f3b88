// SPDX-License-Identifier: MIT
using UnityEngine.Rendering;

namespace Trellis2.Editor
{
    /// <summary>
    /// The active render pipeline (quality level override first, then Graphics settings), found
    /// by asset type name so the package needs no hard reference to URP or HDRP.
    /// </summary>
    static class RenderPipelineDetector
    {
        public static RenderPipelineKind Current()
        {
            var asset = GraphicsSettings.currentRenderPipeline;
            if (asset == null)
                return RenderPipelineKind.BuiltIn;
            var name = asset.GetType().Name;
            if (name.Contains("HDRenderPipeline"))
                return RenderPipelineKind.HighDefinition;
            if (name.Contains("Universal"))
                return RenderPipelineKind.Universal;
            return RenderPipelineKind.BuiltIn;
        }
    }
}
