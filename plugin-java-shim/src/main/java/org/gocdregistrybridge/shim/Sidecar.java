package org.gocdregistrybridge.shim;

import java.net.MalformedURLException;
import java.net.URI;
import java.net.URL;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/** A sidecar the shim talks to: base URL and token, plus the process when the shim started it (null when external). */
final class Sidecar {
    final URI base;
    final String token;
    private final Process process;
    // A handful of paths, one per GoCD message: parsed once, not on every call.
    private final Map<String, URL> urls = new ConcurrentHashMap<>();

    Sidecar(URI base, String token, Process process) {
        this.base = base;
        this.token = token;
        this.process = process;
    }

    URL url(String path) throws MalformedURLException {
        URL known = urls.get(path);
        if (known == null) {
            known = URI.create(base + path).toURL();
            urls.put(path, known);
        }
        return known;
    }

    boolean isRunning() {
        return process == null || process.isAlive();
    }

    /** A crashing sidecar can drop a connection just before its exit shows, so the caller waits a moment to decide. */
    boolean exitsWithin(long millis) throws InterruptedException {
        return process != null && process.waitFor(millis, TimeUnit.MILLISECONDS);
    }

    void stop() {
        if (process != null) {
            stop(process);
        }
    }

    static void stop(Process process) {
        process.destroy();
        try {
            process.waitFor(2, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        process.destroyForcibly(); // a no-op once it has exited
    }

    @Override
    public String toString() {
        return "sidecar at " + base + (process == null ? "" : " (pid " + process.pid() + ")");
    }
}
