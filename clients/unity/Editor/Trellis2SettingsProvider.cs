// SPDX-License-Identifier: MIT
using System.Collections.Generic;
using System.Threading;
using UnityEditor;
using UnityEngine;

namespace Trellis2.Editor
{
    /// <summary>
    /// "Project Settings > Trellis2" (team settings, committed) and "Preferences > Trellis2"
    /// (your API key, per user), with a connection test that calls GetServerInfo.
    /// </summary>
    static class Trellis2SettingsProvider
    {
        static readonly int[] k_TextureSizes = { 512, 1024, 2048, 4096 };
        static readonly string[] k_TextureSizeLabels = { "512", "1024", "2048", "4096" };
        static string s_ConnectionStatus = "";
        static bool s_Testing;

        [SettingsProvider]
        public static SettingsProvider CreateProjectProvider()
        {
            return new SettingsProvider("Project/Trellis2", SettingsScope.Project)
            {
                label = "Trellis2",
                guiHandler = _ => DrawProjectSettings(),
                keywords = new HashSet<string>(new[] { "Trellis2", "server", "3D", "generate", "glTF" }),
            };
        }

        [SettingsProvider]
        public static SettingsProvider CreateUserProvider()
        {
            return new SettingsProvider("Preferences/Trellis2", SettingsScope.User)
            {
                label = "Trellis2",
                guiHandler = _ => DrawUserSettings(),
                keywords = new HashSet<string>(new[] { "Trellis2", "API key", "token" }),
            };
        }

        static void DrawProjectSettings()
        {
            var s = Trellis2Settings.instance;
            EditorGUI.BeginChangeCheck();
            EditorGUILayout.LabelField("Server", EditorStyles.boldLabel);
            s.ServerUrl = EditorGUILayout.TextField(
                new GUIContent("Server URL", "The server's HTTP port, e.g. http://gpu-box:8080"), s.ServerUrl);
            s.Backend = EditorGUILayout.TextField(
                new GUIContent("Backend", "preview, trellis2, or empty for the server default"), s.Backend);
            EditorGUILayout.Space();
            EditorGUILayout.LabelField("Defaults for new jobs", EditorStyles.boldLabel);
            s.Resolution = (PipelineType)EditorGUILayout.EnumPopup("Resolution", s.Resolution);
            s.TextureSize = EditorGUILayout.IntPopup("Texture size", s.TextureSize, k_TextureSizeLabels, k_TextureSizes);
            s.DecimationTarget = Mathf.Max(1000, EditorGUILayout.IntField("Triangle budget", s.DecimationTarget));
            s.NormalMap = EditorGUILayout.Toggle("Bake normal map", s.NormalMap);
            s.OutputRoot = EditorGUILayout.TextField("Output folder", s.OutputRoot);
            s.AddMeshCollider = EditorGUILayout.Toggle("Add MeshCollider", s.AddMeshCollider);
            s.AddLodGroup = EditorGUILayout.Toggle("Add LODGroup", s.AddLodGroup);
            if (EditorGUI.EndChangeCheck())
                s.SaveSettings();
            EditorGUILayout.Space();
            DrawConnectionTest(s.ServerUrl);
            EditorGUILayout.HelpBox(
                "These settings are saved in ProjectSettings/Trellis2Settings.asset and shared with the team. " +
                "Your API key is personal: set it in Preferences > Trellis2.", MessageType.Info);
        }

        static void DrawUserSettings()
        {
            var url = Trellis2Settings.instance.ServerUrl;
            EditorGUILayout.LabelField("Server", url);
            var key = Trellis2UserSettings.GetApiKey(url);
            EditorGUI.BeginChangeCheck();
            key = EditorGUILayout.PasswordField(new GUIContent("API key", "Sent as Authorization: Bearer"), key);
            if (EditorGUI.EndChangeCheck())
                Trellis2UserSettings.SetApiKey(url, key);
            EditorGUILayout.HelpBox(
                "Stored in EditorPrefs for this user and machine only, never in the project.", MessageType.Info);
            DrawConnectionTest(url);
        }

        static void DrawConnectionTest(string url)
        {
            using (new EditorGUI.DisabledScope(s_Testing))
            {
                if (GUILayout.Button("Test connection", GUILayout.Width(140)))
                    TestConnection(url);
            }
            if (!string.IsNullOrEmpty(s_ConnectionStatus))
                EditorGUILayout.HelpBox(s_ConnectionStatus, MessageType.None);
        }

        static async void TestConnection(string url)
        {
            s_Testing = true;
            s_ConnectionStatus = "Connecting to " + url + "...";
            try
            {
                using (var client = new Trellis2Client(url, Trellis2UserSettings.GetApiKey(url)))
                {
                    // Awaited on the main thread: the continuation comes back to it, nothing blocks.
                    var info = await client.GetServerInfoAsync(CancellationToken.None);
                    s_ConnectionStatus = "Connected: server " + info.Version + ", default backend " +
                        info.DefaultBackend + ", " + info.QueueDepth + " queued, " + info.RunningJobs +
                        " running" + (info.AuthRequired ? ", API key required" : "");
                }
            }
            catch (Trellis2Exception e)
            {
                s_ConnectionStatus = e.Message;
            }
            catch (System.ArgumentException e)
            {
                s_ConnectionStatus = e.Message;
            }
            finally
            {
                s_Testing = false;
                SettingsService.RepaintAllSettingsWindow();
            }
        }
    }
}
