// SPDX-License-Identifier: MIT
// Mirrors proto/trellis2/v1/asset_generation.proto; tests/clients/test_unity_proto_mirror.py
// checks every field name and type against the proto descriptor.
namespace Trellis2.Editor
{
    /// <summary>Lifecycle of a job.</summary>
    [ProtoEnum("trellis2.v1.JobState")]
    public enum JobState
    {
        [ProtoName("JOB_STATE_UNSPECIFIED")]
        Unspecified = 0,
        [ProtoName("JOB_STATE_QUEUED")]
        Queued = 1,
        [ProtoName("JOB_STATE_RUNNING")]
        Running = 2,
        [ProtoName("JOB_STATE_SUCCEEDED")]
        Succeeded = 3,
        [ProtoName("JOB_STATE_FAILED")]
        Failed = 4,
        [ProtoName("JOB_STATE_CANCELED")]
        Canceled = 5,
    }
}
