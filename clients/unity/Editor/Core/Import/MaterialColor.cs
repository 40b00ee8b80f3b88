// SPDX-License-Identifier: MIT
namespace Trellis2.Editor
{
    /// <summary>
    /// A colour property of the planned material, in the gamma (sRGB) space that
    /// Material.SetColor expects; glTF's linear factors are converted by the planner.
    /// </summary>
    public sealed class MaterialColor
    {
        public MaterialColor(string property, float r, float g, float b, float a)
        {
            Property = property;
            R = r;
            G = g;
            B = b;
            A = a;
        }

        public string Property { get; private set; }

        public float R { get; private set; }

        public float G { get; private set; }

        public float B { get; private set; }

        public float A { get; private set; }
    }
}
