package org.gocdregistrybridge.shim;

import com.sun.net.httpserver.Headers;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/** A real HTTP server on 127.0.0.1 that plays the sidecar: it records each call and answers as the test says. */
final class LoopbackSidecar implements AutoCloseable {
    /** One call as the sidecar saw it. */
    static final class Call {
        final String method;
        final String rawPath;
        final Headers headers;
        final String body;

        Call(String method, String rawPath, Headers headers, String body) {
            this.method = method;
            this.rawPath = rawPath;
            this.headers = headers;
            this.body = body;
        }
    }

    /** What the sidecar answers; the request name is the last path segment. */
    interface Answer {
        Reply to(String requestName, String body) throws InterruptedException;
    }

    static final class Reply {
        final int status;
        final String body;

        Reply(int status, String body) {
            this.status = status;
            this.body = body;
        }
    }

    final List<Call> calls = new CopyOnWriteArrayList<>();
    private final HttpServer server;
    private final ExecutorService threads = Executors.newCachedThreadPool();

    LoopbackSidecar(Answer answer) throws IOException {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 50);
        server.setExecutor(threads);
        server.createContext("/", exchange -> {
            String body = new String(exchange.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
            String path = exchange.getRequestURI().getRawPath();
            calls.add(new Call(exchange.getRequestMethod(), path, exchange.getRequestHeaders(), body));
            Reply reply;
            try {
                reply = answer.to(path.substring(path.lastIndexOf('/') + 1), body);
            } catch (InterruptedException e) {
                exchange.close();
                return;
            }
            byte[] bytes = reply.body.getBytes(StandardCharsets.UTF_8);
            exchange.getResponseHeaders().set("Content-Type", "application/json; charset=utf-8");
            exchange.sendResponseHeaders(reply.status, bytes.length == 0 ? -1 : bytes.length);
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(bytes);
            }
        });
        server.start();
    }

    int port() {
        return server.getAddress().getPort();
    }

    String url() {
        return "http://127.0.0.1:" + port();
    }

    @Override
    public void close() {
        threads.shutdownNow();
        server.stop(0);
    }
}
