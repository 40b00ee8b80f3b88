// SPDX-License-Identifier: MIT
using System;

namespace Trellis2.Editor
{
    /// <summary>Colour-space helpers for turning glTF factors into Unity material values.</summary>
    public static class ColorMath
    {
        /// <summary>The sRGB transfer function: linear [0,1] → gamma-encoded [0,1].</summary>
        public static float LinearToSrgb(float linear)
        {
            if (linear <= 0f)
                return 0f;
            if (linear >= 1f)
                return 1f;
            if (linear <= 0.0031308f)
                return linear * 12.92f;
            return (float)(1.055 * Math.Pow(linear, 1.0 / 2.4) - 0.055);
        }
    }
}
