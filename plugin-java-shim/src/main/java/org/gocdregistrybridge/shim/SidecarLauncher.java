package org.gocdregistrybridge.shim;

import static org.gocdregistrybridge.shim.RegistryBridgePlugin.LOG;

import java.io.*;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.*;
import java.security.SecureRandom;
import java.util.*;
import java.util.concurrent.*;
import java.util.function.Consumer;
import java.util.regex.*;
import java.util.zip.GZIPInputStream;

/** Starts one sidecar process as docs/sidecar-protocol.md ("Launch") describes and waits for its ready line. */
final class SidecarLauncher {
    static final String RESOURCE = "/sidecar/gocd-registry-bridge.js";
    private static final Pattern NODE_MAJOR = Pattern.compile("^v([0-9]{1,4})\\.");
    private static final SecureRandom RANDOM = new SecureRandom();
    // Every poll's garbage dies young, so a 1 MiB young generation (V8's default is 16) costs no measurable time
    // and keeps the sidecar about 30 MiB smaller; so do fewer glibc malloc arenas (default: 8 per core) and fixed
    // trim and mmap thresholds (glibc raises both after large frees, keeping freed memory). BENCHMARKS.md, P4.
    static final String SMALL_YOUNG_GENERATION = "--max-semi-space-size=1";
    static final Map<String, String> MALLOC_TUNING = Map.of("MALLOC_ARENA_MAX", "2",
            "MALLOC_TRIM_THRESHOLD_", "131072", "MALLOC_MMAP_THRESHOLD_", "131072");

    /** The single-executable sidecar (Node.js inside) for a platform, gzipped, and the SHA-256 of the executable. */
    static String executableResource(String platform) {
        return "/sidecar/" + platform + "/gocd-registry-bridge.gz";
    }

    static String executableHashResource(String platform) {
        return "/sidecar/" + platform + "/gocd-registry-bridge.sha256";
    }

    interface Resources {
        InputStream open(String name); // null when the jar has no such resource
    }

    private final BridgeConfig config;
    private final String platform; // e.g. linux-x64, as the jar's sidecar/ folders are named
    private final Resources resources;

    SidecarLauncher(BridgeConfig config) {
        this(config, currentPlatform(), SidecarLauncher.class::getResourceAsStream);
    }

    SidecarLauncher(BridgeConfig config, String platform, Resources resources) {
        this.config = config;
        this.platform = platform;
        this.resources = resources;
    }

    /** Node's names for this JVM's OS and CPU (linux-x64, linux-arm64, darwin-arm64 …), as the jar's folders use them. */
    static String currentPlatform() {
        return platformOf(System.getProperty("os.name", ""), System.getProperty("os.arch", ""));
    }

    static String platformOf(String osProperty, String archProperty) {
        String os = osProperty.toLowerCase(Locale.ROOT);
        String arch = archProperty.toLowerCase(Locale.ROOT);
        String osName = os.startsWith("linux") ? "linux" : os.startsWith("mac") ? "darwin" : os.startsWith("windows") ? "win" : os;
        String archName = arch.equals("amd64") || arch.equals("x86_64") ? "x64" : arch.equals("aarch64") ? "arm64" : arch;
        return osName + "-" + archName;
    }

    Sidecar start() throws BridgeException, InterruptedException {
        List<String> runtime = chooseRuntime();
        Process process;
        try {
            List<String> argv = new ArrayList<>(runtime);
            argv.addAll(List.of("serve", "--port", "0", "--token-stdin", "--exit-on-stdin-eof"));
            ProcessBuilder command = new ProcessBuilder(argv);
            MALLOC_TUNING.forEach(command.environment()::putIfAbsent);
            process = command.start();
        } catch (IOException e) {
            throw nodeMissing("cannot run " + runtime.get(0) + ": " + BridgeException.describe(e));
        }
        Sidecar sidecar = null;
        try {
            sidecar = handshake(process, newToken());
            return sidecar;
        } finally {
            if (sidecar == null) {
                Sidecar.stop(process);
            }
        }
    }

    private Sidecar handshake(Process process, String token) throws BridgeException, InterruptedException {
        ArrayBlockingQueue<String> stderrTail = new ArrayBlockingQueue<>(5); // for the message if it dies before ready
        Thread stderr = copyToLog("stderr", process.getErrorStream(), token, line -> {
            while (!stderrTail.offer(line)) {
                stderrTail.poll();
            }
        }, () -> { });
        CompletableFuture<ReadyLine> ready = new CompletableFuture<>();
        copyToLog("stdout", process.getInputStream(), token, line -> {
            try {
                ReadyLine.parse(line).ifPresent(ready::complete);
            } catch (IllegalArgumentException e) {
                ready.completeExceptionally(e);
            }
        }, () -> ready.completeExceptionally(new EOFException()));
        try {
            OutputStream stdin = process.getOutputStream(); // kept open: the sidecar exits at its EOF, i.e. with this JVM
            stdin.write((token + "\n").getBytes(StandardCharsets.UTF_8));
            stdin.flush();
        } catch (IOException e) {
            LOG.warn("sidecar: could not send the token (" + BridgeException.describe(e) + "); it has probably exited");
        }
        long timeout = config.startTimeout.getSeconds();
        try {
            ReadyLine line = ready.get(timeout, TimeUnit.SECONDS);
            LOG.info("sidecar: version " + line.version + " ready on port " + line.port + " (pid " + line.pid + ")");
            return new Sidecar(URI.create("http://127.0.0.1:" + line.port), token, process);
        } catch (TimeoutException e) {
            throw new BridgeException("the sidecar did not report ready within " + timeout + " s; raise "
                    + BridgeConfig.START_TIMEOUT + " or see the plugin log");
        } catch (ExecutionException e) {
            if (e.getCause() instanceof IllegalArgumentException) {
                throw new BridgeException("the sidecar printed a bad " + e.getCause().getMessage() + "; see the plugin log");
            }
            String exit = process.waitFor(2, TimeUnit.SECONDS) ? "exit code " + process.exitValue() : "still running";
            stderr.join(1000); // so the tail holds its last lines
            String tail = stderrTail.isEmpty() ? "none" : String.join(" | ", new ArrayList<>(stderrTail));
            throw new BridgeException("the sidecar stopped before it was ready (" + exit + "; last stderr: " + tail
                    + "); see the plugin log");
        }
    }

    /** Copies a sidecar stream to the plugin log on a daemon thread, showing each line to observer first. */
    private static Thread copyToLog(String name, InputStream stream, String token, Consumer<String> observer,
            Runnable atEnd) {
        Thread thread = new Thread(() -> {
            try (BufferedReader reader = new BufferedReader(new InputStreamReader(stream, StandardCharsets.UTF_8))) {
                for (String line = reader.readLine(); line != null; line = reader.readLine()) {
                    String safe = line.replace(token, "<token>");
                    observer.accept(safe);
                    LOG.info("sidecar: " + safe);
                }
            } catch (IOException e) {
                LOG.debug("sidecar: " + name + " closed: " + BridgeException.describe(e));
            }
            atEnd.run();
        }, "gocd-registry-bridge-sidecar-" + name);
        thread.setDaemon(true);
        thread.start();
        return thread;
    }

    /**
     * The command that runs the sidecar, before its own arguments, in this order: the Node.js that
     * GOCD_REGISTRY_BRIDGE_NODE names; else the jar's own executable for this platform; else the node on PATH. The
     * plugin log says which one and why.
     */
    private List<String> chooseRuntime() throws BridgeException, InterruptedException {
        if (config.node != null) {
            return bundleOn(checkedNode(config.node, "set by " + BridgeConfig.NODE));
        }
        Optional<Path> executable = extractExecutable();
        if (executable.isPresent()) {
            LOG.info("sidecar: running the plugin's own executable for " + platform + " (Node.js inside), " + executable.get()
                    + "; set " + BridgeConfig.NODE + " to use another Node.js");
            return List.of(executable.get().toString()); // its node flags are built in (scripts/sea.mjs)
        }
        return bundleOn(checkedNode(findNodeOnPath(), "found on PATH; the plugin has no executable of its own for " + platform));
    }

    private List<String> bundleOn(String node) throws BridgeException {
        return List.of(node, SMALL_YOUNG_GENERATION, extractScript().toString());
    }

    private String checkedNode(String node, String why) throws BridgeException, InterruptedException {
        String version = checkNodeVersion(node);
        LOG.info("sidecar: running the bundle with Node.js " + version + " at " + node + " (" + why + ")");
        return node;
    }

    private String findNodeOnPath() throws BridgeException {
        for (String dir : config.searchPath.split(File.pathSeparator)) {
            for (String name : new String[] {"node", "node.exe"}) {
                Path candidate = Paths.get(dir.isEmpty() ? "." : dir, name);
                if (Files.isExecutable(candidate) && !Files.isDirectory(candidate)) {
                    return candidate.toString();
                }
            }
        }
        throw nodeMissing("not found on PATH, and the plugin has no executable of its own for " + platform);
    }

    /** The version node reports, once it is 20 or newer. */
    private String checkNodeVersion(String node) throws BridgeException, InterruptedException {
        if (!Files.isExecutable(Paths.get(node)) || Files.isDirectory(Paths.get(node))) {
            throw nodeMissing("not found at " + node + ", from " + BridgeConfig.NODE);
        }
        String output;
        try {
            Process process = new ProcessBuilder(node, "--version").redirectErrorStream(true).start();
            process.getOutputStream().close();
            if (!process.waitFor(config.startTimeout.getSeconds(), TimeUnit.SECONDS)) {
                process.destroyForcibly();
                throw nodeMissing(node + " --version did not answer");
            }
            output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        } catch (IOException e) {
            throw nodeMissing("cannot run " + node + ": " + BridgeException.describe(e));
        }
        Matcher major = NODE_MAJOR.matcher(output);
        if (!major.find() || Integer.parseInt(major.group(1)) < 20) {
            throw nodeMissing("found " + (output.isEmpty() ? "no version" : output.split("\\R")[0]) + " at " + node);
        }
        return output.split("\\R")[0];
    }

    private static BridgeException nodeMissing(String detail) {
        return new BridgeException("Node.js 20+ not found on the GoCD server (" + detail + "); install it or set "
                + BridgeConfig.NODE);
    }

    /** The bundled sidecar, unpacked to the work dir and checked against the jar's copy (WorkDir). */
    private Path extractScript() throws BridgeException {
        try (InputStream in = SidecarLauncher.class.getResourceAsStream(RESOURCE)) {
            if (in == null) {
                throw new BridgeException("the plugin jar has no " + RESOURCE + "; build it with `npm run build`");
            }
            return WorkDir.unpack(config.workDirs, in.readAllBytes());
        } catch (IOException e) {
            throw new BridgeException("cannot read " + RESOURCE + " (" + BridgeException.describe(e) + "); reinstall the plugin");
        }
    }

    /** The jar's executable for this platform, unpacked to the work dir and checked against its SHA-256; empty if none. */
    private Optional<Path> extractExecutable() throws BridgeException {
        String resource = executableResource(platform);
        String hash;
        try (InputStream hashFile = resources.open(executableHashResource(platform))) {
            if (hashFile == null) {
                return Optional.empty();
            }
            hash = new String(hashFile.readAllBytes(), StandardCharsets.US_ASCII).trim();
        } catch (IOException e) {
            throw new BridgeException("cannot read " + executableHashResource(platform) + " (" + BridgeException.describe(e) + "); reinstall the plugin");
        }
        if (!hash.matches("[0-9a-f]{64}")) {
            throw new BridgeException("the plugin jar's " + executableHashResource(platform) + " holds no SHA-256; reinstall the plugin");
        }
        return Optional.of(WorkDir.unpack(config.workDirs, new WorkDir.Payload("gocd-registry-bridge", true, hash, () -> {
            InputStream gzipped = resources.open(resource);
            if (gzipped == null) {
                throw new FileNotFoundException("the plugin jar has " + executableHashResource(platform) + " but no " + resource);
            }
            return new GZIPInputStream(gzipped, 1 << 16);
        })));
    }

    /** 32 random bytes, URL-safe base64: sent on the sidecar's stdin only, never in argv, env or a log line. */
    private static String newToken() {
        byte[] bytes = new byte[32];
        RANDOM.nextBytes(bytes);
        return Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
    }
}
