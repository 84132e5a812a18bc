using System.Collections.Concurrent;
using System.Net;
using IdentityServer.ScaleOut.Tests.Infrastructure;

namespace IdentityServer.ScaleOut.Tests;

/// <summary>One instance crashes (SIGKILL) while refreshes and client_credentials requests flow through nginx.</summary>
public sealed class InstanceFailureTests(Cluster cluster) : IClassFixture<Cluster>, IDisposable
{
    private const int Chains = 4;
    private const int RefreshesPerChain = 24;
    private const int KillAfterRequests = Chains * RefreshesPerChain / 2;

    private readonly Clients clients = new(cluster);

    [ScaleOutFact]
    public async Task The_other_instance_keeps_serving_and_every_refresh_chain_goes_on_exactly_once()
    {
        var client = await clients.RegisterCodeClientAsync("load-app");
        var chains = new string[Chains];
        for (var i = 0; i < Chains; i++)
        {
            await clients.RegisterUserAsync($"user{i}", $"user{i}-password-1");
            chains[i] = (await clients.LogInAsync(client, $"user{i}", $"user{i}-password-1", cluster.Public)).GetProperty("refresh_token").GetString()!;
        }

        var requests = 0;
        var killed = 0;
        var afterKill = new ConcurrentBag<string>();      // failures of requests sent once A was gone
        var inFlight = new ConcurrentBag<string>();       // failures of requests A held when it died
        var lostAtCrash = new ConcurrentBag<int>();
        var killDone = new TaskCompletionSource();

        async Task<(HttpStatusCode? Status, string Detail, bool SentAfterKill)> SendAsync(Func<Task<(HttpStatusCode, System.Text.Json.JsonElement)>> send)
        {
            var sentAfterKill = killDone.Task.IsCompleted;
            if (Interlocked.Increment(ref requests) == KillAfterRequests && Interlocked.Exchange(ref killed, 1) == 0)
            {
                // Crash A mid-load; the other workers' requests keep flowing meanwhile.
                _ = Task.Run(() =>
                {
                    cluster.A.Kill();
                    killDone.SetResult();
                });
            }

            try
            {
                var (status, body) = await send();
                return (status, body.ToString(), sentAfterKill);
            }
            catch (HttpRequestException exception)
            {
                return (null, exception.Message, sentAfterKill);
            }
        }

        async Task RunChainAsync(int chain)
        {
            for (var step = 0; step < RefreshesPerChain; step++)
            {
                var token = chains[chain];
                var (status, detail, sentAfterKill) = await SendAsync(() => clients.RefreshAsync(cluster.Public, client, token));
                if (status is not HttpStatusCode.OK and not null && status != HttpStatusCode.BadGateway)
                {
                    (sentAfterKill ? afterKill : inFlight).Add($"chain {chain} step {step}: {status} {detail}");
                    return;
                }

                if (status != HttpStatusCode.OK)
                {
                    // The request reached A and A died holding it (nginx never replays a sent POST). Its outcome
                    // is unknown to the client, as after any crash: present the same token again, now to B.
                    inFlight.Add($"chain {chain} step {step}: {status?.ToString() ?? detail}");
                    await killDone.Task;
                    var (retry, retryDetail, _) = await SendAsync(() => clients.RefreshAsync(cluster.Public, client, token));
                    if (retry == HttpStatusCode.BadRequest && retryDetail.Contains("invalid_grant", StringComparison.Ordinal))
                    {
                        // A redeemed it before dying and its answer was lost: reuse rules end the chain, as they must.
                        lostAtCrash.Add(chain);
                        return;
                    }

                    Assert.True(retry == HttpStatusCode.OK, $"chain {chain} retry: {retry} {retryDetail}");
                    detail = retryDetail;
                }

                chains[chain] = System.Text.Json.JsonDocument.Parse(detail).RootElement.GetProperty("refresh_token").GetString()!;
                var (credentials, credentialsDetail, credentialsAfterKill) = await SendAsync(() => clients.ClientCredentialsAsync(cluster.Public));
                if (credentials != HttpStatusCode.OK)
                {
                    (credentialsAfterKill ? afterKill : inFlight).Add($"client_credentials: {credentials?.ToString() ?? credentialsDetail}");
                }
            }
        }

        await Task.WhenAll(Enumerable.Range(0, Chains).Select(RunChainAsync));

        Assert.True(killDone.Task.IsCompleted, "A was never killed: the load was too short.");
        Assert.True(cluster.A.HasExited);
        Assert.True(afterKill.IsEmpty, "requests failed after the crash: " + string.Join("; ", afterKill));
        // Only a request A held when it died may fail, at most one per worker, and never with a server error.
        Assert.True(inFlight.Count <= Chains, string.Join("; ", inFlight));
        Assert.True(lostAtCrash.Count <= inFlight.Count);

        for (var chain = 0; chain < Chains; chain++)
        {
            if (lostAtCrash.Contains(chain))
            {
                continue;
            }

            // The chain's last token works exactly once, wherever it lands.
            var (first, firstBody) = await clients.RefreshAsync(cluster.Public, client, chains[chain]);
            var (second, _) = await clients.RefreshAsync(cluster.B.BaseAddress, client, chains[chain]);
            Assert.True(first == HttpStatusCode.OK, $"chain {chain} final refresh: {first} {firstBody}");
            Assert.Equal(HttpStatusCode.BadRequest, second);
        }

        Assert.True(lostAtCrash.Count < Chains, "every chain was in flight at the crash; the test proves nothing.");
    }

    public void Dispose() => clients.Dispose();
}
