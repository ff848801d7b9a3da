package org.gocdregistrybridge.shim;

import java.net.URI;
import java.util.concurrent.TimeUnit;

/** A sidecar the shim talks to: base URL and token, plus the process when the shim started it (null when external). */
final class Sidecar {
    final URI base;
    final String token;
    private final Process process;

    Sidecar(URI base, String token, Process process) {
        this.base = base;
        this.token = token;
        this.process = process;
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
