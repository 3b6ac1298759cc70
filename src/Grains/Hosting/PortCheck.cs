using System.Net;
using System.Net.Sockets;

namespace ExplainCluster.Grains.Hosting;

/// <summary>
/// A port that another process already listens on, found before the silo starts anything: the silo then
/// stops with one line naming the setting, instead of failing half-way through joining the cluster.
/// </summary>
public static class PortCheck
{
    /// <param name="port">0: a free port chosen later; nothing to check.</param>
    public static void EnsureFree(IPAddress address, int port, string key)
    {
        if (port == 0) return;
        try
        {
            using var listener = new TcpListener(address, port);
            listener.Start();
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.AddressAlreadyInUse or SocketError.AccessDenied)
        {
            throw new ClusterSettingsException($"{key}: port {port} on {address} is {(e.SocketErrorCode == SocketError.AccessDenied ? "not allowed to this process" : "in use by another process")}");
        }
    }
}
