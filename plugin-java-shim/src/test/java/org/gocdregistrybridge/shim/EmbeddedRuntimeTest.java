package org.gocdregistrybridge.shim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.HashMap;
import java.util.Map;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.DisabledOnOs;
import org.junit.jupiter.api.condition.OS;
import org.junit.jupiter.api.io.TempDir;

/**
 * The runtime order of issue 15 (GOCD_REGISTRY_BRIDGE_NODE, else the jar's executable for this platform, else node
 * on PATH), with a shell script standing in for the single executable: the launcher unpacks it from an in-memory
 * "jar" exactly as it unpacks the real one, checks it against the SHA-256 beside it, and runs it.
 */
@DisabledOnOs(OS.WINDOWS)
class EmbeddedRuntimeTest {
    private static final String PLATFORM = "test-x64";

    @TempDir
    Path dir;
    private LoopbackSidecar sidecar;
    private Sidecar started;
    private final Map<String, byte[]> jar = new HashMap<>();

    @BeforeEach
    void sidecarToReportReady() throws IOException {
        sidecar = new LoopbackSidecar((name, body) -> new LoopbackSidecar.Reply(200, "{}"));
        Files.writeString(dir.resolve("ports"), sidecar.port() + "\n" + sidecar.port() + "\n");
        Files.createDirectories(dir.resolve("empty"));
    }

    @AfterEach
    void stop() {
        if (started != null) {
            started.stop();
        }
        sidecar.close();
    }

    private byte[] fakeExecutable(String marker) {
        return ("#!/bin/sh\nD='" + dir + "'\necho " + marker + " > \"$D/runtime\"\n" + ManagedSidecarTest.RECORD_AND_SERVE)
                .getBytes(StandardCharsets.UTF_8);
    }

    private void embed(byte[] executable, String sha256) throws IOException {
        ByteArrayOutputStream gzipped = new ByteArrayOutputStream();
        try (GZIPOutputStream out = new GZIPOutputStream(gzipped)) {
            out.write(executable);
        }
        jar.put(SidecarLauncher.executableResource(PLATFORM), gzipped.toByteArray());
        jar.put(SidecarLauncher.executableHashResource(PLATFORM), (sha256 + "\n").getBytes(StandardCharsets.US_ASCII));
    }

    private Path nodeOnPath() throws IOException {
        Path node = Files.createDirectories(dir.resolve("bin")).resolve("node");
        Files.writeString(node, "#!/bin/sh\nD='" + dir + "'\nif [ \"$1\" = --version ]; then echo v22.0.0; exit 0; fi\n"
                + "echo system-node > \"$D/runtime\"\n" + ManagedSidecarTest.RECORD_AND_SERVE);
        Files.setPosixFilePermissions(node, PosixFilePermissions.fromString("rwx------"));
        return node;
    }

    private SidecarLauncher launcher(String... env) throws BridgeException {
        Map<String, String> settings = new HashMap<>(Map.of(BridgeConfig.WORK_DIR, dir.resolve("work").toString(),
                BridgeConfig.START_TIMEOUT, "5", "PATH", dir.resolve("empty").toString()));
        for (int i = 0; i < env.length; i += 2) {
            settings.put(env[i], env[i + 1]);
        }
        SidecarLauncher.Resources resources = name -> jar.containsKey(name) ? new ByteArrayInputStream(jar.get(name))
                : EmbeddedRuntimeTest.class.getResourceAsStream(name);
        return new SidecarLauncher(new BridgeConfig(settings), PLATFORM, resources);
    }

    private String read(String file) throws IOException {
        return Files.readString(dir.resolve(file)).trim();
    }

    @Test
    void namesPlatformsAsTheJarsFoldersDo() {
        assertEquals("linux-x64", SidecarLauncher.platformOf("Linux", "amd64"));
        assertEquals("linux-x64", SidecarLauncher.platformOf("Linux", "x86_64"));
        assertEquals("linux-arm64", SidecarLauncher.platformOf("Linux", "aarch64"));
        assertEquals("darwin-arm64", SidecarLauncher.platformOf("Mac OS X", "aarch64"));
        assertEquals("win-x64", SidecarLauncher.platformOf("Windows Server 2022", "amd64"));
    }

    @Test
    void runsTheEmbeddedExecutableWhenNoNodeIsNamedEvenWithANodeOnPath() throws Exception {
        byte[] executable = fakeExecutable("embedded");
        embed(executable, WorkDir.sha256(executable));
        Path node = nodeOnPath();

        started = launcher("PATH", node.getParent().toString()).start();

        assertEquals("embedded", read("runtime"));
        Path unpacked = dir.resolve("work").resolve(WorkDir.sha256(executable)).resolve("gocd-registry-bridge");
        assertEquals("serve --port 0 --token-stdin --exit-on-stdin-eof", read("args.1"), "no node flags: they are built in");
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(unpacked)));
        assertEquals("2 131072 131072", read("malloc.1"));
    }

    @Test
    void prefersTheNodeNamedByTheEnvironment() throws Exception {
        byte[] executable = fakeExecutable("embedded");
        embed(executable, WorkDir.sha256(executable));
        Path node = nodeOnPath();

        started = launcher(BridgeConfig.NODE, node.toString()).start();

        assertEquals("system-node", read("runtime"));
        assertTrue(read("args.1").matches("--max-semi-space-size=1 .*/gocd-registry-bridge\\.cjs serve .*"), read("args.1"));
    }

    @Test
    void fallsBackToNodeOnPathWhenTheJarHasNoExecutableForThisPlatform() throws Exception {
        Path node = nodeOnPath();

        started = launcher("PATH", node.getParent().toString()).start();

        assertEquals("system-node", read("runtime"));
    }

    @Test
    void replacesAnUnpackedExecutableThatWasTamperedWithBeforeRunningIt() throws Exception {
        byte[] executable = fakeExecutable("embedded");
        embed(executable, WorkDir.sha256(executable));
        started = launcher().start();
        started.stop();
        Path unpacked = dir.resolve("work").resolve(WorkDir.sha256(executable)).resolve("gocd-registry-bridge");
        Files.writeString(unpacked, new String(executable, StandardCharsets.UTF_8).replace("echo embedded", "echo planted"));

        started = launcher().start();

        assertEquals("embedded", read("runtime"));
        assertEquals(WorkDir.sha256(executable), WorkDir.sha256(Files.readAllBytes(unpacked)));
    }

    @Test
    void refusesAnExecutableThatDoesNotMatchItsHashAndRunsNothing() throws Exception {
        byte[] executable = fakeExecutable("embedded");
        embed(executable, WorkDir.sha256("something else".getBytes(StandardCharsets.UTF_8)));

        BridgeException refused = assertThrows(BridgeException.class, () -> launcher().start());

        assertTrue(refused.getMessage().contains("does not match its SHA-256"), refused.getMessage());
        assertTrue(refused.getMessage().contains("reinstall the plugin"), refused.getMessage());
        assertFalse(Files.exists(dir.resolve("runtime")), "nothing ran");
        try (var files = Files.walk(dir.resolve("work"))) {
            assertEquals(0, files.filter(Files::isRegularFile).count(), "no file left in the work dir");
        }
    }
}
