import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CountDownLatch;

import org.neo4j.configuration.GraphDatabaseInternalSettings;
import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.io.ByteUnit;

/**
 * Runs an embedded Neo4j Community DBMS with a Bolt connector on 127.0.0.1, for tests.
 *
 * <p>Usage: {@code java Launcher --home DIR --port PORT [--pagecache SIZE]}. The DBMS keeps its data
 * and logs under {@code DIR}. Authentication is off and the connector is unencrypted, so never
 * point it at anything but the loopback address. It runs until the process is stopped, and a
 * shutdown hook closes the databases cleanly on SIGTERM or SIGINT.
 */
public final class Launcher {
    private static final String HOST = "127.0.0.1";

    private Launcher() {}

    public static void main(String[] args) throws InterruptedException {
        Map<String, String> options = parseOptions(args);
        Path home = Path.of(required(options, "--home")).toAbsolutePath();
        int port = parsePort(required(options, "--port"));
        long pageCacheBytes = ByteUnit.parse(options.getOrDefault("--pagecache", "256m"));

        SocketAddress address = new SocketAddress(HOST, port);
        DatabaseManagementService dbms = new DatabaseManagementServiceBuilder(home)
                .setConfig(BoltConnector.enabled, true)
                .setConfig(BoltConnector.listen_address, address)
                .setConfig(BoltConnector.advertised_address, address)
                .setConfig(BoltConnector.encryption_level, BoltConnector.EncryptionLevel.DISABLED)
                .setConfig(GraphDatabaseSettings.auth_enabled, false)
                .setConfig(GraphDatabaseSettings.pagecache_memory, pageCacheBytes)
                .setConfig(GraphDatabaseSettings.udc_enabled, false)
                // With the default Netty quiet period, 5.26.30 took 10 s to close its Bolt server on shutdown.
                .setConfig(GraphDatabaseInternalSettings.netty_server_shutdown_quiet_period, 0)
                .build();

        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            System.out.println("Launcher: shutting down the DBMS");
            dbms.shutdown();
            stopped.countDown();
        }, "neo4j-shutdown"));

        System.out.printf(
                "Launcher: Neo4j started, Bolt on %s:%d, home %s, page cache %s%n",
                HOST, port, home, ByteUnit.bytesToString(pageCacheBytes));
        stopped.await();
    }

    private static Map<String, String> parseOptions(String[] args) {
        Map<String, String> options = new HashMap<>();
        for (int i = 0; i < args.length; i += 2) {
            if (!args[i].startsWith("--") || i + 1 >= args.length) {
                usage("invalid argument " + args[i]);
            }
            options.put(args[i], args[i + 1]);
        }
        return options;
    }

    private static String required(Map<String, String> options, String name) {
        String value = options.get(name);
        if (value == null) {
            usage("missing option " + name);
        }
        return value;
    }

    private static int parsePort(String value) {
        try {
            int port = Integer.parseInt(value);
            if (port >= 1 && port <= 65535) {
                return port;
            }
        } catch (NumberFormatException e) {
            // Reported below with the usage line.
        }
        usage("invalid port " + value + "; give a number from 1 to 65535");
        return -1;
    }

    private static void usage(String problem) {
        System.err.println("Launcher: " + problem);
        System.err.println("usage: java Launcher --home DIR --port PORT [--pagecache SIZE, e.g. 256m]");
        System.exit(2);
    }
}
