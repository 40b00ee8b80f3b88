// SPDX-License-Identifier: MIT
// Prints every public type of the Unity core with its public members, one "Type.Member" a line
// (nested types as "Outer.Inner"). tests/clients/test_unity_core.py checks that each
// "CoreType.Member" the editor glue names exists, since CI cannot compile the glue itself.
using System;
using System.Linq;
using System.Reflection;
using Trellis2.Editor;

static class ApiDump
{
    static int Main()
    {
        var assembly = typeof(Trellis2Client).Assembly;
        const BindingFlags flags = BindingFlags.Public | BindingFlags.Static | BindingFlags.Instance
            | BindingFlags.DeclaredOnly;
        foreach (var type in assembly.GetExportedTypes().OrderBy(t => t.FullName))
        {
            var name = type.FullName.Replace("Trellis2.Editor.", "").Replace('+', '.');
            Console.WriteLine(name);
            foreach (var member in type.GetMembers(flags))
                Console.WriteLine(name + "." + member.Name);
        }
        return 0;
    }
}
