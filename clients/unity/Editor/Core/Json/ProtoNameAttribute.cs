// SPDX-License-Identifier: MIT
using System;

namespace Trellis2.Editor
{
    /// <summary>
    /// The proto name of one enum value (e.g. "JOB_STATE_QUEUED"), which is how the protobuf
    /// JSON mapping writes enums.
    /// </summary>
    [AttributeUsage(AttributeTargets.Field, Inherited = false)]
    public sealed class ProtoNameAttribute : Attribute
    {
        public ProtoNameAttribute(string name)
        {
            Name = name;
        }

        public string Name { get; private set; }
    }
}
