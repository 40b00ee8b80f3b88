// SPDX-License-Identifier: MIT
using System.Collections.Generic;
using NUnit.Framework;

namespace Trellis2.Editor.Tests
{
    [TestFixture]
    public class PipelineChoicesTests
    {
        static readonly PipelineType[] k_All =
        {
            PipelineType.Res512, PipelineType.Res1024, PipelineType.Res1024Cascade, PipelineType.Res1536Cascade,
        };

        // Shaped as the server's GetServerInfo answer (proto JSON) for `--pipeline-types 512,1024_cascade`.
        const string k_TwoTypes =
            "{\"version\":\"0.1.0\",\"defaultBackend\":\"trellis2\",\"backends\":[{\"name\":\"trellis2\"," +
            "\"loaded\":true,\"pipelineTypes\":[\"PIPELINE_TYPE_512\",\"PIPELINE_TYPE_1024_CASCADE\"]}]}";

        [Test]
        public void Offers_only_the_types_the_default_backend_loaded_in_menu_order()
        {
            var info = ProtoJson.Deserialize<ServerInfo>(k_TwoTypes);
            CollectionAssert.AreEqual(
                new[] { PipelineType.Res512, PipelineType.Res1024Cascade },
                PipelineChoices.Offered(k_All, info, ""));
        }

        [Test]
        public void Offers_everything_without_server_info_or_when_the_backend_lists_none()
        {
            CollectionAssert.AreEqual(k_All, PipelineChoices.Offered(k_All, null, ""));
            var none = ProtoJson.Deserialize<ServerInfo>(
                "{\"defaultBackend\":\"preview\",\"backends\":[{\"name\":\"preview\",\"loaded\":true}]}");
            CollectionAssert.AreEqual(k_All, PipelineChoices.Offered(k_All, none, ""));
            // A backend the settings name but the server does not have: the server will say so.
            var info = ProtoJson.Deserialize<ServerInfo>(k_TwoTypes);
            CollectionAssert.AreEqual(k_All, PipelineChoices.Offered(k_All, info, "other"));
        }

        [Test]
        public void A_type_the_server_did_not_load_falls_back_to_the_finest_below_it()
        {
            var offered = new List<PipelineType> { PipelineType.Res512, PipelineType.Res1024Cascade };
            Assert.AreEqual(PipelineType.Res1024Cascade, PipelineChoices.Pick(PipelineType.Res1024Cascade, offered));
            Assert.AreEqual(PipelineType.Res1024Cascade, PipelineChoices.Pick(PipelineType.Res1536Cascade, offered));
            Assert.AreEqual(PipelineType.Res512, PipelineChoices.Pick(PipelineType.Res1024, offered));
            var fineOnly = new List<PipelineType> { PipelineType.Res1536Cascade };
            Assert.AreEqual(PipelineType.Res1536Cascade, PipelineChoices.Pick(PipelineType.Res512, fineOnly));
        }
    }
}
