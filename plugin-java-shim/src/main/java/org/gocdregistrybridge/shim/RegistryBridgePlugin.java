package org.gocdregistrybridge.shim;

import com.thoughtworks.go.plugin.api.*;
import com.thoughtworks.go.plugin.api.annotation.Extension;
import com.thoughtworks.go.plugin.api.annotation.UnLoad;
import com.thoughtworks.go.plugin.api.info.PluginContext;
import com.thoughtworks.go.plugin.api.logging.Logger;
import com.thoughtworks.go.plugin.api.request.GoPluginApiRequest;
import com.thoughtworks.go.plugin.api.response.*;
import java.io.IOException;
import java.net.SocketTimeoutException;
import java.util.*;
import java.util.concurrent.ThreadLocalRandom;

/** The GoCD plugin: forwards every call unchanged to the sidecar; it knows no request names and parses no bodies. */
@Extension
public class RegistryBridgePlugin implements GoPlugin {
    static final Logger LOG = Logger.getLoggerFor(RegistryBridgePlugin.class);

    private final BridgeConfig config; // null when configError is set
    private final BridgeException configError; // reported on each call, where GoCD shows it to the user
    private final SidecarClient client;
    private final SidecarSupervisor supervisor; // null in external mode

    /** Starts nothing: GoCD agents load this jar too but never call it. */
    public RegistryBridgePlugin() {
        this(System.getenv());
    }

    RegistryBridgePlugin(Map<String, String> env) {
        BridgeConfig parsed = null;
        BridgeException error = null;
        try {
            parsed = new BridgeConfig(env);
        } catch (BridgeException e) {
            error = e;
        }
        config = parsed;
        configError = error;
        client = parsed == null ? null : new SidecarClient(parsed.requestTimeout);
        supervisor = parsed == null || parsed.externalUrl != null ? null
                : new SidecarSupervisor(new SidecarLauncher(parsed), new RestartPolicy(System::nanoTime));
    }

    @Override
    public void initializeGoApplicationAccessor(GoApplicationAccessor goApplicationAccessor) {
        // The package-repository extension never calls back into GoCD, so the accessor is not kept.
    }

    /** Runs when GoCD unloads the plugin (hot reload); GoCD calls it with a PluginContext it does not fill. */
    @UnLoad
    public void unload(PluginContext context) {
        if (supervisor != null) {
            supervisor.stop();
        }
    }

    @Override
    public GoPluginIdentifier pluginIdentifier() {
        return new GoPluginIdentifier("package-repository", List.of("1.0"));
    }

    /** Never throws: GoCD shows a non-200 body to the user as is, so every failure becomes one plain line. */
    @Override
    public GoPluginApiResponse handle(GoPluginApiRequest request) {
        String id = newRequestId();
        String name = request.requestName();
        long start = System.nanoTime();
        try {
            GoPluginApiResponse response = forward(request, id);
            long millis = (System.nanoTime() - start) / 1_000_000;
            LOG.debug("[" + id + "] " + name + ": " + response.responseCode() + " in " + millis + " ms");
            return response;
        } catch (BridgeException e) {
            return failure(id, name, e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return failure(id, name, "interrupted while forwarding " + name + "; GoCD is probably shutting down");
        } catch (RuntimeException e) {
            return failure(id, name, "unexpected " + BridgeException.describe(e) + " forwarding " + name + "; see the plugin log");
        }
    }

    /** Retries once after a failed connection; a timeout is not a crash but a busy sidecar, so it is reported at once. */
    private GoPluginApiResponse forward(GoPluginApiRequest request, String id) throws BridgeException, InterruptedException {
        if (configError != null) {
            throw configError;
        }
        Sidecar sidecar = supervisor == null ? new Sidecar(config.externalUrl, config.externalToken, null) : supervisor.get();
        for (int attempt = 1; ; attempt++) {
            IOException error;
            try {
                return client.send(sidecar, request, id);
            } catch (SocketTimeoutException e) {
                throw new BridgeException("the sidecar did not answer " + request.requestName() + " within "
                        + config.requestTimeout.getSeconds() + " s; raise " + BridgeConfig.TIMEOUT + " or check the registry");
            } catch (IOException e) {
                error = e;
            }
            if (attempt == 2) {
                throw new BridgeException("cannot reach the " + sidecar + " for " + request.requestName() + " ("
                        + BridgeException.describe(error) + "); " + (supervisor != null ? "see the plugin log"
                        : "check that `gocd-registry-bridge serve` runs there and " + BridgeConfig.URL));
            }
            LOG.warn("[" + id + "] " + request.requestName() + ": " + BridgeException.describe(error) + "; retrying once");
            sidecar = supervisor == null ? sidecar : supervisor.recover(sidecar, error);
        }
    }

    /** Eight hex digits; String.format would parse its pattern again on every call. */
    private static String newRequestId() {
        String hex = Integer.toHexString(ThreadLocalRandom.current().nextInt());
        return "00000000".substring(hex.length()) + hex;
    }

    private static GoPluginApiResponse failure(String id, String name, String message) {
        String line = "gocd-registry-bridge: " + message.replaceAll("[\\r\\n]+", " ");
        LOG.warn("[" + id + "] " + name + ": " + line);
        return new DefaultGoPluginApiResponse(DefaultGoPluginApiResponse.INTERNAL_ERROR, line);
    }
}
