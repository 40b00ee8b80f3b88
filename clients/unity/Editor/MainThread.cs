// SPDX-License-Identifier: MIT
using System;
using System.Threading;
using UnityEditor;

namespace Trellis2.Editor
{
    /// <summary>
    /// Posts work from thread-pool callbacks (stream events) back to the editor's main thread,
    /// where Unity APIs (Progress, AssetDatabase, windows) may be used.
    /// </summary>
    [InitializeOnLoad]
    static class MainThread
    {
        static readonly SynchronizationContext s_Context;

        static MainThread()
        {
            // Static constructors of [InitializeOnLoad] classes run on the main thread.
            s_Context = SynchronizationContext.Current;
        }

        public static void Post(Action action)
        {
            if (s_Context != null)
                s_Context.Post(_ => action(), null);
            else
                EditorApplication.delayCall += () => action();
        }
    }
}
