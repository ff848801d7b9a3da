package org.gocdregistrybridge.host;

import com.thoughtworks.go.plugin.internal.api.LoggingService;
import java.io.PrintStream;
import java.util.Locale;

/**
 * The plugin log as the GoCD server keeps it: lines at the plugin's log level and above, here on stderr. GoCD's
 * default level is INFO (raised per plugin with -Dplugin.&lt;id&gt;.log.level); GOCD_HOST_PLUGIN_LOG_LEVEL sets it here.
 * Without a service installed, the API's Logger would print every line, DEBUG included, to System.out.
 */
final class PluginLog implements LoggingService {
    enum Level { DEBUG, INFO, WARN, ERROR }

    private final Level threshold;
    private final PrintStream out;

    PluginLog(Level threshold, PrintStream out) {
        this.threshold = threshold;
        this.out = out;
    }

    static Level levelFrom(String setting) {
        return setting == null || setting.isBlank() ? Level.INFO : Level.valueOf(setting.trim().toUpperCase(Locale.ROOT));
    }

    private void log(Level level, String loggerName, String message) {
        if (level.compareTo(threshold) >= 0) {
            out.println(level.name() + " [" + loggerName + "] " + message);
        }
    }

    @Override public void debug(String pluginId, String loggerName, String message) { log(Level.DEBUG, loggerName, message); }
    @Override public void info(String pluginId, String loggerName, String message) { log(Level.INFO, loggerName, message); }
    @Override public void warn(String pluginId, String loggerName, String message) { log(Level.WARN, loggerName, message); }
    @Override public void error(String pluginId, String loggerName, String message) { log(Level.ERROR, loggerName, message); }
}
