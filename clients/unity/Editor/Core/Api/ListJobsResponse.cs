// SPDX-License-Identifier: MIT
// Mirrors proto/trellis2/v1/asset_generation.proto; tests/clients/test_unity_proto_mirror.py
// checks every field name and type against the proto descriptor.
using System.Collections.Generic;
using Newtonsoft.Json;

namespace Trellis2.Editor
{
    [ProtoMessage("trellis2.v1.ListJobsResponse")]
    public sealed class ListJobsResponse
    {
        [JsonProperty("jobs")]
        public List<Job> Jobs { get; set; } = new List<Job>();

        /// <summary>Empty when there are no more pages.</summary>
        [JsonProperty("nextPageToken")]
        public string NextPageToken { get; set; }
    }
}
