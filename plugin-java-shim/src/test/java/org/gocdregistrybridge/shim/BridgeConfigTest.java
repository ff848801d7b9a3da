package org.gocdregistrybridge.shim;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.thoughtworks.go.plugin.api.GoPluginIdentifier;
import com.thoughtworks.go.plugin.api.response.GoPluginApiResponse;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Settings come from the environment; a bad one is reported on each call, as one line naming the variable. */
class BridgeConfigTest {
    private static String answer(Map<String, String> env) {
        GoPluginApiResponse response = new RegistryBridgePlugin(env).handle(ExternalSidecarTest.request("latest-revision", "{}"));
        assertEquals(500, response.responseCode());
        return response.responseBody();
    }

    @Test
    void usesTheDocumentedDefaults() throws BridgeException {
        BridgeConfig config = new BridgeConfig(Map.of("PATH", "/usr/bin"));
        assertEquals(Duration.ofSeconds(60), config.requestTimeout);
        assertEquals(Duration.ofSeconds(20), config.startTimeout);
        assertEquals(List.of(Paths.get(System.getProperty("user.home"), ".cache", "gocd-registry-bridge"),
                Paths.get(System.getProperty("java.io.tmpdir"), "gocd-registry-bridge-" + System.getProperty("user.name"))),
                config.workDirs);
        assertEquals(null, config.externalUrl);
        assertEquals(null, config.node);
    }

    @Test
    void readsEverySetting() throws BridgeException {
        BridgeConfig config = new BridgeConfig(Map.of(BridgeConfig.URL, "http://127.0.0.1:8787/", BridgeConfig.TOKEN, "t",
                BridgeConfig.TIMEOUT, "120", BridgeConfig.START_TIMEOUT, " 5 ", BridgeConfig.WORK_DIR, "/var/tmp/x",
                BridgeConfig.NODE, "/opt/node/bin/node"));
        assertEquals("http://127.0.0.1:8787", config.externalUrl.toString());
        assertEquals("t", config.externalToken);
        assertEquals(Duration.ofSeconds(120), config.requestTimeout);
        assertEquals(Duration.ofSeconds(5), config.startTimeout);
        assertEquals(List.of(Paths.get("/var/tmp/x")), config.workDirs);
        assertEquals("/opt/node/bin/node", config.node);
    }

    @Test
    void prefersAnAbsoluteXdgCacheHomeForTheWorkDirAndFallsBackToAPerUserDirInTmp() throws BridgeException {
        String tmp = System.getProperty("java.io.tmpdir");
        String user = System.getProperty("user.name");
        assertEquals(List.of(Paths.get("/xdg/cache/gocd-registry-bridge"), Paths.get(tmp, "gocd-registry-bridge-" + user)),
                new BridgeConfig(Map.of("XDG_CACHE_HOME", "/xdg/cache")).workDirs);
        assertEquals(List.of(Paths.get(System.getProperty("user.home"), ".cache/gocd-registry-bridge"),
                Paths.get(tmp, "gocd-registry-bridge-" + user)), new BridgeConfig(Map.of("XDG_CACHE_HOME", "relative")).workDirs);
        assertEquals(List.of(Paths.get("/set")), new BridgeConfig(Map.of("XDG_CACHE_HOME", "/xdg", BridgeConfig.WORK_DIR, "/set")).workDirs);
    }

    @Test
    void reportsAUrlWithoutAToken() {
        assertEquals("gocd-registry-bridge: GOCD_REGISTRY_BRIDGE_URL and GOCD_REGISTRY_BRIDGE_TOKEN work only together "
                + "(external sidecar); set both or neither", answer(Map.of(BridgeConfig.URL, "http://127.0.0.1:8787")));
        assertEquals("gocd-registry-bridge: GOCD_REGISTRY_BRIDGE_URL and GOCD_REGISTRY_BRIDGE_TOKEN work only together "
                + "(external sidecar); set both or neither", answer(Map.of(BridgeConfig.TOKEN, "t")));
    }

    @Test
    void reportsAUrlThatIsNotHttp() {
        assertEquals("gocd-registry-bridge: GOCD_REGISTRY_BRIDGE_URL must be an http(s) URL such as http://127.0.0.1:8787, "
                + "not 'localhost:8787'; fix it", answer(Map.of(BridgeConfig.URL, "localhost:8787", BridgeConfig.TOKEN, "t")));
    }

    @Test
    void reportsInvalidNumbersWhenCalled() {
        assertEquals("gocd-registry-bridge: GOCD_REGISTRY_BRIDGE_TIMEOUT_SECONDS must be a whole number of seconds from 1 "
                + "to 99999, not 'abc'; fix it or unset it for the default of 60", answer(Map.of(BridgeConfig.TIMEOUT, "abc")));
        for (String bad : List.of("0", "-5", "1.5", "100000")) {
            assertEquals("gocd-registry-bridge: GOCD_REGISTRY_BRIDGE_START_TIMEOUT_SECONDS must be a whole number of "
                    + "seconds from 1 to 99999, not '" + bad + "'; fix it or unset it for the default of 20",
                    answer(Map.of(BridgeConfig.START_TIMEOUT, bad)));
        }
    }

    @Test
    void identifiesAsPackageRepositoryVersion1() {
        GoPluginIdentifier identifier = new RegistryBridgePlugin(Map.of()).pluginIdentifier();
        assertEquals("package-repository", identifier.getExtension());
        assertEquals(List.of("1.0"), identifier.getSupportedExtensionVersions());
    }
}
