// SPDX-License-Identifier: MIT
namespace Trellis2.Editor
{
    /// <summary>The project's active render pipeline, which decides the Lit shader used.</summary>
    public enum RenderPipelineKind
    {
        /// <summary>Built-in Render Pipeline: "Standard" shader.</summary>
        BuiltIn = 0,
        /// <summary>URP: "Universal Render Pipeline/Lit".</summary>
        Universal = 1,
        /// <summary>HDRP: "HDRP/Lit".</summary>
        HighDefinition = 2,
    }
}
