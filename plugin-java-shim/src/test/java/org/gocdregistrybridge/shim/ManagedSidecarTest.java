package org.gocdregistrybridge.shim;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.thoughtworks.go.plugin.api.response.GoPluginApiResponse;
import java.io.IOException;
import java.io.InputStream;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.DisabledOnOs;
import org.junit.jupiter.api.condition.OS;
import org.junit.jupiter.api.io.TempDir;

/**
 * Managed mode against a fake "node": a shell script that answers --version, records what the shim gave it (start
 * count, argv, stdin token, pid) and prints a ready line pointing at a LoopbackSidecar on the port the test chose.
 */
@DisabledOnOs(OS.WINDOWS)
class ManagedSidecarTest {
    static final String RECORD_AND_SERVE = "n=$(( $(cat \"$D/starts\" 2>/dev/null || echo 0) + 1 ))\n"
            + "echo $n > \"$D/starts\"\n"
            + "echo $$ > \"$D/pid.$n\"\n"
            + "echo \"$*\" > \"$D/args.$n\"\n"
            + "echo \"$MALLOC_ARENA_MAX $MALLOC_TRIM_THRESHOLD_ $MALLOC_MMAP_THRESHOLD_\" > \"$D/malloc.$n\"\n"
            + "read -r token\n"
            + "printf '%s' \"$token\" > \"$D/token.$n\"\n"
            + "echo '{\"level\":\"info\",\"msg\":\"starting\"}'\n"
            + "echo \"GOCD_REGISTRY_BRIDGE_READY port=$(sed -n \"${n}p\" \"$D/ports\") version=9.9.9 pid=$$\"\n"
            + "while read -r line; do :; done\n";

    @TempDir
    Path dir;
    private LoopbackSidecar sidecar;

    @AfterEach
    void stopEverything() throws IOException {
        if (sidecar != null) {
            sidecar.close();
        }
        try (Stream<Path> files = Files.list(dir)) {
            for (Path pidFile : files.filter(f -> f.getFileName().toString().startsWith("pid.")).collect(Collectors.toList())) {
                ProcessHandle.of(Long.parseLong(read(pidFile))).ifPresent(ProcessHandle::destroyForcibly);
            }
        }
    }

    private Path fakeNode(String version, String script) throws IOException {
        Path bin = Files.createDirectories(dir.resolve("bin"));
        Path node = bin.resolve("node");
        Files.writeString(node, "#!/bin/sh\nD='" + dir + "'\nif [ \"$1\" = --version ]; then echo " + version
                + "; exit 0; fi\n" + script);
        Files.setPosixFilePermissions(node, PosixFilePermissions.fromString("rwx------"));
        return node;
    }

    private Map<String, String> env(Path node, String... more) {
        Map<String, String> env = new HashMap<>(Map.of(BridgeConfig.NODE, node.toString(),
                BridgeConfig.WORK_DIR, dir.resolve("work").toString(), BridgeConfig.START_TIMEOUT, "5", BridgeConfig.TIMEOUT, "5"));
        for (int i = 0; i < more.length; i += 2) {
            env.put(more[i], more[i + 1]);
        }
        return env;
    }

    private void sidecarPorts(int... ports) throws IOException {
        StringBuilder lines = new StringBuilder();
        for (int port : ports) {
            lines.append(port).append('\n');
        }
        Files.writeString(dir.resolve("ports"), lines);
    }

    private String read(String file) throws IOException {
        return read(dir.resolve(file));
    }

    private static String read(Path file) throws IOException {
        return Files.readString(file).trim();
    }

    private static int closedPort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }

    private static GoPluginApiResponse call(RegistryBridgePlugin plugin, String name) {
        return plugin.handle(ExternalSidecarTest.request(name, "{}"));
    }

    @Test
    void startsTheSidecarOnTheFirstCallAndAuthenticatesWithTheTokenSentOnStdin() throws Exception {
        sidecar = new LoopbackSidecar((name, body) -> new LoopbackSidecar.Reply(200, "{\"ok\":true}"));
        sidecarPorts(sidecar.port());
        RegistryBridgePlugin plugin = new RegistryBridgePlugin(env(fakeNode("v22.11.0", RECORD_AND_SERVE)));
        assertFalse(Files.exists(dir.resolve("starts")), "the constructor starts nothing");

        assertEquals("{\"ok\":true}", call(plugin, "repository-configuration").responseBody());
        assertEquals(200, call(plugin, "package-configuration").responseCode());

        assertEquals("1", read("starts"));
        String token = read("token.1");
        assertTrue(token.matches("[A-Za-z0-9_-]{43}"), "32 random bytes, URL-safe base64: " + token);
        for (LoopbackSidecar.Call call : sidecar.calls) {
            assertEquals("Bearer " + token, call.headers.getFirst("Authorization"));
        }
        Path script;
        try (Stream<Path> files = Files.walk(dir.resolve("work"))) {
            List<Path> found = files.filter(f -> f.getFileName().toString().equals(WorkDir.FILE))
                    .collect(Collectors.toList());
            assertEquals(1, found.size(), found.toString());
            script = found.get(0);
        }
        assertTrue(script.getParent().getFileName().toString().matches("[0-9a-f]{64}"), script.toString());
        try (InputStream resource = getClass().getResourceAsStream(SidecarLauncher.RESOURCE)) {
            assertArrayEquals(resource.readAllBytes(), Files.readAllBytes(script));
        }
        assertEquals("--max-semi-space-size=1 " + script + " serve --port 0 --token-stdin --exit-on-stdin-eof", read("args.1"));
        assertEquals("2 131072 131072", read("malloc.1"), "malloc tuned for a smaller sidecar");
    }

    @Test
    void restartsAfterARefusedConnectionOrAKilledProcessAndRetriesTheCallOnce() throws Exception {
        sidecar = new LoopbackSidecar((name, body) -> new LoopbackSidecar.Reply(200, "{\"call\":\"" + name + "\"}"));
        sidecarPorts(closedPort(), sidecar.port(), sidecar.port());
        RegistryBridgePlugin plugin = new RegistryBridgePlugin(env(fakeNode("v20.0.0", RECORD_AND_SERVE)));

        assertEquals("{\"call\":\"first\"}", call(plugin, "first").responseBody());
        assertEquals("2", read("starts"));
        assertFalse(ProcessHandle.of(Long.parseLong(read("pid.1"))).map(ProcessHandle::isAlive).orElse(false),
                "the sidecar that refused the call was stopped");

        ProcessHandle second = ProcessHandle.of(Long.parseLong(read("pid.2"))).orElseThrow();
        second.destroyForcibly();
        second.onExit().get(5, TimeUnit.SECONDS);
        Thread.sleep(200); // Process.isAlive() learns of the exit on the JDK's reaper thread
        assertEquals("{\"call\":\"second\"}", call(plugin, "second").responseBody());
        assertEquals("3", read("starts"));
        assertEquals(2, sidecar.calls.size());
    }

    @Test
    void tenConcurrentFirstCallsShareOneStart() throws Exception {
        sidecar = new LoopbackSidecar((name, body) -> new LoopbackSidecar.Reply(200, body));
        sidecarPorts(sidecar.port());
        RegistryBridgePlugin plugin = new RegistryBridgePlugin(env(fakeNode("v22.0.0", RECORD_AND_SERVE)));
        ExecutorService pool = Executors.newFixedThreadPool(10);
        try {
            List<Future<GoPluginApiResponse>> replies = new ArrayList<>();
            for (int i = 0; i < 10; i++) {
                replies.add(pool.submit(() -> call(plugin, "latest-revision")));
            }
            for (Future<GoPluginApiResponse> reply : replies) {
                assertEquals(200, reply.get().responseCode());
            }
        } finally {
            pool.shutdownNow();
        }
        assertEquals("1", read("starts"));
    }

    @Test
    void aTimeoutIsReportedButDoesNotRestartTheSidecar() throws Exception {
        sidecar = new LoopbackSidecar((name, body) -> {
            if (name.equals("slow")) {
                Thread.sleep(4000);
            }
            return new LoopbackSidecar.Reply(200, "{}");
        });
        sidecarPorts(sidecar.port());
        RegistryBridgePlugin plugin = new RegistryBridgePlugin(env(fakeNode("v22.0.0", RECORD_AND_SERVE),
                BridgeConfig.TIMEOUT, "1"));

        assertEquals("gocd-registry-bridge: the sidecar did not answer slow within 1 s; raise "
                + "GOCD_REGISTRY_BRIDGE_TIMEOUT_SECONDS or check the registry", call(plugin, "slow").responseBody());
        assertEquals(200, call(plugin, "fast").responseCode());
        assertEquals("1", read("starts"));
    }

    @Test
    void reportsAMissingNodeNamedByTheEnvironment() throws Exception {
        GoPluginApiResponse response = call(new RegistryBridgePlugin(env(dir.resolve("nowhere/node"))), "repository-configuration");

        assertEquals(500, response.responseCode());
        assertEquals("gocd-registry-bridge: Node.js 20+ not found on the GoCD server (not found at "
                + dir.resolve("nowhere/node") + ", from GOCD_REGISTRY_BRIDGE_NODE); install it or set GOCD_REGISTRY_BRIDGE_NODE",
                response.responseBody());
    }

    @Test
    void reportsNoNodeOnPath() throws Exception {
        Map<String, String> env = env(dir, "PATH", Files.createDirectories(dir.resolve("empty")).toString());
        env.remove(BridgeConfig.NODE);

        assertEquals("gocd-registry-bridge: Node.js 20+ not found on the GoCD server (not found on PATH, and the plugin has no executable of its own for " + SidecarLauncher.currentPlatform() + "); install it or "
                + "set GOCD_REGISTRY_BRIDGE_NODE", call(new RegistryBridgePlugin(env), "repository-configuration").responseBody());
    }

    @Test
    void reportsANodeOlderThan20FoundOnPath() throws Exception {
        Path node = fakeNode("v18.0.0", RECORD_AND_SERVE);
        Map<String, String> env = env(node, "PATH", dir.resolve("empty") + ":" + node.getParent());
        env.remove(BridgeConfig.NODE);

        assertEquals("gocd-registry-bridge: Node.js 20+ not found on the GoCD server (found v18.0.0 at " + node
                + "); install it or set GOCD_REGISTRY_BRIDGE_NODE", call(new RegistryBridgePlugin(env), "x").responseBody());
        assertFalse(Files.exists(dir.resolve("starts")));
    }

    @Test
    void reportsTheLastStderrLinesOfASidecarThatDiesBeforeReadyButNeverTheToken() throws Exception {
        Path node = fakeNode("v22.0.0", "read -r token\nprintf '%s' \"$token\" > \"$D/token.1\"\necho 1 >> \"$D/starts\"\n"
                + "echo \"read token $token\" >&2\necho 'Error: listen EADDRINUSE' >&2\nexit 3\n");
        RegistryBridgePlugin plugin = new RegistryBridgePlugin(env(node));

        String first = call(plugin, "repository-configuration").responseBody();
        String cause = "the sidecar stopped before it was ready (exit code 3; last stderr: read token <token> | "
                + "Error: listen EADDRINUSE); see the plugin log";
        assertEquals("gocd-registry-bridge: " + cause, first);
        assertFalse(first.contains(read("token.1")));

        String second = call(plugin, "repository-configuration").responseBody();
        assertEquals("gocd-registry-bridge: the sidecar failed to start 1 time in a row (last error: " + cause
                + "); next attempt in 1 s; see the plugin log", second);
        assertEquals("1", read("starts"), "no start while backing off");
    }

    @Test
    void givesUpOnASidecarThatNeverReportsReady() throws Exception {
        Path node = fakeNode("v22.0.0", "echo $$ > \"$D/pid.1\"\nwhile read -r line; do :; done\n");
        long start = System.nanoTime();
        String body = call(new RegistryBridgePlugin(env(node, BridgeConfig.START_TIMEOUT, "1")), "x").responseBody();

        assertEquals("gocd-registry-bridge: the sidecar did not report ready within 1 s; raise "
                + "GOCD_REGISTRY_BRIDGE_START_TIMEOUT_SECONDS or see the plugin log", body);
        assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(4));
        ProcessHandle.of(Long.parseLong(read("pid.1"))).ifPresent(p -> assertFalse(p.isAlive(), "the process was stopped"));
    }

    @Test
    void rejectsAReadyLineWithoutAValidPort() throws Exception {
        Path node = fakeNode("v22.0.0", "echo $$ > \"$D/pid.1\"\necho 'GOCD_REGISTRY_BRIDGE_READY port=0 pid=1'\n"
                + "while read -r line; do :; done\n");

        assertEquals("gocd-registry-bridge: the sidecar printed a bad ready line without a valid port (1-65535): "
                + "GOCD_REGISTRY_BRIDGE_READY port=0 pid=1; see the plugin log",
                call(new RegistryBridgePlugin(env(node)), "x").responseBody());
    }
}
