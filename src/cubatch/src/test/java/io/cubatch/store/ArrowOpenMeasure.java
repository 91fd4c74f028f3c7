package io.cubatch.store;

import java.io.BufferedOutputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;

/**
 * The "a 2 GB Arrow file opens in under a second, with no copy of the values (RSS stays small)",
 * measured on request (bench/arrow-open.sh), not in CI: it writes a file of about 2 GB, then opens it in a
 * fresh JVM and prints, as one JSON object, the open time, the resident set before and after (VmRSS of
 * /proc/self/status), and a checksum of a few samples read from the mapping.
 * <pre>
 *   java -cp CP io.cubatch.store.ArrowOpenMeasure write FILE [GB]   # list&lt;int32&gt; input_ids, 1000-row batches
 *   java -cp CP io.cubatch.store.ArrowOpenMeasure open FILE
 * </pre>
 */
public final class ArrowOpenMeasure {
    private ArrowOpenMeasure() {
    }

    public static void main(String[] args) throws Exception {
        Path file = Path.of(args[1]);
        if (args[0].equals("write")) {
            double gb = args.length > 2 ? Double.parseDouble(args[2]) : 2.0;
            long target = (long) (gb * (1L << 30));
            SplittableRandom rng = new SplittableRandom(17);
            long written = 0;
            long rows = 0;
            try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(file), 1 << 22)) {
                ArrowTestFiles.Writer w = new ArrowTestFiles.Writer(
                        ArrowTestFiles.Spec.of("input_ids", false, DType.INT32, false), out);
                while (written < target) {
                    long[][] batch = new long[1000][];
                    for (int i = 0; i < batch.length; i++) {
                        batch[i] = new long[1 + rng.nextInt(1024)];
                        for (int t = 0; t < batch[i].length; t++) {
                            batch[i][t] = rng.nextInt(50_000);
                        }
                        written += 4L * batch[i].length + 4;
                    }
                    rows += batch.length;
                    w.batch(batch);
                }
                w.finish();
            }
            System.out.println("{\"file\": \"" + file + "\", \"bytes\": " + Files.size(file) + ", \"rows\": " + rows + "}");
            return;
        }
        long rssBefore = rssKb();
        long t0 = System.nanoTime();
        try (SampleStore s = Datasets.open(file)) {
            long openNanos = System.nanoTime() - t0;
            long rssAfter = rssKb();
            long sum = 0;
            for (long i = 0; i < s.size(); i += Math.max(1, s.size() / 16)) {
                var m = s.sample(i);
                sum += m.byteSize() == 0 ? 0 : m.get(java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED, 0);
            }
            System.out.printf("{\"file\": \"%s\", \"bytes\": %d, \"samples\": %d, \"tokens\": %d, \"chunks\": %d,"
                            + " \"contiguous\": %b, \"values_mapped\": %b, \"open_ms\": %.1f, \"rss_before_mib\": %.1f,"
                            + " \"rss_after_open_mib\": %.1f, \"rss_growth_mib\": %.1f, \"checksum\": %d}%n",
                    file, Files.size(file), s.size(), s.totalTimesteps(), s.chunks(), s.isContiguous(),
                    s.values().isMapped(), openNanos / 1e6, rssBefore / 1024.0, rssAfter / 1024.0,
                    (rssAfter - rssBefore) / 1024.0, sum);
        }
    }

    private static long rssKb() throws java.io.IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        return -1;
    }
}
