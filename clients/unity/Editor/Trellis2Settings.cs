// SPDX-License-Identifier: MIT
using UnityEditor;
using UnityEngine;

namespace Trellis2.Editor
{
    /// <summary>
    /// Team settings, committed with the project in ProjectSettings/Trellis2Settings.asset:
    /// the server URL and the defaults new jobs start from. Never holds the API key (that is
    /// per user, see <see cref="Trellis2UserSettings"/>).
    /// </summary>
    [FilePath("ProjectSettings/Trellis2Settings.asset", FilePathAttribute.Location.ProjectFolder)]
    public sealed class Trellis2Settings : ScriptableSingleton<Trellis2Settings>
    {
        [SerializeField] string m_ServerUrl = "http://localhost:8080";
        [SerializeField] PipelineType m_Resolution = PipelineType.Res1024Cascade;
        [SerializeField] int m_TextureSize = 1024;
        [SerializeField] int m_DecimationTarget = 100000;
        [SerializeField] bool m_NormalMap = true;
        [SerializeField] string m_OutputRoot = GenerationSettings.k_DefaultOutputRoot;
        [SerializeField] bool m_AddMeshCollider;
        [SerializeField] bool m_AddLodGroup;
        [SerializeField] string m_Backend = "";

        public string ServerUrl
        {
            get { return m_ServerUrl; }
            set { m_ServerUrl = value; }
        }

        public PipelineType Resolution
        {
            get { return m_Resolution; }
            set { m_Resolution = value; }
        }

        public int TextureSize
        {
            get { return m_TextureSize; }
            set { m_TextureSize = value; }
        }

        public int DecimationTarget
        {
            get { return m_DecimationTarget; }
            set { m_DecimationTarget = value; }
        }

        public bool NormalMap
        {
            get { return m_NormalMap; }
            set { m_NormalMap = value; }
        }

        public string OutputRoot
        {
            get { return m_OutputRoot; }
            set { m_OutputRoot = value; }
        }

        public bool AddMeshCollider
        {
            get { return m_AddMeshCollider; }
            set { m_AddMeshCollider = value; }
        }

        public bool AddLodGroup
        {
            get { return m_AddLodGroup; }
            set { m_AddLodGroup = value; }
        }

        public string Backend
        {
            get { return m_Backend; }
            set { m_Backend = value; }
        }

        /// <summary>A fresh settings object from the team defaults.</summary>
        public GenerationSettings NewGenerationSettings(string displayName)
        {
            return new GenerationSettings
            {
                DisplayName = AssetNames.Sanitize(displayName),
                Resolution = m_Resolution,
                TextureSize = m_TextureSize,
                DecimationTarget = m_DecimationTarget,
                NormalMap = m_NormalMap,
                OutputRoot = string.IsNullOrEmpty(m_OutputRoot) ? GenerationSettings.k_DefaultOutputRoot : m_OutputRoot,
                AddMeshCollider = m_AddMeshCollider,
                AddLodGroup = m_AddLodGroup,
                Backend = m_Backend ?? "",
            };
        }

        public void SaveSettings()
        {
            Save(true);
        }
    }
}
