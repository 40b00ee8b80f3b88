// SPDX-License-Identifier: MIT
namespace Trellis2.Editor
{
    /// <summary>
    /// Where to move the model under the prefab root so the root sits on the ground: centred in
    /// X and Z, with the lowest point at Y = 0. glTF units are metres and so are Unity's, so the
    /// scale stays 1 (real-world size).
    /// </summary>
    public static class GroundPivot
    {
        /// <summary>Offset (x, y, z) to add to the model's local position, from its bounds.</summary>
        public static float[] Offset(float[] boundsMin, float[] boundsMax)
        {
            return new[]
            {
                -(boundsMin[0] + boundsMax[0]) * 0.5f,
                -boundsMin[1],
                -(boundsMin[2] + boundsMax[2]) * 0.5f,
            };
        }
    }
}
