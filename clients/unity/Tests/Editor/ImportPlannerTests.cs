// SPDX-License-Identifier: MIT
using System.Collections.Generic;
using System.Text;
using NUnit.Framework;

namespace Trellis2.Editor.Tests
{
    [TestFixture]
    public class ImportPlannerTests
    {
        const string k_Gltf =
            "{\"asset\":{\"version\":\"2.0\"}," +
            "\"images\":[{\"uri\":\"chair_basecolor.png\"},{\"uri\":\"chair_metallic_roughness.png\"},{\"uri\":\"chair%20normal.png\"}]," +
            "\"textures\":[{\"source\":0},{\"source\":1},{\"source\":2}]," +
            "\"materials\":[{\"pbrMetallicRoughness\":{\"baseColorTexture\":{\"index\":0}," +
            "\"metallicRoughnessTexture\":{\"index\":1},\"baseColorFactor\":[0.5,1,0,1]}," +
            "\"normalTexture\":{\"index\":2,\"scale\":0.8},\"alphaMode\":\"ALPHA\",\"doubleSided\":false}]}";

        static JobRecord Finished(RenderPipelineKind pipeline, string extraName)
        {
            var r = new JobRecord
            {
                JobId = "j1",
                Name = "jobs/j1",
                DisplayName = "My chair #2",
                State = JobState.Succeeded,
                RenderPipeline = pipeline,
                OutputFolder = "Assets/Generated/My_chair_2",
                Stats = new AssetStats { TextureSize = 2048 },
            };
            r.Settings.AddMeshCollider = true;
            r.Artifacts.Add(new Artifact { Digest = "a", Filename = "asset.gltf", Kind = ArtifactKind.Asset, SizeBytes = 10 });
            r.Artifacts.Add(new Artifact { Digest = "b", Filename = "asset.bin", Kind = ArtifactKind.AssetPart, SizeBytes = 20 });
            r.Artifacts.Add(new Artifact { Digest = "c", Filename = "chair_basecolor.png", Kind = ArtifactKind.AssetPart });
            r.Artifacts.Add(new Artifact { Digest = "d", Filename = "chair_metallic_roughness.png", Kind = ArtifactKind.AssetPart });
            r.Artifacts.Add(new Artifact { Digest = "e", Filename = "chair normal.png", Kind = ArtifactKind.AssetPart });
            if (extraName != null)
                r.Artifacts.Add(new Artifact { Digest = "f", Filename = extraName, Kind = ArtifactKind.ExtraTexture });
            r.Artifacts.Add(new Artifact { Digest = "g", Filename = "preview.glb", Kind = ArtifactKind.Preview });
            return r;
        }

        static ImportPlan PlanWith(RenderPipelineKind pipeline, string extraName, string alphaMode)
        {
            var plan = ImportPlanner.PlanFiles(Finished(pipeline, extraName));
            var gltf = GltfMaterialInfo.FromGltfJson(k_Gltf.Replace("ALPHA", alphaMode));
            ImportPlanner.PlanMaterial(plan, gltf);
            return plan;
        }

        [Test]
        public void Files_go_under_the_output_folder_with_the_model_named_after_the_asset()
        {
            var plan = ImportPlanner.PlanFiles(Finished(RenderPipelineKind.Universal, "chair_metallic_smoothness.png"));
            Assert.AreEqual("My_chair_2", plan.AssetName);
            Assert.AreEqual("Assets/Generated/My_chair_2/My_chair_2.gltf", plan.ModelPath);
            Assert.AreEqual("Assets/Generated/My_chair_2/My_chair_2.prefab", plan.PrefabPath);
            Assert.AreEqual("Assets/Generated/My_chair_2/My_chair_2_Lit.mat", plan.MaterialPath);
            var paths = plan.Files.ConvertAll(f => f.AssetPath);
            CollectionAssert.Contains(paths, "Assets/Generated/My_chair_2/asset.bin");
            CollectionAssert.Contains(paths, "Assets/Generated/My_chair_2/chair_metallic_smoothness.png");
            Assert.AreEqual(6, plan.Files.Count, "previews are not imported");
            Assert.IsTrue(plan.AddMeshCollider);
            Assert.IsFalse(plan.AddLodGroup);
        }

        [Test]
        public void Server_file_names_that_leave_the_folder_are_refused()
        {
            foreach (var bad in new[] { "../x.png", "/etc/passwd", "a/../../b.png", "C:\\x.png", "" })
            {
                var r = Finished(RenderPipelineKind.Universal, null);
                r.Artifacts[1].Filename = bad;
                var e = Assert.Throws<Trellis2Exception>(() => ImportPlanner.PlanFiles(r));
                Assert.AreEqual(Trellis2ErrorCode.ProtocolError, e.Code, bad);
            }
        }

        [Test]
        public void Unfinished_job_has_nothing_to_import()
        {
            var r = Finished(RenderPipelineKind.Universal, null);
            r.State = JobState.Running;
            Assert.AreEqual(Trellis2ErrorCode.ImportFailed,
                Assert.Throws<Trellis2Exception>(() => ImportPlanner.PlanFiles(r)).Code);
        }

        [Test]
        public void Colour_textures_are_srgb_data_textures_linear_and_the_normal_map_typed()
        {
            var plan = PlanWith(RenderPipelineKind.Universal, "chair_metallic_smoothness.png", "OPAQUE");
            var baseColor = plan.FindTexture(TextureRole.BaseColor);
            Assert.AreEqual("Assets/Generated/My_chair_2/chair_basecolor.png", baseColor.AssetPath);
            Assert.IsTrue(baseColor.SRgb);
            Assert.IsFalse(baseColor.IsNormalMap);
            Assert.IsFalse(baseColor.AlphaIsTransparency);
            Assert.AreEqual(2048, baseColor.MaxSize);
            Assert.IsFalse(plan.FindTexture(TextureRole.MetallicRoughness).SRgb);
            var normal = plan.FindTexture(TextureRole.Normal);
            Assert.AreEqual("Assets/Generated/My_chair_2/chair normal.png", normal.AssetPath, "URI is unescaped");
            Assert.IsTrue(normal.IsNormalMap);
            Assert.IsFalse(normal.SRgb);
            var packed = plan.FindTexture(TextureRole.MetallicSmoothness);
            Assert.IsFalse(packed.SRgb);
            Assert.IsFalse(packed.IsNormalMap);
        }

        [Test]
        public void Urp_opaque_uses_lit_with_the_packed_metallic_map()
        {
            var m = PlanWith(RenderPipelineKind.Universal, "chair_metallic_smoothness.png", "OPAQUE").Material;
            Assert.AreEqual("Universal Render Pipeline/Lit", m.ShaderName);
            Assert.AreEqual("Assets/Generated/My_chair_2/chair_basecolor.png", m.GetTexture("_BaseMap"));
            Assert.AreEqual("Assets/Generated/My_chair_2/chair_metallic_smoothness.png", m.GetTexture("_MetallicGlossMap"));
            Assert.AreEqual("Assets/Generated/My_chair_2/chair normal.png", m.GetTexture("_BumpMap"));
            Assert.AreEqual(0.8f, m.GetFloat("_BumpScale", -1f), 1e-6f);
            Assert.AreEqual(1f, m.GetFloat("_Smoothness", -1f));
            Assert.AreEqual(0f, m.GetFloat("_SmoothnessTextureChannel", -1f));
            Assert.AreEqual(0f, m.GetFloat("_Surface", -1f));
            Assert.AreEqual(0f, m.GetFloat("_AlphaClip", -1f));
            Assert.AreEqual(2f, m.GetFloat("_Cull", -1f));
            CollectionAssert.AreEquivalent(new[] { "_METALLICSPECGLOSSMAP", "_NORMALMAP" }, m.Keywords);
            Assert.AreEqual(2000, m.RenderQueue);
            // baseColorFactor 0.5 linear is 0.735 in gamma space.
            var color = m.Colors.Find(c => c.Property == "_BaseColor");
            Assert.AreEqual(0.7354f, color.R, 1e-3f);
            Assert.AreEqual(1f, color.G, 1e-6f);
        }

        [Test]
        public void Urp_mask_clips_and_blend_is_transparent()
        {
            var mask = PlanWith(RenderPipelineKind.Universal, "x_metallic_smoothness.png", "MASK").Material;
            Assert.AreEqual(1f, mask.GetFloat("_AlphaClip", -1f));
            Assert.AreEqual(0.5f, mask.GetFloat("_Cutoff", -1f));
            CollectionAssert.Contains(mask.Keywords, "_ALPHATEST_ON");
            Assert.AreEqual(2450, mask.RenderQueue);
            Assert.AreEqual("TransparentCutout", mask.Tags["RenderType"]);

            var blendPlan = PlanWith(RenderPipelineKind.Universal, "x_metallic_smoothness.png", "BLEND");
            var blend = blendPlan.Material;
            Assert.AreEqual(1f, blend.GetFloat("_Surface", -1f));
            Assert.AreEqual(0f, blend.GetFloat("_Blend", -1f));
            Assert.AreEqual(5f, blend.GetFloat("_SrcBlend", -1f));
            Assert.AreEqual(10f, blend.GetFloat("_DstBlend", -1f));
            Assert.AreEqual(0f, blend.GetFloat("_ZWrite", -1f));
            CollectionAssert.Contains(blend.Keywords, "_SURFACE_TYPE_TRANSPARENT");
            Assert.AreEqual(3000, blend.RenderQueue);
            Assert.IsTrue(blendPlan.FindTexture(TextureRole.BaseColor).AlphaIsTransparency);
        }

        [Test]
        public void Hdrp_uses_the_server_packed_mask_map_and_validates()
        {
            var plan = PlanWith(RenderPipelineKind.HighDefinition, "chair_mask_map.png", "MASK");
            var m = plan.Material;
            Assert.AreEqual("HDRP/Lit", m.ShaderName);
            Assert.IsTrue(m.ValidateWithHdrp);
            Assert.AreEqual("Assets/Generated/My_chair_2/chair_basecolor.png", m.GetTexture("_BaseColorMap"));
            Assert.AreEqual("Assets/Generated/My_chair_2/chair_mask_map.png", m.GetTexture("_MaskMap"));
            Assert.AreEqual("Assets/Generated/My_chair_2/chair normal.png", m.GetTexture("_NormalMap"));
            Assert.AreEqual(1f, m.GetFloat("_AlphaCutoffEnable", -1f));
            Assert.AreEqual(0f, m.GetFloat("_SurfaceType", -1f));
            CollectionAssert.IsSubsetOf(new[] { "_MASKMAP", "_NORMALMAP", "_NORMALMAP_TANGENT_SPACE", "_ALPHATEST_ON" },
                m.Keywords);
            Assert.IsFalse(plan.FindTexture(TextureRole.MaskMap).SRgb);
            var blend = PlanWith(RenderPipelineKind.HighDefinition, "chair_mask_map.png", "BLEND").Material;
            Assert.AreEqual(1f, blend.GetFloat("_SurfaceType", -1f));
            CollectionAssert.Contains(blend.Keywords, "_SURFACE_TYPE_TRANSPARENT");
        }

        [Test]
        public void Builtin_standard_maps_alpha_modes_to_cutout_and_fade()
        {
            var opaque = PlanWith(RenderPipelineKind.BuiltIn, "x_metallic_smoothness.png", "OPAQUE").Material;
            Assert.AreEqual("Standard", opaque.ShaderName);
            Assert.AreEqual("Assets/Generated/My_chair_2/chair_basecolor.png", opaque.GetTexture("_MainTex"));
            Assert.AreEqual("Assets/Generated/My_chair_2/x_metallic_smoothness.png", opaque.GetTexture("_MetallicGlossMap"));
            Assert.AreEqual(0f, opaque.GetFloat("_Mode", -1f));
            CollectionAssert.Contains(opaque.Keywords, "_METALLICGLOSSMAP");
            var cutout = PlanWith(RenderPipelineKind.BuiltIn, "x_metallic_smoothness.png", "MASK").Material;
            Assert.AreEqual(1f, cutout.GetFloat("_Mode", -1f));
            CollectionAssert.Contains(cutout.Keywords, "_ALPHATEST_ON");
            var fade = PlanWith(RenderPipelineKind.BuiltIn, "x_metallic_smoothness.png", "BLEND").Material;
            Assert.AreEqual(2f, fade.GetFloat("_Mode", -1f));
            CollectionAssert.Contains(fade.Keywords, "_ALPHABLEND_ON");
            Assert.AreEqual(3000, fade.RenderQueue);
        }

        [Test]
        public void Without_a_packed_map_metallic_and_smoothness_become_constants_with_a_warning()
        {
            var plan = PlanWith(RenderPipelineKind.Universal, null, "OPAQUE");
            Assert.IsNull(plan.Material.GetTexture("_MetallicGlossMap"));
            Assert.AreEqual(1f, plan.Material.GetFloat("_Metallic", -1f));
            Assert.AreEqual(0f, plan.Material.GetFloat("_Smoothness", -1f));
            Assert.AreEqual(1, plan.Warnings.Count);
        }

        [Test]
        public void Packed_texture_role_comes_from_the_file_name_suffix()
        {
            Assert.AreEqual(TextureRole.MetallicSmoothness, ImportPlanner.RoleFromFileName("asset_metallic_smoothness.png"));
            Assert.AreEqual(TextureRole.MaskMap, ImportPlanner.RoleFromFileName("metallic_smoothness_demo_mask_map.png"));
            Assert.AreEqual(TextureRole.Orm, ImportPlanner.RoleFromFileName("chair_orm.png"));
            Assert.AreEqual(TextureRole.Other, ImportPlanner.RoleFromFileName("stormy_normal.png"));
            Assert.AreEqual(TextureRole.Other, ImportPlanner.RoleFromFileName(null));
        }

        [Test]
        public void A_single_extra_texture_with_an_unknown_name_is_the_one_requested()
        {
            var plan = PlanWith(RenderPipelineKind.HighDefinition, "packed.png", "OPAQUE");
            Assert.IsNotNull(plan.FindTexture(TextureRole.MaskMap));
        }

        [Test]
        public void Export_options_ask_for_the_pipelines_packing_in_the_unity_profile_without_webp()
        {
            var settings = new GenerationSettings { TextureFormat = TextureFormat.Webp, TextureSize = 2048 };
            var urp = JobRequests.ExportOptionsFor(settings, RenderPipelineKind.Universal);
            Assert.AreEqual(OutputProfile.Unity, urp.Profile);
            Assert.AreEqual(TextureFormat.Png, urp.TextureFormat);
            Assert.AreEqual(AssetContainer.Gltf, urp.Container);
            Assert.AreEqual(2048, urp.TextureSize);
            CollectionAssert.AreEqual(new[] { ExtraTexture.MetallicSmoothness }, urp.ExtraTextures);
            var hdrp = JobRequests.ExportOptionsFor(settings, RenderPipelineKind.HighDefinition);
            CollectionAssert.AreEqual(new[] { ExtraTexture.MaskMap }, hdrp.ExtraTextures);
            var builtin = JobRequests.ExportOptionsFor(settings, RenderPipelineKind.BuiltIn);
            CollectionAssert.AreEqual(new[] { ExtraTexture.MetallicSmoothness }, builtin.ExtraTextures);
        }

        [Test]
        public void Create_request_carries_settings_seed_and_a_request_id()
        {
            var settings = new GenerationSettings { DisplayName = "Big lamp!", Seed = 7, Resolution = PipelineType.Res512 };
            var request = JobRequests.Create(new byte[] { 1 }, settings, RenderPipelineKind.Universal, null);
            Assert.AreEqual("Big_lamp", request.DisplayName);
            Assert.AreEqual(7L, request.Seed);
            Assert.AreEqual(PipelineType.Res512, request.PipelineType);
            StringAssert.StartsWith("unity-", request.RequestId);
            Assert.Throws<Trellis2Exception>(() =>
                JobRequests.Create(new byte[0], settings, RenderPipelineKind.Universal, null));
        }

        [Test]
        public void Names_are_sanitized_and_folders_made_unique()
        {
            Assert.AreEqual("My_chair_2", AssetNames.Sanitize("My chair #2!"));
            Assert.AreEqual("asset", AssetNames.Sanitize("  ###  "));
            Assert.AreEqual("asset", AssetNames.Sanitize(null));
            var taken = new HashSet<string> { "Assets/Generated/chair", "Assets/Generated/chair_2" };
            Assert.AreEqual("Assets/Generated/chair_3",
                AssetNames.UniqueFolder("Assets/Generated/", "chair", taken.Contains));
            Assert.AreEqual("Assets/Generated/lamp",
                AssetNames.UniqueFolder("Assets\\Generated", "lamp", taken.Contains));
        }

        [Test]
        public void Glb_json_chunk_is_read_for_embedded_materials()
        {
            var json = Encoding.UTF8.GetBytes(k_Gltf.Replace("ALPHA", "BLEND").Replace("\"uri\":\"chair_basecolor.png\"", "\"bufferView\":0"));
            var padded = (json.Length + 3) / 4 * 4;
            var glb = new byte[20 + padded];
            Encoding.ASCII.GetBytes("glTF").CopyTo(glb, 0);
            System.BitConverter.GetBytes(2).CopyTo(glb, 4);
            System.BitConverter.GetBytes(glb.Length).CopyTo(glb, 8);
            System.BitConverter.GetBytes(padded).CopyTo(glb, 12);
            System.BitConverter.GetBytes(0x4E4F534A).CopyTo(glb, 16);
            json.CopyTo(glb, 20);
            for (var i = 20 + json.Length; i < glb.Length; i++)
                glb[i] = (byte)' ';
            var info = GltfMaterialInfo.FromGlb(glb);
            Assert.AreEqual("BLEND", info.AlphaMode);
            Assert.IsNull(info.BaseColorUri, "embedded image has no file");
            Assert.AreEqual("chair normal.png", info.NormalUri);
            Assert.AreEqual(0.8f, info.NormalScale, 1e-6f);
        }

        [Test]
        public void Glb_with_embedded_textures_keeps_gltfast_materials_with_a_warning()
        {
            var r = Finished(RenderPipelineKind.Universal, null);
            r.Artifacts.RemoveAll(a => a.Kind == ArtifactKind.AssetPart);
            r.Artifacts[0].Filename = "asset.glb";
            var plan = ImportPlanner.PlanFiles(r);
            Assert.AreEqual("Assets/Generated/My_chair_2/My_chair_2.glb", plan.ModelPath);
            var embedded = GltfMaterialInfo.FromGltfJson(k_Gltf.Replace("ALPHA", "OPAQUE")
                .Replace("{\"uri\":\"chair_basecolor.png\"}", "{\"bufferView\":0}"));
            ImportPlanner.PlanMaterial(plan, embedded);
            Assert.IsNull(plan.Material);
            Assert.AreEqual(1, plan.Warnings.Count);
        }

        [Test]
        public void Jobs_with_webp_textures_are_refused_before_downloading()
        {
            var r = Finished(RenderPipelineKind.Universal, null);
            r.Artifacts[2].Filename = "chair_basecolor.webp";
            r.Artifacts[2].MediaType = "image/webp";
            var e = Assert.Throws<Trellis2Exception>(() => ImportPlanner.PlanFiles(r));
            Assert.AreEqual(Trellis2ErrorCode.ImportFailed, e.Code);
            StringAssert.Contains("WebP", e.Message);
        }

        [Test]
        public void Ground_pivot_centres_xz_and_puts_the_lowest_point_at_zero()
        {
            var offset = GroundPivot.Offset(new[] { -1f, 0.25f, 2f }, new[] { 3f, 1.25f, 4f });
            CollectionAssert.AreEqual(new[] { -1f, -0.25f, -3f }, offset);
        }
    }
}
