// SPDX-License-Identifier: MIT
using System;

namespace Trellis2.Editor
{
    /// <summary>
    /// Maps a glTF metallic-roughness material onto the active pipeline's own Lit shader:
    /// URP "Universal Render Pipeline/Lit", HDRP "HDRP/Lit", Built-in "Standard". Property names,
    /// keywords and queues follow each shader; alpha modes map as
    /// OPAQUE → opaque, MASK → alpha clipping at alphaCutoff, BLEND → transparent alpha blend.
    /// </summary>
    public static class MaterialPlanner
    {
        public const string k_UrpLit = "Universal Render Pipeline/Lit";
        public const string k_HdrpLit = "HDRP/Lit";
        public const string k_Standard = "Standard";

        const int k_QueueGeometry = 2000;
        const int k_QueueAlphaTest = 2450;
        const int k_QueueTransparent = 3000;

        // UnityEngine.Rendering.BlendMode values.
        const float k_BlendZero = 0f;
        const float k_BlendOne = 1f;
        const float k_BlendSrcAlpha = 5f;
        const float k_BlendOneMinusSrcAlpha = 10f;

        public static MaterialPlan Plan(ImportPlan plan, GltfMaterialInfo gltf)
        {
            switch (plan.RenderPipeline)
            {
                case RenderPipelineKind.Universal: return Urp(plan, gltf);
                case RenderPipelineKind.HighDefinition: return Hdrp(plan, gltf);
                default: return Standard(plan, gltf);
            }
        }

        static MaterialPlan Urp(ImportPlan plan, GltfMaterialInfo gltf)
        {
            var m = new MaterialPlan { ShaderName = k_UrpLit };
            m.Floats.Add(new MaterialFloat("_WorkflowMode", 1f)); // metallic
            BaseColor(m, plan, gltf, "_BaseMap", "_BaseColor");
            var packed = plan.FindTexture(TextureRole.MetallicSmoothness);
            if (packed != null)
            {
                m.Textures.Add(new MaterialTextureSlot("_MetallicGlossMap", packed.AssetPath));
                m.Keywords.Add("_METALLICSPECGLOSSMAP");
                // With a map, URP reads metallic from R and multiplies A by _Smoothness.
                m.Floats.Add(new MaterialFloat("_Metallic", 1f));
                m.Floats.Add(new MaterialFloat("_Smoothness", 1f));
                m.Floats.Add(new MaterialFloat("_SmoothnessTextureChannel", 0f)); // metallic alpha
                WarnOnFactors(plan, gltf);
            }
            else
            {
                ConstantMetallic(m, plan, gltf, "_Metallic", "_Smoothness");
            }
            Normal(m, plan, gltf, "_BumpMap", "_BumpScale");
            var cull = gltf.DoubleSided ? 0f : 2f;
            m.Floats.Add(new MaterialFloat("_Cull", cull));
            switch (Alpha(gltf))
            {
                case "MASK":
                    m.Floats.Add(new MaterialFloat("_Surface", 0f));
                    m.Floats.Add(new MaterialFloat("_AlphaClip", 1f));
                    m.Floats.Add(new MaterialFloat("_Cutoff", gltf.AlphaCutoff));
                    Opaque(m, k_QueueAlphaTest);
                    m.Keywords.Add("_ALPHATEST_ON");
                    m.Tags["RenderType"] = "TransparentCutout";
                    break;
                case "BLEND":
                    m.Floats.Add(new MaterialFloat("_Surface", 1f));
                    m.Floats.Add(new MaterialFloat("_Blend", 0f)); // alpha
                    m.Floats.Add(new MaterialFloat("_AlphaClip", 0f));
                    Blended(m);
                    m.Keywords.Add("_SURFACE_TYPE_TRANSPARENT");
                    m.Tags["RenderType"] = "Transparent";
                    break;
                default:
                    m.Floats.Add(new MaterialFloat("_Surface", 0f));
                    m.Floats.Add(new MaterialFloat("_AlphaClip", 0f));
                    Opaque(m, k_QueueGeometry);
                    m.Tags["RenderType"] = "Opaque";
                    break;
            }
            return m;
        }

        static MaterialPlan Hdrp(ImportPlan plan, GltfMaterialInfo gltf)
        {
            var m = new MaterialPlan { ShaderName = k_HdrpLit, ValidateWithHdrp = true };
            BaseColor(m, plan, gltf, "_BaseColorMap", "_BaseColor");
            var mask = plan.FindTexture(TextureRole.MaskMap);
            if (mask != null)
            {
                m.Textures.Add(new MaterialTextureSlot("_MaskMap", mask.AssetPath));
                m.Keywords.Add("_MASKMAP");
                // With a mask map HDRP remaps R (metallic) and A (smoothness) by these ranges.
                m.Floats.Add(new MaterialFloat("_MetallicRemapMin", 0f));
                m.Floats.Add(new MaterialFloat("_MetallicRemapMax", 1f));
                m.Floats.Add(new MaterialFloat("_SmoothnessRemapMin", 0f));
                m.Floats.Add(new MaterialFloat("_SmoothnessRemapMax", 1f));
                m.Floats.Add(new MaterialFloat("_AORemapMin", 0f));
                m.Floats.Add(new MaterialFloat("_AORemapMax", 1f));
                WarnOnFactors(plan, gltf);
            }
            else
            {
                ConstantMetallic(m, plan, gltf, "_Metallic", "_Smoothness");
            }
            if (Normal(m, plan, gltf, "_NormalMap", "_NormalScale"))
            {
                m.Floats.Add(new MaterialFloat("_NormalMapSpace", 0f)); // tangent space
                m.Keywords.Add("_NORMALMAP_TANGENT_SPACE");
            }
            if (gltf.DoubleSided)
            {
                m.Floats.Add(new MaterialFloat("_DoubleSidedEnable", 1f));
                m.Keywords.Add("_DOUBLESIDED_ON");
            }
            switch (Alpha(gltf))
            {
                case "MASK":
                    m.Floats.Add(new MaterialFloat("_SurfaceType", 0f));
                    m.Floats.Add(new MaterialFloat("_AlphaCutoffEnable", 1f));
                    m.Floats.Add(new MaterialFloat("_AlphaCutoff", gltf.AlphaCutoff));
                    m.Keywords.Add("_ALPHATEST_ON");
                    break;
                case "BLEND":
                    m.Floats.Add(new MaterialFloat("_SurfaceType", 1f));
                    m.Floats.Add(new MaterialFloat("_BlendMode", 0f)); // alpha
                    m.Floats.Add(new MaterialFloat("_AlphaCutoffEnable", 0f));
                    m.Keywords.Add("_SURFACE_TYPE_TRANSPARENT");
                    break;
                default:
                    m.Floats.Add(new MaterialFloat("_SurfaceType", 0f));
                    m.Floats.Add(new MaterialFloat("_AlphaCutoffEnable", 0f));
                    break;
            }
            // HDMaterial.ValidateMaterial derives queue, passes and blend states from the above.
            m.RenderQueue = -1;
            return m;
        }

        static MaterialPlan Standard(ImportPlan plan, GltfMaterialInfo gltf)
        {
            var m = new MaterialPlan { ShaderName = k_Standard };
            BaseColor(m, plan, gltf, "_MainTex", "_Color");
            var packed = plan.FindTexture(TextureRole.MetallicSmoothness);
            if (packed != null)
            {
                m.Textures.Add(new MaterialTextureSlot("_MetallicGlossMap", packed.AssetPath));
                m.Keywords.Add("_METALLICGLOSSMAP");
                m.Floats.Add(new MaterialFloat("_GlossMapScale", 1f));
                m.Floats.Add(new MaterialFloat("_SmoothnessTextureChannel", 0f)); // metallic alpha
                WarnOnFactors(plan, gltf);
            }
            else
            {
                ConstantMetallic(m, plan, gltf, "_Metallic", "_Glossiness");
            }
            Normal(m, plan, gltf, "_BumpMap", "_BumpScale");
            if (gltf.DoubleSided)
                plan.Warnings.Add("the Standard shader has no double-sided option; back faces are culled");
            switch (Alpha(gltf))
            {
                case "MASK":
                    m.Floats.Add(new MaterialFloat("_Mode", 1f)); // Cutout
                    m.Floats.Add(new MaterialFloat("_Cutoff", gltf.AlphaCutoff));
                    Opaque(m, k_QueueAlphaTest);
                    m.Keywords.Add("_ALPHATEST_ON");
                    m.Tags["RenderType"] = "TransparentCutout";
                    break;
                case "BLEND":
                    // Fade: colour and specular fade together, as glTF BLEND defines.
                    m.Floats.Add(new MaterialFloat("_Mode", 2f));
                    Blended(m);
                    m.Keywords.Add("_ALPHABLEND_ON");
                    m.Tags["RenderType"] = "Transparent";
                    break;
                default:
                    m.Floats.Add(new MaterialFloat("_Mode", 0f));
                    Opaque(m, -1);
                    m.Tags["RenderType"] = "";
                    break;
            }
            return m;
        }

        static void BaseColor(
            MaterialPlan m, ImportPlan plan, GltfMaterialInfo gltf, string map, string color)
        {
            var tex = plan.FindTexture(TextureRole.BaseColor);
            if (tex != null)
                m.Textures.Add(new MaterialTextureSlot(map, tex.AssetPath));
            var f = gltf.BaseColorFactor;
            // glTF factors are linear; Material.SetColor takes gamma-space values.
            m.Colors.Add(new MaterialColor(color, ColorMath.LinearToSrgb(f[0]),
                ColorMath.LinearToSrgb(f[1]), ColorMath.LinearToSrgb(f[2]), f[3]));
        }

        static bool Normal(
            MaterialPlan m, ImportPlan plan, GltfMaterialInfo gltf, string map, string scale)
        {
            var tex = plan.FindTexture(TextureRole.Normal);
            if (tex == null)
                return false;
            m.Textures.Add(new MaterialTextureSlot(map, tex.AssetPath));
            m.Floats.Add(new MaterialFloat(scale, gltf.NormalScale));
            m.Keywords.Add("_NORMALMAP");
            return true;
        }

        static void ConstantMetallic(
            MaterialPlan m, ImportPlan plan, GltfMaterialInfo gltf, string metallic, string smoothness)
        {
            m.Floats.Add(new MaterialFloat(metallic, Clamp01(gltf.MetallicFactor)));
            m.Floats.Add(new MaterialFloat(smoothness, Clamp01(1f - gltf.RoughnessFactor)));
            if (gltf.MetallicRoughnessUri != null)
                plan.Warnings.Add("the server sent no " + JobRequests.PackedTextureFor(plan.RenderPipeline) +
                    " texture, so metallic and smoothness are constants; update the server to get " +
                    "the per-pixel maps");
        }

        static void WarnOnFactors(ImportPlan plan, GltfMaterialInfo gltf)
        {
            if (Math.Abs(gltf.MetallicFactor - 1f) > 1e-3f || Math.Abs(gltf.RoughnessFactor - 1f) > 1e-3f)
                plan.Warnings.Add("the glTF material scales metallic/roughness by factors (" +
                    gltf.MetallicFactor + ", " + gltf.RoughnessFactor + ") that the packed map does " +
                    "not include; the Lit material shows the unscaled map");
        }

        static void Opaque(MaterialPlan m, int queue)
        {
            m.Floats.Add(new MaterialFloat("_SrcBlend", k_BlendOne));
            m.Floats.Add(new MaterialFloat("_DstBlend", k_BlendZero));
            m.Floats.Add(new MaterialFloat("_ZWrite", 1f));
            m.RenderQueue = queue;
        }

        static void Blended(MaterialPlan m)
        {
            m.Floats.Add(new MaterialFloat("_SrcBlend", k_BlendSrcAlpha));
            m.Floats.Add(new MaterialFloat("_DstBlend", k_BlendOneMinusSrcAlpha));
            m.Floats.Add(new MaterialFloat("_ZWrite", 0f));
            m.RenderQueue = k_QueueTransparent;
        }

        static string Alpha(GltfMaterialInfo gltf)
        {
            var mode = (gltf.AlphaMode ?? "OPAQUE").ToUpperInvariant();
            return mode == "MASK" || mode == "BLEND" ? mode : "OPAQUE";
        }

        static float Clamp01(float v)
        {
            return v < 0f ? 0f : (v > 1f ? 1f : v);
        }
    }
}
