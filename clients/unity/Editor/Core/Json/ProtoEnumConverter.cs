// SPDX-License-Identifier: MIT
using System;
using System.Collections.Generic;
using System.Reflection;
using Newtonsoft.Json;

namespace Trellis2.Editor
{
    /// <summary>
    /// Reads and writes enums the way the protobuf JSON mapping does: as the proto value name
    /// ("JOB_STATE_QUEUED"). Reads integers too, and maps names it does not know (a newer
    /// server) to the zero value instead of failing, as proto3 clients must.
    /// </summary>
    public sealed class ProtoEnumConverter : JsonConverter
    {
        static readonly Dictionary<Type, Dictionary<string, object>> s_ByName =
            new Dictionary<Type, Dictionary<string, object>>();
        static readonly Dictionary<Type, Dictionary<object, string>> s_ByValue =
            new Dictionary<Type, Dictionary<object, string>>();
        static readonly object s_Lock = new object();

        public override bool CanConvert(Type objectType)
        {
            var type = Nullable.GetUnderlyingType(objectType) ?? objectType;
            return type.IsEnum;
        }

        public override void WriteJson(JsonWriter writer, object value, JsonSerializer serializer)
        {
            if (value == null)
            {
                writer.WriteNull();
                return;
            }
            writer.WriteValue(ToProtoName(value));
        }

        public override object ReadJson(
            JsonReader reader, Type objectType, object existingValue, JsonSerializer serializer)
        {
            var nullable = Nullable.GetUnderlyingType(objectType);
            var type = nullable ?? objectType;
            if (reader.TokenType == JsonToken.Null)
                return nullable != null ? null : Enum.ToObject(type, 0);
            if (reader.TokenType == JsonToken.Integer)
                return Enum.ToObject(type, Convert.ToInt32(reader.Value));
            if (reader.TokenType == JsonToken.String)
                return FromProtoName(type, (string)reader.Value);
            throw new JsonSerializationException(
                "expected a string or integer for enum " + type.Name + ", got " + reader.TokenType);
        }

        /// <summary>The proto value name of an enum value, e.g. "JOB_STATE_QUEUED".</summary>
        public static string ToProtoName(object value)
        {
            string name;
            if (Maps(value.GetType(), out _, out var byValue) && byValue.TryGetValue(value, out name))
                return name;
            return value.ToString();
        }

        /// <summary>The enum value for a proto name; unknown names give the zero value.</summary>
        public static object FromProtoName(Type enumType, string name)
        {
            object value;
            if (Maps(enumType, out var byName, out _) && byName.TryGetValue(name, out value))
                return value;
            return Enum.ToObject(enumType, 0);
        }

        static bool Maps(
            Type type, out Dictionary<string, object> byName, out Dictionary<object, string> byValue)
        {
            lock (s_Lock)
            {
                if (!s_ByName.TryGetValue(type, out byName))
                {
                    byName = new Dictionary<string, object>();
                    byValue = new Dictionary<object, string>();
                    foreach (var field in type.GetFields(BindingFlags.Public | BindingFlags.Static))
                    {
                        var attrs = field.GetCustomAttributes(typeof(ProtoNameAttribute), false);
                        var protoName = attrs.Length > 0
                            ? ((ProtoNameAttribute)attrs[0]).Name
                            : field.Name;
                        var value = field.GetValue(null);
                        byName[protoName] = value;
                        byValue[value] = protoName;
                    }
                    s_ByName[type] = byName;
                    s_ByValue[type] = byValue;
                }
                byValue = s_ByValue[type];
                return true;
            }
        }
    }
}
