// SPDX-License-Identifier: MIT
using System;

namespace Trellis2.Editor
{
    /// <summary>
    /// Names the proto message a DTO mirrors (e.g. "trellis2.v1.Job"). A test compares every
    /// DTO carrying this attribute with the proto descriptor, field by field.
    /// </summary>
    [AttributeUsage(AttributeTargets.Class, Inherited = false)]
    public sealed class ProtoMessageAttribute : Attribute
    {
        public ProtoMessageAttribute(string fullName)
        {
            FullName = fullName;
        }

        public string FullName { get; private set; }
    }
}
