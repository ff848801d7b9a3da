package org.gocdregistrybridge.shim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.thoughtworks.go.plugin.api.request.DefaultGoPluginApiRequest;
import com.thoughtworks.go.plugin.api.response.GoPluginApiResponse;
import java.net.ServerSocket;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Forwarding through RegistryBridgePlugin.handle() to a sidecar the shim did not start (GOCD_REGISTRY_BRIDGE_URL). */
class ExternalSidecarTest {
    private static final String TOKEN = "external-test-token";
    private LoopbackSidecar sidecar;

    @AfterEach
    void stopSidecar() {
        if (sidecar != null) {
            sidecar.close();
        }
    }

    private RegistryBridgePlugin pluginFor(String url, String timeoutSeconds) {
        return new RegistryBridgePlugin(Map.of(BridgeConfig.URL, url, BridgeConfig.TOKEN, TOKEN,
                BridgeConfig.TIMEOUT, timeoutSeconds));
    }

    static DefaultGoPluginApiRequest request(String name, String body) {
        DefaultGoPluginApiRequest request = new DefaultGoPluginApiRequest("package-repository", "1.0", name);
        request.setRequestBody(body);
        return request;
    }

    @Test
    void postsTheCallWithTokenRequestIdAndBodyAndReturnsTheReplyUnchanged() throws Exception {
        sidecar = new LoopbackSidecar((name, body) -> new LoopbackSidecar.Reply(200, "{\"revision\":\"1.0 ü\"}"));
        GoPluginApiResponse response = pluginFor(sidecar.url() + "/", "5")
                .handle(request("latest-revision", "{\"repository-configuration\":{\"a\":\"ü\\u003c\"}}"));

        assertEquals(200, response.responseCode());
        assertEquals("{\"revision\":\"1.0 ü\"}", response.responseBody());
        LoopbackSidecar.Call call = sidecar.calls.get(0);
        assertEquals("POST", call.method);
        assertEquals("/gocd/package-repository/1.0/latest-revision", call.rawPath);
        assertEquals("Bearer " + TOKEN, call.headers.getFirst("Authorization"));
        assertEquals("application/json; charset=utf-8", call.headers.getFirst("Content-Type"));
        assertTrue(call.headers.getFirst("X-Request-Id").matches("[0-9a-f]{8}"), call.headers.getFirst("X-Request-Id"));
        assertEquals("{\"repository-configuration\":{\"a\":\"ü\\u003c\"}}", call.body);
    }

    @Test
    void sendsEachCallToItsOwnPathWithAnEightDigitRequestIdZeroPadded() throws Exception {
        sidecar = new LoopbackSidecar((name, body) -> new LoopbackSidecar.Reply(200, "{}"));
        RegistryBridgePlugin plugin = pluginFor(sidecar.url(), "5");
        String[] names = {"latest-revision", "latest-revision-since", "check-package-connection"};
        for (int i = 0; i < 300; i++) {
            assertEquals(200, plugin.handle(request(names[i % names.length], "{}")).responseCode());
        }
        boolean sawLeadingZero = false;
        for (int i = 0; i < 300; i++) {
            LoopbackSidecar.Call call = sidecar.calls.get(i);
            assertEquals("/gocd/package-repository/1.0/" + names[i % names.length], call.rawPath);
            String id = call.headers.getFirst("X-Request-Id");
            assertTrue(id.matches("[0-9a-f]{8}"), id);
            sawLeadingZero |= id.startsWith("0");
        }
        assertTrue(sawLeadingZero, "one id in 16 starts with 0: the padding is kept"); // 300 calls: none, 1 in 400,000
    }

    @Test
    void passesNon200StatusesAndBodiesThroughUnchanged() throws Exception {
        sidecar = new LoopbackSidecar((name, body) -> name.equals("answer-201") ? new LoopbackSidecar.Reply(201, "created body")
                : new LoopbackSidecar.Reply(500, "no tag matches 'v*'"));
        RegistryBridgePlugin plugin = pluginFor(sidecar.url(), "5");
        GoPluginApiResponse created = plugin.handle(request("answer-201", "{}"));
        GoPluginApiResponse failed = plugin.handle(request("answer-500", "{}"));

        assertEquals(201, created.responseCode());
        assertEquals("created body", created.responseBody());
        assertEquals(500, failed.responseCode());
        assertEquals("no tag matches 'v*'", failed.responseBody());
    }

    @Test
    void sendsAnEmptyBodyWhenGoCdSendsNull() throws Exception {
        sidecar = new LoopbackSidecar((name, body) -> new LoopbackSidecar.Reply(200, ""));
        GoPluginApiResponse response = pluginFor(sidecar.url(), "5").handle(request("repository-configuration", null));

        assertEquals(200, response.responseCode());
        assertEquals("", response.responseBody());
        assertEquals("", sidecar.calls.get(0).body);
        assertEquals("/gocd/package-repository/1.0/repository-configuration", sidecar.calls.get(0).rawPath);
    }

    @Test
    void urlEncodesEachPathSegment() throws Exception {
        sidecar = new LoopbackSidecar((name, body) -> new LoopbackSidecar.Reply(200, "{}"));
        pluginFor(sidecar.url(), "5").handle(request("odd name/ü?", "{}"));

        assertEquals("/gocd/package-repository/1.0/odd%20name%2F%C3%BC%3F", sidecar.calls.get(0).rawPath);
    }

    @Test
    void reportsATimeoutQuicklyWithTheFix() throws Exception {
        sidecar = new LoopbackSidecar((name, body) -> {
            Thread.sleep(5000);
            return new LoopbackSidecar.Reply(200, "{}");
        });
        long start = System.nanoTime();
        GoPluginApiResponse response = pluginFor(sidecar.url(), "1").handle(request("latest-revision-since", "{}"));
        long millis = (System.nanoTime() - start) / 1_000_000;

        assertEquals(500, response.responseCode());
        assertEquals("gocd-registry-bridge: the sidecar did not answer latest-revision-since within 1 s; raise "
                + "GOCD_REGISTRY_BRIDGE_TIMEOUT_SECONDS or check the registry", response.responseBody());
        assertTrue(millis < 3000, "took " + millis + " ms");
        assertEquals(1, sidecar.calls.size(), "a timeout is not retried");
    }

    @Test
    void forwardsTenConcurrentCallsInParallel() throws Exception {
        sidecar = new LoopbackSidecar((name, body) -> {
            Thread.sleep(700);
            return new LoopbackSidecar.Reply(200, body);
        });
        RegistryBridgePlugin plugin = pluginFor(sidecar.url(), "10");
        ExecutorService pool = Executors.newFixedThreadPool(10);
        try {
            long start = System.nanoTime();
            List<Future<GoPluginApiResponse>> replies = new ArrayList<>();
            for (int i = 0; i < 10; i++) {
                String body = "{\"n\":" + i + "}";
                replies.add(pool.submit(() -> plugin.handle(request("latest-revision", body))));
            }
            for (int i = 0; i < 10; i++) {
                assertEquals("{\"n\":" + i + "}", replies.get(i).get().responseBody());
            }
            long millis = (System.nanoTime() - start) / 1_000_000;
            assertTrue(millis < 3500, "10 calls of 700 ms took " + millis + " ms: they did not run in parallel");
        } finally {
            pool.shutdownNow();
        }
        Set<String> ids = new HashSet<>();
        sidecar.calls.forEach(call -> ids.add(call.headers.getFirst("X-Request-Id")));
        assertEquals(10, ids.size(), "each call has its own request id");
    }

    @Test
    void reportsAnUnreachableExternalSidecarWithTheFix() throws Exception {
        int closedPort;
        try (ServerSocket socket = new ServerSocket(0)) {
            closedPort = socket.getLocalPort();
        }
        GoPluginApiResponse response = pluginFor("http://127.0.0.1:" + closedPort, "5").handle(request("latest-revision", "{}"));

        assertEquals(500, response.responseCode());
        String body = response.responseBody();
        assertTrue(body.startsWith("gocd-registry-bridge: cannot reach the sidecar at http://127.0.0.1:" + closedPort
                + " for latest-revision (ConnectException"), body);
        assertTrue(body.endsWith("; check that `gocd-registry-bridge serve` runs there and GOCD_REGISTRY_BRIDGE_URL"), body);
        assertFalse(body.contains("\n"), body);
    }
}
