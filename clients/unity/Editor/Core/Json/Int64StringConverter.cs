// SPDX-License-Identifier: MIT
using System;
using System.Globalization;
using Newtonsoft.Json;

namespace Trellis2.Editor
{
    /// <summary>
    /// int64 fields travel as JSON strings in the protobuf JSON mapping ("seq": "12"); servers
    /// may also send plain numbers. Writes strings, reads both, for long and long?.
    /// </summary>
    public sealed class Int64StringConverter : JsonConverter
    {
        public override bool CanConvert(Type objectType)
        {
            return objectType == typeof(long) || objectType == typeof(long?);
        }

        public override void WriteJson(JsonWriter writer, object value, JsonSerializer serializer)
        {
            if (value == null)
                writer.WriteNull();
            else
                writer.WriteValue(((long)value).ToString(CultureInfo.InvariantCulture));
        }

        public override object ReadJson(
            JsonReader reader, Type objectType, object existingValue, JsonSerializer serializer)
        {
            switch (reader.TokenType)
            {
                case JsonToken.Null:
                    if (objectType == typeof(long?))
                        return null;
                    return 0L;
                case JsonToken.Integer:
                    return Convert.ToInt64(reader.Value, CultureInfo.InvariantCulture);
                case JsonToken.String:
                    return long.Parse((string)reader.Value, NumberStyles.Integer,
                        CultureInfo.InvariantCulture);
                default:
                    throw new JsonSerializationException(
                        "expected a string or integer for an int64 field, got " + reader.TokenType);
            }
        }
    }
}
