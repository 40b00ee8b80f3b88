// SPDX-License-Identifier: MIT
// Mirrors proto/trellis2/v1/asset_generation.proto; tests/clients/test_unity_proto_mirror.py
// checks every field name and type against the proto descriptor.

namespace Trellis2.Editor
{
    /// <summary>
    /// Sent on idle streams; not stored, carries the seq of the last stored event.
    /// </summary>
    [ProtoMessage("trellis2.v1.Heartbeat")]
    public sealed class Heartbeat
    {
    }
}
