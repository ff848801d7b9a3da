package org.gocdregistrybridge.shim;

/** A failure the shim reports to GoCD itself: the message names cause and fix, without the product prefix. */
final class BridgeException extends Exception {
    private static final long serialVersionUID = 1L;

    BridgeException(String message) {
        super(message);
    }

    /** Names a low-level error for a message; the JDK's HTTP client often throws ConnectException without one. */
    static String describe(Throwable error) {
        String message = error.getMessage();
        String name = error.getClass().getSimpleName();
        return message == null || message.isBlank() ? name : name + ": " + message;
    }
}
