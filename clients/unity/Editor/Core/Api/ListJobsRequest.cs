// SPDX-License-Identifier: MIT
// Mirrors proto/trellis2/v1/asset_generation.proto; tests/clients/test_unity_proto_mirror.py
// checks every field name and type against the proto descriptor.
using System.Collections.Generic;
using Newtonsoft.Json;

namespace Trellis2.Editor
{
    [ProtoMessage("trellis2.v1.ListJobsRequest")]
    public sealed class ListJobsRequest
    {
        /// <summary>At most this many jobs (default 50, max 500).</summary>
        [JsonProperty("pageSize")]
        public int PageSize { get; set; }

        /// <summary>From a previous ListJobsResponse.next_page_token.</summary>
        [JsonProperty("pageToken")]
        public string PageToken { get; set; }

        /// <summary>Only jobs in these states; empty = all.</summary>
        [JsonProperty("states")]
        public List<JobState> States { get; set; } = new List<JobState>();
    }
}
