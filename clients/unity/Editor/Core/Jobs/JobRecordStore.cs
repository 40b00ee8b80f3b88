// SPDX-License-Identifier: MIT
using System;
using System.Collections.Generic;
using System.IO;
using System.Text;
using Newtonsoft.Json;

namespace Trellis2.Editor
{
    /// <summary>
    /// The persisted job history of one user in one project: a JSON list of
    /// <see cref="JobRecord"/>s, newest first, capped at <see cref="MaxRecords"/>. The Unity glue
    /// keeps it in UserSettings/Trellis2Jobs.json (per user, not committed); writes go to a
    /// temporary file first so a crash never leaves half a file.
    /// </summary>
    public sealed class JobRecordStore
    {
        readonly List<JobRecord> m_Records = new List<JobRecord>();

        public JobRecordStore()
        {
            MaxRecords = 100;
        }

        /// <summary>Oldest finished records beyond this are dropped on save.</summary>
        public int MaxRecords { get; set; }

        public IList<JobRecord> Records
        {
            get { return m_Records.AsReadOnly(); }
        }

        /// <summary>Jobs to reattach to or to import: still running, or finished and not imported.</summary>
        public List<JobRecord> Pending()
        {
            return m_Records.FindAll(r => r.NeedsAttention);
        }

        public JobRecord Find(string jobIdOrName)
        {
            var id = JobNames.ToId(jobIdOrName);
            return m_Records.Find(r => r.JobId == id);
        }

        /// <summary>Adds the record (newest first) or replaces the one with the same job id.</summary>
        public void Upsert(JobRecord record)
        {
            if (record == null || string.IsNullOrEmpty(record.JobId))
                throw new ArgumentException("a job record needs a job id", "record");
            var index = m_Records.FindIndex(r => r.JobId == record.JobId);
            if (index >= 0)
                m_Records[index] = record;
            else
                m_Records.Insert(0, record);
            Trim();
        }

        public bool Remove(string jobIdOrName)
        {
            var id = JobNames.ToId(jobIdOrName);
            return m_Records.RemoveAll(r => r.JobId == id) > 0;
        }

        public string ToJson()
        {
            return JsonConvert.SerializeObject(m_Records, Formatting.Indented, ProtoJson.Settings);
        }

        /// <summary>Replaces the contents with the records in <paramref name="json"/>.</summary>
        public void LoadJson(string json)
        {
            m_Records.Clear();
            if (string.IsNullOrEmpty(json) || json.Trim().Length == 0)
                return;
            var records = ProtoJson.Deserialize<List<JobRecord>>(json);
            if (records != null)
                m_Records.AddRange(records.FindAll(r => r != null && !string.IsNullOrEmpty(r.JobId)));
        }

        /// <summary>Loads from a file; a missing file is an empty history, a corrupt one is
        /// moved aside ("path.corrupt") so the user's next jobs still get recorded.</summary>
        public void LoadFile(string path)
        {
            if (!File.Exists(path))
            {
                m_Records.Clear();
                return;
            }
            try
            {
                LoadJson(File.ReadAllText(path, Encoding.UTF8));
            }
            catch (JsonException)
            {
                var aside = path + ".corrupt";
                if (File.Exists(aside))
                    File.Delete(aside);
                File.Move(path, aside);
                m_Records.Clear();
            }
        }

        public void SaveFile(string path)
        {
            var dir = Path.GetDirectoryName(Path.GetFullPath(path));
            if (!string.IsNullOrEmpty(dir))
                Directory.CreateDirectory(dir);
            var temp = path + ".tmp";
            File.WriteAllText(temp, ToJson(), new UTF8Encoding(false));
            if (File.Exists(path))
                File.Replace(temp, path, null);
            else
                File.Move(temp, path);
        }

        void Trim()
        {
            // Keep every record that still needs work; drop the oldest finished ones.
            for (var i = m_Records.Count - 1; i >= 0 && m_Records.Count > MaxRecords; i--)
            {
                if (!m_Records[i].NeedsAttention)
                    m_Records.RemoveAt(i);
            }
        }
    }
}
