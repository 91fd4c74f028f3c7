package io.cubatch.cli;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import io.cubatch.loader.Batch;
import io.cubatch.plan.PlannedBatch;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * {@code run --emit-samples FILE}: one JSON object per line for every batch the rank loads, in order:
 * <pre>{"rank":1,"data_parallel_rank":1,"epoch":0,"step":3,"micro_batch":0,"samples":[7,11],"repeated":0,"filled":0}</pre>
 * {@code repeated} and {@code filled} count the entries at the end of {@code samples} that repeat a sample
 * (rank padding) or fill a last batch, so the first-seen samples are {@code samples[0 : n - repeated - filled]}.
 * What a launcher test (or a user) needs to check that the ranks' samples are disjoint and cover the epoch.
 */
final class SampleLog implements AutoCloseable {
    private static final JsonFactory JSON = JsonFactory.builder().build();
    private final Path path;
    private final BufferedWriter out;
    private final JsonGenerator g;
    private final int globalRank;

    SampleLog(Path path, int globalRank) {
        this.path = path;
        this.globalRank = globalRank;
        try {
            Path parent = path.toAbsolutePath().getParent();
            if (parent != null && !Files.isDirectory(parent)) {
                throw new IllegalArgumentException("--emit-samples " + path + ": the directory " + parent
                        + " does not exist: create it, or write the file elsewhere");
            }
            this.out = Files.newBufferedWriter(path);
            this.g = JSON.createGenerator(out);
            g.disable(JsonGenerator.Feature.AUTO_CLOSE_TARGET);
            g.setRootValueSeparator(null);   // one object per line, nothing before it
        } catch (IOException e) {
            throw new IllegalArgumentException("--emit-samples " + path + ": cannot write it (" + e.getMessage()
                    + "): choose a writable path");
        }
    }

    void write(long epoch, Batch b) {
        PlannedBatch p = b.planned();
        try {
            g.writeStartObject();
            g.writeNumberField("rank", globalRank);
            g.writeNumberField("data_parallel_rank", p.rank());
            g.writeNumberField("epoch", epoch);
            g.writeNumberField("step", p.step());
            g.writeNumberField("micro_batch", b.microBatch());
            g.writeFieldName("samples");
            g.writeArray(p.samples(), 0, p.size());
            g.writeNumberField("repeated", p.repeated());
            g.writeNumberField("filled", p.filled());
            g.writeEndObject();
            g.writeRaw('\n');
        } catch (IOException e) {
            throw new UncheckedIOException("--emit-samples " + path + ": write failed", e);
        }
    }

    @Override
    public void close() throws IOException {
        try (out) {
            g.close();
        }
    }
}
