package org.gocdregistrybridge.shim;

import com.thoughtworks.go.plugin.api.request.GoPluginApiRequest;
import com.thoughtworks.go.plugin.api.response.DefaultGoPluginApiResponse;
import com.thoughtworks.go.plugin.api.response.GoPluginApiResponse;
import java.io.IOException;
import java.net.*;
import java.net.http.*;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/** Sends one GoCD call to the sidecar (docs/sidecar-protocol.md, "Forwarding one call") and returns the reply unchanged. */
final class SidecarClient {
    private final Duration requestTimeout;

    SidecarClient(Duration requestTimeout) {
        this.requestTimeout = requestTimeout;
    }

    GoPluginApiResponse send(Sidecar sidecar, GoPluginApiRequest call, String requestId)
            throws IOException, InterruptedException {
        String path = "/gocd/" + segment(call.extension()) + "/" + segment(call.extensionVersion()) + "/"
                + segment(call.requestName());
        HttpRequest request = HttpRequest.newBuilder(URI.create(sidecar.base + path))
                .timeout(requestTimeout)
                .header("Authorization", "Bearer " + sidecar.token)
                .header("Content-Type", "application/json; charset=utf-8")
                .header("X-Request-Id", requestId)
                .POST(HttpRequest.BodyPublishers.ofString(call.requestBody() == null ? "" : call.requestBody(),
                        StandardCharsets.UTF_8))
                .build();
        HttpResponse<String> response = Shared.HTTP.send(request, HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
        return new DefaultGoPluginApiResponse(response.statusCode(), response.body());
    }

    /**
     * Builds the shared client on a daemon thread: loading java.net.http takes a few hundred ms, which then
     * overlaps the sidecar's own start instead of delaying GoCD's first call after it (benchmark P4).
     */
    static void warmUpInBackground() {
        Thread thread = new Thread(() -> Shared.HTTP.version(), "gocd-registry-bridge-http-warm-up");
        thread.setDaemon(true);
        thread.start();
    }

    private static String segment(String value) {
        return URLEncoder.encode(value, StandardCharsets.UTF_8).replace("+", "%20");
    }

    /** Built on first use, not at class load: building starts a selector thread, and agents never forward a call. */
    private static final class Shared {
        // No proxy: the sidecar is local, and a server-wide proxy setting must not capture these calls.
        static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(5)).proxy(HttpClient.Builder.NO_PROXY).build();
    }
}
