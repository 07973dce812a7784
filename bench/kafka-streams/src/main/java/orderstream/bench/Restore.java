package orderstream.bench;

import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.processor.StateRestoreListener;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.Stores;

/**
 * The Kafka Streams side of bench/restore.ts: a count by key over an empty input whose store
 * `counts` has a pre-filled changelog (<appId>-counts-changelog); it restores the store from it on
 * start, then prints {"records":…,"ms":…,"recordsPerSec":…,"wallMs":…,"restoreCpuSec":…} and exits.
 *
 *   java -cp 'target/*:target/lib/*' orderstream.bench.Restore <memory|rocksdb> <brokers> <applicationId>
 *        <input> <records> <stateDir>
 *
 * `ms` runs from the first onRestoreStart to the last onRestoreEnd of a state restore listener
 * (every changelog partition); `wallMs` from start() until then; `restoreCpuSec` is this JVM's
 * CPU over the same span as `wallMs`.
 */
public final class Restore {
  public static void main(String[] args) throws Exception {
    if (args.length != 6) throw new IllegalArgumentException("usage: Restore <memory|rocksdb> <brokers> <appId> <input> <records> <stateDir>");
    String storeKind = args[0], brokers = args[1], appId = args[2], input = args[3];
    long records = Long.parseLong(args[4]);
    String stateDir = args[5];

    Properties p = new Properties();
    p.put(StreamsConfig.APPLICATION_ID_CONFIG, appId);
    p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, brokers);
    p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, "at_least_once");
    p.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, 1);
    p.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, 0);
    p.put(StreamsConfig.STATE_DIR_CONFIG, stateDir);
    p.put(StreamsConfig.REPLICATION_FACTOR_CONFIG, 1);
    p.put(StreamsConfig.consumerPrefix("auto.offset.reset"), "earliest");
    // Kafka Streams' consumers stay in the group on close: the next run with this application id
    // would wait a session timeout (45 s) for the rebalance. The bench's runs leave on close.
    p.put(StreamsConfig.mainConsumerPrefix("internal.leave.group.on.close"), true);

    Materialized<String, Long, KeyValueStore<Bytes, byte[]>> store;
    if (storeKind.equals("memory")) store = Materialized.as(Stores.inMemoryKeyValueStore("counts"));
    else if (storeKind.equals("rocksdb")) store = Materialized.as(Stores.persistentTimestampedKeyValueStore("counts"));
    else throw new IllegalArgumentException("store must be memory or rocksdb, not " + storeKind);
    StreamsBuilder b = new StreamsBuilder();
    b.stream(input, Consumed.with(Serdes.String(), Serdes.String())).groupByKey().count(store.withKeySerde(Serdes.String()).withValueSerde(Serdes.Long()));

    AtomicLong firstStart = new AtomicLong();
    AtomicLong lastEnd = new AtomicLong();
    AtomicLong restored = new AtomicLong();
    Set<TopicPartition> pending = ConcurrentHashMap.newKeySet();
    Set<TopicPartition> ended = ConcurrentHashMap.newKeySet();
    KafkaStreams streams = new KafkaStreams(b.build(), p);
    streams.setGlobalStateRestoreListener(new StateRestoreListener() {
      @Override public void onRestoreStart(TopicPartition tp, String storeName, long startOffset, long endOffset) {
        firstStart.compareAndSet(0, System.nanoTime());
        pending.add(tp);
      }
      @Override public void onBatchRestored(TopicPartition tp, String storeName, long batchEndOffset, long numRestored) {}
      @Override public void onRestoreEnd(TopicPartition tp, String storeName, long totalRestored) {
        restored.addAndGet(totalRestored);
        lastEnd.set(System.nanoTime());
        ended.add(tp);
      }
    });
    CountDownLatch failed = new CountDownLatch(1);
    streams.setUncaughtExceptionHandler(e -> { e.printStackTrace(); failed.countDown(); return org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.SHUTDOWN_CLIENT; });
    var os = (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
    long cpu0 = os.getProcessCpuTime();
    long t0 = System.nanoTime();
    streams.start();
    long deadline = t0 + TimeUnit.MINUTES.toNanos(10);
    // Done when every partition that started restoring has ended and the store holds the changelog.
    while (restored.get() < records || ended.size() < pending.size() || pending.isEmpty()) {
      if (failed.getCount() == 0 || System.nanoTime() > deadline) {
        System.err.println("failed or timed out after restoring " + restored.get() + " of " + records);
        streams.close(Duration.ofSeconds(5));
        System.exit(1);
      }
      Thread.sleep(2);
    }
    long tEnd = lastEnd.get();
    double cpu = (os.getProcessCpuTime() - cpu0) / 1e9;
    long ms = Math.max(1, (tEnd - firstStart.get()) / 1_000_000);
    long wallMs = (tEnd - t0) / 1_000_000;
    System.out.println("{\"records\":" + restored.get() + ",\"ms\":" + ms + ",\"recordsPerSec\":" + Math.round(restored.get() * 1000.0 / ms)
        + ",\"wallMs\":" + wallMs + ",\"restoreCpuSec\":" + Math.round(cpu * 100) / 100.0 + "}");
    System.out.flush();
    streams.close(Duration.ofSeconds(10));
    System.exit(0);
  }
}
