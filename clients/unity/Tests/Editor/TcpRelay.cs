// SPDX-License-Identifier: MIT
using System;
using System.Collections.Generic;
using System.Net;
using System.Net.Sockets;
using System.Threading.Tasks;

namespace Trellis2.Editor.Tests
{
    /// <summary>
    /// A byte relay between the client and a real server on 127.0.0.1 whose connections a test
    /// can cut, to cause a genuine network failure in the middle of a stream.
    /// </summary>
    sealed class TcpRelay : IDisposable
    {
        readonly TcpListener m_Listener;
        readonly string m_TargetHost;
        readonly int m_TargetPort;
        readonly List<TcpClient> m_Open = new List<TcpClient>();
        bool m_Stopped;

        public TcpRelay(Uri target)
        {
            m_TargetHost = target.Host;
            m_TargetPort = target.Port;
            m_Listener = new TcpListener(IPAddress.Loopback, 0);
            m_Listener.Start();
            Task.Run(AcceptLoop);
        }

        public string Url
        {
            get { return "http://127.0.0.1:" + ((IPEndPoint)m_Listener.LocalEndpoint).Port; }
        }

        public int Accepted { get; private set; }

        /// <summary>Closes every connection open right now; new ones are still relayed.</summary>
        public void CutAll()
        {
            List<TcpClient> open;
            lock (m_Open)
            {
                open = new List<TcpClient>(m_Open);
                m_Open.Clear();
            }
            foreach (var c in open)
                c.Close();
        }

        async Task AcceptLoop()
        {
            while (!m_Stopped)
            {
                TcpClient inbound;
                try
                {
                    inbound = await m_Listener.AcceptTcpClientAsync();
                }
                catch (Exception)
                {
                    return; // Listener stopped.
                }
                var outbound = new TcpClient();
                try
                {
                    await outbound.ConnectAsync(m_TargetHost, m_TargetPort);
                }
                catch (Exception)
                {
                    inbound.Close();
                    continue;
                }
                lock (m_Open)
                {
                    Accepted++;
                    m_Open.Add(inbound);
                    m_Open.Add(outbound);
                }
                Pump(inbound, outbound);
                Pump(outbound, inbound);
            }
        }

        static async void Pump(TcpClient from, TcpClient to)
        {
            var buffer = new byte[16384];
            try
            {
                var source = from.GetStream();
                var sink = to.GetStream();
                while (true)
                {
                    var n = await source.ReadAsync(buffer, 0, buffer.Length);
                    if (n == 0)
                        break;
                    await sink.WriteAsync(buffer, 0, n);
                }
            }
            catch (Exception)
            {
                // Either side closed or was cut.
            }
            from.Close();
            to.Close();
        }

        public void Dispose()
        {
            m_Stopped = true;
            m_Listener.Stop();
            CutAll();
        }
    }
}
