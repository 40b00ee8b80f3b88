// SPDX-License-Identifier: MIT
using System;
using NUnit.Framework;
using Newtonsoft.Json.Linq;

namespace Trellis2.Editor.Tests
{
    [TestFixture]
    public class ErrorTests
    {
        [Test]
        public void Every_error_code_has_a_title_and_advice_in_the_table()
        {
            foreach (Trellis2ErrorCode code in Enum.GetValues(typeof(Trellis2ErrorCode)))
            {
                Assert.IsTrue(Trellis2ErrorMessages.HasEntry(code), code + " has no row");
                Assert.IsNotEmpty(Trellis2ErrorMessages.Title(code));
                Assert.IsNotEmpty(Trellis2ErrorMessages.Advice(code));
            }
        }

        [Test]
        public void Connect_codes_map_to_what_the_user_can_act_on()
        {
            Assert.AreEqual(Trellis2ErrorCode.Unauthenticated, ConnectErrors.FromConnectCode("unauthenticated"));
            Assert.AreEqual(Trellis2ErrorCode.QuotaExceeded, ConnectErrors.FromConnectCode("resource_exhausted"));
            Assert.AreEqual(Trellis2ErrorCode.InvalidImage, ConnectErrors.FromConnectCode("invalid_argument"));
            Assert.AreEqual(Trellis2ErrorCode.ServerUnavailable, ConnectErrors.FromConnectCode("unavailable"));
            Assert.AreEqual(Trellis2ErrorCode.Canceled, ConnectErrors.FromConnectCode("canceled"));
            Assert.AreEqual(Trellis2ErrorCode.Unknown, ConnectErrors.FromConnectCode("no_such_code"));
        }

        [Test]
        public void Error_body_message_and_advice_reach_the_exception_text()
        {
            var e = ConnectErrors.FromUnaryBody(
                "{\"code\":\"invalid_argument\",\"message\":\"image is 1x1 pixels\"}", 400);
            Assert.AreEqual(Trellis2ErrorCode.InvalidImage, e.Code);
            Assert.AreEqual("invalid_argument", e.ConnectCode);
            StringAssert.Contains("image is 1x1 pixels", e.Message);
            StringAssert.Contains(Trellis2ErrorMessages.Advice(Trellis2ErrorCode.InvalidImage), e.Message);
        }

        [Test]
        public void Bare_http_status_from_a_proxy_falls_back_to_the_connect_table()
        {
            Assert.AreEqual(Trellis2ErrorCode.Unauthenticated, ConnectErrors.FromUnaryBody("<html>", 401).Code);
            Assert.AreEqual(Trellis2ErrorCode.ServerUnavailable, ConnectErrors.FromUnaryBody("", 503).Code);
            Assert.AreEqual(Trellis2ErrorCode.Unimplemented, ConnectErrors.FromUnaryBody(null, 404).Code);
        }

        [Test]
        public void Failed_job_grpc_codes_map_to_job_errors()
        {
            Assert.AreEqual(Trellis2ErrorCode.JobFailed, ConnectErrors.FromGrpcCode(13));
            Assert.AreEqual(Trellis2ErrorCode.Timeout, ConnectErrors.FromGrpcCode(4));
            Assert.AreEqual(Trellis2ErrorCode.InvalidImage, ConnectErrors.FromGrpcCode(3));
        }

        [Test]
        public void Only_network_and_availability_failures_are_transient()
        {
            Assert.IsTrue(new Trellis2Exception(Trellis2ErrorCode.ServerUnreachable, "x").IsTransient);
            Assert.IsTrue(new Trellis2Exception(Trellis2ErrorCode.ServerUnavailable, "x").IsTransient);
            Assert.IsFalse(new Trellis2Exception(Trellis2ErrorCode.Unauthenticated, "x").IsTransient);
            Assert.IsFalse(new Trellis2Exception(Trellis2ErrorCode.InvalidImage, "x").IsTransient);
        }

        [Test]
        public void End_of_stream_error_object_is_mapped()
        {
            var error = JObject.Parse("{\"code\":\"not_found\",\"message\":\"no job jobs/x\"}");
            var e = ConnectErrors.FromErrorObject(error, 0);
            Assert.AreEqual(Trellis2ErrorCode.NotFound, e.Code);
            StringAssert.Contains("no job jobs/x", e.Message);
        }
    }
}
