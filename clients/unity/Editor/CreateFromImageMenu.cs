// SPDX-License-Identifier: MIT
using System.IO;
using UnityEditor;
using UnityEngine;

namespace Trellis2.Editor
{
    /// <summary>
    /// "Assets > Create > 3D Asset from Image": sends the selected texture's source file to the
    /// server with the team defaults and imports the result (progress in the status bar).
    /// </summary>
    static class CreateFromImageMenu
    {
        const string k_MenuPath = "Assets/Create/3D Asset from Image";

        [MenuItem(k_MenuPath, false, 2000)]
        static void CreateFromImage()
        {
            foreach (var texture in Selection.GetFiltered<Texture2D>(SelectionMode.Assets))
            {
                var path = AssetDatabase.GetAssetPath(texture);
                var settings = Trellis2Settings.instance.NewGenerationSettings(Path.GetFileNameWithoutExtension(path));
                JobController.Generate(path, settings);
            }
            GenerateWindow.Open();
        }

        [MenuItem(k_MenuPath, true)]
        static bool CreateFromImageValidate()
        {
            return Selection.GetFiltered<Texture2D>(SelectionMode.Assets).Length > 0;
        }
    }
}
