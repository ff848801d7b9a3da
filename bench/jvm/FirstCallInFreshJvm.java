import java.io.InputStream;
import java.io.OutputStream;
import java.net.HttpURLConnection;
import java.net.Proxy;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/**
 * P4 cold start, the JVM's share: what the shim's first forwarded call costs in a fresh JVM, with the client it uses
 * (HttpURLConnection, as SidecarClient) or the one it used before (java.net.http.HttpClient). POSTs twice to the URL.
 * Usage: FirstCallInFreshJvm <url> url-connection|http-client
 * Prints one JSON line: {"firstMs":…,"secondMs":…}; firstMs includes building the client.
 */
public final class FirstCallInFreshJvm {
    public static void main(String[] args) throws Exception {
        URI uri = URI.create(args[0]);
        boolean urlConnection = args[1].equals("url-connection");
        long start = System.nanoTime();
        HttpClient client = urlConnection ? null : HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(5)).proxy(HttpClient.Builder.NO_PROXY).build();
        post(uri, client);
        long first = System.nanoTime();
        post(uri, client);
        long second = System.nanoTime();
        System.out.println("{\"firstMs\":" + (first - start) / 1e6 + ",\"secondMs\":" + (second - first) / 1e6 + "}");
    }

    private static void post(URI uri, HttpClient client) throws Exception {
        if (client != null) {
            client.send(HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(60))
                    .header("Content-Type", "application/json; charset=utf-8")
                    .POST(HttpRequest.BodyPublishers.ofString("", StandardCharsets.UTF_8)).build(),
                    HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
            return;
        }
        HttpURLConnection connection = (HttpURLConnection) uri.toURL().openConnection(Proxy.NO_PROXY);
        connection.setRequestMethod("POST");
        connection.setDoOutput(true);
        connection.setRequestProperty("Content-Type", "application/json; charset=utf-8");
        try (OutputStream out = connection.getOutputStream()) {
            out.write(new byte[0]);
        }
        connection.getResponseCode();
        try (InputStream in = connection.getInputStream()) {
            in.readAllBytes();
        }
    }
}
