// SPDX-License-Identifier: MIT
using System.IO;
using Newtonsoft.Json;

namespace Trellis2.Editor
{
    /// <summary>
    /// JSON settings for the protobuf JSON mapping: lowerCamelCase names (set per property),
    /// enums as names, int64 as strings, unset optional fields left out, unknown fields ignored
    /// (a newer server may add some), timestamps kept as RFC 3339 strings.
    /// </summary>
    public static class ProtoJson
    {
        static readonly JsonSerializerSettings s_Settings = CreateSettings();

        public static JsonSerializerSettings Settings
        {
            get { return s_Settings; }
        }

        public static string Serialize(object value)
        {
            return JsonConvert.SerializeObject(value, Formatting.None, s_Settings);
        }

        public static string SerializeIndented(object value)
        {
            return JsonConvert.SerializeObject(value, Formatting.Indented, s_Settings);
        }

        public static T Deserialize<T>(string json)
        {
            // JsonConvert.DeserializeObject honours DateParseHandling from the settings.
            var serializer = JsonSerializer.Create(s_Settings);
            using (var reader = new JsonTextReader(new StringReader(json)))
            {
                reader.DateParseHandling = DateParseHandling.None;
                return serializer.Deserialize<T>(reader);
            }
        }

        static JsonSerializerSettings CreateSettings()
        {
            var settings = new JsonSerializerSettings();
            settings.NullValueHandling = NullValueHandling.Ignore;
            settings.MissingMemberHandling = MissingMemberHandling.Ignore;
            settings.DateParseHandling = DateParseHandling.None;
            settings.ObjectCreationHandling = ObjectCreationHandling.Replace;
            settings.Converters.Add(new ProtoEnumConverter());
            settings.Converters.Add(new Int64StringConverter());
            return settings;
        }
    }
}
