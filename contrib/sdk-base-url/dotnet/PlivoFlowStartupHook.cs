// Points an unmodified .NET (Core 3.0+, .NET 5-9) app's Plivo SDK at `plivo-flow serve`.
// NOT RUN on the machine this was written on (no .NET SDK there): written from the sources of
// plivo-dotnet v5.53.0 and of System.Net.Http's DiagnosticsHandler. Check with the
// X-Plivo-Flow header before you trust it; the fallback below is two lines of app code.
//
// Build once (TargetFramework in the .csproj: your app's, or lower):
//   dotnet build -c Release PlivoFlowStartupHook.csproj
// Use:
//   PLIVO_FLOW_URL=http://127.0.0.1:8765 \
//   DOTNET_STARTUP_HOOKS=/path/to/bin/Release/net8.0/PlivoFlowStartupHook.dll dotnet run
//
// What it patches: plivo-dotnet's SystemHttpClient sets the BaseAddress of its HttpClients to
// "https://api.plivo.com/" + "v1" unless given a baseUri (src/Plivo/Client/SystemHttpClient.cs),
// and PlivoApi's constructor passes none (src/Plivo/PlivoApi.cs). The runtime runs this hook
// before Main; it listens to System.Net.Http's "HttpHandlerDiagnosticListener", whose
// "System.Net.Http.Request" event hands over each request just before it is sent, and moves a
// request for api.plivo.com to PLIVO_FLOW_URL's scheme, host and port (path, query, headers and
// credentials unchanged). Other hosts are left alone. Without PLIVO_FLOW_URL it does nothing.
//
// Fallback (.NET Framework, or if this hook does not take): right after `new PlivoApi(id, token)`:
//   var flow = Environment.GetEnvironmentVariable("PLIVO_FLOW_URL");
//   if (!string.IsNullOrEmpty(flow)) api.Client = new Plivo.Client.HttpClient(
//       new Plivo.Authentication.BasicAuth(id, token), baseUri: flow.TrimEnd('/') + "/v1");
using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Net.Http;

internal static class StartupHook
{
    public static void Initialize()
    {
        var flow = Environment.GetEnvironmentVariable("PLIVO_FLOW_URL");
        if (string.IsNullOrEmpty(flow)) return;
        var to = new Uri(flow);
        Console.Error.WriteLine("PlivoFlowStartupHook: api.plivo.com -> " + flow);
        DiagnosticListener.AllListeners.Subscribe(new Observer<DiagnosticListener>(listener =>
        {
            if (listener.Name != "HttpHandlerDiagnosticListener") return;
            listener.Subscribe(new Observer<KeyValuePair<string, object>>(e =>
            {
                if (e.Key != "System.Net.Http.Request" || e.Value == null) return;
                var request = e.Value.GetType().GetProperty("Request")?.GetValue(e.Value) as HttpRequestMessage;
                var uri = request?.RequestUri;
                if (uri == null || !uri.IsAbsoluteUri || uri.Host != "api.plivo.com") return;
                request.RequestUri = new UriBuilder(uri) { Scheme = to.Scheme, Host = to.Host, Port = to.Port }.Uri;
            }), name => name == "System.Net.Http.Request");
        }));
    }

    private sealed class Observer<T> : IObserver<T>
    {
        private readonly Action<T> _next;
        public Observer(Action<T> next) => _next = next;
        public void OnNext(T value) => _next(value);
        public void OnError(Exception error) { }
        public void OnCompleted() { }
    }
}
