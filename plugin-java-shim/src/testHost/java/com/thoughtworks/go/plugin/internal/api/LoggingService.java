package com.thoughtworks.go.plugin.internal.api;

/**
 * The GoCD server's side of the plugin API's Logger (gocd/gocd plugin-infra/go-plugin-api-internal, which is not
 * published): once the server installs one with Logger.initialize, every plugin log call goes through it, and it
 * drops what is below the plugin's log level. GoCD's interface also has overloads with arguments and a throwable;
 * only the ones the shim calls are declared here, so a call to another fails the tests with NoSuchMethodError.
 */
public interface LoggingService {
    void debug(String pluginId, String loggerName, String message);

    void info(String pluginId, String loggerName, String message);

    void warn(String pluginId, String loggerName, String message);

    void error(String pluginId, String loggerName, String message);
}
