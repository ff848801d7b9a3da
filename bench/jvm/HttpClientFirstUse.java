import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/**
 * P4 cold start, the JVM's share: what the shim's first forwarded call costs in a fresh JVM before any byte reaches
 * the sidecar. Builds an HttpClient exactly as SidecarClient.Shared does and POSTs twice to the URL given.
 * Prints one JSON line: {"buildMs":…,"firstSendMs":…,"secondSendMs":…}.
 */
public final class HttpClientFirstUse {
    public static void main(String[] args) throws Exception {
        long start = System.nanoTime();
        HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(5)).proxy(HttpClient.Builder.NO_PROXY).build();
        long built = System.nanoTime();
        HttpRequest request = HttpRequest.newBuilder(URI.create(args[0])).timeout(Duration.ofSeconds(60))
                .header("Content-Type", "application/json; charset=utf-8")
                .POST(HttpRequest.BodyPublishers.ofString("", StandardCharsets.UTF_8)).build();
        client.send(request, HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
        long first = System.nanoTime();
        client.send(request, HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
        long second = System.nanoTime();
        System.out.println("{\"buildMs\":" + (built - start) / 1e6 + ",\"firstSendMs\":" + (first - built) / 1e6
                + ",\"secondSendMs\":" + (second - first) / 1e6 + "}");
    }
}
