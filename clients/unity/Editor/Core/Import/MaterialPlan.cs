// SPDX-License-Identifier: MIT
using System.Collections.Generic;

namespace Trellis2.Editor
{
    /// <summary>
    /// Everything the glue sets on the new material: shader, textures, floats, colours,
    /// keywords, tags and render queue. Pure data, so the choices are unit-tested without Unity.
    /// </summary>
    public sealed class MaterialPlan
    {
        public MaterialPlan()
        {
            Textures = new List<MaterialTextureSlot>();
            Floats = new List<MaterialFloat>();
            Colors = new List<MaterialColor>();
            Keywords = new List<string>();
            Tags = new Dictionary<string, string>();
            RenderQueue = -1;
        }

        /// <summary>Shader.Find name, e.g. "Universal Render Pipeline/Lit".</summary>
        public string ShaderName { get; set; }

        public List<MaterialTextureSlot> Textures { get; private set; }

        public List<MaterialFloat> Floats { get; private set; }

        public List<MaterialColor> Colors { get; private set; }

        /// <summary>Shader keywords to enable (all others stay as the shader defaults).</summary>
        public List<string> Keywords { get; private set; }

        /// <summary>Material.SetOverrideTag pairs, e.g. RenderType = Transparent.</summary>
        public Dictionary<string, string> Tags { get; private set; }

        /// <summary>Material.renderQueue; -1 keeps the shader's queue.</summary>
        public int RenderQueue { get; set; }

        /// <summary>Call HDMaterial.ValidateMaterial after setting everything (HDRP only).</summary>
        public bool ValidateWithHdrp { get; set; }

        public float GetFloat(string property, float fallback)
        {
            var found = Floats.Find(f => f.Property == property);
            return found != null ? found.Value : fallback;
        }

        public string GetTexture(string property)
        {
            var found = Textures.Find(t => t.Property == property);
            return found != null ? found.AssetPath : null;
        }
    }
}
