// SPDX-License-Identifier: MIT
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using UnityEditor;
using UnityEngine;

namespace Trellis2.Editor
{
    /// <summary>
    /// "Window > Trellis2 > Asset Generator": pick an image, set resolution, seed, texture size,
    /// triangle budget and output folder, Generate or Cancel; watch progress and preview
    /// thumbnails; browse the job history (re-import, regenerate with another seed). UI only:
    /// all work is done by <see cref="JobController"/>.
    /// </summary>
    public sealed class GenerateWindow : EditorWindow
    {
        static readonly int[] k_TextureSizes = { 512, 1024, 2048, 4096 };
        static readonly string[] k_TextureSizeLabels = { "512", "1024", "2048", "4096" };
        static readonly PipelineType[] k_Resolutions =
        {
            PipelineType.Res512, PipelineType.Res1024, PipelineType.Res1024Cascade, PipelineType.Res1536Cascade,
        };
        static readonly string[] k_ResolutionLabels =
        {
            "512 (fastest)", "1024", "1024 cascade (default)", "1536 cascade (finest)",
        };

        [SerializeField] Texture2D m_Image;
        [SerializeField] string m_AssetName = "";
        [SerializeField] int m_ResolutionIndex = 2;
        [SerializeField] bool m_RandomSeed = true;
        [SerializeField] long m_Seed = 1;
        [SerializeField] int m_TextureSize = 1024;
        [SerializeField] int m_DecimationTarget = 100000;
        [SerializeField] bool m_NormalMap = true;
        [SerializeField] string m_OutputRoot = GenerationSettings.k_DefaultOutputRoot;
        [SerializeField] bool m_AddMeshCollider;
        [SerializeField] bool m_AddLodGroup;
        [SerializeField] bool m_Initialized;
        // Pipeline types the server accepts (null until its ServerInfo arrived: offer all).
        List<PipelineType> m_Offered;
        string m_OfferedFor;
        Vector2 m_HistoryScroll;
        Vector2 m_TeamScroll;
        System.Collections.Generic.List<Job> m_TeamJobs;
        bool m_TeamLoading;
        bool m_ShowTeam;

        [MenuItem("Window/Trellis2/Asset Generator")]
        public static void Open()
        {
            var window = GetWindow<GenerateWindow>();
            window.titleContent = new GUIContent("Asset Generator");
            window.minSize = new Vector2(360, 420);
            window.Show();
        }

        void OnEnable()
        {
            m_OfferedFor = null; // ask the server again: it may have restarted with other types
            if (!m_Initialized)
            {
                var s = Trellis2Settings.instance;
                m_ResolutionIndex = Mathf.Max(0, System.Array.IndexOf(k_Resolutions, s.Resolution));
                m_TextureSize = s.TextureSize;
                m_DecimationTarget = s.DecimationTarget;
                m_NormalMap = s.NormalMap;
                m_OutputRoot = s.OutputRoot;
                m_AddMeshCollider = s.AddMeshCollider;
                m_AddLodGroup = s.AddLodGroup;
                m_Initialized = true;
            }
            JobController.Changed += Repaint;
            ThumbnailCache.Loaded += Repaint;
        }

        void OnDisable()
        {
            JobController.Changed -= Repaint;
            ThumbnailCache.Loaded -= Repaint;
        }

        void OnGUI()
        {
            DrawForm();
            EditorGUILayout.Space();
            DrawCurrentJob();
            EditorGUILayout.Space();
            DrawHistory();
            DrawTeamJobs();
        }

        void DrawForm()
        {
            var serverUrl = Trellis2Settings.instance.ServerUrl;
            EditorGUILayout.LabelField("Server", serverUrl, EditorStyles.miniLabel);
            if (m_OfferedFor != serverUrl)
                RefreshOfferedTypes(serverUrl);
            EditorGUI.BeginChangeCheck();
            m_Image = (Texture2D)EditorGUILayout.ObjectField("Image", m_Image, typeof(Texture2D), false);
            if (EditorGUI.EndChangeCheck() && m_Image != null)
                m_AssetName = m_Image.name;
            m_AssetName = EditorGUILayout.TextField("Asset name", m_AssetName);
            DrawResolution();
            using (new EditorGUILayout.HorizontalScope())
            {
                m_RandomSeed = EditorGUILayout.Toggle("Random seed", m_RandomSeed);
                using (new EditorGUI.DisabledScope(m_RandomSeed))
                    m_Seed = EditorGUILayout.LongField(m_Seed);
            }
            m_TextureSize = EditorGUILayout.IntPopup("Texture size", m_TextureSize, k_TextureSizeLabels, k_TextureSizes);
            m_DecimationTarget = Mathf.Clamp(EditorGUILayout.IntField("Triangle budget", m_DecimationTarget), 1000, 2000000);
            m_NormalMap = EditorGUILayout.Toggle("Bake normal map", m_NormalMap);
            using (new EditorGUILayout.HorizontalScope())
            {
                m_OutputRoot = EditorGUILayout.TextField("Output folder", m_OutputRoot);
                if (GUILayout.Button("...", GUILayout.Width(28)))
                    PickOutputFolder();
            }
            m_AddMeshCollider = EditorGUILayout.Toggle("Add MeshCollider", m_AddMeshCollider);
            m_AddLodGroup = EditorGUILayout.Toggle("Add LODGroup", m_AddLodGroup);
            var imagePath = m_Image != null ? AssetDatabase.GetAssetPath(m_Image) : null;
            using (new EditorGUI.DisabledScope(string.IsNullOrEmpty(imagePath)))
            {
                if (GUILayout.Button("Generate", GUILayout.Height(28)))
                    JobController.Generate(imagePath, CurrentSettings());
            }
            if (!string.IsNullOrEmpty(JobController.LastError))
                EditorGUILayout.HelpBox(JobController.LastError, MessageType.Error);
        }

        List<PipelineType> OfferedTypes()
        {
            return m_Offered ?? new List<PipelineType>(k_Resolutions);
        }

        PipelineType ChosenType()
        {
            var wanted = k_Resolutions[Mathf.Clamp(m_ResolutionIndex, 0, k_Resolutions.Length - 1)];
            return PipelineChoices.Pick(wanted, OfferedTypes());
        }

        void DrawResolution()
        {
            // Only the types the server loaded; the stored preference changes only when the user
            // picks, so it comes back on a server that has it.
            var offered = OfferedTypes();
            var labels = offered.Select(t => k_ResolutionLabels[System.Array.IndexOf(k_Resolutions, t)]).ToArray();
            EditorGUI.BeginChangeCheck();
            var shown = EditorGUILayout.Popup("Resolution", offered.IndexOf(ChosenType()), labels);
            if (EditorGUI.EndChangeCheck() && shown >= 0 && shown < offered.Count)
                m_ResolutionIndex = System.Array.IndexOf(k_Resolutions, offered[shown]);
        }

        async void RefreshOfferedTypes(string url)
        {
            m_OfferedFor = url;
            m_Offered = null;
            try
            {
                using (var client = new Trellis2Client(url, Trellis2UserSettings.GetApiKey(url)))
                {
                    var info = await client.GetServerInfoAsync(CancellationToken.None);
                    if (m_OfferedFor != url)
                        return; // the server setting changed meanwhile
                    m_Offered = PipelineChoices.Offered(k_Resolutions, info, Trellis2Settings.instance.Backend);
                    Repaint();
                }
            }
            catch (Trellis2Exception)
            {
                // Unreachable server: offer all types; Generate reports the connection error.
            }
            catch (System.ArgumentException)
            {
                // Malformed URL: the settings page says so.
            }
        }

        GenerationSettings CurrentSettings()
        {
            var settings = Trellis2Settings.instance.NewGenerationSettings(
                string.IsNullOrEmpty(m_AssetName) && m_Image != null ? m_Image.name : m_AssetName);
            settings.Resolution = ChosenType();
            settings.Seed = m_RandomSeed ? (long?)null : m_Seed;
            settings.TextureSize = m_TextureSize;
            settings.DecimationTarget = m_DecimationTarget;
            settings.NormalMap = m_NormalMap;
            settings.OutputRoot = m_OutputRoot;
            settings.AddMeshCollider = m_AddMeshCollider;
            settings.AddLodGroup = m_AddLodGroup;
            return settings;
        }

        void PickOutputFolder()
        {
            var projectRoot = Path.GetDirectoryName(Application.dataPath).Replace('\\', '/');
            var picked = EditorUtility.OpenFolderPanel("Output folder", Application.dataPath, "");
            if (string.IsNullOrEmpty(picked))
                return;
            picked = picked.Replace('\\', '/');
            if (!picked.StartsWith(projectRoot + "/Assets"))
            {
                ShowNotification(new GUIContent("Pick a folder inside Assets/"));
                return;
            }
            m_OutputRoot = picked.Substring(projectRoot.Length + 1);
        }

        void DrawCurrentJob()
        {
            JobRecord running = null;
            foreach (var record in JobController.History)
            {
                if (JobController.IsActive(record.JobId))
                {
                    running = record;
                    break;
                }
            }
            if (running == null)
                return;
            EditorGUILayout.LabelField(running.DisplayName, EditorStyles.boldLabel);
            var rect = GUILayoutUtility.GetRect(18, 18, GUILayout.ExpandWidth(true));
            EditorGUI.ProgressBar(rect, running.ProgressFraction, JobController.Describe(running));
            using (new EditorGUILayout.HorizontalScope())
            {
                var thumbnail = ThumbnailCache.Get(running.LatestThumbnail);
                if (thumbnail != null)
                    GUILayout.Label(thumbnail, GUILayout.Width(128), GUILayout.Height(128));
                using (new EditorGUI.DisabledScope(running.IsTerminal))
                {
                    if (GUILayout.Button("Cancel", GUILayout.Width(80)))
                        JobController.Cancel(running.JobId);
                }
            }
        }

        void DrawHistory()
        {
            EditorGUILayout.LabelField("Job history", EditorStyles.boldLabel);
            m_HistoryScroll = EditorGUILayout.BeginScrollView(m_HistoryScroll);
            foreach (var record in JobController.History)
            {
                using (new EditorGUILayout.HorizontalScope(EditorStyles.helpBox))
                {
                    var thumbnail = ThumbnailCache.Get(record.LatestThumbnail);
                    if (thumbnail != null)
                        GUILayout.Label(thumbnail, GUILayout.Width(40), GUILayout.Height(40));
                    using (new EditorGUILayout.VerticalScope())
                    {
                        EditorGUILayout.LabelField(record.DisplayName + "  (seed " + record.SeedUsed + ")", EditorStyles.boldLabel);
                        EditorGUILayout.LabelField(JobController.Describe(record), EditorStyles.miniLabel);
                    }
                    DrawHistoryButtons(record);
                }
            }
            EditorGUILayout.EndScrollView();
        }

        void DrawTeamJobs()
        {
            m_ShowTeam = EditorGUILayout.Foldout(m_ShowTeam, "Team jobs on the server", true);
            if (!m_ShowTeam)
                return;
            using (new EditorGUI.DisabledScope(m_TeamLoading))
            {
                if (GUILayout.Button(m_TeamLoading ? "Loading..." : "Refresh", GUILayout.Width(90)))
                    RefreshTeamJobs();
            }
            if (m_TeamJobs == null)
                return;
            m_TeamScroll = EditorGUILayout.BeginScrollView(m_TeamScroll, GUILayout.MaxHeight(200));
            foreach (var job in m_TeamJobs)
            {
                using (new EditorGUILayout.HorizontalScope())
                {
                    var spec = job.Spec ?? new JobSpec();
                    EditorGUILayout.LabelField(spec.DisplayName + " (seed " + spec.Seed + ")", GUILayout.MinWidth(120));
                    EditorGUILayout.LabelField(ProtoEnumConverter.ToProtoName(job.State).Replace("JOB_STATE_", "").ToLowerInvariant(),
                        GUILayout.Width(80));
                    using (new EditorGUI.DisabledScope(job.State == JobState.Failed || job.State == JobState.Canceled))
                    {
                        if (GUILayout.Button("Import", GUILayout.Width(60)))
                            JobController.ImportTeamJob(job);
                    }
                }
            }
            EditorGUILayout.EndScrollView();
        }

        async void RefreshTeamJobs()
        {
            m_TeamLoading = true;
            try
            {
                m_TeamJobs = await JobController.ListTeamJobsAsync();
            }
            catch (Trellis2Exception e)
            {
                ShowNotification(new GUIContent(Trellis2ErrorMessages.Title(e.Code)));
                Debug.LogError("[Trellis2] " + e.Message);
            }
            finally
            {
                m_TeamLoading = false;
                Repaint();
            }
        }

        void DrawHistoryButtons(JobRecord record)
        {
            var busy = JobController.IsActive(record.JobId);
            using (new EditorGUILayout.VerticalScope(GUILayout.Width(110)))
            {
                using (new EditorGUI.DisabledScope(busy || record.State != JobState.Succeeded))
                {
                    if (GUILayout.Button("Re-import"))
                        JobController.Reimport(record.JobId);
                }
                using (new EditorGUI.DisabledScope(string.IsNullOrEmpty(record.SourceImagePath)))
                {
                    if (GUILayout.Button("New seed"))
                        JobController.Regenerate(record.JobId, null);
                }
                if (record.Imported && !string.IsNullOrEmpty(record.PrefabPath) && GUILayout.Button("Select"))
                {
                    var prefab = AssetDatabase.LoadAssetAtPath<GameObject>(record.PrefabPath);
                    if (prefab != null)
                    {
                        Selection.activeObject = prefab;
                        EditorGUIUtility.PingObject(prefab);
                    }
                }
                using (new EditorGUI.DisabledScope(busy))
                {
                    if (GUILayout.Button("Remove"))
                        JobController.Remove(record.JobId);
                }
            }
        }
    }
}
