package org.gocdregistrybridge.shim;

import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * When the sidecar may be started again. Consecutive failed starts back off 1 s, doubling to 30 s; a sidecar that
 * stayed up 60 s forgives them. Not thread-safe: SidecarSupervisor calls it under its lock.
 */
final class RestartPolicy {
    static final long FIRST_DELAY_NANOS = TimeUnit.SECONDS.toNanos(1);
    static final long MAX_DELAY_NANOS = TimeUnit.SECONDS.toNanos(30);
    static final long HEALTHY_UPTIME_NANOS = TimeUnit.SECONDS.toNanos(60);

    private final LongSupplier nanoTime;
    private int failedStarts;
    private String lastError;
    private long nextStartAt;
    private boolean running;
    private long startedAt;

    RestartPolicy(LongSupplier nanoTime) {
        this.nanoTime = nanoTime;
    }

    /** Throws while backing off, saying when the next start is due. */
    void checkStartAllowed() throws BridgeException {
        long wait = nextStartAt - nanoTime.getAsLong();
        if (failedStarts > 0 && wait > 0) {
            long seconds = (wait + FIRST_DELAY_NANOS - 1) / FIRST_DELAY_NANOS;
            throw new BridgeException("the sidecar failed to start " + failedStarts + (failedStarts == 1 ? " time" : " times")
                    + " in a row (last error: " + lastError + "); next attempt in " + seconds + " s; see the plugin log");
        }
    }

    void startFailed(String error) {
        failedStarts++;
        lastError = error;
        nextStartAt = nanoTime.getAsLong() + Math.min(MAX_DELAY_NANOS, FIRST_DELAY_NANOS << Math.min(failedStarts - 1, 5));
    }

    void started() {
        running = true;
        startedAt = nanoTime.getAsLong();
    }

    void stopped() {
        if (running && nanoTime.getAsLong() - startedAt >= HEALTHY_UPTIME_NANOS) {
            failedStarts = 0;
        }
        running = false;
    }
}
