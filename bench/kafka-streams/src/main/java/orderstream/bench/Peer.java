package orderstream.bench;

import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ListOffsetsOptions;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.common.IsolationLevel;
import org.apache.kafka.common.TopicPartition;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.common.Metric;
import org.apache.kafka.common.MetricName;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Produced;

/**
 * The Kafka Streams side of bench/kafka-peers.ts: runs one topology on one stream thread until it
 * has processed N input records, then prints {"records":N,"ms":…,"recordsPerSec":…} and exits.
 *
 *   java -cp 'target/*:target/lib/*' orderstream.bench.Peer <pass|count> <at_least_once|exactly_once_v2>
 *        <brokers> <applicationId> <input> <output> <records> <stateDir>
 *
 * Time runs from start() until the thread's process-total metric reaches N and the output topic's
 * read_committed end offsets sum to N (polled every 5 ms), as the Node runs measure.
 */
public final class Peer {
  public static void main(String[] args) throws Exception {
    if (args.length != 8) throw new IllegalArgumentException("usage: Peer <pass|count> <guarantee> <brokers> <appId> <input> <output> <records> <stateDir>");
    String workload = args[0], guarantee = args[1], brokers = args[2], appId = args[3], input = args[4], output = args[5];
    long records = Long.parseLong(args[6]);
    String stateDir = args[7];

    Properties p = new Properties();
    p.put(StreamsConfig.APPLICATION_ID_CONFIG, appId);
    p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, brokers);
    p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, guarantee);
    p.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, 1);
    // No record cache: every update goes downstream and to the changelog, as our engine emits.
    p.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, 0);
    p.put(StreamsConfig.STATE_DIR_CONFIG, stateDir);
    p.put(StreamsConfig.REPLICATION_FACTOR_CONFIG, 1);
    p.put(StreamsConfig.consumerPrefix("auto.offset.reset"), "earliest");
    // The internal changelog carries one update per input, like the output topic: same byte limit.
    p.put(StreamsConfig.topicPrefix("max.message.bytes"), "16777216");

    StreamsBuilder b = new StreamsBuilder();
    if (workload.equals("pass")) {
      b.stream(input, Consumed.with(Serdes.ByteArray(), Serdes.ByteArray()))
          .to(output, Produced.with(Serdes.ByteArray(), Serdes.ByteArray()));
    } else if (workload.equals("count")) {
      // In-memory store, as ours and the loops keep theirs; changelogged by default.
      b.stream(input, Consumed.with(Serdes.String(), Serdes.String()))
          .groupByKey()
          .count(org.apache.kafka.streams.kstream.Materialized.<String, Long>as(
              org.apache.kafka.streams.state.Stores.inMemoryKeyValueStore("counts")))
          .toStream()
          .to(output, Produced.with(Serdes.String(), Serdes.Long()));
    } else {
      throw new IllegalArgumentException("workload must be pass or count, not " + workload);
    }

    KafkaStreams streams = new KafkaStreams(b.build(), p);
    CountDownLatch failed = new CountDownLatch(1);
    streams.setUncaughtExceptionHandler(e -> { e.printStackTrace(); failed.countDown(); return org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.SHUTDOWN_CLIENT; });
    long t0 = System.nanoTime();
    streams.start();
    long deadline = t0 + TimeUnit.MINUTES.toNanos(10);
    long tFirst = 0;
    double n0 = 0;
    double seen;
    while ((seen = processed(streams)) < records) {
      if (tFirst == 0 && seen > 0) { tFirst = System.nanoTime(); n0 = seen; }
      if (failed.getCount() == 0 || System.nanoTime() > deadline) {
        System.err.println("failed or timed out after " + processed(streams) + " of " + records);
        streams.close(Duration.ofSeconds(5));
        System.exit(1);
      }
      Thread.sleep(5);
    }
    // Processed is not yet written: wait until the output topic holds N committed records too, as
    // the Node runs do (for exactly_once the end offsets count transaction markers as well).
    try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, brokers))) {
      while (outputEnd(admin, output) < records) {
        if (failed.getCount() == 0 || System.nanoTime() > deadline) {
          System.err.println("output short of " + records);
          System.exit(1);
        }
        Thread.sleep(5);
      }
    }
    long tEnd = System.nanoTime();
    if (tFirst == 0) { tFirst = t0; }
    long ms = (tEnd - t0) / 1_000_000;
    // Steady: from the first processed record on, without start-up and the group join.
    long steady = Math.round((records - n0) * 1e9 / Math.max(1, tEnd - tFirst));
    System.out.println("{\"records\":" + records + ",\"ms\":" + ms + ",\"recordsPerSec\":" + Math.round(records * 1000.0 / ms) + ",\"steadyPerSec\":" + steady + "}");
    System.out.flush();
    // The bench reads this process's CPU from /proc before it exits; give it a moment, then close.
    Thread.sleep(Long.getLong("peer.linger.ms", 300));
    streams.close(Duration.ofSeconds(10));
    System.exit(0);
  }

  /** Sum over the output topic's partitions of the read_committed end offset. */
  private static long outputEnd(Admin admin, String topic) throws Exception {
    var partitions = admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic).partitions();
    Map<TopicPartition, OffsetSpec> specs = new HashMap<>();
    for (var p : partitions) specs.put(new TopicPartition(topic, p.partition()), OffsetSpec.latest());
    long sum = 0;
    for (var r : admin.listOffsets(specs, new ListOffsetsOptions(IsolationLevel.READ_COMMITTED)).all().get().values()) sum += r.offset();
    return sum;
  }

  /** Records the stream thread has processed: the sum of its process-total metrics. */
  private static double processed(KafkaStreams streams) {
    double total = 0;
    for (Map.Entry<MetricName, ? extends Metric> e : streams.metrics().entrySet()) {
      MetricName n = e.getKey();
      if (n.name().equals("process-total") && n.group().equals("stream-thread-metrics")) {
        total += ((Number) e.getValue().metricValue()).doubleValue();
      }
    }
    return total;
  }
}
