// SPDX-License-Identifier: MIT
using UnityEditor;
using UnityEngine;
#if TRELLIS2_HDRP
using UnityEngine.Rendering.HighDefinition;
#endif

namespace Trellis2.Editor
{
    /// <summary>
    /// Creates the .mat asset of a <see cref="MaterialPlan"/> with the active pipeline's own Lit
    /// shader. Properties the shader lacks are skipped (and reported), never guessed.
    /// </summary>
    static class LitMaterialFactory
    {
        public static Material Create(ImportPlan plan)
        {
            var m = plan.Material;
            var shader = Shader.Find(m.ShaderName);
            if (shader == null)
                throw new Trellis2Exception(Trellis2ErrorCode.ImportFailed,
                    "shader '" + m.ShaderName + "' not found; is the render pipeline package installed " +
                    "and set in Graphics settings?");
            var material = new Material(shader) { name = plan.AssetName + "_Lit" };
            foreach (var slot in m.Textures)
            {
                var texture = AssetDatabase.LoadAssetAtPath<Texture2D>(slot.AssetPath);
                if (texture == null)
                    plan.Warnings.Add("texture " + slot.AssetPath + " did not import");
                else if (material.HasProperty(slot.Property))
                    material.SetTexture(slot.Property, texture);
                else
                    plan.Warnings.Add(m.ShaderName + " has no " + slot.Property);
            }
            foreach (var f in m.Floats)
            {
                if (material.HasProperty(f.Property))
                    material.SetFloat(f.Property, f.Value);
            }
            foreach (var c in m.Colors)
            {
                if (material.HasProperty(c.Property))
                    material.SetColor(c.Property, new Color(c.R, c.G, c.B, c.A));
            }
            foreach (var keyword in m.Keywords)
                material.EnableKeyword(keyword);
            foreach (var tag in m.Tags)
                material.SetOverrideTag(tag.Key, tag.Value);
            if (m.RenderQueue >= 0)
                material.renderQueue = m.RenderQueue;
#if TRELLIS2_HDRP
            if (m.ValidateWithHdrp)
                HDMaterial.ValidateMaterial(material);
#endif
            var existing = AssetDatabase.LoadAssetAtPath<Material>(plan.MaterialPath);
            if (existing != null)
            {
                // Re-import keeps the asset (and its GUID, so references survive).
                existing.shader = material.shader;
                existing.CopyPropertiesFromMaterial(material);
                existing.shaderKeywords = material.shaderKeywords;
                existing.renderQueue = material.renderQueue;
                foreach (var tag in m.Tags)
                    existing.SetOverrideTag(tag.Key, tag.Value);
                Object.DestroyImmediate(material);
                EditorUtility.SetDirty(existing);
                return existing;
            }
            AssetDatabase.CreateAsset(material, plan.MaterialPath);
            return material;
        }
    }
}
