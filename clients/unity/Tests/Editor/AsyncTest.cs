// SPDX-License-Identifier: MIT
using System;
using System.Threading.Tasks;

namespace Trellis2.Editor.Tests
{
    /// <summary>
    /// Runs async test bodies on the thread pool and waits, so the same tests work under
    /// NUnit 2.6 (mono, CI) and Unity's NUnit 3 without either runner's async support.
    /// </summary>
    static class AsyncTest
    {
        public static void Run(Func<Task> body)
        {
            Task.Run(body).GetAwaiter().GetResult();
        }

        public static T Run<T>(Func<Task<T>> body)
        {
            return Task.Run(body).GetAwaiter().GetResult();
        }
    }
}
