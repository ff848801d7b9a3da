package org.gocdregistrybridge.shim;

import com.thoughtworks.go.plugin.api.request.GoPluginApiRequest;
import com.thoughtworks.go.plugin.api.response.DefaultGoPluginApiResponse;
import com.thoughtworks.go.plugin.api.response.GoPluginApiResponse;
import java.io.*;
import java.net.*;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/**
 * Sends one GoCD call to the sidecar (docs/sidecar-protocol.md, "Forwarding one call") and returns the reply unchanged.
 * HttpURLConnection, not java.net.http: it does the call on GoCD's own thread with JDK-pooled keep-alive connections,
 * where HttpClient hands each call across threads; measured through handle(), a quarter of the CPU per call, a third
 * of the latency and a first call of tens of ms instead of 0.4 s in a fresh JVM (BENCHMARKS.md, P1 and P4).
 */
final class SidecarClient {
    private static final int CONNECT_TIMEOUT_MS = 5_000;
    private final int answerTimeoutMs;

    SidecarClient(Duration requestTimeout) {
        this.answerTimeoutMs = Math.toIntExact(requestTimeout.toMillis());
    }

    /**
     * @throws ConnectException no connection (refused or timed out): the sidecar is down
     * @throws SocketTimeoutException connected, but no answer within the request timeout
     */
    GoPluginApiResponse send(Sidecar sidecar, GoPluginApiRequest call, String requestId) throws IOException {
        String path = "/gocd/" + segment(call.extension()) + "/" + segment(call.extensionVersion()) + "/"
                + segment(call.requestName());
        // No proxy: the sidecar is local, and a server-wide proxy setting must not capture these calls.
        HttpURLConnection connection = (HttpURLConnection) sidecar.url(path).openConnection(Proxy.NO_PROXY);
        connection.setRequestMethod("POST");
        connection.setConnectTimeout(CONNECT_TIMEOUT_MS);
        connection.setReadTimeout(answerTimeoutMs); // the sidecar writes nothing until its whole answer is ready
        connection.setUseCaches(false);
        connection.setDoOutput(true);
        connection.setRequestProperty("Authorization", "Bearer " + sidecar.token);
        connection.setRequestProperty("Content-Type", "application/json; charset=utf-8");
        connection.setRequestProperty("X-Request-Id", requestId);
        try {
            connection.connect();
        } catch (SocketTimeoutException e) {
            throw (ConnectException) new ConnectException("connect timed out").initCause(e);
        }
        // Not streamed: a buffered body goes out in one write with the headers; a separate write for it waits on
        // delayed ACKs (about 1 ms per call on loopback).
        try (OutputStream out = connection.getOutputStream()) {
            out.write((call.requestBody() == null ? "" : call.requestBody()).getBytes(StandardCharsets.UTF_8));
        }
        int status = connection.getResponseCode();
        // Read to the end and closed, so the connection goes back to the keep-alive pool.
        try (InputStream in = status < 400 ? connection.getInputStream() : connection.getErrorStream()) {
            String body = in == null ? "" : new String(in.readAllBytes(), StandardCharsets.UTF_8);
            return new DefaultGoPluginApiResponse(status, body);
        }
    }

    private static String segment(String value) {
        return URLEncoder.encode(value, StandardCharsets.UTF_8).replace("+", "%20");
    }
}
