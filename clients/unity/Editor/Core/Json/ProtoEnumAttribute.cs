// SPDX-License-Identifier: MIT
using System;

namespace Trellis2.Editor
{
    /// <summary>Names the proto enum a C# enum mirrors (e.g. "trellis2.v1.JobState").</summary>
    [AttributeUsage(AttributeTargets.Enum, Inherited = false)]
    public sealed class ProtoEnumAttribute : Attribute
    {
        public ProtoEnumAttribute(string fullName)
        {
            FullName = fullName;
        }

        public string FullName { get; private set; }
    }
}
