// SPDX-License-Identifier: MIT
using System.Collections.Generic;

namespace Trellis2.Editor
{
    /// <summary>
    /// Which pipeline types to offer in the generate form. A team server may load networks for
    /// some types only (<c>--pipeline-types</c>) and refuses the others with FAILED_PRECONDITION;
    /// its <see cref="ServerInfo"/> lists, per backend, the types it accepts (empty = all).
    /// </summary>
    public static class PipelineChoices
    {
        /// <summary>
        /// The types of <paramref name="all"/> (in that order) that the backend jobs go to accepts:
        /// <paramref name="backend"/>, or the server's default backend when empty. Without server
        /// information, an unknown backend or a backend that lists none: all of them.
        /// </summary>
        public static List<PipelineType> Offered(IList<PipelineType> all, ServerInfo info, string backend)
        {
            var offered = new List<PipelineType>(all);
            if (info == null || info.Backends == null)
                return offered;
            var name = string.IsNullOrEmpty(backend) ? info.DefaultBackend : backend;
            foreach (var b in info.Backends)
            {
                if (b == null || b.Name != name || b.PipelineTypes == null || b.PipelineTypes.Count == 0)
                    continue;
                offered.RemoveAll(t => !b.PipelineTypes.Contains(t));
                return offered.Count > 0 ? offered : new List<PipelineType>(all);
            }
            return offered;
        }

        /// <summary>
        /// <paramref name="wanted"/> when offered; otherwise the finest offered type below it, else
        /// the coarsest offered one (types are ordered from coarse to fine).
        /// </summary>
        public static PipelineType Pick(PipelineType wanted, IList<PipelineType> offered)
        {
            if (offered == null || offered.Count == 0 || offered.Contains(wanted))
                return wanted;
            var pick = offered[0];
            foreach (var t in offered)
                if (t < wanted && t > pick)
                    pick = t;
            return pick;
        }
    }
}
