//go:build plivoflow
// +build plivoflow

// Points a Go app's plivo-go client at `plivo-flow serve`, without changing a line of the app.
// Go links everything at build time, so this file is compiled in: copy it into the folder of
// the app's main.go (package main) and build with the tag, which keeps it out of every build
// without the tag:
//
//	cp plivo_flow.go ./cmd/app/ && PLIVO_FLOW_URL=http://127.0.0.1:8765 go run -tags plivoflow ./cmd/app
//
// What it patches: plivo-go builds URLs from the const baseUrlString "https://api.plivo.com/"
// and, for voice APIs, forces the unexported vars voiceBaseUrlString* ("api.plivo.com") and
// HttpsScheme (plivoclient.go, baseclient.go ExecuteRequest); none can be set from outside.
// NewClient's default http.Client has no Transport of its own, so it uses
// http.DefaultTransport. This file wraps http.DefaultTransport so that a request to
// api.plivo.com goes to PLIVO_FLOW_URL's scheme and host instead (paths and auth unchanged);
// all other traffic is left alone; it says so on stderr at start. It cannot reach a client made with
// ClientOptions{HttpClient: c} where c has its own Transport. Without PLIVO_FLOW_URL it does
// nothing. Checked against plivo-go v7.60.2.
package main

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
)

func init() {
	raw := os.Getenv("PLIVO_FLOW_URL")
	if raw == "" {
		return
	}
	to, err := url.Parse(raw)
	if err != nil || to.Host == "" {
		panic("plivo_flow.go: bad PLIVO_FLOW_URL " + raw)
	}
	http.DefaultTransport = plivoFlowTransport{to: to, next: http.DefaultTransport}
	fmt.Fprintln(os.Stderr, "plivo_flow.go: api.plivo.com ->", raw)
}

type plivoFlowTransport struct {
	to   *url.URL
	next http.RoundTripper
}

func (t plivoFlowTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Host == "api.plivo.com" {
		r = r.Clone(r.Context())
		r.URL.Scheme, r.URL.Host, r.Host = t.to.Scheme, t.to.Host, ""
	}
	return t.next.RoundTrip(r)
}
