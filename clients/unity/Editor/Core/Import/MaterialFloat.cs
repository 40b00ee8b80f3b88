// SPDX-License-Identifier: MIT
namespace Trellis2.Editor
{
    /// <summary>A float property of the planned material, e.g. _Surface = 1.</summary>
    public sealed class MaterialFloat
    {
        public MaterialFloat(string property, float value)
        {
            Property = property;
            Value = value;
        }

        public string Property { get; private set; }

        public float Value { get; private set; }
    }
}
