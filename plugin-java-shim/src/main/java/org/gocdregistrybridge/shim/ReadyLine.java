package org.gocdregistrybridge.shim;

import java.util.*;

/** The sidecar's handshake: {@code GOCD_REGISTRY_BRIDGE_READY port=<port> version=<version> pid=<pid>}. */
final class ReadyLine {
    final int port;
    final String version;
    final String pid;

    private ReadyLine(int port, String version, String pid) {
        this.port = port;
        this.version = version;
        this.pid = pid;
    }

    /**
     * Empty unless the line starts with the keyword: stdout also carries JSON log lines, which may mention it.
     * Unknown keys are ignored; a handshake without a valid port throws IllegalArgumentException.
     */
    static Optional<ReadyLine> parse(String line) {
        String[] tokens = line.trim().split(" +");
        if (!tokens[0].equals("GOCD_REGISTRY_BRIDGE_READY")) {
            return Optional.empty();
        }
        Map<String, String> values = new HashMap<>();
        for (String token : tokens) {
            int equals = token.indexOf('=');
            if (equals > 0) {
                values.put(token.substring(0, equals), token.substring(equals + 1));
            }
        }
        String port = values.getOrDefault("port", "");
        if (!port.matches("[0-9]{1,5}") || Integer.parseInt(port) < 1 || Integer.parseInt(port) > 65535) {
            throw new IllegalArgumentException("ready line without a valid port (1-65535): " + line.trim());
        }
        return Optional.of(new ReadyLine(Integer.parseInt(port), values.getOrDefault("version", "?"),
                values.getOrDefault("pid", "?")));
    }
}
