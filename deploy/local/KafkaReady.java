// Kafka readiness probe used by kafka.sh: exits 0 once the broker answers a metadata request.
// Single-file program, needs only kafka-clients:
// java -cp "<libs>/*" KafkaReady.java 127.0.0.1:9092 [client.properties]
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.DescribeClusterResult;

public class KafkaReady {
    public static void main(String[] args) throws Exception {
        Properties props = new Properties();
        if (args.length > 1) {
            try (java.io.FileReader settings = new java.io.FileReader(args[1])) {
                props.load(settings);
            }
        }
        props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
        props.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "3000");
        props.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "5000");
        try (Admin admin = Admin.create(props)) {
            DescribeClusterResult cluster = admin.describeCluster();
            int brokers = cluster.nodes().get(5, TimeUnit.SECONDS).size();
            String id = cluster.clusterId().get(5, TimeUnit.SECONDS);
            System.out.println("cluster " + id + ": " + brokers + " broker(s)");
            System.exit(brokers > 0 ? 0 : 1);
        }
    }
}
