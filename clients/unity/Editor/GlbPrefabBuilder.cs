// SPDX-License-Identifier: MIT
using System.Collections.Generic;
using System.Linq;
using UnityEditor;
using UnityEngine;

namespace Trellis2.Editor
{
    /// <summary>
    /// Turns the downloaded glTF into a prefab: textures get their importer settings, glTFast's
    /// importer (the default .gltf/.glb importer once com.unity.cloud.gltfast is installed)
    /// imports the model, and a prefab is saved whose renderers use the pipeline's Lit material,
    /// with the pivot on the ground at real-world scale (glTF metres = Unity units) and an
    /// optional MeshCollider and LODGroup.
    /// </summary>
    public static class GlbPrefabBuilder
    {
        public static GameObject Build(ImportPlan plan, JobRecord record)
        {
#if !TRELLIS2_GLTFAST
            throw new Trellis2Exception(Trellis2ErrorCode.ImportFailed,
                "com.unity.cloud.gltfast is not installed; add it in the Package Manager");
#else
            AssetDatabase.Refresh(ImportAssetOptions.ForceSynchronousImport);
            TextureImportApplier.Apply(plan);
            AssetDatabase.ImportAsset(plan.ModelPath, ImportAssetOptions.ForceSynchronousImport);
            var importer = AssetImporter.GetAtPath(plan.ModelPath);
            if (importer == null || !importer.GetType().FullName.StartsWith("GLTFast"))
                plan.Warnings.Add(plan.ModelPath + " is imported by " +
                    (importer == null ? "nothing" : importer.GetType().FullName) + ", not glTFast");
            var model = AssetDatabase.LoadAssetAtPath<GameObject>(plan.ModelPath);
            if (model == null)
                throw new Trellis2Exception(Trellis2ErrorCode.ImportFailed,
                    "glTFast produced no model for " + plan.ModelPath + "; see its import messages in the Inspector");

            var material = plan.Material != null ? LitMaterialFactory.Create(plan) : null;
            var root = new GameObject(plan.AssetName);
            try
            {
                var instance = Object.Instantiate(model, root.transform);
                instance.name = model.name;
                var renderers = instance.GetComponentsInChildren<Renderer>(true);
                if (material != null)
                {
                    foreach (var renderer in renderers)
                        renderer.sharedMaterials = Enumerable.Repeat(material, renderer.sharedMaterials.Length).ToArray();
                }
                PlaceOnGround(root, instance, renderers);
                if (plan.AddMeshCollider)
                    AddColliders(instance);
                if (plan.AddLodGroup && renderers.Length > 0)
                {
                    var lodGroup = root.AddComponent<LODGroup>();
                    lodGroup.SetLODs(new[] { new LOD(plan.LodCullScreenHeight, renderers) });
                    lodGroup.RecalculateBounds();
                }
                var prefab = PrefabUtility.SaveAsPrefabAsset(root, plan.PrefabPath);
                var prefabImporter = AssetImporter.GetAtPath(plan.PrefabPath);
                if (prefabImporter != null)
                {
                    // Provenance, visible in the prefab's import settings.
                    prefabImporter.userData = "trellis2 job=" + record.JobId + " seed=" + record.SeedUsed +
                        " server=" + record.ServerUrl;
                    prefabImporter.SaveAndReimport();
                }
                return prefab;
            }
            finally
            {
                Object.DestroyImmediate(root);
            }
#endif
        }

        static void PlaceOnGround(GameObject root, GameObject instance, Renderer[] renderers)
        {
            if (renderers.Length == 0)
                return;
            root.transform.position = Vector3.zero;
            var bounds = renderers[0].bounds;
            foreach (var r in renderers.Skip(1))
                bounds.Encapsulate(r.bounds);
            var offset = GroundPivot.Offset(
                new[] { bounds.min.x, bounds.min.y, bounds.min.z },
                new[] { bounds.max.x, bounds.max.y, bounds.max.z });
            instance.transform.localPosition += new Vector3(offset[0], offset[1], offset[2]);
        }

        static void AddColliders(GameObject instance)
        {
            var filters = new List<MeshFilter>(instance.GetComponentsInChildren<MeshFilter>(true));
            foreach (var filter in filters)
            {
                if (filter.sharedMesh == null || filter.GetComponent<Collider>() != null)
                    continue;
                var collider = filter.gameObject.AddComponent<MeshCollider>();
                collider.sharedMesh = filter.sharedMesh;
            }
        }
    }
}
