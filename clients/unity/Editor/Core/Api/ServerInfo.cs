// SPDX-License-Identifier: MIT
// Mirrors proto/trellis2/v1/asset_generation.proto; tests/clients/test_unity_proto_mirror.py
// checks every field name and type against the proto descriptor.
using System.Collections.Generic;
using Newtonsoft.Json;

namespace Trellis2.Editor
{
    [ProtoMessage("trellis2.v1.ServerInfo")]
    public sealed class ServerInfo
    {
        [JsonProperty("version")]
        public string Version { get; set; }

        /// <summary>Backend new jobs use when they name none.</summary>
        [JsonProperty("defaultBackend")]
        public string DefaultBackend { get; set; }

        [JsonProperty("backends")]
        public List<BackendInfo> Backends { get; set; } = new List<BackendInfo>();

        [JsonProperty("limits")]
        public ServerLimits Limits { get; set; }

        [JsonProperty("queueDepth")]
        public int QueueDepth { get; set; }

        [JsonProperty("runningJobs")]
        public int RunningJobs { get; set; }

        [JsonProperty("workers")]
        public int Workers { get; set; }

        [JsonProperty("gpus")]
        public List<GpuInfo> Gpus { get; set; } = new List<GpuInfo>();

        /// <summary>True if clients must send "authorization: Bearer &lt;api key&gt;".</summary>
        [JsonProperty("authRequired")]
        public bool AuthRequired { get; set; }
    }
}
