package org.gocdregistrybridge.shim;

import static org.gocdregistrybridge.shim.RegistryBridgePlugin.LOG;

import java.io.IOException;
import java.net.ConnectException;

/** Owns the sidecar process in managed mode: starts it on first use, restarts it after a crash, stops it with the JVM. */
final class SidecarSupervisor {
    private final SidecarLauncher launcher;
    private final RestartPolicy policy;
    private volatile Sidecar current; // volatile: the shutdown hook reads it without waiting for a start in progress
    private boolean hookRegistered;

    SidecarSupervisor(SidecarLauncher launcher, RestartPolicy policy) {
        this.launcher = launcher;
        this.policy = policy;
    }

    /** The running sidecar, started first if there is none or it has exited. Calls take no lock while it runs. */
    Sidecar get() throws BridgeException, InterruptedException {
        Sidecar sidecar = current;
        return sidecar != null && sidecar.isRunning() ? sidecar : startIfNeeded();
    }

    private synchronized Sidecar startIfNeeded() throws BridgeException, InterruptedException {
        Sidecar sidecar = current;
        if (sidecar != null && sidecar.isRunning()) {
            return sidecar; // another thread started it while this one waited for the lock
        }
        if (sidecar != null) {
            LOG.warn("sidecar: " + sidecar + " has exited; starting a new one");
            discard(sidecar);
        }
        policy.checkStartAllowed();
        try {
            sidecar = launcher.start();
        } catch (BridgeException e) {
            policy.startFailed(e.getMessage());
            throw e;
        }
        policy.started();
        current = sidecar;
        if (!hookRegistered) {
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                Sidecar last = current;
                if (last != null) {
                    last.stop();
                }
            }, "gocd-registry-bridge-shutdown"));
            hookRegistered = true;
        }
        return sidecar;
    }

    /**
     * The sidecar to retry a failed call on. A refused connection or an exited process is a crash: restart it unless
     * another thread already has. Anything else (e.g. a kept-alive connection the sidecar just closed) retries as is.
     */
    Sidecar recover(Sidecar failed, IOException error) throws BridgeException, InterruptedException {
        if (!(error instanceof ConnectException || failed.exitsWithin(1000))) {
            return failed;
        }
        synchronized (this) {
            if (current == failed) {
                LOG.warn("sidecar: " + failed + " failed (" + BridgeException.describe(error) + "); restarting it");
                discard(failed);
            }
            return startIfNeeded();
        }
    }

    /** GoCD unloads the plugin on a hot reload (never at shutdown: the shutdown hook covers that). */
    synchronized void stop() {
        if (current != null) {
            discard(current);
        }
    }

    private void discard(Sidecar sidecar) {
        sidecar.stop();
        policy.stopped();
        current = null;
    }
}
