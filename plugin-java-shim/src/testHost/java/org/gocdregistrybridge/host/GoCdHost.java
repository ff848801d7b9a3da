package org.gocdregistrybridge.host;

import com.thoughtworks.go.plugin.api.GoApplicationAccessor;
import com.thoughtworks.go.plugin.api.GoPlugin;
import com.thoughtworks.go.plugin.api.GoPluginIdentifier;
import com.thoughtworks.go.plugin.api.annotation.Extension;
import com.thoughtworks.go.plugin.api.annotation.Load;
import com.thoughtworks.go.plugin.api.info.PluginContext;
import com.thoughtworks.go.plugin.api.logging.Logger;
import com.thoughtworks.go.plugin.api.request.DefaultGoPluginApiRequest;
import com.thoughtworks.go.plugin.api.request.GoApiRequest;
import com.thoughtworks.go.plugin.api.response.DefaultGoApiResponse;
import com.thoughtworks.go.plugin.api.response.GoApiResponse;
import com.thoughtworks.go.plugin.api.response.GoPluginApiResponse;
import java.io.BufferedReader;
import java.io.File;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import java.util.jar.Manifest;
import javax.xml.XMLConstants;
import javax.xml.parsers.DocumentBuilderFactory;
import org.w3c.dom.Element;

/**
 * A stand-in for the GoCD server's plugin loader, for the jest integration tests (test/gocd-host.ts). It loads the
 * jar as GoCD does (plugin.xml, manifest, every class outside lib/ and META-INF/, the @Extension class,
 * @Load, pluginIdentifier, the application accessor), then serves calls over stdin/stdout, one line each:
 * <pre>
 *   out: READY &lt;plugin id&gt; &lt;extension class&gt;        or LOAD_FAILED &lt;base64 message&gt; (exit 2)
 *   in:  &lt;id&gt; &lt;request name&gt; &lt;base64 UTF-8 body, or - for null&gt;        or EXIT
 *   out: &lt;id&gt; &lt;code&gt; &lt;base64 body&gt;        or &lt;id&gt; EXCEPTION &lt;base64 class: message&gt;
 * </pre>
 * Base64 is the standard alphabet with padding. Calls run on 10 threads, as GoCD's material-update workers do.
 * <p>
 * For the benchmarks (bench/), one more line times handle() inside this JVM, so the line protocol's own cost is
 * not counted. It runs on the reading thread (no other line is read meanwhile) and answers one line:
 * <pre>
 *   in:  BENCH &lt;request name&gt; &lt;calls&gt; &lt;threads&gt; &lt;warm-up calls&gt; [&lt;base64 body, or - for null&gt;]
 *   out: BENCH &lt;base64 JSON: latency percentiles in microseconds, calls per second, codes&gt;   or BENCH_FAILED &lt;base64 message&gt;
 * </pre>
 */
public final class GoCdHost {
    private static final String EXTENSION = "package-repository";
    private static final String EXTENSION_VERSION = "1.0";

    private final PrintStream protocol;
    private ClassLoader pluginLoader;
    private GoPlugin plugin;

    private GoCdHost(PrintStream protocol) {
        this.protocol = protocol;
    }

    public static void main(String[] args) throws Exception {
        // stdout is the protocol: the plugin log goes to stderr, at GoCD's default level unless the env sets one.
        GoCdHost host = new GoCdHost(System.out);
        System.setOut(System.err);
        Logger.initialize(new PluginLog(PluginLog.levelFrom(System.getenv("GOCD_HOST_PLUGIN_LOG_LEVEL")), System.err));
        String pluginId;
        try {
            if (args.length != 1) {
                throw new IllegalArgumentException("usage: GoCdHost <plugin jar>");
            }
            pluginId = host.load(new File(args[0]));
        } catch (Exception | LinkageError e) {
            e.printStackTrace();
            host.send("LOAD_FAILED " + base64(describe(e)));
            System.exit(2);
            return;
        }
        host.send("READY " + pluginId + " " + host.plugin.getClass().getName());
        host.serve();
        System.exit(0); // runs the JVM's shutdown hooks, as a GoCD server stop does
    }

    /** Loads the plugin and returns its id; throws with GoCD's reason when GoCD would reject the jar. */
    private String load(File jarFile) throws Exception {
        List<Class<?>> extensions = new ArrayList<>();
        String pluginId;
        try (JarFile jar = new JarFile(jarFile)) {
            pluginId = readPluginId(jar);
            Manifest manifest = jar.getManifest();
            if (manifest != null && manifest.getMainAttributes().getValue("Bundle-SymbolicName") != null) {
                throw new IllegalStateException("MANIFEST.MF already contains header: Bundle-SymbolicName");
            }
            // The parent is this host's loader, which has the real go-plugin-api: GoCD boot-delegates those classes.
            pluginLoader = new URLClassLoader(new URL[] {jarFile.toURI().toURL()}, GoCdHost.class.getClassLoader());
            for (JarEntry entry : Collections.list(jar.entries())) {
                String name = entry.getName();
                if (!name.endsWith(".class") || name.startsWith("lib/") || name.startsWith("META-INF/")) {
                    continue;
                }
                String className = name.substring(0, name.length() - ".class".length()).replace('/', '.');
                Class<?> candidate;
                try {
                    candidate = Class.forName(className, false, pluginLoader);
                } catch (ClassNotFoundException | LinkageError e) {
                    throw new IllegalStateException("Class [" + className + "] could not be loaded: " + describe(e), e);
                }
                if (candidate.isAnnotationPresent(Extension.class) && GoPlugin.class.isAssignableFrom(candidate)) {
                    extensions.add(candidate);
                }
            }
        }
        if (extensions.size() != 1) {
            throw new IllegalStateException("expected exactly one @Extension class implementing GoPlugin, found " + extensions);
        }
        Class<?> extension = extensions.get(0);
        if (!Modifier.isPublic(extension.getModifiers()) || Modifier.isAbstract(extension.getModifiers())) {
            throw new IllegalStateException(extension.getName() + " must be public and not abstract");
        }
        plugin = (GoPlugin) extension.getConstructor().newInstance();
        callLoadMethod(extension);
        GoPluginIdentifier identifier = plugin.pluginIdentifier();
        if (!EXTENSION.equals(identifier.getExtension())
                || !identifier.getSupportedExtensionVersions().contains(EXTENSION_VERSION)) {
            throw new IllegalStateException("Extension incompatibility detected: the plugin says " + identifier.getExtension()
                    + " " + identifier.getSupportedExtensionVersions() + ", GoCD supports " + EXTENSION + " [" + EXTENSION_VERSION + "]");
        }
        plugin.initializeGoApplicationAccessor(new GoApplicationAccessor() {
            @Override
            public GoApiResponse submit(GoApiRequest request) {
                return new DefaultGoApiResponse(404);
            }
        });
        return pluginId;
    }

    /** plugin.xml as GoCD's descriptor parser reads it: no DTDs, root go-plugin with id and version="1". */
    private static String readPluginId(JarFile jar) throws Exception {
        JarEntry descriptor = jar.getJarEntry("plugin.xml");
        if (descriptor == null) {
            throw new IllegalStateException("plugin.xml not found at the root of the jar");
        }
        DocumentBuilderFactory factory = DocumentBuilderFactory.newInstance();
        factory.setFeature("http://apache.org/xml/features/disallow-doctype-decl", true);
        factory.setFeature(XMLConstants.FEATURE_SECURE_PROCESSING, true);
        factory.setXIncludeAware(false);
        factory.setExpandEntityReferences(false);
        Element root;
        try (InputStream in = jar.getInputStream(descriptor)) {
            root = factory.newDocumentBuilder().parse(in).getDocumentElement();
        }
        if (!"go-plugin".equals(root.getTagName())) {
            throw new IllegalStateException("plugin.xml: the root element is <" + root.getTagName() + ">, not <go-plugin>");
        }
        if (!"1".equals(root.getAttribute("version"))) {
            throw new IllegalStateException("plugin.xml: <go-plugin version=\"" + root.getAttribute("version") + "\"> must be \"1\"");
        }
        String id = root.getAttribute("id");
        if (!id.matches("[\\w\\-.]{1,200}")) {
            throw new IllegalStateException("plugin.xml: <go-plugin id=\"" + id + "\"> is missing or not [\\w\\-.]{1,200}");
        }
        return id;
    }

    /** GoCD calls at most one public, non-static @Load method declared on the class, with a PluginContext. */
    private void callLoadMethod(Class<?> extension) throws IllegalAccessException, InvocationTargetException {
        List<Method> loads = new ArrayList<>();
        for (Method method : extension.getDeclaredMethods()) {
            if (method.isAnnotationPresent(Load.class)) {
                loads.add(method);
            }
        }
        if (loads.isEmpty()) {
            return;
        }
        Method load = loads.get(0);
        if (loads.size() > 1 || !Modifier.isPublic(load.getModifiers()) || Modifier.isStatic(load.getModifiers())
                || load.getParameterCount() != 1 || load.getParameterTypes()[0] != PluginContext.class) {
            throw new IllegalStateException("@Load must be on one public, non-static method taking a PluginContext: " + loads);
        }
        load.invoke(plugin, new PluginContext() { });
    }

    private void serve() throws Exception {
        ExecutorService workers = Executors.newFixedThreadPool(10);
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        for (String line = in.readLine(); line != null && !line.trim().equals("EXIT"); line = in.readLine()) {
            if (line.isBlank()) {
                continue;
            }
            String[] parts = line.trim().split(" ");
            if (parts[0].equals("BENCH")) {
                bench(parts);
                continue;
            }
            workers.execute(() -> call(parts));
        }
        workers.shutdown();
        workers.awaitTermination(10, TimeUnit.MINUTES);
    }

    private void call(String[] parts) {
        String id = parts[0];
        try {
            if (parts.length != 3) {
                throw new IllegalArgumentException("expected '<id> <request name> <base64 body or ->', got " + String.join(" ", parts));
            }
            DefaultGoPluginApiRequest request = new DefaultGoPluginApiRequest(EXTENSION, EXTENSION_VERSION, parts[1]);
            request.setRequestBody(parts[2].equals("-") ? null
                    : new String(Base64.getDecoder().decode(parts[2]), StandardCharsets.UTF_8));
            Thread.currentThread().setContextClassLoader(pluginLoader); // GoCD does this around handle()
            GoPluginApiResponse response = plugin.handle(request);
            if (response == null) {
                throw new IllegalStateException("The plugin sent a null response");
            }
            String body = response.responseBody() == null ? "" : response.responseBody();
            send(id + " " + response.responseCode() + " " + base64(body));
        } catch (Exception | LinkageError e) {
            send(id + " EXCEPTION " + base64(describe(e)));
        }
    }

    /** BENCH: warm-up calls, then the timed calls spread over the threads; answers one JSON line (see the class comment). */
    private void bench(String[] parts) {
        try {
            if (parts.length != 5 && parts.length != 6) {
                throw new IllegalArgumentException("expected 'BENCH <request name> <calls> <threads> <warm-up calls> [<base64 body or ->]'");
            }
            String requestName = parts[1];
            int calls = Integer.parseInt(parts[2]);
            int threads = Integer.parseInt(parts[3]);
            int warmup = Integer.parseInt(parts[4]);
            String body = parts.length == 5 || parts[5].equals("-") ? null
                    : new String(Base64.getDecoder().decode(parts[5]), StandardCharsets.UTF_8);
            if (warmup > 0) {
                timeCalls(requestName, body, warmup, threads);
            }
            send("BENCH " + base64(timeCalls(requestName, body, calls, threads)));
        } catch (Exception | LinkageError e) {
            send("BENCH_FAILED " + base64(describe(e)));
        }
    }

    /** Runs the calls on that many threads, all started together; answers the JSON that BENCH prints. */
    private String timeCalls(String requestName, String body, int calls, int threads) throws InterruptedException {
        long[] latencies = new long[calls];
        AtomicInteger next = new AtomicInteger();
        AtomicInteger failures = new AtomicInteger();
        AtomicReference<String> lastBody = new AtomicReference<>("");
        AtomicReference<String> failure = new AtomicReference<>();
        AtomicInteger lastCode = new AtomicInteger();
        CountDownLatch start = new CountDownLatch(1);
        List<Thread> callers = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            Thread caller = new Thread(() -> {
                try {
                    start.await();
                } catch (InterruptedException e) {
                    return;
                }
                Thread.currentThread().setContextClassLoader(pluginLoader); // GoCD does this around handle()
                for (int i = next.getAndIncrement(); i < calls; i = next.getAndIncrement()) {
                    DefaultGoPluginApiRequest request = new DefaultGoPluginApiRequest(EXTENSION, EXTENSION_VERSION, requestName);
                    request.setRequestBody(body);
                    long before = System.nanoTime();
                    int code;
                    String text;
                    try {
                        GoPluginApiResponse response = plugin.handle(request);
                        latencies[i] = System.nanoTime() - before;
                        code = response == null ? -1 : response.responseCode();
                        text = response == null || response.responseBody() == null ? "" : response.responseBody();
                    } catch (Exception | LinkageError e) {
                        latencies[i] = System.nanoTime() - before;
                        code = -1;
                        text = "EXCEPTION " + describe(e);
                    }
                    lastCode.set(code);
                    lastBody.set(text);
                    if (code != 200) {
                        failures.incrementAndGet();
                        failure.compareAndSet(null, code + " " + text);
                    }
                }
            }, "bench-caller-" + t);
            callers.add(caller);
            caller.start();
        }
        long began = System.nanoTime();
        start.countDown();
        for (Thread caller : callers) {
            caller.join();
        }
        long wallNanos = System.nanoTime() - began;
        long[] sorted = latencies.clone();
        Arrays.sort(sorted);
        double sum = 0;
        for (long latency : sorted) {
            sum += latency;
        }
        String sample = lastBody.get();
        return "{\"requestName\":" + jsonString(requestName) + ",\"calls\":" + calls + ",\"threads\":" + threads
                + ",\"wallMs\":" + wallNanos / 1e6 + ",\"callsPerSecond\":" + (calls * 1e9 / wallNanos)
                + ",\"meanUs\":" + (calls == 0 ? 0 : sum / calls / 1e3)
                + ",\"p50Us\":" + percentileUs(sorted, 50) + ",\"p90Us\":" + percentileUs(sorted, 90)
                + ",\"p99Us\":" + percentileUs(sorted, 99) + ",\"p999Us\":" + percentileUs(sorted, 99.9)
                + ",\"minUs\":" + percentileUs(sorted, 0) + ",\"maxUs\":" + percentileUs(sorted, 100)
                + ",\"failures\":" + failures.get() + ",\"lastCode\":" + lastCode.get()
                + ",\"firstFailure\":" + (failure.get() == null ? "null" : jsonString(failure.get()))
                + ",\"lastBody\":" + jsonString(sample.length() > 4000 ? sample.substring(0, 4000) : sample) + "}";
    }

    /** Nearest-rank percentile of sorted nanoseconds, in microseconds. */
    private static double percentileUs(long[] sorted, double percentile) {
        if (sorted.length == 0) {
            return 0;
        }
        int rank = (int) Math.ceil(percentile / 100 * sorted.length);
        return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))] / 1e3;
    }

    private static String jsonString(String text) {
        StringBuilder out = new StringBuilder("\"");
        for (char c : text.toCharArray()) {
            if (c == '"' || c == '\\') {
                out.append('\\').append(c);
            } else if (c < 0x20) {
                out.append(String.format("\\u%04x", (int) c));
            } else {
                out.append(c);
            }
        }
        return out.append('"').toString();
    }

    private synchronized void send(String line) {
        protocol.print(line + "\n");
        protocol.flush();
    }

    private static String describe(Throwable e) {
        Throwable cause = e instanceof InvocationTargetException && e.getCause() != null ? e.getCause() : e;
        return cause.getClass().getName() + ": " + cause.getMessage();
    }

    private static String base64(String text) {
        return Base64.getEncoder().encodeToString(text.getBytes(StandardCharsets.UTF_8));
    }
}
