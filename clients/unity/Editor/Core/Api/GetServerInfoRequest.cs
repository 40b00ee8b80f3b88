// SPDX-License-Identifier: MIT
// Mirrors proto/trellis2/v1/asset_generation.proto; tests/clients/test_unity_proto_mirror.py
// checks every field name and type against the proto descriptor.

namespace Trellis2.Editor
{
    [ProtoMessage("trellis2.v1.GetServerInfoRequest")]
    public sealed class GetServerInfoRequest
    {
    }
}
