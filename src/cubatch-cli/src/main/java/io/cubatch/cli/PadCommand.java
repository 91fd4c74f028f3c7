package io.cubatch.cli;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import io.cubatch.collate.Backends;
import io.cubatch.collate.Collator;
import io.cubatch.collate.PaddedBatch;
import io.cubatch.collate.PaddedShape;
import io.cubatch.collate.Padding;
import io.cubatch.collate.Values;
import io.cubatch.store.DType;
import io.cubatch.store.Datasets;
import io.cubatch.store.MegatronReader;
import io.cubatch.store.NpyWriter;
import io.cubatch.store.SampleStore;
import io.cubatch.store.FileSet;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.Writer;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code cubatch pad}: pads every sample of a dataset into one batch, Keras pad_sequences made explicit. */
@Command(name = "pad", mixinStandardHelpOptions = true,
        description = {"Pad (and truncate) every sequence of a dataset into one [B, L] or [B, L, F] batch, with",
                "lengths and an attention mask. Keras pad_sequences semantics, every choice explicit."},
        footer = {"", "Exit codes: 0 ok, 2 invalid arguments or input (the message names the value and the fix), 1 internal error."})
final class PadCommand implements Callable<Integer> {
    private static final JsonFactory JSON = JsonFactory.builder().build();

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--input", required = true, paramLabel = "FILE",
            description = "JSONL (one JSON array per line), " + InputOptions.FORMATS + ".")
    Path input;

    @CommandLine.Mixin
    InputOptions read;

    @CommandLine.Mixin
    PaddingOptions options;

    @Option(names = "--format", paramLabel = "FORMAT", defaultValue = "json",
            description = "Output: ${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE}); npy needs --output.")
    Format format;

    @Option(names = "--output", paramLabel = "PATH",
            description = "Write here instead of stdout; with npy, PATH holds the data and PATH's siblings"
                    + " STEM.lengths.npy, STEM.attention_mask.npy (and STEM.position_ids.npy) the rest.")
    Path output;

    @Option(names = "--backend", paramLabel = "NAME",
            description = "java, native or cuda; default: the fastest host backend (native, else java). Every backend"
                    + " writes the same bytes.")
    String backend;

    enum Format { json, npy }

    @Override
    public Integer call() throws Exception {
        Padding pad = options.padding(spec, null, null, false);
        if (format == Format.npy && output == null) {
            throw new IllegalArgumentException("--format npy writes files: add --output PATH (e.g. --output batch.npy)");
        }
        if (format == Format.npy && pad.dtype() == DType.BFLOAT16) {
            throw new IllegalArgumentException("NumPy has no bfloat16 dtype, so --format npy cannot hold it: use"
                    + " --format json, or --dtype float16 or float32");
        }
        if (output != null) {
            Path dir = output.toAbsolutePath().getParent();
            if (dir != null && !Files.isDirectory(dir)) {
                throw new IllegalArgumentException("--output " + output + ": directory " + dir
                        + " does not exist; create it first");
            }
            checkOutputs(format == Format.npy ? npyTargets(pad.positions()) : List.of(output));
        }
        String backendName = backend == null ? Backends.bestName() : backend;
        try (SampleStore store = read.open(input); Collator collator = Backends.create(backendName);
             Arena arena = Arena.ofConfined()) {
            if (store.size() > Integer.MAX_VALUE - 8) {
                throw new IllegalArgumentException(input + " holds " + store.size() + " samples, more than one batch"
                        + " can: pad a subset");
            }
            long[] indices = java.util.stream.LongStream.range(0, store.size()).toArray();
            PaddedShape shape = collator.shape(store, indices, pad);
            PaddedBatch out = PaddedBatch.allocate(shape, arena);
            collator.pad(store, indices, pad, out);
            long[] dims = store.featureShape().length == 0 ? new long[] {shape.batch(), shape.length()}
                    : concat(new long[] {shape.batch(), shape.length()}, store.featureShape());
            if (output != null) {
                try {
                    if (format == Format.npy) {
                        writeNpy(out, dims);
                    } else {
                        writeJsonFile(out, dims, collator.name());
                    }
                } catch (IOException e) {
                    String reason = e instanceof FileSystemException f && f.getReason() != null ? f.getReason()
                            : e.getMessage();
                    throw new IllegalArgumentException("--output " + output + ": cannot write it: " + reason
                            + "; check the path, its permissions and the free space", e);
                }
            } else {
                PrintWriter w = spec.commandLine().getOut();
                writeJson(out, dims, collator.name(), w);
                w.flush();
            }
        }
        return Main.EXIT_OK;
    }

    /** The files --format npy writes: PATH, then STEM.lengths.npy, STEM.attention_mask.npy (STEM.position_ids.npy). */
    private List<Path> npyTargets(boolean positions) {
        String name = output.getFileName().toString();
        String stem = name.endsWith(".npy") ? name.substring(0, name.length() - 4) : name;
        List<Path> t = new ArrayList<>(List.of(output, output.resolveSibling(stem + ".lengths.npy"),
                output.resolveSibling(stem + ".attention_mask.npy")));
        if (positions) {
            t.add(output.resolveSibling(stem + ".position_ids.npy"));
        }
        return t;
    }

    /**
     * Before anything is read: every file pad would write must be writable without replacing what it must not.
     * A directory is refused; for npy, anything but a regular file (a device, a pipe), as the files are renamed
     * into place; and any output that is one of the input's files (by file identity, so another name or a hard
     * link of the input is caught too).
     */
    private void checkOutputs(List<Path> targets) throws IOException {
        List<Path> inputs = new ArrayList<>();
        if (Datasets.formatOf(input) == Datasets.Format.MEGATRON) {
            Path prefix = MegatronReader.prefixOf(input);
            inputs.add(prefix.resolveSibling(prefix.getFileName() + ".idx"));
            inputs.add(prefix.resolveSibling(prefix.getFileName() + ".bin"));
        } else {
            inputs.add(input);
            inputs.add(io.cubatch.store.DatasetWriter.offsetsOf(input));   // a ragged .npy pair's offsets
        }
        if (format == Format.npy) {
            Path offsets = io.cubatch.store.DatasetWriter.offsetsOf(output);
            for (Path in : inputs) {
                if (Files.exists(offsets) && Files.exists(in) && Files.isSameFile(offsets, in)) {
                    throw new IllegalArgumentException("--output " + output + ": its sibling " + offsets + " is the input"
                            + " dataset " + in + " (the same file), which writing " + output + " would unpair from it;"
                            + " name another path");
                }
            }
        }
        for (Path t : targets) {
            // "--output X is ..." or "--output X: its sibling Y is ...": the messages below start with the path
            String which = t.equals(output) ? "--output " : "--output " + output + ": its sibling ";
            try {
                if (format == Format.npy) {
                    FileSet.checkTarget(t);
                } else if (Files.isDirectory(t)) {
                    throw new IllegalArgumentException(t + " is a directory: name a file to write the JSON to");
                }
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(which + e.getMessage(), e);
            }
            for (Path in : inputs) {
                if (Files.exists(t) && Files.exists(in) && Files.isSameFile(t, in)) {
                    throw new IllegalArgumentException(which + t + " is the input dataset " + in + " (the same"
                            + " file): pad would replace what it reads; name another path");
                }
            }
        }
    }

    private void writeNpy(PaddedBatch out, long[] dims) throws IOException {
        PaddedShape s = out.shape();
        List<Path> t = npyTargets(s.positions());
        List<NpyWriter.Array> set = new ArrayList<>(List.of(
                new NpyWriter.Array(t.get(0), s.dtype(), dims, out.data()),
                new NpyWriter.Array(t.get(1), DType.INT32, new long[] {s.batch()}, out.lengths()),
                new NpyWriter.Array(t.get(2), DType.UINT8, new long[] {s.batch(), s.length()}, out.attentionMask())));
        if (s.positions()) {
            set.add(new NpyWriter.Array(t.get(3), DType.INT32, new long[] {s.batch(), s.length()}, out.positions()));
        }
        NpyWriter.writeAll(set);   // all the files or none
        // NAME.offsets.npy beside NAME.npy makes the two a ragged pair for every reader: an earlier ragged dataset's
        // would pair with this fixed batch (checkOutputs refused it when it is a file of the input)
        Path stale = io.cubatch.store.DatasetWriter.offsetsOf(t.get(0));
        if (Files.isRegularFile(stale, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            Files.delete(stale);
        }
    }

    /**
     * JSON to --output: a regular file (or a new one) is written whole or not at all (a temporary renamed into
     * place, with the umask's mode); a device or a pipe ({@code /dev/stdout}, a fifo) is written in place.
     */
    private void writeJsonFile(PaddedBatch out, long[] dims, String backendName) throws IOException {
        if (Files.exists(output) && !Files.isRegularFile(output)) {
            try (Writer w = Files.newBufferedWriter(output)) {
                writeJson(out, dims, backendName, w);
            }
            return;
        }
        FileSet.writeAll(List.of(new FileSet.Entry(output, ch -> {
            Writer w = new java.io.BufferedWriter(java.nio.channels.Channels.newWriter(ch, StandardCharsets.UTF_8));
            writeJson(out, dims, backendName, w);
            w.flush();
        })));
    }

    /** The DESIGN.md contract: shape, dtype, data, lengths, attention_mask (+ position_ids, backend). */
    private static void writeJson(PaddedBatch out, long[] dims, String backend, Writer w) throws IOException {
        PaddedShape s = out.shape();
        try (JsonGenerator g = JSON.createGenerator(w)) {
            g.disable(JsonGenerator.Feature.AUTO_CLOSE_TARGET);
            g.writeStartObject();
            g.writeFieldName("shape");
            g.writeArray(dims, 0, dims.length);
            g.writeStringField("dtype", s.dtype().cliName());
            g.writeFieldName("data");
            long[] strides = new long[dims.length];
            strides[dims.length - 1] = 1;
            for (int d = dims.length - 2; d >= 0; d--) {
                strides[d] = strides[d + 1] * dims[d + 1];
            }
            writeNested(g, out.data(), s.dtype(), dims, strides, 0, 0);
            g.writeFieldName("lengths");
            int[] lengths = out.lengths().toArray(ValueLayout.JAVA_INT);
            g.writeArray(lengths, 0, lengths.length);
            writeMatrix(g, "attention_mask", out.attentionMask(), s, false);
            if (s.positions()) {
                writeMatrix(g, "position_ids", out.positions(), s, true);
            }
            g.writeStringField("backend", backend);
            g.writeEndObject();
        }
        w.write(System.lineSeparator());
    }

    /** The elements under {@code base} at dimension {@code level}, nested as {@code dims} says (C order). */
    private static void writeNested(JsonGenerator g, MemorySegment data, DType t, long[] dims, long[] strides, int level,
                                    long base) throws IOException {
        g.writeStartArray();
        for (long i = 0; i < dims[level]; i++) {
            if (level == dims.length - 1) {
                writeElement(g, data, t, base + i);
            } else {
                writeNested(g, data, t, dims, strides, level + 1, base + i * strides[level]);
            }
        }
        g.writeEndArray();
    }

    private static void writeMatrix(JsonGenerator g, String field, MemorySegment m, PaddedShape s, boolean ints)
            throws IOException {
        g.writeFieldName(field);
        g.writeStartArray();
        for (int b = 0; b < s.batch(); b++) {
            g.writeStartArray();
            for (long t = 0; t < s.length(); t++) {
                long i = b * s.length() + t;
                g.writeNumber(ints ? m.getAtIndex(ValueLayout.JAVA_INT_UNALIGNED, i) : m.get(ValueLayout.JAVA_BYTE, i));
            }
            g.writeEndArray();
        }
        g.writeEndArray();
    }

    private static void writeElement(JsonGenerator g, MemorySegment data, DType t, long i) throws IOException {
        switch (t) {
            case BOOL -> g.writeBoolean(data.get(ValueLayout.JAVA_BYTE, i) != 0);
            case FLOAT32 -> g.writeNumber(data.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i));
            case FLOAT16, BFLOAT16, FLOAT64 -> g.writeNumber(Values.loadDouble(data, t, i));
            default -> g.writeNumber(Values.loadLong(data, t, i));
        }
    }

    private static long[] concat(long[] a, long[] b) {
        long[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
