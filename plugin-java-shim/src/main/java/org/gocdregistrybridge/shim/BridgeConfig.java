package org.gocdregistrybridge.shim;

import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/** The shim's settings, read once from the GoCD server's environment (docs/sidecar-protocol.md). */
final class BridgeConfig {
    static final String NODE = "GOCD_REGISTRY_BRIDGE_NODE";
    static final String URL = "GOCD_REGISTRY_BRIDGE_URL";
    static final String TOKEN = "GOCD_REGISTRY_BRIDGE_TOKEN";
    static final String TIMEOUT = "GOCD_REGISTRY_BRIDGE_TIMEOUT_SECONDS";
    static final String START_TIMEOUT = "GOCD_REGISTRY_BRIDGE_START_TIMEOUT_SECONDS";
    static final String WORK_DIR = "GOCD_REGISTRY_BRIDGE_WORK_DIR";

    final String node; // null: search PATH
    final String searchPath;
    final URI externalUrl; // null: the shim starts and owns the sidecar
    final String externalToken;
    final Duration requestTimeout; // 60 s: GoCD itself waits for ever on a plugin call
    final Duration startTimeout; // 20 s: the first call comes at server start and must not hang it
    final List<Path> workDirs; // the first usable one is used: WorkDir.candidates

    BridgeConfig(Map<String, String> env) throws BridgeException {
        node = value(env, NODE);
        searchPath = env.getOrDefault("PATH", "");
        String url = value(env, URL);
        externalToken = value(env, TOKEN);
        if ((url == null) != (externalToken == null)) {
            throw new BridgeException(URL + " and " + TOKEN + " work only together (external sidecar); set both or neither");
        }
        externalUrl = url == null ? null : parseUrl(url);
        requestTimeout = seconds(env, TIMEOUT, 60);
        startTimeout = seconds(env, START_TIMEOUT, 20);
        workDirs = WorkDir.candidates(value(env, WORK_DIR), value(env, "XDG_CACHE_HOME"));
    }

    private static String value(Map<String, String> env, String name) {
        String value = env.get(name);
        return value == null || value.isBlank() ? null : value.trim();
    }

    private static URI parseUrl(String url) throws BridgeException {
        if (!url.matches("https?://[A-Za-z0-9.:\\[\\]-]+(/[A-Za-z0-9._~/-]*)?")) {
            throw new BridgeException(URL + " must be an http(s) URL such as http://127.0.0.1:8787, not '" + url + "'; fix it");
        }
        return URI.create(url.replaceAll("/+$", ""));
    }

    private static Duration seconds(Map<String, String> env, String name, int defaultSeconds) throws BridgeException {
        String value = value(env, name);
        if (value == null) {
            return Duration.ofSeconds(defaultSeconds);
        }
        if (!value.matches("0*[1-9][0-9]{0,4}")) {
            throw new BridgeException(name + " must be a whole number of seconds from 1 to 99999, not '" + value
                    + "'; fix it or unset it for the default of " + defaultSeconds);
        }
        return Duration.ofSeconds(Integer.parseInt(value));
    }
}
