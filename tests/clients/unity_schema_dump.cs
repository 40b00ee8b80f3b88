// SPDX-License-Identifier: MIT
// Prints, as JSON, every DTO of the Unity core that claims to mirror a proto message or enum:
// its JSON field names with a type descriptor, and enum value names with numbers.
// tests/clients/test_unity_proto_mirror.py compares this with the proto descriptor.
using System;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;
using Trellis2.Editor;

static class SchemaDump
{
    static string Kind(Type type)
    {
        var nullable = Nullable.GetUnderlyingType(type);
        if (nullable != null)
            return "optional " + Kind(nullable);
        if (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(List<>))
            return "repeated " + Kind(type.GetGenericArguments()[0]);
        if (type == typeof(string)) return "string";
        if (type == typeof(int)) return "int32";
        if (type == typeof(long)) return "int64";
        if (type == typeof(float)) return "float";
        if (type == typeof(bool)) return "bool";
        if (type == typeof(byte[])) return "bytes";
        var e = type.GetCustomAttributes(typeof(ProtoEnumAttribute), false);
        if (e.Length > 0) return "enum " + ((ProtoEnumAttribute)e[0]).FullName;
        var m = type.GetCustomAttributes(typeof(ProtoMessageAttribute), false);
        if (m.Length > 0) return "message " + ((ProtoMessageAttribute)m[0]).FullName;
        return "unknown " + type.FullName;
    }

    static int Main(string[] args)
    {
        var assembly = typeof(ProtoMessageAttribute).Assembly;
        var messages = new JObject();
        var enums = new JObject();
        foreach (var type in assembly.GetTypes().OrderBy(t => t.FullName))
        {
            var m = type.GetCustomAttributes(typeof(ProtoMessageAttribute), false);
            if (m.Length > 0)
            {
                var fields = new JObject();
                foreach (var p in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
                {
                    var attr = p.GetCustomAttributes(typeof(JsonPropertyAttribute), false);
                    if (attr.Length == 0)
                        continue;
                    fields[((JsonPropertyAttribute)attr[0]).PropertyName] = Kind(p.PropertyType);
                }
                messages[((ProtoMessageAttribute)m[0]).FullName] = fields;
            }
            var e = type.GetCustomAttributes(typeof(ProtoEnumAttribute), false);
            if (e.Length > 0)
            {
                var values = new JObject();
                foreach (var f in type.GetFields(BindingFlags.Public | BindingFlags.Static))
                {
                    var n = f.GetCustomAttributes(typeof(ProtoNameAttribute), false);
                    var name = n.Length > 0 ? ((ProtoNameAttribute)n[0]).Name : "(no ProtoName) " + f.Name;
                    values[name] = Convert.ToInt32(f.GetValue(null));
                }
                enums[((ProtoEnumAttribute)e[0]).FullName] = values;
            }
        }
        var root = new JObject();
        root["messages"] = messages;
        root["enums"] = enums;
        Console.WriteLine(root.ToString());
        return 0;
    }
}
